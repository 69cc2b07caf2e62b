"""Retention stages from purchase history: pure functions over columnar arrays.

Stages (codes stored lower case): prospect (no purchase), new (first purchase
within ``new_days``), active, at_risk, lapsed, churned, won_back (a purchase
after the customer had lapsed, for ``won_back_days``).

How far past the last purchase a customer is at risk, lapsed or churned is
measured against that customer's *expected gap* between purchase days, with
thresholds taken from the tenant's own gaps (docs/lifecycle.md, "How the
thresholds are derived"):

- the tenant's *gap shape*: every gap of customers with at least three
  purchase days, divided by that customer's mean gap. Its 80th/95th/99th
  percentiles (the settings) are the *factors*: at risk once the silence
  passes 80th-percentile-factor x the expected gap. With fewer than
  ``MIN_SHAPE_CUSTOMERS`` such customers the factors are those of an
  exponential gap (-ln(1 - p)), the gap of a customer buying at random.
- a customer with two or more purchase days: expected gap = their mean gap,
  blended with ``gap_prior_weight`` gaps of the tenant's median gap
  ((span + w x median) / (gaps + w)): one observed gap is a noisy mean.
- a one-time buyer has no gap of their own: the thresholds are the
  percentiles of all the tenant's gaps themselves.
- no threshold is shorter than ``min_threshold_days``; ``*_days`` settings
  replace a derived threshold by a fixed one.

Purchases on one local calendar day of the tenant are one purchase day: the
day stored with each purchase, not a UTC offset applied to all of them.
Everything is a function of the history up to ``as_of``, so running it twice
gives the same stages, and the moment each stage began is computed from the
purchases (the threshold crossing), not from when the run happened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from plugins.lifecycle.settings import LifecycleSettings

DAY = 86400
MIN_SHAPE_CUSTOMERS = 30  # customers with 3+ purchase days before the tenant's own gap shape is used
DEFAULT_GAP_DAYS = 30.0  # a tenant without a single repeat purchase yet

PROSPECT, NEW, ACTIVE, AT_RISK, LAPSED, CHURNED, WON_BACK = (
    "prospect", "new", "active", "at_risk", "lapsed", "churned", "won_back")
STAGES = (PROSPECT, NEW, ACTIVE, AT_RISK, LAPSED, CHURNED, WON_BACK)
STAGE_INDEX = {code: i for i, code in enumerate(STAGES)}
GONE = (LAPSED, CHURNED)  # the stages a churn reason may be recorded on and win-back lists take


@dataclass(frozen=True)
class Thresholds:
    """What a run derived for the tenant (stored with the run, shown by ``lifecycleStages``)."""

    at_risk_factor: float  # multiples of a customer's expected gap
    lapsed_factor: float
    churned_factor: float
    single_at_risk_days: float  # one-time buyers
    single_lapsed_days: float
    single_churned_days: float
    median_gap_days: float  # the tenant's typical gap: the prior of every expected gap
    new_days: float
    won_back_days: float
    min_days: float
    prior_weight: float
    fixed_at_risk_days: float | None
    fixed_lapsed_days: float | None
    fixed_churned_days: float | None
    gaps: int  # gaps the thresholds were derived from
    shape_customers: int  # customers behind the gap shape
    shape: str  # "tenant" or "exponential"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Thresholds:
        return cls(**data)


@dataclass(frozen=True)
class PurchaseDays:
    """Per customer: purchase days and the times the stage rules need (NaN / 0 where not defined)."""

    customer_ids: np.ndarray  # int64
    n_days: np.ndarray  # int64 distinct local purchase days
    first_time: np.ndarray  # float64 epoch seconds of the first purchase
    last_time: np.ndarray  # float64 epoch seconds of the last purchase
    span_days: np.ndarray  # float64 last day - first day
    prev_span_days: np.ndarray  # float64 day before the last purchase day - first day (n_days >= 2)
    last_gap_days: np.ndarray  # float64 last day - the purchase day before it (n_days >= 2)
    gaps: np.ndarray  # float64 every gap between consecutive purchase days, customer by customer
    gap_customer: np.ndarray  # int64 index (into customer_ids) of each gap


def purchase_days(customer_ids: np.ndarray, offsets: np.ndarray, times: np.ndarray, local_days=None,
                  utc_offset: int = 0) -> PurchaseDays:
    """Collapse each customer's purchases (``times[offsets[i]:offsets[i+1]]``, ascending) to local days.

    ``local_days``: each purchase's stored local day (as recorded in the
    tenant's zone); one offset for the whole history would put purchases on
    the other side of a daylight-saving change on the wrong day. Without them
    (plain arrays in tests), days of ``times + utc_offset``."""
    n = len(customer_ids)
    counts = np.diff(offsets).astype(np.int64)
    owner = np.repeat(np.arange(n, dtype=np.int64), counts)
    times = np.asarray(times, dtype=np.int64)
    day = (times + utc_offset) // DAY if local_days is None else np.asarray(local_days, dtype=np.int64)
    keep = np.ones(day.size, dtype=bool)
    if day.size:
        keep[1:] = (day[1:] != day[:-1]) | (owner[1:] != owner[:-1])
    d_day, d_owner = day[keep].astype(np.float64), owner[keep]
    n_days = np.bincount(d_owner, minlength=n).astype(np.int64)
    d_end = np.cumsum(n_days)
    d_start = d_end - n_days
    has = n_days > 0
    first_time = np.full(n, np.nan)
    last_time = np.full(n, np.nan)
    first_time[has] = times[offsets[:-1][has]]
    last_time[has] = times[offsets[1:][has] - 1]
    span = np.zeros(n)
    span[has] = d_day[d_end[has] - 1] - d_day[d_start[has]]
    repeat = n_days >= 2
    prev_span = np.full(n, np.nan)
    last_gap = np.full(n, np.nan)
    prev_span[repeat] = d_day[d_end[repeat] - 2] - d_day[d_start[repeat]]
    last_gap[repeat] = d_day[d_end[repeat] - 1] - d_day[d_end[repeat] - 2]
    same = d_owner[1:] == d_owner[:-1]
    gaps = (d_day[1:] - d_day[:-1])[same]
    return PurchaseDays(np.asarray(customer_ids, dtype=np.int64), n_days, first_time, last_time, span, prev_span,
                        last_gap, gaps, d_owner[1:][same])


def derive_thresholds(days: PurchaseDays, settings: LifecycleSettings) -> Thresholds:
    """The tenant's thresholds from its own gaps (see the module docstring)."""
    percentiles = (settings.at_risk_percentile, settings.lapsed_percentile, settings.churned_percentile)
    gaps = days.gaps
    if gaps.size:
        single = [float(v) for v in np.percentile(gaps, percentiles)]
        median = float(np.median(gaps))
    else:
        median = DEFAULT_GAP_DAYS
        single = [median * -math.log(1 - p / 100) for p in percentiles]
    shaped = days.n_days[days.gap_customer] >= 3
    shape_customers = int(np.count_nonzero(days.n_days >= 3))
    if shape_customers >= MIN_SHAPE_CUSTOMERS:
        owner = days.gap_customer[shaped]
        mean_gap = days.span_days[owner] / (days.n_days[owner] - 1)
        factors = [float(v) for v in np.percentile(gaps[shaped] / mean_gap, percentiles)]
        shape = "tenant"
    else:
        factors = [-math.log(1 - p / 100) for p in percentiles]
        shape = "exponential"
    floor = settings.min_threshold_days
    single = [max(floor, v) for v in single]
    new_days = settings.new_days if settings.new_days is not None else (settings.at_risk_days or single[0])
    return Thresholds(
        at_risk_factor=factors[0], lapsed_factor=factors[1], churned_factor=factors[2],
        single_at_risk_days=single[0], single_lapsed_days=single[1], single_churned_days=single[2],
        median_gap_days=median, new_days=float(new_days),
        won_back_days=float(settings.won_back_days if settings.won_back_days is not None else new_days),
        min_days=floor, prior_weight=settings.gap_prior_weight,
        fixed_at_risk_days=settings.at_risk_days, fixed_lapsed_days=settings.lapsed_days,
        fixed_churned_days=settings.churned_days, gaps=int(gaps.size), shape_customers=shape_customers, shape=shape,
    )


def expected_gap(span_days: np.ndarray, gaps: np.ndarray, th: Thresholds) -> np.ndarray:
    """The expected gap of customers with ``gaps`` >= 1 gaps over ``span_days`` (NaN where gaps < 1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        blended = (span_days + th.prior_weight * th.median_gap_days) / (gaps + th.prior_weight)
    return np.where(gaps >= 1, blended, np.nan)


def stage_thresholds(gap: np.ndarray, th: Thresholds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(at risk, lapsed, churned) days since the last purchase, per customer; ``gap`` NaN = a one-time buyer."""
    out = []
    for factor, single, fixed in ((th.at_risk_factor, th.single_at_risk_days, th.fixed_at_risk_days),
                                  (th.lapsed_factor, th.single_lapsed_days, th.fixed_lapsed_days),
                                  (th.churned_factor, th.single_churned_days, th.fixed_churned_days)):
        if fixed is not None:
            out.append(np.full(gap.shape, float(fixed)))
        else:
            out.append(np.where(np.isnan(gap), single, np.maximum(th.min_days, factor * np.nan_to_num(gap))))
    at_risk, lapsed, churned = out
    # Derived and fixed thresholds mixed must still come in order.
    lapsed = np.maximum(lapsed, at_risk)
    churned = np.maximum(churned, lapsed)
    return at_risk, lapsed, churned


class ZoneClock:
    """Local wall-clock seconds of instants in a time zone, and back, in bulk.

    The stage rules count days of the tenant's calendar: a customer 30 days
    silent at 10:00 local is 30 days silent whichever daylight-saving change
    lies between. The zone's offset changes within ``[lo, hi]`` are found
    once (a sample a day, then bisection to the second; zones change at most
    once a day) and looked up with one search per array.
    """

    MAX_SPAN = 200 * 366 * DAY  # instants further out take the last offset found

    def __init__(self, zone, lo: int, hi: int):
        lo, hi = int(lo) - 2 * DAY, int(min(hi, lo + self.MAX_SPAN)) + 2 * DAY
        offset = self._offset_fn(zone)
        samples = list(range(lo, hi + DAY, DAY))
        values = [offset(t) for t in samples]
        starts, found = [lo], [values[0]]
        for k in range(len(samples) - 1):
            if values[k + 1] != values[k]:
                a, b = samples[k], samples[k + 1]
                while b - a > 1:  # the first second of the new offset
                    m = (a + b) // 2
                    a, b = (m, b) if offset(m) == values[k] else (a, m)
                starts.append(b)
                found.append(values[k + 1])
        self.starts = np.array(starts, dtype=np.float64)
        self.offsets = np.array(found, dtype=np.float64)

    @staticmethod
    def _offset_fn(zone):
        def offset(epoch: int) -> int:
            delta = datetime.fromtimestamp(epoch, timezone.utc).astimezone(zone).utcoffset()
            return int(delta.total_seconds()) if delta is not None else 0
        return offset

    @classmethod
    def of(cls, tz_name: str | None, *instants) -> ZoneClock:
        """The clock of the zone named ``tz_name`` (UTC when unknown) over the finite ``instants``."""
        try:
            zone = ZoneInfo(tz_name) if tz_name else timezone.utc
        except (ZoneInfoNotFoundError, ValueError):
            zone = timezone.utc
        values = np.concatenate([np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in instants] or [np.zeros(1)])
        values = values[np.isfinite(values)]
        if values.size == 0:
            values = np.zeros(1)
        return cls(zone, int(values.min()), int(values.max()))

    def offset(self, epochs) -> np.ndarray:
        epochs = np.asarray(epochs, dtype=np.float64)
        at = np.clip(np.searchsorted(self.starts, epochs, side="right") - 1, 0, self.starts.size - 1)
        return self.offsets[at]

    def to_local(self, epochs) -> np.ndarray:
        """Wall-clock seconds since 1970-01-01 00:00 local (NaN stays NaN)."""
        epochs = np.asarray(epochs, dtype=np.float64)
        return epochs + self.offset(epochs)

    def to_utc(self, local) -> np.ndarray:
        """The instant of a local wall-clock time (a time skipped by a change: the instant an hour on)."""
        local = np.asarray(local, dtype=np.float64)
        utc = local - self.offset(local)
        for _ in range(2):  # the offset at the instant, not at the wall-clock number read as UTC
            utc = local - self.offset(utc)
        return utc


@dataclass(frozen=True)
class StagePaths:
    """Per customer with a purchase: the stage now, and the stages since the last purchase day.

    ``steps[k]`` / ``step_times[k]``: the k-th stage after the last purchase
    (k = 0 the stage the purchase put the customer in), NaN time where the
    customer never reached it by ``as_of``. Stage codes are indexes of STAGES.
    """

    stage: np.ndarray  # int64 index into STAGES
    since: np.ndarray  # float64 epoch seconds the current stage began
    expected_gap: np.ndarray  # float64 days; NaN for one-time buyers
    steps: np.ndarray  # int64 (n, 5)
    step_times: np.ndarray  # float64 (n, 5)
    at_risk_at: np.ndarray  # float64 epoch seconds the customer is (or will be) at risk; NaN for prospects
    won_back_days: float


def stage_paths(days: PurchaseDays, th: Thresholds, as_of: int, clock: ZoneClock | None = None) -> StagePaths:
    """The stage of every customer in ``days`` (one with no purchase day is a prospect, since NaN).

    With the tenant's ``clock``, days after a purchase are counted on the
    local wall clock (the times returned are instants again); without, in UTC."""
    if clock is not None:
        local = replace(days, first_time=clock.to_local(days.first_time), last_time=clock.to_local(days.last_time))
        paths = stage_paths(local, th, int(clock.to_local(as_of)[()]))
        step_times = np.floor(clock.to_utc(paths.step_times))
        current = np.where(np.isnan(paths.since), np.nan, np.floor(clock.to_utc(paths.since)))
        return replace(paths, since=current, step_times=step_times, at_risk_at=np.floor(clock.to_utc(paths.at_risk_at)))
    n = len(days.customer_ids)
    bought = days.n_days > 0
    gap = expected_gap(days.span_days, (days.n_days - 1).astype(np.float64), th)
    at_risk, lapsed, churned = stage_thresholds(gap, th)
    # Had the customer lapsed before the last purchase? Judged with the thresholds as they stood then.
    prev_gap = expected_gap(days.prev_span_days, (days.n_days - 2).astype(np.float64), th)
    _, lapsed_before, _ = stage_thresholds(prev_gap, th)
    returned = (days.n_days >= 2) & (days.last_gap_days > lapsed_before)
    first, last = days.first_time, days.last_time
    is_new = bought & (last - first <= th.new_days * DAY)
    won_back = bought & ~is_new & returned

    steps = np.full((n, 5), STAGE_INDEX[ACTIVE], dtype=np.int64)
    times = np.full((n, 5), np.nan)
    # Step 0: what the last purchase made the customer.
    steps[:, 0] = np.where(is_new, STAGE_INDEX[NEW], np.where(won_back, STAGE_INDEX[WON_BACK], STAGE_INDEX[ACTIVE]))
    times[:, 0] = np.where(is_new, first, last)
    # Step 1: active when the new or won-back window ends before the customer is at risk.
    window_end = np.where(is_new, first + th.new_days * DAY, last + th.won_back_days * DAY)
    to_active = (is_new | won_back) & (window_end < last + at_risk * DAY)
    steps[:, 1] = STAGE_INDEX[ACTIVE]
    times[:, 1] = np.where(to_active, window_end, np.nan)
    # Steps 2-4: the silence crosses each threshold in turn.
    for k, (code, days_after) in enumerate(((AT_RISK, at_risk), (LAPSED, lapsed), (CHURNED, churned)), start=2):
        steps[:, k] = STAGE_INDEX[code]
        times[:, k] = last + days_after * DAY
    at_risk_at = np.floor(np.where(bought, last + at_risk * DAY, np.nan))
    times = np.floor(times)  # whole seconds, as stored: a stored since-time compares equal to its step
    times[times > as_of] = np.nan
    times[~bought] = np.nan
    reached = ~np.isnan(times)
    current = np.where(reached.any(axis=1), 4 - np.argmax(reached[:, ::-1], axis=1), 0)
    rows = np.arange(n)
    stage = np.where(bought, steps[rows, current], STAGE_INDEX[PROSPECT])
    since = np.where(bought, times[rows, current], np.nan)
    return StagePaths(stage.astype(np.int64), since, gap, steps, times, at_risk_at, th.won_back_days)


from engine.enums import LabeledEnum  # noqa: E402


class Stage(LabeledEnum):
    """The stages with their labels (member names are the stored codes, upper-cased)."""

    PROSPECT = ("潜在客户", "Prospect")
    NEW = ("新客户", "New")
    ACTIVE = ("活跃客户", "Active")
    AT_RISK = ("有流失风险", "At risk")
    LAPSED = ("沉睡客户", "Lapsed")
    CHURNED = ("已流失", "Churned")
    WON_BACK = ("已挽回", "Won back")

    @property
    def stored(self) -> str:
        return self.name.lower()

    @classmethod
    def of(cls, stored: str) -> Stage:
        return cls[stored.upper()]
