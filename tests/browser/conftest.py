"""Fixtures of the browser tests: one server and one demo tenant per database
backend, one Chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.app import create_app
from engine.demo import DEMO_SLUG, generate_demo
from tests.browser.harness import WAIT_MS, Server, Watched, launch_chromium

DEMO_CUSTOMERS = 300  # every page has data to show, built in seconds


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    # Per module, not per session: Playwright's sync API holds an event loop
    # on the main thread while it runs, which later tests' asyncio.run refuses.
    yield from launch_chromium()


@pytest.fixture(scope="module")
def console_server(gx) -> Iterator[Server]:
    # Per module: a server left running (its job runner, its pool) would
    # keep working on the shared database under the rest of the suite.
    with Server(create_app(gx)) as running:
        running.origin = f"http://127.0.0.1:{running.port}"
        yield running


@pytest.fixture(scope="session")
def demo(gx) -> dict:
    """The demo tenant (the real generator, all modules on) and a key per role."""
    from engine.services.keys import create_key
    from engine.models import Tenant
    from sqlmodel import select

    result = generate_demo(gx, customers=DEMO_CUSTOMERS)
    keys = {"ADMIN": result.admin_key}
    with gx.system() as session:
        tenant = session.exec(select(Tenant).where(Tenant.slug == DEMO_SLUG)).one()
        for role in ("AGENT", "ANALYST", "VIEWER"):
            keys[role] = create_key(session, tenant, role, f"console test {role.lower()}").secret
        keys["PLATFORM"] = create_key(session, None, "PLATFORM", "console test platform").secret
    return {"slug": DEMO_SLUG, "keys": keys}


class ConsolePage(Watched):
    """A browser tab on the console: sign in, open a page and wait until its
    data is drawn; records failed requests (HTTP >= 400 or not answered)."""

    def __init__(self, browser, origin: str):
        super().__init__(browser, origin)
        self.failed: list[str] = []
        self.page.on("requestfailed", lambda request: self.failed.append(f"{request.url} {request.failure}"))
        self.page.on("response", lambda response: response.status >= 400 and self.failed.append(
            f"{response.status} {response.url}"))

    def sign_in(self, key: str) -> None:
        self.page.goto(f"{self.origin}/console/", wait_until="load", timeout=WAIT_MS)
        self.page.get_by_test_id("signin-key").fill(key)
        self.page.get_by_test_id("signin-submit").click()
        self.page.get_by_test_id("menu").wait_for(timeout=WAIT_MS)
        self.wait_ready()

    def open(self, route: str) -> None:
        """Go to #/route and wait until the page says its data is drawn."""
        self.page.evaluate("() => { const v = document.getElementById('view'); if (v) delete v.dataset.ready; }")
        self.page.goto(f"{self.origin}/console/#/{route}", wait_until="load", timeout=WAIT_MS)
        self.wait_ready()

    def use_lang(self, lang: str) -> None:
        """Switch the console to `lang` ('zh' or 'en') unless it is already; the page is drawn again."""
        if self.page.evaluate("() => document.documentElement.lang").startswith(lang):
            return
        self.page.evaluate("() => { const v = document.getElementById('view'); if (v) delete v.dataset.ready; }")
        self.page.get_by_test_id("lang-switch").click()
        self.wait_ready()
        assert self.page.evaluate("() => document.documentElement.lang").startswith(lang)

    def wait_ready(self) -> None:
        self.page.locator("#view[data-ready]").wait_for(timeout=WAIT_MS)

    def last_page(self) -> dict:
        """What app.js recorded of the page last drawn: route, API requests, ms."""
        return self.page.evaluate("() => window.__console.lastPage")


@pytest.fixture
def console(chromium, console_server) -> Iterator:
    """A factory of ConsolePage tabs, closed after the test."""
    opened: list[ConsolePage] = []

    def make() -> ConsolePage:
        tab = ConsolePage(chromium, console_server.origin)
        opened.append(tab)
        return tab

    yield make
    for tab in opened:
        tab.close()
