"""The console's session door over HTTP (api/console/routes.py): the cookie's
flags, CSRF on every request, the session standing for exactly its key
(revoked key, viewer's writes), sign-out, and the page's strict policy."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlmodel import select

from api.console.routes import COOKIE
from engine.console_models import ConsoleSession
from engine.models import AuditEvent
from engine.services.keys import find_key, revoke_key

pytestmark = pytest.mark.anyio

ME = "{ me { tenant { slug } role { code } enabledModules } }"


async def sign_in(client: httpx.AsyncClient, key: str) -> str:
    response = await client.post("/console/session", json={"key": key})
    assert response.status_code == 200, response.text
    return response.json()["csrf"]


async def console_gql(client: httpx.AsyncClient, csrf: str | None, query: str, variables: dict | None = None) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return await client.post("/console/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


async def test_sign_in_sets_an_http_only_strict_cookie_holding_no_key_and_the_api_answers_as_that_key(client, make_tenant, make_key, gx):
    tenant = make_tenant(modules=("rfm",))
    key = make_key(tenant, "ANALYST")
    response = await client.post("/console/session", json={"key": key})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http (a test client); see the TLS test below
    token = client.cookies[COOKIE]
    assert key not in cookie and token != key
    # Only the token's hash is stored, beside the key it stands for and its tenant.
    with gx.system(write=False) as session:
        row = session.exec(select(ConsoleSession).where(
            ConsoleSession.token_hash == hashlib.sha256(token.encode()).hexdigest())).one()
        assert row.api_key_id == find_key(session, key).id and row.tenant_id is not None
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "console.sign_in",
                                                     AuditEvent.target_id == str(row.api_key_id))).first() is not None

    with gx.system(write=False) as session:
        assert find_key(session, key).last_used_at is not None  # "last used" counts console use too
    body = (await console_gql(client, response.json()["csrf"], ME)).json()
    assert body["data"]["me"] == {"tenant": {"slug": tenant}, "role": {"code": "ANALYST"}, "enabledModules": ["rfm"]}
    who = (await client.get("/console/session")).json()
    assert who == {"signedIn": True, "csrf": response.json()["csrf"], "role": "ANALYST", "tenant": tenant}


async def test_over_tls_the_cookie_is_secure(app, make_tenant, make_key):
    key = make_key(make_tenant(), "VIEWER")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as tls:
        response = await tls.post("/console/session", json={"key": key})
    assert response.status_code == 200 and "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("body, status, message", [
    ({"key": "gx_unknown"}, 401, "key: invalid or revoked API key"),
    ({"key": ""}, 400, "key: enter an API key"),
    ({}, 400, "key: enter an API key"),
])
async def test_a_wrong_or_missing_key_is_refused_naming_the_field_and_sets_no_cookie(client, body, status, message):
    response = await client.post("/console/session", json=body)
    assert response.status_code == status and "set-cookie" not in response.headers
    [error] = response.json()["errors"]
    assert error["message"] == message and error["extensions"]["field"] == "key"


async def test_sign_in_takes_json_only_so_another_site_cannot_sign_a_visitor_in(client, make_tenant, make_key):
    key = make_key(make_tenant(), "ADMIN")
    # What a cross-site form can send: the JSON as text/plain (or form-encoded).
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = await client.post("/console/session", content=f'{{"key": "{key}"}}', headers={"Content-Type": content_type})
        assert response.status_code == 415 and "set-cookie" not in response.headers, content_type


async def test_every_console_request_needs_the_session_and_its_csrf_token(client, make_tenant, make_key):
    key = make_key(make_tenant(), "ADMIN")
    assert (await console_gql(client, None, ME)).status_code == 401  # no session at all
    csrf = await sign_in(client, key)
    for sent in (None, "0" * 64, csrf[:-1]):
        refused = await console_gql(client, sent, ME)
        assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await console_gql(client, csrf, ME)).status_code == 200
    # The cookie is the console's only: /graphql still wants the key.
    assert (await client.post("/graphql", json={"query": ME})).status_code == 401


async def test_a_viewers_session_cannot_write_the_api_refuses_and_nothing_changes(client, make_tenant, make_key, graphql):
    tenant = make_tenant(modules=("rfm",))
    csrf = await sign_in(client, make_key(tenant, "VIEWER"))
    forged = await console_gql(client, csrf, 'mutation { disableModule(input: {name: "rfm"}) { errors { code } } }')
    body = forged.json()
    assert forged.status_code == 200 and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert graphql(tenant, "ADMIN").execute("{ me { enabledModules } }")["data"]["me"]["enabledModules"] == ["rfm"]


async def test_revoking_the_key_ends_its_sessions_at_once(client, make_tenant, make_key, gx):
    tenant = make_tenant()
    key = make_key(tenant, "ADMIN")
    csrf = await sign_in(client, key)
    assert (await console_gql(client, csrf, ME)).status_code == 200
    with gx.system() as session:
        record = find_key(session, key)
        revoke_key(session, record.tenant_id, record.id)
    assert (await console_gql(client, csrf, ME)).status_code == 401
    assert (await client.get("/console/session")).json() == {"signedIn": False}


async def test_sign_out_needs_the_csrf_token_and_deletes_the_session(client, make_tenant, make_key):
    csrf = await sign_in(client, make_key(make_tenant(), "AGENT"))
    token = client.cookies[COOKIE]
    assert (await client.delete("/console/session")).status_code == 403  # a cross-site sign-out is refused too
    response = await client.delete("/console/session", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200 and f'{COOKIE}=""' in response.headers["set-cookie"]
    client.cookies.set(COOKIE, token)  # the old cookie, kept by a thief: worthless now
    assert (await console_gql(client, csrf, ME)).status_code == 401


async def test_a_platform_keys_session_gets_the_platform_schema(client, make_key):
    csrf = await sign_in(client, make_key(None, "PLATFORM"))
    body = (await console_gql(client, csrf, "{ tenants { slug } }")).json()
    assert "errors" not in body and isinstance(body["data"]["tenants"], list)
    assert (await client.get("/console/session")).json()["role"] == "PLATFORM"


async def test_the_page_and_its_files_load_only_from_the_app_under_a_strict_policy(client):
    assert (await client.get("/console")).headers["location"] == "console/"
    page = await client.get("/console/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in page.text.replace('http-equiv', '')  # no absolute URL: nothing from another host
    script = await client.get("/console/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "no-cache"
    again = await client.get("/console/static/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    for outside in ("/console/static/../routes.py", "/console/static/vendor/VENDOR.md", "/console/static/nope.js"):
        assert (await client.get(outside)).status_code == 404
