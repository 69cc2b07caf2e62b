"""What the browser tests share: the app under uvicorn in a thread, the
system's Chromium driven by Playwright, and a page that records every
request and console error and blocks any request off the app's host."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
# The flags a sandboxed CI container needs, and none that fetch anything
# (no component updates, sync, field trials or QUIC probes).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
WAIT_MS = 60_000  # a bound against hanging on a loaded host, not a speed check

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



def launch_chromium() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium: make test installs it as root (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
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
