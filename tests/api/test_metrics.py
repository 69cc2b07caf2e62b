"""/metrics as Prometheus scrapes it: requests by route, operation and
outcome, latency, the database pool, job runs and scoring; bounded labels;
the token; and two real uvicorn workers counted together."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from api import metrics
from api.app import create_app
from engine.jobs import run_jobs
from engine.runtime import Guanxi
from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from tests.api.server import serve

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client, **headers) -> dict:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_requests_are_counted_by_operation_and_outcome_and_timed(client, api, tenant):
    admin = api(tenant)
    before = await scrape(client)
    for _ in range(3):
        assert (await admin.gql("query MetricsProbe { me { role { code } } }"))["data"]["me"]
    # operationName given by the client wins over the document's first name
    response = await client.post("/graphql", json={"query": "query A { me { tenant { name } } } query B { me { enabledModules } }",
                                                   "operationName": "B"}, headers={"Authorization": f"Bearer {admin.key}"})
    assert response.status_code == 200
    bad = await admin.post("query MetricsBroken { noSuchField }")
    assert bad.status_code == 400
    assert (await client.post("/graphql", json={"query": "query MetricsNoKey { me { id } }"})).status_code == 401
    after = await scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("guanxi_http_requests_total", route="/graphql", operation="MetricsProbe", outcome="ok") == 3
    assert delta("guanxi_http_request_duration_seconds_count", route="/graphql", operation="MetricsProbe") == 3
    assert delta("guanxi_http_request_duration_seconds_sum", route="/graphql", operation="MetricsProbe") > 0
    assert delta("guanxi_http_requests_total", route="/graphql", operation="B", outcome="ok") == 1
    assert delta("guanxi_http_requests_total", route="/graphql", operation="MetricsBroken",
                 outcome="GRAPHQL_VALIDATION_FAILED") == 1
    # refused before GraphQL ran: no operation, the HTTP status
    assert delta("guanxi_http_requests_total", route="/graphql", operation="", outcome="HTTP_401") >= 1
    # a bucket at or above the request's time holds it
    assert delta("guanxi_http_request_duration_seconds_bucket", route="/graphql", operation="MetricsProbe", le="+Inf") == 3


async def test_routes_are_patterns_and_unknown_paths_one_series(client):
    before = await scrape(client)
    await client.get("/healthz")
    assert (await client.get("/no/such/path/12345")).status_code == 404
    assert (await client.get("/another/unknown")).status_code == 404
    after = await scrape(client)
    assert value(after, "guanxi_http_requests_total", route="/healthz", operation="", outcome="ok") - \
        value(before, "guanxi_http_requests_total", route="/healthz", operation="", outcome="ok") == 1
    assert value(after, "guanxi_http_requests_total", route="other", operation="", outcome="HTTP_404") - \
        value(before, "guanxi_http_requests_total", route="other", operation="", outcome="HTTP_404") == 2
    assert not any("12345" in str(key) for key in after)


async def test_operation_names_from_clients_cannot_grow_the_series_without_bound(client, api, tenant, monkeypatch):
    admin = api(tenant)
    monkeypatch.setattr(metrics, "_seen_operations", set())
    monkeypatch.setattr(metrics, "MAX_OPERATIONS", 2)
    for name in ("First", "Second", "Third", "Fourth"):
        await admin.gql(f"query {name} {{ me {{ enabledModules }} }}")
    await admin.gql(f"query {'L' * 65} {{ me {{ enabledModules }} }}")  # a valid GraphQL name, too long for a label
    scraped = await scrape(client)
    operations = {dict(labels).get("operation") for name, labels in scraped if name == "guanxi_http_requests_total"}
    assert {"First", "Second", "other"} <= operations
    assert not {"Third", "Fourth", "L" * 65} & operations
    assert value(scraped, "guanxi_http_requests_total", route="/graphql", operation="other", outcome="ok") >= 3
    assert metrics.operation_label("bad name; drop") == "other"


async def test_the_database_pool_is_reported(client, gx):
    scraped = await scrape(client)
    if gx.engine.url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory SQLite database has no pool")
    assert value(scraped, "guanxi_db_pool_size") == gx.engine.pool.size() == gx.settings.db_pool_size
    assert value(scraped, "guanxi_db_pool_checked_out") >= 0
    with gx.engine.connect(), gx.engine.connect():  # two connections held while scraping
        held = await scrape(client)
    assert value(held, "guanxi_db_pool_checked_out") >= 2


async def test_job_runs_and_scoring_are_timed(client, gx, make_tenant):
    tenant = make_tenant(modules=("rfm", "complaints"))
    now = datetime.now(timezone.utc)
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "buyer"}).id
        record_interactions(ctx, [{"customer_id": cid, "kind": "PURCHASE", "occurred_at": now - timedelta(days=d), "amount": "10"}
                                  for d in (1, 5)])
    before = await scrape(client)
    run_jobs(gx, tenant, ["complaints.sla_sweep"])
    with gx.tenant(tenant) as ctx:
        run_scoring(ctx, ["rfm"])
    after = await scrape(client)
    runs = ("guanxi_job_runs_total", {"job": "complaints.sla_sweep", "outcome": "SUCCEEDED"})
    assert value(after, runs[0], **runs[1]) - value(before, runs[0], **runs[1]) == 1
    assert value(after, "guanxi_job_duration_seconds_count", **runs[1]) - value(before, "guanxi_job_duration_seconds_count", **runs[1]) == 1
    assert value(after, "guanxi_scoring_duration_seconds_count", module="rfm") - \
        value(before, "guanxi_scoring_duration_seconds_count", module="rfm") == 1


async def test_a_metrics_token_is_required_once_set(gx):
    guarded = Guanxi(settings=gx.settings.model_copy(update={"metrics_token": SecretStr("s3cret-scrape")}), plugins=gx.plugins)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(guarded)), base_url="http://test") as client:
            refused = await client.get("/metrics")
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
            scraped = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
            assert scraped.status_code == 200 and "guanxi_http_requests_total" in scraped.text
    finally:
        guarded.engine.dispose()


async def test_metrics_can_be_turned_off(gx):
    quiet = Guanxi(settings=gx.settings.model_copy(update={"metrics": False}), plugins=gx.plugins)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(quiet)), base_url="http://test") as client:
            assert (await client.get("/metrics")).status_code == 404
    finally:
        quiet.engine.dispose()


def test_two_uvicorn_workers_are_counted_together(gx, database_url, make_key, make_tenant, tmp_path):
    """``guanxi serve --workers 2``: whichever worker answers a scrape, it
    reports the requests of both; the metrics directory goes with the server."""
    tenant = make_tenant()
    key = make_key(tenant, "ADMIN")
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    sent = 0
    with serve(database_url, tmp_path, workers=2, env={"TMPDIR": str(own_tmp)}) as server:
        deadline = time.monotonic() + 240
        while server.logs().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.3)
        [directory] = [p for p in own_tmp.iterdir() if p.name.startswith("guanxi-metrics-")]
        # New connections each time: the kernel hands them to either worker.
        while len({p.name.rsplit("_", 1)[-1] for p in directory.glob("counter_*.db")}) < 2 or sent < 20:
            response = httpx.post(server.url + "/graphql", json={"query": "query TwoWorkers { me { enabledModules } }"},
                                  headers={"Authorization": f"Bearer {key}", "Connection": "close"}, timeout=30)
            assert response.status_code == 200
            sent += 1
            assert sent < 500, "every request went to one worker"
        for _ in range(4):  # any worker answering: the same total
            scraped = samples(httpx.get(server.url + "/metrics", headers={"Connection": "close"}, timeout=30).text)
            assert value(scraped, "guanxi_http_requests_total", route="/graphql", operation="TwoWorkers", outcome="ok") == sent
    assert not any(own_tmp.iterdir()), "the serve command removes the metrics directory it made"
