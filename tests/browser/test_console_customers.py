"""The console's customers page and customer 360 page in Chromium: search by
a Chinese name and by its pinyin, the profile, timeline, scores and loyalty
of a demo customer against the API's own answers, at most two requests a
page; what a viewer may not do is not offered; an admin's edit shows the
API's error next to the field, then saves; erase and merge ask first. Writes
happen on tenants made here, never on the shared demo tenant."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import quote

import pytest

from engine.pinyin import name_keys
from tests.browser.harness import WAIT_MS

HAN_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$")

CUSTOMER = """query($id: ID!) { customer(id: $id) { id name phone code store
  interactions(first: 20) { totalCount pageInfo { endCursor } edges { node { kind { code } amount } } }
  rfm { segment { label(lang: EN) } rScore fScore mScore }
  clv { predictedValue probabilityAlive }
  lifecycle { stage { label(lang: EN) } }
  loyalty { points tier { label(lang: EN) } }
  complaints(first: 10) { totalCount }
} }"""


def digits(text: str) -> str:
    """A shown amount as its plain decimal (¥1,234.50 / CN¥1,234.50 -> 1234.50)."""
    return re.sub(r"[^\d.]", "", text)


def set_english(tab) -> None:
    """Pin the console's language (headless Chromium's own may differ between hosts)."""
    tab.page.add_init_script("localStorage.setItem('guanxi.console.lang', 'en')")


def budget(tab, route: str) -> None:
    last = tab.last_page()
    assert last["route"] == route and 1 <= last["requests"] <= 2, last


def clean(tab) -> None:
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


@pytest.fixture
def demo_api(graphql, demo):
    return graphql(demo["slug"], "VIEWER")


@pytest.fixture
def rich_customer(demo_api):
    """A demo customer with a Chinese name, many interactions and every score."""
    body = demo_api.execute("""{ customers(first: 30, orderBy: {field: PURCHASE_COUNT}) { edges { node {
        id name rfm { rScore } clv { predictedValue } lifecycle { risk } loyalty { points } } } } }""")
    for edge in body["data"]["customers"]["edges"]:
        node = edge["node"]
        if node["name"] and HAN_NAME.match(node["name"]) and all(node[k] for k in ("rfm", "clv", "lifecycle", "loyalty")):
            return demo_api.execute(CUSTOMER, {"id": node["id"]})["data"]["customer"]
    pytest.fail("the demo has no scored member with a Chinese name among its 30 most frequent buyers")


def search(tab, text: str) -> None:
    tab.page.get_by_test_id("customers-search").fill(text)
    tab.page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    tab.page.get_by_test_id("customers-go").click()
    tab.wait_ready()


def test_searching_by_a_chinese_name_and_by_its_pinyin_finds_the_customer(console, demo, demo_api, rich_customer):
    name, customer_id = rich_customer["name"], rich_customer["id"]
    pinyin, _initials = name_keys(name)
    tab = console()
    set_english(tab)
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open("customers")
    budget(tab, "customers")
    for text in (name, pinyin):
        search(tab, text)
        budget(tab, "customers")
        # The search is in the address: a bookmark opens the same list.
        assert tab.page.evaluate("() => decodeURIComponent(location.hash)").startswith(f"#/customers/{text}")
        links = tab.page.get_by_test_id("customers").get_by_test_id("customer-link")
        assert name in links.all_inner_texts()
        href = links.filter(has_text=name).first.get_attribute("href")
        assert href == f"#/customer/{quote(customer_id, safe='')}"
        total = demo_api.execute("query($s: String) { customers(search: $s) { totalCount } }", {"s": text})
        shown = tab.page.get_by_test_id("customers-total").inner_text()
        assert digits(shown) == str(total["data"]["customers"]["totalCount"])
    # Opening the bookmark in a fresh tab gives the same result.
    again = console()
    set_english(again)
    again.sign_in(demo["keys"]["VIEWER"])
    again.open(f"customers/{quote(pinyin)}")
    assert name in again.page.get_by_test_id("customer-link").all_inner_texts()
    assert tab.page.get_by_test_id("customers-search").input_value() == pinyin
    clean(tab)
    clean(again)


def test_filters_sort_and_pages_follow_the_api(console, demo, demo_api):
    tab = console()
    set_english(tab)
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open("customers")
    tab.page.get_by_test_id("customers-sort").select_option("GROSS_SPENT")
    tab.page.get_by_test_id("customers-segment").select_option("CHAMPIONS")
    tab.page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    tab.page.get_by_test_id("customers-go").click()
    tab.wait_ready()
    budget(tab, "customers")
    query = """query($after: String) { customers(first: 20, after: $after, where: {rfm: {segment: {eq: CHAMPIONS}}},
        orderBy: {field: GROSS_SPENT, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor } edges { node { name code } } } }"""
    first = demo_api.execute(query)["data"]["customers"]
    codes = lambda: tab.page.get_by_test_id("customers").locator("tbody tr td:nth-child(2)").all_inner_texts()  # noqa: E731
    assert codes() == [e["node"]["code"] for e in first["edges"]]
    assert digits(tab.page.get_by_test_id("customers-total").inner_text()) == str(first["totalCount"])
    assert first["pageInfo"]["hasNextPage"], "the demo has more than 20 champions"
    tab.page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    tab.page.get_by_test_id("customers-next").click()
    tab.wait_ready()
    budget(tab, "customers")
    second = demo_api.execute(query, {"after": first["pageInfo"]["endCursor"]})["data"]["customers"]
    assert codes() == [e["node"]["code"] for e in second["edges"]]
    tab.page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    tab.page.get_by_test_id("customers-prev").click()
    tab.wait_ready()
    assert codes() == [e["node"]["code"] for e in first["edges"]]
    assert tab.page.get_by_test_id("customers-prev").is_disabled()
    # The loyalty tier (its options are the programme's tiers) with the segment kept.
    tiers = tab.page.get_by_test_id("customers-tier").locator("option").evaluate_all("options => options.map(o => o.value)")
    assert tiers == ["", "MEMBER", "SILVER", "GOLD", "DIAMOND"]
    tab.page.get_by_test_id("customers-tier").select_option("SILVER")
    tab.page.evaluate("() => { delete document.getElementById('view').dataset.ready; }")
    tab.page.get_by_test_id("customers-go").click()
    tab.wait_ready()
    budget(tab, "customers")
    silver = demo_api.execute("""{ customers(first: 20, where: {rfm: {segment: {eq: CHAMPIONS}}, loyalty: {tier: {eq: "SILVER"}}},
        orderBy: {field: GROSS_SPENT, direction: DESC}) { totalCount edges { node { code } } } }""")["data"]["customers"]
    assert 0 < silver["totalCount"] < first["totalCount"]
    assert codes() == [e["node"]["code"] for e in silver["edges"]]
    assert digits(tab.page.get_by_test_id("customers-total").inner_text()) == str(silver["totalCount"])
    clean(tab)


def test_the_customer_page_shows_the_profile_timeline_scores_and_loyalty_in_two_requests(console, demo, demo_api, rich_customer):
    c = rich_customer
    tab = console()
    set_english(tab)
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open(f"customer/{quote(c['id'], safe='')}")
    budget(tab, "customer")
    page = tab.page
    assert page.get_by_test_id("customer-name").inner_text() == c["name"]
    assert page.get_by_test_id("customer-phone").inner_text() == c["phone"]
    assert page.get_by_test_id("customer-code").inner_text() == c["code"]
    # The timeline: the API's first page, newest first, and its total.
    interactions = c["interactions"]
    rows = page.get_by_test_id("timeline").locator("tbody tr")
    assert rows.count() == len(interactions["edges"]) == 20
    assert f"{interactions['totalCount']:,}" in page.get_by_test_id("timeline-total").inner_text()
    first_amount = next(e["node"] for e in interactions["edges"] if e["node"]["amount"] is not None)
    shown_amounts = [a for a in rows.locator("td:nth-child(3)").all_inner_texts() if a.strip()]
    assert digits(shown_amounts[0]) == first_amount["amount"]
    assert shown_amounts[0].startswith("−") == (first_amount["kind"]["code"] == "REFUND")
    # Scores of every enabled module (the demo has them all on).
    assert page.get_by_test_id("rfm-segment").inner_text() == c["rfm"]["segment"]["label"]
    assert page.get_by_test_id("rfm-scores").inner_text() == f"{c['rfm']['rScore']} / {c['rfm']['fScore']} / {c['rfm']['mScore']}"
    assert digits(page.get_by_test_id("clv-value").inner_text()) == c["clv"]["predictedValue"]
    assert page.get_by_test_id("clv-alive").inner_text() == f"{c['clv']['probabilityAlive'] * 100:.1f}%"
    assert page.get_by_test_id("lifecycle-stage").inner_text() == c["lifecycle"]["stage"]["label"]
    assert page.get_by_test_id("loyalty-tier").inner_text() == c["loyalty"]["tier"]["label"]
    assert page.get_by_test_id("loyalty-points").inner_text() == f"{c['loyalty']['points']:,}"
    assert page.get_by_test_id("customer-complaints").count() == 1
    # Older interactions: the API's second page.
    page.get_by_test_id("timeline-older").click()
    page.get_by_test_id("timeline-total").filter(has_text="21–").wait_for(timeout=WAIT_MS)
    second = demo_api.execute("""query($id: ID!, $after: String) { customer(id: $id) { interactions(first: 20, after: $after) {
        edges { node { amount } } } } }""", {"id": c["id"], "after": interactions["pageInfo"]["endCursor"]})
    expected = [e["node"]["amount"] for e in second["data"]["customer"]["interactions"]["edges"] if e["node"]["amount"]]
    shown = [digits(a) for a in rows.locator("td:nth-child(3)").all_inner_texts() if a.strip()]
    assert shown == expected
    page.get_by_test_id("timeline-newer").click()
    page.get_by_test_id("timeline-total").filter(has_text="1–20").wait_for(timeout=WAIT_MS)
    clean(tab)


def test_a_viewer_is_offered_no_edit_merge_or_erase(console, demo, rich_customer):
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open(f"customer/{quote(rich_customer['id'], safe='')}")
    for testid in ("edit-customer", "edit-open", "erase-customer", "erase-open"):
        assert tab.page.get_by_test_id(testid).count() == 0, testid
    tab.open("customers")
    assert tab.page.get_by_test_id("duplicates-toggle").count() == 0
    assert tab.page.get_by_test_id("customer-link").count() == 20
    # An agent may edit and merge, not erase (the API's own rule).
    agent = console()
    agent.sign_in(demo["keys"]["AGENT"])
    agent.open(f"customer/{quote(rich_customer['id'], safe='')}")
    assert agent.page.get_by_test_id("edit-open").count() == 1 and agent.page.get_by_test_id("erase-open").count() == 0
    agent.open("customers")
    assert agent.page.get_by_test_id("duplicates-toggle").count() == 1
    clean(tab)
    clean(agent)


def test_an_unknown_customer_id_says_not_found(console, demo):
    tab = console()
    tab.page.add_init_script("localStorage.setItem('guanxi.console.lang', 'zh')")
    tab.sign_in(demo["keys"]["VIEWER"])
    for bad in ("Q3VzdG9tZXI6OTk5OTk5", "not-an-id"):
        tab.open(f"customer/{bad}")
        assert "找不到这位客户" in tab.page.get_by_test_id("customer-not-found").inner_text()
        assert tab.page.locator("#view .error").count() == 0
        budget(tab, "customer")
    clean(tab)


CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { field message } } }"""


def test_an_admin_sees_the_api_error_next_to_the_name_then_saves_a_valid_one(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("rfm", "loyalty"))
    api = graphql(slug, "ADMIN")
    created = api.execute(CREATE, {"input": {"name": "王芳", "phone": "13800138000", "tags": ["VIP"]}})
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.open(f"customer/{quote(customer_id, safe='')}")
    budget(tab, "customer")
    page = tab.page
    page.get_by_test_id("edit-open").click()
    page.get_by_test_id("edit-name").fill("芳" * 201)
    page.get_by_test_id("edit-save").click()
    error = page.locator("[data-testid=edit-customer] [data-field=name] .field-error")
    error.filter(has_text="at most 200").wait_for(timeout=WAIT_MS)
    assert api.execute("query($id: ID!) { customer(id: $id) { name } }", {"id": customer_id})["data"]["customer"]["name"] == "王芳"
    page.get_by_test_id("edit-name").fill("王芳芳")
    page.get_by_test_id("edit-tags").fill("VIP, 敏感肌")
    page.get_by_test_id("edit-save").click()
    page.get_by_test_id("customer-notice").wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("customer-name").inner_text() == "王芳芳"
    saved = api.execute("query($id: ID!) { customer(id: $id) { name phone tags } }", {"id": customer_id})["data"]["customer"]
    assert saved == {"name": "王芳芳", "phone": "+8613800138000", "tags": ["VIP", "敏感肌"]}
    # A bad phone: the API's message sits next to the phone field.
    page.get_by_test_id("edit-open").click()
    page.get_by_test_id("edit-phone").fill("140")
    page.get_by_test_id("edit-save").click()
    page.locator("[data-field=phone] .field-error").filter(has_text="not a valid phone number").wait_for(timeout=WAIT_MS)
    assert page.locator("[data-field=name] .field-error").inner_text() == ""
    # No unknown-field failures: payload errors are answers, not failed requests.
    clean(tab)


def test_erasing_asks_for_the_typed_code_and_then_erases(console, make_tenant, make_key, graphql):
    slug = make_tenant()
    api = graphql(slug, "ADMIN")
    created = api.execute(CREATE, {"input": {"code": "C-77", "name": "李娜", "email": "lina@example.com"}})
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.open(f"customer/{quote(customer_id, safe='')}")
    page = tab.page
    page.get_by_test_id("erase-open").click()
    go = page.get_by_test_id("erase-go")
    page.get_by_test_id("erase-confirm").fill("C-7")
    assert go.is_disabled()
    page.get_by_test_id("erase-confirm").fill("C-77")
    assert go.is_enabled()
    go.click()
    page.get_by_test_id("customer-erased").wait_for(timeout=WAIT_MS)
    after = api.execute("query($id: ID!) { customer(id: $id) { name email erasedAt } }", {"id": customer_id})["data"]["customer"]
    assert after["erasedAt"] is not None and after["name"] is None and after["email"] is None
    assert page.get_by_test_id("customer-email").inner_text() == "—"
    assert page.get_by_test_id("erase-open").count() == 0 and page.get_by_test_id("edit-open").count() == 0
    clean(tab)


def test_an_agent_merges_likely_duplicates_after_confirming(console, make_tenant, make_key, graphql):
    slug = make_tenant()
    api = graphql(slug, "ADMIN")
    older = api.execute(CREATE, {"input": {"name": "张伟", "email": "zw@example.com", "phone": "13900001111"}})["data"]["createCustomer"]["customer"]["id"]
    newer = api.execute(CREATE, {"input": {"name": "张伟", "email": "ZW@example.com", "code": "C-2"}})["data"]["createCustomer"]["customer"]["id"]
    recorded = api.execute("""mutation($id: ID!) { recordInteraction(input: {customerId: $id, kind: PURCHASE,
        occurredAt: "2026-01-05T10:00:00+08:00", amount: "399.00"}) { errors { message } } }""", {"id": newer})
    assert recorded["data"]["recordInteraction"]["errors"] == []
    tab = console()
    set_english(tab)
    tab.sign_in(make_key(slug, "AGENT"))
    tab.open("customers")
    page = tab.page
    page.get_by_test_id("duplicates-toggle").click()
    group = page.get_by_test_id("duplicate-group")
    group.first.wait_for(timeout=WAIT_MS)
    assert group.count() == 1 and "Same email" in group.inner_text()
    page.get_by_test_id("merge-start").click()
    confirm = page.get_by_test_id("merge-confirm")
    assert "cannot be undone" in group.inner_text()
    # Nothing is merged before the confirmation.
    assert api.execute("{ duplicateCustomers { totalCount } }")["data"]["duplicateCustomers"]["totalCount"] == 1
    confirm.click()
    page.get_by_test_id("merge-done").wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("duplicate-group").count() == 0
    kept = api.execute("query($id: ID!) { customer(id: $id) { id purchaseCount grossSpent code } }", {"id": newer})["data"]["customer"]
    assert kept == {"id": older, "purchaseCount": 1, "grossSpent": "399.00", "code": "C-2"}
    # The merged record's old link leads to the kept one, and says so.
    tab.open(f"customer/{quote(newer, safe='')}")
    tab.page.get_by_test_id("customer-merged").wait_for(timeout=WAIT_MS)
    assert tab.page.get_by_test_id("customer-code").inner_text() == "C-2"
    assert tab.page.get_by_test_id("timeline").locator("tbody tr").count() == 1
    clean(tab)
