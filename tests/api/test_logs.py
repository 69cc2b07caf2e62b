"""Logs: one JSON object per line, the request id and tenant on every line
of a request (uvicorn's access line included), and no personal data or key
in any line, whatever the request did: values are planted in requests that
fail in different ways, then looked for in everything logged."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import httpx
import pytest
import sqlalchemy as sa

from api.logs import JsonFormatter, TextFormatter, redact, redact_traceback
from engine.models import Customer
from engine.services import customers
from tests.api.server import ROOT, free_port, serve

pytestmark = pytest.mark.anyio

PHONE = "13912345678"
NAME = "Plantedname Zhang"
EMAIL = "planted.person@example.org"
CODE = "PLANTED-CODE-7781"
PLANTED = (PHONE, NAME, EMAIL, CODE)
FIELDS = {"time", "level", "logger", "message", "request_id", "tenant"}


class Capture(logging.Handler):
    """Every record, formatted the three ways it may be written: our JSON,
    our text, and a plain formatter as pytest's or an operator's handler would."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.json_lines: list[str] = []
        self.texts: list[str] = []

    def emit(self, record):
        self.records.append(record)
        self.json_lines.append(JsonFormatter().format(record))
        self.texts.append(TextFormatter().format(record))
        self.texts.append(logging.Formatter("%(name)s %(message)s").format(record))

    def everything(self) -> str:
        return "\n".join(self.json_lines + self.texts)


@pytest.fixture
def captured():
    handler = Capture()
    root, guanxi, client = logging.getLogger(), logging.getLogger("guanxi"), logging.getLogger("httpx")
    levels = guanxi.level, client.level
    root.addHandler(handler)
    guanxi.setLevel(logging.DEBUG)
    client.setLevel(logging.WARNING)  # the tests' HTTP client logs the URLs it calls: the client's log, not the server's
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        guanxi.setLevel(levels[0])
        client.setLevel(levels[1])


def _insert_twice(ctx, _data):
    """A real driver error whose statement carries the planted values (and, on
    PostgreSQL, whose DETAIL quotes them): the same code inserted twice."""
    for _ in range(2):
        ctx.session.add(Customer(tenant_id=ctx.tenant_id, code=CODE, name=NAME, phone=PHONE, email=EMAIL))
        ctx.session.flush()


def _no_planted_value(text: str) -> None:
    for value in PLANTED:
        assert value not in text, f"{value!r} was logged"


async def test_every_line_of_a_request_is_json_with_its_request_id_and_tenant(client, api, tenant, captured, monkeypatch):
    admin = api(tenant)
    headers = {"Authorization": f"Bearer {admin.key}", "x-request-id": "req-json-1"}
    ok = await client.post("/graphql", json={"query": "{ me { enabledModules } }"}, headers=headers)
    assert ok.status_code == 200
    monkeypatch.setattr(customers, "create_customer", _insert_twice)
    failed = await client.post("/graphql", headers={**headers, "x-request-id": "req-json-2"}, json={
        "query": "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { errors { code } } }",
        "variables": {"i": {"name": NAME}}})
    # The duplicate is an expected failure (CONFLICT in the payload) since integrity errors are mapped.
    assert failed.json()["data"]["createCustomer"]["errors"][0]["code"] == "CONFLICT"
    lines = [json.loads(line) for line in captured.json_lines]
    assert all(FIELDS <= set(line) for line in lines)
    for request_id in ("req-json-1", "req-json-2"):
        mine = [line for line in lines if line["request_id"] == request_id]
        assert any(line["logger"] == "guanxi.access" and line["path"] == "/graphql" for line in mine)
        assert all(line["tenant"] == tenant for line in mine)
    # A line logged during the request with its error (when the failure is one the server did not expect)
    # belongs to the request too.
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert all(line["request_id"] == "req-json-2" for line in errors)
    _no_planted_value(captured.everything())


async def test_no_personal_data_or_key_in_any_log_line(client, api, make_key, tenant, captured, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    admin = api(tenant)
    key = admin.key
    auth = {"Authorization": f"Bearer {key}"}
    # A search in a GET query string.
    query = urllib.parse.urlencode({"query": "query($s: String) { customers(first: 5, search: $s) { totalCount } }",
                                    "variables": json.dumps({"s": PHONE}), "email": EMAIL})
    assert (await client.get(f"/graphql?{query}", headers=auth)).status_code in (200, 400)
    # Bad input naming the values.
    await client.post("/graphql", headers=auth, json={
        "query": "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { errors { field message } } }",
        "variables": {"i": {"name": NAME, "phone": f"x{PHONE}x", "email": f"{EMAIL}@@", "code": CODE * 10}}})
    # Unknown paths, with the values in the path's query string.
    assert (await client.get(f"/export/nothing-here?phone={PHONE}&key={key}", headers=auth)).status_code >= 400
    assert (await client.get(f"/nowhere?name={urllib.parse.quote(NAME)}")).status_code == 404
    # A key that is not one, and a real one in the query string.
    await client.post("/graphql", json={"query": "{ me { enabledModules } }"}, headers={"Authorization": f"Bearer gx_{PHONE}{PHONE}x"})
    await client.get(f"/graphql?query=%7Bme%7BenabledModules%7D%7D&key={key}")
    # A survey link's token in the path (answering needs no key: the token is the secret).
    link_token = "Zq3xK9-pW2_mN7vR4tY8uB1cD5eF6gH0"
    assert (await client.get(f"/satisfaction/s/{tenant}/{link_token}")).status_code >= 400
    # A database error carrying the values.
    monkeypatch.setattr(customers, "create_customer", _insert_twice)
    await client.post("/graphql", headers=auth, json={
        "query": "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { errors { code } } }",
        "variables": {"i": {"name": NAME}}})
    everything = captured.everything() + "\n" + caplog.text
    assert "request" in everything and "/nowhere" in everything  # the lines are there, without the values
    _no_planted_value(everything)
    assert link_token not in everything and f"/satisfaction/s/{tenant}/<token>" in everything
    assert key not in everything and f"gx_{PHONE}" not in everything


def test_a_driver_error_logged_with_its_traceback_loses_the_values_but_keeps_the_cause(gx, tenant, captured):
    with pytest.raises(sa.exc.IntegrityError):
        with gx.tenant(tenant) as ctx:
            _insert_twice(ctx, {})
    try:
        with gx.tenant(tenant) as ctx:
            _insert_twice(ctx, {})
    except sa.exc.IntegrityError:
        logging.getLogger("guanxi.api").exception("unexpected error in resolver")
    [record] = [r for r in captured.records if r.exc_info]
    text = captured.everything()
    _no_planted_value(text)
    assert "IntegrityError" in text and ("uq_customers_tenant_" in text or "UNIQUE constraint failed: customers.tenant_id" in text)
    assert "INSERT INTO customers (tenant_id, code, name" in text  # the statement stays: it names what failed


def test_redaction_of_what_error_texts_quote():
    assert redact(f"(psycopg.errors.UniqueViolation) duplicate key\nDETAIL:  Key (tenant_id, phone)=(3, {PHONE}) already exists.") \
        == "(psycopg.errors.UniqueViolation) duplicate key\nDETAIL: redacted"
    assert PHONE not in redact(f"[parameters: {{'phone': '{PHONE}'}}]")
    assert redact(f"mail {EMAIL} key gx_abcdefghijklmnopqrstuvwxyz0123") == "mail <email> key gx_<redacted>"
    assert redact("at 2026-12-06T05:35:01 run 42 took 1.5 s") == "at 2026-12-06T05:35:01 run 42 took 1.5 s"
    traceback = f"Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    parse('{{}}')\nValueError: bad name '{NAME}'"
    assert NAME not in redact_traceback(traceback) and "parse('{}')" in redact_traceback(traceback)


def test_uvicorn_lines_are_json_with_the_request_id_and_without_query_strings(gx, database_url, make_key, tenant, tmp_path):
    key = make_key(tenant, "ADMIN")
    with serve(database_url, tmp_path, env={"GUANXI_LOG_FORMAT": "json"}) as server:
        query = urllib.parse.urlencode({"query": "query($s: String) { customers(first: 1, search: $s) { totalCount } }",
                                        "variables": json.dumps({"s": PHONE})})
        response = httpx.get(f"{server.url}/graphql?{query}", headers={"Authorization": f"Bearer {key}", "x-request-id": "uv-req-1"})
        assert response.status_code == 200, response.text
        assert httpx.get(f"{server.url}/nowhere?email={EMAIL}", headers={"x-request-id": "uv-req-2"}).status_code == 404
    logs = server.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]  # every line is one JSON object
    assert all(FIELDS <= set(line) for line in lines)
    assert any(line["logger"] == "uvicorn.error" and "Started server process" in line["message"] for line in lines)
    [uvicorn_access] = [line for line in lines if line["logger"] == "uvicorn.access" and line["request_id"] == "uv-req-1"]
    assert '"GET /graphql HTTP/1.1" 200' in uvicorn_access["message"] and uvicorn_access["tenant"] == tenant
    [ours] = [line for line in lines if line["logger"] == "guanxi.access" and line["request_id"] == "uv-req-1"]
    assert ours["path"] == "/graphql" and ours["status"] == 200
    assert any(line["logger"] == "uvicorn.access" and line["request_id"] == "uv-req-2" and "/nowhere HTTP" in line["message"]
               for line in lines)
    _no_planted_value(logs)
    assert key not in logs


CRASHING_SERVER = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from api.logs import RequestIdMiddleware, configure_logging, uvicorn_log_config

async def crash(request):
    raise RuntimeError("a bug, while handling phone " + request.query_params["phone"])

def make():
    configure_logging("INFO", "json")
    return Starlette(routes=[Route("/crash", crash)], middleware=[Middleware(RequestIdMiddleware)])

uvicorn.run(make, factory=True, port=int(sys.argv[1]), log_config=uvicorn_log_config())
"""


def test_uvicorns_report_of_a_crash_carries_the_request_id_and_no_values(tmp_path):
    """A bug that escapes the app: uvicorn logs "Exception in ASGI application"
    after the app returned, still with the request's id, and redacted."""
    port = free_port()
    log_path = tmp_path / "crash.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-c", CRASHING_SERVER, str(port)], cwd=ROOT, env=env, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while "Application startup complete" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        response = httpx.get(f"http://127.0.0.1:{port}/crash?phone={PHONE}", headers={"x-request-id": "crash-1"})
        assert response.status_code == 500
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    [report] = [line for line in lines if line["message"].startswith("Exception in ASGI application")]
    assert report["logger"] == "uvicorn.error" and report["request_id"] == "crash-1"
    assert "RuntimeError: a bug, while handling phone <digits>" in report["exception"]
    assert PHONE not in log_path.read_text()


def test_the_text_format_and_a_bad_format_setting(monkeypatch):
    from api.logs import install_record_factory, log_format, request_id_var, tenant_var
    from engine.config import Settings, SettingsError

    install_record_factory()
    tokens = request_id_var.set("req-text-1"), tenant_var.set("acme")
    try:
        record = logging.getLogger("guanxi.access").makeRecord("guanxi.access", logging.INFO, __file__, 1, "request", (), None,
                                                               extra={"fields": {"path": "/graphql", "status": 200}})
    finally:
        request_id_var.reset(tokens[0])
        tenant_var.reset(tokens[1])
    line = TextFormatter().format(record)
    assert line.endswith(" INFO guanxi.access [req-text-1 acme] request path=/graphql status=200")
    assert log_format("text") == "text" and log_format("json") == "json"
    monkeypatch.setenv("GUANXI_LOG_FORMAT", "TEXT")
    assert Settings().log_format == "text"
    monkeypatch.setenv("GUANXI_LOG_FORMAT", "yaml")
    with pytest.raises(SettingsError, match="GUANXI_LOG_FORMAT: Input should be 'json', 'text' or 'auto'"):
        Settings()
