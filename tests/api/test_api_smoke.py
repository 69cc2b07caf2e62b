"""The app's basics: health, readiness, GraphiQL, request ids, the core flow."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id name tags totalSpent gender { code label(lang: EN) } } errors { field message code } } }"""


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status_code == 200 and response.headers["x-request-id"]


async def test_graphiql_in_a_browser(client):
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_request_id_is_echoed(client):
    response = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_create_then_read_customer(api, tenant):
    admin = api(tenant)
    body = await admin.gql(CREATE, {"input": {"name": "王芳", "tags": ["VIP"], "gender": "FEMALE", "email": "f@example.com"}})
    payload = body["data"]["createCustomer"]
    assert payload["errors"] == []
    customer = payload["customer"]
    assert customer["gender"] == {"code": "FEMALE", "label": "Female"} and customer["totalSpent"] == "0.00"
    got = await admin.gql("query($id: ID!) { customer(id: $id) { name } node(id: $id) { id ... on Customer { email } } }", {"id": customer["id"]})
    assert got["data"]["customer"]["name"] == "王芳"
    assert got["data"]["node"] == {"id": customer["id"], "email": "f@example.com"}


async def test_custom_attributes_round_trip_any_json_number_and_text(api, tenant):
    """Responses are rendered by orjson, which stops at 64-bit integers; such values still come back."""
    admin = api(tenant)
    attributes = {"会员卡": "金卡 ✨", "big": 2**70, "ratio": 1e-05, "nested": {"list": [1, None, True]}}
    body = await admin.gql("mutation($a: JSON) { createCustomer(input: {name: \"x\", attributes: $a}) { customer { id attributes } } }",
                           {"a": attributes})
    assert body["data"]["createCustomer"]["customer"]["attributes"] == attributes
    cid = body["data"]["createCustomer"]["customer"]["id"]
    got = await admin.gql("query($id: ID!) { customer(id: $id) { attributes } }", {"id": cid})
    assert got["data"]["customer"]["attributes"] == attributes


async def test_me_and_modules(api, make_tenant):
    slug = make_tenant(modules=("rfm",))
    body = await api(slug, "VIEWER").gql("{ me { tenant { slug currency } role { code } enabledModules } modules { name title(lang: EN) enabled } }")
    me = body["data"]["me"]
    assert me == {"tenant": {"slug": slug, "currency": "CNY"}, "role": {"code": "VIEWER"}, "enabledModules": ["rfm"]}
    modules = {m["name"]: m for m in body["data"]["modules"]}
    assert modules["rfm"]["enabled"] and not modules["clv"]["enabled"]


async def test_not_ready_without_a_database(gx):
    import httpx

    from api.app import create_app
    from engine.config import Settings
    from engine.runtime import Guanxi

    down = Guanxi(settings=Settings(database_url="sqlite:////nonexistent-dir/guanxi.db"), plugins=gx.plugins)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(down)), base_url="http://test") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503
        response = await client.post("/graphql", json={"query": "{ me { role { code } } }"}, headers={"Authorization": "Bearer gx_x"})
        assert response.status_code == 503 and response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
