"""Per-tenant settings of the complaints module (pydantic v2).

Modelled on Zammad's SLAs and osTicket's SLA plans: an ordered list of SLA
policies where the first whose condition matches a case wins, each with
first-response and resolution targets counted in business minutes of an
optional named business calendar (none = 24/7).

Validation errors name the setting at fault (pydantic's location for field
errors, the setting path in the message for cross-field checks).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.complaints.workflow import Priority

__all__ = [
    "WEEKDAYS",
    "Category",
    "PolicyCondition",
    "SlaPolicy",
    "BusinessCalendar",
    "ComplaintsSettings",
    "DEFAULT_CATEGORIES",
    "DEFAULT_SLA_POLICIES",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order

_WEEKDAY_NAMES = {
    name: short
    for short, full in zip(
        WEEKDAYS, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    for name in (short, full)
}
_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

PositiveInt = Annotated[int, Field(gt=0)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Category(_Settings):
    code: str = Field(description="Upper-case code, e.g. PRODUCT_QUALITY")
    zh: str
    en: str

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not _CODE.match(value):
            raise ValueError(f"category code {value!r} must be UPPER_SNAKE_CASE")
        return value


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(code="PRODUCT_QUALITY", zh="产品质量", en="Product quality"),
    Category(code="SERVICE", zh="服务", en="Service"),
    Category(code="PRICE", zh="价格", en="Price"),
    Category(code="LOGISTICS", zh="物流", en="Logistics"),
    Category(code="AFTER_SALES", zh="售后", en="After-sales"),
    Category(code="PAYMENT", zh="支付", en="Payment"),
    Category(code="OTHER", zh="其他", en="Other"),
)


class PolicyCondition(_Settings):
    """Which cases a policy covers; an empty list means any value."""

    categories: list[str] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _lower_channels(cls, value: list[str]) -> list[str]:
        # Channels are matched case-insensitively.
        return [channel.strip().lower() for channel in value]

    def matches(self, category: str | None, priority: Priority | str, channel: str | None) -> bool:
        if self.categories and category not in self.categories:
            return False
        if self.priorities and Priority(priority) not in self.priorities:
            return False
        if self.channels and (channel or "").strip().lower() not in self.channels:
            return False
        return True


class SlaPolicy(_Settings):
    name: str = Field(min_length=1)
    condition: PolicyCondition = Field(default_factory=PolicyCondition)
    first_response_minutes: PositiveInt
    resolution_minutes: PositiveInt
    calendar: str | None = Field(
        default=None, description="Name of a business calendar; None counts 24/7"
    )


def _default_policies() -> list[SlaPolicy]:
    hour, day = 60, 24 * 60
    targets = [
        (Priority.URGENT, 1 * hour, 24 * hour),
        (Priority.HIGH, 4 * hour, 72 * hour),
        (Priority.NORMAL, 24 * hour, 7 * day),
        (Priority.LOW, 72 * hour, 14 * day),
    ]
    return [
        SlaPolicy(
            name=priority.value,
            condition=PolicyCondition(priorities=[priority]),
            first_response_minutes=first,
            resolution_minutes=resolution,
        )
        for priority, first, resolution in targets
    ]


DEFAULT_SLA_POLICIES: tuple[SlaPolicy, ...] = tuple(_default_policies())


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class BusinessCalendar(_Settings):
    """Weekly opening hours in a local time zone, minus holidays.

    `hours` maps a weekday ("mon".."sun") to [start, end] "HH:MM" intervals in
    local wall time; a missing weekday is closed. An interval may end at
    "24:00" but may not span midnight (split it across two days instead).
    Holidays are local dates on which the calendar is closed all day.
    """

    timezone: str = "UTC"
    # validate_default: a calendar with no hours at all is an error, too.
    hours: dict[str, list[tuple[str, str]]] = Field(default_factory=dict, validate_default=True)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[tuple[str, str]]]):
        normalised: dict[str, list[tuple[str, str]]] = {}
        for day, intervals in value.items():
            key = _WEEKDAY_NAMES.get(day.strip().lower())
            if key is None or key in normalised:
                raise ValueError(f"hours: unknown or repeated weekday {day!r} (use mon..sun)")
            for start, end in intervals:
                for hhmm in (start, end):
                    if not _HHMM.match(hhmm):
                        raise ValueError(f"hours.{key}: {hhmm!r} is not HH:MM (00:00–24:00)")
                if _minutes(start) >= _minutes(end):
                    raise ValueError(
                        f"hours.{key}: interval {start}–{end} is empty or inverted "
                        "(intervals may not span midnight)"
                    )
            ordered = sorted(intervals, key=lambda iv: _minutes(iv[0]))
            for (s1, e1), (s2, e2) in zip(ordered, ordered[1:]):
                if _minutes(s2) < _minutes(e1):
                    raise ValueError(f"hours.{key}: intervals {s1}–{e1} and {s2}–{e2} overlap")
            normalised[key] = [(s, e) for s, e in ordered]
        if not any(normalised.values()):
            raise ValueError("hours: a business calendar needs at least one opening interval")
        return normalised

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def minutes_by_weekday(self) -> list[list[tuple[int, int]]]:
        """Opening intervals as minutes after local midnight, indexed by date.weekday()."""
        return [
            [(_minutes(s), _minutes(e)) for s, e in self.hours.get(day, [])] for day in WEEKDAYS
        ]


class ComplaintsSettings(_Settings):
    categories: list[Category] = Field(
        default_factory=lambda: list(DEFAULT_CATEGORIES),
        description="The full category list; add tenant codes to the defaults",
    )
    sla_policies: list[SlaPolicy] = Field(
        default_factory=_default_policies,
        description="Ordered; the first policy whose condition matches a case wins",
    )
    calendars: dict[str, BusinessCalendar] = Field(
        default_factory=dict, description="Named business calendars; none means 24/7"
    )
    duplicate_window_hours: PositiveInt = 72
    auto_open_from_interaction: bool = True
    sweep_minutes: PositiveInt = 5
    reopen_at_or_below: int = Field(
        default=2, ge=0, le=5,
        description="A follow-up satisfaction at or below this reopens the case (0: never by default)",
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> ComplaintsSettings:
        codes = [category.code for category in self.categories]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"categories: duplicate codes {', '.join(repeated)}")
        names = [policy.name for policy in self.sla_policies]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"sla_policies: duplicate names {', '.join(repeated)}")
        for index, policy in enumerate(self.sla_policies):
            where = f"sla_policies[{index}] ({policy.name!r})"
            if policy.calendar is not None and policy.calendar not in self.calendars:
                raise ValueError(
                    f"{where}.calendar: unknown calendar {policy.calendar!r} "
                    f"(defined: {', '.join(sorted(self.calendars)) or 'none'})"
                )
            unknown = [code for code in policy.condition.categories if code not in codes]
            if unknown:
                raise ValueError(
                    f"{where}.condition.categories: unknown category {', '.join(unknown)}"
                )
        return self

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def calendar_for(self, policy: SlaPolicy) -> BusinessCalendar | None:
        return self.calendars[policy.calendar] if policy.calendar else None

    def policy_for(
        self, category: str | None, priority: Priority | str, channel: str | None = None
    ) -> SlaPolicy | None:
        """The first SLA policy matching the case, or None (no SLA applies)."""
        return next(
            (p for p in self.sla_policies if p.condition.matches(category, priority, channel)),
            None,
        )
