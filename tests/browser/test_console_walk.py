"""Every page of the console, walked in Chromium on the demo tenant (every
module on) with each role: each draws its data in at most two API requests,
with no console error, no failed request and nothing off the host; a viewer
finds no control that writes, and a write forged from its session is refused
by the API."""

from __future__ import annotations

import pytest

from tests.browser.harness import WAIT_MS

ROLES = ["ADMIN", "AGENT", "ANALYST", "VIEWER"]
EVERY_MODULE_PAGE = {"rfm", "clv", "loyalty", "complaints", "satisfaction", "lifecycle", "campaigns"}


def walk(tab) -> dict[str, dict]:
    """Open every page of the menu, then a customer's page; what each recorded."""
    routes = tab.page.get_by_test_id("menu").locator("a").evaluate_all("links => links.map(a => a.dataset.route)")
    seen = {}
    for route in routes:
        tab.open(route)
        seen[route] = {**tab.last_page(), "writes": tab.page.locator("#view [data-write]").count(),
                       "error": tab.page.locator("#view .error").count()}
    return seen


@pytest.mark.parametrize("role", ROLES)
def test_every_page_draws_for_each_role_within_two_requests_with_no_error(console, demo, role):
    tab = console()
    tab.sign_in(demo["keys"][role])
    seen = walk(tab)
    assert EVERY_MODULE_PAGE | {"overview", "customers", "modules", "jobs"} <= set(seen)
    assert ("keys" in seen) == (role == "ADMIN")  # API keys: admins only
    for route, page in seen.items():
        assert page["route"] == route and page["error"] == 0, (route, page)
        assert page["requests"] <= 2, (route, page)
    if role == "VIEWER":
        assert {route: page["writes"] for route, page in seen.items() if page["writes"]} == {}
    if role == "ADMIN":
        assert seen["modules"]["writes"] > 0  # the marker is really used (the viewer check is not vacuous)
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == [] and tab.blocked == []


def test_both_languages_draw_every_page(console, demo):
    tab = console()
    tab.sign_in(demo["keys"]["ADMIN"])
    tab.page.get_by_test_id("lang-switch").click()
    tab.page.get_by_test_id("menu").wait_for(timeout=WAIT_MS)
    tab.wait_ready()
    lang = tab.page.evaluate("() => document.documentElement.lang")
    seen = walk(tab)
    assert all(page["error"] == 0 for page in seen.values()), seen
    assert tab.page.evaluate("() => document.documentElement.lang") == lang
    assert tab.console_errors == [] and tab.failed == []


def test_a_viewers_forged_write_from_the_page_is_refused_by_the_api(console, demo, graphql):
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    answer = tab.page.evaluate("""async () => {
      const csrf = (await (await fetch('session')).json()).csrf;
      const post = (headers) => fetch('graphql', {method: 'POST', headers: {'content-type': 'application/json', ...headers},
        body: JSON.stringify({query: 'mutation { disableModule(input: {name: "rfm"}) { errors { code } } }'})});
      const forged = await post({'x-csrf-token': csrf});
      const noToken = await post({});
      return {status: forged.status, body: await forged.json(), noToken: noToken.status};
    }""")
    assert answer["status"] == 200 and answer["body"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert answer["noToken"] == 403
    assert "rfm" in graphql(demo["slug"], "ADMIN").execute("{ me { enabledModules } }")["data"]["me"]["enabledModules"]


def test_pages_of_modules_a_tenant_has_not_enabled_do_not_appear(console, make_tenant, make_key):
    tenant = make_tenant(modules=("rfm",))
    tab = console()
    tab.sign_in(make_key(tenant, "ADMIN"))
    routes = set(tab.page.get_by_test_id("menu").locator("a").evaluate_all("links => links.map(a => a.dataset.route)"))
    assert "rfm" in routes and not routes & {"clv", "loyalty", "complaints", "satisfaction", "lifecycle", "campaigns"}
    tab.open("clv")  # typed in by hand: the page is not there either
    assert tab.page.get_by_test_id("not-found").is_visible()
