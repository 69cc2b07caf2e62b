"""Invitations: who is asked, on which channel, with which single-use link.

Four triggers feed ``invite``:

- COMPLAINT: a case reaching "resolved" (loop.py), the tenant's ``complaint_survey``;
- PURCHASE: a fresh purchase, sampled at ``purchase_sampling_rate``;
- CAMPAIGN: the campaigns module calls ``invite(ctx, survey_id, ids, source="CAMPAIGN", source_ref=code)``;
- WAVE: the ``satisfaction.wave`` job, every ``wave_every_days``, to a sample of a segment.

Consent is per channel (``Customer.consent``, channel code → opted in): the
first of ``invitation_channels`` the customer consented to carries the link;
a customer with none is skipped, never asked. The sampled triggers (PURCHASE,
WAVE) also skip a customer invited less than ``quiet_period_days`` ago; a
complaint follow-up or a campaign the tenant chose always goes.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select

from engine.context import TenantContext
from engine.errors import FieldError, GuanxiError, ValidationFailed
from engine.models import Customer
from engine.types import utcnow
from plugins.satisfaction.models import SOURCES, SatisfactionInvitation
from plugins.satisfaction.settings import SatisfactionSettings
from plugins.satisfaction.surveys import get_survey, survey_by_code
from plugins.satisfaction.tokens import answer_path, new_token

log = logging.getLogger(__name__)

MAX_INVITE = 10_000  # customers per invite() call
FRESH_PURCHASE = timedelta(days=2)  # older purchases (history being imported) get no survey


@dataclass(frozen=True)
class InvitationLink:
    """One invitation as handed out: ``path`` holds the raw token, which is stored nowhere."""

    invitation_id: int
    customer_id: int
    survey_id: int
    survey_code: str
    channel: str
    source: str
    expires_at: datetime
    path: str


@dataclass
class InviteResult:
    links: list[InvitationLink] = field(default_factory=list)
    no_consent: list[int] = field(default_factory=list)  # no consented channel among invitation_channels
    quiet: list[int] = field(default_factory=list)  # invited within the quiet period
    unknown: list[int] = field(default_factory=list)  # not a live customer of this tenant

    def summary(self) -> dict[str, int]:
        return {"invited": len(self.links), "no_consent": len(self.no_consent), "quiet": len(self.quiet),
                "unknown": len(self.unknown)}


def settings_of(ctx: TenantContext) -> SatisfactionSettings:
    return ctx.module_settings("satisfaction")


def consented_channel(consent: dict | None, channels: Sequence[str]) -> str | None:
    consent = consent or {}
    return next((channel for channel in channels if consent.get(channel) is True), None)


def _recently_invited(ctx: TenantContext, customer_ids: list[int], since: datetime) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(customer_ids), 1000):
        chunk = customer_ids[start:start + 1000]
        found.update(ctx.session.execute(select(SatisfactionInvitation.customer_id).where(
            SatisfactionInvitation.tenant_id == ctx.tenant_id, SatisfactionInvitation.customer_id.in_(chunk),
            SatisfactionInvitation.created_at >= since).distinct()).scalars())
    return found


def invite(ctx: TenantContext, survey_id: int, customer_ids: Iterable[int], source: str = "CAMPAIGN",
           source_ref: str | None = None, *, case_id: int | None = None, store: str | None = None,
           staff: str | None = None, quiet_period: bool | None = None, now: datetime | None = None) -> InviteResult:
    """Invite customers to answer a survey; returns the links (the only copy of their tokens).

    ``quiet_period`` defaults to True for PURCHASE and WAVE, False otherwise.
    The links are also handed to ``guanxi_satisfaction_invited`` for delivery.
    """
    now = now or utcnow()
    if source not in SOURCES or source == "MANUAL":
        raise ValidationFailed([FieldError("source", f"{source!r} is not an invitation source "
                                                     f"({', '.join(s for s in SOURCES if s != 'MANUAL')})")])
    if source_ref is not None and (not isinstance(source_ref, str) or len(source_ref) > 64):
        raise ValidationFailed([FieldError("source_ref", "must be text of at most 64 characters")])
    survey = get_survey(ctx, survey_id)
    if survey.status != "ACTIVE":
        raise ValidationFailed([FieldError("survey_id", f"survey {survey.code} is archived: it sends no invitations")])
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    if len(ids) > MAX_INVITE:
        raise ValidationFailed([FieldError("customer_ids", f"{len(ids)} customers; at most {MAX_INVITE} per call")])
    settings = settings_of(ctx)
    result = InviteResult()
    consents: dict[int, dict] = {}
    for start in range(0, len(ids), 1000):
        consents.update(ctx.session.execute(select(Customer.id, Customer.consent).where(
            Customer.tenant_id == ctx.tenant_id, Customer.id.in_(ids[start:start + 1000]),
            Customer.deleted_at.is_(None))).all())
    if quiet_period is None:
        quiet_period = source in ("PURCHASE", "WAVE")
    recent = (_recently_invited(ctx, [i for i in ids if i in consents], now - timedelta(days=settings.quiet_period_days))
              if quiet_period and settings.quiet_period_days else set())
    expires = now + timedelta(days=settings.token_days)
    pending: list[tuple[SatisfactionInvitation, str]] = []
    for customer_id in ids:
        if customer_id not in consents:
            result.unknown.append(customer_id)
            continue
        channel = consented_channel(consents[customer_id], settings.invitation_channels)
        if channel is None:
            result.no_consent.append(customer_id)
            continue
        if customer_id in recent:
            result.quiet.append(customer_id)
            continue
        raw, hashed = new_token()
        row = SatisfactionInvitation(tenant_id=ctx.tenant_id, survey_id=survey.id, customer_id=customer_id, source=source,
                                     source_ref=source_ref, case_id=case_id, channel=channel, store=store, staff=staff,
                                     token_hash=hashed, created_at=now, expires_at=expires)
        ctx.session.add(row)
        pending.append((row, raw))
    ctx.session.flush()
    slug = ctx.tenant.slug
    result.links = [InvitationLink(row.id, row.customer_id, survey.id, survey.code, row.channel, source, expires,
                                   answer_path(slug, raw)) for row, raw in pending]
    if result.links:
        ctx.hooks.guanxi_satisfaction_invited(ctx=ctx, links=result.links)
    return result


# -- triggers -------------------------------------------------------------------------


def sampled(tenant_id: int, interaction_id: int, rate: float) -> bool:
    """A stable coin per purchase: the same purchase is always in or out of the sample."""
    digest = hashlib.sha256(f"{tenant_id}:{interaction_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def invite_after_purchases(ctx: TenantContext, interactions: Sequence[Any], now: datetime | None = None) -> InviteResult | None:
    """guanxi_interactions_recorded: sample fresh purchases and invite their customers."""
    purchases = [i for i in interactions if i.kind == "PURCHASE"]
    if not purchases:
        return None
    settings = settings_of(ctx)
    if settings.purchase_survey is None or settings.purchase_sampling_rate <= 0:
        return None
    now = now or utcnow()
    try:
        survey = survey_by_code(ctx, settings.purchase_survey, "purchase_survey")
    except GuanxiError as error:  # a misconfigured survey must not refuse the purchases themselves
        log.warning("no purchase invitations: %s", error)
        return None
    if survey.status != "ACTIVE":
        return None
    chosen: dict[int, Any] = {}
    for purchase in purchases:
        if (purchase.occurred_at >= now - FRESH_PURCHASE and purchase.customer_id not in chosen
                and sampled(ctx.tenant_id, purchase.id, settings.purchase_sampling_rate)):
            chosen[purchase.customer_id] = purchase
    result = InviteResult()
    for customer_id, purchase in chosen.items():  # one call per purchase: its store and staff go on the invitation
        one = invite(ctx, survey.id, [customer_id], "PURCHASE", str(purchase.id), store=purchase.store,
                     staff=purchase.staff, now=now)
        result.links += one.links
        result.no_consent += one.no_consent
        result.quiet += one.quiet
    return result


def _segment_customers(ctx: TenantContext, segments: list[str]) -> list[int]:
    live = [Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None)]
    if not segments:
        return list(ctx.session.execute(select(Customer.id).where(*live).order_by(Customer.id)).scalars())
    from plugins.rfm.models import RfmScore  # the segment is the latest RFM run's

    return list(ctx.session.execute(select(Customer.id).join(RfmScore, RfmScore.customer_id == Customer.id).where(
        *live, RfmScore.tenant_id == ctx.tenant_id, RfmScore.segment.in_(segments)).order_by(Customer.id)).scalars())


def send_wave_if_due(ctx: TenantContext, now: datetime | None = None) -> dict:
    """The periodic wave: when due, invite a random sample of the segment."""
    now = now or utcnow()
    settings = settings_of(ctx)
    if settings.wave_survey is None:
        return {"sent": False, "why": "no wave_survey set"}
    last = ctx.session.execute(select(func.max(SatisfactionInvitation.created_at)).where(
        SatisfactionInvitation.tenant_id == ctx.tenant_id, SatisfactionInvitation.source == "WAVE")).scalar()
    if last is not None and now - last < timedelta(days=settings.wave_every_days):
        return {"sent": False, "why": f"not due (last wave {last.date().isoformat()})"}
    survey = survey_by_code(ctx, settings.wave_survey, "wave_survey")
    candidates = _segment_customers(ctx, settings.wave_segment)
    rnd = random.Random(f"{ctx.tenant_id}:{now.date().isoformat()}")
    sample = rnd.sample(candidates, min(settings.wave_size, len(candidates)))
    result = invite(ctx, survey.id, sample, "WAVE", now.date().isoformat(), now=now)
    return {"sent": True, "survey": survey.code, "candidates": len(candidates), **result.summary()}
