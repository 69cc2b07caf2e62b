"""Campaigns made and run from the console, in Chromium, checked against what
the API then says: an analyst saves a segment with the form (its match
counted first, the same number the API gives) and edits it; an agent creates
a campaign, edits the draft and moves it (only the moves the workflow
allows); an admin launches it after a confirmation that says how many
customers it snapshots. A bad value shows the API's error at its field and
nothing is saved; a role that may not write sees no control. Each test in a
tenant of its own (the demo's campaigns stay the read-only tests')."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.browser.test_console_loyalty_complaints import assert_clean
from tests.plugins.campaigns.helpers import add_customers

SEGMENTS = "{ campaignSegments(first: 100) { edges { node { id name where memberCount } } } }"
CAMPAIGNS = "{ campaigns(first: 100) { edges { node { id } } } }"
CAMPAIGN = """query($id: ID!) { campaign(id: $id) { name state goal channels theme content holdoutShare attributionDays
  startsAt endsAt memberCount sentCount heldOutCount segment { id } transitions { fromState toState note } } }"""
SAVE_SEGMENT = """mutation($name: String!, $where: JSON!) { saveCampaignSegment(input: {name: $name, where: $where}) {
  campaignSegment { id memberCount } errors { message } } }"""
CREATE = """mutation($input: CreateCampaignInput!) { createCampaign(input: $input) { campaign { id } errors { message } } }"""


def segments_of(api) -> list[dict]:
    return [e["node"] for e in api.execute(SEGMENTS)["data"]["campaignSegments"]["edges"]]


def campaigns_of(api) -> list[dict]:
    return [e["node"] for e in api.execute(CAMPAIGNS)["data"]["campaigns"]["edges"]]


def field_error(page, form: str, name: str) -> str:
    return page.get_by_test_id(form).locator(f'[data-field="{name}"] .field-error').inner_text()


def tenant_with_customers(gx, make_tenant, modules=("campaigns",)) -> str:
    slug = make_tenant(modules=modules)
    with gx.tenant(slug) as ctx:
        add_customers(ctx, 12, purchase_count=3, total_spent=500, store="Shanghai")
        add_customers(ctx, 8, purchase_count=1, total_spent=50, store="Beijing")
    return slug


def saved_segment(api, name="Regulars", where=None) -> dict:
    result = api.execute(SAVE_SEGMENT, {"name": name, "where": where or {"purchaseCount": {"gte": 2}}})["data"]
    assert result["saveCampaignSegment"]["errors"] == []
    return result["saveCampaignSegment"]["campaignSegment"]


def test_an_analyst_saves_a_segment_counted_first_and_edits_it(console, gx, make_tenant, make_key, graphql):
    slug = tenant_with_customers(gx, make_tenant)
    api = graphql(slug, "ANALYST")
    tab = console()
    tab.sign_in(make_key(slug, "ANALYST"))
    tab.use_lang("en")
    tab.open("campaigns")
    page = tab.page
    assert page.get_by_test_id("plan-create").count() == 0  # creating campaigns wants an agent

    # Bad JSON is caught before any request; a bad value is the API's error at its field: nothing saved.
    page.get_by_test_id("segment-name").fill("Regulars in Shanghai")
    page.get_by_test_id("segment-where").fill("{")
    page.get_by_test_id("segment-save").click()
    assert field_error(page, "segment-form", "where").startswith("Not a valid JSON object")
    page.get_by_test_id("segment-where").fill("")
    page.get_by_test_id("segment-grossSpent").fill("abc")
    page.get_by_test_id("segment-save").click()
    page.locator('[data-field="where.grossSpent"] .field-error:not(:empty)').wait_for()
    assert "Decimal" in field_error(page, "segment-form", "where.grossSpent")
    page.get_by_test_id("segment-where").fill('{"nosuchfield": {"eq": 1}}')
    page.get_by_test_id("segment-grossSpent").fill("")
    page.get_by_test_id("segment-save").click()
    page.locator('[data-field="where"] .field-error:not(:empty)').wait_for()
    assert "nosuchfield" in field_error(page, "segment-form", "where")
    assert segments_of(api) == []

    # The form's conditions merged with the JSON's; counted before saving.
    page.get_by_test_id("segment-purchaseCount").fill("2")
    page.get_by_test_id("segment-store").fill("Shanghai")
    page.get_by_test_id("segment-where").fill('{"grossSpent": {"gte": "100"}}')
    where = {"grossSpent": {"gte": "100"}, "purchaseCount": {"gte": 2}, "store": {"eq": "Shanghai"}}
    expected = api.execute("query($w: CustomerWhere) { customers(where: $w, first: 0) { totalCount } }",
                           {"w": where})["data"]["customers"]["totalCount"]
    assert expected == 12
    page.get_by_test_id("segment-count-button").click()
    page.get_by_test_id("segment-count").filter(has_text="12").wait_for()
    assert page.get_by_test_id("segment-count").inner_text() == "Customers matching now: 12"
    page.get_by_test_id("segment-save").click()
    page.get_by_test_id("campaigns-notice").filter(has_text="saved").wait_for()
    [segment] = segments_of(api)
    assert segment["name"] == "Regulars in Shanghai" and segment["where"] == where and segment["memberCount"] == 12
    assert page.get_by_test_id("campaigns-notice").inner_text() == 'Segment "Regulars in Shanghai" saved: 12 customers match now.'
    assert "12" in page.locator(f'[data-segment="{segment["id"]}"] td.num').inner_text()

    # Edit: the saved filter comes back as JSON; the same segment is replaced.
    page.get_by_test_id(f"segment-edit-{segment['id']}").click()
    assert page.get_by_test_id("segment-name").input_value() == "Regulars in Shanghai"
    assert page.get_by_test_id("segment-purchaseCount").input_value() == ""
    page.get_by_test_id("segment-name").fill("Shanghai regulars")
    page.get_by_test_id("segment-where").fill('{"store": {"eq": "Beijing"}}')
    page.get_by_test_id("segment-save").click()
    page.get_by_test_id("campaigns-notice").filter(has_text="Shanghai regulars").wait_for()
    [edited] = segments_of(api)
    assert edited["id"] == segment["id"] and edited["where"] == {"store": {"eq": "Beijing"}} and edited["memberCount"] == 8
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
    assert_clean(tab, "campaigns")


def test_an_agent_creates_a_campaign_edits_the_draft_and_moves_it(console, gx, make_tenant, make_key, graphql):
    slug = tenant_with_customers(gx, make_tenant)
    api = graphql(slug, "AGENT")
    segment = saved_segment(graphql(slug, "ANALYST"))
    tab = console()
    tab.sign_in(make_key(slug, "AGENT"))
    tab.use_lang("en")
    tab.open("campaigns")
    page = tab.page
    form = page.get_by_test_id("plan-create")
    assert page.get_by_test_id("segment-form").count() == 1  # an agent may save segments too
    page.get_by_test_id("plan-name").fill("Autumn member day")
    page.get_by_test_id("plan-goal").select_option("SATISFACTION")
    page.get_by_test_id("plan-channel-WECHAT").check()
    page.get_by_test_id("plan-channel-SMS").check()
    assert page.get_by_test_id("plan-channel-order").inner_text() == "Preferred in the order ticked: WeChat → SMS"
    page.get_by_test_id("plan-segment").select_option(segment["id"])
    page.get_by_test_id("plan-holdoutShare").fill("20")
    page.get_by_test_id("plan-attributionDays").fill("400")
    page.get_by_test_id("plan-startsAt").fill("2027-03-01")
    page.get_by_test_id("plan-endsAt").fill("2027-03-07")
    page.get_by_test_id("plan-content").fill("Double points this week")
    page.get_by_test_id("plan-submit").click()
    form.locator('[data-field="attributionDays"] .field-error:not(:empty)').wait_for()
    assert field_error(page, "plan-create", "attributionDays") == "must be between 1 and 365 days"
    assert campaigns_of(api) == []

    page.get_by_test_id("plan-attributionDays").fill("21")
    page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    page.get_by_test_id("plan-submit").click()
    tab.wait_ready()
    [made] = campaigns_of(api)
    assert page.evaluate("() => location.hash") == f"#/campaigns/{made['id']}"
    assert page.get_by_test_id("campaigns-notice").inner_text() == 'Campaign "Autumn member day" created (Preparation).'
    campaign = api.execute(CAMPAIGN, {"id": made["id"]})["data"]["campaign"]
    shanghai = ZoneInfo("Asia/Shanghai")
    assert campaign["state"] == "PREPARATION" and campaign["goal"] == "SATISFACTION"
    assert campaign["channels"] == ["WECHAT", "SMS"] and campaign["segment"]["id"] == segment["id"]
    assert campaign["holdoutShare"] == 0.2 and campaign["attributionDays"] == 21
    assert campaign["content"] == "Double points this week"
    assert datetime.fromisoformat(campaign["startsAt"]) == datetime(2027, 3, 1, tzinfo=shanghai)
    assert datetime.fromisoformat(campaign["endsAt"]) == datetime(2027, 3, 8, tzinfo=shanghai) - timedelta(seconds=1)
    assert page.get_by_test_id("campaign-launch").count() == 0  # launching wants an admin

    # Edit the draft: the form comes filled in; a bad value is refused at its field.
    page.get_by_test_id("campaign-edit").locator("summary").click()
    edit = page.get_by_test_id("plan-edit")
    assert edit.get_by_test_id("plan-holdoutShare").input_value() == "20"
    assert edit.get_by_test_id("plan-endsAt").input_value() == "2027-03-07"
    edit.get_by_test_id("plan-holdoutShare").fill("80")
    edit.get_by_test_id("plan-submit").click()
    edit.locator('[data-field="holdoutShare"] .field-error:not(:empty)').wait_for()
    assert api.execute(CAMPAIGN, {"id": made["id"]})["data"]["campaign"]["holdoutShare"] == 0.2
    edit.get_by_test_id("plan-holdoutShare").fill("10")
    edit.get_by_test_id("plan-theme").fill("Autumn")
    edit.get_by_test_id("plan-submit").click()
    page.get_by_test_id("campaigns-notice").filter(has_text="Plan saved.").wait_for()
    campaign = api.execute(CAMPAIGN, {"id": made["id"]})["data"]["campaign"]
    assert campaign["theme"] == "Autumn" and campaign["holdoutShare"] == 0.1 and campaign["channels"] == ["WECHAT", "SMS"]
    assert page.get_by_test_id("campaign-plan").locator('[data-key="theme"]').inner_text() == "Autumn"

    # Moves: only those the workflow allows from the current state (never EXECUTION: launching enters it).
    moves = page.get_by_test_id("campaign-move").locator("button")
    assert moves.evaluate_all("bs => bs.map(b => b.dataset.testid)") == ["campaign-move-PROMOTION", "campaign-move-CANCELLED"]
    page.get_by_test_id("campaign-move-note").fill("posters are up")
    page.get_by_test_id("campaign-move-PROMOTION").click()
    page.get_by_test_id("campaigns-notice").filter(has_text="Promotion").wait_for()
    campaign = api.execute(CAMPAIGN, {"id": made["id"]})["data"]["campaign"]
    assert campaign["state"] == "PROMOTION"
    assert campaign["transitions"] == [{"fromState": "PREPARATION", "toState": "PROMOTION", "note": "posters are up"}]
    assert page.locator("[data-testid=campaign-name] [data-state]").get_attribute("data-state") == "PROMOTION"
    assert moves.evaluate_all("bs => bs.map(b => b.dataset.testid)") == ["campaign-move-PREPARATION", "campaign-move-CANCELLED"]

    # Cancelling asks first.
    page.get_by_test_id("campaign-move-CANCELLED").click()
    assert api.execute(CAMPAIGN, {"id": made["id"]})["data"]["campaign"]["state"] == "PROMOTION"
    page.get_by_test_id("campaign-cancel-confirm").click()
    page.get_by_test_id("campaigns-notice").filter(has_text="Cancelled").wait_for()
    assert api.execute(CAMPAIGN, {"id": made["id"]})["data"]["campaign"]["state"] == "CANCELLED"
    assert page.locator("#view [data-write]").count() == 0  # nothing left to do
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_an_admin_launches_after_a_confirmation_with_the_count(console, gx, make_tenant, make_key, graphql):
    slug = tenant_with_customers(gx, make_tenant)
    api = graphql(slug, "ADMIN")
    segment = saved_segment(api)
    assert segment["memberCount"] == 12
    draft = api.execute(CREATE, {"input": {"name": "Spring", "goal": "SALES", "channels": ["SMS"], "segmentId": segment["id"],
                                           "holdoutShare": 0.25}})["data"]["createCampaign"]["campaign"]
    bare = api.execute(CREATE, {"input": {"name": "No target", "goal": "SALES", "channels": ["SMS"]}})["data"]["createCampaign"]["campaign"]

    tab = console()
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.use_lang("en")
    tab.open(f"campaigns/{bare['id']}")
    page = tab.page
    page.get_by_test_id("campaign-launch-button").click()
    assert page.get_by_test_id("campaign-launch-error").inner_text() == "Choose a target segment in the plan before launching."
    assert api.execute(CAMPAIGN, {"id": bare["id"]})["data"]["campaign"]["state"] == "PREPARATION"

    tab.open(f"campaigns/{draft['id']}")
    assert_clean(tab, "campaigns")
    page.get_by_test_id("campaign-launch-button").click()
    confirm = page.get_by_test_id("campaign-launch-confirm-text").inner_text()
    assert "the 12 customers now in the segment \"Regulars\"" in confirm and "about 25%" in confirm and "(about 3)" in confirm
    assert api.execute(CAMPAIGN, {"id": draft["id"]})["data"]["campaign"]["state"] == "PREPARATION"  # asked, not done
    page.get_by_test_id("campaign-launch-confirm").click()
    page.get_by_test_id("campaigns-notice").filter(has_text="Launched").wait_for()
    campaign = api.execute(CAMPAIGN, {"id": draft["id"]})["data"]["campaign"]
    assert campaign["state"] == "EXECUTION" and campaign["memberCount"] == 12
    assert page.get_by_test_id("campaigns-notice").inner_text() == (
        f"Launched: 12 customers snapshotted, {campaign['sentCount']} messages sent, {campaign['heldOutCount']} held out.")
    assert page.get_by_test_id("campaign-launch").count() == 0 and page.get_by_test_id("campaign-edit").count() == 0
    assert page.get_by_test_id("campaign-not-launched").count() == 0  # the report is drawn

    for to in ("MONITORING", "EVALUATION"):
        page.get_by_test_id(f"campaign-move-{to}").click()
        page.get_by_test_id("campaigns-notice").filter(has_text=to.capitalize()).wait_for()
        assert api.execute(CAMPAIGN, {"id": draft["id"]})["data"]["campaign"]["state"] == to
    assert page.locator("#view [data-write]").count() == 0
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_a_viewer_sees_no_write_control_and_an_analyst_no_campaign_control(console, gx, make_tenant, make_key, graphql):
    slug = tenant_with_customers(gx, make_tenant)
    api = graphql(slug, "ADMIN")
    segment = saved_segment(api)
    draft = api.execute(CREATE, {"input": {"name": "Draft", "goal": "SALES", "channels": ["SMS"],
                                           "segmentId": segment["id"]}})["data"]["createCampaign"]["campaign"]
    viewer = console()
    viewer.sign_in(make_key(slug, "VIEWER"))
    for route in ("campaigns", f"campaigns/{draft['id']}"):
        viewer.open(route)
        for lang in ("zh", "en"):
            viewer.use_lang(lang)  # draws the page again in that language
            assert viewer.page.locator("#view [data-write]").count() == 0
            assert_clean(viewer, "campaigns")
            assert viewer.last_page()["requests"] == 1

    analyst = console()
    analyst.sign_in(make_key(slug, "ANALYST"))
    analyst.use_lang("zh")
    analyst.open(f"campaigns/{draft['id']}")
    assert analyst.page.locator("#view [data-write]").count() == 0
    analyst.open("campaigns")
    assert analyst.page.get_by_test_id("segment-form").is_visible()
    assert analyst.page.get_by_test_id("plan-create").count() == 0
    assert analyst.page.get_by_role("button", name="保存分群").is_visible()
    assert_clean(analyst, "campaigns")


def test_the_jobs_page_runs_the_campaign_triggers_as_the_cli_does(console, make_tenant, make_key, graphql):
    """`guanxi campaigns triggers` is the campaigns.daily_triggers job: an admin runs it now from Jobs."""
    slug = make_tenant(modules=("campaigns",))
    runs = """{ jobRuns(first: 30) { edges { node { id job trigger status } } } }"""
    tab = console()
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.use_lang("en")
    tab.open("jobs")
    page = tab.page
    row = page.locator('[data-testid=jobs] tr[data-job="campaigns.daily_triggers"]')
    assert "Campaign triggers (birthdays, holidays, ...)" in row.inner_text()
    page.get_by_test_id("job-run-campaigns.daily_triggers").click()
    page.get_by_test_id("jobs-notice").filter(has_text="Queued").wait_for()
    page.locator('[data-testid=job-runs] tr[data-job="campaigns.daily_triggers"][data-status="SUCCEEDED"]').first.wait_for()
    done = [e["node"] for e in graphql(slug, "ADMIN").execute(runs)["data"]["jobRuns"]["edges"]]
    assert any(r["job"] == "campaigns.daily_triggers" and r["trigger"] == "API" and r["status"] == "SUCCEEDED" for r in done)
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
