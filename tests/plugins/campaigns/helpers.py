"""Shared by the campaigns tests: many customers at once, and the events a launch emits."""

from __future__ import annotations

from engine.bulk import insert_rows
from engine.models import Customer
from engine.types import utcnow


def add_customers(ctx, n: int, consent: dict | None = None, **fields) -> list[int]:
    """``n`` customers in one statement (the service's per-customer checks are not under test here)."""
    now = utcnow()
    rows = [{"tenant_id": ctx.tenant_id, "role": "POTENTIAL", "lifecycle_stage": "EXPLORATION", "tags": [],
             "attributes": {}, "consent": dict(consent if consent is not None else {"SMS": True}),
             "created_at": now, "updated_at": now, **fields} for _ in range(n)]
    return insert_rows(ctx.session, Customer.__table__, rows)


class EventLog:
    """Replaces plugins.campaigns.messages.emit: the events a change hands to the outbox."""

    def __init__(self):
        self.events = []

    def __call__(self, ctx, events):
        self.events.extend(events)
