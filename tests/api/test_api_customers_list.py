"""customers(): keyset pages walk every row once in order; filters combine with AND/OR."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.models import Customer
from engine.services.tenants import get_tenant

pytestmark = pytest.mark.anyio

WALK = """query($after: String, $o: CustomerOrder) { customers(first: 4, after: $after, orderBy: $o) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { name totalSpent purchaseCount lastPurchaseAt } } } }"""


@pytest.fixture
def seeded(gx, tenant):
    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with gx.system() as session:
        tid = get_tenant(session, tenant).id
        for i in range(11):
            session.add(Customer(
                tenant_id=tid, name=None if i % 5 == 0 else f"n{i % 4}", total_spent=Decimal(i % 3) * 100,
                purchase_count=i % 4, last_purchase_at=None if i % 3 == 0 else base + timedelta(days=i % 2),
                tags=["VIP"] if i % 2 else ["学生"], store="S1" if i < 5 else "S2",
            ))
    return tenant


@pytest.mark.parametrize("field", ["CREATED_AT", "TOTAL_SPENT", "PURCHASE_COUNT", "LAST_PURCHASE_AT", "NAME"])
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_pages_cover_every_row_once_in_order(api, seeded, field, direction):
    admin = api(seeded, "VIEWER")
    rows, after = [], None
    while True:
        body = await admin.gql(WALK, {"after": after, "o": {"field": field, "direction": direction}})
        page = body["data"]["customers"]
        rows += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(rows) == page["totalCount"] == 11
    key = {
        "CREATED_AT": None, "TOTAL_SPENT": lambda r: Decimal(r["totalSpent"]), "PURCHASE_COUNT": lambda r: r["purchaseCount"],
        "LAST_PURCHASE_AT": lambda r: r["lastPurchaseAt"] or "", "NAME": lambda r: r["name"] or "",
    }[field]
    if key:
        assert [key(r) for r in rows] == sorted((key(r) for r in rows), reverse=direction == "DESC")


async def test_filters(api, seeded):
    viewer = api(seeded, "VIEWER")

    async def count(where: dict, search: str | None = None) -> int:
        body = await viewer.gql("query($w: CustomerWhere, $s: String) { customers(where: $w, search: $s) { totalCount } }", {"w": where, "s": search})
        assert "errors" not in body, body
        return body["data"]["customers"]["totalCount"]

    assert await count({}) == 11
    assert await count({"tags": {"has": "VIP"}}) == 5
    assert await count({"tags": {"hasAny": ["VIP", "学生"]}}) == 11
    assert await count({"totalSpent": {"gte": "100"}}) == 7
    assert await count({"store": {"eq": "S1"}, "purchaseCount": {"gt": 0}}) == 3
    assert await count({"OR": [{"store": {"eq": "S1"}}, {"tags": {"has": "VIP"}}]}) == 8
    assert await count({"AND": [{"name": {"startsWith": "N"}}, {"name": {"contains": "1"}}]}) == 2
    assert await count({"lastPurchaseAt": {"gte": "2025-01-02T00:00:00Z"}}) == 3
    assert await count({"name": {"in": ["n1", "n2"]}}) == 4
    assert await count({}, search="n3") == 2


async def test_cors_preflight(gx, monkeypatch):
    import httpx

    from api.app import create_app
    from engine.config import Settings
    from engine.runtime import Guanxi

    monkeypatch.setenv("GUANXI_CORS_ORIGINS", "https://app.example.com")
    settings = Settings(database_url=gx.settings.database_url)  # GUANXI_CORS_ORIGINS read with the rest
    app = create_app(Guanxi(settings=settings, plugins=gx.plugins, engine=gx.engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.options("/graphql", headers={
            "origin": "https://app.example.com", "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type"})
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        response = await client.options("/graphql", headers={"origin": "https://evil.example", "access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in response.headers
