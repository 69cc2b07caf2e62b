"""The real app on the test database, reached through httpx's ASGI transport."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from engine.services.keys import create_key
from engine.services.tenants import get_tenant


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def app(gx):
    return create_app(gx)


@pytest.fixture
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


@pytest.fixture
def make_key(gx):
    """An API key secret for a tenant slug (None for a platform key)."""

    def make(slug: str | None, role: str) -> str:
        with gx.write() as session:
            return create_key(session, get_tenant(session, slug) if slug else None, role, "test", actor="test").secret

    return make


class Api:
    def __init__(self, client: httpx.AsyncClient, key: str | None):
        self.client, self.key = client, key

    async def post(self, query: str, variables: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def gql(self, query: str, variables: dict | None = None) -> dict:
        response = await self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(client, make_key):
    def make(slug: str | None, role: str = "ADMIN") -> Api:
        return Api(client, make_key(slug, role))

    return make


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
