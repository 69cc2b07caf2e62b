"""Per-tenant settings of the campaigns module (pydantic v2): the holdout
share, the frequency cap, the attribution window, the trigger rules and the
holidays they may name. Errors name the setting at fault."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")

CHANNELS = ("SMS", "EMAIL", "WECHAT", "APP_PUSH", "PHONE")
# The customer's consent key of each channel (engine.enums.Channel codes).
CONSENT_KEY = {"SMS": "SMS", "EMAIL": "EMAIL", "WECHAT": "WECHAT", "APP_PUSH": "APP", "PHONE": "PHONE"}

TRIGGER_KINDS = ("PURCHASE_COUNT", "TIER_CHANGED", "LIFECYCLE_CHANGED", "COMPLAINT_CLOSED", "BIRTHDAY", "HOLIDAY")
LIFECYCLE_STAGES = ("prospect", "new", "active", "at_risk", "lapsed", "churned", "won_back")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _code(value: str, what: str) -> str:
    value = value.strip().upper()
    if not _CODE.match(value):
        raise ValueError(f"{what} {value!r} must be UPPER_SNAKE_CASE")
    return value


class Holiday(_Settings):
    """A yearly day (month and day) the HOLIDAY triggers may name, e.g. MID_AUTUMN."""

    code: str
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    name: str = ""

    @field_validator("code")
    @classmethod
    def _shape(cls, value: str) -> str:
        return _code(value, "holiday code")

    @model_validator(mode="after")
    def _real_day(self) -> "Holiday":
        date(2024, self.month, self.day)  # a leap year: 29 February is allowed
        return self


class TriggerRule(_Settings):
    """One event rule: when it fires for a customer, one message is enqueued (once per occasion)."""

    code: str
    kind: Literal["PURCHASE_COUNT", "TIER_CHANGED", "LIFECYCLE_CHANGED", "COMPLAINT_CLOSED", "BIRTHDAY", "HOLIDAY"]
    channel: Literal["SMS", "EMAIL", "WECHAT", "APP_PUSH", "PHONE"] = "SMS"
    theme: str = Field(default="", max_length=200)
    content: str = Field(default="", max_length=2000)
    enabled: bool = True
    # PURCHASE_COUNT: the count-th purchase (of category, when given) within `days` days.
    category: Optional[str] = Field(default=None, max_length=64)
    count: int = Field(default=3, ge=1, le=1000)
    days: int = Field(default=90, ge=1, le=3660)
    # TIER_CHANGED: only moves into these tiers (empty: any move up or down).
    to_tiers: list[str] = Field(default_factory=list)
    # LIFECYCLE_CHANGED: only moves into these stages (lower-case codes; empty: any).
    to_stages: list[str] = Field(default_factory=list)
    # HOLIDAY: the holiday's code (in `holidays`).
    holiday: Optional[str] = None

    @field_validator("code")
    @classmethod
    def _shape(cls, value: str) -> str:
        return _code(value, "trigger code")

    @field_validator("to_stages")
    @classmethod
    def _stages(cls, value: list[str]) -> list[str]:
        stages = [v.strip().lower() for v in value]
        unknown = [s for s in stages if s not in LIFECYCLE_STAGES]
        if unknown:
            raise ValueError(f"unknown lifecycle stages {', '.join(unknown)}; one of {', '.join(LIFECYCLE_STAGES)}")
        return stages

    @model_validator(mode="after")
    def _holiday_given(self) -> "TriggerRule":
        if self.kind == "HOLIDAY" and not self.holiday:
            raise ValueError(f"trigger {self.code}: a HOLIDAY rule names its holiday")
        return self


class CampaignsSettings(_Settings):
    holdout_share: float = Field(default=0.10, ge=0.0, le=0.5,
                                 description="Share of a launched segment set aside as the control group")
    frequency_cap: int = Field(default=3, ge=1, le=100,
                               description="At most this many messages per customer in frequency_days (campaigns and triggers)")
    frequency_days: int = Field(default=7, ge=1, le=365)
    attribution_days: int = Field(default=14, ge=1, le=365,
                                  description="Purchases this many days from launch count for the campaign")
    holidays: list[Holiday] = Field(default_factory=list)
    triggers: list[TriggerRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> "CampaignsSettings":
        for name, codes in (("holidays", [h.code for h in self.holidays]), ("triggers", [t.code for t in self.triggers])):
            repeated = sorted({c for c in codes if codes.count(c) > 1})
            if repeated:
                raise ValueError(f"{name}: duplicate codes {', '.join(repeated)}")
        holidays = {h.code for h in self.holidays}
        for index, rule in enumerate(self.triggers):
            if rule.kind == "HOLIDAY" and rule.holiday.strip().upper() not in holidays:
                raise ValueError(f"triggers[{index}].holiday: {rule.holiday!r} is not in holidays")
        return self

    def trigger(self, code: str) -> TriggerRule | None:
        return next((t for t in self.triggers if t.code == code), None)
