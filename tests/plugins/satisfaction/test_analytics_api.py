"""satisfactionIndex, satisfactionDrivers and satisfactionTrend through the real
ASGI app: figures equal a plain-Python count of the stored answers, slices,
filters, segment joins, refusals, and one tenant never sees another's answers."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from engine.bulk import insert_rows
from engine.models import Customer
from plugins.rfm.models import RfmScore
from plugins.satisfaction.models import SatisfactionResponse
from plugins.satisfaction.surveys import create_survey

MODULES = ("satisfaction", "rfm")
MONTHS = (202401, 202402, 202403)

INDEX = """query($survey: String!, $by: [SatisfactionSliceBy!], $where: SatisfactionAnalyticsWhere) {
  satisfactionIndex(survey: $survey, by: $by, where: $where) {
    survey ciLevel satisfiedFrom weights { dimension { code label(lang: EN) } weight }
    total { responses index { count mean ciLow ciHigh }
      dimensions { measure { code } figure { count mean satisfied } }
      indicators { measure { code label } figure { count mean satisfied satisfiedCiLow satisfiedCiHigh } }
      overall { count mean satisfied } repurchase { count satisfied }
      nps { answers promoters passives detractors score ciLow ciHigh } recommend { answers yes no dontKnow yesShare } }
    slices { key { store month rfmSegment } responses nps { score } indicators { figure { count satisfied } } } } }"""
DRIVERS = """query($survey: String!, $target: SatisfactionDriverTarget) {
  satisfactionDrivers(survey: $survey, target: $target) { survey target respondents intercept rSquared ciLevel warning
    weights { dimension { code label(lang: EN) } coefficient stdError ciLow ciHigh pValue importance }
    matrix { importanceCut performanceCut points { dimension { code } importance performance
      quadrant { code label(lang: EN) } priority } fixFirst { dimension { code } } } } }"""
TREND = """query($survey: String!, $where: SatisfactionAnalyticsWhere) {
  satisfactionTrend(survey: $survey, where: $where) { month respondents index ciLow ciHigh
    flag { code label } pValue change changeFlag { code } changePValue } }"""


def seed(gx, slug: str, n: int = 300, seed: int = 1) -> list[dict]:
    """A 5×19 survey and n answers (random, some questions skipped); the answers as dicts."""
    rnd = random.Random(seed)
    with gx.tenant(slug) as ctx:
        survey = create_survey(ctx, {"code": "CSI", "title_zh": "满意度", "title_en": "Satisfaction"})
        ids = insert_rows(ctx.session, Customer.__table__, [
            Customer(tenant_id=ctx.tenant_id, code=f"C{i}").model_dump(exclude={"id"}) for i in range(40)])
        rows = []
        for i in range(n):
            scores = [0 if rnd.random() < 0.1 else rnd.choice([2, 3, 4, 4, 5]) for _ in range(19)]
            rows.append(dict(
                tenant_id=ctx.tenant_id, survey_id=survey.id, invitation_id=None, customer_id=ids[i % 40], source="WAVE",
                channel=rnd.choice(["LINK", "PHONE"]), store=rnd.choice(["SH-01", "BJ-02", None]), staff=None,
                case_id=None, answered_at=datetime(2024, 1 + i % 3, 10, tzinfo=timezone.utc), local_month=MONTHS[i % 3],
                scores=bytes(scores), overall=rnd.choice([None, 2, 3, 4, 5]), nps=rnd.choice([None, 0, 5, 7, 8, 9, 10]),
                recommend=rnd.choice([None, 1, 2, 3]), repurchase=rnd.choice([None, 1, 4, 5]), extra={}))
        insert_rows(ctx.session, SatisfactionResponse.__table__, rows)
        # an RFM run scored the first 20 customers
        ctx.session.execute(RfmScore.__table__.insert(), [dict(
            tenant_id=ctx.tenant_id, customer_id=c, run_id=1, recency_days=1.0, frequency=1, monetary=10, r_score=5,
            f_score=5, m_score=5, segment="CHAMPIONS" if k % 2 else "AT_RISK", computed_at=datetime.now(timezone.utc))
            for k, c in enumerate(ids[:20])])
        for row, k in zip(rows, range(n)):
            row["segment"] = ("CHAMPIONS" if (k % 40) % 2 else "AT_RISK") if k % 40 < 20 else None
    return rows


def top2(values):
    answered = [v for v in values if v]
    return sum(v >= 4 for v in answered) / len(answered)


def test_index_total_and_slices_match_the_stored_answers(gx, make_tenant, graphql):
    slug = make_tenant(modules=MODULES)
    rows = seed(gx, slug)
    body = graphql(slug, "VIEWER").execute(INDEX, {"survey": "CSI", "by": ["STORE", "MONTH"]})
    assert "errors" not in body, body
    report = body["data"]["satisfactionIndex"]
    assert (report["survey"], report["ciLevel"], report["satisfiedFrom"]) == ("CSI", 0.95, 4)
    assert [w["dimension"]["code"] for w in report["weights"]] == ["WEBSITE", "PRODUCT", "PAYMENT", "SERVICE", "LOGISTICS"]
    assert [w["weight"] for w in report["weights"]] == pytest.approx([0.2] * 5)
    total = report["total"]
    assert total["responses"] == len(rows)
    quality = total["indicators"][3]  # PRODUCT.QUALITY, the 4th scale question
    assert quality["measure"] == {"code": "PRODUCT.QUALITY", "label": "商品质量"}
    column = [r["scores"][3] for r in rows]
    assert quality["figure"]["count"] == sum(1 for v in column if v)
    assert quality["figure"]["satisfied"] == pytest.approx(top2(column))
    assert quality["figure"]["satisfiedCiLow"] < quality["figure"]["satisfied"] < quality["figure"]["satisfiedCiHigh"]
    nps = [r["nps"] for r in rows if r["nps"] is not None]
    promoters, detractors = sum(v >= 9 for v in nps), sum(v <= 6 for v in nps)
    assert total["nps"]["answers"] == len(nps)
    assert (total["nps"]["promoters"], total["nps"]["detractors"]) == (promoters, detractors)
    assert total["nps"]["score"] == pytest.approx(100 * (promoters - detractors) / len(nps))
    rec = [r["recommend"] for r in rows if r["recommend"] is not None]
    assert (total["recommend"]["yes"], total["recommend"]["no"], total["recommend"]["dontKnow"]) == (
        rec.count(1), rec.count(2), rec.count(3))
    assert total["overall"]["satisfied"] == pytest.approx(top2([r["overall"] for r in rows]))
    # slices: every (store, month) present, None store included, ordered by store then month
    keys = [(s["key"]["store"], s["key"]["month"]) for s in report["slices"]]
    assert keys == [(store, month) for store in (None, "BJ-02", "SH-01") for month in MONTHS]
    assert all(s["key"]["rfmSegment"] is None for s in report["slices"])
    one = report["slices"][4]  # BJ-02, February
    mine = [r for r in rows if r["store"] == "BJ-02" and r["local_month"] == 202402]
    assert one["responses"] == len(mine)
    assert one["indicators"][0]["figure"]["satisfied"] == pytest.approx(top2([r["scores"][0] for r in mine]))


def test_filters_and_rfm_segments(gx, make_tenant, graphql):
    slug = make_tenant(modules=MODULES)
    rows = seed(gx, slug, seed=2)
    client = graphql(slug)
    body = client.execute(INDEX, {"survey": "CSI", "by": ["RFM_SEGMENT"],
                                  "where": {"fromMonth": 202402, "store": ["SH-01"]}})
    assert "errors" not in body, body
    slices = {s["key"]["rfmSegment"]: s["responses"] for s in body["data"]["satisfactionIndex"]["slices"]}
    kept = [r for r in rows if r["local_month"] >= 202402 and r["store"] == "SH-01"]
    assert slices == {seg: sum(r["segment"] == seg for r in kept) for seg in {r["segment"] for r in kept}}
    at_risk = client.execute(INDEX, {"survey": "CSI", "where": {"rfmSegment": ["AT_RISK"]}})
    assert at_risk["data"]["satisfactionIndex"]["total"]["responses"] == sum(r["segment"] == "AT_RISK" for r in rows)


def test_drivers_and_ipa(gx, make_tenant, graphql):
    slug = make_tenant(modules=MODULES)
    seed(gx, slug, n=400, seed=3)
    body = graphql(slug, "VIEWER").execute(DRIVERS, {"survey": "CSI"})
    assert "errors" not in body, body
    drivers = body["data"]["satisfactionDrivers"]
    assert (drivers["target"], drivers["warning"]) == ("OVERALL", None)
    assert drivers["respondents"] > 100
    assert len(drivers["weights"]) == 5
    for w in drivers["weights"]:
        assert w["ciLow"] < w["coefficient"] < w["ciHigh"] and w["stdError"] > 0
    assert sum(w["importance"] for w in drivers["weights"]) == pytest.approx(1.0)
    points = drivers["matrix"]["points"]
    assert {p["quadrant"]["code"] for p in points} <= {"FIX_FIRST", "KEEP_UP", "LOW_PRIORITY", "POSSIBLE_OVERKILL"}
    fix = [p["dimension"]["code"] for p in points if p["quadrant"]["code"] == "FIX_FIRST"]
    assert sorted(p["dimension"]["code"] for p in drivers["matrix"]["fixFirst"]) == sorted(fix)
    repurchase = graphql(slug).execute(DRIVERS, {"survey": "CSI", "target": "REPURCHASE"})
    assert repurchase["data"]["satisfactionDrivers"]["target"] == "REPURCHASE"


def test_trend_by_month(gx, make_tenant, graphql):
    slug = make_tenant(modules=MODULES)
    rows = seed(gx, slug, seed=4)
    body = graphql(slug).execute(TREND, {"survey": "CSI", "where": {"toMonth": 202402}})
    assert "errors" not in body, body
    points = body["data"]["satisfactionTrend"]
    assert [p["month"] for p in points] == [202401, 202402]
    assert points[0]["change"] is None and points[1]["change"] == pytest.approx(points[1]["index"] - points[0]["index"])
    assert points[0]["respondents"] == sum(1 for r in rows if r["local_month"] == 202401 and any(r["scores"]))


def test_refusals_name_the_field(gx, make_tenant, graphql):
    slug = make_tenant(modules=("satisfaction",))  # no rfm
    seed(gx, slug, n=20)
    client = graphql(slug)
    missing = client.execute(INDEX, {"survey": "NOPE"})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad = client.execute(INDEX, {"survey": "CSI", "where": {"fromMonth": 202413}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "where.fromMonth" in bad["errors"][0]["message"]
    no_rfm = client.execute(INDEX, {"survey": "CSI", "by": ["RFM_SEGMENT"]})
    assert no_rfm["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "rfm module" in no_rfm["errors"][0]["message"]


def test_a_tenant_sees_only_its_own_answers(gx, make_tenant, graphql):
    mine, theirs = make_tenant(modules=MODULES), make_tenant(modules=MODULES)
    seed(gx, mine, n=30, seed=5)
    seed(gx, theirs, n=200, seed=6)
    body = graphql(mine).execute(INDEX, {"survey": "CSI"})
    assert body["data"]["satisfactionIndex"]["total"]["responses"] == 30


def test_a_survey_without_answers(gx, make_tenant, graphql):
    slug = make_tenant(modules=MODULES)
    with gx.tenant(slug) as ctx:
        create_survey(ctx, {"code": "EMPTY", "title_zh": "空", "title_en": "Empty"})
    client = graphql(slug)
    body = client.execute(INDEX, {"survey": "EMPTY", "by": ["MONTH"]})
    assert "errors" not in body, body
    report = body["data"]["satisfactionIndex"]
    assert report["slices"] == [] and report["total"]["responses"] == 0 and report["total"]["index"]["mean"] is None
    drivers = client.execute(DRIVERS, {"survey": "EMPTY"})["data"]["satisfactionDrivers"]
    assert drivers["weights"] == [] and drivers["warning"]
    assert client.execute(TREND, {"survey": "EMPTY"})["data"]["satisfactionTrend"] == []
