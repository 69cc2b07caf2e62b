"""Tenant isolation and roles over the whole schema.

Every Query field, every Customer field (through customers, customer and
node) and every Mutation of a tenant's schema with every module on is
generated from introspection, filled with another tenant's real ids, cursors,
codes, emails and phones, and sent with each of tenant A's keys. No response
may carry B's data, B's rows must be byte-for-byte unchanged, and every
refusal a role earns is a FORBIDDEN error with no data.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from graphql import GraphQLObjectType

from tests.security import gqlgen
from tests.security.attack import Attack, run_attack

ADMIN_ONLY = re.compile(r"module|apikey", re.I)  # what an agent may not manage
# Mutations an analyst may run: they recompute derived scores from the facts
# already stored, or save a segment (a named filter), and change no customer,
# interaction, module or key.
ANALYST_MAY = {"runScoring", "saveCampaignSegment"}


@pytest.fixture(scope="module")
def attack(gx, sync_client) -> Attack:
    return run_attack(sync_client, gx, reader_may=frozenset(ANALYST_MAY))


def test_generator_covers_every_field(attack):
    schema = attack.schema
    covered = defaultdict(set)
    for op in attack.ops:
        covered[op.kind].add(op.field)
    assert set(schema.query_type.fields) <= covered["query"]
    assert set(schema.mutation_type.fields) <= covered["mutation"]
    customer = schema.get_type("Customer")
    assert isinstance(customer, GraphQLObjectType)
    assert set(customer.fields) <= covered["customer-field"]
    # Each Customer field is reached through all three roots.
    roots = defaultdict(set)
    for op in attack.ops:
        if op.kind == "customer-field":
            roots[op.field].update(op.label.split(":")[0].split(","))
    assert all(r == {"customers", "customer", "node"} for r in roots.values()), roots
    # The other tenant's values really are in the requests.
    sent = "\n".join(op.request_text() for op in attack.ops)
    for value in (attack.b.customer_ids[0], attack.b.phones[0], attack.b.emails[0]):
        assert value in sent
    assert attack.quoted, "no ids or cursors of the other tenant were harvested"


def test_no_response_carries_the_other_tenants_data(attack):
    leaks = attack.leaks()
    assert leaks == [], f"{len(leaks)} responses leak tenant B's data, e.g. {leaks[:5]}"


def test_the_other_tenant_is_unchanged(attack):
    assert attack.b_after == attack.b_before
    assert attack.b_before["customers"][0] == len(attack.b.customer_ids)


def test_no_request_fails_with_a_server_error(attack):
    bad = [(r.role, r.op.name, r.status, r.text[:300]) for r in attack.records
           if r.status >= 500 or "INTERNAL_SERVER_ERROR" in r.text]
    assert bad == []


def _codes(body: dict) -> list[str]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


@pytest.mark.parametrize("role", ["VIEWER", "ANALYST"])
def test_readers_cannot_run_any_mutation(attack, role):
    allowed = ANALYST_MAY if role == "ANALYST" else set()
    refused = set()
    for r in attack.records:
        if r.role != role or r.op.kind != "mutation" or r.op.field in allowed:
            continue
        body = r.body
        if r.status == 400:
            continue  # refused before execution (invalid variables): nothing ran
        assert r.status == 200, (r.op.name, r.text[:300])
        assert body.get("data") is None, (r.op.name, r.text[:300])
        assert _codes(body) and set(_codes(body)) == {"FORBIDDEN"}, (r.op.name, r.text[:300])
        refused.add(r.op.field)
    assert refused == set(attack.schema.mutation_type.fields) - allowed
    # ... and their attempts changed nothing of their own tenant either.
    assert attack.a_after_readers == attack.a_before_readers


def test_agent_cannot_manage_modules_or_keys(attack):
    managing = {f for f in attack.schema.mutation_type.fields if ADMIN_ONLY.search(f)}
    assert managing >= {"enableModule", "disableModule", "configureModule", "createApiKey", "revokeApiKey"}
    refused = set()
    for r in attack.records:
        if r.role != "AGENT" or not ADMIN_ONLY.search(r.op.field) or r.status == 400:
            continue
        if r.op.kind == "mutation":
            assert r.body.get("data") is None and set(_codes(r.body)) == {"FORBIDDEN"}, (r.op.name, r.text[:300])
            refused.add(r.op.field)
        elif r.op.kind == "query" and r.op.field == "apiKeys":
            assert r.body.get("data") is None and "FORBIDDEN" in _codes(r.body), (r.op.name, r.text[:300])
    assert refused == managing


def test_every_refusal_is_forbidden_without_data(attack):
    """Wherever a role is refused, the error says FORBIDDEN and its path holds no data."""
    seen = 0
    for r in attack.records:
        body = r.body
        for error in gqlgen.forbidden_refusals(body):
            seen += 1
            assert gqlgen.value_at(body.get("data"), error.get("path")) is None, (r.role, r.op.name, r.text[:300])
            assert "message" in error and error["message"]
        if r.role == "ADMIN":
            assert not gqlgen.forbidden_refusals(body), (r.op.name, r.text[:300])
    assert seen > 0


def test_admin_mutations_reached_execution(attack):
    """The attack is not vacuous: admin requests with B's ids ran and were answered with payload errors."""
    ran = {r.op.field for r in attack.records if r.role == "ADMIN" and r.op.kind == "mutation" and r.status == 200
           and (r.body.get("data") or {}).get(r.op.field) is not None}
    assert ran == set(attack.schema.mutation_type.fields)
