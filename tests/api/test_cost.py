"""The query cost rule (api/cost.py), through the real app: queries asking
for too many objects are refused before they run, with their cost and the
role's budget; ordinary ones run and report their cost."""

from __future__ import annotations

import pytest

from api.cost import DEFAULT_BUDGETS, parse_budgets
from engine.enums import Role
from tests.api.conftest import codes

pytestmark = pytest.mark.anyio

# The 49-token query: ~1M objects within every older limit.
EXPLOSIVE = ("{ customers(first: 100) { edges { node { interactions(first: 100) { edges { node { customer {"
             " interactions(first: 100) { edges { node { id } } } } } } } } } } }")
# 1 + 100 (customers) + 100 + 100*100 (their interactions) + 100*100 (each one's customer)
# + 100*100 + 100*100*100 (that customer's interactions)
EXPLOSIVE_COST = 1 + 100 + 100 + 10_000 + 10_000 + 10_000 + 1_000_000

README = """{ me { tenant { name } role { code label(lang: EN) } enabledModules }
  customers(first: 5, orderBy: {field: TOTAL_SPENT, direction: DESC}) {
    totalCount edges { node { name totalSpent purchaseCount lastPurchaseAt store } } } }"""

# 1 + 100 + 100 + 100*100 = 10,201: over a viewer's 10,000, within an admin's 20,000.
WIDE = "{ customers(first: 100) { edges { node { id interactions(first: 100) { edges { node { id } } } } } } }"
WIDE_COST = 1 + 100 + 100 + 10_000


async def test_the_explosive_query_is_refused_with_its_cost(api, tenant):
    response = await api(tenant, "ADMIN").post(EXPLOSIVE)
    body = response.json()
    assert response.status_code == 400
    assert body["data"] is None
    assert codes(body) == ["QUERY_TOO_COSTLY"]
    error = body["errors"][0]
    assert error["extensions"]["cost"] == EXPLOSIVE_COST
    assert error["extensions"]["budget"] == DEFAULT_BUDGETS[Role.ADMIN]
    assert "1,030,201" in error["message"] and "20,000" in error["message"]


async def test_the_readme_query_runs_and_reports_its_cost(api, tenant):
    body = await api(tenant, "VIEWER").gql(README)
    assert "errors" not in body, body
    assert body["data"]["me"]["role"]["code"] == "VIEWER"
    cost = body["extensions"]["cost"]
    # me, its tenant and role (3), the customers connection (1) and its 5 rows
    assert cost == {"requested": 3 + 1 + 5, "budget": DEFAULT_BUDGETS[Role.VIEWER]}


async def test_budgets_differ_by_role(api, tenant):
    viewer = (await api(tenant, "VIEWER").post(WIDE)).json()
    assert codes(viewer) == ["QUERY_TOO_COSTLY"]
    assert viewer["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": WIDE_COST, "budget": 10_000}
    admin = await api(tenant, "ADMIN").gql(WIDE)
    assert "errors" not in admin, admin
    assert admin["data"]["customers"]["edges"] == []
    assert admin["extensions"]["cost"] == {"requested": WIDE_COST, "budget": 20_000}


async def test_page_sizes_in_variables_are_counted(api, tenant):
    query = ("query($n: Int, $m: Int) { customers(first: $n) { edges { node { interactions(first: $m) {"
             " edges { node { customer { interactions(first: $m) { edges { node { id } } } } } } } } } } }")
    key = api(tenant, "ADMIN")
    refused = (await key.post(query, {"n": 100, "m": 100})).json()
    assert refused["errors"][0]["extensions"]["cost"] == EXPLOSIVE_COST
    as_float = (await key.post(query, {"n": 100.0, "m": 100.0})).json()  # GraphQL's Int takes 100.0 too
    assert as_float["errors"][0]["extensions"]["cost"] == EXPLOSIVE_COST
    small = await key.gql(query, {"n": 2, "m": 3})
    assert "errors" not in small, small
    assert small["extensions"]["cost"]["requested"] == 1 + 2 + 2 + 2 * 3 + 6 + 6 + 6 * 3
    # Absent, the field's default page size (20) counts.
    defaulted = await key.gql(query, {})
    assert defaulted["extensions"]["cost"]["requested"] == 1 + 20 + 20 + 400 + 400 + 400 + 8000


async def test_fragments_cannot_hide_what_they_select(api, tenant):
    query = """
      query { customers(first: 100) { ...Page } }
      fragment Page on CustomerConnection { edges { node { ... on Customer { interactions(first: 100) {
        edges { node { ...Back } } } } } } }
      fragment Back on Interaction { customer { interactions(first: 100) { edges { node { id } } } } }"""
    body = (await api(tenant, "ADMIN").post(query)).json()
    assert codes(body) == ["QUERY_TOO_COSTLY"]
    assert body["errors"][0]["extensions"]["cost"] == EXPLOSIVE_COST


async def test_node_lookups_count_what_their_fragment_selects(api, tenant):
    query = """query($id: ID!) { node(id: $id) { ... on Customer { interactions(first: 100) {
      edges { node { customer { interactions(first: 100) { edges { node { id } } } } } } } } } }"""
    body = (await api(tenant, "VIEWER").post(query, {"id": "Q3VzdG9tZXI6MQ"})).json()
    assert codes(body) == ["QUERY_TOO_COSTLY"]
    # node (1) + its interactions (1 + 100) + their customers (100) + their interactions (100 + 100*100)
    assert body["errors"][0]["extensions"]["cost"] == 1 + 1 + 100 + 100 + 100 + 10_000


async def test_a_count_alone_reads_no_rows(api, tenant):
    body = await api(tenant, "VIEWER").gql("{ customers(first: 100) { totalCount pageInfo { hasNextPage } } }")
    assert "errors" not in body
    assert body["extensions"]["cost"]["requested"] == 1 + 1  # the connection's query and its pageInfo


async def test_introspection_costs_nothing(api, tenant):
    body = await api(tenant, "VIEWER").gql("{ __schema { types { name fields { name type { name } } } } }")
    assert "errors" not in body
    assert body["extensions"]["cost"]["requested"] == 0


async def test_mutations_are_costed_too(api, tenant):
    query = """mutation { createCustomer(input: {code: "c-cost", name: "成本"}) {
      customer { id interactions(first: 100) { edges { node { customer { interactions(first: 100) {
        edges { node { id } } } } } } } } errors { field message } } }"""
    body = (await api(tenant, "AGENT").post(query)).json()
    assert codes(body) == ["QUERY_TOO_COSTLY"]
    # Refused before it ran: nothing was created.
    check = await api(tenant, "ADMIN").gql('{ customers(first: 5, search: "c-cost") { totalCount } }')
    assert check["data"]["customers"]["totalCount"] == 0


def test_budgets_are_configurable_and_bad_settings_are_named():
    budgets = parse_budgets("viewer=500, admin=100000")
    assert budgets[Role.VIEWER] == 500 and budgets[Role.ADMIN] == 100_000
    assert budgets[Role.AGENT] == DEFAULT_BUDGETS[Role.AGENT]
    with pytest.raises(ValueError, match="GUANXI_QUERY_COST_BUDGETS.*unknown value 'owner'"):
        parse_budgets("owner=5")
    with pytest.raises(ValueError, match="GUANXI_QUERY_COST_BUDGETS.*expected role=number"):
        parse_budgets("viewer=lots")


async def test_a_fragment_bomb_is_costed_at_once_and_refused(api, tenant):
    """Twelve fragments each spreading the next eight times: 8^12 copies of one small
    field. Each selection set is costed once and multiplied, so the rule answers at
    once (walking every copy would never end); a selection written twice counts twice."""
    levels, fan = 12, 8
    fragments = [f"fragment F{i} on Query {{ {' '.join([f'...F{i + 1}'] * fan)} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ customers(first: 1) {{ totalCount }} }}")
    body = (await api(tenant, "ADMIN").post("{ ...F0 }\n" + "\n".join(fragments))).json()
    assert codes(body) == ["QUERY_TOO_COSTLY"]
    assert body["errors"][0]["extensions"]["cost"] == fan ** levels  # one count query each, no rows


async def test_depth_and_alias_limits_see_through_fragments(api, tenant):
    key = api(tenant, "ADMIN")
    # Eleven levels below the operation's fields, three of them in fragments.
    deep = """{ customers(first: 1) { edges { node { ...A } } } }
      fragment A on Customer { referrer { ...B } }
      fragment B on Customer { referrer { referrer { referrer { referrer { referrer { ...C } } } } } }
      fragment C on Customer { referrer { referrer { id } } }"""
    body = (await key.post(deep)).json()
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "exceeds maximum operation depth of 10" in body["errors"][0]["message"]
    # Four aliases, spread eight times: 32 aliases over the limit of 30.
    aliased = "{ ...F ...F ...F ...F ...F ...F ...F ...F } fragment F on Query { a: me { b: role { c: code d: label } } }"
    body = (await key.post(aliased)).json()
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert body["errors"][0]["message"] == "32 aliases found. Allowed: 30"
    # Within both limits, the same shapes run.
    body = await key.gql("{ ...F ...F } fragment F on Query { a: me { b: role { c: code } } }")
    assert "errors" not in body and body["data"]["a"]["b"]["c"] == "ADMIN"
