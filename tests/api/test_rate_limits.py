"""Per-key rate limits (api/rate_limits.py) through the real app: counted in a
store two app instances share (the database, or Redis when reachable), 429
with Retry-After past the limit, open again in the next minute. The clock is
the test's own, so nothing sleeps."""

from __future__ import annotations

import random
import socket
import contextlib

import httpx
import pytest

from api.app import create_app
from engine.config import Settings, SettingsError
from engine.runtime import Guanxi
from tests.api.conftest import codes

pytestmark = pytest.mark.anyio

QUERY = "{ me { role { code } } }"
REDIS_URL = "redis://127.0.0.1:6379/15"


class Clock:
    """Unix time standing still until moved; each test starts at its own
    far-away minute, so counters of other runs sharing a store never meet."""

    def __init__(self):
        self.now = random.randrange(10**8, 10**9) * 60 + 10.0  # 10 s into a minute

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextlib.asynccontextmanager
async def app_client(gx, clock, **settings):
    """An app of its own (own engine, own limiter) on the test database, with ``settings``."""
    engine = Guanxi(settings=gx.settings.model_copy(update=settings), plugins=gx.plugins)
    app = create_app(engine)
    app.state.rate_limits.clock = clock
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client
    finally:
        app.state.rate_limits.close()
        engine.engine.dispose()


async def ask(client: httpx.AsyncClient, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.post("/graphql", json={"query": QUERY}, headers=headers)


def redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
    except Exception:  # not installed, not running: the Redis case is skipped
        return False


STORES = [pytest.param({}, id="database"),
          pytest.param({"redis_url": REDIS_URL}, id="redis",
                       marks=pytest.mark.skipif(not redis_reachable(), reason="no Redis on 127.0.0.1:6379"))]


@pytest.mark.parametrize("store", STORES)
async def test_a_key_limit_holds_across_two_apps_and_reopens_next_minute(gx, tenant, make_key, store):
    clock = Clock()
    key = make_key(tenant, "VIEWER")
    async with app_client(gx, clock, rate_limits="viewer=3", **store) as one, \
            app_client(gx, clock, rate_limits="viewer=3", **store) as two:
        served = [await ask(client, key) for client in (one, two, one)]
        assert [r.status_code for r in served] == [200, 200, 200]
        assert [r.headers["X-RateLimit-Remaining"] for r in served] == ["2", "1", "0"]
        for client in (two, one):  # the fourth request, on either app, is over the limit
            refused = await ask(client, key)
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "50"
            assert codes(refused.json()) == ["RATE_LIMITED"]
            assert refused.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "limit": 3, "retryAfter": 50}
        other = make_key(tenant, "VIEWER")  # another key has its own count
        assert (await ask(one, other)).status_code == 200
        clock.advance(49)
        assert (await ask(two, key)).headers["Retry-After"] == "1"
        clock.advance(1)  # the next minute
        again = await ask(two, key)
        assert again.status_code == 200, again.text
        assert again.json()["data"]["me"]["role"]["code"] == "VIEWER"


async def test_limits_differ_by_role(gx, tenant, make_key):
    clock = Clock()
    async with app_client(gx, clock, rate_limits="viewer=2,admin=4") as client:
        viewer, admin = make_key(tenant, "VIEWER"), make_key(tenant, "ADMIN")
        assert [(await ask(client, viewer)).status_code for _ in range(3)] == [200, 200, 429]
        assert [(await ask(client, admin)).status_code for _ in range(5)] == [200, 200, 200, 200, 429]


async def test_platform_keys_are_limited_too(gx, make_key):
    clock = Clock()
    async with app_client(gx, clock, rate_limits="platform=1") as client:
        key = make_key(None, "PLATFORM")
        assert (await client.post("/graphql", json={"query": "{ tenants { slug } }"},
                                  headers={"Authorization": f"Bearer {key}"})).status_code == 200
        assert (await client.post("/graphql", json={"query": "{ tenants { slug } }"},
                                  headers={"Authorization": f"Bearer {key}"})).status_code == 429


async def test_an_unlimited_role_is_not_counted(gx, tenant, make_key):
    clock = Clock()
    async with app_client(gx, clock, rate_limits="viewer=0") as client:
        key = make_key(tenant, "VIEWER")
        responses = [await ask(client, key) for _ in range(5)]
        assert all(r.status_code == 200 and "X-RateLimit-Limit" not in r.headers for r in responses)


async def test_requests_without_a_valid_key_are_limited_per_address(gx, tenant, make_key):
    clock = Clock()
    async with app_client(gx, clock, rate_limit_anonymous=2) as client:
        assert (await ask(client, None)).status_code == 401
        assert (await ask(client, "gx_not_a_key")).status_code == 401
        refused = await ask(client, "gx_still_guessing")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "50"
        assert codes(refused.json()) == ["RATE_LIMITED"]
        assert (await ask(client, None)).status_code == 429
        # A real key from the same address is still served.
        assert (await ask(client, make_key(tenant, "VIEWER"))).status_code == 200
        clock.advance(50)
        assert (await ask(client, None)).status_code == 401


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_store_that_does_not_answer_lets_requests_through(gx, tenant, make_key, caplog):
    clock = Clock()
    async with app_client(gx, clock, rate_limits="viewer=1", redis_url=f"redis://127.0.0.1:{_closed_port()}/0") as client:
        key = make_key(tenant, "VIEWER")
        assert [(await ask(client, key)).status_code for _ in range(3)] == [200, 200, 200]
    assert "rate limit not counted: Redis did not answer" in caplog.text


def test_bad_limits_are_refused_naming_the_setting(database_url):
    with pytest.raises(SettingsError, match="GUANXI_RATE_LIMITS: expected role=number, got 'viewer=many'"):
        Settings(database_url=database_url, rate_limits="viewer=many")
    with pytest.raises(SettingsError, match="GUANXI_QUERY_COST_BUDGETS: unknown value 'owner'"):
        Settings(database_url=database_url, query_cost_budgets="owner=5")
