"""The webhooks module's tables: endpoints, the outbox of events, and one
delivery row per (event, subscribed endpoint).

An event is written to ``webhook_events`` in the transaction of the change
that caused it, together with a ``pending`` delivery for every enabled
endpoint subscribed to its type (plugins/webhooks/outbox.py). The delivery
loop (plugins/webhooks/delivery.py) moves deliveries through
pending -> delivering (leased) -> delivered, or back to pending with a later
``next_attempt_at`` after a failure, or to dead after the last attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, UtcDateTime, utcnow

PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"
DELIVERY_STATUSES = (PENDING, DELIVERING, DELIVERED, DEAD)
# A customer's later delivery to an endpoint waits while an earlier one is in one of these.
UNFINISHED = (PENDING, DELIVERING)

DUE_WHERE = "status IN ('pending', 'delivering')"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("ix_webhook_endpoints_tenant", "tenant_id", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    url: str = Field(max_length=2000)
    description: Optional[str] = Field(default=None, max_length=500)
    event_types: list = Field(default_factory=list, sa_type=Json)  # ["customer.created", "campaign.*"]; [] = every type
    enabled: bool = True
    # AES-GCM ciphertexts of the signing secrets (plugins/webhooks/crypto.py); never the secret itself.
    secret_encrypted: str = Field(max_length=400)
    previous_secret_encrypted: Optional[str] = Field(default=None, max_length=400)
    previous_secret_expires_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_by: Optional[str] = Field(default=None, max_length=64)


class WebhookEvent(SQLModel, table=True):
    """The outbox: one row per domain event of a tenant with the module on."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "event_id", name="uq_webhook_events_event"),
        sa.Index("ix_webhook_events_customer", "tenant_id", "customer_id"),
        sa.Index("ix_webhook_events_created", "tenant_id", "created_at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    event_id: str = Field(max_length=64)  # DomainEvent.id: the webhook-id header, stable across retries
    type: str = Field(max_length=64)
    customer_id: Optional[int] = None  # no foreign key: an event outlives a merge or an erasure of its customer
    data: dict = Field(default_factory=dict, sa_type=Json)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The claim: due deliveries in id order, only among the unfinished ones.
        sa.Index("ix_webhook_deliveries_due", "next_attempt_at", "id",
                 sqlite_where=sa.text(DUE_WHERE), postgresql_where=sa.text(DUE_WHERE)),
        # Per-customer ordering: is an earlier delivery of this customer to this endpoint unfinished?
        sa.Index("ix_webhook_deliveries_order", "endpoint_id", "customer_id", "id",
                 sqlite_where=sa.text(DUE_WHERE), postgresql_where=sa.text(DUE_WHERE)),
        sa.Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "status", "id"),
        sa.Index("ix_webhook_deliveries_event", "tenant_id", "event_id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id")
    event_id: str = Field(max_length=64)  # WebhookEvent.event_id (same tenant)
    customer_id: Optional[int] = None  # copied from the event: the ordering key
    status: str = Field(default=PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    leased_until: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    leased_by: Optional[str] = Field(default=None, max_length=120)
    last_status_code: Optional[int] = None
    last_error: Optional[str] = Field(default=None, max_length=500)
    last_attempt_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    delivered_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
