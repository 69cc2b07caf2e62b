"""Campaigns: the plan, the life cycle, and the launch.

Launching snapshots the segment (one INSERT ... SELECT, holdout marked in
SQL), applies the rules to every member alike (held out or not, so both
groups stay comparable): a customer without consent on any of the
campaign's channels is excluded (NO_CONSENT), one already sent
``frequency_cap`` messages in the last ``frequency_days`` days is excluded
(FREQUENCY_CAP); then each eligible targeted member gets one message on the
first of the campaign's channels they consented to.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed, invalid, not_found
from engine.input_bounds import MAX_AMOUNT, bounded_time, check_text
from engine.models import Customer
from engine.services import audit
from engine.types import utcnow
from plugins.campaigns import segments
from plugins.campaigns.holdout import MAX_SEED
from plugins.campaigns.lifecycle import EDITABLE, LAUNCHABLE, State, may_move
from plugins.campaigns.messages import Outgoing, consent_sql, send_batch
from plugins.campaigns.models import Campaign, CampaignMember, CampaignMessage, CampaignTransition
from plugins.campaigns.settings import CHANNELS, CampaignsSettings

GOALS = ("AWARENESS", "SALES", "SATISFACTION")
OFFER_KINDS = ("REWARD", "COUPON", "POINTS_BONUS")
EXCLUSION_REASONS = ("NO_CONSENT", "FREQUENCY_CAP")
PLAN_TEXT = {"name": 100, "theme": 200, "content": 4000, "format": 100, "place": 200, "owner": 64}


def settings_of(ctx: TenantContext) -> CampaignsSettings:
    return ctx.module_settings("campaigns")


def get_campaign(ctx: TenantContext, campaign_id: int, field: str = "id", lock: bool = False) -> Campaign:
    query = sa.select(Campaign).where(Campaign.tenant_id == ctx.tenant_id, Campaign.id == campaign_id)
    row = ctx.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None:
        raise not_found(field, f"no campaign {campaign_id} in this tenant")
    return row


# -- the plan -------------------------------------------------------------------------


def _budget(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid("budget", f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise invalid("budget", f"must be at least 0 and below {MAX_AMOUNT}")
    return amount.quantize(Decimal("0.01"))


def _channels(value: Any) -> list[str]:
    channels = [str(c).strip().upper() for c in (value or [])]
    if not channels:
        raise ValidationFailed([FieldError("channels", "give at least one channel", "REQUIRED")])
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise invalid("channels", f"unknown channels {', '.join(unknown)}; one of {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        raise invalid("channels", "a channel is given twice", "DUPLICATE")
    return channels


def check_offer(ctx: TenantContext, offer: dict | None) -> dict:
    """``{}`` or ``{"kind": REWARD|COUPON, "reward_code": ...}`` / ``{"kind": POINTS_BONUS, "points": n}``:
    loyalty's catalogue and points, so the loyalty module must be on."""
    if not offer:
        return {}
    kind = str(offer.get("kind") or "").strip().upper()
    if kind not in OFFER_KINDS:
        raise invalid("offer.kind", f"one of {', '.join(OFFER_KINDS)}")
    if "loyalty" not in ctx.enabled_modules:
        raise invalid("offer", "offers are loyalty rewards, coupons or points: the loyalty module is not enabled "
                               "for this tenant", "MODULE_DISABLED")
    if kind == "POINTS_BONUS":
        from plugins.loyalty.service import parse_points

        points = parse_points(offer.get("points"), "offer.points")
        if points <= 0:
            raise invalid("offer.points", "a bonus is a positive number of points")
        return {"kind": kind, "points": points}
    from plugins.loyalty.models import LoyaltyReward

    code = str(offer.get("reward_code") or "").strip()
    reward = ctx.session.execute(sa.select(LoyaltyReward).where(
        LoyaltyReward.tenant_id == ctx.tenant_id, LoyaltyReward.code == code)).scalar_one_or_none()
    if reward is None or not reward.active:
        raise not_found("offer.rewardCode", f"no active reward {code!r} in the loyalty catalogue")
    if kind == "COUPON" and reward.kind != "COUPON":
        raise invalid("offer.rewardCode", f"{code} is a {reward.kind} reward, not a coupon")
    return {"kind": kind, "reward_code": reward.code}


def _apply_plan(ctx: TenantContext, row: Campaign, data: dict) -> None:
    problems: list[FieldError] = []
    for name, limit in PLAN_TEXT.items():
        if name in data:
            value = (data[name] or "").strip() or None
            if name == "name" and value is None:
                problems.append(FieldError("name", "is required", "REQUIRED"))
                continue
            problems += check_text(name, value, limit)
            setattr(row, name, value)
    if problems:
        raise ValidationFailed(problems)
    if "goal" in data:
        goal = str(data["goal"] or "").strip().upper()
        if goal not in GOALS:
            raise invalid("goal", f"one of {', '.join(GOALS)}")
        row.goal = goal
    if "budget" in data:
        row.budget = _budget(data["budget"])
    if "channels" in data:
        row.channels = _channels(data["channels"])
    for name in ("starts_at", "ends_at"):
        if name in data:
            setattr(row, name, bounded_time(name, data[name]))
    if row.starts_at and row.ends_at and row.ends_at <= row.starts_at:
        raise invalid("ends_at", "must be after starts_at")
    if "segment_id" in data:
        row.segment_id = None if data["segment_id"] is None else segments.get_segment(ctx, data["segment_id"], "segment_id").id
    if "offer" in data:
        row.offer = check_offer(ctx, data["offer"])
    if data.get("holdout_share") is not None:
        share = float(data["holdout_share"])
        if not 0.0 <= share <= 0.5:
            raise invalid("holdout_share", "must be between 0 and 0.5")
        row.holdout_share = share
    if data.get("attribution_days") is not None:
        days = int(data["attribution_days"])
        if not 1 <= days <= 365:
            raise invalid("attribution_days", "must be between 1 and 365 days")
        row.attribution_days = days
    if data.get("holdout_seed") is not None:
        seed = int(data["holdout_seed"])
        if not 0 <= seed <= MAX_SEED:
            raise invalid("holdout_seed", f"must be between 0 and {MAX_SEED}")
        row.holdout_seed = seed


@audit.audited("campaigns.create", "Campaign")
def create_campaign(ctx: TenantContext, data: dict) -> Campaign:
    s = settings_of(ctx)
    row = Campaign(tenant_id=ctx.tenant_id, name="", goal="SALES", created_by=ctx.actor, holdout_share=s.holdout_share,
                   attribution_days=s.attribution_days, holdout_seed=secrets.randbelow(MAX_SEED))
    _apply_plan(ctx, row, {"channels": data.get("channels"), **data})
    if "name" not in data:
        raise ValidationFailed([FieldError("name", "is required", "REQUIRED")])
    ctx.session.add(row)
    ctx.session.flush()
    return row


@audit.audited("campaigns.update", "Campaign")
def update_campaign(ctx: TenantContext, campaign_id: int, data: dict) -> Campaign:
    row = get_campaign(ctx, campaign_id, lock=True)
    if State(row.state) not in EDITABLE:
        raise invalid("id", f"the plan is fixed once launched (the campaign is {row.state})", "ILLEGAL_TRANSITION")
    _apply_plan(ctx, row, data)
    row.updated_at = utcnow()
    ctx.session.add(row)
    ctx.session.flush()
    return row


def _record(ctx: TenantContext, row: Campaign, to: State, note: str | None, at: datetime) -> None:
    problems = check_text("note", note, 2000)
    if problems:
        raise ValidationFailed(problems)
    ctx.session.add(CampaignTransition(tenant_id=ctx.tenant_id, campaign_id=row.id, from_state=row.state, to_state=to.value,
                                       actor=ctx.actor, note=note, at=at))
    row.state, row.updated_at = to.value, utcnow()
    ctx.session.add(row)


@audit.audited("campaigns.transition", "Campaign")
def transition(ctx: TenantContext, campaign_id: int, to: str, note: str | None = None) -> Campaign:
    row = get_campaign(ctx, campaign_id, lock=True)
    try:
        target = State(str(to).strip().lower())
    except ValueError:
        raise invalid("to", f"one of {', '.join(s.name for s in State)}") from None
    current = State(row.state)
    if target is State.EXECUTION:
        raise invalid("to", "a campaign enters EXECUTION by launching (launchCampaign)", "ILLEGAL_TRANSITION")
    if not may_move(current, target):
        raise invalid("to", f"a {current.name} campaign cannot move to {target.name}", "ILLEGAL_TRANSITION")
    _record(ctx, row, target, note, utcnow())
    ctx.session.flush()
    return row


# -- the launch ---------------------------------------------------------------------------


def _choose_channels(ctx: TenantContext, row: Campaign) -> None:
    """Each member's channel: the campaign's first one the customer consented to (NULL: none)."""
    members = CampaignMember.__table__
    dialect = ctx.session.get_bind().dialect.name
    first_consented = sa.case(*[(consent_sql(ch, dialect), ch) for ch in row.channels], else_=sa.null())
    of_member = (sa.select(first_consented).where(Customer.id == members.c.customer_id, Customer.tenant_id == ctx.tenant_id)
                 .scalar_subquery())
    mine = (members.c.tenant_id == ctx.tenant_id, members.c.campaign_id == row.id)
    ctx.session.execute(sa.update(members).where(*mine).values(channel=of_member))
    ctx.session.execute(sa.update(members).where(*mine, members.c.channel.is_(None)).values(excluded="NO_CONSENT"))


def _cap_frequency(ctx: TenantContext, row: Campaign, s: CampaignsSettings, at: datetime) -> None:
    members, messages = CampaignMember.__table__, CampaignMessage.__table__
    recent = (sa.select(messages.c.customer_id)
              .where(messages.c.tenant_id == ctx.tenant_id, messages.c.sent_at > at - timedelta(days=s.frequency_days),
                     messages.c.sent_at <= at)
              .group_by(messages.c.customer_id).having(sa.func.count() >= s.frequency_cap))
    ctx.session.execute(sa.update(members).where(
        members.c.tenant_id == ctx.tenant_id, members.c.campaign_id == row.id, members.c.excluded.is_(None),
        members.c.customer_id.in_(recent)).values(excluded="FREQUENCY_CAP"))


def _counts(ctx: TenantContext, campaign_id: int) -> list[tuple[bool, str | None, int]]:
    m = CampaignMember.__table__
    return [(bool(h), e, n) for h, e, n in ctx.session.execute(
        sa.select(m.c.holdout, m.c.excluded, sa.func.count())
        .where(m.c.tenant_id == ctx.tenant_id, m.c.campaign_id == campaign_id).group_by(m.c.holdout, m.c.excluded))]


def public_offer(offer: dict | None) -> dict | None:
    return {k: v for k, v in (offer or {}).items()} or None


@audit.audited("campaigns.launch", "Campaign")
def launch(ctx: TenantContext, campaign_id: int, at: datetime | None = None) -> Campaign:
    """Snapshot the segment, set the holdout aside, apply consent and the frequency cap,
    send; the campaign is then in EXECUTION. ``at`` (default now) back-dates a launch (the demo)."""
    at = bounded_time("at", at) if at is not None else utcnow()
    row = get_campaign(ctx, campaign_id, lock=True)
    if State(row.state) not in LAUNCHABLE:
        raise invalid("id", f"a {row.state.upper()} campaign cannot be launched", "ILLEGAL_TRANSITION")
    if row.segment_id is None:
        raise ValidationFailed([FieldError("segmentId", "the campaign has no segment to launch to", "REQUIRED")])
    if not row.channels:
        raise ValidationFailed([FieldError("channels", "the campaign has no channel", "REQUIRED")])
    s = settings_of(ctx)
    segment = segments.get_segment(ctx, row.segment_id, "segmentId")
    members = segments.materialise(ctx, row.id, segment.where, row.holdout_seed, row.holdout_share)
    _choose_channels(ctx, row)
    _cap_frequency(ctx, row, s, at)
    m = CampaignMember.__table__
    targets = ctx.session.execute(
        sa.select(m.c.customer_id, m.c.channel)
        .where(m.c.tenant_id == ctx.tenant_id, m.c.campaign_id == row.id, m.c.holdout.is_(False), m.c.excluded.is_(None))
        .order_by(m.c.customer_id)).all()
    offer = public_offer(row.offer)
    sent = send_batch(ctx, [Outgoing(customer_id=cid, channel=ch, occasion=f"campaign:{row.id}:{cid}", theme=row.theme,
                                     content=row.content, campaign_id=row.id, offer=offer) for cid, ch in targets], at)
    counts = _counts(ctx, row.id)
    row.members, row.targeted = members, sent
    row.held_out = sum(n for holdout, _, n in counts if holdout)
    row.exclusions = {reason: sum(n for _, e, n in counts if e == reason) for reason in EXCLUSION_REASONS}
    row.launched_at = at
    _record(ctx, row, State.EXECUTION, None, at)
    ctx.session.flush()
    return row


# -- merges -------------------------------------------------------------------------------


def move_customer(ctx: TenantContext, kept_id: int, merged_id: int) -> None:
    """The merged customer's messages and memberships are the kept customer's; where
    both were in one campaign the kept customer's membership stays."""
    m, msg = CampaignMember.__table__, CampaignMessage.__table__
    both = sa.select(m.c.campaign_id).where(m.c.tenant_id == ctx.tenant_id, m.c.customer_id == kept_id)
    ctx.session.execute(sa.delete(m).where(m.c.tenant_id == ctx.tenant_id, m.c.customer_id == merged_id,
                                           m.c.campaign_id.in_(both)))
    ctx.session.execute(sa.update(m).where(m.c.tenant_id == ctx.tenant_id, m.c.customer_id == merged_id)
                        .values(customer_id=kept_id))
    ctx.session.execute(sa.update(msg).where(msg.c.tenant_id == ctx.tenant_id, msg.c.customer_id == merged_id)
                        .values(customer_id=kept_id))
