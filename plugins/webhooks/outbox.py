"""Writing events to the outbox, in the transaction of the change.

``write_events`` stores a batch of ``engine.events.DomainEvent`` with one
multi-row INSERT into ``webhook_events`` and one into ``webhook_deliveries``
(a pending delivery per event and enabled endpoint subscribed to its type):
the same three statements (the endpoints read, two inserts) for one event or
a 100,000-row import. Nothing goes
over the network here; the delivery loop sends later, after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa

from api.ids import to_global_id
from engine.events import DomainEvent
from engine.types import utcnow
from plugins.webhooks.models import PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENTS = WebhookEvent.__table__
DELIVERIES = WebhookDelivery.__table__
ENDPOINTS = WebhookEndpoint.__table__

# Every type the engine and the built-in modules emit (docs/webhooks.md lists them).
EVENT_TYPES = (
    "customer.created", "customer.updated", "customer.merged", "customer.erased",
    "interaction.recorded", "loyalty.tier_changed", "complaint.status_changed", "campaign.message",
    "lifecycle.stage_changed", "satisfaction.invited", "satisfaction.answered",
)


def subscribed(patterns: Sequence[str], event_type: str) -> bool:
    """``[]`` subscribes to everything; ``"campaign.*"`` to a family; otherwise exact types."""
    if not patterns:
        return True
    return any(p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns)


def write_events(ctx, events: Sequence[DomainEvent]) -> None:
    """Events no enabled endpoint subscribes to are not stored: there is nothing to deliver
    (an endpoint added later hears what happens from then on)."""
    if not events:
        return
    session, tenant_id, now = ctx.session, ctx.tenant_id, utcnow()
    endpoints = session.execute(
        sa.select(ENDPOINTS.c.id, ENDPOINTS.c.event_types)
        .where(ENDPOINTS.c.tenant_id == tenant_id, ENDPOINTS.c.enabled.is_(True)).order_by(ENDPOINTS.c.id)
    ).all()
    if not endpoints:
        return
    deliveries, stored = [], []
    for e in events:  # event order: a customer's deliveries get ids in the order things happened
        targets = [endpoint_id for endpoint_id, patterns in endpoints if subscribed(patterns or [], e.type)]
        if targets:
            stored.append({"tenant_id": tenant_id, "event_id": e.id, "type": e.type, "customer_id": e.customer_id,
                           "data": e.data, "occurred_at": e.occurred_at, "created_at": now})
            deliveries.extend({"tenant_id": tenant_id, "endpoint_id": endpoint_id, "event_id": e.id,
                               "customer_id": e.customer_id, "status": PENDING, "attempts": 0, "next_attempt_at": now,
                               "created_at": now} for endpoint_id in targets)
    if stored:
        session.execute(sa.insert(EVENTS), stored)
        session.execute(sa.insert(DELIVERIES), deliveries)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def interaction_events(interactions) -> list[DomainEvent]:
    """``interaction.recorded`` for each recorded interaction (free-text payloads left out)."""
    return [
        DomainEvent("interaction.recorded", {
            "interactionId": to_global_id("Interaction", i.id),
            "customerId": to_global_id("Customer", i.customer_id),
            "kind": i.kind, "occurredAt": i.occurred_at.isoformat(), "amount": _money(i.amount),
            "quantity": i.quantity, "channel": i.channel, "store": i.store, "staff": i.staff,
            "externalId": i.external_id,
            "reversesId": None if i.reverses_id is None else to_global_id("Interaction", i.reverses_id),
        }, customer_id=i.customer_id, occurred_at=i.occurred_at)
        for i in interactions
    ]


def tier_events(changes) -> list[DomainEvent]:
    return [
        DomainEvent("loyalty.tier_changed", {
            "customerId": to_global_id("Customer", c.customer_id), "fromTier": c.from_tier, "toTier": c.to_tier,
            "why": c.why, "at": c.at.isoformat(),
        }, customer_id=c.customer_id, occurred_at=c.at)
        for c in changes
    ]


def invitation_events(links) -> list[DomainEvent]:
    """Survey links for the tenant's provider to send (SMS, WeChat...). The raw
    token is in ``path``: it sits in the outbox only until delivered and pruned."""
    return [DomainEvent("satisfaction.invited", {
        "invitationId": link.invitation_id,
        "customerId": to_global_id("Customer", link.customer_id), "survey": link.survey_code,
        "channel": link.channel, "source": link.source, "expiresAt": link.expires_at.isoformat(), "path": link.path,
    }, customer_id=link.customer_id) for link in links]


def complaint_event(change) -> DomainEvent:
    return DomainEvent("complaint.status_changed", {
        "complaintId": to_global_id("Complaint", change.case_id), "customerId": to_global_id("Customer", change.customer_id),
        "fromStatus": change.from_status, "toStatus": change.to_status, "category": change.category,
        "store": change.store, "assignee": change.assignee, "satisfaction": change.satisfaction, "at": change.at.isoformat(),
    }, customer_id=change.customer_id, occurred_at=change.at)
