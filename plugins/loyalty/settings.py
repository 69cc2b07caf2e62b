"""Per-tenant settings of the loyalty plugin (DOMAIN.md §5).

Every number here is a tenant setting; the defaults are ours, not the
literature's. Validation messages name the setting and say what is wrong in
plain words, because admins read them in the GraphQL ``errors`` payload.

Money, multipliers and shares are ``Decimal`` so that points computed from
them are exact (``Decimal("1.2") * 1000`` is 1200, never 1199.999...).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

QualifyingMetric = Literal["SPEND_12M", "POINTS_12M", "PURCHASES_12M"]
QUALIFYING_METRICS: tuple[str, ...] = ("SPEND_12M", "POINTS_12M", "PURCHASES_12M")

# How the one rounding of earned points is done (rules.py rounds once, at the end).
EarnRounding = Literal["FLOOR", "HALF_UP", "CEILING"]

MIN_TIERS, MAX_TIERS = 3, 5

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class TierBenefits(BaseModel):
    """What a tier gives its members besides the points multiplier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    discount_percent: Decimal = Field(Decimal(0), description="Member discount on orders, 0-100 %.")
    free_shipping: bool = False
    birthday_gift: bool = Field(False, description="Birthday gift pack (生日礼包).")
    dedicated_service: bool = Field(False, description="A named staff member (专属客服).")
    priority_purchase: bool = Field(False, description="Priority purchase of new products.")
    member_days: bool = Field(False, description="Invitations to member-day events.")

    @field_validator("discount_percent")
    @classmethod
    def _discount(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or not Decimal(0) <= v <= Decimal(100):
            raise ValueError(f"discount_percent must be between 0 and 100, got {v}")
        return v


class Tier(BaseModel):
    """One membership level. ``threshold`` is in the unit of the qualifying metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(description="Stable code, SCREAMING_SNAKE (for example GOLD).")
    name_zh: str
    name_en: str
    threshold: Decimal = Field(description="Qualifying metric value (rolling 12 months) that reaches this tier.")
    multiplier: Decimal = Field(Decimal(1), description="Points multiplier on purchases, > 0.")
    benefits: TierBenefits = TierBenefits()

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.match(v):
            raise ValueError(f"tier code must be SCREAMING_SNAKE (A-Z, 0-9, _), got {v!r}")
        return v

    @field_validator("name_zh", "name_en")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("tier names cannot be empty")
        return v

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or v < 0:
            raise ValueError(f"threshold must be a finite number >= 0, got {v}")
        return v

    @field_validator("multiplier")
    @classmethod
    def _multiplier(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or v <= 0:
            raise ValueError(f"multiplier must be greater than 0, got {v}")
        return v


class BonusWindow(BaseModel):
    """A holiday promotion: purchases on ``start``..``end`` (both inclusive) earn × multiplier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    start: dt.date
    end: dt.date
    multiplier: Decimal

    @field_validator("multiplier")
    @classmethod
    def _multiplier(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or v <= 0:
            raise ValueError(f"bonus window multiplier must be greater than 0, got {v}")
        return v

    @model_validator(mode="after")
    def _not_inverted(self) -> BonusWindow:
        if self.end < self.start:
            raise ValueError(
                f"bonus window {self.name!r} ends ({self.end}) before it starts ({self.start})"
            )
        return self

    def covers(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


class RedemptionSettings(BaseModel):
    """Offsetting an order with points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # strict: 100.5 points per unit is a typo, not a rate.
    points_per_currency_unit_redeemed: int = Field(
        100, strict=True, description="Points that pay for one currency unit (100 points = 1 unit)."
    )
    max_order_share: Decimal = Field(
        Decimal("0.5"), description="Largest share of an order that points may pay, in (0, 1]."
    )

    @field_validator("points_per_currency_unit_redeemed")
    @classmethod
    def _rate(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"points_per_currency_unit_redeemed must be a positive whole number, got {v}")
        return v

    @field_validator("max_order_share")
    @classmethod
    def _share(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or not Decimal(0) < v <= Decimal(1):
            raise ValueError(f"max_order_share must be a share in (0, 1] (0.5 = half the order), got {v}")
        return v


def default_tiers() -> list[Tier]:
    return [
        Tier(code="MEMBER", name_zh="普通会员", name_en="Member", threshold=Decimal(0),
             multiplier=Decimal("1.0")),
        Tier(code="SILVER", name_zh="银卡", name_en="Silver", threshold=Decimal(2000),
             multiplier=Decimal("1.2"),
             benefits=TierBenefits(discount_percent=Decimal(2), birthday_gift=True, member_days=True)),
        Tier(code="GOLD", name_zh="金卡", name_en="Gold", threshold=Decimal(10000),
             multiplier=Decimal("1.5"),
             benefits=TierBenefits(discount_percent=Decimal(5), free_shipping=True, birthday_gift=True,
                                   priority_purchase=True, member_days=True)),
        Tier(code="DIAMOND", name_zh="钻石", name_en="Diamond", threshold=Decimal(50000),
             multiplier=Decimal("2.0"),
             benefits=TierBenefits(discount_percent=Decimal(10), free_shipping=True, birthday_gift=True,
                                   dedicated_service=True, priority_purchase=True, member_days=True)),
    ]


def _non_negative_int(name: str, v: int) -> int:
    if v < 0:
        raise ValueError(f"{name} must be a whole number of points >= 0, got {v}")
    return v


class LoyaltySettings(BaseModel):
    """How a tenant runs its membership programme."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: list[Tier] = Field(default_factory=default_tiers, description="3-5 tiers, lowest first.")
    qualifying_metric: QualifyingMetric = Field(
        "SPEND_12M", description="What tier thresholds measure over the rolling 12 months."
    )
    tier_min_months: int = Field(12, strict=True, description="Months a tier is held before a downgrade.")

    points_per_currency_unit: Decimal = Field(Decimal(1), description="Base points per currency unit spent.")
    earn_rounding: EarnRounding = Field("FLOOR", description="How earned points are rounded, once, at the end.")
    birthday_multiplier: Decimal = Field(Decimal("2.0"), description="Multiplier in the birthday month.")
    referral_bonus_referrer: int = Field(500, strict=True)
    referral_bonus_referee: int = Field(200, strict=True)
    event_points: int = Field(50, strict=True, description="Points for taking part in an event.")
    bonus_windows: list[BonusWindow] = Field(default_factory=list)
    points_expiry_days: int = Field(365, strict=True, description="Days after earning that a lot expires.")

    redemption: RedemptionSettings = RedemptionSettings()

    auto_enroll_on_first_purchase: bool = True
    invite_spend_threshold: Decimal | None = Field(
        None, description="Rolling spend that triggers a membership invitation; null = off."
    )

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, v: list[Tier]) -> list[Tier]:
        if not MIN_TIERS <= len(v) <= MAX_TIERS:
            raise ValueError(f"tiers: a programme has {MIN_TIERS} to {MAX_TIERS} tiers, got {len(v)}")
        codes = [t.code for t in v]
        if len(set(codes)) != len(codes):
            raise ValueError(f"tiers: codes must be unique, got {codes}")
        if v[0].threshold != 0:
            raise ValueError(
                f"tiers: the first tier ({v[0].code}) must have threshold 0 so every member has a tier, "
                f"got {v[0].threshold}"
            )
        thresholds = [t.threshold for t in v]
        if any(b <= a for a, b in zip(thresholds, thresholds[1:])):
            raise ValueError(f"tiers: thresholds must be strictly increasing, got {[str(t) for t in thresholds]}")
        return v

    @field_validator("tier_min_months")
    @classmethod
    def _min_months(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"tier_min_months must be a whole number of months >= 0, got {v}")
        return v

    @field_validator("points_per_currency_unit", "birthday_multiplier")
    @classmethod
    def _positive_rate(cls, v: Decimal, info) -> Decimal:
        if not v.is_finite() or v <= 0:
            raise ValueError(f"{info.field_name} must be greater than 0, got {v}")
        return v

    @field_validator("referral_bonus_referrer", "referral_bonus_referee", "event_points")
    @classmethod
    def _points(cls, v: int, info) -> int:
        return _non_negative_int(info.field_name, v)

    @field_validator("points_expiry_days")
    @classmethod
    def _expiry(cls, v: int) -> int:
        if v <= 0:
            raise ValueError(f"points_expiry_days must be a positive number of days, got {v}")
        return v

    @field_validator("invite_spend_threshold")
    @classmethod
    def _invite(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and (not v.is_finite() or v <= 0):
            raise ValueError(f"invite_spend_threshold must be a positive amount, or null for off; got {v}")
        return v

    # -- lookups -------------------------------------------------------------

    @property
    def tier_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.tiers)

    def tier_index(self, code: str) -> int:
        """Position of a tier (0 = lowest), or a ValueError naming the known codes."""
        for i, t in enumerate(self.tiers):
            if t.code == code:
                return i
        raise ValueError(f"tier_code: unknown tier {code!r}; expected one of {', '.join(self.tier_codes)}")

    def tier(self, code: str) -> Tier:
        return self.tiers[self.tier_index(code)]
