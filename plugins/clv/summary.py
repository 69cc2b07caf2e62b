"""Per-customer (frequency, recency, T, monetary value) from columnar purchases.

Input is the engine's columnar batch: customers 0..n-1, purchases of
customer i at ``offsets[i]:offsets[i+1]`` of ``times`` (int64 epoch seconds,
ascending per customer) and ``amounts`` (float64). Purchases after ``as_of``
are ignored.

Definitions follow lifetimes' ``summary_data_from_transaction_data``:
purchases are grouped into calendar periods (``period``: day, ISO week
starting Monday, or month; their amounts are summed), and
- frequency = number of periods with a purchase, minus the first;
- recency = start of the last such period - start of the first, in ``unit``;
- T = as_of - start of the first period, in ``unit``;
- monetary_value = mean spend of the repeat periods (0 when frequency is 0);
- historical_value = everything spent up to as_of, first purchase included.
``period`` defaults to ``unit``; ``unit="week", period="day"`` reproduces
the CDNOW summaries of Fader & Hardie (daily purchases, time in weeks),
which is lifetimes' ``freq="D", freq_multiplier=7``.

Months as a unit are calendar months: a time's position is its month index
plus the elapsed fraction of that month.

Calendar days are local days. The window (``start <= time <= as_of``) is
decided on the instants in ``times``; the period of a purchase comes from its
day number in ``local_days`` (the engine stores each interaction's day in the
tenant's time zone when it is recorded), and T from ``as_of_local``, the
as-of instant's local wall-clock time as epoch seconds. One UTC offset for
the whole history would be wrong in a zone with daylight-saving time: every
purchase on the other side of a change would move by an hour, and those near
midnight to another day. Without ``local_days`` the days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

import engine.numba_threading  # noqa: F401  (a thread-safe layer before any kernel runs)

SECONDS_PER_DAY = 86400
UNITS = ("day", "week", "month")
_UNIT_CODE = {"day": 0, "week": 1, "month": 2}


class SummaryInputError(ValueError):
    """Columnar purchase arrays that cannot be summarised; the message names the field."""


# --- calendar arithmetic (proleptic Gregorian, Hinnant's algorithms) -------


@njit(cache=True, nogil=True)
def _civil_from_days(z):
    """(year, month 1..12) of the day number z (days since 1970-01-01)."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m


@njit(cache=True, nogil=True)
def _days_from_civil(y, m):
    """Day number of the first day of month m of year y."""
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True, nogil=True)
def _month_start_day(month_index):
    """Day number of the first day of month_index (months since 0000-01)."""
    return _days_from_civil(month_index // 12, month_index % 12 + 1)


@njit(cache=True, nogil=True)
def _period_index(t, period):
    """Calendar period of local epoch second t: day, Monday-based week, or month."""
    day = t // SECONDS_PER_DAY
    if period == 0:
        return day
    if period == 1:
        return (day + 3) // 7  # 1970-01-01 was a Thursday; weeks start on Monday
    y, m = _civil_from_days(day)
    return y * 12 + (m - 1)


@njit(cache=True, nogil=True)
def _period_start(index, period):
    """Local epoch second at which the period starts."""
    if period == 0:
        return index * SECONDS_PER_DAY
    if period == 1:
        return (index * 7 - 3) * SECONDS_PER_DAY
    return _month_start_day(index) * SECONDS_PER_DAY


@njit(cache=True, nogil=True)
def _in_units(t, unit):
    """Local epoch second t on the unit's axis (fractional days, weeks or months)."""
    if unit == 0:
        return t / SECONDS_PER_DAY
    if unit == 1:
        return t / (7.0 * SECONDS_PER_DAY)
    month = _period_index(t, 2)
    start = _month_start_day(month) * SECONDS_PER_DAY
    end = _month_start_day(month + 1) * SECONDS_PER_DAY
    return month + (t - start) / (end - start)


@njit(cache=True, nogil=True, parallel=True)
def summary_kernel(offsets, times, days, amounts, as_of, as_of_local, start, unit, period):
    """Per-customer summary over purchases with start <= time <= as_of,
    grouped by their local day numbers ``days``; T runs to ``as_of_local``.

    Returns frequency, recency, T, monetary_value, historical_value,
    n_purchases and observed (at least one purchase in the window).
    """
    n = offsets.size - 1
    frequency = np.zeros(n, np.int64)
    recency = np.zeros(n)
    age = np.zeros(n)
    monetary = np.zeros(n)
    historical = np.zeros(n)
    n_purchases = np.zeros(n, np.int64)
    observed = np.zeros(n, np.bool_)
    as_of_units = _in_units(as_of_local, unit)
    for i in prange(n):
        first_period = 0
        current_period = 0
        repeat_spend = 0.0
        count = 0
        periods = 0
        spend = 0.0
        for j in range(offsets[i], offsets[i + 1]):
            t = times[j]
            if t > as_of:
                break  # sorted: the rest is later still
            if t < start:
                continue
            p = _period_index(days[j] * SECONDS_PER_DAY, period)
            if periods == 0:
                first_period = p
                current_period = p
                periods = 1
            elif p != current_period:
                current_period = p
                periods += 1
            if periods > 1:
                repeat_spend += amounts[j]
            spend += amounts[j]
            count += 1
        if periods == 0:
            continue
        observed[i] = True
        n_purchases[i] = count
        historical[i] = spend
        frequency[i] = periods - 1
        first_units = _in_units(_period_start(first_period, period), unit)
        recency[i] = _in_units(_period_start(current_period, period), unit) - first_units
        age[i] = as_of_units - first_units
        if periods > 1:
            monetary[i] = repeat_spend / (periods - 1)
    return frequency, recency, age, monetary, historical, n_purchases, observed


@dataclass(frozen=True)
class CustomerSummary:
    """One entry per customer of the input; customers with no purchase up to
    as_of have ``observed`` False and zeros elsewhere (leave them out of fits)."""

    frequency: np.ndarray  # int64, repeat purchase periods
    recency: np.ndarray  # float64, in unit
    T: np.ndarray  # float64, in unit
    monetary_value: np.ndarray  # float64, mean spend per repeat period
    historical_value: np.ndarray  # float64, total spend up to as_of
    n_purchases: np.ndarray  # int64, purchases (not periods) up to as_of
    observed: np.ndarray  # bool
    unit: str
    period: str


def _check_unit(name: str, value: str) -> int:
    if value not in _UNIT_CODE:
        raise SummaryInputError(f"{name}: must be one of {', '.join(UNITS)}, got {value!r}")
    return _UNIT_CODE[value]


def validate_columns(offsets, times, amounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the columnar batch and return contiguous int64/int64/float64 copies or views."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    times = np.ascontiguousarray(times, dtype=np.int64)
    amounts = np.ascontiguousarray(amounts, dtype=np.float64)
    if offsets.ndim != 1 or offsets.size < 1:
        raise SummaryInputError("offsets: must be a 1-d array of length n_customers + 1")
    if times.ndim != 1 or amounts.ndim != 1:
        raise SummaryInputError("times, amounts: must be 1-d arrays")
    if times.size != amounts.size:
        raise SummaryInputError(f"amounts: length {amounts.size} differs from times length {times.size}")
    if offsets[0] != 0 or offsets[-1] != times.size:
        raise SummaryInputError(f"offsets: must start at 0 and end at len(times) = {times.size}")
    if np.any(np.diff(offsets) < 0):
        raise SummaryInputError("offsets: must be non-decreasing")
    if not np.all(np.isfinite(amounts)):
        raise SummaryInputError("amounts: must be finite")
    if times.size > 1:
        steps = np.diff(times)
        # a step backwards is fine only where a new customer starts
        boundary = np.zeros(times.size - 1, dtype=bool)
        starts = offsets[1:-1]
        starts = starts[(starts > 0) & (starts < times.size)]
        boundary[starts - 1] = True
        if np.any((steps < 0) & ~boundary):
            raise SummaryInputError("times: must be ascending within each customer")
    return offsets, times, amounts


def local_days_of(times, local_days) -> np.ndarray:
    """The local day numbers to group by: ``local_days`` checked against
    ``times`` (same length, each within a day and a bit of its UTC day: no zone
    is more than 14 hours from UTC), or the UTC days of ``times``."""
    if local_days is None:
        return times // SECONDS_PER_DAY
    days = np.ascontiguousarray(local_days, dtype=np.int64)
    if days.ndim != 1 or days.size != times.size:
        raise SummaryInputError(f"local_days: length {days.size} differs from times length {times.size}")
    if days.size and np.any(np.abs(days - times // SECONDS_PER_DAY) > 1):
        raise SummaryInputError("local_days: must be each purchase's day in the tenant's time zone (within a day of UTC)")
    return days


def summarise(
    offsets,
    times,
    amounts,
    as_of: int,
    unit: str = "day",
    period: str | None = None,
    start: int | None = None,
    local_days=None,
    as_of_local: int | None = None,
) -> CustomerSummary:
    """Summarise each customer's purchases with time <= as_of (and >= start, if given).

    ``local_days`` (per purchase) and ``as_of_local`` (local wall-clock epoch
    seconds of as_of) put the calendar in the tenant's time zone; without
    them it is UTC.
    """
    unit_code = _check_unit("unit", unit)
    period = unit if period is None else period
    period_code = _check_unit("period", period)
    offsets, times, amounts = validate_columns(offsets, times, amounts)
    days = local_days_of(times, local_days)
    local_end = int(as_of) if as_of_local is None else int(as_of_local)
    lower = np.iinfo(np.int64).min if start is None else int(start)
    fields = summary_kernel(offsets, times, days, amounts, int(as_of), local_end, lower, unit_code, period_code)
    return CustomerSummary(*fields, unit=unit, period=period)


def span_in_units(start_local: int, end_local: int, unit: str) -> float:
    """Length of [start, end] (local wall-clock epoch seconds) in the unit, on the same axis as T."""
    code = _check_unit("unit", unit)
    return float(_in_units(int(end_local), code) - _in_units(int(start_local), code))


@dataclass(frozen=True)
class CollapsedRows:
    """Unique (frequency, recency, T) rows with how many customers share each.

    ``inverse[i]`` is the unique row of input customer i, so per-row
    predictions map back with ``values[inverse]``.
    """

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weights: np.ndarray  # int64
    inverse: np.ndarray  # int64


def _strictly_increasing(f, r, t) -> bool:
    """Rows in strictly increasing (frequency, recency, T) order, hence unique."""
    df, dr, dt = np.diff(f), np.diff(r), np.diff(t)
    return bool(np.all((df > 0) | ((df == 0) & ((dr > 0) | ((dr == 0) & (dt > 0))))))


def collapse(frequency, recency, T) -> CollapsedRows:
    """Collapse identical rows: a fit on the unique rows with counts as weights
    has the same likelihood as the fit on all customers, and is much faster."""
    f = np.asarray(frequency, dtype=np.float64)
    r = np.asarray(recency, dtype=np.float64)
    t = np.asarray(T, dtype=np.float64)
    if not (f.shape == r.shape == t.shape) or f.ndim != 1:
        raise SummaryInputError("frequency, recency, T: must be 1-d arrays of the same length")
    if _strictly_increasing(f, r, t):  # already collapsed (a caller's unique rows): no sort
        ones = np.ones(f.size, dtype=np.int64)
        return CollapsedRows(f.copy(), r.copy(), t.copy(), ones, np.arange(f.size, dtype=np.int64))
    order = np.lexsort((t, r, f))
    fs, rs, ts = f[order], r[order], t[order]
    new_row = np.ones(f.size, dtype=bool)
    if f.size:
        new_row[1:] = (fs[1:] != fs[:-1]) | (rs[1:] != rs[:-1]) | (ts[1:] != ts[:-1])
    row_of_sorted = np.cumsum(new_row) - 1
    inverse = np.empty(f.size, dtype=np.int64)
    inverse[order] = row_of_sorted
    firsts = np.flatnonzero(new_row)
    weights = np.diff(np.append(firsts, f.size)).astype(np.int64)
    return CollapsedRows(fs[firsts], rs[firsts], ts[firsts], weights, inverse)


def warm_up() -> None:
    """Compile (or load from cache) the summary kernel for every unit and period."""
    offsets = np.array([0, 2], dtype=np.int64)
    times = np.array([0, 40 * SECONDS_PER_DAY], dtype=np.int64)
    amounts = np.array([1.0, 2.0])
    for unit in UNITS:
        summarise(offsets, times, amounts, 60 * SECONDS_PER_DAY, unit=unit)
