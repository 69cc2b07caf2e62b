"""Fixtures for the security suites: the real app on the test database, driven
synchronously through one event loop (a blocking portal) so hypothesis and
module-scoped scenarios can use it; two tenants with every module on and
real, distinctive data; log capture.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field

import anyio
import anyio.from_thread
import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from api.app import create_app
from api.logs import JsonFormatter
from engine.services.keys import create_key
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant
from tests.conftest import unique_slug
from tests.security import gqlgen

ROLES = ("ADMIN", "AGENT", "ANALYST", "VIEWER")


class SyncClient:
    """httpx.AsyncClient on the ASGI app, called from synchronous code."""

    def __init__(self, portal, app):
        self.portal = portal
        self.client = portal.call(self._make, app)

    @staticmethod
    async def _make(app):
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60)

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        return self.portal.call(lambda: self.client.request(method, url, **kw))

    def post(self, key: str | None, query: str, variables: dict | None = None, **extra) -> httpx.Response:
        """JSON with \\u escapes, as browsers send it: a lone surrogate travels too (httpx's UTF-8 cannot)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        content = json.dumps({"query": query, "variables": variables or {}, **extra}, ensure_ascii=True)
        return self.request("POST", "/graphql", content=content, headers={**headers, "Content-Type": "application/json"})

    def gql(self, key: str, query: str, variables: dict | None = None) -> dict:
        response = self.post(key, query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    def post_many(self, requests: list[tuple[str | None, str, dict]], concurrency: int = 8) -> list[tuple[int, str, float]]:
        """Many (key, query, variables) at once, ``concurrency`` in flight; (status, text, seconds) each, in order."""

        async def run_all():
            limit = anyio.Semaphore(concurrency)
            out: list = [None] * len(requests)

            async def one(i, key, query, variables):
                async with limit:
                    started = time.perf_counter()
                    headers = {"Authorization": f"Bearer {key}"} if key else {}
                    content = json.dumps({"query": query, "variables": variables or {}}, ensure_ascii=True)
                    r = await self.client.post("/graphql", content=content, headers={**headers, "Content-Type": "application/json"})
                    out[i] = (r.status_code, r.text, time.perf_counter() - started)

            async with anyio.create_task_group() as tg:
                for i, (key, query, variables) in enumerate(requests):
                    tg.start_soon(one, i, key, query, variables)
            # A request task that raises CancelledError ends the group quietly: say so.
            missing = [requests[i][1] for i, result in enumerate(out) if result is None]
            assert not missing, f"{len(missing)} requests got no response (cancelled), first: {missing[0][:300]}"
            return out

        return self.portal.call(run_all)

    def close(self) -> None:
        self.portal.call(self.client.aclose)


@pytest.fixture(scope="session")
def portal():
    with anyio.from_thread.start_blocking_portal("asyncio") as p:
        yield p


# The generated queries select every field of every object down to their depth,
# each list at its default page size: far past any role's cost budget, which
# would refuse them before they test anything here. The cost rule still runs;
# tests/api/test_cost.py tests its budgets.
GENERATED_QUERY_BUDGETS = ",".join(f"{role}=1000000000" for role in ("viewer", "analyst", "agent", "admin", "platform"))


@pytest.fixture(scope="session")
def sec_app(gx):
    from engine.runtime import Guanxi

    wide = gx.settings.model_copy(update={"query_cost_budgets": GENERATED_QUERY_BUDGETS})
    return create_app(Guanxi(settings=wide, plugins=gx.plugins, engine=gx.engine))


@pytest.fixture(scope="session")
def sync_client(portal, sec_app) -> SyncClient:
    client = SyncClient(portal, sec_app)
    yield client
    client.close()


def new_tenant(gx, modules=None) -> tuple[str, int]:
    slug = unique_slug("sec")
    with gx.system() as session:
        tenant = create_tenant(session, slug, f"Tenant {slug}", "CNY", "Asia/Shanghai", "zh-CN", actor="test")
        for name in modules if modules is not None else gx.plugins.modules:
            set_enabled(session, gx.plugins, tenant.id, name, True, actor="test")
        return slug, tenant.id


def new_key(gx, tenant_id: int, role: str) -> str:
    from engine.models import Tenant

    with gx.system() as session:
        return create_key(session, session.get(Tenant, tenant_id), role, f"sec-{role.lower()}", actor="test").secret


# -- a tenant with real, distinctive data ------------------------------------------------


@dataclass
class Seeded:
    slug: str
    tenant_id: int
    marker: str
    keys: dict[str, str]
    customer_ids: list[str]
    names: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    wechats: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, list[str]]:
        return {"phone": self.phones, "email": self.emails, "code": self.codes, "name": self.names,
                "wechat": self.wechats, "store": self.stores, "search": self.phones + self.emails + self.codes + self.names}

    def personal(self) -> list[str]:
        """The personal data and secrets planted in this tenant: never to be logged."""
        return self.names + self.phones + self.emails + self.wechats + list(self.keys.values())

    def markers(self) -> list[str]:
        """Strings only this tenant's data contains."""
        return [self.marker, self.slug] + self.names + self.phones + self.emails + self.wechats + self.stores + self.external_ids + self.notes


def seed(client: SyncClient, gx, shared_code: str | None = None, customers: int = 12) -> Seeded:
    slug, tenant_id = new_tenant(gx)
    keys = {role: new_key(gx, tenant_id, role) for role in ROLES}
    marker = f"mk{uuid.uuid4().hex[:10]}"
    digits = str(uuid.uuid4().int)[:6]
    s = Seeded(slug, tenant_id, marker, keys, [])
    create = ("mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { field message } } }")
    for n in range(customers):
        code = shared_code if (shared_code and n == 0) else f"{marker}-c{n}"
        values = {"name": f"{marker} 王{n}", "phone": f"+86139{digits}{n:02d}", "email": f"{marker}.{n}@example.com",
                  "code": code, "wechatId": f"wx_{marker}_{n}", "store": f"{marker}-store", "tags": [f"{marker}-tag"],
                  "attributes": {"note": f"{marker} attribute {n}"}}
        body = client.gql(keys["ADMIN"], create, {"i": values})
        payload = body["data"]["createCustomer"]
        assert payload["errors"] == [], payload
        s.customer_ids.append(payload["customer"]["id"])
        s.names.append(values["name"]); s.phones.append(values["phone"]); s.emails.append(values["email"])
        s.wechats.append(values["wechatId"]); s.codes.append(code)
    s.stores.append(f"{marker}-store")
    s.notes += [f"{marker} attribute {n}" for n in range(customers)]
    items = []
    for n, cid in enumerate(s.customer_ids):
        for k in range(3):
            ext = f"{marker}-x{n}-{k}"
            s.external_ids.append(ext)
            items.append({"customerId": cid, "kind": "PURCHASE", "occurredAt": f"2025-0{k + 1}-{n + 10:02d}T10:00:00+08:00",
                          "amount": f"{100 + 10 * n + k}.00", "store": f"{marker}-store", "externalId": ext})
        note = f"{marker} complaint from {s.phones[n]}"
        s.notes.append(note)
        items.append({"customerId": cid, "kind": "COMPLAINT", "occurredAt": "2025-04-01T10:00:00+08:00",
                      "externalId": f"{marker}-cx{n}", "payload": {"description": note}})
        s.external_ids.append(f"{marker}-cx{n}")
    body = client.gql(keys["ADMIN"], "mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) { recordedCount itemErrors { index field message } errors { message } } }", {"i": {"items": items}})
    assert body["data"]["recordInteractions"]["recordedCount"] == len(items), body
    from engine.scoring import run_scoring

    from engine.errors import ValidationFailed

    for module in sorted(gx.plugins.modules):  # fill the plugins' score tables too, where they can score
        try:
            with gx.tenant(tenant_id, actor="test") as ctx:
                run_scoring(ctx, [module])
        except ValidationFailed:
            pass
    return s


# -- database snapshots ---------------------------------------------------------------------


def installed_tables(gx) -> list[sa.Table]:
    """The tables of the core and of ``gx``'s plugins (not those other tests' plugins left in the metadata)."""
    from engine.migrations import table_owners

    names = table_owners(gx)
    return [t for t in SQLModel.metadata.sorted_tables if t.name in names]


def tenant_tables(gx) -> list[sa.Table]:
    return [t for t in installed_tables(gx) if "tenant_id" in t.c]


# Counts every request, refused ones included: not data a request may change or not.
REQUEST_COUNTERS = {"rate_limit_buckets"}


def snapshot(gx, tenant_id: int) -> dict[str, tuple[int, str]]:
    """Row count and checksum of everything the tenant has, table by table (its request counters aside)."""
    out = {}
    with gx.system(write=False) as conn:
        for table in tenant_tables(gx):
            if table.name in REQUEST_COUNTERS:
                continue
            order = list(table.primary_key.columns) or list(table.c)
            rows = conn.execute(sa.select(table).where(table.c.tenant_id == tenant_id).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def table_texts(gx, tenant_id: int | None = None) -> dict[str, str]:
    """Every row of every table as text (rows of one tenant where a table has tenant_id)."""
    out = {}
    with gx.system(write=False) as conn:
        for table in installed_tables(gx):
            query = sa.select(table)
            if tenant_id is not None and "tenant_id" in table.c:
                query = query.where(table.c.tenant_id == tenant_id)
            rows = conn.execute(query).all()
            out[table.name] = json.dumps([[str(v) for v in r] for r in rows], ensure_ascii=False)
    return out


def tables_containing(gx, needles: list[str]) -> dict[str, list[str]]:
    """Which tables hold any of ``needles`` in any column (searched by the database, every row of every tenant)."""
    out: dict[str, list[str]] = {}
    with gx.system(write=False) as conn:
        for table in installed_tables(gx):
            # text-bearing columns only (numbers and times cannot hold a key); one scan per table
            columns = [c for c in table.c if isinstance(c.type, (sa.String, sa.Text, sa.JSON)) or c.type.__class__.__name__ in ("AutoString", "JSONB")]
            if not columns:
                continue
            texts = [sa.cast(c, sa.Text) for c in columns]
            hits = [sa.func.max(sa.case((sa.or_(*(t.contains(n, autoescape=True) for t in texts)), 1), else_=0)) for n in needles]
            row = conn.execute(sa.select(*hits).select_from(table)).first()
            found = [n for n, hit in zip(needles, row or ()) if hit]
            if found:
                out[table.name] = found
    return out


# -- the schema a tenant sees, and the values to attack it with -------------------------------


def introspect(client: SyncClient, key: str):
    body = client.gql(key, gqlgen.INTROSPECTION_QUERY)
    return gqlgen.client_schema(body)


def harvest_tenant(client: SyncClient, key: str, schema, values: gqlgen.Values) -> tuple[dict[str, set], set, set]:
    """Run the generated read-only requests as the tenant itself; collect its ids, cursors, strings."""
    ids: dict[str, set] = {}
    cursors: set = set()
    strings: set = set()
    for op in gqlgen.generate(schema, values):
        if op.kind != "query" or op.label != "required":
            continue  # every root query with its full selection reaches every object the tenant has
        response = client.post(key, op.query, op.variables)
        if response.status_code == 200:
            gqlgen.harvest(response.json().get("data"), ids, cursors, strings)
    return ids, cursors, strings


class LogCapture(logging.Handler):
    """Every record of every logger (guanxi at DEBUG), formatted as the app formats them."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def errors(self) -> list[str]:
        return [line for line, r in zip(self.lines, self.records) if r.levelno >= logging.ERROR]

    def leaked(self, planted) -> list[str]:
        """The planted values (personal data, API keys) found in any captured line:
        docs/operations.md promises logs never carry them."""
        text = self.text
        return sorted({value for value in planted if isinstance(value, str) and len(value) >= 6 and value in text})


@pytest.fixture
def captured_logs():
    handler = LogCapture()
    root, guanxi = logging.getLogger(), logging.getLogger("guanxi")
    before = guanxi.level
    root.addHandler(handler)
    guanxi.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        guanxi.setLevel(before)
