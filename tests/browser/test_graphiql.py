"""GraphiQL in headless Chromium, against the real app under uvicorn: the page
renders from the package's own files, runs the README's query with a real
key, and nothing is requested from any host but the app's (the page must
work without internet: no CDN)."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from api.graphiql import DEFAULT_QUERY, MEDIA_TYPES, STATIC
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.types import utcnow
from tests.browser.harness import WAIT_MS, Server, Watched, under_prefix

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
HEADERS = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"  # the headers tab, open by default


def readme_query() -> str:
    """The README's first GraphQL example: the one a new user tries in GraphiQL."""
    match = re.search(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, "README.md has no ```graphql example"
    return match.group(1).strip()


@pytest.fixture(scope="module", params=["", "/crm"], ids=["root", "path-prefix"])
def server(gx, request) -> Iterator[Server]:
    with Server(under_prefix(create_app(gx), request.param)) as running:
        running.prefix = request.param
        yield running


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium  # one Playwright per process (tests/browser/conftest.py)


def set_editor(page, selector: str, text: str) -> None:
    """Replace an editor's text as typing would (CodeMirror fires its change events)."""
    page.locator(f"{selector} .CodeMirror").first.wait_for(timeout=WAIT_MS)
    page.evaluate("([sel, text]) => document.querySelector(sel + ' .CodeMirror').CodeMirror.setValue(text)", [selector, text])


def result_text(page) -> str:
    return page.evaluate("() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")


def test_graphiql_renders_runs_the_readme_query_with_a_key_and_stays_on_the_host(gx, server, browser, make_tenant, make_key):
    tenant = make_tenant()
    with gx.tenant(tenant) as ctx:
        customer = create_customer(ctx, {"name": "离线测试客户", "store": "Shanghai-1"})
        record_interaction(ctx, {"customer_id": customer.id, "kind": "PURCHASE", "amount": "388.00",
                                 "occurred_at": utcnow() - timedelta(days=3)})
    key = make_key(tenant, "VIEWER")
    origin = f"http://127.0.0.1:{server.port}"
    watched = Watched(browser, origin)
    page = watched.page
    try:
        page.goto(f"{origin}{server.prefix}/graphql", wait_until="load", timeout=WAIT_MS)
        page.locator(".graphiql-query-editor .CodeMirror").wait_for(timeout=WAIT_MS)
        assert page.locator(".graphiql-execute-button").is_visible()
        # The key goes in GraphiQL's headers editor, prefilled with the header's shape;
        # once it is entered, GraphiQL loads the schema with it (docs, completion).
        headers = page.evaluate(f"() => document.querySelector('{HEADERS} .CodeMirror').CodeMirror.getValue()")
        assert headers.replace(" ", "") == '{"Authorization":"Bearer"}'
        with page.expect_response(lambda r: "IntrospectionQuery" in (r.request.post_data or ""), timeout=WAIT_MS) as schema:
            set_editor(page, HEADERS, f'{{"Authorization": "Bearer {key}"}}')
        assert schema.value.status == 200 and "__schema" in schema.value.json()["data"]

        set_editor(page, ".graphiql-query-editor", readme_query())
        page.locator(".graphiql-execute-button").click()
        page.wait_for_function("() => document.querySelector('.graphiql-response .CodeMirror')"
                               ".CodeMirror.getValue().includes('离线测试客户')", timeout=WAIT_MS)
        shown = result_text(page)
        assert f'"name": "Tenant {tenant}"' in shown
        assert '"totalCount": 1' in shown and '"errors"' not in shown
        # GraphiQL keeps tabs and history in the browser's storage, but
        # neither the key nor a response's data (a customer's name).
        stored = page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
        assert "graphiql:queries" in stored  # the history is kept (the test would pass vacuously otherwise)
        assert key not in stored and "离线测试客户" not in stored
    finally:
        watched.close()

    assert watched.requests, "the browser made no request at all"
    assert watched.off_host() == [] and watched.blocked == []
    # The page, its own files, and the API, all under the prefix the browser
    # used: nothing else, and every file from the package.
    paths = {urlsplit(u).path for u in watched.requests}
    assert paths == {f"{server.prefix}/graphql"} | {f"{server.prefix}/graphiql/{name}" for name in MEDIA_TYPES}
    assert watched.console_errors == []


def test_the_page_refers_only_to_its_own_host_with_relative_urls_and_a_strict_policy(server):
    page = httpx.get(f"http://127.0.0.1:{server.port}{server.prefix}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "default-src 'self'" in policy
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert urls and all(u == "data:," or u.startswith("graphiql/") for u in urls), urls  # relative: a path prefix carries over
    assert "http://" not in page.text and "https://" not in page.text and "<script>" not in page.text


def test_the_files_are_served_with_their_types_long_caching_and_compression(server):
    base = f"http://127.0.0.1:{server.port}{server.prefix}/graphiql"
    with httpx.Client() as client:
        script = client.get(f"{base}/graphiql.min.js", headers={"Accept-Encoding": "gzip"})
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert script.headers["content-encoding"] == "gzip" and "immutable" in script.headers["cache-control"]
        assert int(script.headers["content-length"]) < len(script.content) / 3  # 3.5 MB sent as about 0.7 MB
        again = client.get(f"{base}/graphiql.min.js", headers={"If-None-Match": script.headers["etag"]})
        assert again.status_code == 304 and not again.content
        style = client.get(f"{base}/graphiql.min.css")
        assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
        for name in ("vendor.sh", "VENDOR.md", "..%2fgraphiql.py", "LICENSE.react"):
            assert client.get(f"{base}/{name}").status_code == 404, name


def test_the_query_the_editor_opens_with_runs_without_errors(graphql, tenant):
    """The page's default query is the README's: it must stay valid as the schema changes."""
    body = graphql(tenant, "VIEWER").execute(DEFAULT_QUERY)
    assert "errors" not in body and body["data"]["me"]["tenant"]["name"] == f"Tenant {tenant}"
    assert " ".join(DEFAULT_QUERY.split("\n\n", 1)[1].split()) == " ".join(readme_query().split())


def test_the_vendored_files_are_the_npm_releases_listed_with_their_licences():
    """Byte for byte what VENDOR.md names (the integrity hashes of the npm
    releases), each with its licence file: an edited or half-updated vendor
    folder fails here."""
    listed = re.findall(r"^\| (\S+)[^|]*\| (\S+) \| ([\d.]+) \| MIT, `(LICENSE\.[\w-]+)`.*?`(sha384-[^`]+)` \|$",
                        (STATIC / "VENDOR.md").read_text(encoding="utf-8"), re.M)
    ours = {"guanxi-graphiql.js", "guanxi-graphiql.css"}
    assert {row[0] for row in listed} == set(MEDIA_TYPES) - ours
    for name, _package, _version, licence, integrity in listed:
        digest = base64.b64encode(hashlib.sha384((STATIC / name).read_bytes()).digest()).decode()
        assert integrity == f"sha384-{digest}", name
        assert "MIT License" in (STATIC / licence).read_text(encoding="utf-8"), licence


def test_an_installed_wheel_carries_every_file_the_page_loads():
    """pyproject's package data names them all: an installed Guanxi serves
    GraphiQL without the source tree."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    for name in MEDIA_TYPES:
        assert (STATIC / name).is_file(), name
        assert any(fnmatch.fnmatch(f"static/graphiql/{name}", p) for p in patterns), name
