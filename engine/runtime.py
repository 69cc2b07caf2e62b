"""The engine as one object: database, plugins, and tenant-scoped transactions.

The CLI, the API and tests all start here::

    gx = Guanxi()                       # GUANXI_DATABASE_URL, installed plugins
    gx.init_db()
    with gx.tenant("acme", actor="cli") as ctx:
        record_interaction(ctx, {...})   # committed when the block ends
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, Session, select

from engine import db
from engine.bulk import refresh_stale_statistics
from engine.config import Settings
from engine.context import TenantContext
from engine.errors import not_found
from engine.models import Tenant
from engine.plugins.manager import PluginManager, get_plugin_manager


class Guanxi:
    def __init__(self, settings: Settings | None = None, plugins: PluginManager | None = None, engine: Engine | None = None):
        self.settings = settings or Settings.from_env()
        self.plugins = plugins or get_plugin_manager()
        self.engine = engine or db.make_engine(self.settings)

    def init_db(self) -> None:
        """Create every core and plugin table, and index, that does not exist yet.

        ``create_all`` skips existing tables with their indexes; an index a
        release adds to an existing table is created here too. The query
        planner's statistics are refreshed where they are far behind.
        """
        self.plugins.all_models()  # importing the plugins' tables registers them
        SQLModel.metadata.create_all(self.engine)
        with self.engine.begin() as connection:
            for table in SQLModel.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(connection, checkfirst=True)
        with self.write() as session:
            refresh_stale_statistics(session, ("customers", "interactions"))

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        with db.write_session(self.engine) as session:
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with db.read_session(self.engine) as session:
            yield session

    @contextlib.contextmanager
    def tenant(self, tenant: str | int | Tenant, actor: str = "system", write: bool = True) -> Iterator[TenantContext]:
        """A TenantContext in one transaction (a write transaction unless ``write=False``)."""
        opener = self.write if write else self.read
        with opener() as session:
            yield TenantContext(tenant=self._tenant(session, tenant), session=session, plugins=self.plugins, actor=actor)

    def context(self, session: Session, tenant: str | int | Tenant, actor: str = "system") -> TenantContext:
        return TenantContext(tenant=self._tenant(session, tenant), session=session, plugins=self.plugins, actor=actor)

    @staticmethod
    def _tenant(session: Session, tenant: str | int | Tenant) -> Tenant:
        if isinstance(tenant, Tenant):
            return tenant
        if isinstance(tenant, int):
            found = session.get(Tenant, tenant)
        else:
            found = session.exec(select(Tenant).where(Tenant.slug == tenant)).first()
        if found is None:
            raise not_found("tenant", f"no tenant {tenant!r}")
        return found
