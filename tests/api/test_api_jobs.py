"""Jobs through HTTP: ``jobRuns`` (newest first, filtered, paged), ``jobRun``
and ``node(id:)`` within the caller's tenant only, ``jobs`` with intervals
and overrides, ``setJobSchedule`` with its errors, and who runs requested
jobs when the API does not (GUANXI_API_RUNS_JOBS=false)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.testing import Api, FakeClock, engine_on, new_key, new_tenant, run_queued_jobs
from engine.worker import Worker, run_now
from tests.api.conftest import codes

pytestmark = pytest.mark.anyio

RUNS = """query($first: Int, $after: String, $job: String, $status: JobRunStatus) {
  jobRuns(first: $first, after: $after, job: $job, status: $status) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id job trigger status requestedBy result error startedAt finishedAt } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on JobRun { job status } } jobRun(id: $id) { id job } }"
JOBS = """{ jobs { name module everyMinutes defaultEveryMinutes overrideEveryMinutes paused nextDueAt running
  lastRun { id status trigger } } }"""
SCHEDULE = """mutation($job: String!, $every: Int, $paused: Boolean! = false) {
  setJobSchedule(input: {job: $job, everyMinutes: $every, paused: $paused}) {
    job { name everyMinutes overrideEveryMinutes paused nextDueAt } errors { field message code } } }"""


def _ran(gx, tenant) -> FakeClock:
    """The tenant's jobs run by the worker (SCHEDULE), then rfm.rescore by hand (MANUAL)."""
    clock = FakeClock()
    Worker(gx, clock=clock, tenants=[tenant]).run_once()
    run_now(gx, tenant, ["rfm.rescore"], requested_by="ops")
    return clock


async def test_job_runs_are_listed_newest_first_filtered_and_paged(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm", "complaints"))
    _ran(gx, tenant)
    analyst = api(tenant, "ANALYST")
    page = (await analyst.gql(RUNS, {"first": 2}))["data"]["jobRuns"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"]
    newest, second = (e["node"] for e in page["edges"])
    assert (newest["job"], newest["trigger"], newest["status"], newest["requestedBy"]) == ("rfm.rescore", "MANUAL", "SUCCEEDED", "ops")
    assert newest["result"].startswith("off") and newest["error"] is None and newest["finishedAt"] >= newest["startedAt"]
    rest = (await analyst.gql(RUNS, {"first": 2, "after": page["pageInfo"]["endCursor"]}))["data"]["jobRuns"]
    assert not rest["pageInfo"]["hasNextPage"]
    seen = [newest["id"], second["id"]] + [e["node"]["id"] for e in rest["edges"]]
    assert len(set(seen)) == 3
    assert sorted(e["node"]["job"] for e in page["edges"] + rest["edges"]) == ["complaints.sla_sweep", "rfm.rescore", "rfm.rescore"]

    by_job = (await analyst.gql(RUNS, {"job": "rfm.rescore"}))["data"]["jobRuns"]
    assert [e["node"]["trigger"] for e in by_job["edges"]] == ["MANUAL", "SCHEDULE"] and by_job["totalCount"] == 2
    assert (await analyst.gql(RUNS, {"status": "FAILED"}))["data"]["jobRuns"]["totalCount"] == 0
    response = await analyst.post(RUNS, {"status": "DONE"})
    assert response.status_code == 400 and codes(response.json()) == ["BAD_USER_INPUT"]


async def test_viewers_cannot_read_jobs_or_runs(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm",))
    _ran(gx, tenant)
    admin, viewer = api(tenant, "ADMIN"), api(tenant, "VIEWER")
    run_id = (await admin.gql(RUNS))["data"]["jobRuns"]["edges"][0]["node"]["id"]
    for query, variables in ((RUNS, {}), (JOBS, {}), (NODE, {"id": run_id})):
        body = await viewer.gql(query, variables)
        assert "FORBIDDEN" in codes(body) and not any((body.get("data") or {}).values()), body


async def test_a_run_is_seen_only_by_its_own_tenant(gx, make_tenant, api):
    mine, theirs = make_tenant(modules=("rfm",)), make_tenant(modules=("rfm",))
    _ran(gx, theirs)
    their_run = (await api(theirs, "ANALYST").gql(RUNS))["data"]["jobRuns"]["edges"][0]["node"]
    body = await api(theirs, "ANALYST").gql(NODE, {"id": their_run["id"]})
    assert body["data"]["node"] == {"id": their_run["id"], "job": their_run["job"], "status": "SUCCEEDED"}
    assert body["data"]["jobRun"]["id"] == their_run["id"]

    me = api(mine, "ADMIN")
    assert (await me.gql(NODE, {"id": their_run["id"]}))["data"] == {"node": None, "jobRun": None}
    assert (await me.gql(RUNS))["data"]["jobRuns"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": []}
    assert (await me.gql(NODE, {"id": "not an id"}))["data"] == {"node": None, "jobRun": None}


async def test_jobs_show_intervals_overrides_next_due_and_the_last_run(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm", "loyalty"))
    admin = api(tenant, "ADMIN")
    before = {j["name"]: j for j in (await admin.gql(JOBS))["data"]["jobs"]}
    assert sorted(before) == ["loyalty.evaluate_tiers", "loyalty.expire_points", "rfm.rescore"]
    assert before["rfm.rescore"]["lastRun"] is None and before["rfm.rescore"]["nextDueAt"] is not None

    clock = _ran(gx, tenant)
    body = await admin.gql(SCHEDULE, {"job": "loyalty.expire_points", "every": 60})
    assert body["data"]["setJobSchedule"]["errors"] == []
    jobs = {j["name"]: j for j in (await admin.gql(JOBS))["data"]["jobs"]}
    expire = jobs["loyalty.expire_points"]
    assert (expire["module"], expire["everyMinutes"], expire["defaultEveryMinutes"], expire["overrideEveryMinutes"]) == (
        "loyalty", 60, 1440, 60)
    assert expire["lastRun"]["status"] == "SUCCEEDED" and expire["lastRun"]["trigger"] == "SCHEDULE"
    assert datetime.fromisoformat(expire["nextDueAt"]) == clock() + timedelta(minutes=60)
    assert not expire["paused"] and not expire["running"]
    assert jobs["rfm.rescore"]["lastRun"]["trigger"] == "MANUAL"
    assert jobs["loyalty.evaluate_tiers"]["overrideEveryMinutes"] is None


async def test_set_job_schedule_takes_effect_and_bad_input_names_the_field(gx, make_tenant, api):
    tenant = make_tenant(modules=("rfm", "complaints"))
    admin = api(tenant, "ADMIN")
    payload = (await admin.gql(SCHEDULE, {"job": "rfm.rescore", "every": 30}))["data"]["setJobSchedule"]
    assert payload == {"job": {"name": "rfm.rescore", "everyMinutes": 30, "overrideEveryMinutes": 30, "paused": False,
                               "nextDueAt": payload["job"]["nextDueAt"]}, "errors": []}
    paused = (await admin.gql(SCHEDULE, {"job": "rfm.rescore", "every": 30, "paused": True}))["data"]["setJobSchedule"]["job"]
    assert paused["paused"] and paused["nextDueAt"] is None
    clock = FakeClock()
    ran = {o.job for o in Worker(gx, clock=clock, tenants=[tenant]).run_once()}
    assert ran == {"complaints.sla_sweep"}  # rfm.rescore is paused for this tenant
    back = (await admin.gql(SCHEDULE, {"job": "rfm.rescore"}))["data"]["setJobSchedule"]["job"]
    assert (back["everyMinutes"], back["overrideEveryMinutes"], back["paused"]) == (5, None, False)
    assert {o.job for o in Worker(gx, clock=clock, tenants=[tenant]).run_once()} == {"rfm.rescore"}

    for variables, field, words in [
        ({"job": "rfm.rescor", "every": 30}, "job", ["unknown job 'rfm.rescor'", "rfm.rescore", "complaints.sla_sweep"]),
        ({"job": "loyalty.expire_points", "every": 30}, "job", ["module 'loyalty'", "not enabled"]),
        ({"job": "rfm.rescore", "every": 0}, "everyMinutes", ["positive"]),
        ({"job": "rfm.rescore", "every": -1}, "everyMinutes", ["positive"]),
    ]:
        payload = (await admin.gql(SCHEDULE, variables))["data"]["setJobSchedule"]
        [error] = payload["errors"]
        assert payload["job"] is None and error["field"] == field and all(w in error["message"] for w in words), error
    events = (await admin.gql('{ auditEvents(first: 10, action: "job.schedule") { totalCount } }'))["data"]["auditEvents"]
    assert events["totalCount"] == 3

    for role in ("AGENT", "ANALYST"):
        body = await api(tenant, role).gql(SCHEDULE, {"job": "rfm.rescore", "every": 5})
        assert codes(body) == ["FORBIDDEN"] and body["data"] is None


def _buyers(gx, tenant) -> None:
    now = datetime.now(timezone.utc)
    with gx.tenant(tenant) as ctx:
        customers = [create_customer(ctx, {"name": f"buyer {n}"}).id for n in range(2)]
        record_interactions(ctx, [{"customer_id": c, "kind": "PURCHASE", "occurred_at": now - timedelta(days=3), "amount": "9"}
                                  for c in customers])


async def test_without_the_api_running_jobs_a_requested_run_waits_for_a_worker(fresh_database_url, monkeypatch):
    """A database of its own: the shared test app runs queued jobs of the shared one."""
    from api.app import create_app

    monkeypatch.setenv("GUANXI_API_RUNS_JOBS", "false")
    gx = engine_on(fresh_database_url)
    try:
        app = create_app(gx)
        assert app.state.job_runner is None
        tenant = new_tenant(gx, ("rfm",))
        _buyers(gx, tenant)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            analyst = Api(client, new_key(gx, tenant, "ANALYST"))
            body = await analyst.gql("mutation { runScoring(input: {}) { job { id status } errors { message } } }")
            job = body["data"]["runScoring"]["job"]
            assert job["status"] == "QUEUED"
            again = await analyst.gql("query($id: ID!) { jobRun(id: $id) { status } }", {"id": job["id"]})
            assert again["data"]["jobRun"]["status"] == "QUEUED"
            [outcome] = run_queued_jobs(gx)  # what a `guanxi worker` does
            assert outcome.status == "SUCCEEDED", outcome.error
            run = await analyst.wait_for_job(job["id"])
            assert run["status"] == "SUCCEEDED" and run["reports"][0]["module"] == "rfm" and run["reports"][0]["scored"] == 2
    finally:
        gx.engine.dispose()
