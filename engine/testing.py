"""The plugin author's test kit: a pytest plugin, installed with Guanxi
(entry point ``pytest11``), so a plugin's own tests get the real engine
without copying fixtures.

Fixtures (every database fixture runs on SQLite, and again on PostgreSQL
when ``GUANXI_TEST_DATABASE_URL`` is set):

- ``database_url``: the session's test database (migrated by ``gx``).
- ``gx``: the engine with every installed plugin, the database upgraded to
  every branch's head (the core's and each plugin's migrations).
- ``make_tenant(modules=(...))`` / ``tenant``: a fresh tenant (its slug), with
  the chosen modules enabled (and what they depend on).
- ``make_key(slug, role)``: an API key secret for a tenant (``None``: a platform key).
- ``graphql(slug, role="ADMIN")``: a synchronous GraphQL client on the real
  ASGI app (``.execute(query, variables)`` returns the JSON body).
- ``app``, ``client``, ``api(slug, role)``: the same, for async tests (anyio).
- ``fresh_database_url``: an empty database of its own (a new SQLite file or
  PostgreSQL database, dropped after), for tests that register extra plugins
  and migrations; ``engine_on(url, plugins)`` builds and upgrades an engine on it.
  ``fresh_database(url, folder)`` is the same as a context manager.
- Jobs: ``FakeClock`` to inject into ``engine.worker.Worker(gx, clock=...)``
  (what is due, without sleeping); ``run_queued_jobs(gx)`` runs QUEUED runs
  in the calling thread; ``wait_for_job_run(gx, run_id)`` waits for a run
  (running it here if nobody has); the GraphQL clients' ``wait_for_job(id)``
  polls ``jobRun(id:)`` as a front-end would, until SUCCEEDED or FAILED.

Tests isolate themselves the way the product does: each makes its own tenants.
The kit sets ``GUANXI_SECRET_KEY`` (a fixed test key) unless the environment
has one, since the API refuses to start on PostgreSQL without it; servers a
test spawns inherit it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import anyio.from_thread
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from engine.config import Settings
from engine.db import normalise_url
from engine.plugins.manager import PluginManager, get_plugin_manager
from engine.runtime import Guanxi

TEST_DATABASE_ENV = "GUANXI_TEST_DATABASE_URL"
TEST_SECRET_KEY = "guanxi-test-key-not-for-production-0123456789"
_counter = itertools.count(1)


def pytest_configure(config) -> None:
    os.environ.setdefault("GUANXI_SECRET_KEY", TEST_SECRET_KEY)


def backends() -> list[str]:
    return ["sqlite"] + (["postgres"] if os.environ.get(TEST_DATABASE_ENV) else [])


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


def engine_on(database_url: str, plugins: PluginManager | None = None, upgrade: bool = True) -> Guanxi:
    """An engine on ``database_url`` with ``plugins`` (default: the installed
    ones), upgraded to every branch's head."""
    gx = Guanxi(settings=Settings(database_url=database_url), plugins=plugins or get_plugin_manager())
    if upgrade:
        gx.upgrade()
    return gx


def new_tenant(gx: Guanxi, modules: Iterable[str] = (), timezone: str = "Asia/Shanghai", currency: str = "CNY",
               slug: str | None = None) -> str:
    """Create a tenant with ``modules`` enabled; returns its slug."""
    from engine.services.modules import set_enabled
    from engine.services.tenants import create_tenant

    slug = slug or unique_slug()
    with gx.system() as session:
        tenant = create_tenant(session, slug, f"Tenant {slug}", currency, timezone, "zh-CN", actor="test")
        for name in modules:
            set_enabled(session, gx.plugins, tenant.id, name, True, actor="test")
    return slug


def new_key(gx: Guanxi, slug: str | None, role: str = "ADMIN") -> str:
    """An API key secret for the tenant ``slug`` (None: a platform key)."""
    from engine.services.keys import create_key
    from engine.services.tenants import get_tenant

    with gx.system() as session:
        return create_key(session, get_tenant(session, slug) if slug else None, role, "test", actor="test").secret


# -- jobs ------------------------------------------------------------------------------

JOB_WAIT_SECONDS = 300.0  # a bound against hanging, not a speed check


class FakeClock:
    """A clock for ``Worker(gx, clock=...)``: stands still until moved."""

    def __init__(self, start: datetime | None = None):
        from engine.types import utcnow

        self.now = start or utcnow()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta) -> datetime:
        """``advance(minutes=61)``: move on by a timedelta's arguments."""
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


def run_queued_jobs(gx: Guanxi, tenants: Iterable[str | int] | None = None) -> list:
    """Run the QUEUED runs (of ``tenants``, default all) in the calling thread, as a worker would."""
    from engine.worker import Worker

    return Worker(gx, schedule=False, tenants=tenants, keep_days=None).run_once()


def wait_for_job_run(gx: Guanxi, run_id: int | str, timeout: float = JOB_WAIT_SECONDS):
    """The run (an int id or a JobRun global id) once it SUCCEEDED or FAILED.
    While it is QUEUED and nobody has taken it, it runs here."""
    from api.ids import decode_id
    from engine.job_models import JobRun
    from engine.job_runs import is_finished

    pk = run_id if isinstance(run_id, int) else decode_id(run_id, "JobRun")
    deadline = time.monotonic() + timeout
    while True:
        with gx.system(write=False) as session:
            run = session.get(JobRun, pk)
        if run is None:
            raise LookupError(f"no job run {run_id!r}")
        if is_finished(run):
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"job run {pk} ({run.job}) still {run.status} after {timeout:.0f} s")
        run_queued_jobs(gx, tenants=[run.tenant_id])
        time.sleep(0.05)


JOB_RUN_QUERY = """query($id: ID!) { jobRun(id: $id) { id job status trigger params result error startedAt finishedAt
  reports { module scored unscored details warnings } } }"""
FINISHED_STATUSES = ("SUCCEEDED", "FAILED")


# -- databases -------------------------------------------------------------------------


@pytest.fixture(scope="session", params=backends())
def database_url(request, tmp_path_factory) -> str:
    if request.param == "postgres":
        return os.environ[TEST_DATABASE_ENV]
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'guanxi-test.db'}"


@pytest.fixture(scope="session")
def gx(database_url) -> Iterator[Guanxi]:
    """The engine with the installed plugins, on the (upgraded) test database."""
    engine = engine_on(database_url)
    yield engine
    engine.engine.dispose()


@contextlib.contextmanager
def fresh_database(like_url: str, folder: Path) -> Iterator[str]:
    """An empty database on the backend of ``like_url``: a new SQLite file in
    ``folder``, or a new PostgreSQL database on the same server, dropped after."""
    url = make_url(normalise_url(like_url))
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / 'fresh.db'}"
        return
    name = f"guanxi_fresh_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def fresh_database_url(database_url, tmp_path) -> Iterator[str]:
    """An empty database of this test's own, on the same backend as ``database_url``."""
    with fresh_database(database_url, tmp_path) as url:
        yield url


# -- tenants and keys --------------------------------------------------------------------


@pytest.fixture
def make_tenant(gx):
    """``make_tenant(modules=("rfm",), timezone=..., currency=...)``: a fresh tenant's slug."""

    def make(modules: tuple[str, ...] = (), timezone: str = "Asia/Shanghai", currency: str = "CNY") -> str:
        return new_tenant(gx, modules, timezone, currency)

    return make


@pytest.fixture
def tenant(make_tenant) -> str:
    return make_tenant()


@pytest.fixture
def make_key(gx):
    """``make_key(slug, role)``: an API key secret (``slug=None``: a platform key)."""

    def make(slug: str | None, role: str) -> str:
        return new_key(gx, slug, role)

    return make


# -- the API -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def app(gx):
    from api.app import create_app

    return create_app(gx)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


class Api:
    """An async GraphQL client with one key."""

    def __init__(self, client: httpx.AsyncClient, key: str | None):
        self.client, self.key = client, key

    async def post(self, query: str, variables: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def gql(self, query: str, variables: dict | None = None) -> dict:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for_job(self, run_id: str, timeout: float = JOB_WAIT_SECONDS) -> dict:
        """Poll ``jobRun(id:)`` until the run SUCCEEDED or FAILED; returns the run."""
        import anyio

        deadline = time.monotonic() + timeout
        while True:
            body = await self.gql(JOB_RUN_QUERY, {"id": run_id})
            run = (body.get("data") or {}).get("jobRun")
            assert run is not None, body
            if run["status"] in FINISHED_STATUSES:
                return run
            assert time.monotonic() < deadline, f"job run {run_id} still {run['status']} after {timeout:.0f} s"
            await anyio.sleep(0.05)


@pytest.fixture
def api(client, make_key):
    """``api(slug, role="ADMIN")``: an async client (``await .gql(query, variables)``)."""

    def make(slug: str | None, role: str = "ADMIN") -> Api:
        return Api(client, make_key(slug, role))

    return make


class GraphQLClient:
    """A synchronous GraphQL client with one key, on the ASGI app."""

    def __init__(self, portal, client: httpx.AsyncClient, key: str | None):
        self.portal, self.client, self.key = portal, client, key

    def post(self, query: str, variables: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        body = {"query": query, "variables": variables or {}}
        return self.portal.call(lambda: self.client.post("/graphql", json=body, headers=headers))

    def execute(self, query: str, variables: dict | None = None) -> dict:
        """The response body (``{"data": ..., "errors": [...]}``); fails the test on a non-200 status."""
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_job(self, run_id: str, timeout: float = JOB_WAIT_SECONDS) -> dict:
        """Poll ``jobRun(id:)`` until the run SUCCEEDED or FAILED; returns the run."""
        deadline = time.monotonic() + timeout
        while True:
            run = (self.execute(JOB_RUN_QUERY, {"id": run_id}).get("data") or {}).get("jobRun")
            assert run is not None, f"job run {run_id} not found"
            if run["status"] in FINISHED_STATUSES:
                return run
            assert time.monotonic() < deadline, f"job run {run_id} still {run['status']} after {timeout:.0f} s"
            time.sleep(0.05)


@pytest.fixture(scope="session")
def _guanxi_portal():
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        yield portal


@pytest.fixture(scope="session")
def _guanxi_sync_http(_guanxi_portal, app):
    async def make():
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=60)

    client = _guanxi_portal.call(make)
    yield client
    _guanxi_portal.call(client.aclose)


@pytest.fixture
def graphql(_guanxi_portal, _guanxi_sync_http, gx):
    """``graphql(slug, role="ADMIN")``: a synchronous client (``.execute(query, variables)``)."""

    def make(slug: str | None, role: str = "ADMIN") -> GraphQLClient:
        return GraphQLClient(_guanxi_portal, _guanxi_sync_http, new_key(gx, slug, role))

    return make
