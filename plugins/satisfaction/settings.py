"""Per-tenant settings of the satisfaction module (pydantic v2).

Two groups: how invitations go out (which survey each trigger sends, on
which channels, how often a customer may be asked) and the analytics' knobs
(weights, top box, confidence level, the driver target). Validation errors
name the setting at fault.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.enums import Channel

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Channels an invitation link can travel on; consent is checked per channel.
LINK_CHANNELS = ("WECHAT", "SMS", "EMAIL", "APP")


class SatisfactionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # -- invitations ----------------------------------------------------------
    invitation_channels: list[str] = Field(
        default_factory=lambda: ["WECHAT", "SMS", "EMAIL"],
        description="Channels tried in order; the first the customer consented to carries the link",
    )
    token_days: int = Field(default=14, ge=1, le=365, description="Days an invitation link stays valid")
    complaint_survey: str | None = Field(
        default=None, description="Survey code sent when a complaint case is resolved (none: no survey)")
    purchase_survey: str | None = Field(default=None, description="Survey code sent after a purchase (none: no survey)")
    purchase_sampling_rate: float = Field(default=0.1, ge=0.0, le=1.0,
                                          description="Share of purchases that get an invitation")
    quiet_period_days: int = Field(default=90, ge=0, le=3650,
                                   description="No new invitation to a customer invited less than this many days ago")
    wave_survey: str | None = Field(default=None, description="Survey code of the periodic wave (none: no waves)")
    wave_segment: list[str] = Field(default_factory=list,
                                    description="RFM segment codes the wave goes to; empty = every customer")
    wave_every_days: int = Field(default=90, ge=1, le=3650, description="Days between two waves")
    wave_size: int = Field(default=500, ge=1, le=100_000, description="At most this many customers per wave (a random sample)")

    # -- the loop back ----------------------------------------------------------
    low_score_at_or_below: int = Field(
        default=2, ge=0, le=5,
        description="An overall (or mean scale) answer at or below this opens or reopens a complaint case (0: never)")
    loop_category: str = Field(default="SERVICE", description="Complaint category of a case opened by a low answer")

    # -- analytics --------------------------------------------------------------
    dimension_weights: dict[str, float] = Field(
        default_factory=dict, description="Dimension code → weight of the overall index; empty = equal weights")
    satisfied_top_box: int = Field(default=2, ge=1, le=4, description="'Satisfied' = one of the top N answers of 5")
    ci_level: float = Field(default=0.95, gt=0.5, lt=1.0, description="Confidence level of the intervals")
    driver_target: Literal["OVERALL", "REPURCHASE"] = Field(
        default="OVERALL", description="What derived weights explain: overall satisfaction or repurchase intention")

    @field_validator("invitation_channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        out = []
        for channel in value:
            code = channel.strip().upper()
            if code not in Channel.__members__:
                raise ValueError(f"unknown channel {channel!r} (one of {', '.join(Channel.__members__)})")
            if code not in LINK_CHANNELS:
                raise ValueError(f"channel {code} cannot carry a survey link (use {', '.join(LINK_CHANNELS)})")
            if code in out:
                raise ValueError(f"channel {code} is listed twice")
            out.append(code)
        return out

    @field_validator("complaint_survey", "purchase_survey", "wave_survey", "loop_category")
    @classmethod
    def _code_shape(cls, value: str | None) -> str | None:
        if value is not None and not _CODE.match(value):
            raise ValueError(f"{value!r} must be an UPPER_SNAKE_CASE code")
        return value

    @field_validator("dimension_weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for code, weight in value.items():
            if not _CODE.match(code):
                raise ValueError(f"dimension code {code!r} must be UPPER_SNAKE_CASE")
            if not weight >= 0:
                raise ValueError(f"weight of {code} must be 0 or more, got {weight!r}")
        if value and sum(value.values()) <= 0:
            raise ValueError("the weights must not all be 0")
        return value

    @model_validator(mode="after")
    def _wave_needs_survey(self) -> SatisfactionSettings:
        if self.wave_segment and self.wave_survey is None:
            raise ValueError("wave_segment: set wave_survey too (the survey the wave sends)")
        return self
