"""loyaltyProgram { expiringPoints(withinDays:) } over the API, against the
lots the ledger wrote, read back and summed here independently: lots inside
the window against lots after it or already past their date, another
tenant's points left out, a member whose expiring lot was partly redeemed."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa

from api.ids import to_global_id
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.types import utcnow
from plugins.loyalty.models import LoyaltyLot

QUERY = """query($days: Int!) { loyaltyProgram { pointsExpiring30Days qualifyingMetric
  expiringPoints(withinDays: $days) { withinDays start end points members liability
    weeks { start end points members } }
  in30: expiringPoints(withinDays: 30) { points members } } }"""
REDEEM = """mutation($input: RedeemPointsInput!) { redeemPoints(input: $input) {
  redemption { points balance } errors { field code } } }"""
EXPIRY_DAYS = 365  # the default points_expiry_days: a purchase made (365 - n) days ago expires in n days


def _bought(ctx, customer_id: int, amount: str, expires_in_days: float) -> None:
    record_interaction(ctx, {"customer_id": customer_id, "kind": "PURCHASE", "amount": amount,
                             "occurred_at": utcnow() - timedelta(days=EXPIRY_DAYS - expires_in_days)})


def _lots(gx, slug: str) -> list:
    with gx.tenant(slug) as ctx:
        return list(ctx.session.execute(sa.select(LoyaltyLot.__table__).where(LoyaltyLot.tenant_id == ctx.tenant_id)))


def _expected(lots: list, start: datetime, days: int) -> dict:
    """The window's figures and weekly periods, computed here from the lot rows."""
    end = start + timedelta(days=days)
    inside = [lot for lot in lots if lot.remaining > 0 and start < lot.expires_at <= end]
    weeks = [{"points": 0, "members": set()} for _ in range(math.ceil(days / 7))]
    for lot in inside:
        index = min(len(weeks) - 1, math.ceil((lot.expires_at - start) / timedelta(days=7)) - 1)
        weeks[index]["points"] += lot.remaining
        weeks[index]["members"].add(lot.member_id)
    points = sum(lot.remaining for lot in inside)
    return {"points": points, "members": len({lot.member_id for lot in inside}),
            "liability": str((Decimal(points) / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)),
            "weeks": [{"points": w["points"], "members": len(w["members"])} for w in weeks]}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_expiring_points_sum_the_open_lots_of_the_window(gx, graphql, make_tenant):
    slug = make_tenant(modules=("loyalty",))
    other = make_tenant(modules=("loyalty",))
    with gx.tenant(slug) as ctx:
        partly, two, later, lapsed = (create_customer(ctx, {"name": n}).id for n in ("Partly", "Two", "Later", "Lapsed"))
        _bought(ctx, partly, "500", 10)       # 500 points expiring in 10 days ...
        _bought(ctx, partly, "300", 120)      # ... and 300 after the window
        _bought(ctx, two, "800", 50)          # two lots in the window, different weeks
        _bought(ctx, two, "150", 86)
        _bought(ctx, later, "900", 200)       # only after the window
        _bought(ctx, lapsed, "400", -5)       # past its date, not swept yet: not "expiring"
    with gx.tenant(other) as ctx:
        _bought(ctx, create_customer(ctx, {"name": "Elsewhere"}).id, "7000", 10)

    agent = graphql(slug, "AGENT")
    spent = agent.execute(REDEEM, {"input": {"customerId": to_global_id("Customer", partly), "points": 200,
                                             "orderAmount": "1000", "idempotencyKey": "partly-1"}})
    assert spent["data"]["redeemPoints"] == {"redemption": {"points": 200, "balance": 600}, "errors": []}

    lots = _lots(gx, slug)
    body = graphql(slug, "VIEWER").execute(QUERY, {"days": 90})
    assert "errors" not in body, body
    program = body["data"]["loyaltyProgram"]
    found = program["expiringPoints"]
    start = _at(found["start"])
    expected = _expected(lots, start, 90)
    assert found["withinDays"] == 90 and _at(found["end"]) - start == timedelta(days=90)
    assert {k: found[k] for k in ("points", "members", "liability")} == {k: expected[k] for k in ("points", "members", "liability")}
    assert [{"points": w["points"], "members": w["members"]} for w in found["weeks"]] == expected["weeks"]
    # The same figures by hand: the redemption took the oldest open lot first (500 - 200), Two's 800 + 150 count,
    # Later's lot and the lapsed one do not, nor the other tenant's 7,000.
    assert found["points"] == 300 + 800 + 150 and found["members"] == 2 and found["liability"] == "12.50"
    weeks = found["weeks"]
    assert len(weeks) == 13 and weeks[1]["points"] == 300 and weeks[7]["points"] == 800 and weeks[12]["points"] == 150
    assert _at(weeks[0]["start"]) == start and _at(weeks[-1]["end"]) == _at(found["end"])
    assert all(_at(a["end"]) == _at(b["start"]) for a, b in zip(weeks, weeks[1:]))
    # The 30-day window is the one pointsExpiring30Days reports.
    assert program["in30"] == {"points": 300, "members": 1} and program["pointsExpiring30Days"] == 300
    assert program["qualifyingMetric"] == "SPEND_12M"

    short = graphql(slug, "VIEWER").execute(QUERY, {"days": 10})["data"]["loyaltyProgram"]["expiringPoints"]
    assert short["points"] == _expected(lots, _at(short["start"]), 10)["points"] == 300
    assert [w["points"] for w in short["weeks"]] == [0, 300]


def test_an_out_of_range_window_is_refused_on_the_field(graphql, make_tenant):
    slug = make_tenant(modules=("loyalty",))
    for days in (0, 367):
        body = graphql(slug, "VIEWER").execute(QUERY, {"days": days})
        assert body["data"]["loyaltyProgram"]["expiringPoints"] is None
        [error] = body["errors"]
        assert error["path"] == ["loyaltyProgram", "expiringPoints"] and "withinDays" in error["message"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
