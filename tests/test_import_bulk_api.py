"""Bulk ``recordInteractions`` and ``guanxi_validate_interactions``: every item's problem comes back with its index,
the good items are stored, whether the core or a plugin refuses an item."""

from __future__ import annotations

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from tests.import_support import customer, kinds, money

MUTATION = """mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) {
  recordedCount itemErrors { index field message code } errors { code } } }"""


def _items():
    return [
        {"customerCode": "A1", "kind": "PURCHASE", "occurredAt": "2026-03-01T10:00:00+08:00", "amount": "100.00"},
        {"customerCode": "A1", "kind": "COMPLAINT", "occurredAt": "2026-03-01T11:00:00+08:00", "payload": {"category": "WEATHER"}},
        {"customerCode": "A1", "kind": "PURCHASE", "occurredAt": "0001-01-01T00:00:00+08:00", "amount": "5.00"},
        {"customerCode": "A1", "kind": "PURCHASE", "occurredAt": "9999-12-31T23:59:59-12:00", "amount": "5.00"},
        {"customerCode": "A1", "kind": "FEEDBACK", "occurredAt": "2026-03-01T12:00:00+08:00", "payload": {"note": "好\u0000"}},
        {"customerCode": "A1", "kind": "COMPLAINT", "occurredAt": "2026-03-01T13:00:00+08:00", "payload": {"category": "SERVICE"}},
        {"customerCode": "A1", "kind": "PURCHASE", "occurredAt": "2026-03-02T10:00:00+08:00", "amount": "20.00"},
    ]


def test_record_interactions_lists_each_bad_item_by_index_and_stores_the_rest(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("complaints",))
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"code": "A1", "name": "秦岚"})
    body = graphql(tenant).execute(MUTATION, {"i": {"items": _items()}})
    result = body["data"]["recordInteractions"]
    assert result["errors"] is None or result["errors"] == []
    assert [(e["index"], e["field"]) for e in result["itemErrors"]] == [
        (1, "payload.category"), (2, "occurredAt"), (3, "occurredAt"), (4, "payload")]
    assert "WEATHER" in result["itemErrors"][0]["message"] and "SERVICE" in result["itemErrors"][0]["message"]
    assert result["recordedCount"] == 3
    assert kinds(gx, tenant, "A1") == {"PURCHASE": 2, "COMPLAINT": 1}
    assert money(customer(gx, tenant, "A1").total_spent) == money("120.00")


def test_a_plugin_refusing_an_item_leaves_the_service_batch_stored(gx, make_tenant):
    tenant = make_tenant(modules=("complaints",))
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"code": "A1"})
        result = record_interactions(ctx, [
            {"customer_code": "A1", "kind": "COMPLAINT", "occurred_at": "2026-03-01T11:00:00", "payload": {"category": "NOPE"}},
            {"customer_code": "A1", "kind": "COMPLAINT", "occurred_at": "2026-03-01T12:00:00", "payload": {"priority": "whenever"}},
            {"customer_code": "A1", "kind": "PURCHASE", "occurred_at": "2026-03-01T12:00:00", "amount": "9.90"},
        ])
    assert sorted(result.errors) == [0, 1] and result.recorded_indexes == [2]
    assert [e.field for e in result.errors[1]] == ["payload.priority"]
    # Without the module nothing checks complaint categories: the complaint is a plain fact.
    other = make_tenant()
    with gx.tenant(other) as ctx:
        create_customer(ctx, {"code": "A1"})
        result = record_interactions(ctx, [
            {"customer_code": "A1", "kind": "COMPLAINT", "occurred_at": "2026-03-01T11:00:00", "payload": {"category": "NOPE"}}])
    assert result.errors == {} and len(result.recorded) == 1
