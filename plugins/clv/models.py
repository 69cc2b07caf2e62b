"""The CLV plugin's tables: the latest fitted run per tenant and its per-customer scores.

A run is replaced whole (run row and score rows in one transaction), so a
reader sees either the previous run or the new one. No column ever holds NaN:
the scoring service refuses a run with a non-finite value before writing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, Money, UtcDateTime, utcnow


class ClvRun(SQLModel, table=True):
    """One fit: the model, its parameters, the data it saw and its validation report.

    ``parameters`` is ``{"r": {"value": .., "std_error": ..}, ...}`` for the
    transaction model; ``spend_parameters`` likewise for Gamma-Gamma (empty
    when ``spend_model`` is ``MEAN_SPEND``, the fallback when Gamma-Gamma
    cannot be fitted; ``spend_mean`` is then the value used for everyone).
    ``validation`` is the calibration/holdout report (None when the history
    was too short; ``warnings`` says why).
    """

    __tablename__ = "clv_runs"
    __table_args__ = {"sqlite_autoincrement": True}  # run ids never reused, even after the old run is deleted

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    kind: str = Field(max_length=16)  # BG_NBD | MBG_NBD | PARETO_NBD
    unit: str = Field(max_length=8)  # DAY | WEEK | MONTH
    parameters: dict = Field(default_factory=dict, sa_type=Json)
    log_likelihood: float
    spend_model: str = Field(default="GAMMA_GAMMA", max_length=16)  # GAMMA_GAMMA | MEAN_SPEND
    spend_parameters: dict = Field(default_factory=dict, sa_type=Json)
    spend_log_likelihood: Optional[float] = None
    spend_mean: Optional[float] = None
    customers: int = 0  # customers the transaction model was fitted on
    unique_rows: int = 0  # distinct (frequency, recency, T) rows among them
    spend_customers: int = 0  # repeat customers the spend model was fitted on
    fitted_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    as_of: datetime = Field(sa_type=UtcDateTime)
    settings: dict = Field(default_factory=dict, sa_type=Json)
    warnings: list = Field(default_factory=list, sa_type=Json)
    validation: Optional[dict] = Field(default=None, sa_type=Json)
    scored: int = 0
    unscored: int = 0
    duration_s: float = 0.0


class ClvScore(SQLModel, table=True):
    """Per customer with a purchase up to the run's as_of. Times in the run's unit."""

    __tablename__ = "clv_scores"
    __table_args__ = (sa.Index("ix_clv_scores_tenant_value", "tenant_id", "predicted_value", "customer_id"),
                      # covering index of clvDistribution (clv_0002)
                      sa.Index("ix_clv_scores_tenant_decile", "tenant_id", "value_decile", "predicted_value"))

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", primary_key=True)
    run_id: int
    frequency: int  # repeat purchase days
    recency: float
    T: float
    monetary_value: float  # mean spend of the repeat purchase days
    probability_alive: float
    expected_purchases_30: float
    expected_purchases_90: float
    expected_purchases_365: float
    expected_spend: Decimal = Field(sa_type=Money)
    predicted_value: Decimal = Field(sa_type=Money)
    historical_value: Decimal = Field(sa_type=Money)
    value_decile: int  # 1 (lowest predicted value) .. 10 (highest)
    holdout_actual: Optional[float] = None  # validation: purchase days in the holdout period
    holdout_predicted: Optional[float] = None  # validation: expected, from the calibration fit
    computed_at: datetime = Field(sa_type=UtcDateTime)
