"""Tenant-scoped data access: what a session bound to one tenant lets through,
on SQLite and PostgreSQL, and a deliberately careless plugin (no tenant filter
anywhere) that still sees one tenant through its resolver, its job and its hook."""

from __future__ import annotations

from typing import Optional

import pytest
import sqlalchemy as sa
import strawberry
from sqlmodel import Field, SQLModel, select

from engine import hookimpl
from engine.jobs import Job, run_jobs
from engine.models import AuditEvent, Customer, Interaction, Tenant
from engine.plugins import GlobalPlugin, ModuleInfo, PluginError, PluginManager
from engine.config import Settings
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.tenancy import TenantIsolationError, global_table
from engine.testing import GraphQLClient, new_key, new_tenant
from tests.extra_plugins import engine_with


def _two_tenants(gx) -> tuple[tuple[str, int], tuple[str, int]]:
    out = []
    for name in ("甲店", "乙店"):
        slug = new_tenant(gx)
        with gx.tenant(slug) as ctx:
            customer = create_customer(ctx, {"name": f"{name}顾客", "phone": "13800000000"})
            record_interactions(ctx, [{"customer_id": customer.id, "kind": "PURCHASE", "amount": "88",
                                       "occurred_at": "2026-03-01T10:00:00+08:00"}])
        out.append((slug, customer.id))
    return out[0], out[1]


def test_orm_reads_see_one_tenant_and_get_by_id_finds_nothing_of_another(gx):
    (a, a_customer), (b, b_customer) = _two_tenants(gx)
    with gx.tenant(a, write=False) as ctx:
        s = ctx.session
        assert [c.id for c in s.exec(select(Customer)).all()] == [a_customer]
        assert s.get(Customer, b_customer) is None
        assert s.get(Customer, a_customer).name == "甲店顾客"
        assert s.execute(sa.select(sa.func.count()).select_from(Interaction)).scalar_one() == 1
        # subqueries, joins and plain Core selects of a tenant table are scoped too
        assert s.exec(select(Customer.id).where(Customer.id.in_(select(Interaction.customer_id)))).all() == [a_customer]
        joined = s.execute(sa.select(Customer.name, Interaction.amount).join(Interaction, Interaction.customer_id == Customer.id)).all()
        assert [row.name for row in joined] == ["甲店顾客"]
        assert s.execute(sa.select(Customer.__table__.c.id)).scalars().all() == [a_customer]
        assert [t.slug for t in s.exec(select(Tenant)).all()] == [a]


def test_updates_and_deletes_without_a_tenant_filter_touch_only_the_sessions_tenant(gx):
    (a, a_customer), (b, b_customer) = _two_tenants(gx)
    with gx.tenant(a) as ctx:
        ctx.session.execute(sa.update(Customer).values(city="上海"))
        ctx.session.execute(sa.update(Customer.__table__).values(region="华东"))
        ctx.session.execute(sa.delete(AuditEvent))
    with gx.system(write=False) as session:
        rows = {c.id: (c.city, c.region) for c in session.exec(select(Customer).where(Customer.id.in_([a_customer, b_customer])))}
        b_audit = session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.tenant_id == session.exec(select(Tenant.id).where(Tenant.slug == b)).one())).scalar_one()
    assert rows[a_customer] == ("上海", "华东") and rows[b_customer] == (None, None)
    assert b_audit > 0  # B's audit trail untouched


def test_writing_another_tenants_rows_is_refused_and_nothing_is_stored(gx):
    (a, a_customer), (b, b_customer) = _two_tenants(gx)
    with gx.system(write=False) as session:
        b_id = session.exec(select(Tenant.id).where(Tenant.slug == b)).one()
        b_row = session.get(Customer, b_customer)
    with pytest.raises(TenantIsolationError, match=f"tenant {b_id}"):
        with gx.tenant(a) as ctx:
            ctx.session.add(Customer(tenant_id=b_id, name="planted"))
    with pytest.raises(TenantIsolationError):
        with gx.tenant(a) as ctx:
            ctx.session.execute(sa.insert(Customer.__table__), [{"tenant_id": b_id, "name": "planted", "role": "P",
                                                                  "lifecycle_stage": "E", "tags": [], "attributes": {},
                                                                  "consent": {}}])
    with pytest.raises(TenantIsolationError, match="update"):
        with gx.tenant(a) as ctx:
            b_row.name = "renamed"
            ctx.session.add(b_row)
    with gx.system(write=False) as session:
        assert session.exec(select(Customer).where(Customer.name == "planted")).all() == []
        assert session.get(Customer, b_customer).name == "乙店顾客"


def test_a_row_added_without_tenant_id_gets_the_sessions_tenant(gx):
    (a, _), _ = _two_tenants(gx)
    with gx.tenant(a) as ctx:
        row = AuditEvent(actor="test", action="note")  # tenant_id left out
        ctx.session.add(row)
        ctx.session.flush()
        assert row.tenant_id == ctx.tenant_id


def test_raw_sql_sees_one_tenant_on_postgresql(gx):
    """Row-level security: even SQL the ORM never sees returns one tenant's rows."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    (a, a_customer), (b, _) = _two_tenants(gx)
    with gx.tenant(a, write=False) as ctx:
        for table in ("customers", "interactions", "audit_events", "tenant_modules", "api_keys", "rfm_scores",
                      "loyalty_ledger", "complaint_cases"):
            seen = ctx.session.execute(sa.text(f"SELECT DISTINCT tenant_id FROM {table}")).scalars().all()
            assert set(seen) <= {ctx.tenant_id}, (table, seen)
        assert ctx.session.execute(sa.text("SELECT slug FROM tenants")).scalars().all() == [a]
        b_id = ctx.session.execute(sa.text("SELECT count(*) FROM tenants WHERE slug = :s"), {"s": b}).scalar_one()
        assert b_id == 0
    with gx.engine.connect() as connection:  # declares no tenant: sees nothing
        assert connection.execute(sa.text("SELECT count(*) FROM customers")).scalar_one() == 0
    with gx.system(write=False) as session:
        b_tenant = session.execute(sa.text("SELECT id FROM tenants WHERE slug = :s"), {"s": b}).scalar_one()
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        with gx.tenant(a) as ctx:
            ctx.session.execute(sa.text(
                "INSERT INTO audit_events (tenant_id, actor, action, changes, at) VALUES (:t, 'x', 'planted', '{}', now())"),
                {"t": b_tenant})


def test_the_application_role_owns_no_table_on_postgresql(gx):
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    with gx.engine.connect() as connection:
        role = connection.execute(sa.text("SELECT current_user")).scalar_one()
        owned = connection.execute(sa.text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner = current_user")).scalar_one()
        bypass = connection.execute(sa.text("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one()
    assert (role, owned, bypass) == (gx.settings.db_app_role, 0, False)


# -- start-up refusals ------------------------------------------------------------------------


class UnscopedNote(SQLModel, table=True):
    __tablename__ = "test_unscoped_notes"
    __table_args__ = {"extend_existing": True}
    id: Optional[int] = Field(default=None, primary_key=True)
    text: str = ""


def _manager_with(plugin, name: str) -> PluginManager:
    manager = PluginManager(Settings())
    manager.load_default_plugins()
    manager.register_module(plugin, name=name)
    return manager


def test_a_table_without_tenant_id_is_refused_at_start_naming_the_plugin():
    class NotesPlugin:
        @hookimpl
        def guanxi_module(self):
            return ModuleInfo(name="notes", title_zh="笔记", title_en="Notes")

        @hookimpl
        def guanxi_models(self):
            return [UnscopedNote]

    manager = _manager_with(NotesPlugin(), "notes-plugin")
    with pytest.raises(PluginError, match=r"test_unscoped_notes \(plugin 'notes-plugin'\)"):
        manager.check()
    global_table(UnscopedNote)  # declared shared reference data: accepted
    try:
        manager.check()
    finally:
        UnscopedNote.__table__.info.pop("guanxi_global")


def test_a_plugin_that_declares_no_module_must_say_it_is_global():
    class Silent:
        @hookimpl
        def guanxi_interactions_recorded(self, ctx, interactions):
            pass

    with pytest.raises(PluginError, match="plugin 'silent' declares no module.*GlobalPlugin"):
        _manager_with(Silent(), "silent")

    class Declared(Silent):
        @hookimpl
        def guanxi_module(self):
            return GlobalPlugin(name="audit-mirror")

    manager = _manager_with(Declared(), "declared")
    assert "declared" in manager.global_plugins


# -- a deliberately careless plugin ---------------------------------------------------------


class CarelessNote(SQLModel, table=True):
    __tablename__ = "test_careless_notes"
    __table_args__ = {"extend_existing": True}
    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(index=True)
    customer_id: int
    seen_customers: int = 0  # how many customers the hook could see when it wrote this
    seen_names: str = ""


def _careless_plugin(folder, raw_sql: bool):
    """No tenant filter anywhere: every read is of the whole table."""

    def everyone(session) -> list[str]:
        if raw_sql:
            return list(session.execute(sa.text("SELECT name FROM customers ORDER BY id")).scalars())
        return [c.name for c in session.exec(select(Customer).order_by(Customer.id))]

    @strawberry.type
    class CarelessQuery:
        @strawberry.field
        async def careless_customer_names(self, info: strawberry.Info) -> list[str]:
            return await info.context.read(everyone)

        @strawberry.field
        async def careless_notes(self, info: strawberry.Info) -> list[str]:
            return await info.context.read(lambda s: [n.seen_names for n in s.exec(select(CarelessNote))])

    def count_everyone(ctx):
        return {"customers": everyone(ctx.session), "notes": len(ctx.session.exec(select(CarelessNote)).all())}

    class Careless:
        @hookimpl
        def guanxi_module(self):
            return ModuleInfo(name="careless", title_zh="粗心", title_en="Careless (test)")

        @hookimpl
        def guanxi_models(self):
            return [CarelessNote]

        @hookimpl
        def guanxi_migrations(self):
            return folder

        @hookimpl
        def guanxi_graphql(self):
            return {"query": [CarelessQuery]}

        @hookimpl
        def guanxi_jobs(self):
            return [Job(name="careless.count", module="careless", every_minutes=60, run=count_everyone)]

        @hookimpl
        def guanxi_interactions_recorded(self, ctx, interactions):
            names = everyone(ctx.session)
            for item in interactions:
                ctx.session.add(CarelessNote(tenant_id=ctx.tenant_id, customer_id=item.customer_id,
                                             seen_customers=len(names), seen_names=",".join(names)))

    return Careless()


@pytest.mark.parametrize("raw_sql", [False, True], ids=["orm", "raw-sql"])
def test_a_careless_plugin_sees_one_tenant_through_its_resolver_job_and_hook(fresh_database_url, tmp_path, raw_sql):
    gx = engine_with(fresh_database_url, {"careless": _careless_plugin(tmp_path / "migrations", raw_sql)})
    if raw_sql and gx.engine.dialect.name != "postgresql":
        pytest.skip("raw SQL is walled off by PostgreSQL's row-level security; on SQLite plugins use the ORM")
    slugs = []
    for name in ("甲", "乙"):
        slug = new_tenant(gx, ["careless"])
        with gx.tenant(slug) as ctx:  # the hook runs here, with both tenants' customers in the table
            customer = create_customer(ctx, {"name": f"{name}-customer"})
            record_interactions(ctx, [{"customer_id": customer.id, "kind": "VISIT", "occurred_at": "2026-03-01T10:00:00+08:00"}])
        slugs.append(slug)
    a, b = slugs

    import anyio.from_thread

    from api.app import create_app

    app = create_app(gx)
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        http = portal.call(lambda: _client(app))
        body = GraphQLClient(portal, http, new_key(gx, b, "VIEWER")).execute("{ carelessCustomerNames carelessNotes }")
        portal.call(http.aclose)
    assert body.get("errors") is None, body
    assert body["data"] == {"carelessCustomerNames": ["乙-customer"], "carelessNotes": ["乙-customer"]}  # resolver, hook
    assert run_jobs(gx, b)["careless.count"] == {"customers": ["乙-customer"], "notes": 1}  # job
    assert run_jobs(gx, a)["careless.count"] == {"customers": ["甲-customer"], "notes": 1}
    gx.engine.dispose()


async def _client(app):
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_the_application_role_refreshes_planner_statistics_on_postgresql(fresh_database_url):
    """Only a table's owner may ANALYZE it; the bulk paths' statistics refresh must not silently do nothing."""
    from engine.bulk import analyze
    from engine.testing import engine_on

    gx = engine_on(fresh_database_url)
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("table ownership is PostgreSQL's")
    slug = new_tenant(gx)
    with gx.tenant(slug) as ctx:
        for n in range(50):
            create_customer(ctx, {"name": f"顾客{n}"})
    with gx.tenant(slug) as ctx:
        analyze(ctx.session, ["customers"])
    with gx.system(write=False) as session:
        known = session.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'customers'")).scalar_one()
    assert known == 50
    gx.engine.dispose()
