"""lifecycleOverview through the real app: retention, churn and repurchase of
a period equal a plain-Python count of the purchases recorded (another
tenant's and other kinds left out, a store filter), refusals name the argument."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions

QUERY = """query($from: DateTime!, $to: DateTime!, $store: String) {
  now: lifecycleOverview(from: $from, to: $to, store: $store) {
    previousFrom buyers repeatBuyers previousBuyers retained retentionRate churnRate repurchaseRate } }"""
END = datetime(2026, 6, 1, tzinfo=timezone.utc)  # the period: the 30 days before; the base: the 30 before those


@pytest.fixture
def recorded(gx, make_tenant):
    slug, other = make_tenant(modules=("lifecycle",)), make_tenant(modules=("lifecycle",))
    rnd = random.Random(5)
    rows = []  # (customer, kind, when, store)
    with gx.tenant(slug) as ctx:
        ids = [create_customer(ctx, {"code": f"C{n}", "name": f"C{n}"}).id for n in range(30)]
        items = []
        for n, cid in enumerate(ids):
            for k in range(rnd.randint(0, 5)):
                when = END - timedelta(days=rnd.uniform(0, 75))
                kind = "PURCHASE" if rnd.random() < 0.8 else "VISIT"
                store = rnd.choice(["S1", "S2"])
                rows.append((cid, kind, when, store))
                item = {"customer_id": cid, "kind": kind, "occurred_at": when.isoformat(), "store": store, "external_id": f"{n}-{k}"}
                if kind == "PURCHASE":
                    item["amount"] = "10.00"
                items.append(item)
        result = record_interactions(ctx, items)
        assert not result.errors
    with gx.tenant(other) as ctx:  # bought in both periods: counted nowhere
        stranger = create_customer(ctx, {"code": "X", "name": "X"})
        assert not record_interactions(ctx, [
            {"customer_id": stranger.id, "kind": "PURCHASE", "occurred_at": (END - timedelta(days=d)).isoformat(), "amount": "1",
             "store": "S1"} for d in (5, 6, 40)]).errors
    return slug, rows


def expected(rows, start, end, store=None):
    base = start - (end - start)
    bought = lambda lo, hi: [c for c, kind, when, s in rows  # noqa: E731
                             if kind == "PURCHASE" and lo <= when < hi and (store is None or s == store)]
    now, before = bought(start, end), set(bought(base, start))
    buyers = set(now)
    repeat = {c for c in buyers if now.count(c) >= 2}
    retained = before & buyers
    return {"previousFrom": base.isoformat(), "buyers": len(buyers), "repeatBuyers": len(repeat), "previousBuyers": len(before),
            "retained": len(retained), "retentionRate": len(retained) / len(before) if before else None,
            "churnRate": 1 - len(retained) / len(before) if before else None,
            "repurchaseRate": len(repeat) / len(buyers) if buyers else None}


@pytest.mark.parametrize("store", [None, "S2"])
def test_rates_equal_a_plain_python_count(graphql, recorded, store):
    slug, rows = recorded
    start = END - timedelta(days=30)
    body = graphql(slug, "VIEWER").execute(QUERY, {"from": start.isoformat(), "to": END.isoformat(), "store": store})
    assert "errors" not in body, body
    got = body["data"]["now"]
    got["previousFrom"] = datetime.fromisoformat(got["previousFrom"]).astimezone(timezone.utc).isoformat()
    want = expected(rows, start, END, store)
    assert want["previousBuyers"] > 0 and want["retained"] > 0 and want["repeatBuyers"] > 0  # the data exercises every count
    assert got == pytest.approx(want)


@pytest.mark.parametrize(("variables", "says"), [
    ({"from": "2026-06-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, "to: must be after from"),
    ({"from": "1990-01-01T00:00:00Z", "to": "2090-01-01T00:00:00Z"}, "to: the period is"),
    ({"from": "2026-05-01T00:00:00Z", "to": "2026-06-01T00:00:00Z", "store": ""}, "store: must be a store name"),
])
def test_bad_arguments_are_refused_naming_them(graphql, make_tenant, variables, says):
    body = graphql(make_tenant(modules=("lifecycle",)), "VIEWER").execute(QUERY, variables)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID" and error["message"].startswith(says), error["message"]
