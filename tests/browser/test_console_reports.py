"""The on-demand reports of the lifecycle and CLV pages in Chromium, against
what the API says: the pages still load in at most two requests with no
report asked for; each "compute" makes exactly one request and draws the
cohort retention heat map, the monthly rates (chart and table), the churn
risk validation, the monthly transition matrix, and the CLV model's
parameters with their standard errors and its calibration/holdout check; a
bad horizon shows the API's error next to its field and leaves the figures
shown; a viewer meets no write control. No console error, no failed request,
nothing off the host, in English and Chinese."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.browser.harness import WAIT_MS

COHORTS = "{ lifecycleCohorts(months: 12) { label cohorts { month customers active } } }"
RATES = "{ lifecycleRates(months: 12) { label months { month buyers new returning } } }"
VALIDATION = """query($split: DateTime!, $horizonDays: Int!) { lifecycleValidation(split: $split, horizonDays: $horizonDays) {
  customers cameBack calibration { band customers } } }"""
MONTHLY = """query($from: DateTime!) { lifecycleTransitions(from: $from, includeFirstStages: true) {
  month flows { fromStage { code } toStage { code } customers } } }"""
MODEL = """{ me { tenant { timezone } } clvModel { parameters { name value stdError } spendParameters { name value stdError }
  validation { customers totalActual byFrequency { frequency customers } } } }"""


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def clean(tab) -> None:
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == [] and tab.blocked == []


def requests(tab) -> int:
    return tab.page.evaluate("() => window.__console.requests")


def compute(tab, key: str) -> None:
    """Press a report's compute button; wait until it is drawn; it took exactly one request."""
    before = requests(tab)
    result = tab.page.get_by_test_id(f"{key}-result")
    tab.page.evaluate("(node) => node.removeAttribute('data-computed')", result.element_handle())
    tab.page.get_by_test_id(f"{key}-compute").click()
    tab.page.locator(f"[data-testid={key}-result][data-computed]").wait_for(timeout=WAIT_MS)
    assert requests(tab) == before + 1


def tenant_midnight(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone))


def months_back(zone: str, back: int) -> datetime:
    today = datetime.now(ZoneInfo(zone)).date()
    year, month = divmod(today.year * 12 + today.month - 1 - back, 12)
    return tenant_midnight(date(year, month + 1, 1), zone)


def test_the_lifecycle_reports_are_computed_on_demand_and_show_what_the_api_says(console, demo, graphql):
    api = graphql(demo["slug"], "VIEWER")
    zone = api.execute(MODEL)["data"]["me"]["tenant"]["timezone"]
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.use_lang("en")
    tab.open("lifecycle")
    page = tab.page
    last = tab.last_page()
    assert last["route"] == "lifecycle" and last["requests"] <= 2, last
    assert page.locator("[data-computed]").count() == 0  # nothing heavy asked for on load
    assert page.get_by_test_id("lifecycle-cohorts-status").inner_text() == "Not computed yet"

    # Cohorts: one row per first-purchase month; "customers buying" shows the API's counts.
    compute(tab, "lifecycle-cohorts")
    cohorts = api.execute(COHORTS)["data"]["lifecycleCohorts"]
    assert len(cohorts) == 1 and cohorts[0]["cohorts"]
    table = page.get_by_test_id("lifecycle-cohort-table")
    assert table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.month)") == [c["month"] for c in cohorts[0]["cohorts"]]
    first = next(c for c in cohorts[0]["cohorts"] if c["customers"])
    assert table.locator(f'tr[data-month="{first["month"]}"] td[data-k="0"]').inner_text() == "100%"
    before = requests(tab)
    page.get_by_test_id("lifecycle-cohorts-show").select_option("active")  # another view of the same figures
    assert requests(tab) == before
    for cohort in cohorts[0]["cohorts"]:
        row = table.locator(f'tr[data-month="{cohort["month"]}"]')
        assert digits(row.get_by_test_id("cohort-customers").inner_text()) == str(cohort["customers"])
        shown = row.locator("td[data-k]").all_inner_texts()
        expected = [str(n) for n in cohort["active"]] if cohort["customers"] else ["—"] * len(cohort["active"])
        assert [digits(s) or s for s in shown] == expected, cohort["month"]

    # Monthly rates: a line chart and the months' figures.
    compute(tab, "lifecycle-rates")
    page.locator("[data-testid=lifecycle-rates-chart][data-drawn] svg").wait_for(timeout=WAIT_MS)
    page.get_by_test_id("lifecycle-rates-toggle").click()
    rates = api.execute(RATES)["data"]["lifecycleRates"][0]["months"]
    rows = page.get_by_test_id("lifecycle-rates-table").locator("tbody tr")
    assert rows.count() == len(rates)
    for row, month in zip(rows.all(), rates):
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == month["month"] and [digits(c) for c in cells[1:4]] == [str(month[k]) for k in ("buyers", "new", "returning")]

    # Risk validation as of a chosen day; a bad horizon: the API's error at its field, the figures stay.
    split_day = datetime.now(ZoneInfo(zone)).date() - timedelta(days=240)
    page.get_by_test_id("lifecycle-validation-split").fill(split_day.isoformat())
    page.get_by_test_id("lifecycle-validation-horizon").fill("90")
    compute(tab, "lifecycle-validation")
    report = api.execute(VALIDATION, {"split": tenant_midnight(split_day, zone).isoformat(), "horizonDays": 90})["data"]["lifecycleValidation"]
    assert digits(page.get_by_test_id("lifecycle-val-customers").locator(".stat-value").inner_text()) == str(report["customers"])
    assert page.get_by_test_id("lifecycle-val-came-back").locator(".stat-value").inner_text().startswith(f"{report['cameBack']:,} (")
    bands = page.get_by_test_id("lifecycle-val-calibration").locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert [digits(b) for b in bands] == [str(b["customers"]) for b in report["calibration"]]
    page.get_by_test_id("lifecycle-validation-horizon").fill("5000")
    page.get_by_test_id("lifecycle-validation-compute").click()
    error = page.locator('[data-testid=lifecycle-validation-form] [data-field="horizonDays"] .field-error')
    page.wait_for_function("() => document.querySelector('[data-testid=lifecycle-validation-form] [data-field=horizonDays] .field-error').textContent !== ''",
                           timeout=WAIT_MS)
    assert "3650" in error.inner_text()
    assert digits(page.get_by_test_id("lifecycle-val-customers").locator(".stat-value").inner_text()) == str(report["customers"])

    # The monthly transition matrix with first stages: the latest month's cells are the API's.
    page.get_by_test_id("lifecycle-monthly-first").check()
    compute(tab, "lifecycle-monthly")
    months = api.execute(MONTHLY, {"from": months_back(zone, 11).isoformat()})["data"]["lifecycleTransitions"]
    assert months, "the demo has stage changes"
    assert page.get_by_test_id("lifecycle-monthly-month").locator("option").evaluate_all("os => os.map(o => o.value)") == [m["month"] for m in months]
    latest = months[-1]
    matrix = page.locator(f'[data-testid=lifecycle-monthly-matrix][data-month="{latest["month"]}"]')
    for flow in latest["flows"]:
        source = flow["fromStage"]["code"] if flow["fromStage"] else "NONE"
        assert digits(matrix.locator(f'tr[data-from="{source}"] td[data-to="{flow["toStage"]["code"]}"]').inner_text()) == str(flow["customers"])
    if len(months) > 1:
        page.get_by_test_id("lifecycle-monthly-month").select_option(months[0]["month"])
        page.locator(f'[data-testid=lifecycle-monthly-matrix][data-month="{months[0]["month"]}"]').wait_for(timeout=WAIT_MS)

    assert page.locator("[data-write]").count() == 0  # a viewer: reports, but nothing that writes
    assert page.locator("#view > .error").count() == 0
    clean(tab)


def test_the_clv_report_shows_the_models_parameters_and_holdout_check_in_chinese(console, demo, graphql):
    model = graphql(demo["slug"], "VIEWER").execute(MODEL)["data"]["clvModel"]
    assert model and model["parameters"]
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.use_lang("zh")
    tab.open("clv")
    page = tab.page
    assert tab.last_page()["requests"] <= 2
    assert page.get_by_test_id("clv-report-status").inner_text() == "尚未计算"
    assert page.get_by_test_id("clv-report-parameters").count() == 0

    compute(tab, "clv-report")
    rows = page.get_by_test_id("clv-report-parameters").locator("tbody tr")
    assert rows.locator("td:nth-child(1)").all_inner_texts() == [p["name"] for p in model["parameters"]]
    for row, p in zip(rows.all(), model["parameters"]):
        cells = row.locator("td").all_inner_texts()
        assert cells[1:] == [f"{p['value']:,.4f}", f"{p['stdError']:,.4f}"], p
    if model["spendParameters"]:
        spend = page.get_by_test_id("clv-report-spend-parameters").locator("tbody td:nth-child(1)").all_inner_texts()
        assert spend == [p["name"] for p in model["spendParameters"]]
    check = model["validation"]
    if check:
        holdout = page.get_by_test_id("clv-report-holdout").inner_text()
        assert f"{check['customers']:,}" in holdout and f"{check['totalActual']:,.0f}" in holdout
        groups = page.get_by_test_id("clv-report-by-frequency").locator("tbody td:nth-child(1)").all_inner_texts()
        assert groups == [g["frequency"] for g in check["byFrequency"]]
        page.locator("[data-testid=clv-report-holdout-chart][data-drawn] svg").wait_for(timeout=WAIT_MS)
        assert "留出期" in page.get_by_test_id("clv-report").inner_text()
    else:
        assert page.get_by_test_id("clv-report-holdout").count() == 1
    assert page.locator("[data-write]").count() == 0
    clean(tab)
