"""The satisfaction page in Chromium, against what the API says: for the
demo tenant's most recent active survey the index and NPS with their
intervals and counts, the index per dimension, every indicator's mean, share
satisfied and count, the monthly trend and its flags, the drivers'
importance–performance matrix and fix-first list; another survey and one
store chosen through the address; the surveys with their status and
responses. In at most two requests, without console errors or failed
requests, in Chinese and English; nothing that writes for a viewer."""

from __future__ import annotations

import re

from tests.browser.test_console_loyalty_complaints import assert_clean, digits

SURVEYS = "{ satisfactionSurveys { code status createdAt responseCount } }"
FIGURE = "count mean ciLow ciHigh satisfied"
ANALYTICS = """query($survey: String!, $where: SatisfactionAnalyticsWhere) {
  satisfactionIndex(survey: $survey, where: $where) { total { responses index { %(f)s }
    dimensions { measure { code label(lang: ZH) } figure { %(f)s } }
    indicators { measure { code } figure { %(f)s } }
    nps { answers promoters passives detractors score ciLow ciHigh } } }
  byStore: satisfactionIndex(survey: $survey, by: [STORE]) { slices { key { store } responses } }
  satisfactionTrend(survey: $survey, where: $where) { month index flag { code } changeFlag { code } }
  satisfactionDrivers(survey: $survey, where: $where) { matrix { points { dimension { code } quadrant { code } }
    fixFirst { dimension { code } } } } }""" % {"f": FIGURE}


def first_number(text: str) -> float:
    return float(re.search(r"[-+]?\d[\d,]*\.?\d*", text).group(0).replace(",", ""))


def close(text: str, value: float, digits_: int) -> bool:
    return abs(first_number(text) - value) <= 0.51 * 10 ** -digits_ + 1e-9


def default_survey(surveys: list[dict]) -> dict:
    active = [s for s in surveys if s["status"] == "ACTIVE"]
    answered = [s for s in active if s["responseCount"] > 0]
    return max(answered or active or surveys, key=lambda s: s["createdAt"])


def test_the_satisfaction_page_shows_the_index_nps_dimensions_indicators_trend_and_drivers(console, demo, graphql):
    api = graphql(demo["slug"], "ADMIN")
    surveys = api.execute(SURVEYS)["data"]["satisfactionSurveys"]
    chosen = default_survey(surveys)
    data = api.execute(ANALYTICS, {"survey": chosen["code"]})["data"]
    total = data["satisfactionIndex"]["total"]
    assert total["responses"] > 0 and total["indicators"]  # the demo has answers to show

    tab = console()
    tab.sign_in(demo["keys"]["ADMIN"])
    tab.use_lang("zh")
    tab.open("satisfaction")
    page = tab.page
    assert page.get_by_test_id("satisfaction-survey").input_value() == chosen["code"]
    assert digits(page.get_by_test_id("satisfaction-responses").locator(".stat-value").inner_text()) == str(total["responses"])
    assert close(page.get_by_test_id("satisfaction-index").locator(".stat-value").inner_text(), total["index"]["mean"], 1)
    ci = page.get_by_test_id("satisfaction-index-ci").first.inner_text()
    assert "95% 置信区间" in ci
    low, high = (float(x) for x in re.findall(r"\d+\.\d", ci)[:2])
    assert abs(low - total["index"]["ciLow"]) < 0.051 and abs(high - total["index"]["ciHigh"]) < 0.051
    nps = total["nps"]
    assert close(page.get_by_test_id("satisfaction-nps").locator(".stat-value").inner_text(), nps["score"], 1)
    counts = page.get_by_test_id("satisfaction-nps-ci").last.inner_text()
    assert f"{nps['answers']:,} 个回答" in counts and f"推荐 {nps['promoters']:,}" in counts
    assert f"贬损 {nps['detractors']:,}" in counts

    dims = page.get_by_test_id("satisfaction-dimensions").locator("tbody tr")
    assert dims.count() == len(total["dimensions"])
    for row, d in zip(dims.all(), total["dimensions"], strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == d["measure"]["label"]
        assert close(cells[1], (d["figure"]["mean"] - 1) * 25, 1) and close(cells[2], d["figure"]["mean"], 2)

    rows = page.get_by_test_id("satisfaction-indicators").locator("tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.indicator)") == [i["measure"]["code"] for i in total["indicators"]]
    for row, ind in zip(rows.all(), total["indicators"], strict=True):
        assert close(row.get_by_test_id("indicator-mean").inner_text(), ind["figure"]["mean"], 2)
        assert close(row.get_by_test_id("indicator-satisfied").inner_text(), ind["figure"]["satisfied"] * 100, 1)
        assert digits(row.get_by_test_id("indicator-count").inner_text()) == str(ind["figure"]["count"])

    trend = data["satisfactionTrend"]
    trend_rows = page.get_by_test_id("satisfaction-trend").locator("tbody tr")
    assert trend_rows.count() == len(trend)
    shown_flags = page.get_by_test_id("satisfaction-trend").locator("[data-flag]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.flag)")
    assert shown_flags == [f["code"] for p in trend for f in (p["flag"], p["changeFlag"]) if f]

    matrix = data["satisfactionDrivers"]["matrix"]
    assert matrix["points"]  # the demo's answers come from known weights
    quadrants = page.get_by_test_id("satisfaction-drivers").locator("[data-quadrant]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.quadrant)")
    assert quadrants == [p["quadrant"]["code"] for p in matrix["points"]]
    fix = page.get_by_test_id("satisfaction-fix-first").locator("li").evaluate_all("nodes => nodes.map(n => n.dataset.dimension)")
    assert fix == [p["dimension"]["code"] for p in matrix["fixFirst"]]

    for chart in ("satisfaction-dimension-chart", "satisfaction-trend-chart", "satisfaction-ipa"):
        assert page.locator(f"[data-testid={chart}] svg").count() == 1, chart

    listed = page.get_by_test_id("satisfaction-surveys").locator("tbody tr")
    assert listed.evaluate_all("rows => rows.map(r => r.dataset.survey)") == [s["code"] for s in surveys]
    for row, s in zip(listed.all(), surveys, strict=True):
        assert digits(row.get_by_test_id("survey-responses").inner_text()) == str(s["responseCount"])
        assert row.locator("[data-status]").get_attribute("data-status") == s["status"]
    assert_clean(tab, "satisfaction")

    tab.use_lang("en")
    assert "95% CI" in page.get_by_test_id("satisfaction-index-ci").first.inner_text()
    assert page.get_by_role("heading", name="Monthly trend").count() == 1
    assert page.get_by_role("heading", name="Drivers: importance–performance matrix").count() == 1
    assert_clean(tab, "satisfaction")


def test_a_survey_and_a_store_are_chosen_through_the_address(console, demo, graphql):
    api = graphql(demo["slug"], "VIEWER")
    surveys = api.execute(SURVEYS)["data"]["satisfactionSurveys"]
    chosen = default_survey(surveys)
    stores = [s for s in api.execute(ANALYTICS, {"survey": chosen["code"]})["data"]["byStore"]["slices"] if s["key"]["store"]]
    assert stores
    store = max(stores, key=lambda s: s["responses"])["key"]["store"]
    one = api.execute(ANALYTICS, {"survey": chosen["code"], "where": {"store": [store]}})["data"]
    total = one["satisfactionIndex"]["total"]

    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.use_lang("en")
    tab.open(f"satisfaction/{chosen['code']}/{store}")
    page = tab.page
    assert page.get_by_test_id("satisfaction-store").input_value() == store
    assert digits(page.get_by_test_id("satisfaction-responses").locator(".stat-value").inner_text()) == str(total["responses"])
    assert close(page.get_by_test_id("satisfaction-index").locator(".stat-value").inner_text(), total["index"]["mean"], 1)
    assert page.get_by_test_id("satisfaction-stores").locator("tbody tr").count() == len(
        api.execute(ANALYTICS, {"survey": chosen["code"]})["data"]["byStore"]["slices"])
    assert page.locator("[data-write]").count() == 0
    assert_clean(tab, "satisfaction")

    # Another survey from the select: the address follows, the page redraws.
    other = [s for s in surveys if s["code"] != chosen["code"]]
    if other:
        page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
        page.get_by_test_id("satisfaction-survey").select_option(other[0]["code"])
        tab.wait_ready()
        assert page.evaluate("() => location.hash") == f"#/satisfaction/{other[0]['code']}"
        shown = page.get_by_test_id("satisfaction-responses")
        if shown.count():
            figures = api.execute(ANALYTICS, {"survey": other[0]["code"]})["data"]["satisfactionIndex"]["total"]
            assert digits(shown.locator(".stat-value").inner_text()) == str(figures["responses"])
        assert_clean(tab, "satisfaction")

    tab.open("satisfaction/NO_SUCH_SURVEY")
    assert "NO_SUCH_SURVEY" in page.get_by_test_id("satisfaction-unknown").inner_text()
    assert page.get_by_test_id("satisfaction-surveys").locator("tbody tr").count() == len(surveys)
    assert_clean(tab, "satisfaction")
