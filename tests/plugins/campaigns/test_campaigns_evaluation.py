"""The report on simulated campaigns of known uplift, against a plain-Python
recount of the same purchases; the demo tenant's finished campaign."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.services.interactions import record_interactions
from engine.types import utcnow
from plugins.campaigns import messages, segments, service
from plugins.campaigns.evaluation import campaign_report
from plugins.campaigns.models import CampaignMember
from plugins.campaigns.uplift import mean_difference, proportion_difference
from tests.plugins.campaigns.helpers import EventLog, add_customers


@pytest.fixture
def events(monkeypatch):
    log = EventLog()
    monkeypatch.setattr(messages, "emit", log)
    return log


def test_a_campaign_of_known_uplift_is_estimated_within_its_interval(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    rnd = random.Random(2026)
    base, uplift, days = 0.15, 0.10, 14
    launch_at = utcnow() - timedelta(days=30)
    with gx.tenant(slug) as ctx:
        ids = add_customers(ctx, 2000)
        add_customers(ctx, 50, consent={})  # excluded: no consent, in neither group
        campaign = service.create_campaign(ctx, {"name": "sim", "goal": "SALES", "channels": ["SMS"], "holdout_share": 0.5,
                                                 "holdout_seed": 5, "attribution_days": days,
                                                 "segment_id": segments.save_segment(ctx, "all", {}).id})
        service.launch(ctx, campaign.id, at=launch_at)
        held = dict(ctx.session.execute(sa.select(CampaignMember.customer_id, CampaignMember.holdout).where(
            CampaignMember.campaign_id == campaign.id, CampaignMember.excluded.is_(None))).all())
        assert set(held) == set(ids)
        purchases, spent = [], {cid: 0.0 for cid in ids}
        # Exactly the known rates in each group (which customers the holdout takes depends on
        # the ids the database hands out), so the truth is the groups' own uplift, not a draw's.
        amounts = [Decimal(a) for a in range(50, 501, 50)]  # mean 275
        for holdout in (False, True):
            group = sorted(cid for cid in ids if held[cid] == holdout)
            rate = base + (0 if holdout else uplift)
            for n, cid in enumerate(rnd.sample(group, round(rate * len(group)))):
                amount = amounts[n % len(amounts)]
                purchases.append({"customer_id": cid, "kind": "PURCHASE", "amount": amount,
                                  "occurred_at": launch_at + timedelta(days=rnd.uniform(0, days - 0.01))})
                spent[cid] += float(amount)
        for cid in ids:
            if rnd.random() < 0.3:  # outside the window: before launch, after the window
                purchases.append({"customer_id": cid, "kind": "PURCHASE", "amount": Decimal(999),
                                  "occurred_at": launch_at + timedelta(days=rnd.choice((-3, days + 1)))})
        record_interactions(ctx, purchases)
        report = campaign_report(ctx, service.get_campaign(ctx, campaign.id))

    # plain-Python recount of the same purchases
    groups = {h: [spent[c] for c in ids if held[c] == h] for h in (False, True)}
    t, c = groups[False], groups[True]
    assert report.targeted.customers == len(t) and report.holdout.customers == len(c)
    assert report.targeted.converted == sum(1 for x in t if x > 0) and report.holdout.converted == sum(1 for x in c if x > 0)
    assert report.targeted.revenue == pytest.approx(sum(t)) and report.holdout.revenue == pytest.approx(sum(c))
    expected = proportion_difference(len(t), sum(1 for x in t if x > 0), len(c), sum(1 for x in c if x > 0))
    assert report.conversion_uplift == expected
    revenue = mean_difference(len(t), sum(t), sum(x * x for x in t), len(c), sum(c), sum(x * x for x in c))
    assert report.revenue_uplift.estimate == pytest.approx(revenue.estimate)
    # the known uplift lies in the interval, and the test sees it (n = 1000 per group)
    assert report.conversion_uplift.low <= uplift <= report.conversion_uplift.high
    assert report.conversion_uplift.p_value < 0.001
    assert report.revenue_uplift.low <= uplift * 275 <= report.revenue_uplift.high  # mean amount 275


def test_the_demo_adds_a_finished_campaign_with_an_uplift(gx, make_tenant):
    from plugins.campaigns.demo import add_demo_campaign
    from plugins.campaigns.models import Campaign

    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        ids = add_customers(ctx, 600, consent={"WECHAT": True})
        record_interactions(ctx, [{"customer_id": cid, "kind": "PURCHASE", "amount": Decimal(100),
                                   "occurred_at": utcnow() - timedelta(days=200 + k)} for cid in ids for k in (1, 2)])
        note = add_demo_campaign(ctx, 7)
        campaign = ctx.session.execute(sa.select(Campaign).where(Campaign.tenant_id == ctx.tenant_id)).scalar_one()
        report = campaign_report(ctx, campaign)
    assert "finished campaign" in note and campaign.state == "evaluation"
    assert report.participation.delivered > 0.9 * report.participation.sent
    assert report.targeted.converted > 0 and report.holdout.converted == 0


def test_the_report_shows_each_groups_satisfaction_in_the_window(gx, make_tenant, events):
    from plugins.satisfaction.answers import record_by_agent
    from plugins.satisfaction.surveys import create_survey

    slug = make_tenant(modules=("campaigns", "satisfaction"))
    launch_at = utcnow() - timedelta(days=20)
    with gx.tenant(slug) as ctx:
        ids = add_customers(ctx, 200)
        campaign = service.create_campaign(ctx, {"name": "care", "goal": "SATISFACTION", "channels": ["SMS"],
                                                 "holdout_share": 0.5, "holdout_seed": 3, "attribution_days": 14,
                                                 "segment_id": segments.save_segment(ctx, "all", {}).id})
        service.launch(ctx, campaign.id, at=launch_at)
        held = dict(ctx.session.execute(sa.select(CampaignMember.customer_id, CampaignMember.holdout).where(
            CampaignMember.campaign_id == campaign.id)).all())
        survey = create_survey(ctx, {"code": "CARE", "title_zh": "回访", "title_en": "Care", "model": "FOUR_DIMENSION"})
        targeted = [c for c in ids if not held[c]][:3]
        holdout = [c for c in ids if held[c]][:2]
        for customer_id, score in zip(targeted, (5, 4, 2)):
            record_by_agent(ctx, survey.id, customer_id, {"OVERALL": score}, answered_at=launch_at + timedelta(days=3))
        for customer_id, score in zip(holdout, (3, 4)):
            record_by_agent(ctx, survey.id, customer_id, {"OVERALL": score}, answered_at=launch_at + timedelta(days=5))
        record_by_agent(ctx, survey.id, holdout[0], {"OVERALL": 1}, answered_at=launch_at - timedelta(days=1))  # before
        report = campaign_report(ctx, service.get_campaign(ctx, campaign.id))
    t, c = report.satisfaction[False], report.satisfaction[True]
    assert (t.responses, t.mean_score, t.satisfied_share) == (3, pytest.approx(11 / 3), pytest.approx(2 / 3))
    assert (c.responses, c.mean_score, c.satisfied_share) == (2, pytest.approx(3.5), pytest.approx(0.5))
    assert report.as_dict()["satisfaction"]["targeted"]["responses"] == 3


def test_without_the_satisfaction_module_the_report_has_no_satisfaction(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        add_customers(ctx, 40)
        campaign = service.create_campaign(ctx, {"name": "plain", "goal": "SALES", "channels": ["SMS"],
                                                 "segment_id": segments.save_segment(ctx, "all", {}).id})
        service.launch(ctx, campaign.id, at=utcnow() - timedelta(days=2))
        assert campaign_report(ctx, service.get_campaign(ctx, campaign.id)).satisfaction is None
