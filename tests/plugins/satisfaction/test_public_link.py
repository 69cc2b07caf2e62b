"""The public answer link end to end through HTTP (httpx on the ASGI app):
design a survey, invite, answer with the token, see it on the customer; and
every way a link is refused (expired, replayed, unknown, another tenant's,
another survey's, bad answers, too many requests)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from api.ids import to_global_id
from api.rate_limits import AnonymousCounter
from engine.services.customers import create_customer
from plugins.satisfaction.invitations import invite
from plugins.satisfaction.models import SatisfactionInvitation, SatisfactionResponse
from plugins.satisfaction.surveys import create_survey

pytestmark = pytest.mark.anyio

MODULES = ("satisfaction",)


@pytest.fixture(scope="module")
def link_app(gx):
    return create_app(gx)


@pytest.fixture
async def web(link_app):
    link_app.state.rate_limits.anonymous = AnonymousCounter(10_000)  # the limit test sets its own
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=link_app), base_url="http://test") as client:
        yield client


async def gql(web, key: str, query: str, variables: dict | None = None) -> dict:
    response = await web.post("/graphql", json={"query": query, "variables": variables or {}},
                              headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _customer(gx, slug: str, code: str, consent: dict) -> int:
    with gx.tenant(slug) as ctx:
        return create_customer(ctx, {"code": code, "name": "顾客" + code, "consent": consent, "store": "SH-01"}).id


def _survey_and_link(gx, slug: str, now: datetime | None = None, code: str = "CSI") -> tuple[int, str]:
    customer_id = _customer(gx, slug, "C" + code, {"WECHAT": True})
    with gx.tenant(slug) as ctx:
        survey = create_survey(ctx, {"code": code, "title_zh": "满意度", "title_en": "Satisfaction", "model": "FOUR_DIMENSION"})
        [link] = invite(ctx, survey.id, [customer_id], "CAMPAIGN", "SPRING", now=now).links
    return customer_id, link.path


GOOD = {"PRODUCT_FUNCTION__MEETS_NEEDS": 5, "SERVICE_QUALITY__ATTITUDE": 4, "OVERALL": 4, "NPS": 9, "RECOMMEND": "YES",
        "COMMENT": "店员很耐心"}

CREATE = """mutation($input: CreateSatisfactionSurveyInput!) { createSatisfactionSurvey(input: $input) {
  survey { id code questions { code kind target dimension indicator } } errors { field message code } } }"""
INVITE = """mutation($input: InviteToSatisfactionSurveyInput!) { inviteToSatisfactionSurvey(input: $input) {
  invitations { customerId channel expiresAt path } skippedNoConsent skippedQuiet skippedUnknown errors { field message code } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { satisfaction { latestScore latestNps npsClass answeredAt } } }"""
INDEX = """query($survey: String!) { satisfactionIndex(survey: $survey) { total { responses overall { count mean }
  nps { promoters detractors score } indicators { measure { code } figure { count mean satisfied } } } } }"""
PROMOTERS = """{ customers(where: {satisfaction: {npsClass: {eq: PROMOTER}, latestScore: {gte: 4}}}) { edges { node { id } } } }"""


async def test_designed_sent_answered_by_link_and_seen_on_the_customer(gx, make_tenant, make_key, web):
    slug = make_tenant(modules=MODULES)
    admin = make_key(slug, "ADMIN")
    created = (await gql(web, admin, CREATE, {"input": {"code": "CSI_2026", "titleZh": "顾客满意度调查",
                                                         "titleEn": "Customer satisfaction", "indexModel": "VIPSHOP_5X19"}}))
    survey = created["createSatisfactionSurvey"]["survey"]
    assert created["createSatisfactionSurvey"]["errors"] == []
    assert sum(q["target"] == "INDICATOR" for q in survey["questions"]) == 19
    yes = _customer(gx, slug, "Y1", {"WECHAT": False, "SMS": True})
    no = _customer(gx, slug, "N1", {"WECHAT": False})
    sent = (await gql(web, admin, INVITE, {"input": {"survey": "CSI_2026", "customerIds": [
        to_global_id("Customer", yes), to_global_id("Customer", no)], "sourceRef": "SPRING"}}))["inviteToSatisfactionSurvey"]
    assert sent["skippedNoConsent"] == 1 and sent["errors"] == []
    [link] = sent["invitations"]
    assert link["channel"] == "SMS" and link["customerId"] == to_global_id("Customer", yes)
    token = link["path"].rsplit("/", 1)[1]

    shown = await web.get(link["path"])
    assert shown.status_code == 200, shown.text
    questions = {q["code"]: q for q in shown.json()["questions"]}
    assert [c["zh"] for c in questions["PRODUCT__PRICE"]["choices"]] == ["非常满意", "满意", "一般", "不满意", "非常不满"]
    assert [c["zh"] for c in questions["RECOMMEND"]["choices"]] == ["会", "不会", "不知道"]
    assert [c["value"] for c in questions["NPS"]["choices"]] == list(range(11))

    answers = {"PRODUCT__QUALITY": 5, "PRODUCT__PRICE": 4, "LOGISTICS__SPEED_SAFETY": 2, "OVERALL": 4, "NPS": 10,
               "RECOMMEND": "YES", "REPURCHASE": 5, "COMMENT": "物流有点慢"}
    answered = await web.post(link["path"], json={"answers": answers, "survey": "CSI_2026"})
    assert answered.status_code == 201, answered.text

    with gx.tenant(slug, write=False) as ctx:
        response = ctx.session.execute(select(SatisfactionResponse)).scalars().one()
        stored_tokens = ctx.session.execute(select(SatisfactionInvitation.token_hash)).scalars().all()
    codes = [q["code"] for q in survey["questions"] if q["target"] == "INDICATOR"]
    assert response.scores[codes.index("PRODUCT__QUALITY")] == 5 and response.scores[codes.index("LOGISTICS__SPEED_SAFETY")] == 2
    assert sum(1 for b in response.scores if b) == 3 and len(response.scores) == 19
    assert (response.overall, response.nps, response.recommend, response.repurchase) == (4, 10, 1, 5)
    assert response.extra == {"COMMENT": "物流有点慢"} and response.source == "CAMPAIGN" and response.channel == "LINK"
    assert token not in stored_tokens and len(stored_tokens[0]) == 64  # only the hash is kept

    seen = (await gql(web, admin, CUSTOMER, {"id": to_global_id("Customer", yes)}))["customer"]["satisfaction"]
    assert seen["latestScore"] == 4.0 and seen["latestNps"] == 10 and seen["npsClass"] == "PROMOTER"
    promoters = (await gql(web, admin, PROMOTERS))["customers"]["edges"]
    assert [edge["node"]["id"] for edge in promoters] == [to_global_id("Customer", yes)]

    analysed = (await gql(web, admin, INDEX, {"survey": "CSI_2026"}))["satisfactionIndex"]["total"]
    assert analysed["responses"] == 1 and analysed["overall"] == {"count": 1, "mean": 4.0}
    assert analysed["nps"] == {"promoters": 1, "detractors": 0, "score": 100.0}
    figures = {i["measure"]["code"]: i["figure"] for i in analysed["indicators"]}
    assert figures["LOGISTICS.SPEED_SAFETY"] == {"count": 1, "mean": 2.0, "satisfied": 0.0}

    stats = await gql(web, admin, '{ satisfactionSurvey(code: "CSI_2026") { responseCount invitations { sent answered expired responseRate } } }')
    assert stats["satisfactionSurvey"] == {"responseCount": 1, "invitations": {"sent": 1, "answered": 1, "expired": 0, "responseRate": 1.0}}

    replay = await web.post(link["path"], json={"answers": answers})
    assert replay.status_code == 409 and replay.json()["errors"][0]["extensions"]["code"] == "TOKEN_USED"
    assert (await web.get(link["path"])).status_code == 409


async def test_an_expired_link_is_refused(gx, make_tenant, web):
    slug = make_tenant(modules=MODULES)
    _, path = _survey_and_link(gx, slug, now=datetime.now(timezone.utc) - timedelta(days=15))  # token_days = 14
    for response in (await web.get(path), await web.post(path, json={"answers": GOOD})):
        assert response.status_code == 410
        assert response.json()["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
    with gx.tenant(slug, write=False) as ctx:
        assert ctx.session.execute(select(SatisfactionResponse.id)).first() is None


async def test_a_link_is_good_only_in_its_own_tenant(gx, make_tenant, web):
    mine, other = make_tenant(modules=MODULES), make_tenant(modules=MODULES)
    _, path = _survey_and_link(gx, mine)
    token = path.rsplit("/", 1)[1]
    for response in (await web.get(f"/satisfaction/s/{other}/{token}"),
                     await web.post(f"/satisfaction/s/{other}/{token}", json={"answers": GOOD})):
        assert response.status_code == 403
        assert response.json()["errors"][0]["extensions"]["code"] == "TOKEN_WRONG_TENANT"
    for slug in (mine, other):
        with gx.tenant(slug, write=False) as ctx:
            assert ctx.session.execute(select(SatisfactionResponse.id)).first() is None
    assert (await web.post(path, json={"answers": GOOD})).status_code == 201  # still good at home


async def test_unknown_and_malformed_tokens_and_tenants_are_404(gx, make_tenant, web):
    slug = make_tenant(modules=MODULES)
    _, path = _survey_and_link(gx, slug)
    for bad in (f"/satisfaction/s/{slug}/" + "A" * 32, f"/satisfaction/s/{slug}/short", f"/satisfaction/s/no-such-shop/{path.rsplit('/', 1)[1]}"):
        response = await web.get(bad)
        assert response.status_code == 404 and response.json()["errors"][0]["extensions"]["code"] == "TOKEN_UNKNOWN"


async def test_a_link_of_a_tenant_without_the_module_is_404(gx, make_tenant, web):
    slug = make_tenant(modules=MODULES)
    _, path = _survey_and_link(gx, slug)
    from engine.services.modules import set_enabled

    with gx.tenant(slug) as ctx:
        set_enabled(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction", False)
    assert (await web.get(path)).status_code == 404


async def test_bad_answers_are_refused_per_question_and_leave_the_link_usable(gx, make_tenant, web):
    slug = make_tenant(modules=MODULES)
    _, path = _survey_and_link(gx, slug)
    bad = {"PRODUCT_FUNCTION__MEETS_NEEDS": 6, "NPS": "eleven", "RECOMMEND": "MAYBE", "NO_SUCH": 1}
    response = await web.post(path, json={"answers": bad})
    assert response.status_code == 422
    fields = {e["extensions"]["field"]: e["message"] for e in response.json()["errors"]}
    assert set(fields) == {"answers.PRODUCT_FUNCTION__MEETS_NEEDS", "answers.NPS", "answers.RECOMMEND", "answers.NO_SUCH",
                           "answers.OVERALL"}
    assert "1 (非常不满) to 5" in fields["answers.PRODUCT_FUNCTION__MEETS_NEEDS"] and "required" in fields["answers.OVERALL"]
    wrong_survey = await web.post(path, json={"answers": GOOD, "survey": "OTHER"})
    assert wrong_survey.status_code == 409 and wrong_survey.json()["errors"][0]["extensions"]["code"] == "TOKEN_WRONG_SURVEY"
    not_json = await web.post(path, content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert (await web.post(path, json={"answers": GOOD})).status_code == 201


async def test_the_html_form_is_self_contained_and_posts_back(gx, make_tenant, web):
    slug = make_tenant(modules=MODULES)
    customer_id, path = _survey_and_link(gx, slug)
    page = await web.get(path + "/form")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "非常满意" in page.text and 'name="q_OVERALL"' in page.text
    assert "<script" not in page.text and "http" not in page.text.replace('http-equiv', '')  # no external assets
    posted = await web.post(path, data={"q_OVERALL": "2", "q_PRODUCT_FUNCTION__MEETS_NEEDS": "1", "q_COMMENT": "<b>差</b>"})
    assert posted.status_code == 201 and "谢谢" in posted.text
    with gx.tenant(slug, write=False) as ctx:
        response = ctx.session.execute(select(SatisfactionResponse)).scalars().one()
    assert response.customer_id == customer_id and response.overall == 2 and response.extra == {"COMMENT": "<b>差</b>"}


async def test_requests_are_limited_per_address_and_per_token(gx, make_tenant, link_app, web):
    slug = make_tenant(modules=MODULES)
    _, path = _survey_and_link(gx, slug)
    statuses = [(await web.get(path)).status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429  # ten a minute per token
    _, other_path = _survey_and_link(gx, slug, code="CSI_B")
    link_app.state.rate_limits.anonymous = AnonymousCounter(2)
    statuses = [(await web.get(other_path)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
