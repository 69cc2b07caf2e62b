"""The loyalty plugin's tables (DOMAIN.md §5). Every table carries ``tenant_id``.

- ``loyalty_members``: one membership per customer. ``balance`` is a cache of
  the ledger sum, changed only by conditional/relative UPDATEs in the same
  transaction that writes the ledger entry (never read-modify-write).
- ``loyalty_lots``: what is left of each earning (FIFO spending, expiry).
- ``loyalty_ledger``: append-only entries; ``idempotency_key`` is UNIQUE per
  tenant, so no entry is ever applied twice.
- ``loyalty_tier_history``: every tier change (from, to, why, when).
- ``loyalty_rewards`` / ``loyalty_coupons``: the catalogue and issued coupons
  (their status, ISSUED USED EXPIRED VOIDED, is derived from the row and the time).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, Money, UtcDateTime, utcnow

MEMBER_STATUSES = ("ACTIVE", "SUSPENDED", "CLOSED")
ENROLMENT_KINDS = ("APPLICATION", "INVITATION", "PURCHASE")
ENTRY_KINDS = ("EARN", "REDEEM", "EXPIRE", "REVERSE", "ADJUST")
REWARD_KINDS = ("COUPON", "GIFT", "ORDER_DISCOUNT")
COUPON_STATUSES = ("ISSUED", "USED", "EXPIRED", "VOIDED")


class LoyaltyMember(SQLModel, table=True):
    __tablename__ = "loyalty_members"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "customer_id", name="uq_loyalty_members_customer"),
        sa.UniqueConstraint("tenant_id", "number", name="uq_loyalty_members_number"),
        sa.Index("ix_loyalty_members_tenant_tier", "tenant_id", "tier_code"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    number: str = Field(max_length=32)
    status: str = Field(default="ACTIVE", max_length=16)
    tier_code: str = Field(max_length=32)
    tier_achieved_at: datetime = Field(sa_type=UtcDateTime)
    enrolled_via: str = Field(max_length=16)
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    referrer_customer_id: Optional[int] = Field(default=None, foreign_key="customers.id")
    # Set by the first purchase that earned points (the referral bonus fires once).
    first_purchase_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    # Negative while the member owes points after a refund (see docs/loyalty.md).
    balance: int = Field(default=0, sa_type=sa.BigInteger)


class LoyaltyLot(SQLModel, table=True):
    __tablename__ = "loyalty_lots"
    __table_args__ = (
        sa.Index("ix_loyalty_lots_member", "tenant_id", "member_id", "earned_at", "id"),
        # Partial and covering: the expiry job reads only open lots, and a swept lot leaves the index.
        sa.Index("ix_loyalty_lots_open_expiry", "tenant_id", "expires_at", "member_id", "remaining",
                 sqlite_where=sa.text("remaining > 0"), postgresql_where=sa.text("remaining > 0")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    member_id: int = Field(foreign_key="loyalty_members.id")
    entry_id: Optional[int] = None  # the ledger entry that opened it
    earned_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    points: int = Field(sa_type=sa.BigInteger)  # what the lot opened with
    # What is left to spend; frozen once the lot is past expires_at (it is then what expired).
    remaining: int = Field(sa_type=sa.BigInteger)
    expired: int = Field(default=0, sa_type=sa.BigInteger)  # reserved (always 0): see LoyaltyExpirySweep


class LoyaltyLedgerEntry(SQLModel, table=True):
    __tablename__ = "loyalty_ledger"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_loyalty_ledger_key"),
        sa.Index("ix_loyalty_ledger_member", "tenant_id", "member_id", "id"),
        # No index on interaction_id: an earning is found by its key (earn:<interaction>:<rule>:<who>).
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    member_id: int = Field(foreign_key="loyalty_members.id")
    kind: str = Field(max_length=16)  # EARN REDEEM EXPIRE REVERSE ADJUST
    rule: Optional[str] = Field(default=None, max_length=32)  # PURCHASE, REFERRAL, EVENT, ORDER, REWARD...
    points: int = Field(sa_type=sa.BigInteger)  # signed: + adds to the balance, - takes from it
    idempotency_key: str = Field(max_length=160)
    interaction_id: Optional[int] = None
    lot_id: Optional[int] = None  # EARN: the lot it opened; REDEEM/REVERSE: lots in ``details``
    actor: str = Field(default="system", max_length=64)
    reason: str = Field(default="", max_length=500)
    details: dict = Field(default_factory=dict, sa_type=Json)
    at: datetime = Field(sa_type=UtcDateTime)  # when it took effect (the interaction's time for earnings)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LoyaltyTierChange(SQLModel, table=True):
    __tablename__ = "loyalty_tier_history"
    __table_args__ = (sa.Index("ix_loyalty_tier_history_member", "tenant_id", "member_id", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    member_id: int = Field(foreign_key="loyalty_members.id")
    from_tier: Optional[str] = Field(default=None, max_length=32)  # None: enrolment
    to_tier: str = Field(max_length=32)
    why: str = Field(max_length=300)
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(default="system", max_length=64)


class LoyaltyReward(SQLModel, table=True):
    __tablename__ = "loyalty_rewards"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code", name="uq_loyalty_rewards_code"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    code: str = Field(max_length=64)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # COUPON GIFT ORDER_DISCOUNT
    points_price: int = Field(sa_type=sa.BigInteger)
    stock: Optional[int] = None  # None: unlimited
    value: Optional[Decimal] = Field(default=None, sa_type=Money)  # coupon / discount value
    valid_days: int = 90  # validity of issued coupons
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LoyaltyCoupon(SQLModel, table=True):
    __tablename__ = "loyalty_coupons"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code", name="uq_loyalty_coupons_code"),
        sa.Index("ix_loyalty_coupons_member", "tenant_id", "member_id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    member_id: int = Field(foreign_key="loyalty_members.id")
    reward_id: int = Field(foreign_key="loyalty_rewards.id")
    entry_id: int  # the REDEEM entry that paid for it
    code: str = Field(max_length=32)
    valid_from: datetime = Field(sa_type=UtcDateTime)
    valid_until: datetime = Field(sa_type=UtcDateTime)
    used_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    order_ref: Optional[str] = Field(default=None, max_length=128)
    # Set by voidCoupon; a coupon is used or voided, never both (loyalty_0002).
    voided_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    void_reason: Optional[str] = Field(default=None, max_length=500)


class LoyaltyExpirySweep(SQLModel, table=True):
    """How far the expiry job has swept a tenant's lots: every lot with
    ``expires_at <= swept_through`` has had its EXPIRE entry written.

    The job reads only lots expiring in (swept_through, as_of] and never
    rewrites lots, so its cost is per member, not per lot; running it again
    with the same ``as_of`` finds an empty window.
    """

    __tablename__ = "loyalty_expiry_sweeps"

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    swept_through: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


ALL_MODELS = [LoyaltyMember, LoyaltyLot, LoyaltyLedgerEntry, LoyaltyTierChange, LoyaltyReward, LoyaltyCoupon,
              LoyaltyExpirySweep]
