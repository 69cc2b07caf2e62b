"""Trigger rules (the tenant's ``triggers`` setting): an event enqueues one
message for one customer, at most once per occasion.

- PURCHASE_COUNT: the customer's purchase that is their ``count``-th (of
  ``category``, the purchase payload's ``category``, when given) within
  ``days`` days; the occasion is that purchase.
- TIER_CHANGED (loyalty's ``guanxi_loyalty_tier_changed``): a move into one
  of ``to_tiers`` (any move when empty); the occasion is the tier and day.
- LIFECYCLE_CHANGED (the lifecycle module's ``guanxi_lifecycle_stage_changed``):
  a move into one of ``to_stages``; the occasion is the stage and day.
- COMPLAINT_CLOSED (complaints' ``guanxi_complaint_status_changed``): the case.
- BIRTHDAY and HOLIDAY: the daily job, on the tenant's local day; the
  occasion is the year. 29 February birthdays are greeted on 28 February in
  other years.

A message goes out only on a channel the customer consented to; the
frequency cap is a launch rule and does not hold back a care message.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine.context import TenantContext
from engine.models import Customer, Interaction
from engine.types import utcnow
from plugins.campaigns.messages import Outgoing, consent_sql, send_once
from plugins.campaigns.settings import CampaignsSettings, TriggerRule


def _rules(ctx: TenantContext, kind: str) -> list[TriggerRule]:
    s: CampaignsSettings = ctx.module_settings("campaigns")
    return [rule for rule in s.triggers if rule.enabled and rule.kind == kind]


def _send(ctx: TenantContext, rule: TriggerRule, customer_id: int, occasion: str, at: datetime | None = None) -> bool:
    return send_once(ctx, Outgoing(customer_id=customer_id, channel=rule.channel, theme=rule.theme or None,
                                   content=rule.content or None, trigger=rule.code,
                                   occasion=f"trigger:{rule.code}:{customer_id}:{occasion}"), at)


def _category(payload) -> str | None:
    value = (payload or {}).get("category") if isinstance(payload, dict) else None
    return None if value is None else str(value)


def _purchases_so_far(ctx: TenantContext, rule: TriggerRule, purchase) -> int:
    i = Interaction
    conditions = [i.tenant_id == ctx.tenant_id, i.customer_id == purchase.customer_id, i.kind == "PURCHASE",
                  i.occurred_at > purchase.occurred_at - timedelta(days=rule.days),
                  sa.or_(i.occurred_at < purchase.occurred_at, sa.and_(i.occurred_at == purchase.occurred_at, i.id <= purchase.id))]
    if rule.category is not None:
        conditions.append(i.payload["category"].as_string() == rule.category)
    return ctx.session.execute(sa.select(sa.func.count()).where(*conditions)).scalar_one()


def on_purchases(ctx: TenantContext, interactions) -> int:
    rules = _rules(ctx, "PURCHASE_COUNT")
    sent = 0
    for purchase in (i for i in interactions if i.kind == "PURCHASE"):
        for rule in rules:
            if rule.category is not None and _category(purchase.payload) != rule.category:
                continue
            if _purchases_so_far(ctx, rule, purchase) == rule.count:
                sent += _send(ctx, rule, purchase.customer_id, f"purchase:{purchase.id}", purchase.occurred_at)
    return sent


def on_tier_changes(ctx: TenantContext, changes) -> int:
    rules = _rules(ctx, "TIER_CHANGED")
    return sum(_send(ctx, rule, c.customer_id, f"tier:{c.to_tier}:{c.at.date().isoformat()}")
               for c in changes for rule in rules if not rule.to_tiers or c.to_tier in rule.to_tiers)


def on_stage_changes(ctx: TenantContext, changes) -> int:
    rules = _rules(ctx, "LIFECYCLE_CHANGED")
    sent = 0
    for change in changes:
        stage = str(change.to_stage).lower()
        for rule in rules:
            if not rule.to_stages or stage in rule.to_stages:
                sent += _send(ctx, rule, change.customer_id, f"stage:{stage}:{change.at.date().isoformat()}")
    return sent


def on_complaint_closed(ctx: TenantContext, change) -> int:
    return sum(_send(ctx, rule, change.customer_id, f"case:{change.case_id}") for rule in _rules(ctx, "COMPLAINT_CLOSED"))


# -- the daily job: birthdays and holidays ------------------------------------------------


def local_today(ctx: TenantContext, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(ctx.tenant.timezone)).date()


def _consenting(ctx: TenantContext, channel: str, *conditions) -> list[int]:
    dialect = ctx.session.get_bind().dialect.name
    return list(ctx.session.execute(
        sa.select(Customer.id).where(Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None),
                                     consent_sql(channel, dialect), *conditions).order_by(Customer.id)).scalars())


def _birthday_on(day: date):
    month, dom = sa.extract("month", Customer.birthday), sa.extract("day", Customer.birthday)
    today = sa.and_(month == day.month, dom == day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        return sa.or_(today, sa.and_(month == 2, dom == 29))
    return today


def run_daily_triggers(ctx: TenantContext, now: datetime | None = None) -> dict:
    """Today's birthday and holiday messages (safe to run many times a day)."""
    day = local_today(ctx, now)
    s: CampaignsSettings = ctx.module_settings("campaigns")
    sent = {"birthday": 0, "holiday": 0}
    for rule in _rules(ctx, "BIRTHDAY"):
        for customer_id in _consenting(ctx, rule.channel, Customer.birthday.is_not(None), _birthday_on(day)):
            sent["birthday"] += _send(ctx, rule, customer_id, f"birthday:{day.year}")
    holidays = {h.code: h for h in s.holidays}
    for rule in _rules(ctx, "HOLIDAY"):
        holiday = holidays.get(rule.holiday.strip().upper())
        if holiday is None or (holiday.month, holiday.day) != (day.month, day.day):
            continue
        for customer_id in _consenting(ctx, rule.channel):
            sent["holiday"] += _send(ctx, rule, customer_id, f"holiday:{holiday.code}:{day.year}")
    return sent
