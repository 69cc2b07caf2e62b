"""GraphiQL in headless Chromium, against the real app under uvicorn: the page
renders from the package's own files, runs the README's query with a real
key, and nothing is requested from any host but the app's (the page must
work without internet: no CDN)."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.graphiql import DEFAULT_QUERY, MEDIA_TYPES, STATIC
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.types import utcnow

CHROMIUM = Path("/usr/bin/chromium")
# The flags a sandboxed CI container needs, and none that fetch anything
# (no component updates, sync, field trials or QUIC probes).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
HEADERS = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"  # the headers tab, open by default
WAIT_MS = 60_000  # a bound against hanging on a loaded host, not a speed check


def readme_query() -> str:
    """The README's first GraphQL example: the one a new user tries in GraphiQL."""
    match = re.search(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, "README.md has no ```graphql example"
    return match.group(1).strip()


class Server:
    """The app under uvicorn on a free 127.0.0.1 port, in a thread of this process."""

    def __init__(self, app):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + WAIT_MS / 1000
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


def under_prefix(app, prefix: str):
    """The app behind a reverse proxy that serves it under ``prefix`` (as
    nginx's ``location /crm/ { proxy_pass http://api/; }``): the prefix is
    stripped on the way in, and nothing outside it reaches the app."""
    if not prefix:
        return app

    async def proxied(scope, receive, send):
        if scope["type"] == "http":
            if not scope["path"].startswith(prefix + "/"):
                await send({"type": "http.response.start", "status": 404, "headers": []})
                await send({"type": "http.response.body", "body": b"outside the proxied prefix"})
                return
            scope = {**scope, "path": scope["path"][len(prefix):], "raw_path": scope["raw_path"][len(prefix):]}
        await app(scope, receive, send)

    return proxied


@pytest.fixture(scope="module", params=["", "/crm"], ids=["root", "path-prefix"])
def server(gx, request) -> Iterator[Server]:
    with Server(under_prefix(create_app(gx), request.param)) as running:
        running.prefix = request.param
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium: make test installs it as root (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Watched:
    """A browser page that records every request and console error, and
    blocks (and records) any request off the app's host."""

    def __init__(self, browser, origin: str):
        self.context = browser.new_context(service_workers="block")
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.origin = origin
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.context.route("**/*", self._route)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/") or url.startswith("data:"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def off_host(self) -> list[str]:
        host = urlsplit(self.origin).netloc
        return [u for u in self.requests if not u.startswith("data:") and urlsplit(u).netloc != host]

    def close(self) -> None:
        self.context.close()


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
