"""The campaigns page in Chromium, against what the API says: the demo's
campaigns (state, segment, messages sent and held out) and saved segments
(definition, size); a campaign's evaluation (participation, each group's
conversion and revenue, the uplifts with their intervals, satisfaction);
a campaign not yet launched, of a tenant of its own, without a report. Read
only: a viewer meets no write control. Each view in one request, without
console errors or failed requests, in Chinese and English."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from engine.services.interactions import record_interactions
from engine.types import utcnow
from tests.browser.test_console_loyalty_complaints import assert_clean, digits
from tests.plugins.campaigns.helpers import add_customers

LIST = """{ campaigns(first: 100) { edges { node { id name state launchedAt memberCount heldOutCount sentCount segment { name } } } }
  campaignSegments(first: 100) { edges { node { id name where memberCount } } } }"""
GROUP = "customers converted conversionRate revenue revenuePerCustomer"
REPORT = f"""query($id: ID!) {{ campaign(id: $id) {{ name state report {{ launched
  participation {{ sent delivered opened redeemed failed }}
  targeted {{ {GROUP} }} holdout {{ {GROUP} }}
  conversionUplift {{ estimate low high pValue }} revenueUplift {{ estimate low high pValue }}
  targetedSatisfaction {{ responses }} holdoutSatisfaction {{ responses }} }} }} }}"""


def number_in(text: str) -> float:
    """The first number in a formatted figure ('¥1,234.50', '+3.2 pp', '12.5%')."""
    match = re.search(r"[-−]?\d[\d,]*(?:\.\d+)?", text)
    assert match, text
    return float(match.group(0).replace(",", "").replace("−", "-"))


def check_uplift(page, report) -> None:
    """The uplift table says what the API says: the estimate, its interval and p-value, or why there is none."""
    for key, scale in (("conversionUplift", 100), ("revenueUplift", 1)):
        uplift = report[key]
        cells = page.locator(f'[data-uplift="{key}"] td').all_inner_texts()
        if uplift["estimate"] is None:  # a group under 30 customers
            assert cells[1:4] == ["—", "—", "—"] and cells[4].strip()
            continue
        assert abs(abs(number_in(cells[1])) - scale * abs(uplift["estimate"])) <= 0.0051 * (10 if scale == 100 else 1)
        assert cells[1].startswith("+") == (uplift["estimate"] > 0)
        ends = re.findall(r"\d[\d,]*\.\d+", cells[2])
        assert len(ends) == 2, cells[2]
        for shown, value in zip(ends, (uplift["low"], uplift["high"])):
            assert abs(float(shown.replace(",", "")) - scale * abs(value)) <= 0.0051 * (10 if scale == 100 else 1)
        assert abs(float(cells[3]) - uplift["pValue"]) <= 0.0006
    assert page.get_by_test_id("campaign-conversionUplift").inner_text() == "—" or \
        page.get_by_test_id("campaign-conversionUplift").inner_text().endswith("pp")


def test_the_list_shows_the_campaigns_and_saved_segments_of_the_api(console, demo, graphql):
    data = graphql(demo["slug"], "VIEWER").execute(LIST)["data"]
    campaigns = [e["node"] for e in data["campaigns"]["edges"]]
    segments = [e["node"] for e in data["campaignSegments"]["edges"]]
    assert campaigns and segments and campaigns[0]["sentCount"] > 0  # the demo has something to show

    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open("campaigns")
    for lang in ("zh", "en"):
        tab.use_lang(lang)  # draws the page again in that language
        page = tab.page
        rows = page.get_by_test_id("campaigns-list").locator("tbody tr")
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.campaign)") == [c["id"] for c in campaigns]
        for campaign in campaigns:
            row = page.locator(f'[data-campaign="{campaign["id"]}"]')
            cells = row.locator("td").all_inner_texts()
            assert cells[0] == campaign["name"] and cells[3] == campaign["segment"]["name"]
            assert row.locator("[data-state]").get_attribute("data-state") == campaign["state"]
            assert [digits(c) for c in cells[7:10]] == [
                str(campaign["memberCount"]), str(campaign["sentCount"]), str(campaign["heldOutCount"])]
        for segment in segments:
            row = page.locator(f'[data-segment="{segment["id"]}"]')
            assert segment["name"] in row.inner_text()
            assert digits(row.locator("td.num").inner_text()) == str(segment["memberCount"])
        demo_segment = next(s for s in segments if s["where"] == {"purchaseCount": {"gte": 2}})
        assert page.locator(f'[data-segment="{demo_segment["id"]}"] code').inner_text() == "purchaseCount ≥ 2"
        if campaigns[0]["state"] == "EVALUATION":  # the demo's, finished
            assert page.locator("[data-state]").first.inner_text() == ("评估" if lang == "zh" else "Evaluation")
        heading = page.locator("#view h1").inner_text()
        assert heading == ("营销活动" if lang == "zh" else "Campaigns")
        assert page.locator("#view [data-write]").count() == 0
        assert_clean(tab, "campaigns")
        assert tab.last_page()["requests"] == 1


def test_a_campaigns_report_shows_the_api_figures(console, demo, graphql):
    api = graphql(demo["slug"], "ADMIN")
    campaign_id = api.execute(LIST)["data"]["campaigns"]["edges"][0]["node"]["id"]
    campaign = api.execute(REPORT, {"id": campaign_id})["data"]["campaign"]
    report = campaign["report"]
    assert report["launched"] and report["participation"]["sent"] > 0 and report["targeted"]["converted"] > 0

    tab = console()
    tab.sign_in(demo["keys"]["ADMIN"])
    for lang in ("en", "zh"):
        tab.use_lang(lang)
        tab.open("campaigns")
        tab.page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
        tab.page.get_by_test_id("campaigns-list").get_by_role("link", name=campaign["name"]).click()
        tab.wait_ready()
        page = tab.page
        assert page.evaluate("() => location.hash") == f"#/campaigns/{campaign_id}"
        assert campaign["name"] in page.get_by_test_id("campaign-name").inner_text()
        for key, value in report["participation"].items():
            assert digits(page.get_by_test_id(f"campaign-{key}").locator(".stat-value").inner_text()) == str(value)
        for group in ("targeted", "holdout"):
            figures = report[group]
            row = page.locator(f'[data-testid=campaign-groups] [data-group="{group}"]')
            assert digits(row.locator('[data-col="customers"]').inner_text()) == str(figures["customers"])
            assert digits(row.locator('[data-col="converted"]').inner_text()) == str(figures["converted"])
            assert abs(number_in(row.locator('[data-col="conversionRate"]').inner_text())
                       - 100 * figures["conversionRate"]) <= 0.05 + 1e-9
            revenue = row.locator('[data-col="revenue"]').inner_text()
            assert "¥" in revenue and abs(number_in(revenue) - figures["revenue"]) <= 0.005 + 1e-9
        check_uplift(page, report)
        satisfaction = page.get_by_test_id("campaign-satisfaction")
        if report["targetedSatisfaction"] is not None:
            assert digits(satisfaction.locator("tbody tr").first.locator("td").nth(1).inner_text()) == str(
                report["targetedSatisfaction"]["responses"])
        else:
            assert satisfaction.count() == 0
        assert page.get_by_test_id("campaign-plan").locator('[data-key="channels"]').inner_text() == (
            "微信 → 短信" if lang == "zh" else "WeChat → SMS")
        assert page.get_by_test_id("campaign-transitions").locator("tbody tr").count() >= 3
        assert page.locator("#view [data-write]").count() == 0
        assert_clean(tab, "campaigns")
        assert tab.last_page()["requests"] == 1


def test_a_campaign_not_launched_has_no_report_and_a_lone_tenant_shows_empty_lists(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("campaigns",))
    tab = console()
    tab.sign_in(make_key(slug, "ANALYST"))
    tab.use_lang("en")
    tab.open("campaigns")
    assert tab.page.get_by_test_id("campaigns-list").inner_text() == "No campaigns yet"
    assert tab.page.get_by_test_id("campaign-segments").inner_text() == "No saved segments yet"
    assert_clean(tab, "campaigns")

    created = graphql(slug, "ADMIN").execute("""mutation { createCampaign(input: {name: "<b>Draft</b>", goal: AWARENESS,
      channels: [SMS, APP_PUSH], budget: "1500"}) { campaign { id } errors { field message } } }""")["data"]["createCampaign"]
    assert created["errors"] == []
    campaign_id = created["campaign"]["id"]
    tab.page.reload(wait_until="load")  # the same address: opening it again would not draw it again
    tab.wait_ready()
    row = tab.page.locator(f'[data-campaign="{campaign_id}"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "<b>Draft</b>" and tab.page.locator("#view b").count() == 0  # text, never markup
    assert cells[1] == "Preparation" and cells[3] == "(no segment)" and cells[4] == "SMS → App push"
    assert cells[7:10] == ["—", "—", "—"]

    tab.open(f"campaigns/{campaign_id}")
    assert tab.page.get_by_test_id("campaign-not-launched").is_visible()
    assert tab.page.get_by_test_id("campaign-plan").locator('[data-key="budget"]').inner_text() == "CN¥1,500"  # CNY in English
    assert tab.page.get_by_test_id("campaign-transitions").inner_text() == "No data yet"
    assert_clean(tab, "campaigns")


def test_a_launched_campaign_with_large_groups_shows_its_uplift_interval(console, gx, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        ids = add_customers(ctx, 160, purchase_count=3, total_spent=500)
    admin = graphql(slug, "ADMIN")
    segment = admin.execute("""mutation { saveCampaignSegment(input: {name: "Regulars", where: {purchaseCount: {gte: 3}}}) {
      campaignSegment { id } errors { message } } }""")["data"]["saveCampaignSegment"]["campaignSegment"]
    created = admin.execute("""mutation($segment: ID!) { createCampaign(input: {name: "Autumn", goal: SALES, channels: [SMS],
      segmentId: $segment, holdoutShare: 0.5, holdoutSeed: 7}) { campaign { id } errors { message } } }""",
                            {"segment": segment["id"]})["data"]["createCampaign"]
    campaign_id = created["campaign"]["id"]
    launched = admin.execute("""mutation($id: ID!) { launchCampaign(input: {id: $id}) { errors { message } } }""",
                             {"id": campaign_id})["data"]["launchCampaign"]
    assert launched["errors"] == []
    with gx.tenant(slug) as ctx:  # every third customer buys in the window, held out or not
        record_interactions(ctx, [{"customer_id": cid, "kind": "PURCHASE", "amount": Decimal(100 + i % 7 * 50),
                                   "occurred_at": utcnow() + timedelta(minutes=1)} for i, cid in enumerate(ids) if i % 3 == 0])
    report = admin.execute(REPORT, {"id": campaign_id})["data"]["campaign"]["report"]
    assert report["conversionUplift"]["estimate"] is not None and report["revenueUplift"]["estimate"] is not None

    tab = console()
    tab.sign_in(make_key(slug, "VIEWER"))
    tab.use_lang("en")
    tab.open(f"campaigns/{campaign_id}")
    page = tab.page
    for group in ("targeted", "holdout"):
        row = page.locator(f'[data-testid=campaign-groups] [data-group="{group}"]')
        assert digits(row.locator('[data-col="converted"]').inner_text()) == str(report[group]["converted"])
    check_uplift(page, report)
    assert page.get_by_test_id("campaign-satisfaction").count() == 0  # the satisfaction module is off
    assert page.locator("#view [data-write]").count() == 0
    assert_clean(tab, "campaigns")
