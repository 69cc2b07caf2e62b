"""The overview (home page) in Chromium, as the demo's admin and viewer: tiles
with numbers and their comparison, the revenue trend drawn, the modules'
tiles, switching period and store redraws with other figures, one request,
no console error, nothing off the host; a tenant without modules sees no
module tile."""

from __future__ import annotations

import re

import pytest

from tests.browser.harness import WAIT_MS

CORE_TILES = ("overview-revenue", "overview-purchases", "overview-aov", "overview-active", "overview-new",
              "overview-returning", "overview-customers", "overview-refunds")
MODULE_TILES = ("overview-retention", "overview-repurchase", "overview-satisfaction", "overview-nps", "overview-responses",
                "overview-complaints", "overview-sla", "overview-first-response")


def tile_value(tab, testid: str) -> str:
    return tab.page.get_by_test_id(testid).locator(".stat-value").inner_text()


def assert_clean(tab) -> None:
    assert tab.last_page()["route"] == "overview"
    assert tab.last_page()["requests"] <= 2
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


@pytest.mark.parametrize("role", ["ADMIN", "VIEWER"])
def test_the_overview_shows_the_figures_the_trend_and_the_modules(console, demo, role):
    tab = console()
    tab.sign_in(demo["keys"][role])  # the home page
    assert tab.last_page()["route"] == "overview"
    tab.open("overview/90d")
    for testid in CORE_TILES + MODULE_TILES:
        assert tab.page.get_by_test_id(testid).count() == 1, testid
    for testid in CORE_TILES:
        assert re.search(r"\d", tile_value(tab, testid)), testid
        assert re.search(r"(上期|Previous) .*\d", tab.page.get_by_test_id(testid).locator(".stat-compare").inner_text()), testid
    assert re.search(r"\d", tile_value(tab, "overview-sla")) and re.search(r"\d", tile_value(tab, "overview-retention"))
    tab.page.locator("[data-testid=overview-trend] svg").first.wait_for(timeout=WAIT_MS)
    assert tab.page.locator("[data-testid=overview-trend] svg path").count() > 2  # the two lines and the axes
    stores = tab.page.get_by_test_id("overview-by-store").locator("tbody tr")
    assert stores.count() >= 2
    assert_clean(tab)

    ninety = (tile_value(tab, "overview-revenue"), tile_value(tab, "overview-purchases"))
    ninety_range = tab.page.get_by_test_id("overview-range").inner_text()
    tab.page.get_by_test_id("overview-period-7d").click()
    tab.page.wait_for_function("() => location.hash === '#/overview/7d'")
    tab.wait_ready()
    assert tab.page.get_by_test_id("overview-period-7d").get_attribute("aria-current") == "true"
    assert (tile_value(tab, "overview-revenue"), tile_value(tab, "overview-purchases")) != ninety
    assert tab.page.get_by_test_id("overview-range").inner_text() != ninety_range
    tab.page.locator("[data-testid=overview-trend] svg").first.wait_for(timeout=WAIT_MS)
    assert_clean(tab)

    # One store: its revenue is the by-store table's row for it, less than all stores' together.
    tab.open("overview/90d")
    first_store = stores.first.locator("td").first.inner_text()
    store_revenue = stores.first.locator("td").nth(1).inner_text()
    tab.page.get_by_test_id("overview-store").select_option(first_store)
    tab.page.wait_for_function("() => location.hash.startsWith('#/overview/90d/')")
    tab.wait_ready()
    assert tile_value(tab, "overview-revenue") == store_revenue != ninety[0]
    assert tab.page.get_by_test_id("overview-store").input_value() == first_store
    assert_clean(tab)


def test_a_tenant_without_modules_sees_only_the_core_tiles(console, make_tenant, make_key):
    tab = console()
    tab.sign_in(make_key(make_tenant(), "VIEWER"))
    tab.open("overview/30d")
    for testid in CORE_TILES:
        assert tab.page.get_by_test_id(testid).count() == 1, testid
    assert tile_value(tab, "overview-purchases") == "0"
    for testid in MODULE_TILES:
        assert tab.page.get_by_test_id(testid).count() == 0, testid
    tab.page.locator("[data-testid=overview-trend] svg").first.wait_for(timeout=WAIT_MS)
    assert tab.last_page()["requests"] == 1
    assert_clean(tab)
