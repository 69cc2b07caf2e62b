"""Screenshots of the console's main pages for docs/console.md:
``make console-screenshots`` (or ``.venv/bin/python -m bench.console_screenshots``).

Builds a demo tenant (``--customers``, default 3,000) in a scratch SQLite
file, serves it, signs in as its admin in the system's Chromium and saves one
PNG per page in docs/console/ (Chinese, the console's first language; the
overview in English too).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.console import WAIT_MS, build_demo, serving, signed_in_browser

OUT = Path(__file__).resolve().parents[1] / "docs" / "console"
PAGES = ["overview", "customers", "customer", "rfm", "clv", "loyalty", "complaints", "satisfaction", "lifecycle", "campaigns", "modules", "jobs", "webhooks"]


def shoot(page, origin: str, route: str, path: Path) -> None:
    page.goto("about:blank")
    page.goto(f"{origin}/console/#/{route}", wait_until="load", timeout=WAIT_MS)
    page.locator("#view[data-ready]").wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(300)  # let the charts settle their layout
    page.screenshot(path=str(path), full_page=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'screenshots.db'}"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        key = pool.submit(build_demo, url, args.customers).result()
    with serving(url) as origin:
        for lang in ("zh", "en"):
            with signed_in_browser(origin, key, lang) as page:
                for route in PAGES if lang == "zh" else ["overview"]:
                    target = route
                    if route == "customer":
                        target = "customer/" + first_customer(page)
                    shoot(page, origin, target, args.out / f"{route}{'' if lang == 'zh' else '.en'}.png")
                    print(f"docs/console/{route}{'' if lang == 'zh' else '.en'}.png")


def first_customer(page) -> str:
    """The demo's biggest spender: a customer page with something on it."""
    return page.evaluate("""async () => {
      const csrf = (await (await fetch('session')).json()).csrf;
      const response = await fetch('graphql', {method: 'POST', headers: {'content-type': 'application/json', 'x-csrf-token': csrf},
        body: JSON.stringify({query: '{ customers(first: 1, orderBy: {field: GROSS_SPENT, direction: DESC}) { edges { node { id } } } }'})});
      return (await response.json()).data.customers.edges[0].node.id;
    }""")


if __name__ == "__main__":
    main()
