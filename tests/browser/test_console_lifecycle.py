"""The lifecycle page in Chromium, against what the API says: customers and
shares per stage, the stage changes of the last 30 and 90 days, the churn
reasons, the work list linking to each customer's 360 and the win-back lists;
no write control for a viewer; an agent making a win-back list on a tenant of
its own (not the demo), a bad window shown next to its field. In at most two
requests, without console errors or failed requests, in Chinese and English."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.browser.harness import WAIT_MS

STAGES = """{ lifecycleStages { customers stages { stage { code zh: label(lang: ZH) en: label(lang: EN) } customers share } } }"""
WINDOW = """query($from: DateTime!) {
  lifecycleTransitions(from: $from) { month flows { fromStage { code } toStage { code } customers } }
  lifecycleChurnReport(from: $from) { total byReason { key count } }
  lifecycleWorkList(first: 20) { rank customerId }
  lifecycleWinbackLists(first: 10) { edges { node { id name outcomeBySegment { segment customers wonBack } } } } }"""


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def assert_clean(tab) -> None:
    last = tab.last_page()
    assert last["route"] == "lifecycle" and 1 <= last["requests"] <= 2, last
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
    assert tab.page.locator("#view .error").count() == 0


def window(graphql, slug: str, days: int) -> dict:
    since = datetime.now(timezone.utc) - timedelta(days=days)
    return graphql(slug, "VIEWER").execute(WINDOW, {"from": since.isoformat()})["data"]


def moves(months) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for month in months:
        for f in month["flows"]:
            if f["fromStage"]:
                key = (f["fromStage"]["code"], f["toStage"]["code"])
                out[key] = out.get(key, 0) + f["customers"]
    return out


def test_the_lifecycle_page_shows_the_apis_stages_moves_reasons_work_list_and_winback_lists(console, demo, graphql):
    staged = graphql(demo["slug"], "VIEWER").execute(STAGES)["data"]["lifecycleStages"]
    assert staged and staged["customers"] > 0  # the demo has stages to show
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    page = tab.page
    tab.use_lang("zh")
    tab.open("lifecycle")
    for lang in ("zh", "en"):
        tab.use_lang(lang)  # redraws the page in the other language
        assert_clean(tab)
        rows = page.get_by_test_id("lifecycle-stages").locator("tbody tr")
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.stage)") == [s["stage"]["code"] for s in staged["stages"]]
        for s in staged["stages"]:
            row = page.locator(f'[data-testid=lifecycle-stages] tr[data-stage="{s["stage"]["code"]}"]')
            assert s["stage"][lang] in row.inner_text()  # the API's label in the page's language
            assert digits(row.get_by_test_id("stage-customers").inner_text()) == str(s["customers"])
            share = row.get_by_test_id("stage-share").inner_text()
            assert abs(float(re.sub(r"[^\d.]", "", share)) - s["share"] * 100) < 0.051, (share, s["share"])
        assert digits(page.get_by_test_id("lifecycle-staged").locator(".stat-value").inner_text()) == str(staged["customers"])
        assert page.locator("[data-testid=lifecycle-stage-chart] svg").count() == 1
    assert page.locator("[data-write]").count() == 0  # a viewer: no win-back form
    assert "Win-back lists" in page.inner_text("#view")

    for days in (30, 90):
        api = window(graphql, demo["slug"], days)
        tab.open(f"lifecycle/{days}")
        assert_clean(tab)
        assert page.get_by_test_id(f"lifecycle-window-{days}").get_attribute("aria-current") == "true"
        expected = moves(api["lifecycleTransitions"])
        assert digits(page.get_by_test_id("lifecycle-moves").inner_text()) == str(sum(expected.values()))
        for (src, dst), n in expected.items():
            cell = page.locator(f'[data-testid=lifecycle-transitions] tr[data-from="{src}"] td[data-to="{dst}"]')
            assert digits(cell.inner_text()) == str(n), (src, dst)
        report = api["lifecycleChurnReport"]
        assert digits(page.get_by_test_id("lifecycle-reasons-total").locator(".stat-value").inner_text()) == str(report["total"])
        if report["total"]:
            counts = page.get_by_test_id("lifecycle-reasons").locator("tbody tr td:nth-child(3)").all_inner_texts()
            assert [digits(c) for c in counts] == [str(r["count"]) for r in report["byReason"]]

    work = api["lifecycleWorkList"]
    assert work, "the demo has customers to call"
    shown = page.get_by_test_id("lifecycle-work").locator("tbody tr")
    assert shown.evaluate_all("rows => rows.map(r => r.dataset.customer)") == [w["customerId"] for w in work]
    first = shown.first.get_by_test_id("lifecycle-work-customer")
    assert first.get_attribute("href") == f"#/customer/{work[0]['customerId']}"

    lists = [e["node"] for e in api["lifecycleWinbackLists"]["edges"]]
    table = page.get_by_test_id("lifecycle-winback")
    if lists:
        assert table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.list)") == [l["id"] for l in lists]
        row = table.locator(f'tr[data-list="{lists[0]["id"]}"]')
        assert lists[0]["name"] in row.inner_text()
        for outcome in lists[0]["outcomeBySegment"]:
            assert f"{outcome['wonBack']} of {outcome['customers']}" in row.inner_text()
    else:
        assert table.inner_text() == "No win-back lists yet"

    page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    first.click()  # the work list's link opens the customer's 360
    tab.wait_ready()
    assert tab.last_page()["route"] == "customer" and tab.console_errors == [] and tab.failed == []


def test_an_agent_makes_a_winback_list_with_its_error_next_to_the_field(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("lifecycle",))
    tab = console()
    tab.sign_in(make_key(slug, "AGENT"))
    tab.use_lang("zh")
    tab.open("lifecycle")
    assert_clean(tab)
    page = tab.page
    assert page.get_by_test_id("lifecycle-none").count() == 1  # no stage run yet on a new tenant
    assert page.get_by_test_id("lifecycle-winback").inner_text() == "还没有召回名单"

    form = page.get_by_test_id("lifecycle-winback-create")
    form.get_by_test_id("lifecycle-winback-name").fill("Q3 挽回")
    form.get_by_test_id("lifecycle-winback-window").fill("5000")  # over 3,650 days
    form.get_by_test_id("lifecycle-winback-submit").click()
    error = form.locator('[data-field="windowDays"] .field-error')
    error.wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelector('[data-field=windowDays] .field-error').textContent !== ''", timeout=WAIT_MS)
    api = graphql(slug, "VIEWER").execute("{ lifecycleWinbackLists { edges { node { id name windowDays } } } }")["data"]
    assert api["lifecycleWinbackLists"]["edges"] == []

    form.get_by_test_id("lifecycle-winback-window").fill("60")
    form.get_by_test_id("lifecycle-winback-submit").click()
    page.locator("[data-testid=lifecycle-winback] tbody tr").wait_for(timeout=WAIT_MS)
    made = graphql(slug, "VIEWER").execute("{ lifecycleWinbackLists { edges { node { id name windowDays } } } }")["data"]
    nodes = [e["node"] for e in made["lifecycleWinbackLists"]["edges"]]
    assert [(n["name"], n["windowDays"]) for n in nodes] == [("Q3 挽回", 60)]
    row = page.locator(f'[data-testid=lifecycle-winback] tr[data-list="{nodes[0]["id"]}"]')
    assert "Q3 挽回" in row.inner_text() and "60 天" in row.inner_text()
    assert form.locator('[data-field="windowDays"] .field-error').inner_text() == ""
    assert "Q3 挽回" in page.get_by_test_id("lifecycle-winback-notice").inner_text()
    assert tab.console_errors == [] and tab.failed == []
