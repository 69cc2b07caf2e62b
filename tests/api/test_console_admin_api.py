"""What the console's admin pages added to the API: ``Module.settingFields``,
``runJob``, the console's downloads (``GET /console/export/...``) and its
file import (``POST /console/import/...``), with their role rules, CSRF and
tenant isolation."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from sqlalchemy import select

from api.console.imports import safe_name
from engine.models import AuditEvent, Customer
from engine.testing import new_key
from plugins.clv.settings import ClvSettings
from plugins.rfm.settings import SCHEMES, RfmSettings
from tests.api.conftest import codes

pytestmark = pytest.mark.anyio

FIELDS = """query($lang: Lang!) { modules { name title(lang: $lang) settingFields {
  path type nullable default description choices itemType minimum maximum exclusiveMinimum exclusiveMaximum } } }"""
SETTINGS = "{ modules { name settings } }"
RUN_JOB = "mutation($job: String!) { runJob(input: {job: $job}) { job { id job status trigger requestedBy } errors { field message code } } }"
CUSTOMERS = "{ customers(first: 100) { totalCount edges { node { id code name phone store } } } }"


class Session:
    """A signed-in console session on the ASGI app (its own cookie jar)."""

    def __init__(self, client: httpx.AsyncClient, csrf: str | None):
        self.client, self.csrf = client, csrf

    async def gql(self, query: str, variables: dict | None = None) -> dict:
        response = await self.client.post("/console/graphql", json={"query": query, "variables": variables or {}},
                                          headers={"X-CSRF-Token": self.csrf})
        assert response.status_code == 200, response.text
        return response.json()

    async def upload(self, kind: str, body: bytes, name: str, csrf: bool = True, **params) -> httpx.Response:
        headers = {"Content-Type": "application/octet-stream"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return await self.client.post(f"/console/import/{kind}", content=body, params={"name": name, **params}, headers=headers)


@pytest.fixture
async def sign_in(app):
    clients: list[httpx.AsyncClient] = []

    async def make(key: str | None) -> Session:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60)
        clients.append(client)
        if key is None:
            return Session(client, None)
        response = await client.post("/console/session", json={"key": key})
        assert response.status_code == 200, response.text
        return Session(client, response.json()["csrf"])

    yield make
    for client in clients:
        await client.aclose()


# -- Module.settingFields ---------------------------------------------------------------


async def test_setting_fields_describe_each_setting_with_the_defaults_a_fresh_tenant_gets(make_tenant, api):
    slug = make_tenant(modules=("rfm", "clv"))
    body = await api(slug, "ADMIN").gql(FIELDS, {"lang": "EN"})
    assert "errors" not in body, body
    modules = {m["name"]: m for m in body["data"]["modules"]}
    effective = {m["name"]: m["settings"] for m in (await api(slug, "ADMIN").gql(SETTINGS))["data"]["modules"]}
    for name, module in modules.items():
        fields = module["settingFields"]
        assert {f["path"]: f["default"] for f in fields} == effective[name], name  # the defaults are what a fresh tenant has
    rfm = {f["path"]: f for f in modules["rfm"]["settingFields"]}
    assert list(rfm) == list(RfmSettings.model_fields)
    assert (rfm["scheme"]["type"], rfm["scheme"]["choices"], rfm["scheme"]["default"]) == ("CHOICE", list(SCHEMES), "RF_GRID_10")
    assert (rfm["k"]["type"], rfm["k"]["default"], rfm["k"]["nullable"]) == ("INTEGER", 5, False)
    assert rfm["k"]["description"] == RfmSettings.model_fields["k"].description
    assert (rfm["window_days"]["type"], rfm["window_days"]["nullable"], rfm["window_days"]["default"]) == ("INTEGER", True, None)
    assert rfm["thresholds"]["type"] == "JSON"
    assert (rfm["abc_cuts"]["type"], rfm["abc_cuts"]["itemType"], rfm["abc_cuts"]["default"]) == ("LIST", "NUMBER", [0.75, 0.95])
    clv = {f["path"]: f for f in modules["clv"]["settingFields"]}
    horizon = ClvSettings.model_fields["horizon_months"]
    assert (clv["horizon_months"]["minimum"], clv["horizon_months"]["maximum"]) == (1, 120) and horizon.default == 12
    assert (clv["margin"]["exclusiveMinimum"], clv["margin"]["maximum"], clv["margin"]["minimum"]) == (0, 1, None)
    assert (clv["discount_rate_monthly"]["minimum"], clv["discount_rate_monthly"]["exclusiveMaximum"]) == (0, 1)


async def test_setting_fields_are_readable_by_every_role_but_the_settings_stay_admin_only(make_tenant, api):
    slug = make_tenant(modules=("rfm",))
    viewer = api(slug, "VIEWER")
    body = await viewer.gql("{ modules { name settingFields { path type } } }")
    assert "errors" not in body and any(m["settingFields"] for m in body["data"]["modules"])
    assert codes(await viewer.gql(SETTINGS)) == ["FORBIDDEN"]


# -- runJob ----------------------------------------------------------------------------


async def test_an_admin_runs_a_job_now_and_its_run_is_recorded_for_this_tenant_only(gx, make_tenant, api):
    slug, other = make_tenant(modules=("rfm",)), make_tenant(modules=("rfm",))
    admin = api(slug, "ADMIN")
    body = await admin.gql(RUN_JOB, {"job": "rfm.rescore"})
    payload = body["data"]["runJob"]
    assert payload["errors"] == [] and payload["job"]["job"] == "rfm.rescore" and payload["job"]["trigger"] == "API"
    assert payload["job"]["requestedBy"].startswith("api-key:")
    run = await admin.wait_for_job(payload["job"]["id"])
    assert run["status"] == "SUCCEEDED"
    runs = (await admin.gql("{ jobRuns(job: \"rfm.rescore\") { edges { node { id trigger result } } } }"))["data"]["jobRuns"]["edges"]
    assert [(e["node"]["id"], e["node"]["trigger"]) for e in runs] == [(payload["job"]["id"], "API")]
    assert runs[0]["node"]["result"].startswith("off")  # the job's own answer: no schedule_minutes set
    assert (await api(other, "ADMIN").gql("query($id: ID!) { jobRun(id: $id) { id } }", {"id": payload["job"]["id"]}))["data"]["jobRun"] is None
    with gx.tenant(slug, write=False) as ctx:
        actions = ctx.session.execute(select(AuditEvent.action).where(AuditEvent.tenant_id == ctx.tenant_id)).scalars().all()
    assert "job.request" in actions


async def test_run_job_refuses_other_roles_and_names_an_unknown_or_disabled_job(make_tenant, api):
    slug = make_tenant(modules=("rfm",))
    for role in ("ANALYST", "VIEWER"):
        body = await api(slug, role).gql(RUN_JOB, {"job": "rfm.rescore"})
        assert codes(body) == ["FORBIDDEN"] and body["data"] is None
    runs = await api(slug, "ADMIN").gql("{ jobRuns { totalCount } }")
    assert runs["data"]["jobRuns"]["totalCount"] == 0
    for job in ("rfm.rescor", "loyalty.expire_points"):
        [error] = (await api(slug, "ADMIN").gql(RUN_JOB, {"job": job}))["data"]["runJob"]["errors"]
        assert error["field"] == "job" and error["code"] == "NOT_FOUND"
    assert "did you mean 'rfm.rescore'" in (await api(slug, "ADMIN").gql(RUN_JOB, {"job": "rfm.rescor"}))["data"]["runJob"]["errors"][0]["message"]


# -- GET /console/export/... -----------------------------------------------------------


def _rows(response: httpx.Response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def _shop(api, slug: str, codes_: list[str]) -> None:
    admin = api(slug, "ADMIN")
    for code in codes_:
        body = await admin.gql("mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { errors { message } } }",
                               {"input": {"code": code, "name": f"顾客 {code}", "store": "S1" if code.endswith("1") else "S2"}})
        assert body["data"]["createCustomer"]["errors"] == []


async def test_the_console_downloads_exports_with_the_session_and_keeps_the_role_rule(gx, make_tenant, make_key, api, sign_in):
    slug, other = make_tenant(), make_tenant()
    await _shop(api, slug, ["A1", "A2", "A3"])
    await _shop(api, other, ["B1"])
    analyst_key = make_key(slug, "ANALYST")
    analyst = await sign_in(analyst_key)
    response = await analyst.client.get("/console/export/customers.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="customers-{slug}.csv"'
    listed = (await api(slug, "VIEWER").gql(CUSTOMERS))["data"]["customers"]["edges"]
    assert sorted(r["code"] for r in _rows(response)) == sorted(e["node"]["code"] for e in listed) == ["A1", "A2", "A3"]
    filtered = await analyst.client.get("/console/export/customers.xlsx", params={"where": json.dumps({"store": {"eq": "S1"}})})
    assert filtered.status_code == 200 and filtered.headers["content-type"].startswith("application/vnd.openxml")
    import openpyxl

    sheet = list(openpyxl.load_workbook(io.BytesIO(filtered.content)).active.iter_rows(values_only=True))
    assert [row[sheet[0].index("code")] for row in sheet[1:]] == ["A1"]
    with gx.tenant(slug, write=False) as ctx:
        events = ctx.session.execute(select(AuditEvent).where(AuditEvent.tenant_id == ctx.tenant_id,
                                                              AuditEvent.action == "export.customers")).scalars().all()
    assert len(events) == 2 and all(e.actor.startswith("api-key:") for e in events)

    viewer = await sign_in(make_key(slug, "VIEWER"))
    refused = await viewer.client.get("/console/export/customers.csv")
    assert refused.status_code == 403 and codes(refused.json()) == ["FORBIDDEN"]
    stranger = await sign_in(None)
    assert (await stranger.client.get("/console/export/customers.csv")).status_code == 401
    assert (await analyst.client.get("/console/export/other/customers.csv")).status_code == 404
    bad = await analyst.client.get("/console/export/customers.csv", params={"where": "{"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["extensions"]["field"] == "where"
    # A Bearer header does not stand in for the session here, and the cookie does not open /export.
    assert (await stranger.client.get("/console/export/customers.csv", headers={"Authorization": f"Bearer {analyst_key}"})).status_code == 401
    assert (await analyst.client.get("/export/customers.csv")).status_code == 401


# -- POST /console/import/... ----------------------------------------------------------


CUSTOMER_CSV = "code,name,phone,store\nN1,新顾客一,13800000001,S1\nN2,新顾客二,not-a-phone,S1\nN3,New Three,,S2\n"


async def test_an_admin_imports_customers_from_the_console_with_the_rejected_rows_listed(gx, make_tenant, make_key, api, sign_in):
    slug, other = make_tenant(), make_tenant()
    admin = await sign_in(make_key(slug, "ADMIN"))
    response = await admin.upload("customers", CUSTOMER_CSV.encode("gb18030"), "顾客.csv")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["stored"], result["rejected"], result["duplicates"], result["rowsTotal"]) == (2, 1, 0, 3)
    assert result["encoding"] == "gb18030" and result["file"] == "顾客.csv" and result["mode"] == "upsert"
    [reject] = result["rejects"]
    assert reject["line"] == 3 and reject["errors"][0]["field"] == "phone"
    assert "not-a-phone" in result["rejectsCsv"] and result["rejectsCsv"].splitlines()[0].startswith("line,")
    listed = {e["node"]["code"]: e["node"] for e in (await api(slug, "VIEWER").gql(CUSTOMERS))["data"]["customers"]["edges"]}
    assert set(listed) == {"N1", "N3"} and listed["N1"]["name"] == "新顾客一"
    assert (await api(other, "VIEWER").gql(CUSTOMERS))["data"]["customers"]["totalCount"] == 0
    with gx.tenant(slug, write=False) as ctx:
        [event] = ctx.session.execute(select(AuditEvent).where(AuditEvent.tenant_id == ctx.tenant_id,
                                                               AuditEvent.action == "import.customers")).scalars().all()
    assert event.actor.startswith("api-key:") and event.changes["rows_stored"] == 2

    again = (await admin.upload("customers", CUSTOMER_CSV.encode("gb18030"), "顾客.csv")).json()
    assert again["alreadyDone"] and again["stored"] == 2

    interactions = "customer_code,kind,occurred_at,amount\nN1,PURCHASE,2026-03-01 10:00:00,199.00\nNOPE,PURCHASE,2026-03-01 11:00:00,5\n"
    done = (await admin.upload("interactions", interactions.encode(), "orders.csv")).json()
    assert (done["stored"], done["rejected"]) == (1, 1) and done["rejects"][0]["line"] == 3
    spent = await api(slug, "VIEWER").gql("{ customers(where: {code: {eq: \"N1\"}}) { edges { node { grossSpent purchaseCount } } } }")
    assert spent["data"]["customers"]["edges"][0]["node"]["purchaseCount"] == 1


async def test_a_whole_file_error_names_the_column_and_stores_nothing(gx, make_tenant, make_key, sign_in):
    slug = make_tenant()
    admin = await sign_in(make_key(slug, "ADMIN"))
    response = await admin.upload("customers", b"code,nickname\nX1,a\n", "bad.csv")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["field"] == "nickname" and "unknown column" in error["message"]
    bad_mode = await admin.upload("customers", b"code\nX1\n", "c.csv", mode="merge")
    assert bad_mode.status_code == 400 and bad_mode.json()["errors"][0]["extensions"]["field"] == "mode"
    empty = await admin.upload("customers", b"", "c.csv")
    assert empty.status_code == 400 and empty.json()["errors"][0]["extensions"]["field"] == "file"
    assert (await admin.upload("orders", b"code\nX1\n", "c.csv")).status_code == 404
    with gx.tenant(slug, write=False) as ctx:
        assert ctx.session.execute(select(Customer).where(Customer.tenant_id == ctx.tenant_id)).first() is None


@pytest.mark.parametrize("role", ["AGENT", "ANALYST", "VIEWER"])
async def test_imports_are_for_admins_and_need_the_csrf_token(gx, make_tenant, make_key, sign_in, role):
    slug = make_tenant()
    session = await sign_in(make_key(slug, role))
    response = await session.upload("customers", b"code,name\nR1,x\n", "c.csv")
    assert response.status_code == 403 and codes(response.json()) == ["FORBIDDEN"]
    admin = await sign_in(make_key(slug, "ADMIN"))
    forged = await admin.upload("customers", b"code,name\nR1,x\n", "c.csv", csrf=False)
    assert forged.status_code == 403
    stranger = await sign_in(None)
    assert (await stranger.client.post("/console/import/customers", content=b"code\nR1\n",
                                       headers={"X-CSRF-Token": "x"})).status_code == 403
    with gx.tenant(slug, write=False) as ctx:
        assert ctx.session.execute(select(Customer).where(Customer.tenant_id == ctx.tenant_id)).first() is None


def test_uploaded_names_are_plain_file_names():
    assert safe_name("../../etc/passwd", "customers") == "passwd.csv"
    assert safe_name("C:\\Users\\me\\顾客.xlsx", "customers") == "顾客.xlsx"
    assert safe_name("", "interactions") == "interactions.csv"
    assert safe_name("a\x00b.csv", "customers") == "a_b.csv"
