"""The console's shell in Chromium: sign-in, the menu each role sees,
sign-out, the language switch, and nothing requested off the host."""

from __future__ import annotations

from tests.browser.harness import WAIT_MS


def test_a_wrong_key_is_refused_next_to_the_field_and_nothing_is_kept(console):
    tab = console()
    tab.page.goto(f"{tab.origin}/console/", wait_until="load", timeout=WAIT_MS)
    tab.page.get_by_test_id("signin-key").fill("gx_not-a-real-key")
    tab.page.get_by_test_id("signin-submit").click()
    error = tab.page.get_by_test_id("signin-error")
    error.filter(has_text="无效").or_(error.filter(has_text="Invalid")).wait_for(timeout=WAIT_MS)
    assert tab.page.context.cookies() == []


def test_the_platform_key_sees_the_tenants_and_nothing_else(console, demo):
    tab = console()
    tab.sign_in(demo["keys"]["PLATFORM"])
    menu = tab.page.get_by_test_id("menu").locator("a")
    assert menu.evaluate_all("links => links.map(a => a.dataset.route)") == ["tenants"]
    assert tab.page.get_by_test_id("tenants").get_by_text(demo["slug"], exact=True).count() == 1
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_signing_in_sets_a_strict_http_only_cookie_that_holds_no_key_and_sign_out_ends_it(console, demo):
    key = demo["keys"]["VIEWER"]
    tab = console()
    tab.sign_in(key)
    [cookie] = tab.page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and key not in cookie["value"]
    stored = tab.page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])")
    assert key not in stored and cookie["value"] not in stored
    tab.page.get_by_test_id("sign-out").click()
    tab.page.get_by_test_id("signin-key").wait_for(timeout=WAIT_MS)
    assert tab.page.context.cookies() == []
    # The old cookie is worthless once signed out.
    tab.page.context.add_cookies([cookie])
    tab.page.reload(wait_until="load")
    tab.page.get_by_test_id("signin-key").wait_for(timeout=WAIT_MS)
