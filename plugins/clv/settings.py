"""Per-tenant settings of the CLV plugin (DOMAIN.md §4); defaults are ours."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class ClvSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["BG_NBD", "MBG_NBD", "PARETO_NBD"] = Field(
        "BG_NBD", description="Purchase-count model; spend always uses Gamma-Gamma."
    )
    unit: Literal["DAY", "WEEK", "MONTH"] = Field("DAY", description="Time unit of frequency, recency and T.")
    horizon_months: int = Field(12, ge=1, le=120, description="How far ahead predicted value looks.")
    discount_rate_monthly: float = Field(0.01, ge=0, lt=1, description="Monthly discount rate for CLV.")
    margin: float = Field(1.0, gt=0, le=1, description="Share of revenue that is profit.")
    penalizer: float = Field(0.0, ge=0, le=10, description="L2 penalty on the model parameters.")
    holdout_days: Optional[int] = Field(
        None, gt=0, description="Holdout length of the validation report; default a quarter of the history."
    )
    fit_time_budget_s: float = Field(
        120.0, gt=0, le=3600,
        description="Seconds the fits of one run may take; a run that needs longer is refused and the previous one kept.",
    )
    schedule_minutes: Optional[int] = Field(None, gt=0, description="Re-score periodically; off when unset.")
