"""What an agent or an admin does from a customer's 360 page, in Chromium:
enrol a customer, adjust points, redeem a reward and points, use and void a
coupon (loyalty); record why a churned customer left (lifecycle); open a
complaint that then shows in the customer's cases and on the board
(complaints); and, on the loyalty page, the reward catalogue an admin adds
to. Every write is checked against what the API then returns; a bad value
shows the API's error at its field and changes nothing; a role the API
refuses sees no control. Writes happen on tenants made here, never on the
shared demo tenant."""

from __future__ import annotations

import re
from urllib.parse import quote

from tests.browser.harness import WAIT_MS

CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { field message } } }"""
REWARD = """mutation($input: CreateRewardInput!) { createReward(input: $input) { reward { code } errors { field message } } }"""
LOYALTY = """query($id: ID!) { customer(id: $id) { loyalty { points
  coupons { edges { node { code status rewardCode orderRef voidReason } } } } } }"""


def set_english(tab) -> None:
    tab.page.add_init_script("localStorage.setItem('guanxi.console.lang', 'en')")


def clean(tab) -> None:
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
    assert tab.page.locator("#view .error").count() == 0


def budget(tab, route: str) -> None:
    last = tab.last_page()
    assert last["route"] == route and 1 <= last["requests"] <= 2, last


def field_error(scope, name: str):
    return scope.locator(f'[data-field="{name}"] .field-error')


def wait_error(scope, name: str) -> str:
    error = field_error(scope, name)
    error.wait_for(timeout=WAIT_MS)
    scope.page.wait_for_function(
        "([form, name]) => document.querySelector(`[data-testid=${form}] [data-field=${name}] .field-error`).textContent !== ''",
        arg=[scope.get_attribute("data-testid"), name], timeout=WAIT_MS)
    return error.inner_text()


def wait_notice(page, text: str) -> None:
    page.get_by_test_id("customer-notice").filter(has_text=text).wait_for(timeout=WAIT_MS)


def new_customer(api, name: str) -> str:
    created = api.execute(CREATE, {"input": {"name": name}})["data"]["createCustomer"]
    assert created["errors"] == []
    return created["customer"]["id"]


def loyalty_of(api, customer_id: str) -> dict:
    return api.execute(LOYALTY, {"id": customer_id})["data"]["customer"]["loyalty"]


def test_an_admin_enrols_adjusts_redeems_and_uses_and_voids_coupons(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("loyalty",))
    api = graphql(slug, "ADMIN")
    customer_id = new_customer(api, "陈静")
    for code, name, price in (("TEA", "茶饮券", 200), ("MUG", "马克杯", 300)):
        made = api.execute(REWARD, {"input": {"code": code, "nameZh": name, "nameEn": code.title(), "kind": "COUPON",
                                              "pointsPrice": price, "value": "10.00"}})["data"]["createReward"]
        assert made["errors"] == []
    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.open(f"customer/{quote(customer_id, safe='')}")
    budget(tab, "customer")
    page = tab.page
    assert page.get_by_test_id("customer-loyalty").inner_text() == "Not a member"

    # Enrol: the page now shows the membership the API made.
    page.get_by_test_id("cw-enrol-submit").click()
    wait_notice(page, "Enrolled")
    assert loyalty_of(api, customer_id)["points"] == 0
    assert page.get_by_test_id("loyalty-points").inner_text() == "0"

    # Adjust without a reason: the API's error at the reason, the balance untouched.
    adjust = page.get_by_test_id("cw-adjust")
    adjust.get_by_test_id("cw-adjust-points").fill("1000")
    adjust.get_by_test_id("cw-adjust-submit").click()
    assert "reason is required" in wait_error(adjust, "reason")
    assert loyalty_of(api, customer_id)["points"] == 0
    adjust.get_by_test_id("cw-adjust-reason").fill("开业补发积分")
    adjust.get_by_test_id("cw-adjust-submit").click()
    wait_notice(page, "balance now 1,000")
    assert loyalty_of(api, customer_id)["points"] == 1000
    assert page.get_by_test_id("loyalty-points").inner_text() == "1,000"
    assert "开业补发积分" in page.get_by_test_id("loyalty-ledger").inner_text()

    # More points than the balance: the error at points, nothing spent.
    redeem = page.get_by_test_id("cw-redeem")
    redeem.get_by_test_id("cw-redeem-points").fill("5000")
    redeem.get_by_test_id("cw-redeem-amount").fill("999.00")
    redeem.get_by_test_id("cw-redeem-submit").click()
    assert "not enough points" in wait_error(redeem, "points")
    assert loyalty_of(api, customer_id)["points"] == 1000
    redeem.get_by_test_id("cw-redeem-points").fill("100")
    redeem.get_by_test_id("cw-redeem-submit").click()
    wait_notice(page, "balance now 900")
    assert loyalty_of(api, customer_id)["points"] == 900

    # Two rewards: each a coupon the page lists as usable.
    for code, balance in (("TEA", "700"), ("MUG", "400")):
        form = page.get_by_test_id("cw-redeem-reward")
        form.get_by_test_id("cw-reward").select_option(code)
        form.get_by_test_id("cw-redeem-reward-submit").click()
        wait_notice(page, f"balance now {balance} points")
    member = loyalty_of(api, customer_id)
    assert member["points"] == 400
    coupons = {c["rewardCode"]: c for c in (e["node"] for e in member["coupons"]["edges"])}
    assert {c["status"] for c in coupons.values()} == {"ISSUED"}
    assert page.get_by_test_id("loyalty-points").inner_text() == "400"
    row = lambda code: page.locator(f'[data-testid=cw-coupons] tr[data-coupon="{code}"]')  # noqa: E731
    tea, mug = coupons["TEA"]["code"], coupons["MUG"]["code"]
    assert row(tea).get_by_test_id("cw-coupon-status").inner_text() == "Usable"

    # Use the tea coupon for an order.
    row(tea).get_by_test_id("cw-coupon-use").click()
    use = page.get_by_test_id("cw-use-coupon")
    use.get_by_test_id("cw-coupon-order").fill("SO-1001")
    use.get_by_test_id("cw-use-coupon-submit").click()
    wait_notice(page, f"Coupon {tea} used")
    assert row(tea).get_by_test_id("cw-coupon-status").inner_text() == "Used"
    assert row(tea).get_by_test_id("cw-coupon-use").count() == 0

    # Void the mug coupon: a reason is required.
    row(mug).get_by_test_id("cw-coupon-void").click()
    void = page.get_by_test_id("cw-void-coupon")
    void.get_by_test_id("cw-void-coupon-submit").click()
    assert "reason is required" in wait_error(void, "reason")
    assert loyalty_of(api, customer_id)["coupons"]["edges"][0]["node"]["status"] == "ISSUED"
    void.get_by_test_id("cw-coupon-reason").fill("顾客误领")
    void.get_by_test_id("cw-void-coupon-submit").click()
    wait_notice(page, f"Coupon {mug} voided")
    assert row(mug).get_by_test_id("cw-coupon-status").inner_text() == "Voided"

    after = {c["code"]: c for c in (e["node"] for e in loyalty_of(api, customer_id)["coupons"]["edges"])}
    assert after[tea]["status"] == "USED" and after[tea]["orderRef"] == "SO-1001"
    assert after[mug]["status"] == "VOIDED" and after[mug]["voidReason"] == "顾客误领"
    assert loyalty_of(api, customer_id)["points"] == 400  # a voided coupon's points are not given back
    clean(tab)


def test_each_role_sees_only_the_loyalty_controls_the_api_allows(console, demo, graphql):
    api = graphql(demo["slug"], "VIEWER")
    edges = api.execute("""{ customers(first: 50, orderBy: {field: PURCHASE_COUNT}) { edges { node { id
        loyalty { points } lifecycle { stage { code } } } } } }""")["data"]["customers"]["edges"]
    member = next(e["node"]["id"] for e in edges if e["node"]["loyalty"])
    viewer = console()
    viewer.sign_in(demo["keys"]["VIEWER"])
    viewer.open(f"customer/{quote(member, safe='')}")
    assert viewer.page.locator("[data-write]").count() == 0
    assert viewer.page.get_by_test_id("cw-coupons").count() == 1  # the coupons are read, not written
    agent = console()
    set_english(agent)
    agent.sign_in(demo["keys"]["AGENT"])
    agent.open(f"customer/{quote(member, safe='')}")
    budget(agent, "customer")
    page = agent.page
    for testid in ("cw-redeem", "cw-complaint-open"):
        assert page.get_by_test_id(testid).count() == 1, testid
    # Adjusting points and voiding coupons are the admins'.
    assert page.get_by_test_id("cw-adjust").count() == 0 and page.get_by_test_id("cw-coupon-void").count() == 0
    # The reward choices are the API's catalogue (the demo's may be empty).
    rewards = graphql(demo["slug"], "AGENT").execute("{ loyaltyRewards { code } }")["data"]["loyaltyRewards"]
    if rewards:
        options = page.get_by_test_id("cw-reward").locator("option").evaluate_all("options => options.map(o => o.value)")
        assert options == [r["code"] for r in rewards]
    else:
        assert page.get_by_test_id("cw-no-rewards").inner_text() == "The reward catalogue is empty"
    clean(viewer)
    clean(agent)


def test_an_agent_records_why_a_churned_customer_left(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("lifecycle",))
    api = graphql(slug, "ADMIN")
    customer_id = new_customer(api, "刘洋")
    bought = api.execute("""mutation($id: ID!) { recordInteraction(input: {customerId: $id, kind: PURCHASE,
        occurredAt: "2023-03-01T10:00:00+08:00", amount: "268.00", store: "徐汇店"}) { errors { message } } }""", {"id": customer_id})
    assert bought["data"]["recordInteraction"]["errors"] == []
    staged = api.execute("mutation { updateLifecycleStages(input: {}) { errors { message } } }")
    assert staged["data"]["updateLifecycleStages"]["errors"] == []
    stage = api.execute("query($id: ID!) { customer(id: $id) { lifecycle { stage { code } } } }", {"id": customer_id})
    assert stage["data"]["customer"]["lifecycle"]["stage"]["code"] in ("LAPSED", "CHURNED")
    reasons = api.execute("{ lifecycleChurnReasons { code side en: label(lang: EN) } }")["data"]["lifecycleChurnReasons"]

    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "AGENT"))
    tab.open(f"customer/{quote(customer_id, safe='')}")
    budget(tab, "customer")
    page = tab.page
    form = page.get_by_test_id("cw-churn")
    options = form.get_by_test_id("cw-churn-code").locator("option").evaluate_all("options => options.map(o => o.value)")
    assert options[1:] == [r["code"] for r in reasons if r["side"] == "COMPANY"] + [r["code"] for r in reasons if r["side"] == "CUSTOMER"]
    # No reason chosen: the API's error at the reason, nothing recorded.
    form.get_by_test_id("cw-churn-submit").click()
    assert "unknown churn reason" in wait_error(form, "code")
    recorded = "query($id: ID!) { customer(id: $id) { lifecycle { churnReasons { code note store } } } }"
    assert api.execute(recorded, {"id": customer_id})["data"]["customer"]["lifecycle"]["churnReasons"] == []
    chosen = reasons[0]
    form.get_by_test_id("cw-churn-code").select_option(chosen["code"])
    form.get_by_test_id("cw-churn-note").fill("搬家到外地")
    form.get_by_test_id("cw-churn-submit").click()
    wait_notice(page, f"Churn reason recorded: {chosen['en']}")
    saved = api.execute(recorded, {"id": customer_id})["data"]["customer"]["lifecycle"]["churnReasons"]
    assert saved == [{"code": chosen["code"], "note": "搬家到外地", "store": "徐汇店"}]
    listed = page.get_by_test_id("cw-churn-reasons").inner_text()
    assert chosen["en"] in listed and "搬家到外地" in listed
    clean(tab)
    # A viewer sees the reasons, not the form.
    viewer = console()
    viewer.sign_in(make_key(slug, "VIEWER"))
    viewer.open(f"customer/{quote(customer_id, safe='')}")
    assert viewer.page.get_by_test_id("cw-churn-reasons").count() == 1 and viewer.page.locator("[data-write]").count() == 0
    clean(viewer)


def test_an_agent_opens_a_complaint_that_shows_in_the_cases_and_on_the_board(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("complaints",))
    api = graphql(slug, "ADMIN")
    customer_id = new_customer(api, "孙丽")
    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "AGENT"))
    tab.open(f"customer/{quote(customer_id, safe='')}")
    page = tab.page
    assert page.get_by_test_id("customer-complaints").inner_text() == "No complaints"
    page.get_by_test_id("cw-complaint-open").click()
    form = page.get_by_test_id("cw-complaint")
    form.get_by_test_id("cw-complaint-description").fill("快递外箱破损，面霜漏了")
    form.get_by_test_id("cw-complaint-submit").click()  # no category
    assert wait_error(form, "category") != ""
    count = "query($id: ID!) { customer(id: $id) { complaints { totalCount } } }"
    assert api.execute(count, {"id": customer_id})["data"]["customer"]["complaints"]["totalCount"] == 0
    categories = api.execute("{ complaintCategories { code en: label(lang: EN) } }")["data"]["complaintCategories"]
    form.get_by_test_id("cw-complaint-category").select_option(categories[0]["code"])
    form.get_by_test_id("cw-complaint-priority").select_option("HIGH")
    form.get_by_test_id("cw-complaint-channel").select_option("HOTLINE")
    form.get_by_test_id("cw-complaint-submit").click()
    wait_notice(page, "Complaint opened")
    case = api.execute("""query($id: ID!) { customer(id: $id) { complaints { totalCount edges { node {
        category priority status channel { code } description } } } } }""", {"id": customer_id})["data"]["customer"]["complaints"]
    assert case["totalCount"] == 1
    assert case["edges"][0]["node"] == {"category": categories[0]["code"], "priority": "HIGH", "status": "RECEIVED",
                                        "channel": {"code": "HOTLINE"}, "description": "快递外箱破损，面霜漏了"}
    rows = page.get_by_test_id("customer-complaints").locator("tbody tr")
    assert rows.count() == 1 and "High" in rows.inner_text()
    clean(tab)
    tab.open("complaints")
    card = page.locator('[data-testid=board-column][data-status="RECEIVED"]').get_by_test_id("case-card")
    assert card.count() == 1 and "孙丽" in card.inner_text()
    clean(tab)


def test_an_admin_adds_a_reward_to_the_catalogue_on_the_loyalty_page(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("loyalty",))
    api = graphql(slug, "ADMIN")
    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.open("loyalty")
    budget(tab, "loyalty")
    page = tab.page
    assert page.get_by_test_id("loyalty-rewards").inner_text() == "The reward catalogue is empty"
    form = page.get_by_test_id("reward-create")
    form.get_by_test_id("reward-code").fill("SCARF")
    form.get_by_test_id("reward-nameZh").fill("真丝围巾")
    form.get_by_test_id("reward-kind").select_option("GIFT")
    form.get_by_test_id("reward-pointsPrice").fill("1500")
    form.get_by_test_id("reward-stock").fill("20")
    form.get_by_test_id("reward-submit").click()  # no English name
    assert "required" in wait_error(form, "nameEn")
    assert api.execute("{ loyaltyRewards { code } }")["data"]["loyaltyRewards"] == []
    form.get_by_test_id("reward-nameEn").fill("Silk scarf")
    form.get_by_test_id("reward-submit").click()
    page.locator('[data-testid=loyalty-rewards] tr[data-reward="SCARF"]').wait_for(timeout=WAIT_MS)
    assert api.execute("{ loyaltyRewards { code nameEn kind pointsPrice stock validDays } }")["data"]["loyaltyRewards"] == [
        {"code": "SCARF", "nameEn": "Silk scarf", "kind": "GIFT", "pointsPrice": 1500, "stock": 20, "validDays": 90}]
    row = page.locator('[data-testid=loyalty-rewards] tr[data-reward="SCARF"]').inner_text()
    assert "Silk scarf" in row and "1,500" in row and "Gift" in row
    assert field_error(form, "nameEn").inner_text() == ""
    assert "SCARF" in page.get_by_test_id("reward-notice").inner_text()
    # The same code again: the API's conflict at the code.
    for name in ("code", "nameZh", "nameEn", "pointsPrice"):
        form.get_by_test_id(f"reward-{name}").fill({"code": "SCARF", "nameZh": "围巾", "nameEn": "Scarf", "pointsPrice": "10"}[name])
    form.get_by_test_id("reward-submit").click()
    assert re.search("already exists", wait_error(form, "code"))
    assert len(api.execute("{ loyaltyRewards { code } }")["data"]["loyaltyRewards"]) == 1
    clean(tab)
    viewer = console()
    viewer.sign_in(make_key(slug, "VIEWER"))
    viewer.open("loyalty")
    assert viewer.page.get_by_test_id("loyalty-rewards").count() == 1 and viewer.page.locator("[data-write]").count() == 0
    clean(viewer)
