"""OpenTelemetry traces, recorded by the SDK's in-memory exporter: a request's
SERVER span, its statements as child spans (SQL without values), the
request id on the span and the trace id on the request's log lines; and
nothing of OpenTelemetry loaded when no exporter is configured."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.app import create_app
from api.tracing import Tracing, tracing_configured, tracing_from_env
from engine.testing import Api
from tests.api.server import ROOT

pytestmark = pytest.mark.anyio

PLANTED_NAME = "Trace Planted-Name"


@pytest.fixture
def spans(gx):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    yield create_app(gx, tracing=tracing), exporter
    create_app(gx)  # the shared engine stops reporting statements to this test's tracer


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


async def test_a_graphql_request_is_a_server_span_with_its_statements_as_children(spans, make_key, tenant):
    app, exporter = spans
    records = Records()
    logging.getLogger().addHandler(records)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            admin = Api(client, make_key(tenant, "ADMIN"))
            exporter.clear()  # making the key ran statements outside any request
            response = await client.post("/graphql", headers={"Authorization": f"Bearer {admin.key}", "x-request-id": "trace-me-1"},
                                         json={"query": "mutation M($i: CreateCustomerInput!) { createCustomer(input: $i) { errors { code } } }",
                                               "variables": {"i": {"name": PLANTED_NAME}}})
            assert response.status_code == 200 and response.json()["data"]["createCustomer"]["errors"] == []
    finally:
        logging.getLogger().removeHandler(records)
    finished = exporter.get_finished_spans()
    [server] = [s for s in finished if s.kind == SpanKind.SERVER]
    assert server.name == "POST /graphql"
    assert server.attributes["guanxi.request_id"] == "trace-me-1"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["graphql.operation.name"] == "M" and server.attributes["guanxi.tenant"] == tenant
    statements = [s for s in finished if s.kind == SpanKind.CLIENT]
    assert statements, "the statements run in worker threads are traced"
    assert all(s.parent is not None and s.parent.span_id == server.context.span_id for s in statements)
    assert all(s.context.trace_id == server.context.trace_id for s in statements)
    assert "INSERT" in {s.name for s in statements}
    insert = next(s for s in statements if s.name == "INSERT" and "customers" in s.attributes["db.query.text"])
    assert PLANTED_NAME not in str(insert.attributes), "parameters never go into spans"
    # The request's log lines carry both ids: a trace leads to its logs.
    trace_id = format(server.context.trace_id, "032x")
    mine = [r for r in records.records if getattr(r, "request_id", None) == "trace-me-1"]
    assert any(r.name == "guanxi.access" for r in mine)
    assert all(r.trace_id == trace_id for r in mine)


async def test_a_callers_traceparent_is_joined(spans):
    app, exporter = spans
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        await client.get("/readyz", headers={"traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"})
    [server] = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert format(server.context.trace_id, "032x") == caller_trace
    assert server.parent.span_id == 0x00f067aa0ba902b7
    [ping] = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CLIENT and "SELECT 1" in s.attributes["db.query.text"]]
    assert ping.parent.span_id == server.context.span_id


async def test_a_failed_statement_is_an_error_span_without_its_message(spans, gx):
    _app, exporter = spans
    import sqlalchemy as sa

    with pytest.raises(sa.exc.DBAPIError):
        with gx.engine.connect() as connection:
            connection.execute(sa.text("SELECT * FROM no_such_table WHERE name = :n"), {"n": PLANTED_NAME})
    [failed] = [s for s in exporter.get_finished_spans() if "no_such_table" in s.attributes.get("db.query.text", "")]
    assert failed.status.status_code.name == "ERROR" and PLANTED_NAME not in str(failed.status.description)


def test_which_environments_turn_tracing_on():
    assert not tracing_configured({})
    assert tracing_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_configured({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing_configured({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing_configured({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"})
    assert isinstance(tracing_from_env({"OTEL_TRACES_EXPORTER": "console"}), Tracing)
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER: unknown exporter 'zipkinish'"):
        tracing_from_env({"OTEL_TRACES_EXPORTER": "zipkinish"})


def test_unconfigured_the_app_imports_nothing_of_opentelemetry(gx, database_url):
    script = ("import sys; from api.app import create_app; create_app(); "
              "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(GUANXI_DATABASE_URL=database_url, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
