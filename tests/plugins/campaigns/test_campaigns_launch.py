"""Segments and campaigns through the services: a filter checked against the
tenant's modules, the snapshot, the holdout, consent and the frequency cap,
the life cycle's checked moves, offers from loyalty."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.errors import GuanxiError, ValidationFailed
from engine.services.merge import merge_customers
from engine.services.modules import configure
from engine.types import utcnow
from plugins.campaigns import messages, segments, service
from plugins.campaigns.holdout import bucket
from plugins.campaigns.models import CampaignMember, CampaignMessage
from tests.plugins.campaigns.helpers import EventLog, add_customers


@pytest.fixture
def events(monkeypatch):
    log = EventLog()
    monkeypatch.setattr(messages, "emit", log)
    return log


def _settings(gx, slug, **values):
    with gx.system() as session:
        from engine.services.tenants import get_tenant

        configure(session, gx.plugins, get_tenant(session, slug).id, "campaigns", values)


def test_a_segment_refuses_a_field_of_a_module_the_tenant_has_not_enabled_and_names_it(gx, make_tenant):
    slug = make_tenant(modules=("campaigns", "rfm"))
    with gx.tenant(slug) as ctx:
        with pytest.raises(ValidationFailed) as refused:
            segments.save_segment(ctx, "gold", {"loyalty": {"tier": {"eq": "GOLD"}}})
        assert refused.value.errors[0].field == "where.loyalty"
        with pytest.raises(ValidationFailed) as typo:
            segments.save_segment(ctx, "typo", {"totalSpent": {"gte": "abc"}})
        assert typo.value.errors[0].field == "where.totalSpent.gte"
        saved = segments.save_segment(ctx, "champions", {"rfm": {"segment": {"eq": "CHAMPIONS"}}})
        assert saved.id is not None
        with pytest.raises(GuanxiError) as twice:
            segments.save_segment(ctx, "champions", {})
        assert twice.value.errors[0].code == "CONFLICT"


def test_count_and_snapshot_follow_the_filter_and_the_holdout_is_the_seeded_hash(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        big = add_customers(ctx, 300, total_spent=500, purchase_count=3)
        add_customers(ctx, 50, total_spent=10, purchase_count=1)
        segment = segments.save_segment(ctx, "big spenders", {"totalSpent": {"gte": "100"}})
        assert segments.count_members(ctx, segment.where) == 300
        campaign = service.create_campaign(ctx, {"name": "spring", "goal": "SALES", "channels": ["SMS"],
                                                 "segment_id": segment.id, "holdout_seed": 99, "holdout_share": 0.2})
        launched = service.launch(ctx, campaign.id)
        assert launched.state == "execution" and launched.members == 300
        rows = ctx.session.execute(sa.select(CampaignMember.customer_id, CampaignMember.holdout).where(
            CampaignMember.campaign_id == campaign.id)).all()
        assert {cid for cid, _ in rows} == set(big)
        assert {cid for cid, held in rows if held} == {cid for cid in big if bucket(cid, 99) < 2000}
        assert launched.held_out == sum(1 for cid in big if bucket(cid, 99) < 2000)
        assert launched.targeted == 300 - launched.held_out
        sent = {e.customer_id for e in events.events}
        assert sent == {cid for cid, held in rows if not held}
        assert all(e.type == "campaign.message" and e.data["channel"] == "SMS" for e in events.events)
        stored = set(ctx.session.execute(sa.select(CampaignMessage.event_id).where(
            CampaignMessage.campaign_id == campaign.id)).scalars())
        assert stored == {e.id for e in events.events} == {e.data["message_id"] for e in events.events}


def test_consent_picks_the_channel_and_the_frequency_cap_excludes_and_both_are_counted(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    _settings(gx, slug, frequency_cap=2, frequency_days=7, holdout_share=0.0)
    with gx.tenant(slug) as ctx:
        wechat = add_customers(ctx, 5, consent={"WECHAT": True, "SMS": True})
        sms_only = add_customers(ctx, 4, consent={"SMS": True, "WECHAT": False})
        nothing = add_customers(ctx, 3, consent={"EMAIL": True})
        busy = add_customers(ctx, 2, consent={"WECHAT": True})
        for cid in busy:  # two messages this week already
            for k in range(2):
                ctx.session.add(CampaignMessage(tenant_id=ctx.tenant_id, customer_id=cid, occasion=f"old:{cid}:{k}",
                                                event_id=f"old{cid}x{k}", channel="SMS", sent_at=utcnow() - timedelta(days=k + 1)))
        segment = segments.save_segment(ctx, "all", {})
        campaign = service.create_campaign(ctx, {"name": "care", "goal": "SATISFACTION", "channels": ["WECHAT", "SMS"],
                                                 "segment_id": segment.id})
        launched = service.launch(ctx, campaign.id)
        assert launched.exclusions == {"NO_CONSENT": 3, "FREQUENCY_CAP": 2}
        assert launched.targeted == 9
        channel = {e.customer_id: e.data["channel"] for e in events.events}
        assert channel == {**{c: "WECHAT" for c in wechat}, **{c: "SMS" for c in sms_only}}
        assert not set(nothing) & set(channel) and not set(busy) & set(channel)


def test_the_life_cycle_moves_only_forward_and_launch_is_the_way_into_execution(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        add_customers(ctx, 3)
        segment = segments.save_segment(ctx, "all", {})
        campaign = service.create_campaign(ctx, {"name": "c", "goal": "AWARENESS", "channels": ["SMS"]})
        with pytest.raises(ValidationFailed) as no_segment:
            service.launch(ctx, campaign.id)
        assert no_segment.value.errors[0].field == "segmentId"
        with pytest.raises(ValidationFailed) as direct:
            service.transition(ctx, campaign.id, "execution")
        assert direct.value.errors[0].code == "ILLEGAL_TRANSITION"
        with pytest.raises(ValidationFailed):
            service.transition(ctx, campaign.id, "evaluation")
        service.transition(ctx, campaign.id, "promotion")
        service.update_campaign(ctx, campaign.id, {"segment_id": segment.id, "budget": "1200.50"})
        service.launch(ctx, campaign.id)
        with pytest.raises(ValidationFailed) as again:
            service.launch(ctx, campaign.id)
        assert again.value.errors[0].code == "ILLEGAL_TRANSITION"
        with pytest.raises(ValidationFailed) as fixed:
            service.update_campaign(ctx, campaign.id, {"theme": "late change"})
        assert fixed.value.errors[0].code == "ILLEGAL_TRANSITION"
        service.transition(ctx, campaign.id, "monitoring")
        done = service.transition(ctx, campaign.id, "evaluation")
        assert done.state == "evaluation"
        with pytest.raises(ValidationFailed):
            service.transition(ctx, campaign.id, "cancelled")


def test_the_plan_is_validated_field_by_field(gx, make_tenant):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        for data, field in (({"name": "x", "goal": "FAME", "channels": ["SMS"]}, "goal"),
                            ({"name": "x", "goal": "SALES", "channels": ["FAX"]}, "channels"),
                            ({"name": "x", "goal": "SALES", "channels": []}, "channels"),
                            ({"name": "x", "goal": "SALES", "channels": ["SMS"], "budget": "-1"}, "budget"),
                            ({"name": "x", "goal": "SALES", "channels": ["SMS"], "offer": {"kind": "POINTS_BONUS", "points": 100}}, "offer"),
                            ({"name": " ", "goal": "SALES", "channels": ["SMS"]}, "name")):
            with pytest.raises(ValidationFailed) as refused:
                service.create_campaign(ctx, data)
            assert refused.value.errors[0].field == field, data


def test_an_offer_names_a_loyalty_reward_that_exists(gx, make_tenant):
    from plugins.loyalty.service import create_reward

    slug = make_tenant(modules=("campaigns", "loyalty"))
    with gx.tenant(slug) as ctx:
        create_reward(ctx, "TEA", "茶", "Tea", "GIFT", 100)
        base = {"name": "x", "goal": "SALES", "channels": ["SMS"]}
        with pytest.raises(GuanxiError) as missing:
            service.create_campaign(ctx, {**base, "offer": {"kind": "REWARD", "reward_code": "CAKE"}})
        assert missing.value.errors[0].field == "offer.rewardCode"
        with pytest.raises(GuanxiError) as not_coupon:
            service.create_campaign(ctx, {**base, "offer": {"kind": "COUPON", "reward_code": "TEA"}})
        assert not_coupon.value.errors[0].field == "offer.rewardCode"
        ok = service.create_campaign(ctx, {**base, "offer": {"kind": "REWARD", "reward_code": "TEA"}})
        assert ok.offer == {"kind": "REWARD", "reward_code": "TEA"}


def test_a_merged_customer_keeps_one_membership_and_the_messages(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        kept, merged = add_customers(ctx, 2)
        campaign = service.create_campaign(ctx, {"name": "c", "goal": "SALES", "channels": ["SMS"], "holdout_share": 0,
                                                 "segment_id": segments.save_segment(ctx, "all", {}).id})
        service.launch(ctx, campaign.id)
        merge_customers(ctx, kept, merged)
        members = ctx.session.execute(sa.select(CampaignMember.customer_id).where(CampaignMember.campaign_id == campaign.id)).scalars().all()
        assert members == [kept]
        owners = ctx.session.execute(sa.select(CampaignMessage.customer_id).where(CampaignMessage.campaign_id == campaign.id)).scalars().all()
        assert owners == [kept, kept]


def test_a_tenant_sees_and_launches_only_its_own(gx, make_tenant, events):
    one, two = make_tenant(modules=("campaigns",)), make_tenant(modules=("campaigns",))
    with gx.tenant(one) as ctx:
        add_customers(ctx, 4)
        segment_id = segments.save_segment(ctx, "all", {}).id
        campaign_id = service.create_campaign(ctx, {"name": "c", "goal": "SALES", "channels": ["SMS"], "segment_id": segment_id}).id
    with gx.tenant(two) as ctx:
        add_customers(ctx, 6)
        with pytest.raises(GuanxiError) as foreign:
            service.launch(ctx, campaign_id)
        assert foreign.value.errors[0].code == "NOT_FOUND"
        with pytest.raises(GuanxiError):
            service.create_campaign(ctx, {"name": "c", "goal": "SALES", "channels": ["SMS"], "segment_id": segment_id})
    with gx.tenant(one) as ctx:
        assert service.launch(ctx, campaign_id).members == 4  # the other tenant's six are not in
