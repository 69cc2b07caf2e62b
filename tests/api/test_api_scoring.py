"""runScoring through HTTP: roles, results, and errors in the payload."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions

pytestmark = pytest.mark.anyio

RUN = "mutation($m: [String!]) { runScoring(input: {modules: $m}) { reports { module scored unscored details } errors { field message code } } }"


def _buyers(gx, tenant):
    now = datetime.now(timezone.utc)
    with gx.tenant(tenant) as ctx:
        items = []
        for n in range(3):
            cid = create_customer(ctx, {"name": f"buyer {n}"}).id
            items += [{"customer_id": cid, "kind": "PURCHASE", "occurred_at": now - timedelta(days=d * (n + 1)), "amount": "10"} for d in range(1, n + 2)]
        create_customer(ctx, {"name": "browser"})
        record_interactions(ctx, items)


async def test_an_analyst_runs_scoring_and_sees_who_was_scored(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",))
    _buyers(gx, tenant)
    body = await api(tenant, "ANALYST").gql(RUN, {"m": ["RFM"]})
    payload = body["data"]["runScoring"]
    assert payload["errors"] == []
    [report] = payload["reports"]
    assert (report["module"], report["scored"], report["unscored"]) == ("rfm", 3, 1)
    assert sum(report["details"]["segments"].values()) == 3


async def test_a_viewer_cannot_run_scoring(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",))
    body = await api(tenant, "VIEWER").gql(RUN, {"m": ["rfm"]})
    assert body["data"] is None or body["data"]["runScoring"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_scoring_a_module_that_is_not_enabled_is_a_payload_error(gx, make_tenant, api):
    tenant = make_tenant()
    body = await api(tenant, "ADMIN").gql(RUN, {"m": ["rfm"]})
    [error] = body["data"]["runScoring"]["errors"]
    assert error["field"] == "modules" and "not enabled" in error["message"]
