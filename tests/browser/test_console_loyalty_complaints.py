"""The loyalty page and the complaints board in Chromium, against what the API
says: tiers and their members, the liability in the tenant's currency, the
points expiring; a column per workflow status with the API's counts and the
breach badges; no controls for a viewer; an agent routing, answering and
resolving a case of a tenant of its own (not the demo) and seeing it move,
with a missing root cause shown next to its field. Each page in at most two
requests, without console errors or failed requests, in Chinese and English."""

from __future__ import annotations

import re
from datetime import timedelta

from engine.services.customers import create_customer
from engine.types import utcnow
from plugins.complaints import service
from plugins.complaints.jobs import sweep_tenant
from tests.browser.harness import WAIT_MS

PROGRAM = """{ loyaltyProgram { tiers { code label(lang: ZH) en: label(lang: EN) } membersPerTier { tier { code } members }
  liability pointsOutstanding expiringPoints(withinDays: 90) { points members }
  e30: expiringPoints(withinDays: 30) { points } } }"""
STATUSES = ["RECEIVED", "ROUTED", "IN_PROGRESS", "WAITING_ON_CUSTOMER", "RESOLVED", "FOLLOW_UP"]
COUNTS = "{ " + " ".join(
    f'{s.lower()}: complaints(where: {{status: [{s}]}}) {{ totalCount }} '
    f'{s.lower()}_late: complaints(where: {{status: [{s}], breached: true}}) {{ totalCount }}' for s in STATUSES) + " }"

STATS = """query($from: DateTime!, $to: DateTime!) { complaintStats(from: $from, to: $to) {
  totals { count slaBreached } escalations { escalated } } }"""


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def assert_clean(tab, route: str) -> None:
    last = tab.last_page()
    assert last["route"] == route and 1 <= last["requests"] <= 2, last
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
    assert tab.page.locator("#view .error").count() == 0


def test_the_loyalty_page_shows_the_tiers_members_liability_and_expiring_points(console, demo, graphql):
    program = graphql(demo["slug"], "VIEWER").execute(PROGRAM)["data"]["loyaltyProgram"]
    members = {c["tier"]["code"]: c["members"] for c in program["membersPerTier"]}
    assert sum(members.values()) > 0 and program["expiringPoints"]["points"] > 0  # the demo has something to show

    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.use_lang("zh")
    tab.open("loyalty")
    page = tab.page
    rows = page.get_by_test_id("loyalty-tiers").locator("tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.tier)") == [t["code"] for t in program["tiers"]]
    for tier in program["tiers"]:
        row = rows.and_(page.locator(f'[data-tier="{tier["code"]}"]'))
        assert tier["label"] in row.inner_text() and tier["en"] in row.inner_text()  # both names
        assert digits(row.get_by_test_id("tier-members").inner_text()) == str(members[tier["code"]])
    assert digits(page.get_by_test_id("loyalty-members").inner_text()) == str(sum(members.values()))

    liability = page.get_by_test_id("loyalty-liability").locator(".stat-value").inner_text()
    assert liability.startswith("¥") and digits(liability) == digits(program["liability"])  # 2 decimals, CNY
    expiring = page.get_by_test_id("loyalty-expiring-90")
    assert digits(expiring.locator(".stat-value").inner_text()) == str(program["expiringPoints"]["points"])
    assert f"{program['expiringPoints']['members']} 位会员" in expiring.inner_text()
    assert digits(page.get_by_test_id("loyalty-expiring-30").locator(".stat-value").inner_text()) == str(program["e30"]["points"])
    assert page.locator("[data-testid=loyalty-tier-chart] svg").count() == 1
    assert page.locator("[data-testid=loyalty-expiry-chart] svg").count() == 1
    assert_clean(tab, "loyalty")

    tab.use_lang("en")
    assert page.locator("#view h1").inner_text() == "Loyalty"
    assert "CN¥" in page.get_by_test_id("loyalty-liability").inner_text()
    assert program["tiers"][-1]["en"] in page.get_by_test_id("loyalty-tiers").inner_text()
    assert "Expiring within 90 days" in page.get_by_test_id("loyalty-expiring-90").inner_text()
    assert_clean(tab, "loyalty")


def test_the_board_has_the_apis_counts_per_status_breach_badges_and_no_controls_for_a_viewer(console, demo, graphql):
    api = graphql(demo["slug"], "VIEWER").execute(COUNTS)["data"]
    assert sum(api[s.lower()]["totalCount"] for s in STATUSES) > 0

    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.use_lang("zh")
    tab.open("complaints")
    for lang, heading in (("zh", "投诉处理"), ("en", "Complaints")):
        tab.use_lang(lang)  # the switch draws the page again, in the other language
        page = tab.page
        assert page.locator("#view h1").inner_text() == heading
        columns = page.get_by_test_id("board-column")
        assert columns.evaluate_all("cs => cs.map(c => c.dataset.status)") == STATUSES
        for status in STATUSES:
            column = page.locator(f'[data-testid=board-column][data-status="{status}"]')
            total, late = api[status.lower()]["totalCount"], api[f"{status.lower()}_late"]["totalCount"]
            assert digits(column.get_by_test_id("column-count").inner_text()) == str(total)
            shown = column.get_by_test_id("case-card")
            assert shown.count() == min(total, 50)
            if total <= 50:  # every case is on the board: one badge per breached case
                assert column.get_by_test_id("breach-badge").count() == late
                assert column.locator("[data-breached=true]").count() == late
        assert page.get_by_test_id("breach-badge").count() > 0  # the demo's late complaints were swept
        assert page.locator("[data-testid=case-customer][href^='#/customer/']").count() == page.get_by_test_id("case-card").count()
        assert page.locator("#view button[data-testid^=action-], #view form").count() == 0  # a viewer: no controls
        assert_clean(tab, "complaints")

    # The period's figures are the API's report over the same days; the period can be changed.
    for days in (30, 7):
        if days != 30:
            page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
            page.get_by_test_id("complaints-period").select_option(str(days))
            tab.wait_ready()
            assert page.url.endswith(f"#/complaints/{days}")
        now = utcnow()
        report = graphql(demo["slug"], "VIEWER").execute(STATS, {"from": (now - timedelta(days=days)).isoformat(),
                                                                 "to": now.isoformat()})["data"]["complaintStats"]
        for testid, value in (("complaints-opened", report["totals"]["count"]),
                              ("complaints-breaches", report["totals"]["slaBreached"]),
                              ("complaints-escalations", report["escalations"]["escalated"])):
            assert digits(page.get_by_test_id(testid).locator(".stat-value").inner_text()) == str(value), testid
        assert_clean(tab, "complaints")


def _case_of_own_tenant(gx, make_tenant) -> tuple[str, int]:
    slug = make_tenant(modules=("complaints",))
    with gx.tenant(slug, actor="test") as ctx:
        customer = create_customer(ctx, {"name": "周女士"}).id
        case = service.open_case(ctx, {"customer_id": customer, "category": "PRODUCT_QUALITY", "priority": "high",
                                       "store": "静安店", "description": "面霜开封后有异味",
                                       "opened_at": utcnow() - timedelta(hours=6)}).case.id
        sweep_tenant(ctx)  # high priority: 4 h to a first response, so breached (and escalated) by now
    return slug, case


def _column_of(page, status: str):
    return page.locator(f'[data-testid=board-column][data-status="{status}"]')


def test_an_agent_routes_answers_and_resolves_a_case_and_sees_it_move(console, gx, make_tenant, make_key, graphql):
    slug, case_id = _case_of_own_tenant(gx, make_tenant)
    tab = console()
    tab.sign_in(make_key(slug, "AGENT"))
    tab.use_lang("zh")
    tab.open("complaints")
    page = tab.page
    assert_clean(tab, "complaints")
    card = _column_of(page, "RECEIVED").get_by_test_id("case-card")
    assert card.count() == 1 and "周女士" in card.inner_text() and "产品质量" in card.inner_text()
    assert card.get_by_test_id("breach-badge").count() == 1 and card.get_by_test_id("escalation-badge").count() == 1

    card.get_by_test_id("action-route").click()
    form = card.get_by_test_id("form-route")
    form.locator("input[name=department]").fill("客服部")
    form.locator("input[name=assignee]").fill("小王")
    form.get_by_test_id("step-submit").click()
    moved = _column_of(page, "ROUTED").get_by_test_id("case-card")
    moved.wait_for(timeout=WAIT_MS)
    assert "小王" in moved.inner_text() and _column_of(page, "RECEIVED").get_by_test_id("case-card").count() == 0

    moved.get_by_test_id("action-update").click()
    moved.get_by_test_id("form-update").locator("textarea[name=note]").fill("已联系客户，安排退换")
    moved.get_by_test_id("step-submit").click()
    working = _column_of(page, "IN_PROGRESS").get_by_test_id("case-card")
    working.wait_for(timeout=WAIT_MS)

    working.get_by_test_id("action-resolve").click()
    form = working.get_by_test_id("form-resolve")
    form.locator("textarea[name=resolution]").fill("更换新品")
    form.get_by_test_id("step-submit").click()
    error = form.locator('[data-field="rootCause"] .field-error')
    error.wait_for(timeout=WAIT_MS)
    assert error.inner_text() != "" and _column_of(page, "IN_PROGRESS").get_by_test_id("case-card").count() == 1
    form.locator("input[name=rootCause]").fill("批次质量问题")
    form.get_by_test_id("step-submit").click()
    _column_of(page, "RESOLVED").get_by_test_id("case-card").wait_for(timeout=WAIT_MS)
    assert _column_of(page, "IN_PROGRESS").get_by_test_id("case-card").count() == 0
    assert tab.console_errors == [] and tab.failed == []

    from api.ids import to_global_id

    found = graphql(slug, "VIEWER").execute("""query($id: ID!) { complaint(id: $id) { status department assignee rootCause } }""",
                                            {"id": to_global_id("Complaint", case_id)})["data"]["complaint"]
    assert found == {"status": "RESOLVED", "department": "客服部", "assignee": "小王", "rootCause": "批次质量问题"}
    # The period's figures now count the resolution.
    assert digits(page.get_by_test_id("complaints-resolved").locator(".stat-value").inner_text()) == "1"
