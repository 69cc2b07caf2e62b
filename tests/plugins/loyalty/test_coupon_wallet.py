"""The coupon wallet (SQLite, and PostgreSQL when configured): a member's
coupons with their status over time, used at checkout, voided, through the
services, GraphQL and the `guanxi loyalty` CLI; roles, tenants, erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.ids import to_global_id
from engine.cli import app as cli_app
from engine.errors import GuanxiError
from engine.models import AuditEvent
from engine.services.customers import create_customer, erase_customer
from engine.types import utcnow
from plugins.loyalty import coupons, service
from plugins.loyalty.models import LoyaltyCoupon

COUPONS = """query($id: ID!, $first: Int, $after: String, $status: [LoyaltyCouponStatus!]) {
  node(id: $id) { ... on Customer { loyalty { coupons(first: $first, after: $after, status: $status) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { code status rewardCode rewardName(lang: EN) rewardKind value validFrom validUntil
                          usedAt orderRef voidedAt voidReason } } } } } } }"""
USE = """mutation($input: UseCouponInput!) { useCoupon(input: $input) {
  coupon { code status usedAt orderRef } replayed errors { field code message } } }"""
VOID = """mutation($input: VoidCouponInput!) { voidCoupon(input: $input) {
  coupon { code status voidedAt voidReason } errors { field code } } }"""


def _now():
    return utcnow().replace(microsecond=0)


def _member(gx, tenant, code="C-1") -> int:
    """A member with 10,000 points earned 100 days ago, and the MASK reward (30 days, value 20)."""
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "王芳", "code": code}).id
        service.enroll(ctx, cid)
        service.adjust_points(ctx, cid, 10_000, "opening balance", at=_now() - timedelta(days=100))
        if not ctx.session.execute(sa.text("SELECT 1 FROM loyalty_rewards WHERE tenant_id = :t AND code = 'MASK'"),
                                   {"t": ctx.tenant_id}).first():
            service.create_reward(ctx, "MASK", "面膜", "Face mask", "COUPON", 100, value="20", valid_days=30)
    return cid


def _issue(gx, tenant, cid, days_ago: float = 1) -> str:
    with gx.tenant(tenant) as ctx:
        return service.redeem_reward(ctx, cid, "MASK", at=_now() - timedelta(days=days_ago)).coupon_code


def _wallet(gx, tenant, cid, statuses=None, at=None) -> dict[str, str]:
    with gx.tenant(tenant, write=False) as ctx:
        member_id = service.get_member(ctx, cid).id
        return {c.code: c.status for c in coupons.list_coupons(ctx, member_id, statuses, first=100, at=at)}


def _refused(call) -> tuple[str, str]:
    with pytest.raises(GuanxiError) as raised:
        call()
    return raised.value.errors[0].field, raised.value.errors[0].code


# -- services ---------------------------------------------------------------------------


def test_a_coupons_status_follows_the_time(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    used, voided, lapsed = _issue(gx, tenant, cid, 10), _issue(gx, tenant, cid, 10), _issue(gx, tenant, cid, 10)
    now = _now()
    with gx.tenant(tenant) as ctx:
        coupons.use_coupon(ctx, used, "SO-1", at=now - timedelta(days=5))
        coupons.void_coupon(ctx, voided, "issued twice", at=now - timedelta(days=3))
    before = now - timedelta(days=6)
    assert _wallet(gx, tenant, cid, at=before) == {used: "ISSUED", voided: "ISSUED", lapsed: "ISSUED"}
    assert _wallet(gx, tenant, cid, at=now - timedelta(days=4)) == {used: "USED", voided: "ISSUED", lapsed: "ISSUED"}
    assert _wallet(gx, tenant, cid) == {used: "USED", voided: "VOIDED", lapsed: "ISSUED"}
    later = now + timedelta(days=25)  # 30 days after issue: past valid_until
    assert _wallet(gx, tenant, cid, at=later) == {used: "USED", voided: "VOIDED", lapsed: "EXPIRED"}
    # The filter and the count agree with the statuses shown.
    assert _wallet(gx, tenant, cid, ["EXPIRED", "VOIDED"], at=later) == {voided: "VOIDED", lapsed: "EXPIRED"}
    with gx.tenant(tenant, write=False) as ctx:
        member_id = service.get_member(ctx, cid).id
        assert coupons.count_coupons(ctx, member_id, ["ISSUED"], at=later) == 0
        assert coupons.count_coupons(ctx, member_id, ["ISSUED"], at=before) == 3
        assert _refused(lambda: coupons.list_coupons(ctx, member_id, ["GONE"])) == ("status", "INVALID")


def test_use_is_refused_for_every_state_but_issued_and_valid(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    expired, future, voided, used = (_issue(gx, tenant, cid, d) for d in (31, -2, 1, 1))
    with gx.tenant(tenant) as ctx:
        coupons.void_coupon(ctx, voided, "leaked")
        coupons.use_coupon(ctx, used, "SO-1")
    with gx.tenant(tenant) as ctx:
        assert _refused(lambda: coupons.use_coupon(ctx, "NOPE", "SO-2")) == ("code", "NOT_FOUND")
        assert _refused(lambda: coupons.use_coupon(ctx, expired, "SO-2")) == ("code", "COUPON_EXPIRED")
        assert _refused(lambda: coupons.use_coupon(ctx, future, "SO-2")) == ("code", "COUPON_NOT_YET_VALID")
        assert _refused(lambda: coupons.use_coupon(ctx, voided, "SO-2")) == ("code", "COUPON_VOIDED")
        assert _refused(lambda: coupons.use_coupon(ctx, used, "SO-2")) == ("code", "COUPON_USED")
        assert _refused(lambda: coupons.use_coupon(ctx, used)) == ("code", "COUPON_USED")  # no order: not a retry
        assert _refused(lambda: coupons.use_coupon(ctx, future, "x" * 129)) == ("order_ref", "INVALID")
    # The not-yet-valid coupon is usable once its time comes.
    with gx.tenant(tenant) as ctx:
        assert coupons.use_coupon(ctx, future, "SO-3", at=_now() + timedelta(days=3)).status == "USED"


def test_voiding_keeps_the_points_spent_and_is_audited_without_the_reason(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    code = _issue(gx, tenant, cid)
    with gx.tenant(tenant, write=False) as ctx:
        balance = service.get_member(ctx, cid).balance
    with gx.tenant(tenant, actor="admin-7") as ctx:
        assert _refused(lambda: coupons.void_coupon(ctx, code, "  ")) == ("reason", "INVALID")
        voided = coupons.void_coupon(ctx, code.lower(), "customer complained: 王芳 SO-9")
    assert (voided.status, voided.void_reason) == ("VOIDED", "customer complained: 王芳 SO-9")
    with gx.tenant(tenant) as ctx:
        assert _refused(lambda: coupons.void_coupon(ctx, code, "again")) == ("code", "COUPON_VOIDED")
    with gx.tenant(tenant, write=False) as ctx:
        assert service.get_member(ctx, cid).balance == balance  # the points are not given back
        audit = ctx.session.execute(sa.select(AuditEvent).where(
            AuditEvent.tenant_id == ctx.tenant_id, AuditEvent.action == "loyalty.void_coupon")).scalars().all()
    assert [(a.actor, a.target_type, a.target_id) for a in audit] == [("admin-7", "LoyaltyCoupon", str(voided.id))]
    assert "王芳" not in str(audit[0].changes)  # free text stays on the coupon, out of the trail


def test_erasure_blanks_the_order_ref_and_the_void_reason(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    a, b = _member(gx, tenant, "A"), _member(gx, tenant, "B")
    for cid in (a, b):
        used, voided = _issue(gx, tenant, cid), _issue(gx, tenant, cid)
        with gx.tenant(tenant) as ctx:
            coupons.use_coupon(ctx, used, f"SO-王芳-{cid}")
            coupons.void_coupon(ctx, voided, f"王芳 {cid} asked")
    with gx.tenant(tenant) as ctx:
        erase_customer(ctx, a)

    def texts(cid):
        with gx.tenant(tenant, write=False) as ctx:
            member_id = service.get_member(ctx, cid).id
            return ctx.session.execute(sa.select(LoyaltyCoupon.order_ref, LoyaltyCoupon.void_reason).where(
                LoyaltyCoupon.tenant_id == ctx.tenant_id, LoyaltyCoupon.member_id == member_id)
                .order_by(LoyaltyCoupon.id)).all()

    assert [tuple(r) for r in texts(a)] == [(None, None), (None, "(erased)")]
    assert [tuple(r) for r in texts(b)] == [(f"SO-王芳-{b}", None), (None, f"王芳 {b} asked")]
    assert set(_wallet(gx, tenant, a).values()) == {"USED", "VOIDED"}  # the facts stay


def test_erasure_voids_the_customers_unused_coupons(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    a, b = _member(gx, tenant, "A"), _member(gx, tenant, "B")
    open_a, open_b = _issue(gx, tenant, a), _issue(gx, tenant, b)
    with gx.tenant(tenant) as ctx:
        erase_customer(ctx, a)
    assert _wallet(gx, tenant, a) == {open_a: "VOIDED"}
    with gx.tenant(tenant) as ctx, pytest.raises(GuanxiError) as refused:
        coupons.use_coupon(ctx, open_a, "SO-1")
    assert refused.value.errors[0].code == "COUPON_VOIDED"
    with gx.tenant(tenant) as ctx:
        assert coupons.use_coupon(ctx, open_b, "SO-2").status == "USED"  # others' coupons untouched


# -- GraphQL ----------------------------------------------------------------------------


def test_graphql_lists_a_customers_coupons_with_filter_count_and_pages(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    expired, used, fresh = _issue(gx, tenant, cid, 40), _issue(gx, tenant, cid, 2), _issue(gx, tenant, cid, 1)
    with gx.tenant(tenant) as ctx:
        coupons.use_coupon(ctx, used, "SO-88")
    viewer = graphql(tenant, "VIEWER")
    gid = to_global_id("Customer", cid)
    page = viewer.execute(COUPONS, {"id": gid, "first": 2})
    assert "errors" not in page, page
    wallet = page["data"]["node"]["loyalty"]["coupons"]
    assert wallet["totalCount"] == 3 and wallet["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in wallet["edges"]]
    assert [(n["code"], n["status"]) for n in nodes] == [(fresh, "ISSUED"), (used, "USED")]  # newest first
    assert nodes[1]["orderRef"] == "SO-88" and nodes[1]["usedAt"] is not None
    assert nodes[0] | {"code": None, "validFrom": None, "validUntil": None} == {
        "code": None, "status": "ISSUED", "rewardCode": "MASK", "rewardName": "Face mask", "rewardKind": "COUPON",
        "value": "20.00", "validFrom": None, "validUntil": None, "usedAt": None, "orderRef": None, "voidedAt": None,
        "voidReason": None}
    rest = viewer.execute(COUPONS, {"id": gid, "first": 2, "after": wallet["pageInfo"]["endCursor"]})
    wallet = rest["data"]["node"]["loyalty"]["coupons"]
    assert [(e["node"]["code"], e["node"]["status"]) for e in wallet["edges"]] == [(expired, "EXPIRED")]
    assert wallet["pageInfo"]["hasNextPage"] is False
    filtered = viewer.execute(COUPONS, {"id": gid, "status": ["ISSUED", "EXPIRED"]})["data"]["node"]["loyalty"]["coupons"]
    assert filtered["totalCount"] == 2 and {e["node"]["code"] for e in filtered["edges"]} == {fresh, expired}


def test_graphql_use_and_void_with_errors_on_code(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    code, expired, other = _issue(gx, tenant, cid), _issue(gx, tenant, cid, 31), _issue(gx, tenant, cid)
    agent, admin = graphql(tenant, "AGENT"), graphql(tenant, "ADMIN")
    first = agent.execute(USE, {"input": {"code": code, "orderRef": "SO-1"}})["data"]["useCoupon"]
    assert first["errors"] == [] and first["replayed"] is False
    assert first["coupon"]["status"] == "USED" and first["coupon"]["orderRef"] == "SO-1"
    retry = agent.execute(USE, {"input": {"code": code, "orderRef": "SO-1"}})["data"]["useCoupon"]
    assert retry["replayed"] is True and retry["coupon"]["usedAt"] == first["coupon"]["usedAt"]
    for coupon, order, error in ((code, "SO-2", "COUPON_USED"), (expired, "SO-2", "COUPON_EXPIRED"),
                                 ("NOPE", "SO-2", "NOT_FOUND")):
        payload = agent.execute(USE, {"input": {"code": coupon, "orderRef": order}})["data"]["useCoupon"]
        assert payload["coupon"] is None and [(e["field"], e["code"]) for e in payload["errors"]] == [("code", error)]

    voided = admin.execute(VOID, {"input": {"code": other, "reason": "printed twice"}})["data"]["voidCoupon"]
    assert voided["errors"] == [] and voided["coupon"]["status"] == "VOIDED"
    assert voided["coupon"]["voidReason"] == "printed twice"
    refused = agent.execute(USE, {"input": {"code": other, "orderRef": "SO-3"}})["data"]["useCoupon"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("code", "COUPON_VOIDED")]
    no_reason = admin.execute(VOID, {"input": {"code": expired, "reason": ""}})["data"]["voidCoupon"]
    assert no_reason["errors"] == [{"field": "reason", "code": "INVALID"}]
    used = admin.execute(VOID, {"input": {"code": code, "reason": "x"}})["data"]["voidCoupon"]
    assert used["errors"] == [{"field": "code", "code": "COUPON_USED"}]


def test_viewers_cannot_use_coupons_and_only_admins_void(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    code = _issue(gx, tenant, cid)
    viewer, agent = graphql(tenant, "VIEWER"), graphql(tenant, "AGENT")
    for client, query, variables in ((viewer, USE, {"code": code, "orderRef": "SO-1"}),
                                     (viewer, VOID, {"code": code, "reason": "x"}),
                                     (agent, VOID, {"code": code, "reason": "x"})):
        body = client.execute(query, {"input": variables})
        assert body["data"] is None and body["errors"], body
    assert _wallet(gx, tenant, cid) == {code: "ISSUED"}


def test_another_tenant_can_neither_see_use_nor_void_a_coupon(gx, make_tenant, graphql):
    tenant, other = make_tenant(modules=("loyalty",)), make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant)
    code = _issue(gx, tenant, cid)
    _member(gx, other)  # the other tenant has a wallet of its own
    stranger = graphql(other, "ADMIN")
    assert stranger.execute(COUPONS, {"id": to_global_id("Customer", cid)})["data"]["node"] is None
    use = stranger.execute(USE, {"input": {"code": code, "orderRef": "SO-1"}})["data"]["useCoupon"]
    void = stranger.execute(VOID, {"input": {"code": code, "reason": "x"}})["data"]["voidCoupon"]
    assert use["errors"][0]["code"] == void["errors"][0]["code"] == "NOT_FOUND"
    assert _wallet(gx, tenant, cid) == {code: "ISSUED"}


# -- CLI --------------------------------------------------------------------------------


def test_cli_lists_uses_and_voids_coupons(gx, make_tenant, database_url, monkeypatch):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    tenant = make_tenant(modules=("loyalty",))
    cid = _member(gx, tenant, "VIP-1")
    first, second = _issue(gx, tenant, cid, 2), _issue(gx, tenant, cid)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli_app, ["loyalty", *args, "--tenant", tenant], terminal_width=200)

    used = run("use-coupon", first, "--order-ref", "SO-7")
    assert used.exit_code == 0 and f"{first} used for SO-7" in used.output, used.output
    again = run("use-coupon", first, "--order-ref", "SO-7")
    assert again.exit_code == 0 and "already used for SO-7" in again.output
    refused = run("use-coupon", first, "--order-ref", "SO-8")
    assert refused.exit_code == 1 and "code: coupon" in refused.output and "already used" in refused.output
    assert run("void-coupon", second).exit_code == 2  # --reason is required
    voided = run("void-coupon", second, "--reason", "wrong customer")
    assert voided.exit_code == 0 and f"{second} voided" in voided.output

    listing = run("coupons", "--customer", "VIP-1")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert "USED" in next(line for line in lines if first in line)
    assert "VOIDED" in next(line for line in lines if second in line)
    assert all(text in listing.output for text in ("MASK", "20.00", "SO-7", "wrong"))
    assert "2 coupon(s)" in listing.output
    only_used = run("coupons", "--customer", "VIP-1", "--status", "used")
    assert first in only_used.output and second not in only_used.output and "1 coupon(s)" in only_used.output
    missing = run("coupons", "--customer", "NOBODY")
    assert missing.exit_code == 1 and "customer" in missing.output
