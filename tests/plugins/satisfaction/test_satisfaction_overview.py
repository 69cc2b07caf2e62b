"""satisfactionOverview through the real app: responses, overall satisfaction,
NPS and the index over every survey answered in a period equal a plain-Python
computation (two surveys on different index models, unanswered questions,
another tenant's answers left out); over one survey it equals that survey's
own satisfactionIndex."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from engine.bulk import insert_rows
from engine.models import Customer
from plugins.satisfaction.models import SatisfactionResponse
from plugins.satisfaction.surveys import create_survey, layout_of

QUERY = """query($from: DateTime!, $to: DateTime!, $store: String) {
  satisfactionOverview(from: $from, to: $to, store: $store) {
    responses index indexRespondents overallAnswers overallMean overallSatisfied
    npsAnswers promoters passives detractors nps } }"""
START, END = datetime(2025, 3, 1, tzinfo=timezone.utc), datetime(2025, 4, 1, tzinfo=timezone.utc)


def seed(gx, slug: str, rnd: random.Random, n: int = 120) -> list[dict]:
    """Answers to a 5×19 and a 4×3 survey, in March 2025 and around it."""
    rows = []
    with gx.tenant(slug) as ctx:
        surveys = [create_survey(ctx, {"code": "CSI", "title_zh": "满意度", "title_en": "Satisfaction"}),
                   create_survey(ctx, {"code": "FOUR", "title_zh": "四维", "title_en": "Four", "model": "FOUR_DIMENSION"})]
        ids = insert_rows(ctx.session, Customer.__table__, [
            Customer(tenant_id=ctx.tenant_id, code=f"C{i}").model_dump(exclude={"id"}) for i in range(10)])
        for i in range(n):
            survey = surveys[i % 2]
            layout = layout_of(survey)
            scores = [0 if rnd.random() < 0.15 else rnd.choice([1, 2, 3, 4, 5]) for _ in range(layout.width)]
            if i % 17 == 0:
                scores = [0] * layout.width  # no scale answer: no index
            when = datetime(2025, rnd.choice([2, 3, 3, 3, 4]), rnd.randint(1, 28), rnd.randint(0, 23), tzinfo=timezone.utc)
            rows.append(dict(
                tenant_id=ctx.tenant_id, survey_id=survey.id, invitation_id=None, customer_id=ids[i % 10], source="WAVE",
                channel="LINK", store=rnd.choice(["S1", "S2"]), staff=None, case_id=None, answered_at=when,
                local_month=when.year * 100 + when.month, scores=bytes(scores), overall=rnd.choice([None, 1, 2, 3, 4, 5]),
                nps=rnd.choice([None, 0, 3, 6, 7, 8, 9, 10]), recommend=None, repurchase=None, extra={}))
        insert_rows(ctx.session, SatisfactionResponse.__table__, rows)
        for row in rows:
            row["layout"] = layout_of(surveys[0] if row["survey_id"] == surveys[0].id else surveys[1])
    return rows


def respondent_index(row) -> float | None:
    """docs/satisfaction-index.md: dimension scores (mean of the answered indicators) on 0–100, equal weights."""
    layout = row["layout"]
    weighted = weight = 0.0
    for d in range(len(layout.dimension_codes)):
        answers = [b for b, dim in zip(row["scores"], layout.byte_dimension) if dim == d and b]
        if answers:
            weighted += (sum(answers) / len(answers) - 1) * 25
            weight += 1
    return weighted / weight if weight else None


def expected(rows, store=None) -> dict:
    kept = [r for r in rows if START <= r["answered_at"] < END and (store is None or r["store"] == store)]
    overall = [r["overall"] for r in kept if r["overall"] is not None]
    nps = [r["nps"] for r in kept if r["nps"] is not None]
    indices = [i for i in map(respondent_index, kept) if i is not None]
    promoters, detractors = sum(v >= 9 for v in nps), sum(v <= 6 for v in nps)
    return {"responses": len(kept), "index": sum(indices) / len(indices), "indexRespondents": len(indices),
            "overallAnswers": len(overall), "overallMean": sum(overall) / len(overall),
            "overallSatisfied": sum(v >= 4 for v in overall) / len(overall), "npsAnswers": len(nps),
            "promoters": promoters, "passives": sum(7 <= v <= 8 for v in nps), "detractors": detractors,
            "nps": 100 * (promoters - detractors) / len(nps)}


@pytest.mark.parametrize("store", [None, "S1"])
def test_every_survey_of_the_period_together_equals_a_plain_python_count(gx, make_tenant, graphql, store):
    slug, other = make_tenant(modules=("satisfaction",)), make_tenant(modules=("satisfaction",))
    rows = seed(gx, slug, random.Random(3))
    seed(gx, other, random.Random(4))  # another tenant's answers in the same month
    body = graphql(slug, "VIEWER").execute(QUERY, {"from": START.isoformat(), "to": END.isoformat(), "store": store})
    assert "errors" not in body, body
    assert body["data"]["satisfactionOverview"] == pytest.approx(expected(rows, store))


def test_over_one_survey_it_is_that_surveys_index(gx, make_tenant, graphql):
    slug = make_tenant(modules=("satisfaction",))
    rows = seed(gx, slug, random.Random(8))
    client = graphql(slug, "VIEWER")
    with gx.tenant(slug) as ctx:  # only CSI's answers stay in March: FOUR's move to 2024
        ctx.session.execute(sa.update(SatisfactionResponse).where(
            SatisfactionResponse.tenant_id == ctx.tenant_id,
            SatisfactionResponse.survey_id != rows[0]["survey_id"]).values(answered_at=datetime(2024, 1, 1, tzinfo=timezone.utc),
                                                                             local_month=202401))
    overview = client.execute(QUERY, {"from": START.isoformat(), "to": END.isoformat()})["data"]["satisfactionOverview"]
    index = client.execute("""{ satisfactionIndex(survey: "CSI", where: {fromMonth: 202503, toMonth: 202503}) {
        total { responses index { count mean } nps { answers score } overall { count mean satisfied } } } }""")
    total = index["data"]["satisfactionIndex"]["total"]
    assert overview["responses"] == total["responses"] > 0
    assert (overview["indexRespondents"], overview["index"]) == (total["index"]["count"], pytest.approx(total["index"]["mean"]))
    assert (overview["npsAnswers"], overview["nps"]) == (total["nps"]["answers"], pytest.approx(total["nps"]["score"]))
    assert (overview["overallAnswers"], overview["overallMean"], overview["overallSatisfied"]) == (
        total["overall"]["count"], pytest.approx(total["overall"]["mean"]), pytest.approx(total["overall"]["satisfied"]))


def test_a_period_without_answers_has_nulls_and_bad_periods_are_refused(make_tenant, graphql):
    client = graphql(make_tenant(modules=("satisfaction",)), "VIEWER")
    empty = client.execute(QUERY, {"from": START.isoformat(), "to": END.isoformat()})["data"]["satisfactionOverview"]
    assert empty == {"responses": 0, "index": None, "indexRespondents": 0, "overallAnswers": 0, "overallMean": None,
                     "overallSatisfied": None, "npsAnswers": 0, "promoters": 0, "passives": 0, "detractors": 0, "nps": None}
    body = client.execute(QUERY, {"from": END.isoformat(), "to": START.isoformat()})
    assert body["errors"][0]["extensions"]["code"] == "INVALID" and body["errors"][0]["message"].startswith("to: must be after from")
