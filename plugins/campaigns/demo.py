"""The campaigns module's share of the demo tenant: a saved segment and a
finished campaign launched 45 days ago, with receipts from the provider and
extra purchases by some targeted customers in its window, so the report
shows an uplift over the holdout."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from engine.services.interactions import record_interactions
from engine.types import utcnow
from plugins.campaigns import segments, service
from plugins.campaigns.models import CampaignMember, CampaignMessage
from plugins.campaigns.receipts import apply_receipts

LAUNCHED_DAYS_AGO = 45
EFFECT = 0.08  # share of targeted customers the demo makes buy because of the message


def add_demo_campaign(ctx, seed: int) -> str:
    rnd = random.Random(seed)
    segment = segments.save_segment(ctx, "复购客户 Repeat buyers", {"purchaseCount": {"gte": 2}},
                                    "Customers with at least two purchases: the spring member-day audience.")
    campaign = service.create_campaign(ctx, {
        "name": "春季会员日 Spring member day", "goal": "SALES", "channels": ["WECHAT", "SMS"], "segment_id": segment.id,
        "theme": "会员日双倍积分", "content": "会员日到店消费享双倍积分，还有新品试用。", "format": "Member day",
        "place": "All stores", "owner": "marketing", "budget": "20000", "holdout_seed": seed,
    })
    at = utcnow() - timedelta(days=LAUNCHED_DAYS_AGO)
    service.launch(ctx, campaign.id, at=at)
    m = CampaignMessage
    messages = ctx.session.execute(sa.select(m.event_id, m.customer_id).where(
        m.tenant_id == ctx.tenant_id, m.campaign_id == campaign.id).order_by(m.id)).all()
    receipts = []
    for event_id, _ in messages:
        if rnd.random() < 0.95:
            receipts.append((event_id, "DELIVERED", at + timedelta(minutes=rnd.randint(1, 30))))
            if rnd.random() < 0.45:
                receipts.append((event_id, "OPENED", at + timedelta(hours=rnd.randint(1, 48))))
    buyers = [(event_id, cid, at + timedelta(days=rnd.uniform(0.5, 13))) for event_id, cid in messages if rnd.random() < EFFECT]
    receipts += [(event_id, "REDEEMED", when) for event_id, _, when in buyers]
    purchases = [{"customer_id": cid, "kind": "PURCHASE", "occurred_at": when, "amount": Decimal(rnd.randint(150, 900)),
                  "channel": "IN_STORE", "store": "SH-01", "payload": {"campaign": "spring-member-day"}}
                 for _, cid, when in buyers]
    for start in range(0, len(receipts), 1000):
        apply_receipts(ctx, receipts[start:start + 1000])
    if purchases:
        record_interactions(ctx, purchases)
    service.transition(ctx, campaign.id, "monitoring", "launched; watching receipts")
    service.transition(ctx, campaign.id, "evaluation", "window closed")
    held = ctx.session.execute(sa.select(sa.func.count()).where(
        CampaignMember.tenant_id == ctx.tenant_id, CampaignMember.campaign_id == campaign.id, CampaignMember.holdout)).scalar_one()
    return f"a finished campaign ({len(messages)} messages, {held} held out) with its report"
