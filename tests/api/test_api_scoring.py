"""runScoring through HTTP: checked at once, queued as a job, polled until it
ends; roles, results, and errors in the payload or on the run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions

pytestmark = pytest.mark.anyio

RUN = """mutation($m: [String!], $asOf: DateTime) { runScoring(input: {modules: $m, asOf: $asOf}) {
  job { id status trigger job params } errors { field message code } } }"""


def _buyers(gx, tenant):
    now = datetime.now(timezone.utc)
    with gx.tenant(tenant) as ctx:
        items = []
        for n in range(3):
            cid = create_customer(ctx, {"name": f"buyer {n}"}).id
            items += [{"customer_id": cid, "kind": "PURCHASE", "occurred_at": now - timedelta(days=d * (n + 1)), "amount": "10"} for d in range(1, n + 2)]
        create_customer(ctx, {"name": "browser"})
        record_interactions(ctx, items)


async def test_an_analyst_runs_scoring_as_a_job_and_polls_it_to_the_reports(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",))
    _buyers(gx, tenant)
    analyst = api(tenant, "ANALYST")
    body = await analyst.gql(RUN, {"m": ["RFM"]})
    payload = body["data"]["runScoring"]
    assert payload["errors"] == []
    job = payload["job"]
    assert job["status"] in ("QUEUED", "RUNNING", "SUCCEEDED")
    assert (job["job"], job["trigger"], job["params"]["modules"]) == ("scoring", "API", ["rfm"])
    run = await analyst.wait_for_job(job["id"])
    assert run["status"] == "SUCCEEDED", run["error"]
    [report] = run["reports"]
    assert (report["module"], report["scored"], report["unscored"]) == ("rfm", 3, 1)
    assert sum(report["details"]["segments"].values()) == 3
    assert run["result"]["reports"][0]["scored"] == 3
    # The scores are there for everyone to read once the run has succeeded.
    body = await analyst.gql("{ customers(first: 10) { edges { node { name rfm { segment { code } } } } } }")
    scored = [e["node"]["name"] for e in body["data"]["customers"]["edges"] if e["node"]["rfm"]]
    assert sorted(scored) == ["buyer 0", "buyer 1", "buyer 2"]


async def test_scoring_a_tenant_without_purchases_fails_with_the_reason(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",))
    analyst = api(tenant, "ANALYST")
    body = await analyst.gql(RUN, {"m": ["rfm"]})
    assert body["data"]["runScoring"]["errors"] == []
    run = await analyst.wait_for_job(body["data"]["runScoring"]["job"]["id"])
    assert run["status"] == "FAILED"
    assert "the tenant has no purchases up to this time" in run["error"]
    assert run["reports"] == [] and run["result"] is None


async def test_a_viewer_cannot_run_scoring(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",))
    body = await api(tenant, "VIEWER").gql(RUN, {"m": ["rfm"]})
    assert body["data"] is None or body["data"]["runScoring"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def _no_runs(api, tenant) -> None:
    body = await api(tenant, "ADMIN").gql("{ jobRuns { totalCount } }")
    assert body["data"]["jobRuns"]["totalCount"] == 0


async def test_scoring_a_module_that_is_not_enabled_is_a_payload_error_and_queues_nothing(gx, make_tenant, api):
    tenant = make_tenant()
    body = await api(tenant, "ADMIN").gql(RUN, {"m": ["rfm"]})
    payload = body["data"]["runScoring"]
    assert payload["job"] is None
    [error] = payload["errors"]
    assert error["field"] == "modules" and "not enabled" in error["message"]
    # Nor does asking for every enabled module when there is none.
    [error] = (await api(tenant, "ADMIN").gql(RUN, {}))["data"]["runScoring"]["errors"]
    assert error["field"] == "modules" and "no module enabled" in error["message"]
    await _no_runs(api, tenant)


@pytest.mark.parametrize("as_of, expected", [
    ("2999-01-01T00:00:00Z", "in the future"),
    ("1960-01-01T00:00:00Z", "after 1970"),
])
async def test_an_insane_as_of_is_a_payload_error_and_queues_nothing(gx, make_tenant, api, as_of, expected):
    tenant = make_tenant(modules=("rfm",))
    body = await api(tenant, "ANALYST").gql(RUN, {"m": ["rfm"], "asOf": as_of})
    payload = body["data"]["runScoring"]
    assert payload["job"] is None
    [error] = payload["errors"]
    assert error["field"] == "asOf" and expected in error["message"]
    await _no_runs(api, tenant)


async def test_as_of_without_an_offset_is_the_tenants_local_time(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",), timezone="Asia/Shanghai")
    analyst = api(tenant, "ANALYST")
    body = await analyst.gql(RUN, {"m": ["rfm"], "asOf": "2024-06-30T08:00:00"})
    job = body["data"]["runScoring"]["job"]
    assert job["params"]["as_of"] == "2024-06-30T00:00:00+00:00"
    assert (await analyst.wait_for_job(job["id"]))["status"] == "FAILED"  # no purchases; nothing left running
