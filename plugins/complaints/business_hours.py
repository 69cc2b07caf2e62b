"""Business-time arithmetic by interval arithmetic (never minute by minute).

A calendar is turned into its open spans in UTC: for each local date, every
opening interval [start, end) of that weekday (unless the date is a holiday)
maps to the UTC instants whose local wall-clock time falls inside it. That
definition settles DST for free:

* spring forward: wall times inside the gap never occur, so an interval
  09:00–17:00 on a 23-hour day simply has the hours that exist;
* fall back: wall times in the repeated hour occur twice and count twice,
  so 00:00–24:00 on a 25-hour day is 25 business hours.

`calendar=None` is the 24/7 clock (plain subtraction).

Two implementations share that span definition: a lazy span generator for
single queries (`add_business_minutes`, `business_minutes_between`,
`elapsed_with_pauses`) and `BusinessTable`, which precomputes cumulative
business seconds over a horizon so any number of queries become binary
searches (numpy.searchsorted) for the vectorised SLA sweep.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from plugins.complaints.settings import BusinessCalendar

__all__ = [
    "add_business_minutes",
    "business_minutes_between",
    "elapsed_with_pauses",
    "open_spans",
    "utc_seconds",
    "BusinessTable",
    "business_table",
]

_DAY = 86_400
# UTC offsets lie within -12 h..+14 h; 15 h bounds how far a local day can
# sit from the same calendar day in UTC.
_MAX_OFFSET = 15 * 3600
# Give up looking for open time after this many days (a calendar whose
# holidays close it for decades is a configuration error).
_MAX_SEARCH_DAYS = 366 * 30
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def utc_seconds(moment: datetime) -> float:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment!r}")
    return moment.timestamp()


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _offset(zone: ZoneInfo, seconds: int) -> int:
    return int(datetime.fromtimestamp(seconds, zone).utcoffset().total_seconds())


def _offset_segments(zone: ZoneInfo, start: int, end: int) -> list[tuple[int, int, int]]:
    """Split UTC [start, end) into (from, to, utc_offset) pieces of constant offset.

    Transitions are found by bisection to the second. Sampling start, middle
    and end detects any transition pattern real zones have in a ~2.5-day
    window (at most one change, or a change and its reversal).
    """
    segments = []
    offset_a = _offset(zone, start)
    while True:
        middle = (start + end) // 2
        offset_m, offset_b = _offset(zone, middle), _offset(zone, end - 1)
        if offset_a == offset_m == offset_b:
            segments.append((start, end, offset_a))
            return segments
        # Invariant: offset(lo) == offset_a != offset(hi).
        lo, hi = (start, middle) if offset_m != offset_a else (middle, end - 1)
        while hi - lo > 1:
            probe = (lo + hi) // 2
            if _offset(zone, probe) == offset_a:
                lo = probe
            else:
                hi = probe
        segments.append((start, hi, offset_a))
        start, offset_a = hi, _offset(zone, hi)


def _merge(spans: Iterable[tuple[float, float]]) -> Iterator[tuple[float, float]]:
    """Merge sorted, disjoint spans that touch."""
    current = None
    for span in spans:
        if current is not None and span[0] <= current[1]:
            current = (current[0], max(current[1], span[1]))
            continue
        if current is not None:
            yield current
        current = span
    if current is not None:
        yield current


class _CompiledCalendar:
    """A calendar ready for span generation, with per-day results memoised."""

    _MEMO_LIMIT = 50_000

    def __init__(self, calendar: BusinessCalendar):
        self.zone = calendar.zone
        self.weekly = calendar.minutes_by_weekday()
        self.holidays = frozenset(calendar.holidays)
        self._days: dict[date, list[tuple[int, int]]] = {}

    def local_date(self, seconds: float) -> date:
        return datetime.fromtimestamp(seconds, self.zone).date()

    def day_spans(self, day: date) -> list[tuple[int, int]]:
        spans = self._days.get(day)
        if spans is None:
            if len(self._days) > self._MEMO_LIMIT:
                self._days.clear()
            spans = self._days[day] = self._compute_day(day)
        return spans

    def _compute_day(self, day: date) -> list[tuple[int, int]]:
        intervals = self.weekly[day.weekday()]
        if not intervals or day in self.holidays:
            return []
        # Local midnight written as if it were UTC ("wall seconds").
        midnight = (day.toordinal() - _EPOCH_ORDINAL) * _DAY
        segments = _offset_segments(
            self.zone, midnight - _MAX_OFFSET, midnight + _DAY + _MAX_OFFSET
        )
        spans = []
        for start_minute, end_minute in intervals:
            wall_start, wall_end = midnight + start_minute * 60, midnight + end_minute * 60
            for seg_from, seg_to, offset in segments:
                # Instants u in this segment have wall time u + offset.
                lo, hi = max(seg_from, wall_start - offset), min(seg_to, wall_end - offset)
                if lo < hi:
                    spans.append((lo, hi))
        return list(_merge(sorted(spans)))

    def spans_from(self, start: float) -> Iterator[tuple[float, float]]:
        """Open spans (UTC seconds) ending after `start`, ascending.

        Spans are disjoint but may touch (e.g. at midnight); they are not
        merged across days so that an always-open calendar still streams.
        """
        day = self.local_date(start) - timedelta(days=1)
        pending: list[tuple[int, int]] = []
        for _ in range(_MAX_SEARCH_DAYS):
            for span in self.day_spans(day):
                heapq.heappush(pending, span)
            day += timedelta(days=1)
            # Later days only hold instants after this bound, so earlier
            # pending spans are final (a fall-back can interleave two days).
            bound = (day.toordinal() - _EPOCH_ORDINAL) * _DAY - _MAX_OFFSET
            while pending and pending[0][0] < bound:
                span = heapq.heappop(pending)
                if span[1] > start:
                    yield span
        raise ValueError(
            f"business calendar has no open time within {_MAX_SEARCH_DAYS} days "
            f"after {_utc(start).isoformat()}"
        )


_COMPILED: dict[str, _CompiledCalendar] = {}


def _compiled(calendar: BusinessCalendar) -> _CompiledCalendar:
    key = calendar.model_dump_json()
    compiled = _COMPILED.get(key)
    if compiled is None:
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        compiled = _COMPILED[key] = _CompiledCalendar(calendar)
    return compiled


def open_spans(
    calendar: BusinessCalendar | None, start_utc: datetime, end_utc: datetime
) -> list[tuple[datetime, datetime]]:
    """The calendar's open spans clipped to [start_utc, end_utc), as UTC datetimes."""
    start, end = utc_seconds(start_utc), utc_seconds(end_utc)
    if calendar is None:
        return [(_utc(start), _utc(end))] if start < end else []
    spans = []
    for lo, hi in _compiled(calendar).spans_from(start):
        if lo >= end:
            break
        spans.append((_utc(max(lo, start)), _utc(min(hi, end))))
    return spans


def _between_seconds(calendar: BusinessCalendar | None, start: float, end: float) -> float:
    if end < start:
        return -_between_seconds(calendar, end, start)
    if calendar is None:
        return end - start
    total = 0.0
    for lo, hi in _compiled(calendar).spans_from(start):
        if lo >= end:
            break
        total += min(hi, end) - max(lo, start)
    return total


def business_minutes_between(
    calendar: BusinessCalendar | None, start_utc: datetime, end_utc: datetime
) -> float:
    """Business minutes from start to end (negative when end precedes start)."""
    return _between_seconds(calendar, utc_seconds(start_utc), utc_seconds(end_utc)) / 60


def add_business_minutes(
    calendar: BusinessCalendar | None, start_utc: datetime, minutes: float
) -> datetime:
    """The earliest instant by which `minutes` business minutes have passed since start."""
    if minutes < 0:
        raise ValueError(f"minutes must be >= 0, got {minutes}")
    start = utc_seconds(start_utc)
    needed = minutes * 60
    if calendar is None or needed == 0:
        return _utc(start + needed)
    for lo, hi in _compiled(calendar).spans_from(start):
        lo = max(lo, start)
        if needed <= hi - lo:
            return _utc(lo + needed)
        needed -= hi - lo
    raise AssertionError("unreachable: spans_from raises when the calendar runs dry")


def elapsed_with_pauses(
    calendar: BusinessCalendar | None,
    start_utc: datetime,
    now_utc: datetime,
    pauses: Iterable[tuple[datetime, datetime | None]] = (),
) -> float:
    """Business minutes from start to now, not counting the pauses.

    A pause is (from, to) with to=None for a pause still running. Pauses are
    clipped to [start, now] and may overlap (overlaps are counted once).
    """
    start, now = utc_seconds(start_utc), utc_seconds(now_utc)
    if now <= start:
        return 0.0
    clipped = sorted(
        (max(utc_seconds(p_from), start), min(now if p_to is None else utc_seconds(p_to), now))
        for p_from, p_to in pauses
    )
    paused = sum(
        _between_seconds(calendar, lo, hi) for lo, hi in _merge(p for p in clipped if p[0] < p[1])
    )
    return max(0.0, (_between_seconds(calendar, start, now) - paused) / 60)


class BusinessTable:
    """Cumulative business seconds over a UTC horizon [start, end).

    cumulative(t) is the business time from the horizon start to t: one
    binary search over span starts. Business time between two instants is a
    difference of cumulatives, and adding business time is the inverse
    search over the cumulative span ends.
    """

    def __init__(self, calendar: BusinessCalendar, start_utc: datetime, end_utc: datetime):
        self.calendar = calendar
        self.start, self.end = utc_seconds(start_utc), utc_seconds(end_utc)
        spans = []
        for lo, hi in _compiled(calendar).spans_from(self.start):
            if lo >= self.end:
                break
            spans.append((max(lo, self.start), min(hi, self.end)))
        table = np.array(spans, dtype=np.float64).reshape(-1, 2)
        self.starts = np.ascontiguousarray(table[:, 0])
        self.lengths = table[:, 1] - table[:, 0]
        self.cum_end = np.cumsum(self.lengths)
        self.cum_start = self.cum_end - self.lengths

    def covers(self, start: float, end: float) -> bool:
        return self.start <= start and end <= self.end

    def _check(self, seconds: np.ndarray) -> None:
        finite = seconds[~np.isnan(seconds)]
        if finite.size and (finite.min() < self.start or finite.max() > self.end):
            raise ValueError("instant outside the business table's horizon")

    def cumulative(self, seconds: np.ndarray) -> np.ndarray:
        """Business seconds from the horizon start to each instant (NaN stays NaN)."""
        seconds = np.asarray(seconds, dtype=np.float64)
        self._check(seconds)
        if self.starts.size == 0:
            return np.where(np.isnan(seconds), np.nan, 0.0)
        k = np.searchsorted(self.starts, seconds, side="right") - 1
        kc = np.maximum(k, 0)
        inside = np.clip(seconds - self.starts[kc], 0.0, self.lengths[kc])
        return np.where(k >= 0, self.cum_start[kc] + inside, 0.0)

    def minutes_between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        return (self.cumulative(end) - self.cumulative(start)) / 60

    def add_minutes(self, start: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """Vectorised add_business_minutes over epoch seconds; returns epoch seconds."""
        start = np.asarray(start, dtype=np.float64)
        minutes = np.asarray(minutes, dtype=np.float64)
        if np.any(minutes < 0):
            raise ValueError("minutes must be >= 0")
        if self.starts.size == 0:
            if np.any(minutes > 0):
                raise ValueError("no business time within the business table's horizon")
            return start.copy()
        target = self.cumulative(start) + minutes * 60
        if np.any(target > self.cum_end[-1]):
            raise ValueError("due time beyond the business table's horizon")
        j = np.minimum(np.searchsorted(self.cum_end, target, side="left"), self.cum_end.size - 1)
        # max(): zero minutes from a closed instant is that instant, not the
        # end of the previous span.
        return np.maximum(start, self.starts[j] + (target - self.cum_start[j]))


_TABLES: dict[str, BusinessTable] = {}


def business_table(calendar: BusinessCalendar, start: float, end: float) -> BusinessTable:
    """A cached BusinessTable covering epoch seconds [start, end] with whole-year margins."""
    key = calendar.model_dump_json()
    table = _TABLES.get(key)
    if table is None or not table.covers(start, end):
        first_year = _utc(start).year - 1
        last_year = _utc(end).year + 2
        if table is not None:  # grow rather than thrash between ranges
            first_year = min(first_year, _utc(table.start).year)
            last_year = max(last_year, _utc(table.end).year)
        if len(_TABLES) > 64:
            _TABLES.clear()
        table = _TABLES[key] = BusinessTable(
            calendar, datetime(first_year, 1, 1, tzinfo=UTC), datetime(last_year, 1, 1, tzinfo=UTC)
        )
    return table
