"""The complaints module through HTTP: the queue, a case walking the six
steps by mutations, payload errors, Customer.complaints, complaintStats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from api.app import create_app
from api.ids import to_global_id
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.services.keys import create_key
from engine.services.tenants import get_tenant

pytestmark = pytest.mark.anyio

CASE = """id status category priority store description assignee department resolution rootCause satisfaction
  promiseKept firstResponseAt slaPolicy firstResponseDue escalationLevel customerId"""


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def complaints_app(gx):
    return create_app(gx)


@pytest.fixture
async def call(complaints_app, gx):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=complaints_app), base_url="http://test") as client:

        def make(slug: str, role: str = "AGENT"):
            with gx.system() as session:
                secret = create_key(session, get_tenant(session, slug), role, "test", actor="test").secret

            async def gql(query: str, variables: dict | None = None) -> dict:
                response = await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                             headers={"Authorization": f"Bearer {secret}"})
                assert response.status_code == 200, response.text
                body = response.json()
                assert "errors" not in body, body
                return body["data"]

            return gql

        yield make


async def test_a_complaint_walks_the_six_steps_through_the_api(gx, make_tenant, call):
    slug = make_tenant(modules=("complaints",))
    with gx.tenant(slug) as ctx:
        customer_id = create_customer(ctx, {"code": "C1", "name": "赵女士"}).id
        record_interaction(ctx, {"customer_id": customer_id, "kind": "COMPLAINT", "occurred_at": datetime.now(timezone.utc),
                                 "store": "SH-01", "payload": {"category": "SERVICE", "description": "店员态度差"}})
    gql = call(slug)
    queue = await gql(f"{{ complaints(where: {{open: true, store: \"SH-01\"}}) {{ totalCount edges {{ node {{ {CASE} }} }} }} }}")
    assert queue["complaints"]["totalCount"] == 1
    case = queue["complaints"]["edges"][0]["node"]
    assert (case["status"], case["category"], case["priority"], case["slaPolicy"]) == ("RECEIVED", "SERVICE", "NORMAL", "normal")
    assert case["customerId"] == to_global_id("Customer", customer_id)
    cid = case["id"]

    async def step(mutation: str, fields: str) -> dict:
        data = await gql(f"mutation {{ {mutation}(input: {{id: \"{cid}\", {fields}}}) {{ complaint {{ {CASE} }} errors {{ field message code }} }} }}")
        return data[mutation]

    # Illegal transition: refused in the payload, naming the allowed ones.
    refused = await step("closeComplaint", 'note: "x"')
    assert refused["complaint"] is None and refused["errors"][0]["field"] == "status"
    assert "allowed from RECEIVED: ROUTED, RESOLVED, CANCELLED" in refused["errors"][0]["message"]
    promised = (datetime.now(timezone.utc) + timedelta(hours=4)).isoformat()
    assert (await step("routeComplaint", 'department: "门店运营", assignee: "agent-li"'))["complaint"]["status"] == "ROUTED"
    updated = await step("addComplaintUpdate", f'note: "已联系门店店长", promisedReplyAt: "{promised}"')
    assert updated["complaint"]["status"] == "IN_PROGRESS" and updated["complaint"]["firstResponseAt"]
    missing = await step("resolveComplaint", 'resolution: "道歉并培训", rootCause: ""')
    assert [e["field"] for e in missing["errors"]] == ["rootCause"] or [e["field"] for e in missing["errors"]] == ["root_cause"]
    resolved = await step("resolveComplaint", 'resolution: "道歉并培训", rootCause: "STAFF_ATTITUDE"')
    assert resolved["complaint"]["status"] == "RESOLVED" and resolved["complaint"]["promiseKept"] is True
    bad_score = await step("recordFollowUp", "satisfaction: 9")
    assert bad_score["errors"][0]["field"] in ("satisfaction",) and bad_score["complaint"] is None
    assert (await step("recordFollowUp", 'satisfaction: 4, note: "满意"'))["complaint"]["status"] == "FOLLOW_UP"
    closed = await step("closeComplaint", 'note: "归档"')
    assert closed["errors"] == [] and closed["complaint"]["status"] == "CLOSED" and closed["complaint"]["satisfaction"] == 4

    one = await gql(f'{{ complaint(id: "{cid}") {{ status timeline {{ kind fromStatus toStatus actor note }} }} }}')
    transitions = [(e["fromStatus"], e["toStatus"]) for e in one["complaint"]["timeline"] if e["kind"] == "TRANSITION"]
    assert transitions == [(None, "RECEIVED"), ("RECEIVED", "ROUTED"), ("ROUTED", "IN_PROGRESS"), ("IN_PROGRESS", "RESOLVED"),
                           ("RESOLVED", "FOLLOW_UP"), ("FOLLOW_UP", "CLOSED")]
    assert all(e["actor"].startswith("api-key:") for e in one["complaint"]["timeline"][1:])

    # Open by mutation: duplicates suggested; link refused into itself; linked child resolves with its parent.
    opened = (await gql(f"""mutation {{ openComplaint(input: {{customerId: "{to_global_id('Customer', customer_id)}",
        category: "SERVICE", store: "SH-01", priority: URGENT}}) {{ complaint {{ id }} duplicates {{ id }} errors {{ field }} }} }}"""))["openComplaint"]
    parent = opened["complaint"]["id"]
    child_data = (await gql(f"""mutation {{ openComplaint(input: {{customerId: "{to_global_id('Customer', customer_id)}",
        category: "SERVICE", store: "SH-01"}}) {{ complaint {{ id }} duplicates {{ id }} }} }}"""))["openComplaint"]
    child = child_data["complaint"]["id"]
    assert [d["id"] for d in child_data["duplicates"]] == [parent]
    self_link = (await gql(f'mutation {{ linkComplaint(input: {{id: "{child}", parentId: "{child}"}}) {{ errors {{ field }} }} }}'))
    assert self_link["linkComplaint"]["errors"][0]["field"] in ("parentId", "parent_id")
    await gql(f'mutation {{ linkComplaint(input: {{id: "{child}", parentId: "{parent}"}}) {{ errors {{ field }} }} }}')
    await gql(f'mutation {{ resolveComplaint(input: {{id: "{parent}", resolution: "r", rootCause: "X"}}) {{ errors {{ field }} }} }}')
    assert (await gql(f'{{ complaint(id: "{child}") {{ status rootCause }} }}'))["complaint"] == {"status": "RESOLVED", "rootCause": "X"}

    # Customer.complaints and the report.
    mine = await gql(f"""{{ customer(id: "{to_global_id('Customer', customer_id)}") {{
        complaints(first: 2) {{ totalCount edges {{ node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }} }} }}""")
    page = mine["customer"]["complaints"]
    assert page["totalCount"] == 3 and [e["node"]["id"] for e in page["edges"]] == [child, parent] and page["pageInfo"]["hasNextPage"]
    rest = (await gql(f"""{{ customers(first: 5) {{ edges {{ node {{ id complaints(first: 2, after: "{page['pageInfo']['endCursor']}") {{
        totalCount edges {{ node {{ id }} }} pageInfo {{ hasNextPage }} }} }} }} }} }}"""))["customers"]["edges"]
    rest = next(e["node"]["complaints"] for e in rest if e["node"]["id"] == to_global_id("Customer", customer_id))
    assert rest["totalCount"] == 3 and len(rest["edges"]) == 1 and not rest["pageInfo"]["hasNextPage"]
    listed = (await gql("{ customers(first: 5) { edges { node { id complaints { totalCount edges { node { id } } } } } } }"))
    listed = next(e["node"]["complaints"] for e in listed["customers"]["edges"] if e["node"]["id"] == to_global_id("Customer", customer_id))
    assert listed["totalCount"] == 3 and [e["node"]["id"] for e in listed["edges"]][:2] == [child, parent]
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    until = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    stats = (await gql(f"""{{ complaintStats(from: "{since}", to: "{until}", groupBy: STATUS) {{
        totals {{ count satisfactionAverage firstResponse {{ count }} }} byStatus {{ key count }}
        topRootCauses {{ key count }} groups {{ key count }} }} }}"""))["complaintStats"]
    assert stats["totals"]["count"] == 3 and stats["totals"]["satisfactionAverage"] == 4.0
    assert {g["key"]: g["count"] for g in stats["byStatus"]} == {"CLOSED": 1, "RESOLVED": 2}
    assert {g["key"]: g["count"] for g in stats["groups"]} == {"CLOSED": 1, "RESOLVED": 2}  # codes, as ComplaintStatus spells them
    assert sorted((r["key"], r["count"]) for r in stats["topRootCauses"]) == [("STAFF_ATTITUDE", 1), ("X", 2)]


async def test_viewers_read_but_cannot_change_complaints(gx, make_tenant, call):
    slug = make_tenant(modules=("complaints",))
    viewer = call(slug, "VIEWER")
    assert (await viewer("{ complaints { totalCount } }"))["complaints"]["totalCount"] == 0
    with pytest.raises(AssertionError, match="FORBIDDEN|agent"):
        await viewer('mutation { closeComplaint(input: {id: "x"}) { errors { field } } }')


async def test_node_resolves_a_complaint_in_its_own_tenant_only(gx, make_tenant, call):
    slug, other = make_tenant(modules=("complaints",)), make_tenant(modules=("complaints",))
    with gx.tenant(slug) as ctx:
        customer_id = create_customer(ctx, {"code": "C1", "name": "钱先生"}).id
    gql = call(slug)
    opened = (await gql(f"""mutation {{ openComplaint(input: {{customerId: "{to_global_id('Customer', customer_id)}",
        category: "SERVICE"}}) {{ complaint {{ id }} }} }}"""))["openComplaint"]["complaint"]
    query = "query($id: ID!) { node(id: $id) { __typename id ... on Complaint { category status } } }"
    found = (await gql(query, {"id": opened["id"]}))["node"]
    assert found == {"__typename": "Complaint", "id": opened["id"], "category": "SERVICE", "status": "RECEIVED"}
    assert (await call(other)(query, {"id": opened["id"]}))["node"] is None


OPEN = """mutation($input: OpenComplaintInput!) { openComplaint(input: $input) { complaint { id } errors { field } } }"""
UPDATE = """mutation($id: ID!, $note: String!) { addComplaintUpdate(input: {id: $id, note: $note}) { errors { field } } }"""
RESOLVE = """mutation($id: ID!, $text: String!) {
  resolveComplaint(input: {id: $id, resolution: $text, rootCause: "STAFF_ATTITUDE"}) { errors { field } } }"""
SWITCH = """mutation($name: String!) { %s(input: {name: $name}) { errors { code } } }"""
ERASE = """mutation($id: ID!) { eraseCustomer(input: {id: $id}) { errors { code } } }"""
TEXT = """query($id: ID!) { complaint(id: $id) { status description resolution timeline { kind note } } }"""


async def test_a_customer_erased_while_complaints_is_off_does_not_come_back_with_it(gx, make_tenant, call):
    slug = make_tenant(modules=("complaints",))
    with gx.tenant(slug) as ctx:
        erased = to_global_id("Customer", create_customer(ctx, {"name": "王芳", "phone": "13800138000"}).id)
        kept = to_global_id("Customer", create_customer(ctx, {"name": "李娜"}).id)
    admin = call(slug, "ADMIN")
    cases = {}
    for customer, who in ((erased, "王芳 13800138000"), (kept, "李娜")):
        opened = (await admin(OPEN, {"input": {"customerId": customer, "category": "SERVICE",
                                               "description": f"{who}: 店员态度差", "note": f"{who} 来电"}}))["openComplaint"]
        cases[customer] = case = opened["complaint"]["id"]
        assert (await admin(UPDATE, {"id": case, "note": f"已回电 {who}"}))["addComplaintUpdate"]["errors"] == []
        assert (await admin(RESOLVE, {"id": case, "text": f"向 {who} 道歉"}))["resolveComplaint"]["errors"] == []

    assert (await admin(SWITCH % "disableModule", {"name": "complaints"}))["disableModule"]["errors"] == []
    assert (await admin(ERASE, {"id": erased}))["eraseCustomer"]["errors"] == []
    assert (await admin(SWITCH % "enableModule", {"name": "complaints"}))["enableModule"]["errors"] == []

    mine = (await admin(TEXT, {"id": cases[erased]}))["complaint"]
    assert (mine["status"], mine["description"], mine["resolution"]) == ("RESOLVED", None, None)
    assert len(mine["timeline"]) >= 3 and all(event["note"] is None for event in mine["timeline"])
    theirs = (await admin(TEXT, {"id": cases[kept]}))["complaint"]
    assert (theirs["description"], theirs["resolution"]) == ("李娜: 店员态度差", "向 李娜 道歉")
    assert "已回电 李娜" in [event["note"] for event in theirs["timeline"]]
