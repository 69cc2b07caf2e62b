"""GET /export/...: streamed downloads, roles, tenant scoping, errors, audit."""

from __future__ import annotations

import io
import json

import anyio
import httpx
import openpyxl
import pytest
from sqlalchemy import select

from engine.models import AuditEvent
from engine.services import export as exports
from tests.test_export import build_shop, read_csv


@pytest.fixture
def download(_guanxi_portal, _guanxi_sync_http, make_key):
    """``download(slug, role, path, **params)``: the response of a GET with that role's key."""

    def get(slug, role, path, **params) -> httpx.Response:
        key = make_key(slug, role)
        return _guanxi_portal.call(lambda: _guanxi_sync_http.get(path, params=params, headers={"Authorization": f"Bearer {key}"}))

    return get


def test_an_analyst_downloads_the_tenants_customers_as_csv(gx, make_tenant, download):
    shop, other = build_shop(gx, make_tenant), build_shop(gx, make_tenant)
    response = download(shop["slug"], "ANALYST", "/export/customers.csv", where=json.dumps({"store": {"eq": "S1"}}))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="customers-{shop["slug"]}.csv"'
    rows = read_csv(response.content)
    assert {int(r["id"]) for r in rows} == {shop["ids"][f"C{i}"] for i in range(5)}
    assert not {int(r["id"]) for r in rows} & set(other["ids"].values())
    assert rows[0]["name"] == "王小明" and rows[0]["rfm_segment"] and rows[0]["loyalty_tier"]


def test_segment_and_interactions_downloads_and_xlsx(gx, make_tenant, download):
    shop = build_shop(gx, make_tenant)
    response = download(shop["slug"], "ADMIN", "/export/segments/champions.csv", format="xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('-' + shop["slug"] + '.xlsx"')
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    segment = rows[0].index("rfm_segment")
    assert all(row[segment] == "CHAMPIONS" for row in rows[1:])
    response = download(shop["slug"], "ANALYST", "/export/interactions.csv", kind="VISIT,REFUND", customer="C1")
    assert response.status_code == 200, response.text
    assert [(r["customer_code"], r["kind"]) for r in read_csv(response.content)] == [("C1", "VISIT")]


@pytest.mark.parametrize("role, status", [("VIEWER", 403), (None, 401)])
def test_viewers_and_strangers_are_refused_with_a_json_error(gx, make_tenant, download, _guanxi_portal, _guanxi_sync_http,
                                                             role, status):
    slug = make_tenant()
    if role:
        response = download(slug, role, "/export/customers.csv")
    else:
        response = _guanxi_portal.call(lambda: _guanxi_sync_http.get("/export/customers.csv"))
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == ("FORBIDDEN" if role else "UNAUTHENTICATED")
    if role:
        assert error["message"] == "exporting data needs the analyst role or higher; this key is viewer"


def test_a_platform_key_exports_no_tenant(download):
    response = download(None, "PLATFORM", "/export/customers.csv")
    assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("path, params, field", [
    ("/export/customers.csv", {"where": '{"purchaseCount": {"gte": "many"}}'}, "where.purchaseCount.gte"),
    ("/export/customers.csv", {"where": '[1]'}, "where"),
    ("/export/customers.pdf", {}, "format"),
    ("/export/segments/NOBODY.csv", {}, "segment"),
    ("/export/interactions.csv", {"until": "soon"}, "until"),
])
def test_bad_parameters_are_a_400_naming_the_field(make_tenant, download, path, params, field):
    response = download(make_tenant(modules=("rfm",)), "ANALYST", path, **params)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["field"] == field


def test_an_unknown_export_is_a_404(make_tenant, download):
    assert download(make_tenant(), "ANALYST", "/export/invoices.csv").status_code == 404


def test_the_csv_streams_page_by_page_and_is_audited(gx, make_tenant, make_key, app, _guanxi_portal, monkeypatch):
    """At the ASGI level: one body message per page, each sent before the
    next page is read, then an audit event with the rows sent."""
    shop = build_shop(gx, make_tenant, modules=())
    monkeypatch.setattr(exports, "PAGE_SIZE", 3)
    key = make_key(shop["slug"], "ANALYST")
    pages_read, bodies = [], []

    def counted(read_blocks):  # the rows' blocks as the database hands them over (COPY's or a cursor's)
        def read(export):
            for block in read_blocks(export):
                pages_read.append(block)
                yield block
        return read

    monkeypatch.setattr(exports.Export, "blocks", counted(exports.Export.blocks))
    monkeypatch.setattr(exports.Export, "copy_blocks", counted(exports.Export.copy_blocks))
    scope = {"type": "http", "method": "GET", "path": "/export/customers.csv", "raw_path": b"/export/customers.csv",
             "query_string": b"", "headers": [(b"authorization", f"Bearer {key}".encode())], "scheme": "http",
             "server": ("test", 80), "client": ("127.0.0.1", 1), "root_path": "", "http_version": "1.1"}

    requested = []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()  # the client stays connected

    async def send(message):
        if message["type"] == "http.response.body":
            bodies.append((message.get("body", b""), len(pages_read)))

    _guanxi_portal.call(lambda: app(scope, receive, send))
    chunks = [(body, read) for body, read in bodies if body]
    assert len(chunks) == 4  # 10 customers in pages of 3
    assert [read for _, read in chunks] == [1, 2, 3, 4]  # each page went out before the next was read
    assert len(read_csv(b"".join(body for body, _ in chunks))) == 10
    with gx.tenant(shop["slug"], write=False) as ctx:
        event = ctx.session.exec(select(AuditEvent).where(AuditEvent.action == "export.customers")).scalars().one()
    assert event.actor.startswith("api-key:") and (event.changes["rows"], event.changes["complete"]) == (10, True)


def test_a_client_that_hangs_up_ends_the_read_at_once_and_is_audited(gx, make_tenant, make_key, app, _guanxi_portal,
                                                                      monkeypatch):
    """The database read (a COPY on PostgreSQL) is closed when the client goes,
    not whenever its generator is collected: it holds a connection till then."""
    shop = build_shop(gx, make_tenant, modules=())
    monkeypatch.setattr(exports, "PAGE_SIZE", 3)
    key = make_key(shop["slug"], "ANALYST")
    closed = []

    def watched(read_blocks):
        def read(export):
            try:
                yield from read_blocks(export)
            finally:
                closed.append(True)
        return read

    monkeypatch.setattr(exports.Export, "blocks", watched(exports.Export.blocks))
    monkeypatch.setattr(exports.Export, "copy_blocks", watched(exports.Export.copy_blocks))
    scope = {"type": "http", "method": "GET", "path": "/export/customers.csv", "raw_path": b"/export/customers.csv",
             "query_string": b"", "headers": [(b"authorization", f"Bearer {key}".encode())], "scheme": "http",
             "server": ("test", 80), "client": ("127.0.0.1", 1), "root_path": "", "http_version": "1.1"}
    first_body = anyio.Event()
    requested = []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await first_body.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body" and message.get("body"):
            first_body.set()
            await anyio.sleep(0.5)  # a slow client: it hangs up before the next page

    _guanxi_portal.call(lambda: app(scope, receive, send))
    assert closed == [True]
    with gx.tenant(shop["slug"], write=False) as ctx:
        event = ctx.session.exec(select(AuditEvent).where(AuditEvent.action == "export.customers")).scalars().one()
    assert event.changes["complete"] is False and event.changes["rows"] < 10
