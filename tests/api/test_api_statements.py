"""A page of customers costs a constant number of SQL statements (DataLoaders)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

pytestmark = pytest.mark.anyio

PAGE = """query($n: Int) { customers(first: $n) { totalCount edges { cursor node {
  id name totalSpent gender { code label } referrer { id name }
  interactions(first: 3) { totalCount edges { node { id kind { code } customer { id } } } } } } } }"""


async def _statements(gx, api, n: int) -> int:
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(gx.engine, "before_cursor_execute", count)
    try:
        body = await api.gql(PAGE, {"n": n})
    finally:
        event.remove(gx.engine, "before_cursor_execute", count)
    assert "errors" not in body and len(body["data"]["customers"]["edges"]) == n
    return len(seen)


async def test_statements_per_page_are_constant(gx, api, tenant):
    admin = api(tenant)
    items = []
    first = None
    for i in range(50):
        body = await admin.gql("mutation($r: ID) { createCustomer(input: {name: \"c\", referrerId: $r}) { customer { id } } }", {"r": first})
        cid = body["data"]["createCustomer"]["customer"]["id"]
        first = first or cid
        items.append({"customerId": cid, "kind": "VISIT", "occurredAt": "2025-01-01T10:00:00Z"})
    await admin.gql("mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) { recordedCount } }", {"i": {"items": items}})
    small, large = await _statements(gx, admin, 10), await _statements(gx, admin, 50)
    assert small == large, (small, large)
    # auth 4, page 3, four loaders 2 each (BEGIN included on SQLite); on PostgreSQL each of the
    # request's five transactions also sets its time budget (api/statement_budget.py)
    assert large <= 16 + (5 if gx.engine.dialect.name == "postgresql" else 0)


async def test_database_work_never_runs_on_the_event_loop(gx, api, tenant):
    import threading

    admin = api(tenant)
    loop_thread = threading.get_ident()
    threads = []
    listener = lambda *args: threads.append(threading.get_ident())  # noqa: E731
    event.listen(gx.engine, "before_cursor_execute", listener)
    try:
        await admin.gql('mutation { createCustomer(input: {name: "t"}) { errors { code } } }')
        await admin.gql(PAGE, {"n": 5})
    finally:
        event.remove(gx.engine, "before_cursor_execute", listener)
    assert threads and loop_thread not in threads
