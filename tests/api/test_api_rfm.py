"""The rfm module through HTTP: Customer.rfm, rfmSegments, and visibility per tenant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions

pytestmark = pytest.mark.anyio

PAGE = """{ customers(first: 10, orderBy: {field: NAME, direction: ASC}) { edges { node { name
  rfm { recency frequency monetary rScore fScore mScore segment { code label(lang: ZH) } computedAt } } } } }"""
SUMMARY = """{ rfmSegments { scheme asOf settings scored unscored segments { segment { code label(lang: EN) action(lang: ZH) }
  customers shareOfCustomers revenue shareOfRevenue avgFrequency } } }"""


def _scored_tenant(gx, make_tenant) -> str:
    tenant = make_tenant(modules=("rfm",))
    now = datetime.now(timezone.utc)
    with gx.tenant(tenant) as ctx:
        often = create_customer(ctx, {"name": "a often"}).id
        once = create_customer(ctx, {"name": "b once"}).id
        create_customer(ctx, {"name": "c never"})
        record_interactions(ctx, [
            *({"customer_id": often, "kind": "PURCHASE", "occurred_at": now - timedelta(days=d), "amount": "100"} for d in (1, 5, 9)),
            {"customer_id": once, "kind": "PURCHASE", "occurred_at": now - timedelta(days=200), "amount": "40"},
        ])
        run_scoring(ctx, ["rfm"])
    return tenant


async def test_customer_rfm_is_filled_for_buyers_and_null_for_others(gx, make_tenant, api):
    tenant = _scored_tenant(gx, make_tenant)
    nodes = [e["node"] for e in (await api(tenant, "VIEWER").gql(PAGE))["data"]["customers"]["edges"]]
    often, once, never = nodes
    assert often["rfm"]["frequency"] == 3 and often["rfm"]["monetary"] == "300.00"
    assert (often["rfm"]["rScore"], often["rfm"]["fScore"]) == (3, 3)  # 1 + floor(5 * 1 / 2)
    assert once["rfm"]["rScore"] == 1 and once["rfm"]["segment"]["code"] == "HIBERNATING"
    assert once["rfm"]["segment"]["label"] == "沉睡客户"
    assert never["rfm"] is None


async def test_segment_summary_adds_up(gx, make_tenant, api):
    tenant = _scored_tenant(gx, make_tenant)
    summary = (await api(tenant, "VIEWER").gql(SUMMARY))["data"]["rfmSegments"]
    assert (summary["scheme"], summary["scored"], summary["unscored"]) == ("RF_GRID_10", 2, 1)
    assert (summary["settings"]["k"], summary["settings"]["window_days"]) == (5, None)  # what the run used
    assert abs(datetime.fromisoformat(summary["asOf"]) - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert len(summary["segments"]) == 10
    assert sum(s["customers"] for s in summary["segments"]) == 2
    assert abs(sum(s["shareOfRevenue"] for s in summary["segments"]) - 1) < 1e-9
    hibernating = next(s for s in summary["segments"] if s["segment"]["code"] == "HIBERNATING")
    assert hibernating["revenue"] == "40.00" and hibernating["segment"]["label"] == "Hibernating"
    assert hibernating["segment"]["action"]


async def test_a_tenant_without_rfm_does_not_see_it(make_tenant, api):
    tenant = make_tenant()
    response = await api(tenant, "ADMIN").post(SUMMARY)
    assert response.status_code == 400
    assert "rfmSegments" in response.json()["errors"][0]["message"]


async def test_customers_filter_and_order_by_rfm(gx, make_tenant, api):
    tenant = _scored_tenant(gx, make_tenant)
    client = api(tenant, "VIEWER")
    query = """query($w: CustomerWhere, $o: CustomerOrder, $after: String) {
      customers(first: 1, where: $w, orderBy: $o, after: $after) { totalCount edges { cursor node { name } } } }"""
    hibernating = await client.gql(query, {"w": {"rfm": {"segment": {"in": ["HIBERNATING", "AT_RISK"]}}}})
    assert [e["node"]["name"] for e in hibernating["data"]["customers"]["edges"]] == ["b once"]
    scored = await client.gql(query, {"w": {"rfm": {"fScore": {"gte": 1}}}})
    assert scored["data"]["customers"]["totalCount"] == 2  # "c never" has no score
    combined = await client.gql(query, {"w": {"OR": [{"rfm": {"segment": {"eq": "HIBERNATING"}}}, {"name": {"eq": "c never"}}]}})
    assert combined["data"]["customers"]["totalCount"] == 2
    # Keyset pages ordered by a plugin's score: biggest spender first, unscored last.
    order = {"field": "RFM_MONETARY", "direction": "DESC"}
    names, after = [], None
    for _ in range(3):
        page = (await client.gql(query, {"o": order, "after": after}))["data"]["customers"]
        names += [e["node"]["name"] for e in page["edges"]]
        after = page["edges"][-1]["cursor"]
    assert names == ["a often", "b once", "c never"]


async def test_rfm_filters_are_not_offered_without_the_module(make_tenant, api):
    tenant = make_tenant()
    response = await api(tenant, "VIEWER").post('{ customers(where: {rfm: {fScore: {gte: 1}}}) { totalCount } }')
    assert response.status_code == 400
