"""Trigger rules: each event enqueues one message for one customer, once per
occasion, on a channel the customer consented to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from engine.services.interactions import record_interactions
from engine.services.modules import configure
from engine.services.tenants import get_tenant
from plugins.campaigns import messages, plugin, triggers
from plugins.campaigns.jobs import JOBS
from plugins.campaigns.models import CampaignMessage
from tests.plugins.campaigns.helpers import EventLog, add_customers


@pytest.fixture
def events(monkeypatch):
    log = EventLog()
    monkeypatch.setattr(messages, "emit", log)
    return log


def _configure(gx, slug, **values):
    with gx.system() as session:
        configure(session, gx.plugins, get_tenant(session, slug).id, "campaigns", values)


def _sent(ctx, rule: str) -> list[tuple[int, str]]:
    return ctx.session.execute(sa.select(CampaignMessage.customer_id, CampaignMessage.occasion)
                               .where(CampaignMessage.tenant_id == ctx.tenant_id, CampaignMessage.trigger == rule)
                               .order_by(CampaignMessage.id)).all()


def _purchase(cid, at, category="SKINCARE"):
    return {"customer_id": cid, "kind": "PURCHASE", "occurred_at": at, "amount": Decimal("100"), "payload": {"category": category}}


def test_the_third_skincare_purchase_in_90_days_sends_one_offer(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    _configure(gx, slug, triggers=[{"code": "THIRD_SKINCARE", "kind": "PURCHASE_COUNT", "category": "SKINCARE",
                                    "count": 3, "days": 90, "channel": "SMS", "content": "A gift for you"}])
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with gx.tenant(slug) as ctx:
        loyal, slow, no_consent = add_customers(ctx, 2) + add_customers(ctx, 1, consent={"SMS": False})
        record_interactions(ctx, [_purchase(loyal, t0), _purchase(loyal, t0 + timedelta(days=10), "MAKEUP"),
                                  _purchase(loyal, t0 + timedelta(days=20))])
        assert _sent(ctx, "THIRD_SKINCARE") == []  # the makeup purchase does not count
        record_interactions(ctx, [_purchase(loyal, t0 + timedelta(days=30)), _purchase(loyal, t0 + timedelta(days=31))])
        record_interactions(ctx, [_purchase(slow, t0), _purchase(slow, t0 + timedelta(days=60)),
                                  _purchase(slow, t0 + timedelta(days=120))])  # three, but not within 90 days
        record_interactions(ctx, [_purchase(no_consent, t0 + timedelta(days=d)) for d in (1, 2, 3)])
        sent = _sent(ctx, "THIRD_SKINCARE")
        assert [cid for cid, _ in sent] == [loyal]  # the third only; the fourth is not a third
        assert events.events[0].data["content"] == "A gift for you" and events.events[0].data["trigger"] == "THIRD_SKINCARE"


def test_a_hook_called_twice_for_one_occasion_sends_once(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    _configure(gx, slug, triggers=[{"code": "CLOSED", "kind": "COMPLAINT_CLOSED", "channel": "SMS"},
                                   {"code": "GOLD", "kind": "TIER_CHANGED", "to_tiers": ["GOLD"], "channel": "SMS"},
                                   {"code": "WINBACK", "kind": "LIFECYCLE_CHANGED", "to_stages": ["at_risk", "lapsed"],
                                    "channel": "SMS"}])

    @dataclass
    class Change:
        customer_id: int
        case_id: int = 0
        to_status: str = "closed"
        to_tier: str = ""
        from_stage: str = ""
        to_stage: str = ""
        at: datetime = datetime(2026, 5, 1, tzinfo=timezone.utc)

    with gx.tenant(slug) as ctx:
        a, b = add_customers(ctx, 2)
        for _ in range(2):
            plugin.guanxi_complaint_status_changed(ctx, Change(a, case_id=7))
            plugin.guanxi_complaint_status_changed(ctx, Change(b, case_id=8, to_status="resolved"))
            plugin.guanxi_loyalty_tier_changed(ctx, [Change(a, to_tier="GOLD"), Change(b, to_tier="SILVER")])
            plugin.guanxi_lifecycle_stage_changed(ctx, [Change(a, from_stage="active", to_stage="at_risk"),
                                                        Change(b, from_stage="new", to_stage="active")])
        assert [c for c, _ in _sent(ctx, "CLOSED")] == [a]
        assert [c for c, _ in _sent(ctx, "GOLD")] == [a]
        assert [c for c, _ in _sent(ctx, "WINBACK")] == [a]
        assert len(events.events) == 3


def test_a_closed_complaint_triggers_through_the_complaints_module(gx, make_tenant, events):
    from engine.services.customers import create_customer
    from plugins.complaints import service as complaints

    slug = make_tenant(modules=("campaigns", "complaints"))
    _configure(gx, slug, triggers=[{"code": "SORRY", "kind": "COMPLAINT_CLOSED", "channel": "WECHAT", "content": "Thank you"}])
    with gx.tenant(slug) as ctx:
        cid = create_customer(ctx, {"name": "王芳", "consent": {"WECHAT": True}}).id
        case = complaints.open_case(ctx, {"customer_id": cid, "category": "SERVICE"}).case
        complaints.resolve_case(ctx, case.id, "apologised", "training")
        complaints.record_follow_up(ctx, case.id, 5)
        assert _sent(ctx, "SORRY") == []
        complaints.close_case(ctx, case.id)
        assert _sent(ctx, "SORRY") == [(cid, f"trigger:SORRY:{cid}:case:{case.id}")]


def test_the_daily_job_greets_birthdays_and_holidays_once_per_year(gx, make_tenant, events):
    slug = make_tenant(modules=("campaigns",))
    _configure(gx, slug, holidays=[{"code": "MID_AUTUMN", "month": 9, "day": 25, "name": "中秋"}],
               triggers=[{"code": "BDAY", "kind": "BIRTHDAY", "channel": "SMS"},
                         {"code": "MOON", "kind": "HOLIDAY", "holiday": "MID_AUTUMN", "channel": "SMS"}])
    with gx.tenant(slug) as ctx:
        today, leap, other = add_customers(ctx, 1, birthday=date(1990, 2, 28)) + add_customers(
            ctx, 1, birthday=date(1992, 2, 29)) + add_customers(ctx, 1, birthday=date(1990, 3, 1))
        # 28 February 2027, 09:00 in Shanghai: a year without 29 February
        now = datetime(2027, 2, 28, 1, 0, tzinfo=timezone.utc)
        assert triggers.run_daily_triggers(ctx, now) == {"birthday": 2, "holiday": 0}
        assert triggers.run_daily_triggers(ctx, now + timedelta(hours=3)) == {"birthday": 0, "holiday": 0}
        assert {c for c, _ in _sent(ctx, "BDAY")} == {today, leap}
        moon = datetime(2027, 9, 25, 2, 0, tzinfo=timezone.utc)
        assert triggers.run_daily_triggers(ctx, moon)["holiday"] == 3
        assert JOBS[0].run(ctx) is not None  # the job runs the same function (today: nothing due or not)


def test_trigger_settings_are_checked_and_errors_name_the_setting(gx, make_tenant):
    from engine.errors import GuanxiError

    slug = make_tenant(modules=("campaigns",))
    with pytest.raises(GuanxiError) as refused:
        _configure(gx, slug, triggers=[{"code": "MOON", "kind": "HOLIDAY", "holiday": "NEW_YEAR"}])
    assert "holiday" in str(refused.value)
    with pytest.raises(GuanxiError) as stage:
        _configure(gx, slug, triggers=[{"code": "X", "kind": "LIFECYCLE_CHANGED", "to_stages": ["sleeping"]}])
    assert "to_stages" in str(stage.value) or "toStages" in str(stage.value)
