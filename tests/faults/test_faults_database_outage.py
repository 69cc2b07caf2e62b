"""The database goes away mid-service and comes back: clear errors, then
normal service without a restart (PostgreSQL through a cuttable proxy)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.app import create_app
from engine.config import Settings
from engine.db import make_engine
from engine.runtime import Guanxi
from engine.services.keys import create_key
from engine.services.tenants import get_tenant

_spec = importlib.util.spec_from_file_location("tcp_proxy", Path(__file__).with_name("tcp_proxy.py"))
tcp_proxy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tcp_proxy)

QUERY = "{ customers(first: 5) { totalCount } }"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_database_outage_gives_clear_errors_then_service_resumes(gx, make_tenant, database_url):
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("an embedded SQLite file cannot go away")
    tenant = make_tenant()
    with gx.system() as session:
        key = create_key(session, get_tenant(session, tenant), "VIEWER").secret
    proxy = tcp_proxy.TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(database_url=proxied)
    app = create_app(Guanxi(settings=settings, plugins=gx.plugins, engine=make_engine(settings)))
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
                ok = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                assert ok.status_code == 200 and ok.json()["data"]["customers"]["totalCount"] == 0

                proxy.stop()
                down = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                assert down.status_code == 503
                assert down.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
                assert (await client.get("/readyz")).status_code == 503
                assert (await client.get("/healthz")).status_code == 200  # the process itself is fine

                proxy.start()  # same port: the database is back
                assert (await client.get("/readyz")).status_code == 200
                again = await client.post("/graphql", json={"query": QUERY}, headers=headers)
                assert again.status_code == 200, again.text
                assert again.json()["data"]["customers"]["totalCount"] == 0
    finally:
        proxy.stop()
