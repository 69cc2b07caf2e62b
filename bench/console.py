"""The admin console's speed on the demo tenant: server time of the pages'
data and time to a drawn page in Chromium, each beside its anchor.

Run with ``.venv/bin/python -m bench.console`` (prints one JSON line). It
builds the demo tenant (``--customers``, default 20,000, as ``guanxi demo``)
in GUANXI_DATABASE_URL or a SQLite file (``--database``: kept, so a second
run skips the build), serves it with uvicorn in a child process, signs in
with the demo admin key in the system's Chromium and opens every page the
admin sees.

- ``overview_p50_ms``, ``rfm_p50_ms`` (goal: at most 150 each): the server
  time of the page's data. The GraphQL requests the page itself sent (captured
  in the browser) are replayed over HTTP through ``/console/graphql``; a
  page's time is the sum of its requests' (they run one after the other).
  ``anchor_p50_ms`` is the shell's own ``me`` request measured in the same
  interleaved rounds: the floor of a console request (session, schema, HTTP).
- ``page_ready_s`` (goal: at most 1.5): p50 per page of a fresh load of
  ``/console/#/<page>`` until the page has drawn its data (``#view[data-ready]``),
  and ``page_ready_max_s`` the slowest page; ``shell_ready_s`` is the anchor,
  the same load of a page with no data (the shell and its ``me`` request).
- ``requests``: API requests each page made (goal: at most 2).

``cpu`` names the host's CPU model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from bench.host import cpu_model

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
WAIT_MS = 60_000


def build_demo(url: str, customers: int) -> str:
    """The demo tenant in ``url``; a fresh admin key (runs in a child process)."""
    from engine.config import Settings
    from engine.demo import generate_demo
    from engine.runtime import Guanxi

    gx = Guanxi(settings=Settings(database_url=url))
    gx.upgrade()
    return generate_demo(gx, customers=customers).admin_key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(url: str):
    """``uvicorn --factory api.asgi:create_app`` on the database, as ``guanxi serve`` runs it; yields its origin."""
    port = _free_port()
    env = {**os.environ, "GUANXI_DATABASE_URL": url, "GUANXI_LOG_LEVEL": "warning",
           "GUANXI_SECRET_KEY": os.environ.get("GUANXI_SECRET_KEY", "bench-console-secret-key-0123456789")}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.asgi:create_app", "--host", "127.0.0.1",
                               "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{origin}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield origin
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def signed_in_browser(origin: str, key: str, lang: str = "zh"):
    """Chromium (the system's) with a console tab signed in with ``key``; yields the page."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, service_workers="block")
        page = context.new_page()
        page.goto(f"{origin}/console/", wait_until="load", timeout=WAIT_MS)
        page.evaluate("(lang) => localStorage.setItem('guanxi.console.lang', lang)", lang)
        page.reload(wait_until="load")
        page.get_by_test_id("signin-key").fill(key)
        page.get_by_test_id("signin-submit").click()
        page.get_by_test_id("menu").wait_for(timeout=WAIT_MS)
        page.locator("#view[data-ready]").wait_for(timeout=WAIT_MS)
        try:
            yield page
        finally:
            browser.close()


def menu_routes(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('nav.menu a')].map(a => a.dataset.route)")


def load(page, origin: str, route: str) -> tuple[float, list[str]]:
    """A fresh load of the page (files from the browser's cache, revalidated);
    seconds until its data is drawn, and the GraphQL bodies it sent."""
    sent: list[str] = []

    def note(request) -> None:
        if request.url.endswith("/console/graphql"):
            sent.append(request.post_data or "")

    page.goto("about:blank")  # so the next load is a whole new page, not a hash change
    page.on("request", note)
    try:
        started = time.perf_counter()
        page.goto(f"{origin}/console/#/{route}", wait_until="commit", timeout=WAIT_MS)
        page.locator("#view[data-ready]").wait_for(timeout=WAIT_MS)
        return time.perf_counter() - started, sent[1:]  # the first is the shell's me
    finally:
        page.remove_listener("request", note)


def replay(origin: str, cookies: dict, csrf: str, bodies: dict[str, list[str]], anchor: str, rounds: int) -> dict[str, list[float]]:
    """Each page's requests, replayed in interleaved rounds with the anchor: ms per page per round."""
    times: dict[str, list[float]] = {name: [] for name in [*bodies, "anchor"]}
    headers = {"content-type": "application/json", "x-csrf-token": csrf}
    with httpx.Client(base_url=origin, cookies=cookies, headers=headers, timeout=60) as client:
        for _ in range(rounds):
            for name, sent in [*bodies.items(), ("anchor", [anchor])]:
                total = 0.0
                for body in sent:
                    started = time.perf_counter()
                    response = client.post("/console/graphql", content=body)
                    total += time.perf_counter() - started
                    if response.status_code != 200 or "errors" in response.json():
                        raise RuntimeError(f"{name}: {response.text[:300]}")
                times[name].append(total * 1000)
    return times


def measure(origin: str, key: str, loads: int, rounds: int) -> dict:
    with signed_in_browser(origin, key) as page:
        routes = menu_routes(page)
        ready: dict[str, list[float]] = {route: [] for route in routes}
        shell: list[float] = []
        bodies: dict[str, list[str]] = {}
        for _ in range(loads):  # interleaved: each round loads every page once, and the anchor
            for route in routes:
                seconds, sent = load(page, origin, route)
                ready[route].append(seconds)
                bodies[route] = sent
            shell.append(load(page, origin, "no-such-page")[0])
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        csrf = page.evaluate("async () => (await (await fetch('session')).json()).csrf")
        anchor = json.dumps({"query": "{ me { role { code } } }", "variables": {}})
    served = replay(origin, cookies, csrf, {r: bodies[r] for r in ("overview", "rfm") if r in bodies}, anchor, rounds)
    p50 = {name: statistics.median(values) for name, values in served.items()}
    ready_p50 = {route: round(statistics.median(values), 3) for route, values in ready.items()}
    return {
        "overview_p50_ms": round(p50.get("overview", float("nan")), 1),
        "rfm_p50_ms": round(p50.get("rfm", float("nan")), 1),
        "anchor_p50_ms": round(p50["anchor"], 1),
        "server_ms_spread": {name: [round(min(v), 1), round(max(v), 1)] for name, v in served.items()},
        "page_ready_s": ready_p50,
        "page_ready_max_s": max(ready_p50.values()),
        "shell_ready_s": round(statistics.median(shell), 3),
        "requests": {route: len(sent) for route, sent in bodies.items()},
        "goal": {"overview_p50_ms": 150, "rfm_p50_ms": 150, "page_ready_s": 1.5, "requests": 2},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--database", default="bench-console.db", help="SQLite file to build the demo in and keep")
    parser.add_argument("--loads", type=int, default=5, help="browser loads of each page")
    parser.add_argument("--rounds", type=int, default=30, help="replays of each page's requests")
    args = parser.parse_args()
    url = os.environ.get("GUANXI_DATABASE_URL") or f"sqlite:///{Path(args.database).resolve()}"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        key = pool.submit(build_demo, url, args.customers).result()
    with serving(url) as origin:
        out = {"bench": "console", "database": url.split(":", 1)[0], "customers": args.customers, "cpu": cpu_model()}
        out.update(measure(origin, key, args.loads, args.rounds))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
