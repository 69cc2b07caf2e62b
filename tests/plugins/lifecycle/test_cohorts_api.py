"""Cohort retention and monthly rates through the API (httpx on the ASGI app) and the CLI,
on a small tenant whose figures are worked out by hand below."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from engine.cli_support import new_app
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from plugins.lifecycle.cli_analytics import register

AS_OF = "2025-06-15T00:00:00+00:00"

# customer: (store, acquisition, [(UTC time, amount, channel)]); the tenant is in Asia/Shanghai (UTC+8)
HISTORY = {
    "A": ("S1", "AD", [("2025-01-05T03:00", 100, "IN_STORE"), ("2025-01-20T03:00", 50, "WEB"),
                       ("2025-02-10T03:00", 30, "WEB"), ("2025-04-01T03:00", 20, "WEB")]),
    # 20:00 UTC on 31 January is 1 February in Shanghai: a February customer
    "B": ("S1", "REFERRAL", [("2025-01-31T20:00", 70, "WECHAT"), ("2025-03-03T03:00", 10, "WECHAT")]),
    "C": ("S2", None, [("2025-02-14T03:00", 5, "WEB"), ("2025-02-15T03:00", 5, "WEB"), ("2025-03-20T03:00", 40, "WEB")]),
    "D": (None, "AD", [("2024-12-30T03:00", 60, "IN_STORE"), ("2025-01-10T03:00", 15, "IN_STORE")]),
    "E": ("S2", "AD", []),  # a prospect: counted nowhere
}

COHORTS = """query($months: Int!, $by: LifecycleSlice, $asOf: DateTime) {
  lifecycleCohorts(months: $months, by: $by, asOf: $asOf) { label cohorts { month customers active retention revenue } } }"""
RATES = """query($months: Int!, $by: LifecycleSlice, $asOf: DateTime) {
  lifecycleRates(months: $months, by: $by, asOf: $asOf) { label months { month buyers new returning existing
    repeatBuyers previousBuyers retained retentionRate churnRate repurchaseRate returningShare } } }"""


def seed(gx, slug: str) -> dict[str, int]:
    ids = {}
    with gx.tenant(slug, actor="test") as ctx:
        for code, (store, source, purchases) in HISTORY.items():
            data = {"code": code, "name": f"客户{code}"}
            if store:
                data["store"] = store
            if source:
                data["acquisition_channel"] = source
            ids[code] = create_customer(ctx, data).id
        items = [{"customer_id": ids[code], "kind": "PURCHASE", "occurred_at": datetime.fromisoformat(t + ":00+00:00"),
                  "amount": str(amount), "channel": channel, "store": store, "external_id": f"{code}-{k}"}
                 for code, (store, _, purchases) in HISTORY.items() for k, (t, amount, channel) in enumerate(purchases)]
        result = record_interactions(ctx, items)
        assert not result.errors, result.errors
    return ids


@pytest.fixture
def shop(gx, make_tenant):
    slug = make_tenant(modules=("lifecycle",))
    seed(gx, slug)
    return slug


def test_cohort_matrix_by_first_purchase_month(shop, graphql):
    body = graphql(shop, "VIEWER").execute(COHORTS, {"months": 6, "asOf": AS_OF})
    assert "errors" not in body, body
    [everyone] = body["data"]["lifecycleCohorts"]
    assert everyone["label"] is None
    rows = {r["month"]: r for r in everyone["cohorts"]}
    assert list(rows) == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    # January: A alone (D first bought in December); A bought in months +0, +1 and +3
    assert rows["2025-01"]["customers"] == 1 and rows["2025-01"]["active"] == [1, 1, 0, 1, 0, 0]
    assert rows["2025-01"]["revenue"] == ["150.00", "30.00", "0.00", "20.00", "0.00", "0.00"]
    # February: B (Shanghai time) and C; both bought again in March; the row stops at the as-of month
    assert rows["2025-02"]["customers"] == 2 and rows["2025-02"]["active"] == [2, 2, 0, 0, 0]
    assert rows["2025-02"]["retention"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert rows["2025-02"]["revenue"] == ["80.00", "50.00", "0.00", "0.00", "0.00"]
    assert rows["2025-06"]["customers"] == 0 and rows["2025-06"]["active"] == [0]


def test_monthly_rates_follow_the_definitions(shop, graphql):
    body = graphql(shop).execute(RATES, {"months": 6, "asOf": AS_OF})
    assert "errors" not in body, body
    months = {m["month"]: m for m in body["data"]["lifecycleRates"][0]["months"]}
    jan, feb, mar, apr, may = (months[f"2025-0{k}"] for k in range(1, 6))
    # January: A (twice) and D; D had bought in December, so December's one buyer was retained
    assert (jan["buyers"], jan["new"], jan["returning"], jan["existing"], jan["repeatBuyers"]) == (2, 1, 1, 1, 1)
    assert (jan["previousBuyers"], jan["retained"], jan["retentionRate"], jan["churnRate"]) == (1, 1, 1.0, 0.0)
    assert jan["repurchaseRate"] == 0.5 and jan["returningShare"] == 1.0
    # February: A, B, C buy; of January's A and D only A buys again
    assert (feb["buyers"], feb["new"], feb["previousBuyers"], feb["retained"]) == (3, 2, 2, 1)
    assert feb["retentionRate"] == 0.5 and feb["churnRate"] == 0.5 and feb["repurchaseRate"] == pytest.approx(1 / 3)
    assert feb["existing"] == 2 and feb["returningShare"] == 0.5
    # March: B and C, two of February's three
    assert (mar["buyers"], mar["retained"], mar["previousBuyers"]) == (2, 2, 3)
    assert mar["retentionRate"] == pytest.approx(2 / 3) and mar["existing"] == 4
    # April: A alone, who had not bought in March; May: nobody, so no rate
    assert (apr["buyers"], apr["retained"], apr["retentionRate"], apr["returningShare"]) == (1, 0, 0.0, 0.25)
    assert (may["buyers"], may["retentionRate"], may["churnRate"], may["repurchaseRate"]) == (0, 0.0, 1.0, None)


def test_slices_by_store_channel_and_acquisition_source(shop, graphql):
    client = graphql(shop)
    by_store = client.execute(COHORTS, {"months": 6, "by": "STORE", "asOf": AS_OF})["data"]["lifecycleCohorts"]
    sizes = {s["label"]: [r["customers"] for r in s["cohorts"]] for s in by_store}
    # S1: A (January), B (February); S2: C (February; E never bought); D, the one without a store, first
    # bought before the window: no slice of empty cohorts for "no store"
    assert sizes == {"S1": [1, 1, 0, 0, 0, 0], "S2": [0, 1, 0, 0, 0, 0]}
    by_channel = client.execute(RATES, {"months": 6, "by": "CHANNEL", "asOf": AS_OF})["data"]["lifecycleRates"]
    buyers = {s["label"]: [m["buyers"] for m in s["months"]] for s in by_channel}
    # the channel of the first purchase: A and D in store, B on WeChat, C on the web
    assert buyers == {"IN_STORE": [2, 1, 0, 1, 0, 0], "WEB": [0, 1, 1, 0, 0, 0], "WECHAT": [0, 1, 1, 0, 0, 0]}
    by_source = client.execute(RATES, {"months": 6, "by": "ACQUISITION_SOURCE", "asOf": AS_OF})["data"]["lifecycleRates"]
    new = {s["label"]: [m["new"] for m in s["months"]] for s in by_source}
    assert new == {"AD": [1, 0, 0, 0, 0, 0], "REFERRAL": [0, 1, 0, 0, 0, 0], None: [0, 1, 0, 0, 0, 0]}


def test_tier_slice_needs_loyalty_and_bad_arguments_name_the_field(shop, graphql, gx, make_tenant):
    client = graphql(shop)
    refused = client.execute(COHORTS, {"months": 6, "by": "TIER", "asOf": AS_OF})
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "INVALID" and "by" in error["message"] and "loyalty" in error["message"]
    too_long = client.execute(RATES, {"months": 500})
    assert too_long["errors"][0]["extensions"]["code"] == "INVALID" and "months" in too_long["errors"][0]["message"]
    # with loyalty on, first purchases enrol buyers in the entry tier: one tier, everyone in it
    both = make_tenant(modules=("loyalty", "lifecycle"))
    seed(gx, both)
    tiers = graphql(both).execute(RATES, {"months": 6, "by": "TIER", "asOf": AS_OF})
    assert "errors" not in tiers, tiers
    [entry] = tiers["data"]["lifecycleRates"]
    assert entry["label"] and [m["buyers"] for m in entry["months"]] == [2, 3, 2, 1, 0, 0]


def test_another_tenant_sees_none_of_it(shop, graphql, make_tenant):
    other = make_tenant(modules=("lifecycle",))
    body = graphql(other).execute(RATES, {"months": 6, "asOf": AS_OF})
    assert all(m["buyers"] == 0 and m["existing"] == 0 for m in body["data"]["lifecycleRates"][0]["months"])
    hidden = graphql(make_tenant()).post(RATES, {"months": 6})  # module off: the field does not exist
    assert hidden.status_code == 400


def test_cli_cohorts_and_rates(shop, database_url, monkeypatch, make_tenant):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    app = new_app("lifecycle")
    register(app)
    runner = CliRunner()
    rates = runner.invoke(app, ["rates", "--tenant", shop, "--months", "6", "--as-of", "2025-06-15", "--json"])
    assert rates.exit_code == 0, rates.output
    [everyone] = json.loads(rates.stdout)
    assert [m["buyers"] for m in everyone["months"]] == [2, 3, 2, 1, 0, 0]
    assert everyone["months"][1]["retention_rate"] == 0.5
    cohorts = runner.invoke(app, ["cohorts", "--tenant", shop, "--months", "6", "--as-of", "2025-06-15", "--by", "store"])
    assert cohorts.exit_code == 0, cohorts.output
    assert "S1" in cohorts.stdout and "2025-01" in cohorts.stdout and "100.0%" in cohorts.stdout
    assert runner.invoke(app, ["rates", "--tenant", shop, "--by", "weather"]).exit_code == 2
    refused = runner.invoke(app, ["rates", "--tenant", shop, "--months", "0"])
    assert refused.exit_code == 1 and "months" in refused.output
    off = runner.invoke(app, ["rates", "--tenant", make_tenant()])
    assert off.exit_code == 1 and "not enabled" in off.output
