"""The core tables. Every table carries ``tenant_id`` (``tenants`` is scoped by its id).

Enum columns store the member's code (``Channel.WECHAT.code == "WECHAT"``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, Money, UtcDateTime, utcnow


def search_key(length: int) -> sa.types.TypeEngine:
    """Text compared byte by byte on both databases (SQLite's default; "C" on
    PostgreSQL), so a prefix is the range [prefix, next prefix) of a B-tree."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: Optional[int] = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    currency: str = Field(default="CNY", max_length=3)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    locale: str = Field(default="zh-CN", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    @property
    def tenant_id(self) -> Optional[int]:
        return self.id


class ApiKey(SQLModel, table=True):
    """An API key; only its SHA-256 is stored. Platform keys have no tenant."""

    __tablename__ = "api_keys"

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: Optional[int] = Field(default=None, foreign_key="tenants.id", index=True)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    prefix: str = Field(max_length=16, index=True)  # shown in lists to tell keys apart
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_by: Optional[str] = Field(default=None, max_length=64)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    last_used_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)


class TenantModule(SQLModel, table=True):
    __tablename__ = "tenant_modules"

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    module: str = Field(max_length=64, primary_key=True)
    enabled: bool = Field(default=False)
    settings: dict = Field(default_factory=dict, sa_type=Json)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code", name="uq_customers_tenant_code"),
        sa.Index("ix_customers_tenant_id_desc", "tenant_id", "id"),
        # The default list order (newest first) of live customers, walked in
        # order instead of sorting the whole tenant; it also serves the count.
        # Partial rather than on deleted_at: as a column, SQLite preferred it
        # over the primary key for "id IN (...) AND deleted_at IS NULL".
        sa.Index("ix_customers_tenant_live_newest", "tenant_id", "created_at", "id",
                 sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL")),
        sa.Index("ix_customers_tenant_total_spent", "tenant_id", "total_spent", "id"),
        sa.Index("ix_customers_tenant_last_purchase", "tenant_id", "last_purchase_at", "id"),
        sa.Index("ix_customers_tenant_phone", "tenant_id", "phone"),
        sa.Index("ix_customers_tenant_email", "tenant_id", "email"),
        # One live customer per phone (docs/customers.md): deleted (merged)
        # customers keep theirs, erased ones have none.
        sa.Index("uq_customers_tenant_live_phone", "tenant_id", "phone", unique=True,
                 sqlite_where=sa.text("deleted_at IS NULL AND phone IS NOT NULL"),
                 postgresql_where=sa.text("deleted_at IS NULL AND phone IS NOT NULL")),
        # Search (engine/services/search.py): prefix ranges on the name forms, equality on the rest.
        # The pinyin index is in search order; the other prefixes' matches are sorted by pinyin
        # from the index alone (it holds all the search reads of them), not from the table.
        sa.Index("ix_customers_tenant_name_pinyin", "tenant_id", "name_pinyin"),
        *(sa.Index(f"ix_customers_tenant_{form}", "tenant_id", form, "name_pinyin", "id", "deleted_at")
          for form in ("name_initials", "name_folded", "given_name_folded")),
        sa.Index("ix_customers_tenant_phone_last4", "tenant_id", "phone_last4"),
        sa.Index("ix_customers_tenant_wechat", "tenant_id", "wechat_id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    code: Optional[str] = Field(default=None, max_length=64)  # the business's own customer number
    name: Optional[str] = Field(default=None, max_length=200)
    gender: Optional[str] = Field(default=None, max_length=16)
    birthday: Optional[date] = None
    phone: Optional[str] = Field(default=None, max_length=32)
    email: Optional[str] = Field(default=None, max_length=254)
    wechat_id: Optional[str] = Field(default=None, max_length=64)
    region: Optional[str] = Field(default=None, max_length=100)
    city: Optional[str] = Field(default=None, max_length=100)
    occupation: Optional[str] = Field(default=None, max_length=100)
    income_band: Optional[str] = Field(default=None, max_length=32)
    acquisition_channel: Optional[str] = Field(default=None, max_length=16)
    preferred_channel: Optional[str] = Field(default=None, max_length=16)
    price_sensitivity: Optional[str] = Field(default=None, max_length=16)
    skin_type: Optional[str] = Field(default=None, max_length=32)
    preferences: Optional[str] = Field(default=None, max_length=2000)
    owner: Optional[str] = Field(default=None, max_length=64)  # staff giving dedicated service
    store: Optional[str] = Field(default=None, max_length=64)
    referrer_id: Optional[int] = Field(default=None, foreign_key="customers.id")
    role: str = Field(default="POTENTIAL", max_length=16)
    lifecycle_stage: str = Field(default="EXPLORATION", max_length=16)
    tags: list = Field(default_factory=list, sa_type=Json)
    attributes: dict = Field(default_factory=dict, sa_type=Json)
    consent: dict = Field(default_factory=dict, sa_type=Json)  # channel code -> opted in
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    deleted_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    erased_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    # Purchase statistics, kept current by every recorded interaction.
    first_purchase_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    last_purchase_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    last_purchase_day: Optional[int] = None  # tenant-local day number, for distinct days
    purchase_count: int = Field(default=0)
    purchase_days: int = Field(default=0)
    total_spent: Decimal = Field(default=Decimal("0"), sa_type=Money)
    refunded_amount: Decimal = Field(default=Decimal("0"), sa_type=Money)
    # Set on a customer merged into another (then deleted): where its id now leads.
    merged_into_id: Optional[int] = Field(default=None, foreign_key="customers.id")
    # A phone this customer shared with an older live customer when phones
    # became unique (migration core_0005): kept here, listed as a duplicate.
    duplicate_phone: Optional[str] = Field(default=None, max_length=32)
    # Search forms of name and phone, derived on every write (engine/pinyin.py).
    name_pinyin: Optional[str] = Field(default=None, sa_type=search_key(128))
    name_initials: Optional[str] = Field(default=None, sa_type=search_key(32))
    # The name, and its given name (without the family name), as searched in characters.
    name_folded: Optional[str] = Field(default=None, sa_type=search_key(200))
    given_name_folded: Optional[str] = Field(default=None, sa_type=search_key(200))
    phone_last4: Optional[str] = Field(default=None, max_length=4)


class CustomerTag(SQLModel, table=True):
    """One row per tag of a customer: the index behind exact tag matches
    (kept equal to ``customers.tags`` on every write, engine/services/search.py)."""

    __tablename__ = "customer_tags"
    # In search order, so a tag's first customers are read without sorting all who have it.
    __table_args__ = (sa.Index("ix_customer_tags_tenant_tag", "tenant_id", "tag", "name_pinyin", "customer_id"),)

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    tag: str = Field(max_length=64, primary_key=True)
    name_pinyin: str = Field(default="", sa_type=search_key(128))  # the customer's ("" without)


# Fields holding personal data: cleared when a customer is erased.
CUSTOMER_PERSONAL_FIELDS = (
    "code", "name", "gender", "birthday", "phone", "email", "wechat_id", "region",
    "city", "occupation", "income_band", "skin_type", "preferences", "tags",
    "attributes", "consent", "referrer_id", "duplicate_phone",
)


class Interaction(SQLModel, table=True):
    """A fact between a customer and the business: recorded once, never edited."""

    __tablename__ = "interactions"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "external_id", name="uq_interactions_tenant_external_id"),
        sa.Index("ix_interactions_tenant_customer", "tenant_id", "customer_id", "occurred_at"),
        # The period reports (the console's overview, lifecycleOverview) read
        # every purchase of a period from this index alone: the columns they
        # sum and group by ride along (a 30-day overview on the 20,000-customer
        # demo: 74 -> 60 ms; core_0009).
        sa.Index("ix_interactions_tenant_kind_time", "tenant_id", "kind", "occurred_at", "customer_id", "local_day",
                 "amount", "store", "channel"),
        # The refunds of a purchase: what a new refund checks (over-refund)
        # and what loyalty's reversal reads. Partial: only refunds have
        # reverses_id, so the index stays a few percent of the table.
        sa.Index("ix_interactions_tenant_reverses", "tenant_id", "reverses_id",
                 sqlite_where=sa.text("reverses_id IS NOT NULL"), postgresql_where=sa.text("reverses_id IS NOT NULL")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    kind: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    local_day: int  # days since 1970-01-01 in the tenant's time zone
    channel: Optional[str] = Field(default=None, max_length=16)
    store: Optional[str] = Field(default=None, max_length=64)
    staff: Optional[str] = Field(default=None, max_length=64)
    amount: Optional[Decimal] = Field(default=None, sa_type=Money)
    quantity: Optional[int] = None
    external_id: Optional[str] = Field(default=None, max_length=128)
    reverses_id: Optional[int] = Field(default=None, foreign_key="interactions.id")
    payload: dict = Field(default_factory=dict, sa_type=Json)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_tenant_id", "tenant_id", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: Optional[int] = Field(default=None, foreign_key="tenants.id")
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    target_type: Optional[str] = Field(default=None, max_length=64)
    target_id: Optional[str] = Field(default=None, max_length=64)
    changes: dict = Field(default_factory=dict, sa_type=Json)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ImportJob(SQLModel, table=True):
    """Progress of a file import, so a killed or failed import resumes where it stopped."""

    __tablename__ = "import_jobs"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "kind", "file_sha256", name="uq_import_jobs_file"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    kind: str = Field(max_length=16)
    file_sha256: str = Field(max_length=64)
    file_name: str = Field(max_length=500)
    rows_done: int = 0
    rows_stored: int = 0
    rows_duplicate: int = 0
    rows_invalid: int = 0
    rows_updated: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # customers, upsert mode
    mode: Optional[str] = Field(default=None, max_length=16)  # customers: insert or upsert
    status: str = Field(default="RUNNING", max_length=16)  # RUNNING, DONE or FAILED
    failure: Optional[str] = Field(default=None, max_length=500)  # why it FAILED; never row data
    started_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)


# The core's tables, created by the core's migrations (engine/migrations/versions).
from engine.job_models import JOB_MODELS  # noqa: E402  (they refer to tenants by name only)
from engine.rate_limit_models import RateLimitBucket  # noqa: E402
from engine.console_models import ConsoleSession  # noqa: E402

CORE_MODELS = (Tenant, ApiKey, TenantModule, Customer, CustomerTag, Interaction, AuditEvent, ImportJob, *JOB_MODELS,
               RateLimitBucket, ConsoleSession)

# Customers' search forms and tag rows follow every ORM write (its mapper events).
import engine.services.search  # noqa: E402,F401
