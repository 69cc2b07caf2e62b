"""Surveys made and sent from the satisfaction page, in Chromium, against what
the API then says: an admin defines an index model and creates a survey from
it (a question asked twice shown at that question, nothing saved), then
archives it; an agent invites customers by code and by id (who was skipped
for want of consent, the links shown once and working) and records a phone
answer (a required question left empty shown at that question, nothing
saved); a viewer sees the index models and nothing that writes, an agent no
admin control. Each on a tenant of its own but the read-only checks (the demo
tenant's surveys stay as the other tests expect them)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from tests.browser.harness import WAIT_MS
from tests.browser.test_console_loyalty_complaints import assert_clean, digits

MODELS = "{ satisfactionIndexModels { code template dimensions { code indicators { code } } } }"
SURVEYS = "{ satisfactionSurveys { code status questions { code kind dimension indicator } invitations { sent } } }"
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } errors { field message } } }"""
CREATE_SURVEY = """mutation($input: CreateSatisfactionSurveyInput!) {
  createSatisfactionSurvey(input: $input) { survey { code } errors { field message } } }"""
RESPONSES = """query($survey: String!) { satisfactionResponses(survey: $survey) { totalCount
  edges { node { customerId channel overall nps store } } } }"""

OWN_MODEL = ('[{"code": "STAFF", "zh": "员工", "en": "Staff", "indicators": ['
             '{"code": "FRIENDLY", "zh": "热情", "en": "Friendly"}, {"code": "SKILLED", "zh": "专业", "en": "Skilled"}]},'
             ' {"code": "STORE", "zh": "门店", "en": "Store", "indicators": ['
             '{"code": "CLEAN", "zh": "整洁", "en": "Clean"}, {"code": "WAIT", "zh": "等候", "en": "Waiting time"}]}]')


def field_error(form, name: str):
    return form.locator(f'[data-field="{name}"] .field-error')


def wait_text(locator) -> str:
    """The text of an error or notice once the page has put one there."""
    locator.wait_for(timeout=WAIT_MS)
    locator.page.wait_for_function("(n) => n.textContent.trim() !== ''", arg=locator.element_handle(), timeout=WAIT_MS)
    return locator.inner_text()


def test_an_admin_defines_a_model_creates_a_survey_from_it_and_archives_it(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("satisfaction",))
    api = graphql(slug, "ADMIN")
    templates = api.execute(MODELS)["data"]["satisfactionIndexModels"]
    assert {m["code"] for m in templates} >= {"VIPSHOP_5X19", "FOUR_DIMENSION"} and all(m["template"] for m in templates)

    tab = console()
    tab.sign_in(make_key(slug, "ADMIN"))
    tab.use_lang("en")
    tab.open("satisfaction")
    assert_clean(tab, "satisfaction")
    page = tab.page
    assert page.get_by_test_id("satisfaction-none").count() == 1
    shown = page.get_by_test_id("satisfaction-models").locator("tbody tr")
    assert shown.evaluate_all("rows => rows.map(r => r.dataset.model)") == [m["code"] for m in templates]

    # A model with a bad indicator code: the API's error at the dimensions, no model.
    form = page.get_by_test_id("model-create")
    form.get_by_test_id("model-code").fill("STORE_VISIT")
    form.get_by_test_id("model-zh").fill("到店体验")
    form.get_by_test_id("model-en").fill("Store visit")
    form.get_by_test_id("model-dimensions").fill(OWN_MODEL.replace('"CLEAN"', '"clean"'))
    form.get_by_test_id("model-submit").click()
    assert "UPPER_SNAKE_CASE" in wait_text(field_error(form, "dimensions"))
    assert [m["code"] for m in api.execute(MODELS)["data"]["satisfactionIndexModels"]] == [m["code"] for m in templates]

    form.get_by_test_id("model-dimensions").fill(OWN_MODEL)
    form.get_by_test_id("model-submit").click()
    page.get_by_test_id("satisfaction-result").filter(has_text="STORE_VISIT").wait_for(timeout=WAIT_MS)
    own = [m for m in api.execute(MODELS)["data"]["satisfactionIndexModels"] if not m["template"]]
    assert [(m["code"], [d["code"] for d in m["dimensions"]]) for m in own] == [("STORE_VISIT", ["STAFF", "STORE"])]
    row = page.locator('[data-testid=satisfaction-models] tr[data-model="STORE_VISIT"]')
    assert row.locator("[data-template]").get_attribute("data-template") == "false"

    # A survey of its own questions, from the standard ones: the fourth asks STAFF.FRIENDLY again.
    form = page.get_by_test_id("survey-create")
    form.get_by_test_id("survey-code").fill("AFTER_VISIT")
    form.get_by_test_id("survey-title-zh").fill("到店回访")
    form.get_by_test_id("survey-title-en").fill("After the visit")
    form.get_by_test_id("survey-model").select_option("STORE_VISIT")
    form.get_by_test_id("survey-standard").uncheck()
    questions = form.get_by_test_id("survey-question")
    questions.nth(8).wait_for(timeout=WAIT_MS)  # the model's indicators are asked for now
    assert questions.count() == 4 + 5  # one per indicator, overall, repurchase, recommend, NPS, comment
    fourth = questions.nth(3)
    assert fourth.get_by_test_id("q-code").input_value() == "STORE__WAIT"
    fourth.get_by_test_id("q-dimension").select_option("STAFF")
    fourth.get_by_test_id("q-indicator").select_option("FRIENDLY")
    form.get_by_test_id("survey-submit").click()
    assert "STAFF.FRIENDLY is asked twice" in wait_text(field_error(form, "questions[3].indicator"))
    assert field_error(form, "questions").inner_text() == ""
    assert api.execute(SURVEYS)["data"]["satisfactionSurveys"] == []

    fourth.get_by_test_id("q-remove").click()
    assert questions.count() == 8
    form.get_by_test_id("survey-submit").click()
    page.get_by_test_id("satisfaction-result").filter(has_text="AFTER_VISIT").wait_for(timeout=WAIT_MS)
    surveys = api.execute(SURVEYS)["data"]["satisfactionSurveys"]
    assert [(s["code"], s["status"]) for s in surveys] == [("AFTER_VISIT", "ACTIVE")]
    asked = [(q["dimension"], q["indicator"]) for q in surveys[0]["questions"] if q["kind"] == "SCALE" and q["dimension"]]
    assert asked == [("STAFF", "FRIENDLY"), ("STAFF", "SKILLED"), ("STORE", "CLEAN")]
    listed = page.locator('[data-testid=satisfaction-surveys] tr[data-survey="AFTER_VISIT"]')
    assert listed.locator("[data-status]").get_attribute("data-status") == "ACTIVE"

    # Archive, confirmed: the API says ARCHIVED, the list too, and no more invitations offered.
    page.get_by_test_id("archive-AFTER_VISIT").click()
    page.get_by_test_id("archive-confirm-AFTER_VISIT").click()
    page.get_by_test_id("satisfaction-result").filter(has_text="AFTER_VISIT archived").wait_for(timeout=WAIT_MS)
    assert api.execute(SURVEYS)["data"]["satisfactionSurveys"][0]["status"] == "ARCHIVED"
    listed.locator('[data-status="ARCHIVED"]').wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("archive-AFTER_VISIT").count() == 0
    assert page.get_by_test_id("invite-archived").count() == 1
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_an_agent_invites_customers_and_records_a_phone_answer(console, make_tenant, make_key, graphql):
    slug = make_tenant(modules=("satisfaction",))
    api = graphql(slug, "ADMIN")
    made = api.execute(CREATE_SURVEY, {"input": {"code": "SERVICE", "titleZh": "服务回访", "titleEn": "Service follow-up",
                                                  "indexModel": "FOUR_DIMENSION"}})["data"]["createSatisfactionSurvey"]
    assert made["errors"] == []
    ids = {}
    for code, consent in (("C1", {"WECHAT": True}), ("C2", {}), ("C3", {"SMS": True})):
        created = api.execute(CREATE_CUSTOMER, {"input": {"code": code, "name": f"客户{code}", "consent": consent}})
        ids[code] = created["data"]["createCustomer"]["customer"]["id"]

    tab = console()
    tab.sign_in(make_key(slug, "AGENT"))
    tab.use_lang("zh")
    tab.open("satisfaction/SERVICE")
    assert_clean(tab, "satisfaction")
    page = tab.page
    # An agent's work, not an admin's.
    assert page.get_by_test_id("survey-create").count() == 0 and page.get_by_test_id("model-create").count() == 0
    assert page.get_by_test_id("archive-SERVICE").count() == 0

    # A code that is no customer's: said at the customers field, nobody invited.
    form = page.get_by_test_id("survey-invite")
    form.get_by_test_id("invite-customers").fill("C1, NOPE")
    form.get_by_test_id("invite-submit").click()
    assert "NOPE" in wait_text(field_error(form, "customerIds"))
    assert api.execute(SURVEYS)["data"]["satisfactionSurveys"][0]["invitations"]["sent"] == 0

    # By code and by id: C2 consented to no channel and is skipped; the links are shown once.
    form.get_by_test_id("invite-customers").fill(f"C1 C2\n{ids['C3']}")
    form.get_by_test_id("invite-ref").fill("SPRING")
    form.get_by_test_id("invite-submit").click()
    summary = wait_text(page.get_by_test_id("invite-summary"))
    assert "已邀请 2 位" in summary and "未同意任何渠道 1" in summary
    assert api.execute(SURVEYS)["data"]["satisfactionSurveys"][0]["invitations"]["sent"] == 2
    rows = page.get_by_test_id("invite-links").locator("tbody tr")
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.customer)")) == sorted([ids["C1"], ids["C3"]])
    assert sorted(c.inner_text() for c in rows.locator("td:nth-child(2)").all()) == ["SMS", "WECHAT"]
    links = [n.inner_text() for n in page.get_by_test_id("invite-links").get_by_test_id("invite-link").all()]
    assert all(re.fullmatch(rf"{re.escape(tab.origin)}/satisfaction/s/{slug}/[\w-]+", link) for link in links), links
    answer_form = page.request.get(f"{links[0]}/form")
    assert answer_form.status == 200 and "服务回访" in answer_form.text()  # the link the customer gets works
    assert digits(page.locator('[data-testid=satisfaction-surveys] tr[data-survey="SERVICE"] [data-testid=survey-sent]').inner_text()) == "2"

    # A phone answer without the required overall question: said at that question, nothing saved.
    form = page.get_by_test_id("survey-answer")
    form.get_by_test_id("answer-customer").fill("C2")
    form.get_by_test_id("answer-NPS").select_option("3")
    form.get_by_test_id("answer-submit").click()
    assert wait_text(field_error(form, "answers.OVERALL")) != ""
    assert api.execute(RESPONSES, {"survey": "SERVICE"})["data"]["satisfactionResponses"]["totalCount"] == 0

    form.get_by_test_id("answer-OVERALL").select_option("2")
    form.get_by_test_id("answer-store").fill("上海南京路店")
    form.get_by_test_id("answer-submit").click()
    page.get_by_test_id("satisfaction-result").filter(has_text="已保存 客户C2 (C2) 的回答").wait_for(timeout=WAIT_MS)
    responses = api.execute(RESPONSES, {"survey": "SERVICE"})["data"]["satisfactionResponses"]
    assert responses["totalCount"] == 1
    assert responses["edges"][0]["node"] == {"customerId": ids["C2"], "channel": "PHONE", "overall": 2, "nps": 3, "store": "上海南京路店"}
    page.locator("[data-testid=satisfaction-responses] .stat-value").wait_for(timeout=WAIT_MS)
    assert digits(page.get_by_test_id("satisfaction-responses").locator(".stat-value").inner_text()) == "1"
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []


def test_a_viewer_sees_the_index_models_and_nothing_that_writes(console, demo, graphql):
    models = graphql(demo["slug"], "VIEWER").execute(MODELS)["data"]["satisfactionIndexModels"]
    for role in ("VIEWER", "ANALYST"):
        tab = console()
        tab.sign_in(demo["keys"][role])
        tab.use_lang("en")
        tab.open("satisfaction")
        page = tab.page
        shown = page.get_by_test_id("satisfaction-models").locator("tbody tr")
        assert shown.evaluate_all("rows => rows.map(r => r.dataset.model)") == [m["code"] for m in models]
        assert page.locator("[data-write]").count() == 0
        wave = page.get_by_test_id("satisfaction-wave")
        assert wave.count() == (1 if role == "ANALYST" else 0)  # the wave is a job; jobs are shown to analysts and up
        if role == "ANALYST":
            assert wave.locator("a").get_attribute("href") == "#/jobs"
        assert_clean(tab, "satisfaction")
        # A model's indicators, asked for when its row is opened.
        template = models[0]
        row = page.locator(f'[data-testid=satisfaction-models] tr[data-model="{template["code"]}"]')
        row.locator("summary").click()
        row.get_by_test_id("model-indicators").locator("li").first.wait_for(timeout=WAIT_MS)
        shown = row.get_by_test_id("model-indicators").inner_text()
        assert all(i["code"] in shown for d in template["dimensions"] for i in d["indicators"])
        assert tab.console_errors == [] and tab.failed == []


def test_the_wave_is_on_the_jobs_page(console, demo):
    tab = console()
    tab.sign_in(demo["keys"]["ADMIN"])
    tab.use_lang("en")
    tab.open("jobs")
    row = tab.page.locator('[data-testid=jobs] tr[data-job="satisfaction.wave"]')
    assert "Periodic survey wave" in row.inner_text()
    assert tab.page.get_by_test_id("job-run-satisfaction.wave").count() == 1
    assert tab.console_errors == [] and tab.failed == []
