"""Customer.loyalty, loyaltyProgram and the loyalty mutations through the real ASGI app."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from api.app import create_app
from api.ids import to_global_id
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.services.keys import create_key
from engine.services.tenants import get_tenant
from engine.types import utcnow
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

CUSTOMER = """query($id: ID!) { node(id: $id) { ... on Customer { loyalty {
  memberNumber status points pointsExpiringSoon(days: 400) tier { code label(lang: EN) benefits { discountPercent } }
  nextTier { code remainingToQualify } ledger(first: 1) { edges { cursor node { kind points rule } } pageInfo { hasNextPage endCursor } }
  tierHistory { fromTier toTier } } } } }"""
REDEEM = """mutation($input: RedeemPointsInput!) { redeemPoints(input: $input) {
  redemption { points balance value replayed } errors { field message code } } }"""
ADJUST = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { redemption { balance } errors { field code } } }"""
PROGRAM = """{ loyaltyProgram { membersPerTier { tier { code } members } pointsOutstanding liability
  pointsExpiring30Days redemptionRate } }"""


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def app(gx):
    return create_app(gx)


def key(gx, slug, role):
    with gx.system() as session:
        return create_key(session, get_tenant(session, slug), role, "test", actor="test").secret


async def test_customer_loyalty_and_mutations(gx, app, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "Li"}).id
        record_interaction(ctx, {"customer_id": cid, "kind": "PURCHASE", "amount": "2500",
                                 "occurred_at": utcnow() - timedelta(days=2)})
    gid = to_global_id("Customer", cid)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        agent = Api(client, key(gx, tenant, "AGENT"))
        body = await agent.gql(CUSTOMER, {"id": gid})
        assert "errors" not in body, body
        loyalty = body["data"]["node"]["loyalty"]
        assert loyalty["points"] == 2500 and loyalty["pointsExpiringSoon"] == 2500
        assert loyalty["tier"] == {"code": "SILVER", "label": "Silver", "benefits": {"discountPercent": "2"}}
        assert loyalty["nextTier"] == {"code": "GOLD", "remainingToQualify": "7500.00"}
        assert loyalty["ledger"]["edges"][0]["node"] == {"kind": "EARN", "points": 2500, "rule": "PURCHASE"}
        assert loyalty["tierHistory"] == [{"fromTier": None, "toTier": "MEMBER"}, {"fromTier": "MEMBER", "toTier": "SILVER"}]

        ok = await agent.gql(REDEEM, {"input": {"customerId": gid, "points": 500, "orderAmount": "100", "idempotencyKey": "a"}})
        assert ok["data"]["redeemPoints"] == {"redemption": {"points": 500, "balance": 2000, "value": "5.00",
                                                             "replayed": False}, "errors": []}
        again = await agent.gql(REDEEM, {"input": {"customerId": gid, "points": 500, "orderAmount": "100", "idempotencyKey": "a"}})
        assert again["data"]["redeemPoints"]["redemption"]["replayed"] is True
        bad = await agent.gql(REDEEM, {"input": {"customerId": gid, "points": 5000, "orderAmount": "100000"}})
        assert bad["data"]["redeemPoints"]["redemption"] is None
        assert bad["data"]["redeemPoints"]["errors"][0]["field"] == "points"

        refused = await agent.post(ADJUST, {"input": {"customerId": gid, "points": 10, "reason": "x"}})
        assert "errors" in refused.json()  # admin only
        admin = Api(client, key(gx, tenant, "ADMIN"))
        no_reason = await admin.gql(ADJUST, {"input": {"customerId": gid, "points": 10, "reason": ""}})
        assert no_reason["data"]["adjustPoints"]["errors"] == [{"field": "reason", "code": "INVALID"}]
        program = (await admin.gql(PROGRAM))["data"]["loyaltyProgram"]
        assert program["pointsOutstanding"] == 2000 and program["liability"] == "20.00"
        assert {"tier": {"code": "SILVER"}, "members": 1} in program["membersPerTier"]


async def test_tenants_without_loyalty_do_not_see_it(gx, app, make_tenant):
    tenant = make_tenant()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await Api(client, key(gx, tenant, "ADMIN")).post(PROGRAM)
        assert response.status_code == 400 and "loyaltyProgram" in response.text


async def test_fifty_concurrent_redemptions_through_http_never_overdraw(gx, app, make_tenant):
    """50 redeemPoints requests at once at one member, through the ASGI app
    (each runs in its own worker thread and transaction): exactly as many
    succeed as the balance allows, the rest are refused, nothing is applied twice."""
    import asyncio

    from plugins.loyalty import service

    tenant = make_tenant(modules=("loyalty",))
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "busy"}).id
        service.enroll(ctx, cid)
        service.adjust_points(ctx, cid, 1000, "opening balance", at=utcnow() - timedelta(days=1))
    gid = to_global_id("Customer", cid)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        agent = Api(client, key(gx, tenant, "AGENT"))
        bodies = await asyncio.gather(*(
            agent.gql(REDEEM, {"input": {"customerId": gid, "points": 30, "orderAmount": "100", "idempotencyKey": f"k{n}"}})
            for n in range(50)
        ))
        payloads = [b["data"]["redeemPoints"] for b in bodies]
        # A retry of an applied request changes nothing.
        applied = next(n for n, p in enumerate(payloads) if p["redemption"])
        replay = await agent.gql(REDEEM, {"input": {"customerId": gid, "points": 30, "orderAmount": "100",
                                                    "idempotencyKey": f"k{applied}"}})
    ok = [p for p in payloads if p["redemption"]]
    refused = [p for p in payloads if p["errors"]]
    assert (len(ok), len(refused)) == (33, 17)
    assert {e["code"] for p in refused for e in p["errors"]} == {"INSUFFICIENT_POINTS"}
    assert sorted(p["redemption"]["balance"] for p in ok) == list(range(10, 1000, 30))
    assert replay["data"]["redeemPoints"]["redemption"]["replayed"] is True
    with gx.tenant(tenant, write=False) as ctx:
        assert service.get_member(ctx, cid).balance == 10


async def test_a_ledger_entry_is_a_node_of_its_tenant_only(gx, app, make_tenant):
    """Relay: the id a ledger page hands out resolves through node(id), and never for another tenant."""
    tenant, other = make_tenant(modules=("loyalty",)), make_tenant(modules=("loyalty",))
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "Li"}).id
        record_interaction(ctx, {"customer_id": cid, "kind": "PURCHASE", "amount": "120",
                                 "occurred_at": utcnow() - timedelta(days=1)})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        viewer = Api(client, key(gx, tenant, "VIEWER"))
        page = await viewer.gql("query($id: ID!) { node(id: $id) { ... on Customer { loyalty { ledger { edges { node { id points } } } } } } }",
                                {"id": to_global_id("Customer", cid)})
        entry = page["data"]["node"]["loyalty"]["ledger"]["edges"][0]["node"]
        node = "query($id: ID!) { node(id: $id) { id ... on LoyaltyLedgerEntry { kind points rule } } }"
        body = await viewer.gql(node, {"id": entry["id"]})
        assert body["data"]["node"] == {"id": entry["id"], "kind": "EARN", "points": 120, "rule": "PURCHASE"}
        stranger = await Api(client, key(gx, other, "ADMIN")).gql(node, {"id": entry["id"]})
        assert stranger["data"]["node"] is None and "errors" not in stranger
