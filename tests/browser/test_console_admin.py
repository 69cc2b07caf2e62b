"""The console's admin pages in Chromium, on tenants of their own (never the
shared demo): modules switched and configured, jobs run, keys created and
revoked, exports downloaded, files imported; and what a viewer or an analyst
sees and may do (the API refusing a forged write)."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.browser.harness import WAIT_MS
from tests.test_export import build_shop

SHOP_MODULES = ("rfm", "loyalty")


@pytest.fixture
def shop(gx, make_tenant, make_key, console_server):
    """A tenant with ten customers, purchases and RFM scores; its keys; a GraphQL call over HTTP."""
    built = build_shop(gx, make_tenant, modules=SHOP_MODULES)
    keys = {role: make_key(built["slug"], role) for role in ("ADMIN", "ANALYST", "VIEWER")}

    def gql(query: str, variables: dict | None = None, role: str = "ADMIN", key: str | None = None) -> httpx.Response:
        return httpx.post(f"{console_server.origin}/graphql", json={"query": query, "variables": variables or {}},
                          headers={"Authorization": f"Bearer {key or keys[role]}"}, timeout=60)

    return {**built, "keys": keys, "gql": gql}


def _menu(tab) -> list[str]:
    return tab.page.get_by_test_id("menu").locator("a").evaluate_all("links => links.map(a => a.dataset.route)")


def _settings(shop, module: str) -> dict:
    body = shop["gql"]("{ modules { name settings } }").json()
    return next(m["settings"] for m in body["data"]["modules"] if m["name"] == module)


def _enabled(shop) -> list[str]:
    return shop["gql"]("{ me { enabledModules } }").json()["data"]["me"]["enabledModules"]


def test_an_admin_switches_a_module_and_the_menu_follows(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["ADMIN"])
    tab.open("modules")
    assert "loyalty" in _menu(tab)
    card = tab.page.get_by_test_id("module-loyalty")
    assert card.get_by_test_id("module-state-loyalty").inner_text() in ("已启用", "On")
    tab.page.get_by_test_id("module-switch-loyalty").uncheck()
    tab.page.locator("nav.menu a[data-route=loyalty]").wait_for(state="detached", timeout=WAIT_MS)
    tab.wait_ready()
    assert "loyalty" not in _enabled(shop) and "loyalty" not in _menu(tab)
    assert tab.page.get_by_test_id("module-loyalty").get_attribute("data-enabled") == "false"
    tab.page.get_by_test_id("module-switch-loyalty").check()
    tab.page.locator("nav.menu a[data-route=loyalty]").wait_for(timeout=WAIT_MS)
    tab.wait_ready()
    assert "loyalty" in _enabled(shop)
    assert tab.page.get_by_test_id("modules-flash").inner_text()
    # Dependencies are named by their titles.
    assert tab.last_page()["requests"] <= 2
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_a_bad_setting_is_refused_next_to_its_field_and_a_good_one_sticks(console, shop):
    before = _settings(shop, "rfm")
    tab = console()
    tab.sign_in(shop["keys"]["ADMIN"])
    tab.open("modules")
    card = tab.page.get_by_test_id("module-rfm")
    card.locator("summary").click()
    form = card.get_by_test_id("module-settings-rfm")
    k = form.get_by_test_id("setting-k")
    assert k.input_value() == str(before["k"]) == "5"
    assert form.locator("[data-field='settings.scheme'] select option").count() == 3
    k.fill("11")
    form.get_by_test_id("module-settings-rfm-save").click()
    error = form.locator("[data-field='settings.k'] .field-error")
    error.filter(has_text="between 2 and 10").wait_for(timeout=WAIT_MS)
    assert _settings(shop, "rfm") == before  # nothing saved
    assert form.locator("[data-field='settings.window_days'] .field-error").inner_text() == ""

    k.fill("4")
    form.get_by_test_id("setting-window_days").fill("365")
    form.get_by_test_id("module-settings-rfm-save").click()
    tab.page.get_by_test_id("module-saved-rfm").filter(has_text="保存").or_(
        tab.page.get_by_test_id("module-saved-rfm").filter(has_text="saved")).wait_for(timeout=WAIT_MS)
    assert error.inner_text() == ""
    after = _settings(shop, "rfm")
    assert (after["k"], after["window_days"], after["scheme"]) == (4, 365, before["scheme"])
    tab.page.reload(wait_until="load")  # drawn again from the API
    tab.wait_ready()
    tab.page.get_by_test_id("module-rfm").locator("summary").click()
    assert tab.page.get_by_test_id("module-settings-rfm").get_by_test_id("setting-k").input_value() == "4"
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_an_admin_runs_a_job_and_sees_its_run_finish(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["ADMIN"])
    tab.open("jobs")
    assert tab.last_page()["requests"] <= 2
    row = tab.page.get_by_test_id("jobs").locator("tr[data-job='rfm.rescore']")
    assert row.count() == 1
    tab.page.get_by_test_id("job-run-rfm.rescore").click()
    done = tab.page.get_by_test_id("job-runs").locator("tr[data-job='rfm.rescore'][data-status='SUCCEEDED']")
    done.wait_for(timeout=WAIT_MS)
    runs = shop["gql"]("{ jobRuns(job: \"rfm.rescore\") { edges { node { id status trigger result } } } }").json()
    [run] = [e["node"] for e in runs["data"]["jobRuns"]["edges"]]
    assert (run["status"], run["trigger"]) == ("SUCCEEDED", "API")
    assert done.get_attribute("data-run-id") == run["id"]
    assert run["result"][:20] in done.inner_text()

    # A schedule: every 30 minutes, paused; then back to the default.
    tab.page.get_by_test_id("job-every-loyalty.expire_points").fill("30")
    tab.page.get_by_test_id("job-paused-loyalty.expire_points").check()
    tab.page.get_by_test_id("job-save-loyalty.expire_points").click()
    tab.page.get_by_test_id("job-paused-badge-loyalty.expire_points").wait_for(timeout=WAIT_MS)
    jobs = {j["name"]: j for j in shop["gql"]("{ jobs { name overrideEveryMinutes paused } }").json()["data"]["jobs"]}
    assert (jobs["loyalty.expire_points"]["overrideEveryMinutes"], jobs["loyalty.expire_points"]["paused"]) == (30, True)
    tab.page.get_by_test_id("job-default-loyalty.expire_points").click()
    tab.page.get_by_test_id("job-paused-badge-loyalty.expire_points").wait_for(state="detached", timeout=WAIT_MS)
    jobs = {j["name"]: j for j in shop["gql"]("{ jobs { name overrideEveryMinutes paused } }").json()["data"]["jobs"]}
    assert (jobs["loyalty.expire_points"]["overrideEveryMinutes"], jobs["loyalty.expire_points"]["paused"]) == (None, False)
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_an_admin_creates_a_key_seen_once_and_revokes_it(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["ADMIN"])
    tab.open("keys")
    assert tab.last_page()["requests"] <= 2
    tab.page.get_by_test_id("key-name").fill("门店平板")
    tab.page.get_by_test_id("key-role").select_option("AGENT")
    tab.page.get_by_test_id("key-create").click()
    secret = tab.page.get_by_test_id("new-key").inner_text()
    assert secret.startswith("gx_")
    me = shop["gql"]("{ me { role { code } } }", key=secret).json()
    assert me["data"]["me"]["role"]["code"] == "AGENT"
    row = tab.page.get_by_test_id("keys").locator("tr", has_text="门店平板")
    row.wait_for(timeout=WAIT_MS)
    prefix = row.get_attribute("data-prefix")
    assert secret.startswith(prefix) and secret not in row.inner_text()
    row.get_by_test_id(f"key-revoke-{prefix}").click()
    row.get_by_test_id(f"key-confirm-{prefix}").click()
    tab.page.get_by_test_id("keys").locator(f"tr[data-prefix='{prefix}'][data-revoked='true']").wait_for(timeout=WAIT_MS)
    assert shop["gql"]("{ me { role { code } } }", key=secret).status_code == 401
    tab.page.reload(wait_until="load")  # shown once: never again
    tab.wait_ready()
    assert secret not in tab.page.locator("#view").inner_text()
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_an_analyst_downloads_an_export_whose_rows_match_the_api(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["ANALYST"])
    tab.open("data")
    assert tab.last_page()["requests"] <= 2
    assert tab.page.get_by_test_id("import").count() == 0 and tab.page.get_by_test_id("import-read-only").count() == 1
    with tab.page.expect_download(timeout=WAIT_MS) as info:
        tab.page.get_by_test_id("export-download").click()
    download = info.value
    assert download.suggested_filename == f"customers-{shop['slug']}.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    listed = shop["gql"]("{ customers(first: 100) { totalCount edges { node { code name } } } }", role="ANALYST").json()
    customers = listed["data"]["customers"]
    assert len(rows) == customers["totalCount"] == 10
    shown = lambda name: "'" + name if name[:1] in ("=", "+", "-", "@") else name  # noqa: E731 (formulas neutralised, docs/export.md)
    assert sorted((r["code"], r["name"]) for r in rows) == sorted((e["node"]["code"], shown(e["node"]["name"])) for e in customers["edges"])

    # A segment, as Excel.
    tab.page.get_by_test_id("export-what").select_option("segment")
    code = tab.page.get_by_test_id("export-segment").input_value()
    tab.page.get_by_test_id("export-format").select_option("xlsx")
    with tab.page.expect_download(timeout=WAIT_MS) as info:
        tab.page.get_by_test_id("export-download").click()
    assert info.value.suggested_filename == f"segment-{code}-{shop['slug']}.xlsx"
    import openpyxl

    sheet = list(openpyxl.load_workbook(io.BytesIO(info.value.path().read_bytes())).active.iter_rows(values_only=True))
    segment = shop["gql"]("query($c: RfmSegmentCode!) { customers(where: {rfm: {segment: {eq: $c}}}) { totalCount } }",
                          {"c": code}, role="ANALYST").json()
    assert len(sheet) - 1 == segment["data"]["customers"]["totalCount"] > 0
    assert tab.console_errors == [] and tab.off_host() == []


def test_an_admin_imports_a_csv_and_sees_what_was_stored_and_rejected(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["ADMIN"])
    tab.open("data")
    body = "code,name,phone,store\nN1,新顾客,13900000001,S1\nN2,坏号码,12345,S1\n".encode("utf-8-sig")  # Excel's "CSV UTF-8"
    tab.page.get_by_test_id("import-file").set_input_files(files=[{"name": "新客户.csv", "mimeType": "text/csv", "buffer": body}])
    tab.page.get_by_test_id("import-run").click()
    outcome = tab.page.get_by_test_id("import-outcome")
    outcome.wait_for(timeout=WAIT_MS)
    assert (outcome.get_attribute("data-stored"), outcome.get_attribute("data-rejected")) == ("1", "1")
    rejects = tab.page.get_by_test_id("import-rejects")
    assert "3" in rejects.locator("td").first.inner_text() and "phone" in rejects.inner_text()
    found = shop["gql"]("{ customers(where: {code: {eq: \"N1\"}}) { edges { node { name } } } }").json()
    assert found["data"]["customers"]["edges"][0]["node"]["name"] == "新顾客"
    # A file the importer cannot read at all: the reason is next to the file input, nothing stored.
    tab.page.get_by_test_id("import-file").set_input_files(files=[{"name": "x.csv", "mimeType": "text/csv", "buffer": b"code,nickname\nZ1,z\n"}])
    tab.page.get_by_test_id("import-run").click()
    tab.page.locator("[data-field='file'] .field-error").filter(has_text="nickname").wait_for(timeout=WAIT_MS)
    assert shop["gql"]("{ customers(where: {code: {eq: \"Z1\"}}) { totalCount } }").json()["data"]["customers"]["totalCount"] == 0
    # The refused file is the only failure (Chromium logs a 4xx answer to fetch as a console error).
    assert [f.split()[0] for f in tab.failed] == ["400"] and all("400" in e for e in tab.console_errors)
    assert tab.off_host() == []


def test_a_viewer_sees_no_controls_and_a_forged_write_is_refused(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["VIEWER"])
    assert not {"keys", "data"} & set(_menu(tab)) and "jobs" in _menu(tab)
    tab.open("jobs")  # the API keeps jobs to analysts: the page says so, and asks for nothing
    assert tab.page.get_by_test_id("jobs-analysts-only").count() == 1 and tab.last_page()["requests"] == 0
    tab.open("modules")
    view = tab.page.locator("#view")
    assert view.locator("[role=switch]").count() == 0 and view.locator("form, button").count() == 0
    assert view.get_by_test_id("module-state-rfm").inner_text() in ("已启用", "On")
    assert view.get_by_test_id("module-state-clv").inner_text() in ("未启用", "Off")
    for route in ("keys", "data"):
        tab.open(route)
        assert tab.page.get_by_test_id("not-found").count() == 1
    forged = tab.page.evaluate("""async () => {
      const csrf = (await (await fetch('session')).json()).csrf;
      const post = (headers) => fetch('graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: 'mutation { enableModule(input: {name: "clv"}) { errors { message } } }' }) });
      const withToken = await post({ 'x-csrf-token': csrf });
      const without = await post({});
      return { status: withToken.status, body: await withToken.json(), without: without.status };
    }""")
    assert forged["status"] == 200 and forged["body"]["data"] is None
    assert [e["extensions"]["code"] for e in forged["body"]["errors"]] == ["FORBIDDEN"]
    assert forged["without"] == 403
    assert "clv" not in _enabled(shop)
    assert all("403" in e for e in tab.console_errors) and tab.off_host() == []  # the refused token-less POST


def test_an_analyst_reads_jobs_and_may_score_but_not_schedule(console, shop):
    tab = console()
    tab.sign_in(shop["keys"]["ANALYST"])
    assert "keys" not in _menu(tab) and {"jobs", "data", "modules"} <= set(_menu(tab))
    tab.open("jobs")
    assert tab.page.get_by_test_id("jobs").locator("tr[data-job='rfm.rescore']").count() == 1
    assert tab.page.locator("#view [data-testid^='job-run-'], #view [data-testid^='job-save-']").count() == 0
    tab.page.get_by_test_id("jobs-score").click()
    tab.page.get_by_test_id("job-runs").locator("tr[data-job='scoring'][data-status='SUCCEEDED']").wait_for(timeout=WAIT_MS)
    tab.open("modules")
    assert tab.page.locator("#view [role=switch], #view form").count() == 0
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_a_tenant_with_no_module_on_gets_working_admin_pages(console, make_tenant, make_key):
    slug = make_tenant()
    tab = console()
    tab.sign_in(make_key(slug, "ADMIN"))
    for route in ("modules", "jobs", "keys", "data"):
        tab.open(route)
        assert tab.page.locator("#view .error").count() == 0, route
        assert tab.last_page()["requests"] <= 2, route
    tab.open("jobs")
    assert tab.page.get_by_test_id("jobs").inner_text() in ("已启用的模块没有定时任务。", "The enabled modules have no periodic jobs.")
    tab.open("data")
    assert tab.page.get_by_test_id("export-what").locator("option").evaluate_all("o => o.map(x => x.value)") == ["customers", "interactions"]
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
