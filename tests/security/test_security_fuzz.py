"""Fuzzing the running app: generated queries and mutations with hostile
arguments, sent with valid keys of every role; never a 500, never an error
in the logs, and the process keeps answering. Big inputs are refused early.

Bounded for CI (FUZZ_EXAMPLES, derandomized); bench/fuzz.py runs the same
strategies much longer.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security import fuzzing, gqlgen
from tests.security.conftest import ROLES, harvest_tenant, introspect, seed

FUZZ_EXAMPLES = int(os.environ.get("GUANXI_FUZZ_EXAMPLES", "100"))


@pytest.fixture(scope="module")
def target(gx, sync_client):
    s = seed(sync_client, gx, customers=3)
    schema = introspect(sync_client, s.keys["ADMIN"])
    own = gqlgen.Values(ids={"Customer": list(s.customer_ids)}, strings=s.values(), module_names=sorted(gx.plugins.modules))
    ids, cursors, _ = harvest_tenant(sync_client, s.keys["ADMIN"], schema, own)
    values = gqlgen.Values(ids={t: sorted(p)[:3] for t, p in ids.items()}, cursors=sorted(cursors)[:5],
                           strings=s.values(), module_names=sorted(gx.plugins.modules))
    return s, schema, values


def test_fuzzed_requests_never_fail_the_server(target, sync_client, captured_logs):
    s, schema, values = target
    seen = {"n": 0}

    @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(op=fuzzing.requests(schema, values), role=st.sampled_from(ROLES))
    def check(op, role):
        seen["n"] += 1
        before = len(captured_logs.errors())
        response = sync_client.post(s.keys[role], op.query, fuzzing.safe_json(op.variables))
        found = fuzzing.problems(response.status_code, response.text, captured_logs.errors()[before:])
        assert found == [], (op.name, op.query[:300], str(op.variables)[:500], response.text[:500])

    check()
    assert seen["n"] >= min(FUZZ_EXAMPLES, 50)
    assert captured_logs.leaked(s.personal()) == []
    assert sync_client.request("GET", "/healthz").status_code == 200
    assert sync_client.post(s.keys["VIEWER"], "{ me { role { code } } }").status_code == 200


def _code(response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def test_big_inputs_are_refused_early(target, sync_client, captured_logs):
    s, _, _ = target
    key = s.keys["ADMIN"]
    auth = {"Authorization": f"Bearer {key}"}
    # a 10 MB body: refused on its declared length, and when streamed without one
    response = sync_client.request("POST", "/graphql", content=b"x" * 10_000_000, headers=auth)
    assert response.status_code == 413 and _code(response) == "PAYLOAD_TOO_LARGE"

    async def chunks():
        for _ in range(100):
            yield b"y" * 100_000

    response = sync_client.request("POST", "/graphql", content=chunks(), headers=auth)
    assert response.status_code == 413
    # 10,000 aliases
    query = "{ " + " ".join(f"a{i}: me {{ role {{ code }} }}" for i in range(10_000)) + " }"
    response = sync_client.post(key, query)
    assert response.status_code == 400 and _code(response) in ("GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED")
    # deep nesting: selections, list literals, filters, variables and raw JSON
    deep_selection = "{ customers { edges { node " + "{ referrer " * 60 + "{ id }" + " }" * 60 + " } } }"
    deep_list = "{ customers(search: " + "[" * 5000 + "]" * 5000 + ") { totalCount } }"
    for q in (deep_selection, deep_list, "{" * 20_000 + "}" * 20_000):
        response = sync_client.post(key, q)
        assert response.status_code == 400 and _code(response) in ("GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"), q[:80]
    where: dict = {}
    for _ in range(300):
        where = {"AND": [where]}
    response = sync_client.post(key, "query($w: CustomerWhere) { customers(where: $w) { totalCount } }", {"w": where})
    assert response.status_code in (200, 400) and _code(response) in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")
    raw = ('{"query": "{ me { role { code } } }", "variables": {"x": ' + "[" * 200_000 + "]" * 200_000 + "}}").encode()
    response = sync_client.request("POST", "/graphql", content=raw[:900_000], headers=auth)
    assert response.status_code == 400 and _code(response) == "BAD_REQUEST"
    raw = ('{"query": "{ me { role { code } } }", "variables": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}").encode()
    response = sync_client.request("POST", "/graphql", content=raw, headers=auth)
    assert response.status_code == 400 and _code(response) == "BAD_REQUEST"
    response = sync_client.request("GET", "/graphql", params={"query": "{ me { role { code } } }", "variables": "[" * 20_000},
                                   headers=auth)
    assert response.status_code in (400, 414, 431) and response.status_code < 500
    assert captured_logs.errors() == []
    assert sync_client.request("GET", "/healthz").status_code == 200


@pytest.mark.parametrize("pk", ["99999999999999999999", "9223372036854775808", "²", "١٢", "-1", "1e3", " 1"])
def test_ids_out_of_range_or_not_ascii_are_not_found(target, sync_client, captured_logs, pk):
    """Found by bench/fuzz.py: an id past BIGINT failed the statement on PostgreSQL (500)."""
    s, _, _ = target
    gid = fuzzing.gqlgen_id("Customer", pk)
    body = sync_client.gql(s.keys["ADMIN"], "query($id: ID!) { node(id: $id) { id } customer(id: $id) { id } }", {"id": gid})
    assert body["data"] == {"node": None, "customer": None} and "errors" not in body
    body = sync_client.gql(s.keys["ADMIN"], "mutation($id: ID!) { eraseCustomer(input: {id: $id}) { errors { code } } }", {"id": gid})
    assert body["data"]["eraseCustomer"]["errors"][0]["code"] == "NOT_FOUND"
    assert captured_logs.errors() == []


def test_a_non_ascii_content_length_is_not_a_server_error(target, sec_app, portal):
    """A Content-Length of "²" (a digit to str.isdigit) must not reach int(); raw ASGI, as httpx refuses to send it."""
    s, _, _ = target
    body = b'{"query": "{ me { role { code } } }"}'
    sent: list[dict] = []

    async def call():
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/graphql", "raw_path": b"/graphql", "query_string": b"", "root_path": "", "server": ("test", 80),
                 "client": ("127.0.0.1", 1), "headers": [(b"authorization", f"Bearer {s.keys['ADMIN']}".encode()),
                                                        (b"content-type", b"application/json"), (b"content-length", b"\xb2")]}
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await sec_app(scope, receive, send)

    portal.call(call)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] < 500


def test_the_inputs_that_failed_the_server_are_answered(target, sync_client, captured_logs):
    """Issue #20's catalogue (tests/security/edge_cases.py), on both databases."""
    from tests.security import edge_cases

    s, _, _ = target
    for case in edge_cases.cases(s.customer_ids[0], s.marker):
        before = len(captured_logs.errors())
        response = sync_client.post(s.keys[case.role], case.query, case.variables, **case.extra)
        found = fuzzing.problems(response.status_code, response.text, captured_logs.errors()[before:])
        assert found == [], (case.name, response.text[:500])
