"""Bad input gets a clear error with a stable code, 4xx where the request is bad, never a 500."""

from __future__ import annotations

import pytest

from tests.api.conftest import codes

pytestmark = pytest.mark.anyio


@pytest.fixture
def admin(api, tenant):
    return api(tenant)


async def test_malformed_json_is_400(client, admin):
    response = await client.post("/graphql", content=b"{nope", headers={"Authorization": f"Bearer {admin.key}", "content-type": "application/json"})
    assert response.status_code == 400 and codes(response.json()) == ["BAD_REQUEST"]


async def test_oversized_body_is_413(client, admin):
    response = await client.post("/graphql", content=b"x" * 1_100_000, headers={"Authorization": f"Bearer {admin.key}"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "query, code",
    [
        ("{ customers { ", "GRAPHQL_PARSE_FAILED"),
        ("{ customers { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ customers(first: "ten") { totalCount } }', "GRAPHQL_VALIDATION_FAILED"),
        ("{ customers { edges { node { referrer { referrer { referrer { referrer { referrer { referrer { referrer { referrer { referrer { referrer { id } } } } } } } } } } } } } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ " + " ".join(f"a{i}: me {{ role {{ code }} }}" for i in range(40)) + " }", "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=["syntax", "unknown-field", "wrong-type", "too-deep", "too-many-aliases"],
)
async def test_invalid_queries_are_400(admin, query, code):
    response = await admin.post(query)
    assert response.status_code == 400 and codes(response.json())[0] == code


async def test_wrong_variable_type(admin):
    response = await admin.post("query($n: Int) { customers(first: $n) { totalCount } }", {"n": "many"})
    assert response.status_code == 400 and codes(response.json()) == ["BAD_USER_INPUT"]
    body = await admin.gql('{ customers(where: {createdAt: {gt: "2025-01-01T00:00:00"}}) { totalCount } }')
    assert codes(body) == ["BAD_USER_INPUT"] and "offset" in body["errors"][0]["message"]


async def test_page_size_cap(admin):
    body = await admin.gql("{ customers(first: 101) { totalCount } }")
    assert codes(body) == ["BAD_PAGE_SIZE"] and "100" in body["errors"][0]["message"]


async def test_tampered_cursor(admin):
    for i in range(3):
        await admin.gql('mutation($n: String) { createCustomer(input: {name: $n}) { errors { code } } }', {"n": f"c{i}"})
    page = await admin.gql("{ customers(first: 1) { pageInfo { endCursor hasNextPage } } }")
    cursor = page["data"]["customers"]["pageInfo"]["endCursor"]
    nxt = await admin.gql("query($c: String) { customers(first: 1, after: $c) { edges { node { name } } } }", {"c": cursor})
    assert "errors" not in nxt
    for bad in (cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), "garbage", "x." + cursor.split(".")[1]):
        body = await admin.gql("query($c: String) { customers(first: 1, after: $c) { totalCount } }", {"c": bad})
        assert codes(body) == ["BAD_CURSOR"]
    body = await admin.gql('query($c: String) { customers(first: 1, after: $c, orderBy: {field: NAME}) { totalCount } }', {"c": cursor})
    assert codes(body) == ["BAD_CURSOR"]


async def test_payload_errors_name_the_field(admin):
    body = await admin.gql('mutation { createCustomer(input: {email: "nope", phone: "12"}) { customer { id } errors { field code } } }')
    fields = {e["field"] for e in body["data"]["createCustomer"]["errors"]}
    assert fields == {"email", "phone"}
    # Coded values are enums: an unknown code is refused before anything runs, naming the enum.
    refused = await admin.post('mutation { createCustomer(input: {gender: FEMALEISH}) { errors { field } } }')
    assert refused.status_code == 400 and "Gender" in refused.json()["errors"][0]["message"]
    body = await admin.gql('mutation { configureModule(input: {name: "rfm", settings: {nope: 1}}) { errors { field code } } }')
    assert body["data"]["configureModule"]["errors"][0]["field"] == "settings.nope"
    # keys inside a JSON input are named as the client sent them (settings are snake_case)
    body = await admin.gql('mutation { configureModule(input: {name: "rfm", settings: '
                           '{window_days: 0, thresholds: {frequency: [5, 3, 8, 9]}}}) { errors { field code } } }')
    fields = {e["field"] for e in body["data"]["configureModule"]["errors"]}
    assert fields == {"settings.window_days", "settings.thresholds.frequency"}
    body = await admin.gql('mutation { enableModule(input: {name: "nope"}) { errors { field code } } }')
    assert body["data"]["enableModule"]["errors"] == [{"field": "name", "code": "NOT_FOUND"}]


async def test_bulk_per_item_errors_and_duplicates(admin):
    cid = (await admin.gql('mutation { createCustomer(input: {name: "Bulk"}) { customer { id } } }'))["data"]["createCustomer"]["customer"]["id"]
    items = [
        {"customerId": cid, "kind": "PURCHASE", "occurredAt": "2025-03-01T10:00:00Z", "amount": "10.50", "externalId": "o-1"},
        {"customerId": cid, "kind": "PURCHASE", "occurredAt": "2025-03-01T10:00:00Z", "amount": "10.50", "externalId": "o-1"},
        {"customerId": "bad-id", "kind": "VISIT", "occurredAt": "2025-03-01T10:00:00Z"},
        {"customerId": cid, "kind": "PURCHASE", "occurredAt": "2025-03-01T10:00:00Z"},  # a purchase needs an amount
    ]
    q = "mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) { recordedCount duplicates { index externalId } itemErrors { index field code } errors { code } } }"
    body = await admin.gql(q, {"i": {"items": items}})
    result = body["data"]["recordInteractions"]
    assert result["recordedCount"] == 1 and result["duplicates"] == [{"index": 1, "externalId": "o-1"}]
    assert [(e["index"], e["field"]) for e in result["itemErrors"]] == [(2, "customerId"), (3, "amount")]
    too_many = [{"customerId": cid, "kind": "VISIT", "occurredAt": "2025-03-01T10:00:00Z"}] * 1001
    body = await admin.gql(q, {"i": {"items": too_many}})
    assert body["data"]["recordInteractions"]["errors"] == [{"code": "TOO_MANY_ITEMS"}]
    spent = await admin.gql("query($id: ID!) { customer(id: $id) { totalSpent purchaseCount interactions { totalCount edges { node { amount kind { code } } } } } }", {"id": cid})
    assert spent["data"]["customer"]["totalSpent"] == "10.50"
    assert spent["data"]["customer"]["interactions"]["totalCount"] == 1


async def test_mutation_over_get_is_refused(client, admin):
    response = await client.get("/graphql", params={"query": 'mutation { createCustomer(input: {name: "g"}) { errors { code } } }'}, headers={"Authorization": f"Bearer {admin.key}"})
    assert response.status_code == 405
    response = await client.get("/graphql", params={"query": "{ me { role { code } } }"}, headers={"Authorization": f"Bearer {admin.key}"})
    assert response.json()["data"]["me"]["role"]["code"] == "ADMIN"


async def test_unexpected_errors_do_not_leak(admin, monkeypatch):
    from api import queries

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "customers_page", broken)
    response = await admin.post("{ customers { totalCount } }")
    assert response.status_code == 200
    body = response.json()
    assert codes(body) == ["INTERNAL_SERVER_ERROR"] and "secret" not in response.text
