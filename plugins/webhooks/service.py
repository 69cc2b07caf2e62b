"""Erasure and pruning of the outbox."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from engine.types import utcnow
from plugins.webhooks.models import DEAD, DELIVERED, WebhookDelivery, WebhookEvent

EVENTS = WebhookEvent.__table__
DELIVERIES = WebhookDelivery.__table__


def erase_customer_events(ctx, customer_id: int) -> None:
    ctx.session.execute(sa.update(EVENTS).where(EVENTS.c.tenant_id == ctx.tenant_id, EVENTS.c.customer_id == customer_id)
                        .values(data={}))


def prune(ctx) -> dict:
    """Finished deliveries older than ``retention_days``, then events no delivery needs any more."""
    cutoff = utcnow() - timedelta(days=ctx.module_settings("webhooks").retention_days)
    deliveries = ctx.session.execute(sa.delete(DELIVERIES).where(
        DELIVERIES.c.tenant_id == ctx.tenant_id, DELIVERIES.c.status.in_((DELIVERED, DEAD)),
        DELIVERIES.c.created_at < cutoff)).rowcount
    needed = sa.exists().where(DELIVERIES.c.tenant_id == EVENTS.c.tenant_id, DELIVERIES.c.event_id == EVENTS.c.event_id)
    events = ctx.session.execute(sa.delete(EVENTS).where(EVENTS.c.tenant_id == ctx.tenant_id, EVENTS.c.created_at < cutoff,
                                                         ~needed)).rowcount
    return {"deliveries_pruned": deliveries, "events_pruned": events}
