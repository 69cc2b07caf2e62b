"""Per-tenant settings of the lifecycle module (pydantic v2).

Stage thresholds are derived from the tenant's own inter-purchase gaps unless
fixed here (docs/lifecycle.md, "How the thresholds are derived"): the
percentiles say how far past a customer's usual gap a customer is at risk,
lapsed or churned; the ``*_days`` settings replace a derived threshold with a
fixed number of days for everyone. Validation errors name the setting.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChurnReason(_Settings):
    code: str = Field(description="Upper-case code, e.g. COMPETITOR")
    zh: str = Field(min_length=1, max_length=64)
    en: str = Field(min_length=1, max_length=64)
    side: Literal["COMPANY", "CUSTOMER"] = Field(description="Whose side the cause lies on")

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not _CODE.match(value) or len(value) > 32:
            raise ValueError(f"reason code {value!r} must be UPPER_SNAKE_CASE, at most 32 characters")
        return value

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang.lower().startswith("zh") else self.en


# The taxonomy of the texts: causes on the company's side, causes on the customer's.
DEFAULT_CHURN_REASONS: tuple[ChurnReason, ...] = (
    ChurnReason(code="PRODUCT_QUALITY", zh="产品质量", en="Product quality", side="COMPANY"),
    ChurnReason(code="SERVICE", zh="服务质量", en="Service", side="COMPANY"),
    ChurnReason(code="STAFF_LEFT", zh="员工离职", en="Staff left", side="COMPANY"),
    ChurnReason(code="COMPETITOR", zh="竞争对手", en="Competitor", side="CUSTOMER"),
    ChurnReason(code="CHANGED_NEEDS", zh="需求变化", en="Changed needs", side="CUSTOMER"),
    ChurnReason(code="MALICIOUS", zh="恶意流失", en="Malicious", side="CUSTOMER"),
    ChurnReason(code="OBJECTIVE", zh="客观原因", en="Objective reasons", side="CUSTOMER"),
)

Percentile = Field(gt=0, lt=100)


class LifecycleSettings(_Settings):
    # -- stage rules -------------------------------------------------------------
    at_risk_percentile: float = Field(
        80.0, gt=0, lt=100, description="At risk once the time since the last purchase passes this percentile of the "
                                        "customer's expected gap")
    lapsed_percentile: float = Field(95.0, gt=0, lt=100, description="Lapsed past this percentile")
    churned_percentile: float = Field(99.0, gt=0, lt=100, description="Churned past this percentile")
    at_risk_days: Optional[float] = Field(None, gt=0, description="A fixed at-risk threshold in days instead of the derived one")
    lapsed_days: Optional[float] = Field(None, gt=0, description="A fixed lapsed threshold in days")
    churned_days: Optional[float] = Field(None, gt=0, description="A fixed churned threshold in days")
    new_days: Optional[float] = Field(
        None, gt=0, description="A customer is new this many days after the first purchase; default: the tenant's "
                                "at-risk threshold for one-time buyers")
    won_back_days: Optional[float] = Field(
        None, gt=0, description="A returning lapsed or churned customer stays won back this many days; default new_days")
    min_threshold_days: float = Field(7.0, ge=0, description="No derived threshold is shorter than this")
    gap_prior_weight: float = Field(
        1.0, ge=0, description="How many of the tenant's typical gaps a customer's own mean gap is blended with "
                               "(0: the customer's own mean alone)")
    # -- churn reasons -------------------------------------------------------------
    churn_reasons: list[ChurnReason] = Field(
        default_factory=lambda: list(DEFAULT_CHURN_REASONS),
        description="The full reason list; add the tenant's codes to the defaults")
    # -- risk, validation and win-back (analytics and win-back lists) ---------------
    risk_horizon_days: int = Field(365, ge=1, le=3650, description="Horizon of the expected value behind value at risk")
    validation_horizon_days: int = Field(90, ge=1, le=3650, description="Who bought again within this many days, "
                                                                         "for the risk score's validation")
    winback_value_threshold: Optional[Decimal] = Field(
        None, ge=0, decimal_places=2, description="Net spend at or above which a lapsed or churned customer is worth "
                                                  "winning back; default the median of the list's candidates")
    winback_window_days: int = Field(90, ge=1, le=3650, description="A listed customer counts as won back when buying "
                                                                    "within this many days of the list")

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleSettings:
        if not self.at_risk_percentile < self.lapsed_percentile < self.churned_percentile:
            raise ValueError("at_risk_percentile < lapsed_percentile < churned_percentile must hold "
                             f"(got {self.at_risk_percentile}, {self.lapsed_percentile}, {self.churned_percentile})")
        fixed = [(name, getattr(self, name)) for name in ("at_risk_days", "lapsed_days", "churned_days")]
        given = [(name, value) for name, value in fixed if value is not None]
        for (a, x), (b, y) in zip(given, given[1:]):
            if not x < y:
                raise ValueError(f"{a} ({x}) must be less than {b} ({y})")
        codes = [reason.code for reason in self.churn_reasons]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"churn_reasons: duplicate codes {', '.join(repeated)}")
        if not codes:
            raise ValueError("churn_reasons: at least one reason is needed")
        return self

    def churn_reason(self, code: str) -> ChurnReason | None:
        return next((reason for reason in self.churn_reasons if reason.code == code), None)
