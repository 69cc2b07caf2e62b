"""The lifecycle plugin's tables.

- ``lifecycle_customers``: each live customer's stage now, since when, and
  the stored churn risk; replaced whole by every stage run (no foreign keys,
  like rfm_scores: the run writes hundreds of thousands of rows at once).
- ``lifecycle_transitions``: every stage change (when, from, to): a
  customer's journey and the tenant's monthly flows between stages.
- ``lifecycle_runs``: the tenant's latest run and the thresholds it derived
  (the purchase hook classifies new buyers with them between runs).
- ``lifecycle_churn_reasons``: why a lapsed or churned customer left, as an
  agent recorded it.
- ``lifecycle_winback_lists`` / ``lifecycle_winback_members``: a snapshot of
  lapsed and churned customers split by value; the outcome (who bought again
  within the window) is read from the interactions when asked.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, Money, UtcDateTime, utcnow


class LifecycleRun(SQLModel, table=True):
    __tablename__ = "lifecycle_runs"

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    as_of: datetime = Field(sa_type=UtcDateTime)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    thresholds: dict = Field(default_factory=dict, sa_type=Json)  # stages.Thresholds.as_dict()
    counts: dict = Field(default_factory=dict, sa_type=Json)  # stage code -> customers
    changed: int = 0
    risk_source: Optional[str] = Field(default=None, max_length=24)


class LifecycleCustomer(SQLModel, table=True):
    __tablename__ = "lifecycle_customers"
    # Every run rewrites the tenant's rows, and each B-tree costs that write: the stage filter's
    # index only (a risk index, unused by the risk order's per-customer lookups, was dropped), and on
    # SQLite the rows live in the primary key's B-tree (WITHOUT ROWID: a third faster to insert, half
    # the time to delete, measured on 200,000 rows).
    __table_args__ = (sa.Index("ix_lifecycle_customers_stage", "tenant_id", "stage", "customer_id"),
                      {"sqlite_with_rowid": False})

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    customer_id: int = Field(primary_key=True)
    stage: str = Field(max_length=16)
    stage_since: datetime = Field(sa_type=UtcDateTime)
    expected_gap_days: Optional[float] = None  # the gap the thresholds were scaled by; null for prospects
    risk: Optional[float] = None  # 0..1, from the analytics' risk score
    value_at_risk: Optional[Decimal] = Field(default=None, sa_type=Money)
    risk_source: Optional[str] = Field(default=None, max_length=24)  # "clv" or "recency_frequency"
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LifecycleTransition(SQLModel, table=True):
    __tablename__ = "lifecycle_transitions"
    __table_args__ = (
        sa.Index("ix_lifecycle_transitions_customer", "tenant_id", "customer_id", "at"),
        sa.Index("ix_lifecycle_transitions_at", "tenant_id", "at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int
    from_stage: Optional[str] = Field(default=None, max_length=16)
    to_stage: str = Field(max_length=16)
    at: datetime = Field(sa_type=UtcDateTime)  # when the new stage began
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LifecycleChurnReason(SQLModel, table=True):
    __tablename__ = "lifecycle_churn_reasons"
    __table_args__ = (
        sa.Index("ix_lifecycle_churn_reasons_customer", "tenant_id", "customer_id", "recorded_at"),
        sa.Index("ix_lifecycle_churn_reasons_recorded", "tenant_id", "recorded_at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    code: str = Field(max_length=32)
    stage: str = Field(max_length=16)  # the customer's stage when it was recorded
    store: Optional[str] = Field(default=None, max_length=64)
    staff: Optional[str] = Field(default=None, max_length=64)
    note: Optional[str] = Field(default=None, max_length=2000)  # free text: cleared on erasure
    recorded_by: str = Field(max_length=64)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class LifecycleWinbackList(SQLModel, table=True):
    __tablename__ = "lifecycle_winback_lists"

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    name: str = Field(max_length=200)
    value_threshold: Decimal = Field(sa_type=Money)
    window_days: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_by: str = Field(max_length=64)


class LifecycleWinbackMember(SQLModel, table=True):
    __tablename__ = "lifecycle_winback_members"
    __table_args__ = (
        sa.Index("ix_lifecycle_winback_members_customer", "tenant_id", "customer_id"),
    )

    tenant_id: int = Field(foreign_key="tenants.id")
    list_id: int = Field(foreign_key="lifecycle_winback_lists.id", primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    segment: str = Field(max_length=16)  # "win_back" (value at or above the threshold) or "let_go"
    stage: str = Field(max_length=16)
    value: Decimal = Field(sa_type=Money)  # net spend when listed


ALL_MODELS = (LifecycleRun, LifecycleCustomer, LifecycleTransition, LifecycleChurnReason, LifecycleWinbackList,
              LifecycleWinbackMember)
