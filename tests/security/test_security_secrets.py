"""Secrets and personal data: API keys (random, shown once, hashed, compared in
constant time, revocable, last use recorded), nothing personal in the logs,
erasure reaching every table (plugins' too), an audit event per mutation."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

import pytest
import sqlalchemy as sa
from graphql import GraphQLObjectType

from engine.models import AuditEvent
from engine.services import keys as key_service
from tests.security import gqlgen
from tests.security.conftest import ROLES, harvest_tenant, introspect, new_key, new_tenant, seed, table_texts, tables_containing

CREATE_KEY = 'mutation($r: Role!) { createApiKey(input: {role: $r, name: "k"}) { apiKey { id prefix } secret errors { code } } }'


@pytest.fixture
def admin(gx):
    slug, tenant_id = new_tenant(gx, modules=())
    return tenant_id, new_key(gx, tenant_id, "ADMIN")


def test_keys_are_random_shown_once_and_stored_hashed(gx, sync_client, admin):
    tenant_id, key = admin
    secrets_, ids = [], []
    for role in ROLES:
        payload = sync_client.gql(key, CREATE_KEY, {"r": role})["data"]["createApiKey"]
        assert payload["errors"] == []
        secrets_.append(payload["secret"])
        ids.append(payload["apiKey"]["id"])
    assert len(set(secrets_)) == len(secrets_)
    for secret in secrets_:
        body = secret.removeprefix(key_service.KEY_PREFIX)
        assert len(body) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", body)  # 32 random bytes, url-safe
    # Never shown again: no field of any type but the creation payload carries a secret or hash.
    schema = introspect(sync_client, key)
    for type_name, gtype in schema.type_map.items():
        if isinstance(gtype, GraphQLObjectType) and not type_name.startswith("__") and type_name != "ApiKeyPayload":
            assert not [f for f in gtype.fields if re.search(r"secret|hash|token", f, re.I)], type_name
    listed = sync_client.gql(key, "{ apiKeys { id name role { code } prefix createdAt lastUsedAt revokedAt } }")
    for secret in secrets_ + [key]:
        assert secret not in str(listed) and secret[12:] not in str(listed)
    # Stored as a SHA-256 hash only: no table holds the plain key anywhere.
    everywhere = secrets_ + [key]
    assert tables_containing(gx, everywhere + [secret[12:] for secret in everywhere]) == {}
    hashes = [hashlib.sha256(secret.encode()).hexdigest() for secret in everywhere]
    assert set(tables_containing(gx, hashes)) == {"api_keys"}


def test_keys_are_compared_in_constant_time(gx, sync_client, admin, monkeypatch):
    _, key = admin
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(key_service.hmac, "compare_digest", spy)
    sync_client.gql(key, "{ me { role { code } } }")
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert any(digest in pair for pair in calls)


def test_revoked_key_is_refused_and_last_use_is_recorded(gx, sync_client, admin):
    _, key = admin
    payload = sync_client.gql(key, CREATE_KEY, {"r": "VIEWER"})["data"]["createApiKey"]
    viewer, viewer_id = payload["secret"], payload["apiKey"]["id"]

    def listed():
        return {k["id"]: k for k in sync_client.gql(key, "{ apiKeys { id lastUsedAt revokedAt } }")["data"]["apiKeys"]}

    assert listed()[viewer_id]["lastUsedAt"] is None
    assert sync_client.post(viewer, "{ me { role { code } } }").status_code == 200
    assert listed()[viewer_id]["lastUsedAt"] is not None
    revoked = sync_client.gql(key, "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } errors { code } } }", {"id": viewer_id})
    assert revoked["data"]["revokeApiKey"]["apiKey"]["revokedAt"]
    response = sync_client.post(viewer, "{ me { role { code } } }")
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.json().get("data") is None


def test_no_key_phone_or_email_reaches_the_logs(gx, sync_client, admin, captured_logs):
    _, key = admin
    marker = uuid.uuid4().hex[:8]
    phones = [f"+86137{marker[:4]}{n:04d}".replace("a", "1").replace("b", "2").replace("c", "3").replace("d", "4")
              .replace("e", "5").replace("f", "6") for n in range(3)]
    emails = [f"log.{marker}.{n}@example.com" for n in range(3)]
    created = sync_client.gql(key, CREATE_KEY, {"r": "AGENT"})["data"]["createApiKey"]["secret"]
    bogus = key_service.KEY_PREFIX + uuid.uuid4().hex + uuid.uuid4().hex
    create = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id phone email } errors { code message } } }"
    ids = []
    for phone, email in zip(phones, emails):
        body = sync_client.gql(created, create, {"i": {"name": f"log {marker}", "phone": phone, "email": email}})
        ids.append(body["data"]["createCustomer"]["customer"]["id"])
    # failures with personal data in them: bad email, duplicate code, bad ids, bad keys, bad variables
    sync_client.gql(created, create, {"i": {"email": f"not-an-email-{emails[0]}", "phone": phones[0] + "x"}})
    sync_client.post(created, "query($n: Int) { customers(first: $n) { totalCount } }", {"n": phones[1]})
    sync_client.post(created, "{ customers(search: " + '"' + emails[1] + '"' + ") { edges { node { phone email } } } }")
    sync_client.post(created, "query($w: CustomerWhere) { customers(where: $w) { totalCount } }",
                     {"w": {"phone": {"eq": phones[2]}, "email": {"in": emails}, "createdAt": {"gt": emails[2]}}})
    sync_client.post(created, "mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { errors { code } } }",
                     {"i": {"id": ids[0], "phone": phones[2], "email": emails[2]}})
    sync_client.post(created, '{ customer(id: "' + phones[0] + '") { id } }')
    for bad in (bogus, bogus[:-1] + " ", phones[0], emails[0]):
        assert sync_client.post(bad, "{ me { role { code } } }").status_code == 401
    assert sync_client.request("GET", "/graphql", params={"query": "{ customers(search: \"%s\") { totalCount } }" % phones[1]},
                               headers={"Authorization": f"Bearer {created}"}).status_code == 200
    text = captured_logs.text
    assert "request" in text  # the capture works: access lines were logged
    for secret in (key, created, bogus, *phones, *emails):
        assert secret not in text, secret
    assert captured_logs.errors() == []


def _scalar_columns_with(texts: dict[str, str], needles: list[str]) -> dict[str, list[str]]:
    return {table: [n for n in needles if n in text] for table, text in texts.items() if any(n in text for n in needles)}


def test_erasure_removes_personal_data_from_every_table(gx, sync_client):
    s = seed(sync_client, gx, customers=3)
    victim, keep = 0, 1
    personal = [s.names[victim], s.phones[victim], s.emails[victim], s.wechats[victim], s.notes[victim],
                next(n for n in s.notes if s.phones[victim] in n)]
    before = table_texts(gx, s.tenant_id)
    assert len(_scalar_columns_with(before, personal)) >= 2  # customers, complaint cases, ...: the data is spread
    body = sync_client.gql(s.keys["ADMIN"], "mutation($id: ID!) { eraseCustomer(input: {id: $id}) { customer { name phone email erasedAt } errors { code } } }",
                           {"id": s.customer_ids[victim]})
    erased = body["data"]["eraseCustomer"]
    assert erased["errors"] == [] and erased["customer"]["erasedAt"] and erased["customer"]["name"] is None
    after = table_texts(gx, s.tenant_id)
    assert _scalar_columns_with(after, personal) == {}
    # The others keep theirs.
    assert s.phones[keep] in after["customers"]
    # Every column a module declares personal is empty for the erased customer.
    pk = int(__import__("base64").urlsafe_b64decode(s.customer_ids[victim] + "==").decode().split(":")[1])
    from sqlmodel import SQLModel

    with gx.system(write=False) as conn:
        for info in gx.plugins.modules.values():
            for table_name, columns in info.personal_fields.items():
                table = SQLModel.metadata.tables[table_name]
                if "customer_id" not in table.c:
                    continue
                rows = conn.execute(sa.select(*[table.c[c] for c in columns]).where(
                    table.c.tenant_id == s.tenant_id, table.c.customer_id == pk)).all()
                assert all(v in (None, "", "(erased)") for row in rows for v in row), (info.name, table_name, rows)


# Plugin mutations that change data without an audit event today (reported;
# the plugins should call engine.services.audit.record in the same transaction).
# Remove a name here once its plugin audits; a new silent mutation fails the test.
KNOWN_UNAUDITED: set[str] = set()


def _state(gx, tenant_id: int) -> dict:
    """The tenant's rows in every table but the audit log and request counters (and keys' last-use times)."""
    from tests.security.conftest import REQUEST_COUNTERS, tenant_tables

    out = {}
    with gx.system(write=False) as conn:
        for table in tenant_tables(gx):
            if table.name == "audit_events" or table.name in REQUEST_COUNTERS:
                continue
            columns = [c for c in table.c if c.name != "last_used_at"]
            rows = conn.execute(sa.select(*columns).where(table.c.tenant_id == tenant_id).order_by(*columns[:1])).all()
            out[table.name] = repr(sorted(map(repr, rows)))
    return out


def _audit_count(gx, tenant_id: int) -> int:
    with gx.system(write=False) as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == tenant_id)).scalar_one()


def _succeeded(body: dict, field: str) -> bool:
    if body.get("errors"):
        return False
    payload = (body.get("data") or {}).get(field)
    if not isinstance(payload, dict):
        return payload is not None
    if payload.get("errors") or payload.get("itemErrors") or payload.get("duplicate") is True:
        return False
    counts = [v for k, v in payload.items() if k.endswith("Count") and isinstance(v, int)]
    return not counts or any(counts)


def test_every_successful_mutation_leaves_an_audit_event(gx, sync_client):
    """Each generated mutation, filled with the tenant's own data, run as its admin."""
    s = seed(sync_client, gx, customers=3)
    key = s.keys["ADMIN"]
    schema = introspect(sync_client, key)
    own = gqlgen.Values(ids={"Customer": list(s.customer_ids)}, strings=s.values(), module_names=sorted(gx.plugins.modules))
    ids, cursors, _ = harvest_tenant(sync_client, key, schema, own)
    sacrificial = sync_client.gql(key, CREATE_KEY, {"r": "VIEWER"})["data"]["createApiKey"]["apiKey"]["id"]
    ids["ApiKey"] = {sacrificial}  # never revoke the key doing the work
    ids.pop("Tenant", None)
    values = gqlgen.Values(ids={t: sorted(pool)[:2] for t, pool in ids.items()}, cursors=sorted(cursors)[:3],
                           strings={"name": [f"{s.marker} new"], "store": s.stores, "code": [f"{s.marker}-new"]},
                           module_names=sorted(gx.plugins.modules))
    ops = [op for op in gqlgen.generate(schema, values) if op.kind == "mutation"]
    ops.sort(key=lambda op: (op.field.startswith("disable"), op.field.startswith(("erase", "revoke", "merge")), op.field))
    succeeded, silent = set(), []
    for op in ops:
        before, state = _audit_count(gx, s.tenant_id), _state(gx, s.tenant_id)
        response = sync_client.post(key, op.query, op.variables)
        assert response.status_code < 500, (op.name, response.text[:300])
        if response.status_code == 200 and _succeeded(response.json(), op.field):
            succeeded.add(op.field)
            if _state(gx, s.tenant_id) != state and _audit_count(gx, s.tenant_id) <= before:
                silent.append(op.field)
    unexpected = sorted(set(silent) - KNOWN_UNAUDITED)
    assert unexpected == [], f"mutations that changed data without an audit event: {unexpected}"
    core = {"createCustomer", "updateCustomer", "eraseCustomer", "recordInteraction", "recordInteractions",
            "enableModule", "disableModule", "configureModule", "createApiKey", "revokeApiKey"}
    assert core & set(schema.mutation_type.fields) <= succeeded, sorted(core - succeeded)
