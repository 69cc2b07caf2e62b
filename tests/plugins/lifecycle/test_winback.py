"""Win-back lists: the split by value and the outcome, counted independently from the purchases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from engine.errors import ValidationFailed
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from engine.types import utcnow
from plugins.lifecycle.history import run_stages
from plugins.lifecycle.models import LifecycleWinbackMember
from plugins.lifecycle.winback import create_list, outcomes

FIXED = {"at_risk_days": 10, "lapsed_days": 20, "churned_days": 40}
SPEND = {"a": "600", "b": "500", "c": "400", "d": "300", "e": "200", "f": "100"}


def _setup(gx, make_tenant, settings=FIXED):
    slug = make_tenant(modules=("lifecycle",))
    now = utcnow()
    ids = {}
    with gx.tenant(slug) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "lifecycle", dict(settings))
        for name, amount in SPEND.items():
            cid = create_customer(ctx, {"name": name}).id
            record_interactions(ctx, [{"customer_id": cid, "kind": "PURCHASE", "amount": amount, "external_id": f"o-{name}",
                                       "occurred_at": now - timedelta(days=200)}])
            ids[name] = cid
        # a's 600 less a 250 refund: net 350
        record_interactions(ctx, [{"kind": "REFUND", "amount": "250", "reverses_external_id": "o-a",
                                   "occurred_at": now - timedelta(days=199)}])
        ids["active"] = create_customer(ctx, {"name": "active"}).id
        record_interactions(ctx, [{"customer_id": ids["active"], "kind": "PURCHASE", "amount": "900",
                                   "occurred_at": now - timedelta(days=1)}])
    with gx.tenant(slug) as ctx:
        run_stages(ctx)
    return slug, ids


def _members(gx, slug, list_id):
    import sqlalchemy as sa

    with gx.tenant(slug, write=False) as ctx:
        rows = ctx.session.execute(sa.select(LifecycleWinbackMember.customer_id, LifecycleWinbackMember.segment,
                                             LifecycleWinbackMember.value).where(LifecycleWinbackMember.list_id == list_id)).all()
    return {cid: (segment, Decimal(str(value))) for cid, segment, value in rows}


def test_a_list_splits_lapsed_and_churned_customers_at_the_median_value(gx, make_tenant):
    slug, ids = _setup(gx, make_tenant)
    with gx.tenant(slug, actor="agent") as ctx:
        made = create_list(ctx, "spring")
    # Net values 350, 500, 400, 300, 200, 100: median 325.
    assert made.value_threshold == Decimal("325.00")
    members = _members(gx, slug, made.id)
    assert ids["active"] not in members
    by_name = {name: members[ids[name]] for name in SPEND}
    assert {n for n, (seg, _) in by_name.items() if seg == "win_back"} == {"a", "b", "c"}
    assert by_name["a"][1] == Decimal("350")
    with gx.tenant(slug) as ctx:
        fixed = create_list(ctx, "big spenders", value_threshold=Decimal("450"), window_days=30)
    assert {cid for cid, (seg, _) in _members(gx, slug, fixed.id).items() if seg == "win_back"} == {ids["b"]}


def test_the_outcome_counts_purchases_inside_the_window_per_segment(gx, make_tenant):
    slug, ids = _setup(gx, make_tenant)
    listed_at = utcnow() - timedelta(days=100)
    with gx.tenant(slug) as ctx:
        made = create_list(ctx, "q3", window_days=90, now=listed_at)
    buys = [("b", 10, "80"), ("b", 20, "20"), ("c", 95, "999"), ("e", 50, "30"), ("f", -5, "999")]
    with gx.tenant(slug) as ctx:
        record_interactions(ctx, [{"customer_id": ids[n], "kind": "PURCHASE", "amount": amount,
                                   "occurred_at": listed_at + timedelta(days=d)} for n, d, amount in buys])
    with gx.tenant(slug, write=False) as ctx:
        from plugins.lifecycle.models import LifecycleWinbackList

        outcome = outcomes(ctx, [ctx.session.get(LifecycleWinbackList, made.id)])[made.id]
    # Independently: who bought in (listed_at, listed_at + 90 days], per segment.
    members = _members(gx, slug, made.id)
    inside = {n for n, d, _ in buys if 0 < d <= 90}
    expected = {}
    for segment in ("win_back", "let_go"):
        names = [n for n in SPEND if members[ids[n]][0] == segment]
        back = [n for n in names if n in inside]
        revenue = sum(Decimal(a) for n, d, a in buys if n in back and 0 < d <= 90)
        expected[segment] = (len(names), len(back), revenue)
    got = {s.segment: (s.customers, s.won_back, s.revenue) for s in outcome.segments}
    assert got == expected == {"win_back": (3, 1, Decimal("100")), "let_go": (3, 1, Decimal("30"))}
    assert outcome.complete is True
    assert [s.won_back_share for s in outcome.segments] == [pytest.approx(1 / 3)] * 2


@pytest.mark.parametrize("kwargs,field", [({"name": " "}, "name"), ({"value_threshold": Decimal("-1")}, "value_threshold"),
                                          ({"window_days": 0}, "window_days")])
def test_bad_input_names_the_field(gx, make_tenant, kwargs, field):
    slug, _ = _setup(gx, make_tenant)
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as refused:
        create_list(ctx, **{"name": "x", **kwargs})
    assert [e.field for e in refused.value.errors] == [field]


def test_the_threshold_setting_is_used_when_none_is_given(gx, make_tenant):
    slug, ids = _setup(gx, make_tenant, {**FIXED, "winback_value_threshold": "450"})
    with gx.tenant(slug) as ctx:
        made = create_list(ctx, "set")
    assert made.value_threshold == Decimal("450.00")
