"""SLA policies, due times, breach/escalation sweep and promise tracking.

Clock rules (after Zammad's first response / solution times):

* The first-response clock runs from opening to the first response and is
  never paused. The workflow makes that exact: a case can only wait on the
  customer after someone has talked to the customer, so the service records
  the first response no later than the first pause.
* The resolution clock runs from opening, minus paused business minutes
  (WAITING_ON_CUSTOMER), and stops at resolution.
* A clock is breached once its elapsed business minutes exceed the target.
  Escalation: level 1 at the first breach, level 2 (company level, 公司级投诉)
  once a breached clock reaches 2 × its target; the level never goes down.

The sweep works on columnar numpy arrays so a job can evaluate every open
case of a tenant at once; business calendars become precomputed cumulative
tables (`business_hours.BusinessTable`) so each instant costs one binary
search. `evaluate_case` is the scalar statement of the same rules.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from plugins.complaints.business_hours import (
    utc_seconds,
    add_business_minutes,
    business_minutes_between,
    business_table,
)
from plugins.complaints.settings import BusinessCalendar, SlaPolicy
from plugins.complaints.workflow import Priority

__all__ = [
    "MAX_ESCALATION_LEVEL",
    "match_policy",
    "SlaDueTimes",
    "sla_due_times",
    "SlaState",
    "evaluate_case",
    "SweepInput",
    "SweepResult",
    "sweep",
    "PromiseOutcome",
    "promise_outcome",
    "promise_outcomes",
    "to_epoch_seconds",
]

MAX_ESCALATION_LEVEL = 2


def match_policy(
    policies: Iterable[SlaPolicy],
    category: str | None,
    priority: Priority | str,
    channel: str | None = None,
) -> SlaPolicy | None:
    """The first policy whose condition matches (empty condition lists match anything)."""
    return next((p for p in policies if p.condition.matches(category, priority, channel)), None)


@dataclass(frozen=True)
class SlaDueTimes:
    first_response_due: datetime
    # None while the clock is paused: the due time moves with the pause.
    resolution_due: datetime | None


def sla_due_times(
    policy: SlaPolicy,
    opened_at: datetime,
    *,
    calendar: BusinessCalendar | None = None,
    paused_minutes: float = 0.0,
    paused_since: datetime | None = None,
) -> SlaDueTimes:
    """Due instants of both clocks; paused minutes push the resolution due time out."""
    first = add_business_minutes(calendar, opened_at, policy.first_response_minutes)
    resolution = (
        None
        if paused_since is not None
        else add_business_minutes(calendar, opened_at, policy.resolution_minutes + paused_minutes)
    )
    return SlaDueTimes(first, resolution)


def _targets_reached(elapsed: float, target: float) -> int:
    """Full targets reached by a breached clock; 0 when not breached."""
    return int(math.floor(elapsed / target)) if elapsed > target else 0


@dataclass(frozen=True)
class SlaState:
    first_response_elapsed: float
    resolution_elapsed: float
    first_response_breached: bool
    resolution_breached: bool
    breach_targets: int
    escalation_level: int

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached


def evaluate_case(
    *,
    opened_at: datetime,
    now: datetime,
    first_response_minutes: float,
    resolution_minutes: float,
    calendar: BusinessCalendar | None = None,
    paused_minutes: float = 0.0,
    paused_since: datetime | None = None,
    first_response_at: datetime | None = None,
    escalation_level: int = 0,
) -> SlaState:
    """The SLA state of one open case at `now` (scalar reference for `sweep`)."""
    first_end = first_response_at if first_response_at is not None else now
    first = business_minutes_between(calendar, opened_at, first_end)
    clock_end = paused_since if paused_since is not None else now
    resolution = max(0.0, business_minutes_between(calendar, opened_at, clock_end) - paused_minutes)
    reached = max(
        _targets_reached(first, first_response_minutes),
        _targets_reached(resolution, resolution_minutes),
    )
    return SlaState(
        first_response_elapsed=first,
        resolution_elapsed=resolution,
        first_response_breached=first > first_response_minutes,
        resolution_breached=resolution > resolution_minutes,
        breach_targets=reached,
        escalation_level=max(escalation_level, min(reached, MAX_ESCALATION_LEVEL)),
    )


def to_epoch_seconds(values) -> np.ndarray:
    """datetime64 arrays (NaT = missing) or epoch-second floats (NaN) → float64 seconds."""
    array = np.asarray(values)
    if array.dtype.kind == "M":
        micros = array.astype("datetime64[us]")
        out = micros.astype(np.int64).astype(np.float64) / 1e6
        out[np.isnat(micros)] = np.nan
        return out
    return array.astype(np.float64)


@dataclass(frozen=True)
class SweepInput:
    """Open cases as columns (one row per case).

    Instants are datetime64 arrays (NaT = missing) or epoch seconds (NaN).
    `calendar` indexes the `calendars` sequence given to `sweep`; -1 (or
    no column at all) means 24/7.
    """

    opened_at: np.ndarray
    first_response_minutes: np.ndarray
    resolution_minutes: np.ndarray
    paused_minutes: np.ndarray | None = None  # business minutes of finished pauses
    paused_since: np.ndarray | None = None  # start of the running pause, missing if running
    first_response_at: np.ndarray | None = None
    escalation_level: np.ndarray | None = None
    calendar: np.ndarray | None = None


@dataclass(frozen=True)
class SweepResult:
    first_response_elapsed: np.ndarray  # business minutes
    resolution_elapsed: np.ndarray
    first_response_breached: np.ndarray  # bool
    resolution_breached: np.ndarray
    breach_targets: np.ndarray  # int64: full targets reached by a breached clock
    escalation_level: np.ndarray  # int8: new level, >= the old one
    escalated: np.ndarray  # bool: the level went up in this sweep


def _column(values, n: int, fill: float) -> np.ndarray:
    if values is None:
        return np.full(n, fill, dtype=np.float64)
    return to_epoch_seconds(values)


def _business_seconds(
    calendar: BusinessCalendar | None, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    if calendar is None:
        return end - start
    both = np.concatenate([start, end])
    table = business_table(calendar, np.nanmin(both), np.nanmax(both))
    return table.cumulative(end) - table.cumulative(start)


def sweep(
    cases: SweepInput, now: datetime, calendars: Sequence[BusinessCalendar | None] = ()
) -> SweepResult:
    """Evaluate breaches and escalation for every case at `now`, vectorised."""
    opened = to_epoch_seconds(cases.opened_at)
    n = opened.size
    now_s = utc_seconds(now)
    first_target = np.asarray(cases.first_response_minutes, dtype=np.float64)
    resolution_target = np.asarray(cases.resolution_minutes, dtype=np.float64)
    if np.any(first_target <= 0) or np.any(resolution_target <= 0):
        raise ValueError("SLA targets must be positive")
    paused_minutes = (
        np.zeros(n) if cases.paused_minutes is None else np.asarray(cases.paused_minutes, float)
    )
    paused_since = _column(cases.paused_since, n, np.nan)
    first_at = _column(cases.first_response_at, n, np.nan)
    level = (
        np.zeros(n, dtype=np.int8)
        if cases.escalation_level is None
        else np.asarray(cases.escalation_level, dtype=np.int8)
    )
    which = (
        np.full(n, -1, dtype=np.int64)
        if cases.calendar is None
        else np.asarray(cases.calendar, dtype=np.int64)
    )

    first_end = np.where(np.isnan(first_at), now_s, first_at)
    clock_end = np.where(np.isnan(paused_since), now_s, paused_since)
    first_seconds = np.empty(n)
    clock_seconds = np.empty(n)
    for index in np.unique(which):
        rows = which == index
        calendar = None if index < 0 else calendars[index]
        first_seconds[rows] = _business_seconds(calendar, opened[rows], first_end[rows])
        clock_seconds[rows] = _business_seconds(calendar, opened[rows], clock_end[rows])

    first = first_seconds / 60
    resolution = np.maximum(0.0, clock_seconds / 60 - paused_minutes)
    first_breached = first > first_target
    resolution_breached = resolution > resolution_target
    reached = np.maximum(
        np.where(first_breached, np.floor(first / first_target), 0),
        np.where(resolution_breached, np.floor(resolution / resolution_target), 0),
    ).astype(np.int64)
    new_level = np.maximum(level, np.minimum(reached, MAX_ESCALATION_LEVEL)).astype(np.int8)
    return SweepResult(
        first_response_elapsed=first,
        resolution_elapsed=resolution,
        first_response_breached=first_breached,
        resolution_breached=resolution_breached,
        breach_targets=reached,
        escalation_level=new_level,
        escalated=new_level > level,
    )


class PromiseOutcome(enum.StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"


def promise_outcome(
    promised_at: datetime,
    now: datetime,
    *,
    made_at: datetime | None = None,
    updates: Iterable[datetime] = (),
    resolved_at: datetime | None = None,
) -> PromiseOutcome:
    """Was the promised reply time (承诺答复时间) kept?

    Kept when a customer update or the resolution happened after the promise
    was made and no later than the promised time; broken once that time has
    passed without one; pending before.
    """
    events = [*updates, *([resolved_at] if resolved_at is not None else [])]
    if any((made_at is None or made_at <= at) and at <= promised_at for at in events):
        return PromiseOutcome.KEPT
    return PromiseOutcome.BROKEN if now > promised_at else PromiseOutcome.PENDING


def promise_outcomes(promised_at, fulfilled_at, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised promises: (kept, broken) boolean arrays; neither = pending.

    `fulfilled_at` is the first customer update or resolution after each
    promise was made (missing when there has been none).
    """
    promised = to_epoch_seconds(promised_at)
    fulfilled = to_epoch_seconds(fulfilled_at)
    kept = fulfilled <= promised  # NaN compares False
    broken = ~kept & (utc_seconds(now) > promised)
    return kept, broken
