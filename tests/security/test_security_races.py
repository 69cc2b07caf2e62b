"""Races an adversary can start: 20 requests at once that only one may win.
Each loser gets a payload error naming the field (CONFLICT for a value
already taken), never INTERNAL_SERVER_ERROR, never an error in the logs, and
the database holds exactly what the winner wrote.

PostgreSQL only: SQLite starts every write with BEGIN IMMEDIATE, so its
writers queue and each sees the one before (the services' own checks answer
there; tests/security/test_security_bounds.py covers that path).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
import sqlalchemy as sa

from engine.testing import new_key
from tests.security.conftest import new_key as tenant_key
from tests.security.conftest import new_tenant

RACERS = 20


@pytest.fixture(scope="module")
def pg(gx):
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): these races cannot happen there")
    return gx


@pytest.fixture(scope="module")
def shop(pg):
    _, tenant_id = new_tenant(pg)
    return tenant_id, tenant_key(pg, tenant_id, "ADMIN")


def race(client, key: str, query: str, variables: list[dict], field: str, captured_logs) -> list[dict]:
    """Send every request at once; each payload (no request-level error, no server error)."""
    results = client.post_many([(key, query, v) for v in variables], concurrency=len(variables))
    payloads = []
    for status, text, _ in results:
        assert status == 200, text
        body = json.loads(text)
        assert "errors" not in body, body
        payloads.append(body["data"][field])
    assert captured_logs.errors() == []
    assert captured_logs.leaked([key, *_strings(variables)]) == []
    return payloads


def _strings(value) -> list[str]:
    """Every string the requests sent (codes, names, phones): none may reach the logs."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in _strings(item)] if isinstance(value, list) else []


def _codes(payloads: list[dict]) -> Counter:
    return Counter(tuple((e["field"], e["code"]) for e in p["errors"]) for p in payloads)


def test_one_customer_code_one_winner(shop, sync_client, captured_logs, pg):
    tenant_id, key = shop
    code = f"race-{uuid.uuid4().hex[:8]}"
    query = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { field message code } } }"
    payloads = race(sync_client, key, query, [{"i": {"code": code, "name": f"racer {n}"}} for n in range(RACERS)],
                    "createCustomer", captured_logs)
    assert _codes(payloads) == Counter({(): 1, (("code", "CONFLICT"),): RACERS - 1}), payloads
    with pg.system(write=False) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customers WHERE tenant_id = :t AND code = :c"),
                            {"t": tenant_id, "c": code}).scalar_one() == 1


def test_one_customer_phone_one_winner(shop, sync_client, captured_logs):
    _, key = shop
    phone = f"+86139{str(uuid.uuid4().int)[:8]}"
    query = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { field message code } } }"
    payloads = race(sync_client, key, query, [{"i": {"phone": phone, "name": f"racer {n}"}} for n in range(RACERS)],
                    "createCustomer", captured_logs)
    assert _codes(payloads) == Counter({(): 1, (("phone", "CONFLICT"),): RACERS - 1}), payloads


def test_one_reward_code_one_winner(shop, sync_client, captured_logs):
    _, key = shop
    code = f"R{uuid.uuid4().hex[:8]}"
    query = "mutation($i: CreateRewardInput!) { createReward(input: $i) { errors { field message code } } }"
    reward = {"code": code, "nameZh": "券", "nameEn": "coupon", "kind": "COUPON", "pointsPrice": 10}
    payloads = race(sync_client, key, query, [{"i": reward} for _ in range(RACERS)], "createReward", captured_logs)
    assert _codes(payloads) == Counter({(): 1, (("code", "CONFLICT"),): RACERS - 1}), payloads


def test_one_tenant_slug_one_winner(pg, sync_client, captured_logs):
    key = new_key(pg, None, "PLATFORM")
    slug = f"race-{uuid.uuid4().hex[:8]}"
    query = "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { slug } errors { field message code } } }"
    payloads = race(sync_client, key, query, [{"i": {"slug": slug, "name": f"Racer {n}"}} for n in range(RACERS)],
                    "createTenant", captured_logs)
    assert _codes(payloads) == Counter({(): 1, (("slug", "CONFLICT"),): RACERS - 1}), payloads


def _customer(client, key: str) -> str:
    query = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { message } } }"
    return client.gql(key, query, {"i": {"name": "racer"}})["data"]["createCustomer"]["customer"]["id"]


RECORD = ("mutation($i: InteractionInput!) { recordInteraction(input: $i) { interaction { id } duplicate "
          "errors { field message code } } }")


def test_retries_with_one_external_id_store_it_once(shop, sync_client, captured_logs, pg):
    tenant_id, key = shop
    cid = _customer(sync_client, key)
    ext = f"order-{uuid.uuid4().hex[:8]}"
    item = {"customerId": cid, "kind": "PURCHASE", "occurredAt": "2025-05-01T10:00:00+08:00", "amount": "100.00", "externalId": ext}
    payloads = race(sync_client, key, RECORD, [{"i": item} for _ in range(RACERS)], "recordInteraction", captured_logs)
    assert [p["errors"] for p in payloads] == [[]] * RACERS, payloads
    assert Counter(p["duplicate"] for p in payloads) == Counter({False: 1, True: RACERS - 1})
    assert len({p["interaction"]["id"] for p in payloads}) == 1  # every retry names the one stored
    body = sync_client.gql(key, "query($id: ID!) { customer(id: $id) { totalSpent purchaseCount } }", {"id": cid})
    assert body["data"]["customer"] == {"totalSpent": "100.00", "purchaseCount": 1}


def test_concurrent_over_refunds_are_refused_on_the_amount(shop, sync_client, captured_logs):
    _, key = shop
    cid = _customer(sync_client, key)
    ext = f"order-{uuid.uuid4().hex[:8]}"
    purchase = {"customerId": cid, "kind": "PURCHASE", "occurredAt": "2025-05-01T10:00:00+08:00", "amount": "100.00", "externalId": ext}
    assert sync_client.gql(key, RECORD, {"i": purchase})["data"]["recordInteraction"]["errors"] == []
    refunds = [{"i": {"kind": "REFUND", "occurredAt": "2025-05-02T10:00:00+08:00", "amount": "60.00",
                      "reversesExternalId": ext, "externalId": f"{ext}-r{n}"}} for n in range(RACERS)]
    payloads = race(sync_client, key, RECORD, refunds, "recordInteraction", captured_logs)
    won = [p for p in payloads if not p["errors"]]
    assert len(won) == 1, payloads
    assert {e["field"] for p in payloads if p["errors"] for e in p["errors"]} == {"amount"}, payloads
    body = sync_client.gql(key, "query($id: ID!) { customer(id: $id) { totalSpent } }", {"id": cid})
    assert body["data"]["customer"]["totalSpent"] in ("100.00", "40.00")  # gross or net: one refund counted, never two
