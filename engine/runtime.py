"""The engine as one object: database, plugins, and tenant-scoped transactions.

The CLI, the API, the worker and tests all start here::

    gx = Guanxi()                       # GUANXI_DATABASE_URL, installed plugins
    gx.check_schema()                   # refuses a database behind the code (guanxi db upgrade)
    with gx.tenant("acme", actor="cli") as ctx:
        record_interaction(ctx, {...})   # committed when the block ends

Everything handed to services, plugins, resolvers and jobs is bound to one
tenant (``gx.tenant``, ``gx.tenant_session``: engine/tenancy.py).
``gx.system`` is the engine's own cross-tenant session (authentication,
tenants, the worker's schedule).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine import db
from engine.config import Settings
from engine.context import TenantContext
from engine.errors import not_found
from engine.models import Tenant
from engine.plugins.manager import PluginManager, get_plugin_manager
from engine.tenancy import SystemSession, TenantSession, system_role


class Guanxi:
    def __init__(self, settings: Settings | None = None, plugins: PluginManager | None = None, engine: Engine | None = None,
                 tenant_scoping: bool = True):
        """``tenant_scoping=False`` turns the tenant wall off (plain sessions,
        and on PostgreSQL the login role): for measuring its cost, never in service."""
        self.settings = settings or Settings.from_env()
        self.plugins = plugins or get_plugin_manager()
        self.tenant_scoping = tenant_scoping
        self.engine = engine or db.make_engine(self.settings, app_role=self.settings.db_app_role if tenant_scoping else None)
        self._writer = db.writing(self.engine)

    # -- schema ------------------------------------------------------------------
    def upgrade(self, revision: str = "heads"):
        """Bring the database to ``revision`` (default: every branch's head); see engine/migrations."""
        from engine.migrations import upgrade

        return upgrade(self, revision)

    def check_schema(self) -> None:
        """Raise SchemaNotCurrent when the database is not at the installed code's revisions."""
        from engine.migrations import check_current

        check_current(self)

    # -- sessions ----------------------------------------------------------------
    def _open(self, session_class, write: bool, **kwargs) -> Session:
        bind = self._writer if write else self.engine
        if not self.tenant_scoping:
            return Session(bind, expire_on_commit=False)
        return session_class(bind, expire_on_commit=False, **kwargs)

    @contextlib.contextmanager
    def system(self, write: bool = True) -> Iterator[Session]:
        """One cross-tenant transaction for the engine's own work (committed at the end)."""
        with db.transaction(self._open(SystemSession, write, db_role=system_role(self.settings.db_app_role))) as session:
            yield session

    @contextlib.contextmanager
    def tenant_session(self, tenant_id: int, write: bool = False) -> Iterator[Session]:
        """One transaction that sees and writes only ``tenant_id``'s rows."""
        with db.transaction(self._open(TenantSession, write, tenant_id=tenant_id)) as session:
            yield session

    @contextlib.contextmanager
    def tenant(self, tenant: str | int | Tenant, actor: str = "system", write: bool = True) -> Iterator[TenantContext]:
        """A TenantContext in one transaction (a write transaction unless ``write=False``)."""
        # A slug is looked up first; an id or row is checked by the tenant session itself.
        tenant_id = tenant if isinstance(tenant, int) else self.tenant_id(tenant)
        with self.tenant_session(tenant_id, write) as session:
            yield self.context(session, tenant if isinstance(tenant, Tenant) else tenant_id, actor)

    def context(self, session: Session, tenant: str | int | Tenant, actor: str = "system") -> TenantContext:
        """A TenantContext over an open tenant session (of that tenant)."""
        found = self._tenant(session, tenant)
        bound = getattr(session, "tenant_id", found.id)
        if bound != found.id:
            raise ValueError(f"a session bound to tenant {bound} cannot serve tenant {found.id}")
        return TenantContext(tenant=found, session=session, plugins=self.plugins, actor=actor)

    def tenant_id(self, tenant: str | int | Tenant) -> int:
        """The id of a tenant given by slug, id or row (NotFound when there is none)."""
        if isinstance(tenant, Tenant):
            return tenant.id
        with self.system(write=False) as session:
            return self._tenant(session, tenant).id

    @staticmethod
    def _tenant(session: Session, tenant: str | int | Tenant) -> Tenant:
        if isinstance(tenant, Tenant):
            return tenant  # loaded by the caller (the API's authenticated key)
        if isinstance(tenant, int):
            found = session.get(Tenant, tenant)
        else:
            found = session.exec(select(Tenant).where(Tenant.slug == tenant)).first()
        if found is None:
            raise not_found("tenant", f"no tenant {tenant!r}")
        return found
