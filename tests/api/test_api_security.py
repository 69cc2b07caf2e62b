"""Auth, roles and tenant isolation, proved through HTTP."""

from __future__ import annotations

import pytest

from tests.api.conftest import codes

pytestmark = pytest.mark.anyio

CREATE = 'mutation { createCustomer(input: {name: "A"}) { customer { id } errors { code } } }'


async def test_missing_or_bad_key_is_401(client):
    response = await client.post("/graphql", json={"query": "{ me { role { code } } }"})
    assert response.status_code == 401 and codes(response.json()) == ["UNAUTHENTICATED"]
    response = await client.post("/graphql", json={"query": "{ me { role { code } } }"}, headers={"Authorization": "Bearer gx_nope"})
    assert response.status_code == 401 and codes(response.json()) == ["UNAUTHENTICATED"]


async def test_revoked_key_is_401(api, tenant):
    admin, viewer = api(tenant), api(tenant, "VIEWER")
    keys = (await admin.gql("{ apiKeys { id role { code } } }"))["data"]["apiKeys"]
    viewer_id = [k["id"] for k in keys if k["role"]["code"] == "VIEWER"][0]
    body = await admin.gql("mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } errors { code } } }", {"id": viewer_id})
    assert body["data"]["revokeApiKey"]["apiKey"]["revokedAt"]
    assert (await viewer.post("{ me { role { code } } }")).status_code == 401


@pytest.mark.parametrize("role", ["VIEWER", "ANALYST"])
async def test_readers_cannot_write(api, tenant, role):
    body = await api(tenant, role).gql(CREATE)
    assert body["data"] is None and codes(body) == ["FORBIDDEN"]
    body = await api(tenant, role).gql('mutation { enableModule(input: {name: "rfm"}) { errors { code } } }')
    assert codes(body) == ["FORBIDDEN"]


async def test_agent_writes_but_does_not_administer(api, tenant):
    agent = api(tenant, "AGENT")
    assert (await agent.gql(CREATE))["data"]["createCustomer"]["errors"] == []
    for query in ('mutation { enableModule(input: {name: "rfm"}) { errors { code } } }', "{ auditEvents { totalCount } }",
                  '{ modules { name settings } }', 'mutation { createApiKey(input: {role: ADMIN}) { secret } }'):
        body = await agent.gql(query)
        assert "FORBIDDEN" in codes(body), query
        assert "secret" not in str(body["data"] or {}).replace("'secret': None", "")


async def test_admin_of_a_cannot_touch_b(api, make_tenant):
    a, b = make_tenant(), make_tenant()
    admin_a, admin_b = api(a), api(b)
    b_id = (await admin_b.gql('mutation { createCustomer(input: {name: "B secret"}) { customer { id } } }'))["data"]["createCustomer"]["customer"]["id"]
    got = await admin_a.gql("query($id: ID!) { customer(id: $id) { name } node(id: $id) { id } }", {"id": b_id})
    assert got["data"] == {"customer": None, "node": None}
    listed = await admin_a.gql("{ customers(first: 100) { totalCount edges { node { name } } } }")
    assert "B secret" not in str(listed)
    for mutation in ("updateCustomer(input: {id: $id, name: \"x\"})", "eraseCustomer(input: {id: $id})"):
        body = await admin_a.gql(f"mutation($id: ID!) {{ {mutation} {{ customer {{ name }} errors {{ code }} }} }}", {"id": b_id})
        payload = next(iter(body["data"].values()))
        assert payload["customer"] is None and payload["errors"][0]["code"] == "NOT_FOUND"
    body = await admin_a.gql('mutation($id: ID!) { recordInteraction(input: {customerId: $id, kind: VISIT, occurredAt: "2025-01-01T10:00:00Z"}) { interaction { id } errors { code } } }', {"id": b_id})
    assert body["data"]["recordInteraction"]["errors"][0]["code"] == "NOT_FOUND"
    still = await admin_b.gql("query($id: ID!) { customer(id: $id) { name } }", {"id": b_id})
    assert still["data"]["customer"]["name"] == "B secret"


async def test_platform_key_manages_tenants_only(api, tenant):
    platform = api(None, "PLATFORM")
    body = await platform.gql('mutation { createTenant(input: {slug: "p-%s", name: "P"}) { tenant { slug } adminKey errors { code } } }' % tenant[-8:])
    assert body["data"]["createTenant"]["adminKey"].startswith("gx_")
    response = await platform.post("{ customers { totalCount } }")
    assert response.status_code == 400
    body = await api(tenant).post("{ tenants { slug } }")
    assert body.status_code == 400


async def test_mutations_leave_audit_events(api, tenant):
    admin = api(tenant)
    await admin.gql(CREATE)
    await admin.gql('mutation { enableModule(input: {name: "rfm"}) { errors { code } } }')
    body = await admin.gql("{ auditEvents(first: 10) { edges { node { action actor } } } }")
    actions = [e["node"]["action"] for e in body["data"]["auditEvents"]["edges"]]
    assert "customer.create" in actions and "module.enable" in actions
