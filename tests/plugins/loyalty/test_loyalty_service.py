"""The loyalty module on a real database (SQLite, and PostgreSQL when configured):
earning by DOMAIN.md §5 defaults, tiers, refunds, FIFO redemption, expiry, jobs, bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine import hookimpl
from engine.errors import NotFound, ValidationFailed
from engine.jobs import run_jobs
from engine.plugins import GlobalPlugin
from engine.services.customers import create_customer, erase_customer
from engine.services.interactions import record_interaction, record_interactions
from engine.services.modules import configure, set_enabled
from engine.types import utcnow
from plugins.loyalty import service
from plugins.loyalty.jobs import evaluate_tiers
from plugins.loyalty.models import LoyaltyCoupon, LoyaltyLedgerEntry, LoyaltyLot, LoyaltyMember
from plugins.loyalty.service import adjust_points, create_reward, enroll, redeem_points, redeem_reward, use_coupon

SH = timezone(timedelta(hours=8))


def _now() -> datetime:
    return utcnow().replace(microsecond=0)


def _customer(gx, tenant, **data) -> int:
    with gx.tenant(tenant) as ctx:
        return create_customer(ctx, {"name": "c", **data}).id


def _buy(gx, tenant, customer_id, amount, at, ext=None):
    with gx.tenant(tenant) as ctx:
        rec, _ = record_interaction(ctx, {"customer_id": customer_id, "kind": "PURCHASE", "amount": str(amount),
                                          "occurred_at": at, "external_id": ext})
        return rec.id


def _member(gx, tenant, customer_id) -> LoyaltyMember:
    with gx.tenant(tenant, write=False) as ctx:
        return service.get_member(ctx, customer_id)


def _entries(gx, tenant, customer_id) -> list:
    with gx.tenant(tenant, write=False) as ctx:
        m = service.get_member(ctx, customer_id)
        return list(ctx.session.execute(sa.select(LoyaltyLedgerEntry.__table__).where(
            LoyaltyLedgerEntry.tenant_id == ctx.tenant_id, LoyaltyLedgerEntry.member_id == m.id)
            .order_by(LoyaltyLedgerEntry.id)))


def _lots(gx, tenant, customer_id) -> list:
    with gx.tenant(tenant, write=False) as ctx:
        m = service.get_member(ctx, customer_id)
        return list(ctx.session.execute(sa.select(LoyaltyLot.__table__).where(
            LoyaltyLot.tenant_id == ctx.tenant_id, LoyaltyLot.member_id == m.id).order_by(LoyaltyLot.earned_at)))


def _history(gx, tenant, customer_id) -> list[tuple]:
    with gx.tenant(tenant, write=False) as ctx:
        m = service.get_member(ctx, customer_id)
        return [(r.from_tier, r.to_tier) for r in service.tier_history(ctx, m.id)]


def _state(gx, tenant, customer_id):
    """Balance, ledger and lots: what bad input must leave untouched."""
    m = _member(gx, tenant, customer_id)
    return m.balance, [tuple(e) for e in _entries(gx, tenant, customer_id)], [tuple(x) for x in _lots(gx, tenant, customer_id)]


def _consistent(gx, tenant, customer_id):
    """The balance equals the ledger sum, and (without debt) what the lots not yet swept by expiry hold."""
    m = _member(gx, tenant, customer_id)
    assert m.balance == sum(e.points for e in _entries(gx, tenant, customer_id))
    with gx.tenant(tenant, write=False) as ctx:
        swept = service.swept_through(ctx)
    if m.balance >= 0:
        assert m.balance == sum(x.remaining for x in _lots(gx, tenant, customer_id)
                                if swept is None or x.expires_at > swept)


@pytest.fixture
def loyal(make_tenant):
    return make_tenant(modules=("loyalty",))


# -- earning -------------------------------------------------------------------------------------


def test_purchases_earn_by_the_default_rules_and_upgrade_at_once(gx, loyal):
    t0 = _now() - timedelta(days=60)
    cid = _customer(gx, loyal, birthday=date(1990, ((t0.astimezone(SH).month + 5) % 12) + 1, 15))
    _buy(gx, loyal, cid, "1000.00", t0)  # auto-enrolled on the first purchase, MEMBER ×1.0
    m = _member(gx, loyal, cid)
    assert (m.enrolled_via, m.tier_code, m.balance) == ("PURCHASE", "MEMBER", 1000)
    assert m.number.startswith("M")
    [lot] = _lots(gx, loyal, cid)
    assert lot.remaining == 1000 and lot.expires_at == t0 + timedelta(days=365)

    _buy(gx, loyal, cid, "1500.55", t0 + timedelta(days=1))  # still earns as MEMBER: floor(1500.55)
    m = _member(gx, loyal, cid)
    assert m.balance == 2500 and m.tier_code == "SILVER"  # rolling spend 2500.55 >= 2000: upgraded at once
    assert _history(gx, loyal, cid) == [(None, "MEMBER"), ("MEMBER", "SILVER")]
    assert m.tier_achieved_at == t0 + timedelta(days=1)

    _buy(gx, loyal, cid, "100", t0 + timedelta(days=2))  # SILVER ×1.2
    assert _member(gx, loyal, cid).balance == 2500 + 120
    earn = [e for e in _entries(gx, loyal, cid) if e.kind == "EARN"]
    assert [e.points for e in earn] == [1000, 1500, 120]
    assert all(e.interaction_id and e.idempotency_key.startswith("earn:") for e in earn)
    _consistent(gx, loyal, cid)


def test_birthday_month_follows_the_tenant_time_zone(gx, loyal):
    # 2026-03-31 17:00 UTC is 2026-04-01 01:00 in Shanghai: an April birthday doubles it.
    at = datetime(2026, 3, 31, 17, 0, tzinfo=timezone.utc)
    april = _customer(gx, loyal, birthday=date(1990, 4, 2))
    march = _customer(gx, loyal, birthday=date(1990, 3, 2))
    _buy(gx, loyal, april, "100", at)
    _buy(gx, loyal, march, "100", at)
    assert _member(gx, loyal, april).balance == 200
    assert _member(gx, loyal, march).balance == 100


def test_referral_bonus_both_sides_on_first_purchase_only(gx, loyal):
    t0 = _now() - timedelta(days=10)
    a = _customer(gx, loyal)
    with gx.tenant(loyal) as ctx:
        enroll(ctx, a)
    b = _customer(gx, loyal, referrer_id=a)
    _buy(gx, loyal, b, "100", t0)
    _buy(gx, loyal, b, "100", t0 + timedelta(hours=1))
    assert _member(gx, loyal, b).balance == 100 + 200 + 100
    assert _member(gx, loyal, b).referrer_customer_id == a
    assert _member(gx, loyal, a).balance == 500
    [bonus] = [e for e in _entries(gx, loyal, a) if e.rule == "REFERRAL"]
    assert bonus.points == 500
    _consistent(gx, loyal, a)
    _consistent(gx, loyal, b)


def test_events_and_bonus_windows(gx, loyal):
    t0 = _now() - timedelta(days=5)
    day = t0.astimezone(SH).date()
    with gx.tenant(loyal) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", {
            "bonus_windows": [{"name": "Golden week", "start": str(day), "end": str(day), "multiplier": "3"}]})
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "100", t0)  # ×3
    with gx.tenant(loyal) as ctx:
        record_interaction(ctx, {"customer_id": cid, "kind": "EVENT", "occurred_at": t0, "payload": {"event": "讲座"}})
    assert _member(gx, loyal, cid).balance == 300 + 50
    assert [e.rule for e in _entries(gx, loyal, cid)] == ["PURCHASE", "EVENT"]


def test_bulk_batch_earns_once_per_purchase_and_duplicates_earn_nothing(gx, loyal):
    t0 = _now() - timedelta(days=20)
    ids = [_customer(gx, loyal) for _ in range(5)]
    items = [{"customer_id": c, "kind": "PURCHASE", "amount": "10.90", "occurred_at": t0 + timedelta(minutes=k),
              "external_id": f"o-{c}-{k}"} for c in ids for k in range(4)]
    with gx.tenant(loyal) as ctx:
        record_interactions(ctx, items)
    with gx.tenant(loyal) as ctx:
        again = record_interactions(ctx, items)
    assert len(again.duplicates) == len(items)
    for c in ids:
        assert _member(gx, loyal, c).balance == 40
        assert len(_entries(gx, loyal, c)) == 4


def test_enrolled_members_only_when_auto_enrol_is_off(gx, loyal):
    with gx.tenant(loyal) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", {"auto_enroll_on_first_purchase": False})
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "100", _now() - timedelta(days=1))
    assert _member(gx, loyal, cid) is None
    with gx.tenant(loyal) as ctx:
        m = enroll(ctx, cid, via="INVITATION")
    assert (m.enrolled_via, m.balance) == ("INVITATION", 0)


# -- tiers -----------------------------------------------------------------------------------------


def test_tier_kept_twelve_months_then_down_one_tier_at_a_time(gx, loyal):
    now = _now()
    old = now - timedelta(days=430)
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "12000", old)
    assert _member(gx, loyal, cid).tier_code == "GOLD"
    with gx.tenant(loyal) as ctx:
        first = evaluate_tiers(ctx, as_of=now)
    with gx.tenant(loyal) as ctx:
        second = evaluate_tiers(ctx, as_of=now)  # safe to run twice
    assert first["downgraded"] == 1 and second == {"members": 1, "upgraded": 0, "downgraded": 0}
    assert _member(gx, loyal, cid).tier_code == "SILVER"
    with gx.tenant(loyal) as ctx:
        evaluate_tiers(ctx, as_of=now + timedelta(days=200))  # SILVER held < 12 months: kept
    assert _member(gx, loyal, cid).tier_code == "SILVER"
    with gx.tenant(loyal) as ctx:
        evaluate_tiers(ctx, as_of=now + timedelta(days=370))
    assert _member(gx, loyal, cid).tier_code == "MEMBER"
    assert _history(gx, loyal, cid) == [(None, "MEMBER"), ("MEMBER", "GOLD"), ("GOLD", "SILVER"), ("SILVER", "MEMBER")]


def test_periodic_evaluation_upgrades_members_enrolled_later(gx, loyal):
    with gx.tenant(loyal) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", {"auto_enroll_on_first_purchase": False})
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "2500", _now() - timedelta(days=3))
    with gx.tenant(loyal) as ctx:
        enroll(ctx, cid)  # enrolment counts earlier spend towards the tier at once
    assert _member(gx, loyal, cid).tier_code == "SILVER"
    with gx.tenant(loyal) as ctx:
        assert evaluate_tiers(ctx)["upgraded"] == 0


# -- refunds -----------------------------------------------------------------------------------------


def test_refund_reverses_the_points_its_purchase_earned(gx, loyal):
    t0 = _now() - timedelta(days=10)
    cid = _customer(gx, loyal)
    pid = _buy(gx, loyal, cid, "500", t0)
    with gx.tenant(loyal) as ctx:
        record_interaction(ctx, {"kind": "REFUND", "amount": "100", "occurred_at": t0 + timedelta(hours=1), "reverses_id": pid})
    assert _member(gx, loyal, cid).balance == 400
    [rev] = [e for e in _entries(gx, loyal, cid) if e.kind == "REVERSE"]
    assert rev.points == -100 and rev.details["purchase_id"] == pid
    _consistent(gx, loyal, cid)


def test_refund_of_spent_points_makes_a_debt_that_blocks_redemption(gx, loyal):
    t0 = _now() - timedelta(days=10)
    cid = _customer(gx, loyal)
    pid = _buy(gx, loyal, cid, "1000", t0)
    with gx.tenant(loyal) as ctx:
        redeem_points(ctx, cid, 800, "100")
    with gx.tenant(loyal) as ctx:
        record_interaction(ctx, {"kind": "REFUND", "amount": "1000", "occurred_at": t0 + timedelta(days=1), "reverses_id": pid})
    assert _member(gx, loyal, cid).balance == -800
    with gx.tenant(loyal) as ctx, pytest.raises(ValidationFailed) as err:
        redeem_points(ctx, cid, 1, "100")
    assert err.value.errors[0].field == "points" and err.value.errors[0].code == "NEGATIVE_BALANCE"
    _buy(gx, loyal, cid, "1000", t0 + timedelta(days=2))  # repays the 800 first, 200 open a lot
    assert _member(gx, loyal, cid).balance == 200
    assert sum(x.remaining for x in _lots(gx, loyal, cid)) == 200
    _consistent(gx, loyal, cid)


# -- redemption ----------------------------------------------------------------------------------------


def test_redemption_spends_the_oldest_lots_first(gx, loyal):
    t0 = _now() - timedelta(days=30)
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "100", t0)
    _buy(gx, loyal, cid, "200", t0 + timedelta(days=1))
    with gx.tenant(loyal) as ctx:
        r = redeem_points(ctx, cid, 150, "10.00", order_ref="SO-1")
    assert (r.points, r.balance, r.value) == (150, 150, Decimal("1.50"))
    assert [x.remaining for x in _lots(gx, loyal, cid)] == [0, 150]
    _consistent(gx, loyal, cid)


def test_redeem_is_idempotent_per_key(gx, loyal):
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "1000", _now() - timedelta(days=1))
    with gx.tenant(loyal) as ctx:
        first = redeem_points(ctx, cid, 100, "100", idempotency_key="k1")
    with gx.tenant(loyal) as ctx:
        again = redeem_points(ctx, cid, 100, "100", idempotency_key="k1")
    assert again.replayed and again.entry_id == first.entry_id
    assert _member(gx, loyal, cid).balance == 900


def test_catalogue_reward_decrements_stock_and_issues_a_coupon(gx, loyal):
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "1000", _now() - timedelta(days=1))
    with gx.tenant(loyal) as ctx:
        create_reward(ctx, "MASK", "面膜", "Face mask", "COUPON", 300, stock=1, value="20", valid_days=30)
    with gx.tenant(loyal) as ctx:
        r = redeem_reward(ctx, cid, "MASK")
    assert r.balance == 700 and r.coupon_code
    before = _state(gx, loyal, cid)
    with gx.tenant(loyal) as ctx, pytest.raises(ValidationFailed) as err:
        redeem_reward(ctx, cid, "MASK")
    assert err.value.errors[0].field == "reward" and err.value.errors[0].code == "OUT_OF_STOCK"
    assert _state(gx, loyal, cid) == before
    with gx.tenant(loyal) as ctx:
        coupon = use_coupon(ctx, r.coupon_code, order_ref="SO-9")
    assert coupon.used_at is not None
    with gx.tenant(loyal) as ctx, pytest.raises(ValidationFailed, match="already used"):
        use_coupon(ctx, r.coupon_code)


def test_expired_coupon_is_refused(gx, loyal):
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "1000", _now() - timedelta(days=1))
    with gx.tenant(loyal) as ctx:
        create_reward(ctx, "GIFT", "礼品", "Gift", "GIFT", 100, valid_days=7)
        code = redeem_reward(ctx, cid, "GIFT").coupon_code
    with gx.tenant(loyal) as ctx, pytest.raises(ValidationFailed) as err:
        use_coupon(ctx, code, at=_now() + timedelta(days=8))
    assert (err.value.errors[0].field, err.value.errors[0].code) == ("code", "COUPON_EXPIRED")


def test_adjust_needs_a_reason_and_is_logged_with_the_actor(gx, loyal):
    cid = _customer(gx, loyal)
    with gx.tenant(loyal) as ctx:
        enroll(ctx, cid)
    with gx.tenant(loyal, actor="admin:1") as ctx:
        adjust_points(ctx, cid, 250, "goodwill after a late delivery")
    with gx.tenant(loyal, actor="admin:1") as ctx:
        adjust_points(ctx, cid, -50, "double credit")
    entries = _entries(gx, loyal, cid)
    assert [(e.kind, e.points, e.actor) for e in entries] == [("ADJUST", 250, "admin:1"), ("ADJUST", -50, "admin:1")]
    assert _member(gx, loyal, cid).balance == 200
    _consistent(gx, loyal, cid)


@pytest.mark.parametrize("call, field", [
    (lambda ctx, c: redeem_points(ctx, c, 2000, "100000"), "points"),  # more than the balance
    (lambda ctx, c: redeem_points(ctx, c, 600, "10"), "points"),  # more than 50 % of the order
    (lambda ctx, c: redeem_points(ctx, c, "1.5", "100"), "points"),
    (lambda ctx, c: redeem_points(ctx, c, -5, "100"), "points"),
    (lambda ctx, c: redeem_points(ctx, c, 0, "100"), "points"),
    (lambda ctx, c: redeem_points(ctx, c, True, "100"), "points"),
    (lambda ctx, c: redeem_points(ctx, c, 10, "-1"), "order_amount"),
    (lambda ctx, c: adjust_points(ctx, c, 10, "  "), "reason"),
    (lambda ctx, c: adjust_points(ctx, c, 2.5, "typo"), "points"),
    (lambda ctx, c: adjust_points(ctx, c, -5000, "too much"), "points"),
    (lambda ctx, c: enroll(ctx, c), "customer_id"),  # enrolling twice
    (lambda ctx, c: enroll(ctx, c + 10**6), "customer_id"),
    (lambda ctx, c: redeem_reward(ctx, c, "NOPE"), "reward"),
    (lambda ctx, c: create_reward(ctx, "X", "x", "x", "COUPON", "0.5"), "points_price"),
    (lambda ctx, c: use_coupon(ctx, "NOPE"), "code"),
])
def test_bad_input_names_the_field_and_leaves_balances_untouched(gx, loyal, call, field):
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "1000", _now() - timedelta(days=1))
    before = _state(gx, loyal, cid)
    with pytest.raises((ValidationFailed, NotFound)) as err:
        with gx.tenant(loyal) as ctx:
            call(ctx, cid)
    assert err.value.errors[0].field == field, err.value
    assert _state(gx, loyal, cid) == before


def test_settings_reject_bad_tiers_with_the_setting_named(gx, loyal):
    with gx.tenant(loyal) as ctx, pytest.raises(ValidationFailed) as err:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", {"birthday_multiplier": "0"})
    assert err.value.errors[0].field == "settings.birthday_multiplier"


# -- expiry and jobs -------------------------------------------------------------------------------------


def test_expiry_job_takes_expired_lots_and_is_safe_to_run_twice(gx, loyal):
    with gx.tenant(loyal) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", {"points_expiry_days": 30})
    now = _now()
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "100", now - timedelta(days=40))  # expired 10 days ago
    _buy(gx, loyal, cid, "70", now - timedelta(days=5))
    with gx.tenant(loyal) as ctx:
        redeem_points(ctx, cid, 60, "100")  # an unswept expired lot is never spent: 60 come from the new lot
    assert [x.remaining for x in _lots(gx, loyal, cid)] == [100, 10]
    with gx.tenant(loyal) as ctx, pytest.raises(ValidationFailed, match="balance is 10"):
        redeem_points(ctx, cid, 50, "100")
    results = run_jobs(gx, loyal, ["loyalty.expire_points"])
    assert results["loyalty.expire_points"] == {"members": 1, "lots": 1, "points": 100}
    assert run_jobs(gx, loyal, ["loyalty.expire_points"])["loyalty.expire_points"]["points"] == 0
    assert _member(gx, loyal, cid).balance == 10
    assert [e.kind for e in _entries(gx, loyal, cid)].count("EXPIRE") == 1
    _consistent(gx, loyal, cid)


def test_jobs_are_listed_for_the_tenant_and_run_twice_without_change(gx, loyal):
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "100", _now() - timedelta(days=1))
    run_jobs(gx, loyal)
    before = _state(gx, loyal, cid)
    run_jobs(gx, loyal)
    assert _state(gx, loyal, cid) == before


# -- erasure, summary, disabled module ------------------------------------------------------------------


def test_erasure_closes_the_membership_and_drops_links(gx, loyal):
    a = _customer(gx, loyal)
    with gx.tenant(loyal) as ctx:
        enroll(ctx, a)
        adjust_points(ctx, a, 10, "called Mrs Wang back")
    b = _customer(gx, loyal, referrer_id=a)
    with gx.tenant(loyal) as ctx:
        enroll(ctx, b)
        erase_customer(ctx, a)
    assert _member(gx, loyal, a).status == "CLOSED"
    assert _member(gx, loyal, b).referrer_customer_id is None
    assert [e.reason for e in _entries(gx, loyal, a)] == ["(erased)"]


@pytest.mark.parametrize("switched_off", [False, True], ids=["module-on", "module-off"])
def test_erasure_blanks_order_references_and_caller_keys(gx, loyal, switched_off):
    a, b = _customer(gx, loyal), _customer(gx, loyal)
    for cid in (a, b):
        _buy(gx, loyal, cid, "1000", _now() - timedelta(days=1))
    with gx.tenant(loyal) as ctx:
        create_reward(ctx, "MASK", "面膜", "Face mask", "COUPON", 300, value="20", valid_days=30)
    with gx.tenant(loyal) as ctx:
        for cid in (a, b):
            redeem_points(ctx, cid, 100, "100", order_ref=f"SO-王芳-{cid}", idempotency_key=f"SO-王芳-{cid}")
            coupon = redeem_reward(ctx, cid, "MASK", idempotency_key=f"MASK-王芳-{cid}")
            use_coupon(ctx, coupon.coupon_code, order_ref=f"SO-王芳-{cid}-2")
    balance = _member(gx, loyal, a).balance
    if switched_off:
        with gx.tenant(loyal) as ctx:
            set_enabled(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", False)
    with gx.tenant(loyal) as ctx:
        erase_customer(ctx, a)

    def traces(cid) -> list[str]:
        """Every text of the member's entries and coupons that held the order ref or the keys."""
        with gx.tenant(loyal, write=False) as ctx:
            member_id = service.get_member(ctx, cid).id
            coupons = ctx.session.execute(sa.select(LoyaltyCoupon.order_ref).where(
                LoyaltyCoupon.tenant_id == ctx.tenant_id, LoyaltyCoupon.member_id == member_id)).scalars().all()
        entries = _entries(gx, loyal, cid)
        texts = [e.reason for e in entries] + [e.idempotency_key for e in entries] + list(coupons)
        texts += [str(e.details.get("order_ref")) for e in entries if e.kind == "REDEEM"]
        return [text for text in texts if text and "王芳" in text]

    assert traces(a) == []
    assert len(traces(b)) == 5  # two keys, a reason, the details' and the coupon's order refs: kept
    entries = _entries(gx, loyal, a)
    redeemed = [e for e in entries if e.kind == "REDEEM"]
    assert len(redeemed) == 2 and all(e.details.get("order_ref") is None for e in redeemed if e.rule == "ORDER")
    assert _member(gx, loyal, a).balance == balance == sum(e.points for e in entries)  # the facts stay


def test_programme_summary(gx, loyal):
    cid = _customer(gx, loyal)
    _buy(gx, loyal, cid, "2500", _now() - timedelta(days=1))
    with gx.tenant(loyal) as ctx:
        redeem_points(ctx, cid, 500, "100")
    with gx.tenant(loyal, write=False) as ctx:
        summary = service.program_summary(ctx)
        m = service.get_member(ctx, cid)
        assert service.next_tier(ctx, m) == ("GOLD", Decimal("7500.00"))
        assert service.points_expiring(ctx, m.id, 400) == 2000
    assert summary["members_per_tier"] == {"MEMBER": 0, "SILVER": 1, "GOLD": 0, "DIAMOND": 0}
    assert summary["points_outstanding"] == 2000 and summary["liability"] == Decimal("20.00")
    assert summary["redemption_rate"] == 0.2


def test_services_refuse_tenants_without_the_module(gx, make_tenant):
    tenant = make_tenant()
    cid = _customer(gx, tenant)
    _buy(gx, tenant, cid, "100", _now() - timedelta(days=1))
    with gx.tenant(tenant) as ctx, pytest.raises(ValidationFailed) as err:
        enroll(ctx, cid)
    assert err.value.errors[0].field == "module"
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.session.execute(sa.select(sa.func.count()).select_from(LoyaltyMember.__table__)
                                   .where(LoyaltyMember.tenant_id == ctx.tenant_id)).scalar_one() == 0


def test_the_batch_earner_matches_points_for_purchase():
    import random

    from plugins.loyalty.rules import points_for_purchase
    from plugins.loyalty.settings import LoyaltySettings

    s = LoyaltySettings(bonus_windows=[{"name": "w", "start": "2026-02-01", "end": "2026-02-10", "multiplier": "1.5"},
                                       {"name": "v", "start": "2026-02-05", "end": "2026-02-20", "multiplier": "3"}])
    earner = service.PurchaseEarner(s)
    rnd = random.Random(5)
    for _ in range(3000):
        amount = Decimal(rnd.randint(0, 10**7)) / 100
        at = datetime(2026, 1, 20, tzinfo=SH) + timedelta(hours=rnd.randint(0, 24 * 45))
        birthday = rnd.choice([None, date(1990, 1, 5), date(1991, 2, 28)])
        tier = rnd.choice(s.tier_codes)
        assert earner(amount, tier, at, birthday, False, rnd.random() < 0.5) == \
            points_for_purchase(s, amount, tier, at, birthday, False, False)


def test_an_integrators_earning_rule_applies_through_the_hook(gx, make_tenant):
    """A plugin implementing guanxi_loyalty_earning_rules changes the points earned."""
    from engine import hookimpl
    from engine.plugins import GlobalPlugin
    from plugins.loyalty.rules import RuleType

    class TripleOnLargeOrders:
        @hookimpl
        def guanxi_module(self):
            return GlobalPlugin(name="triple-on-large-orders")

        @hookimpl
        def guanxi_loyalty_earning_rules(self):
            return [RuleType("LARGE_ORDER_X3", "大单三倍", "Triple points on large orders", "MULTIPLIER",
                             lambda purchase: Decimal(3) if purchase.amount >= 500 else None)]

    tenant = make_tenant(modules=("loyalty",))
    small, large = _customer(gx, tenant), _customer(gx, tenant)
    plugin = TripleOnLargeOrders()
    gx.plugins.register_module(plugin, name="triple-on-large-orders")
    try:
        gx.plugins.check()  # the hookspec came with the loyalty module: the integrator passes the start-up check
        _buy(gx, tenant, small, "100", _now() - timedelta(days=1))
        _buy(gx, tenant, large, "600", _now() - timedelta(days=1))
    finally:
        gx.plugins.unregister(plugin)
    assert _member(gx, tenant, small).balance == 100
    assert _member(gx, tenant, large).balance == 1800


class TierListener:
    """A global plugin hearing every tier change, as campaigns or an integrator would."""

    def __init__(self):
        self.heard = []

    @hookimpl
    def guanxi_module(self):
        return GlobalPlugin(name="tier-listener")

    @hookimpl
    def guanxi_loyalty_tier_changed(self, ctx, changes):
        self.heard.extend((ctx.tenant.slug, c.customer_id, c.from_tier, c.to_tier) for c in changes)


def test_a_tier_upgrade_is_heard_by_other_plugins_once(gx, loyal):
    listener = TierListener()
    gx.plugins.register_module(listener, name=f"tier-listener-{id(listener)}")
    gx.plugins.check()
    try:
        t0 = _now() - timedelta(days=10)
        cid = _customer(gx, loyal)
        _buy(gx, loyal, cid, "1000", t0)  # enrolled as MEMBER: not a change
        assert listener.heard == []
        _buy(gx, loyal, cid, "1500", t0 + timedelta(days=1))
        assert listener.heard == [(loyal, cid, "MEMBER", "SILVER")]
        _buy(gx, loyal, cid, "10", t0 + timedelta(days=2))
        assert len(listener.heard) == 1
    finally:
        gx.plugins.unregister(listener)
