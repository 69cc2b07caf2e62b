"""The campaigns module's tables.

A saved segment keeps the ``customers(where:)`` filter as JSON; a campaign
copies its segment's members at launch into ``campaign_members`` (the
snapshot: who was in, who was held out, who was excluded and why); every
message, from a campaign or a trigger, is a ``campaign_messages`` row with a
unique key, so sending twice for one occasion is impossible.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, UtcDateTime, utcnow


class CampaignSegment(SQLModel, table=True):
    __tablename__ = "campaign_segments"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name", name="uq_campaign_segments_name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    name: str = Field(max_length=100)
    description: Optional[str] = Field(default=None, max_length=2000)
    where: dict = Field(default_factory=dict, sa_type=Json)  # a CustomerWhere as JSON (GraphQL names)
    created_by: str = Field(default="system", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (sa.Index("ix_campaigns_state", "tenant_id", "state", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    segment_id: Optional[int] = Field(default=None, foreign_key="campaign_segments.id")
    name: str = Field(max_length=100)
    goal: str = Field(max_length=16)  # AWARENESS / SALES / SATISFACTION
    state: str = Field(default="preparation", max_length=16)
    # The plan (策划): theme, content, format, time window and place.
    theme: Optional[str] = Field(default=None, max_length=200)
    content: Optional[str] = Field(default=None, max_length=4000)
    format: Optional[str] = Field(default=None, max_length=100)
    place: Optional[str] = Field(default=None, max_length=200)
    starts_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    ends_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    owner: Optional[str] = Field(default=None, max_length=64)
    budget: Optional[Decimal] = Field(default=None, sa_type=sa.Numeric(14, 2))
    channels: list = Field(default_factory=list, sa_type=Json)  # in order of preference
    offer: dict = Field(default_factory=dict, sa_type=Json)  # {} or {"kind": REWARD|COUPON|POINTS_BONUS, ...}
    holdout_share: float = 0.10
    holdout_seed: int = 0
    attribution_days: int = 14
    launched_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    members: int = 0  # the snapshot's size
    held_out: int = 0
    targeted: int = 0  # messages sent
    exclusions: dict = Field(default_factory=dict, sa_type=Json)  # reason -> customers
    created_by: str = Field(default="system", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class CampaignMember(SQLModel, table=True):
    """One customer of a launched campaign's snapshot.

    No foreign keys, on purpose: the rows are copied from the tenant's
    customers by the launch's own INSERT ... SELECT (so they reference real
    rows when written), merges move them (``service.move_customer``) and
    customers are never hard-deleted otherwise. PostgreSQL checked three keys
    per row with a trigger each: a million-member snapshot took five times as
    long (docs/campaigns.md, "Measured")."""

    __tablename__ = "campaign_members"
    __table_args__ = (sa.Index("ix_campaign_members_customer", "tenant_id", "customer_id"),)

    tenant_id: int
    campaign_id: int = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)
    holdout: bool = False
    excluded: Optional[str] = Field(default=None, max_length=16)  # NO_CONSENT / FREQUENCY_CAP; null = eligible
    channel: Optional[str] = Field(default=None, max_length=16)  # the channel it was (or would have been) sent on


class CampaignMessage(SQLModel, table=True):
    """A message to one customer, handed to the webhooks outbox as a campaign.message event."""

    __tablename__ = "campaign_messages"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "occasion", name="uq_campaign_messages_occasion"),
        sa.UniqueConstraint("event_id", name="uq_campaign_messages_event"),
        sa.Index("ix_campaign_messages_customer", "tenant_id", "customer_id", "sent_at"),
        sa.Index("ix_campaign_messages_campaign", "tenant_id", "campaign_id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    campaign_id: Optional[int] = Field(default=None, foreign_key="campaigns.id")
    trigger: Optional[str] = Field(default=None, max_length=64)  # the rule's code, for trigger messages
    occasion: str = Field(max_length=200)  # unique per tenant: campaign:<id>:<customer> or trigger:<rule>:<customer>:<when>
    event_id: str = Field(max_length=32)  # the campaign.message event's id: providers report receipts with it
    channel: str = Field(max_length=16)
    theme: Optional[str] = Field(default=None, max_length=200)
    content: Optional[str] = Field(default=None, max_length=4000)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    delivered_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    opened_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    redeemed_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    failed_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)


class CampaignTransition(SQLModel, table=True):
    """A campaign's move from one state to another (its life cycle's timeline)."""

    __tablename__ = "campaign_transitions"
    __table_args__ = (sa.Index("ix_campaign_transitions_campaign", "tenant_id", "campaign_id", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    campaign_id: int = Field(foreign_key="campaigns.id")
    from_state: str = Field(max_length=16)
    to_state: str = Field(max_length=16)
    actor: str = Field(default="system", max_length=64)
    note: Optional[str] = Field(default=None, max_length=2000)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
