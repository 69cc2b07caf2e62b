"""The database stops answering (a partition, a stopped server: the proxy
holds every byte, connections stay open): requests and /readyz answer 503
within their bounds instead of hanging, and service resumes by itself.
Also each bound on its own: statement, pool checkout."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.app import create_app
from engine.config import Settings
from engine.db import make_engine, make_migration_engine
from engine.runtime import Guanxi
from engine.services.keys import create_key
from engine.services.tenants import get_tenant

_spec = importlib.util.spec_from_file_location("tcp_proxy", Path(__file__).with_name("tcp_proxy.py"))
tcp_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tcp_proxy)

QUERY = "{ customers(first: 5) { totalCount } }"
pytestmark = pytest.mark.timeout(120)  # a regression hangs: fail it instead
STATEMENT_MS, RESPONSE_S, CONNECT_S = 1_000, 2.0, 2


@pytest.fixture
def anyio_backend():
    return "asyncio"


def postgres_only(database_url: str):
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("an embedded SQLite file cannot stop answering")
    return url


def key_for(gx, slug: str) -> str:
    with gx.system() as session:
        return create_key(session, get_tenant(session, slug), "VIEWER").secret


async def timed(call):
    start = time.monotonic()
    response = await call
    return response, time.monotonic() - start


@pytest.mark.anyio
async def test_a_frozen_database_gives_quick_503s_then_service_resumes(gx, make_tenant, database_url):
    url = postgres_only(database_url)
    headers = {"Authorization": f"Bearer {key_for(gx, make_tenant())}"}
    proxy = tcp_proxy.TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    settings = Settings(database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                        statement_timeout_ms=STATEMENT_MS, db_response_timeout_s=RESPONSE_S,
                        db_connect_timeout_s=CONNECT_S, db_pool_timeout_s=2, readiness_timeout_s=1)
    app = create_app(Guanxi(settings=settings, plugins=gx.plugins, engine=make_engine(settings)))
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as client:
                ok = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                assert ok.status_code == 200 and ok.json()["data"]["customers"]["totalCount"] == 0
                assert (await client.get("/readyz")).status_code == 200

                proxy.freeze()
                ready, waited = await timed(client.get("/readyz"))
                assert ready.status_code == 503 and waited < 3, (ready.status_code, waited)
                again, waited = await timed(client.get("/readyz"))  # the first ping is still stuck: no new one
                assert again.status_code == 503 and waited < 3

                # A pooled connection's ping waits RESPONSE_S, then a new one CONNECT_S.
                down, waited = await timed(client.post("/graphql", json={"query": QUERY}, headers=headers))
                assert down.status_code == 503, down.text
                assert down.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
                assert waited < RESPONSE_S + CONNECT_S + 3, waited
                exported, waited = await timed(client.get("/export/customers.csv", headers=headers))
                assert exported.status_code == 503, exported.text
                assert exported.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
                assert waited < RESPONSE_S + CONNECT_S + 3, waited
                assert (await client.get("/healthz")).status_code == 200  # the process itself is fine

                proxy.thaw()
                deadline = time.monotonic() + 15
                while (await client.get("/readyz")).status_code != 200:
                    assert time.monotonic() < deadline, "not ready again 15 s after the database came back"
                    await anyio.sleep(0.2)
                back = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                assert back.status_code == 200, back.text
                assert back.json()["data"]["customers"]["totalCount"] == 0
    finally:
        proxy.thaw()
        proxy.stop()


def test_a_statement_frozen_mid_flight_fails_within_the_response_timeout(database_url):
    url = postgres_only(database_url)
    proxy = tcp_proxy.TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    settings = Settings(database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                        statement_timeout_ms=STATEMENT_MS, db_response_timeout_s=RESPONSE_S)
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            proxy.freeze()
            start = time.monotonic()
            with pytest.raises(sa.exc.OperationalError, match="did not answer within 2 s"):
                connection.execute(sa.text("SELECT 2"))
            assert time.monotonic() - start < RESPONSE_S + 1.5
        proxy.thaw()
        with engine.connect() as connection:  # the dead connection was dropped, not handed out again
            assert connection.execute(sa.text("SELECT 3")).scalar() == 3
    finally:
        proxy.thaw()
        proxy.stop()
        engine.dispose()


def test_statements_are_cancelled_by_the_server_after_the_statement_timeout(database_url):
    postgres_only(database_url)
    engine = make_engine(Settings(database_url=database_url, statement_timeout_ms=300))
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "300ms"
            with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
                connection.execute(sa.text("SELECT pg_sleep(2)"))
        with engine.connect() as connection:  # cancelled, not broken: the connection serves again
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
    # Migrations may rewrite large tables: their engine has no statement timeout.
    migrations = make_migration_engine(Settings(database_url=database_url, statement_timeout_ms=300))
    try:
        with migrations.connect() as connection:
            assert connection.execute(sa.text("SHOW statement_timeout")).scalar() == "0"
    finally:
        migrations.dispose()


@pytest.mark.anyio
async def test_no_free_connection_answers_503_after_the_pool_timeout(gx, make_tenant, database_url):
    """Every connection busy: a request waits GUANXI_DB_POOL_TIMEOUT_S, then DATABASE_UNAVAILABLE (not a 500)."""
    headers = {"Authorization": f"Bearer {key_for(gx, make_tenant())}"}
    settings = Settings(database_url=database_url, db_pool_size=1, db_pool_timeout_s=0.5)
    engine = make_engine(settings)
    app = create_app(Guanxi(settings=settings, plugins=gx.plugins, engine=engine))
    held = [engine.connect() for _ in range(2)]  # the pool and its overflow
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as client:
            response, waited = await timed(client.post("/graphql", json={"query": QUERY}, headers=headers))
            assert response.status_code == 503, response.text
            assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
            assert waited < 5
            for connection in held:
                connection.close()
            held.clear()
            response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
            assert response.status_code == 200 and response.json()["data"]["customers"]["totalCount"] == 0
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
