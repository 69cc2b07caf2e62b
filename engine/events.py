"""Domain events: what happened in a tenant that the outside world may want
to hear about (a customer created, a tier changed, a campaign message to send).

Whoever makes a change calls ``emit`` in the same transaction; the
``guanxi_domain_events`` hook hands the events to the plugins enabled for the
tenant (the webhooks module writes them to its outbox, so an event is stored
exactly when the change is). Event types are dotted, lower case, past tense:
``customer.created``, ``loyalty.tier_changed`` (docs/plugin-hooks.md).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from engine.types import utcnow


@dataclass(frozen=True)
class DomainEvent:
    type: str
    data: dict[str, Any]  # JSON-serialisable; ids as the API shows them where a client will look them up
    customer_id: int | None = None  # the customer it is about: receivers get one customer's events in order
    occurred_at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # stable across retries: receivers deduplicate on it


def api_id(type_name: str, pk: int) -> str:
    """The id the API shows for a row (api/ids.py's global id; the engine does not import the API)."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def listening(ctx) -> bool:
    """Whether any plugin enabled for the tenant takes events: bulk paths ask
    first, so a tenant without one pays nothing for events nobody stores."""
    return bool(ctx.hooks.guanxi_domain_events.get_hookimpls())


def emit(ctx, events: Sequence[DomainEvent]) -> None:
    """Hand ``events`` to the tenant's enabled plugins inside the current transaction."""
    if events:
        ctx.hooks.guanxi_domain_events(ctx=ctx, events=list(events))
