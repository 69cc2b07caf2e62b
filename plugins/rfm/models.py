"""The RFM plugin's tables: the latest run per tenant and its per-customer scores."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, Money, UtcDateTime, utcnow


class RfmRun(SQLModel, table=True):
    """One scoring run: when, as of when, with which settings, how many scored."""

    __tablename__ = "rfm_runs"

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    as_of: datetime = Field(sa_type=UtcDateTime)
    settings: dict = Field(default_factory=dict, sa_type=Json)
    scored: int = 0
    unscored: int = 0


class RfmScore(SQLModel, table=True):
    """One customer's scores from the tenant's latest run.

    No foreign keys, on purpose: a run replaces all of the tenant's rows at
    once, inside the run's transaction, for customer ids read from the
    interactions table (which does reference customers), and tenants and
    customers are never deleted (erasure keeps the row). On PostgreSQL the
    per-row key checks made writing a 200,000-customer run twice as slow
    (1.3 s of 2.6 s).
    """

    __tablename__ = "rfm_scores"
    # Covering index of rfmGrid, rfmSegments and the drill-down (rfm_0002).
    __table_args__ = (sa.Index("ix_rfm_scores_grid", "tenant_id", "r_score", "f_score", "segment", "monetary",
                               "recency_days", "frequency", "customer_id"),)

    tenant_id: int = Field(primary_key=True)
    customer_id: int = Field(primary_key=True)
    run_id: int
    recency_days: float
    frequency: int
    monetary: Decimal = Field(sa_type=Money)
    r_score: int
    f_score: int
    m_score: int
    segment: str = Field(max_length=32, index=True)
    computed_at: datetime = Field(sa_type=UtcDateTime)
