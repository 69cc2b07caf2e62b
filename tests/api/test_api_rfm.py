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
SUMMARY = """{ rfmSegments { scheme scored unscored segments { segment { code label(lang: EN) action(lang: ZH) }
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
