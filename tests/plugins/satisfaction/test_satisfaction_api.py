"""The satisfaction module through GraphQL and the customer services: answers
agents take by phone, index models, roles, and what erasure, merging and the
customer export do with answers."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from api.ids import to_global_id
from engine.services.customers import create_customer, erase_customer
from engine.services.export import csv_chunks, customer_export
from engine.services.merge import merge_customers
from plugins.satisfaction.answers import record_by_agent
from plugins.satisfaction.models import SatisfactionLatest, SatisfactionResponse
from plugins.satisfaction.surveys import create_survey

pytestmark = pytest.mark.anyio

RECORD = """mutation($input: RecordSatisfactionAnswerInput!) { recordSatisfactionAnswer(input: $input) {
  response { id channel staff store overall nps recommend scores extra source } errors { field message code } } }"""
MODEL = """mutation($input: CreateSatisfactionIndexModelInput!) { createSatisfactionIndexModel(input: $input) {
  indexModel { code template dimensions { code indicators { code zh } } } errors { field message code } } }"""
MODELS = "{ satisfactionIndexModels { code template dimensions { code } } }"


def _tenant_with_survey(gx, make_tenant) -> tuple[str, int]:
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        customer_id = create_customer(ctx, {"code": "C1", "name": "孙女士", "consent": {"WECHAT": True}}).id
        create_survey(ctx, {"code": "PHONE_Q", "title_zh": "电话回访", "title_en": "Phone", "model": "FOUR_DIMENSION"})
    return slug, customer_id


async def test_an_agent_records_a_phone_answer(gx, make_tenant, api):
    slug, customer_id = _tenant_with_survey(gx, make_tenant)
    agent = api(slug, "AGENT")
    body = await agent.gql(RECORD, {"input": {"survey": "PHONE_Q", "customerId": to_global_id("Customer", customer_id),
                                              "answers": {"OVERALL": 3, "NPS": 6, "RECOMMEND": "DONT_KNOW",
                                                          "AFTER_SALES__RETURNS": 2}, "store": "GZ-03"}})
    payload = body["data"]["recordSatisfactionAnswer"]
    assert payload["errors"] == []
    response = payload["response"]
    assert (response["channel"], response["source"], response["store"], response["overall"], response["nps"],
            response["recommend"]) == ("PHONE", "MANUAL", "GZ-03", 3, 6, "DONT_KNOW")
    assert response["scores"][6] == 2 and response["scores"].count(None) == 11 and response["staff"].startswith("api-key:")


async def test_bad_agent_answers_come_back_as_errors_naming_the_question(gx, make_tenant, api):
    slug, customer_id = _tenant_with_survey(gx, make_tenant)
    body = await api(slug, "AGENT").gql(RECORD, {"input": {"survey": "PHONE_Q", "customerId": to_global_id("Customer", customer_id),
                                                           "answers": {"OVERALL": 0, "NPS": 11}, "channel": "LINK"}})
    errors = body["data"]["recordSatisfactionAnswer"]["errors"]
    assert {e["field"] for e in errors} == {"channel"}  # the channel is checked first
    body = await api(slug, "AGENT").gql(RECORD, {"input": {"survey": "PHONE_Q", "customerId": to_global_id("Customer", customer_id),
                                                           "answers": {"OVERALL": 0, "NPS": 11}}})
    errors = body["data"]["recordSatisfactionAnswer"]["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {("answers.OVERALL", "INVALID"), ("answers.NPS", "INVALID")}
    body = await api(slug, "AGENT").gql(RECORD, {"input": {"survey": "NOPE", "customerId": to_global_id("Customer", customer_id),
                                                           "answers": {"OVERALL": 4}}})
    assert body["data"]["recordSatisfactionAnswer"]["errors"][0]["code"] == "NOT_FOUND"
    with gx.tenant(slug, write=False) as ctx:
        assert ctx.session.execute(select(SatisfactionResponse.id)).first() is None


async def test_roles(gx, make_tenant, api):
    slug, customer_id = _tenant_with_survey(gx, make_tenant)
    body = await api(slug, "VIEWER").gql(RECORD, {"input": {"survey": "PHONE_Q", "customerId": to_global_id("Customer", customer_id),
                                                            "answers": {"OVERALL": 4}}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api(slug, "AGENT").gql(MODEL, {"input": {"code": "MINE", "zh": "我的", "en": "Mine", "dimensions": []}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_tenant_defines_its_own_index_model(gx, make_tenant, api):
    slug, _ = _tenant_with_survey(gx, make_tenant)
    admin = api(slug, "ADMIN")
    body = await admin.gql(MODEL, {"input": {"code": "MINE", "zh": "我的", "en": "Mine", "dimensions": [
        {"code": "TASTE", "zh": "口味", "en": "Taste", "indicators": [{"code": "FRESH", "zh": "新鲜", "en": "Fresh"}]}]}})
    assert body["data"]["createSatisfactionIndexModel"]["indexModel"] == {
        "code": "MINE", "template": False, "dimensions": [{"code": "TASTE", "indicators": [{"code": "FRESH", "zh": "新鲜"}]}]}
    bad = await admin.gql(MODEL, {"input": {"code": "BAD", "zh": "坏", "en": "Bad", "dimensions": [{"code": "X", "zh": "x", "en": "x"}]}})
    assert [e["field"] for e in bad["data"]["createSatisfactionIndexModel"]["errors"]] == ["dimensions[0].indicators"]
    listed = (await admin.gql(MODELS))["data"]["satisfactionIndexModels"]
    assert [(m["code"], m["template"]) for m in listed] == [("VIPSHOP_5X19", True), ("FOUR_DIMENSION", True), ("MINE", False)]


def test_erasure_keeps_scores_drops_text_and_merging_moves_answers(gx, make_tenant):
    slug, first = _tenant_with_survey(gx, make_tenant)
    with gx.tenant(slug) as ctx:
        second = create_customer(ctx, {"code": "C2", "name": "孙女士"}).id
        from plugins.satisfaction.surveys import survey_by_code

        survey_id = survey_by_code(ctx, "PHONE_Q").id
        record_by_agent(ctx, survey_id, first, {"OVERALL": 5, "NPS": 10, "COMMENT": "手机号 13800000000"})
        record_by_agent(ctx, survey_id, second, {"OVERALL": 2, "NPS": 3})
        merge_customers(ctx, first, second)
        latest = ctx.session.execute(select(SatisfactionLatest)).scalars().all()
        assert [(row.customer_id, row.score) for row in latest] == [(first, 2.0)]  # the later answer, now the kept customer's
        erase_customer(ctx, first)
        rows = ctx.session.execute(select(SatisfactionResponse).order_by(SatisfactionResponse.id)).scalars().all()
    assert [(r.customer_id, r.overall, r.extra) for r in rows] == [(first, 5, {}), (first, 2, {})]


def test_the_customer_export_has_the_latest_answer(gx, make_tenant):
    slug, customer_id = _tenant_with_survey(gx, make_tenant)
    with gx.tenant(slug) as ctx:
        from plugins.satisfaction.surveys import survey_by_code

        record_by_agent(ctx, survey_by_code(ctx, "PHONE_Q").id, customer_id, {"OVERALL": 4, "NPS": 7})
        tenant_id = ctx.tenant_id
    text = b"".join(csv_chunks(customer_export(gx, tenant_id))).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["satisfaction_latest_score"], row["satisfaction_latest_nps"], row["satisfaction_nps_class"]) in (
        ("4.0", "7", "PASSIVE"), ("4", "7", "PASSIVE"))


RESPONSES = """query($customer: ID, $survey: String, $after: String) {
  satisfactionResponses(customerId: $customer, survey: $survey, first: 2, after: $after) {
    totalCount edges { cursor node { id overall } } pageInfo { hasNextPage endCursor } } }"""


async def test_responses_page_newest_first_by_customer_and_survey(gx, make_tenant, api):
    slug, customer_id = _tenant_with_survey(gx, make_tenant)
    with gx.tenant(slug) as ctx:
        from plugins.satisfaction.surveys import survey_by_code

        other = create_customer(ctx, {"code": "C9", "name": "郑"}).id
        survey_id = survey_by_code(ctx, "PHONE_Q").id
        for score in (1, 2, 3):
            record_by_agent(ctx, survey_id, customer_id, {"OVERALL": score})
        record_by_agent(ctx, survey_id, other, {"OVERALL": 5})
    viewer = api(slug, "VIEWER")
    first = (await viewer.gql(RESPONSES, {"customer": to_global_id("Customer", customer_id)}))["data"]["satisfactionResponses"]
    assert first["totalCount"] == 3 and [e["node"]["overall"] for e in first["edges"]] == [3, 2]
    assert first["pageInfo"]["hasNextPage"]
    rest = (await viewer.gql(RESPONSES, {"customer": to_global_id("Customer", customer_id),
                                         "after": first["pageInfo"]["endCursor"]}))["data"]["satisfactionResponses"]
    assert [e["node"]["overall"] for e in rest["edges"]] == [1] and not rest["pageInfo"]["hasNextPage"]
    everyone = (await viewer.gql(RESPONSES, {"survey": "PHONE_Q"}))["data"]["satisfactionResponses"]
    assert everyone["totalCount"] == 4 and (await viewer.gql(RESPONSES, {"survey": "NONE"}))["data"]["satisfactionResponses"]["totalCount"] == 0
