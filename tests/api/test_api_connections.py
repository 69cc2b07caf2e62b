"""API v1 structure (docs/api.md, "Changes in API v1"): complete Relay
connections on every list, global ids and objects where other objects are
referenced, error codes as an enum, gross and net spend, NAME sorting A→Z."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from api.ids import to_global_id
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction

pytestmark = pytest.mark.anyio

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


def _names(connection: dict) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


async def _walk(admin, query: str, field, forwards: bool, size: int) -> tuple[list, list[dict]]:
    """Every node of a connection, page by page (first/after, or last/before), and each page's pageInfo."""
    nodes, infos, cursor = [], [], None
    for _ in range(50):
        variables = {"n": size, "c": cursor}
        body = await admin.gql(query % ("first: $n, after: $c" if forwards else "last: $n, before: $c"), variables)
        assert "errors" not in body, body
        connection = field(body["data"])
        infos.append(connection["pageInfo"])
        page = [edge["node"] for edge in connection["edges"]]
        nodes = nodes + page if forwards else page + nodes
        info = connection["pageInfo"]
        if not (info["hasNextPage"] if forwards else info["hasPreviousPage"]):
            return nodes, infos
        cursor = info["endCursor"] if forwards else info["startCursor"]
    raise AssertionError("the walk did not end")


@pytest.fixture
async def shop(gx, make_tenant, api):
    slug = make_tenant(modules=("complaints", "loyalty"))
    start = datetime(2025, 3, 1, 10, tzinfo=timezone.utc)
    with gx.tenant(slug) as ctx:
        # Equal names and equal times: the id breaks ties, in both directions.
        ids = [create_customer(ctx, {"name": name}).id for name in ("Wu", "An", "Li", "An", "Zhao", "Bo", "Li", "Chen")]
        for i, customer_id in enumerate(ids):
            for k in range(2):
                record_interaction(ctx, {"customer_id": customer_id, "kind": "VISIT", "occurred_at": start + timedelta(hours=(i * k) % 3)})
    return slug, ids, api(slug)


CUSTOMERS = "query($n: Int, $c: String) { customers(%s, orderBy: {field: NAME}) { " + PAGE_INFO + " edges { node { id name } } } }"
INTERACTIONS = "query($n: Int, $c: String) { interactions(%s) { " + PAGE_INFO + " edges { node { id occurredAt } } } }"


async def test_paging_backwards_gives_the_rows_of_paging_forwards(shop):
    _, ids, admin = shop
    for query, field, total in ((CUSTOMERS, lambda d: d["customers"], 8), (INTERACTIONS, lambda d: d["interactions"], 16)):
        for size in (1, 3, 5):
            forwards, forward_infos = await _walk(admin, query, field, True, size)
            backwards, backward_infos = await _walk(admin, query, field, False, size)
            assert len(forwards) == total and backwards == forwards, (size, forwards, backwards)
            assert [info["hasPreviousPage"] for info in forward_infos] == [False] + [True] * (len(forward_infos) - 1)
            assert [info["hasNextPage"] for info in backward_infos] == [False] + [True] * (len(backward_infos) - 1)
    # NAME sorts A→Z unless a direction is given (it used to default to Z→A).
    names, _ = await _walk(admin, CUSTOMERS, lambda d: d["customers"], True, 20)
    assert [n["name"] for n in names] == ["An", "An", "Bo", "Chen", "Li", "Li", "Wu", "Zhao"]


async def test_start_and_end_cursors_bound_a_page_and_before_after_narrow_it(shop):
    _, _, admin = shop
    body = await admin.gql("{ customers(first: 8, orderBy: {field: NAME}) { edges { cursor node { name } } pageInfo { startCursor endCursor } } }")
    edges = body["data"]["customers"]["edges"]
    info = body["data"]["customers"]["pageInfo"]
    assert info["startCursor"] == edges[0]["cursor"] and info["endCursor"] == edges[-1]["cursor"]
    # Between the 2nd and the 7th: after and before together.
    between = await admin.gql("query($a: String, $b: String) { customers(after: $a, before: $b, orderBy: {field: NAME}) { edges { node { name } } } }",
                              {"a": edges[1]["cursor"], "b": edges[6]["cursor"]})
    assert _names(between["data"]["customers"]) == [e["node"]["name"] for e in edges[2:6]]
    empty = await admin.gql("{ customers(first: 0) { edges { cursor } pageInfo { startCursor endCursor hasNextPage } } }")
    assert empty["data"]["customers"] == {"edges": [], "pageInfo": {"startCursor": None, "endCursor": None, "hasNextPage": True}}


async def test_first_and_last_together_or_out_of_range_are_refused(shop):
    _, _, admin = shop
    for args, word in (("first: 2, last: 2", "first or last"), ("last: 101", "last must be between 0 and 100"),
                       ("last: -1", "last must be")):
        body = await admin.gql("{ customers(%s) { edges { cursor } } }" % args)
        assert body["errors"][0]["extensions"]["code"] == "BAD_PAGE_SIZE" and word in body["errors"][0]["message"], body


async def test_nested_interactions_page_backwards_per_customer(shop):
    _, ids, admin = shop
    query = """query($id: ID!, $b: String) { node(id: $id) { ... on Customer {
      newest: interactions(first: 2) { edges { cursor node { id } } }
      oldest: interactions(last: 1) { edges { node { id } } pageInfo { hasPreviousPage hasNextPage } }
      before: interactions(last: 1, before: $b) { edges { node { id } } } } } }"""
    customer = to_global_id("Customer", ids[1])
    first = await admin.gql(query, {"id": customer})
    newest = first["data"]["node"]["newest"]["edges"]
    body = await admin.gql(query, {"id": customer, "b": newest[1]["cursor"]})
    node = body["data"]["node"]
    assert node["oldest"]["edges"][0]["node"]["id"] == newest[1]["node"]["id"]
    assert node["oldest"]["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": False}
    assert node["before"]["edges"][0]["node"]["id"] == newest[0]["node"]["id"]


def _count_statements(gx) -> tuple[list, callable]:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(gx.engine, "before_cursor_execute", listen)
    return seen, lambda: event.remove(gx.engine, "before_cursor_execute", listen)


def _counts(statements: list[str]) -> int:
    """COUNT statements (a HAVING count(...) inside a page's query is not one)."""
    return sum(s.lstrip().lower().startswith("select count(") for s in statements)


LISTS = [
    "customers(first: 3) { %s }",
    "interactions(first: 3) { %s }",
    "auditEvents(first: 3) { %s }",
    "duplicateCustomers(first: 3) { %s }",
    "jobRuns(first: 3) { %s }",
    "complaints(first: 3) { %s }",
]


async def test_total_count_is_counted_only_when_selected(gx, shop):
    _, _, admin = shop
    for field in LISTS:
        for selection, expected in (("edges { cursor }", 0), ("totalCount edges { cursor }", 1)):
            seen, stop = _count_statements(gx)
            try:
                body = await admin.gql("{ %s }" % (field % selection))
            finally:
                stop()
            assert "errors" not in body, body
            assert _counts(seen) == expected, (field, selection, seen)
    # Through a fragment the selection still counts.
    seen, stop = _count_statements(gx)
    try:
        body = await admin.gql("{ customers(first: 1) { ...c } } fragment c on CustomerConnection { totalCount }")
    finally:
        stop()
    assert body["data"]["customers"]["totalCount"] == 8 and _counts(seen) == 1


async def test_the_ledger_is_a_connection_with_signed_cursors_and_a_total(gx, shop):
    from plugins.loyalty import service

    slug, ids, admin = shop
    with gx.tenant(slug) as ctx:
        service.enroll(ctx, ids[0])
        for points in range(1, 8):
            service.adjust_points(ctx, ids[0], points, f"goodwill {points}")
    query = """query($id: ID!, $n: Int, $c: String) { node(id: $id) { ... on Customer { loyalty {
      ledger(%s) { totalCount """ + PAGE_INFO + " edges { node { id points } } } } } } }"
    customer = to_global_id("Customer", ids[0])

    async def walk(forwards):
        nodes, cursor = [], None
        while True:
            body = await admin.gql(query % ("first: $n, after: $c" if forwards else "last: $n, before: $c"), {"id": customer, "n": 3, "c": cursor})
            assert "errors" not in body, body
            ledger = body["data"]["node"]["loyalty"]["ledger"]
            assert ledger["totalCount"] == 7
            page = [e["node"]["points"] for e in ledger["edges"]]
            nodes = nodes + page if forwards else page + nodes
            more = ledger["pageInfo"]["hasNextPage" if forwards else "hasPreviousPage"]
            if not more:
                return nodes
            cursor = ledger["pageInfo"]["endCursor" if forwards else "startCursor"]

    assert await walk(True) == await walk(False) == [7, 6, 5, 4, 3, 2, 1]
    forged = await admin.gql("""query($id: ID!) { node(id: $id) { ... on Customer { loyalty {
      ledger(first: 2, after: "12") { edges { cursor } } } } } }""", {"id": customer})
    assert forged["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


async def test_complaint_customer_is_batched_and_ids_are_global(gx, shop):
    from plugins.complaints import service

    slug, ids, admin = shop
    now = datetime.now(timezone.utc)
    with gx.tenant(slug) as ctx:
        cases = [service.open_case(ctx, {"customer_id": cid, "category": "SERVICE"}).case.id for cid in ids]
        service.link_case(ctx, cases[1], cases[0], note="same problem", now=now)
        # A linked pair at each end, so the first 2 cases hold a parent whichever way the list runs.
        service.link_case(ctx, cases[-1], cases[-2], note="same problem", now=now)
    query = """query($n: Int) { complaints(first: $n) { edges { node { id customerId customer { id name }
      parentId parent { id } timeline { data } } } } }"""

    async def statements(n):
        seen, stop = _count_statements(gx)
        try:
            body = await admin.gql(query, {"n": n})
        finally:
            stop()
        assert "errors" not in body, body
        # The reads of the page's data; authentication's reads and writes (a key's
        # last use, noted at most once a minute) and per-transaction settings
        # (tenant, time budget) are not per complaint.
        reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "set_config" not in s
                 and not any(t in s for t in ("FROM api_keys", "FROM tenants", "FROM tenant_modules"))]
        return len(reads), body["data"]["complaints"]["edges"]

    small, _ = await statements(2)
    large, edges = await statements(8)
    assert small == large, (small, large)  # no statement per complaint
    by_customer = {e["node"]["customerId"]: e["node"] for e in edges}
    for cid in ids:
        node = by_customer[to_global_id("Customer", cid)]
        assert node["customer"]["id"] == node["customerId"]
    linked = by_customer[to_global_id("Customer", ids[1])]
    assert linked["parent"]["id"] == linked["parentId"] == to_global_id("Complaint", cases[0])
    raw = [e["data"] for e in linked["timeline"] if "parent_id" in e["data"]]
    assert raw and raw[0]["parent_id"] == linked["parentId"]  # a global id now, not the integer
    found = await admin.gql("query($id: ID!) { node(id: $id) { id ... on Complaint { customer { id } } } }", {"id": raw[0]["parent_id"]})
    assert found["data"]["node"]["id"] == raw[0]["parent_id"]


async def test_error_codes_are_an_enum_and_unknown_ids_are_named_as_sent(shop):
    _, ids, admin = shop
    body = await admin.gql("""{ __type(name: "Error") { fields { name type { kind ofType { name kind } } } }
      codes: __type(name: "ErrorCode") { enumValues { name } } }""")
    code = next(f for f in body["data"]["__type"]["fields"] if f["name"] == "code")
    assert code["type"]["ofType"] == {"name": "ErrorCode", "kind": "ENUM"}
    names = {v["name"] for v in body["data"]["codes"]["enumValues"]}
    assert {"NOT_FOUND", "CONFLICT", "INVALID", "BAD_CURSOR", "UNAUTHENTICATED", "INTERNAL_SERVER_ERROR"} <= names
    missing = to_global_id("Customer", 10**9)
    body = await admin.gql("mutation($id: ID!) { updateCustomer(input: {id: $id, name: \"x\"}) { errors { field message code } } }",
                           {"id": missing})
    [error] = body["data"]["updateCustomer"]["errors"]
    assert error["code"] == "NOT_FOUND" and error["field"] == "id" and missing in error["message"] and "1000000000" not in error["message"]
    await admin.gql("mutation { createCustomer(input: {code: \"C1\"}) { errors { code } } }")
    body = await admin.gql("mutation { createCustomer(input: {code: \"C1\"}) { errors { field code } } }")
    assert body["data"]["createCustomer"]["errors"] == [{"field": "code", "code": "CONFLICT"}]


async def test_gross_and_net_spend_are_named_as_such(gx, shop):
    slug, ids, admin = shop
    at = datetime(2025, 4, 1, tzinfo=timezone.utc)
    with gx.tenant(slug) as ctx:
        purchase, _ = record_interaction(ctx, {"customer_id": ids[2], "kind": "PURCHASE", "amount": "300.00", "occurred_at": at})
        record_interaction(ctx, {"customer_id": ids[2], "kind": "REFUND", "amount": "120.50", "occurred_at": at + timedelta(days=1),
                                 "reverses_id": purchase.id})
    body = await admin.gql("query($id: ID!) { customer(id: $id) { grossSpent netSpent totalSpent refundedAmount } }",
                           {"id": to_global_id("Customer", ids[2])})
    assert body["data"]["customer"] == {"grossSpent": "300.00", "netSpent": "179.50", "totalSpent": "300.00", "refundedAmount": "120.50"}
    body = await admin.gql("""{ net: customers(first: 1, orderBy: {field: NET_SPENT}, where: {netSpent: {gt: "100"}}) { edges { node { netSpent } } }
      gross: customers(where: {grossSpent: {gte: "300"}}) { edges { node { grossSpent } } }
      type: __type(name: "Customer") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }""")
    assert body["data"]["net"]["edges"] == [{"node": {"netSpent": "179.50"}}]
    assert body["data"]["gross"]["edges"] == [{"node": {"grossSpent": "300.00"}}]
    total = next(f for f in body["data"]["type"]["fields"] if f["name"] == "totalSpent")
    assert total["isDeprecated"] and "grossSpent" in total["deprecationReason"]


async def test_objects_sit_next_to_the_ids_that_reference_them(gx, shop):
    slug, ids, admin = shop
    customer = to_global_id("Customer", ids[3])
    body = await admin.gql("""mutation($c: ID!) { first: recordInteraction(input: {customerId: $c, kind: PURCHASE, amount: "50",
        occurredAt: "2025-05-01T00:00:00Z", externalId: "o-1"}) { interaction { id } } }""", {"c": customer})
    purchase = body["data"]["first"]["interaction"]["id"]
    body = await admin.gql("""mutation($c: ID!, $p: ID!) {
      refund: recordInteraction(input: {customerId: $c, kind: REFUND, amount: "20", occurredAt: "2025-05-02T00:00:00Z",
                                        reversesId: $p}) { interaction { reversesId reverses { id amount } } errors { field message } }
      again: recordInteractions(input: {items: [{customerId: $c, kind: PURCHASE, amount: "50", occurredAt: "2025-05-01T00:00:00Z",
                                                  externalId: "o-1"}]}) { duplicates { existingId existing { id externalId } } } }""",
                           {"c": customer, "p": purchase})
    assert "errors" not in body, body
    refund = body["data"]["refund"]["interaction"]
    assert refund["reversesId"] == purchase and refund["reverses"] == {"id": purchase, "amount": "50.00"}
    assert body["data"]["again"]["duplicates"] == [{"existingId": purchase, "existing": {"id": purchase, "externalId": "o-1"}}]
    events = await admin.gql("{ auditEvents(first: 50) { edges { node { targetType targetId } } } }")
    targets = [e["node"] for e in events["data"]["auditEvents"]["edges"] if e["node"]["targetType"] == "Customer" and e["node"]["targetId"]]
    assert targets
    for target in targets:
        found = await admin.gql("query($id: ID!) { node(id: $id) { id } }", {"id": target["targetId"]})
        assert found["data"]["node"] is None or found["data"]["node"]["id"] == target["targetId"]
    assert any(t["targetId"] == to_global_id("Customer", cid) for t in targets for cid in ids)


async def test_node_resolves_the_ids_inside_timelines_and_ledger_entries(gx, shop):
    from plugins.loyalty import service as loyalty

    slug, ids, admin = shop
    with gx.tenant(slug) as ctx:
        loyalty.enroll(ctx, ids[4])
    customer = to_global_id("Customer", ids[4])
    body = await admin.gql("""mutation($c: ID!) {
      complaint: recordInteraction(input: {customerId: $c, kind: COMPLAINT, occurredAt: "2025-06-01T08:00:00Z",
                                          payload: {category: "SERVICE", description: "slow"}}) { interaction { id } }
      purchase: recordInteraction(input: {customerId: $c, kind: PURCHASE, amount: "100", occurredAt: "2025-06-01T09:00:00Z"}) {
        interaction { id } } }""", {"c": customer})
    assert "errors" not in body, body
    complaint_interaction = body["data"]["complaint"]["interaction"]["id"]
    purchase = body["data"]["purchase"]["interaction"]["id"]
    body = await admin.gql("""query($c: ID!) { node(id: $c) { ... on Customer {
      complaints { edges { node { timeline { data } } } }
      loyalty { ledger { edges { node { interactionId interaction { id } } } } } } } }""", {"c": customer})
    node = body["data"]["node"]
    data = [e["data"] for e in node["complaints"]["edges"][0]["node"]["timeline"] if "interaction_id" in e["data"]]
    assert data == [{"interaction_id": complaint_interaction}]
    entries = [e["node"] for e in node["loyalty"]["ledger"]["edges"] if e["node"]["interactionId"]]
    assert entries and all(e["interaction"]["id"] == e["interactionId"] == purchase for e in entries)
    for gid in (complaint_interaction, purchase):
        found = await admin.gql("query($id: ID!) { node(id: $id) { id ... on Interaction { kind { code } } } }", {"id": gid})
        assert found["data"]["node"]["id"] == gid


async def test_a_complaint_timeline_pages_both_ways(gx, shop):
    from plugins.complaints import service

    slug, ids, admin = shop
    with gx.tenant(slug) as ctx:
        case = service.open_case(ctx, {"customer_id": ids[5], "category": "SERVICE"}).case.id
        for n in range(6):
            service.add_note(ctx, case, f"note {n}")
        other = service.open_case(ctx, {"customer_id": ids[6], "category": "SERVICE"}).case.id
        service.add_note(ctx, other, "elsewhere")
    query = """query($n: Int, $c: String) { complaints(first: 2) { edges { node { id timeline { note }
      events(%s) { totalCount """ + PAGE_INFO + """ edges { node { note } } } } } } }"""

    async def walk(forwards: bool) -> dict[str, list]:
        """Each case's entries, paged 3 at a time (every case takes the same cursor: each page is one request)."""
        out, cursor = {}, None
        for _ in range(10):
            body = await admin.gql(query % ("first: $n, after: $c" if forwards else "last: $n, before: $c"), {"n": 3, "c": cursor})
            assert "errors" not in body, body
            node = next(e["node"] for e in body["data"]["complaints"]["edges"] if e["node"]["id"] == to_global_id("Complaint", case))
            events = node["events"]
            assert events["totalCount"] == len(node["timeline"]) == 7
            page = [e["node"]["note"] for e in events["edges"]]
            out["notes"] = out.get("notes", []) + page if forwards else page + out.get("notes", [])
            out["timeline"] = [t["note"] for t in node["timeline"]]
            info = events["pageInfo"]
            if not info["hasNextPage" if forwards else "hasPreviousPage"]:
                return out
            cursor = info["endCursor" if forwards else "startCursor"]
        raise AssertionError("the walk did not end")

    forwards, backwards = await walk(True), await walk(False)
    assert forwards["notes"] == backwards["notes"] == forwards["timeline"]
    assert forwards["notes"][-6:] == [f"note {n}" for n in range(6)]
