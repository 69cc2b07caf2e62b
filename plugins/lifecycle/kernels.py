"""Numba kernels of the lifecycle analytics, and their validating wrappers.

Input is the engine's columnar batch (engine/scoring.py PurchaseBatch):
customers 0..n-1, purchases of customer i at ``offsets[i]:offsets[i+1]`` of
``times`` (int64 epoch seconds, ascending per customer) and ``amounts``;
``groups[i]`` is customer i's slice (0..n_groups-1, e.g. its store), or -1
to leave the customer out. Purchases after ``as_of`` are ignored.

Months are calendar months of the tenant's local time: a purchase's month is
that of its stored local day (``local_days``, days since 1970-01-01 in the
tenant's zone, recorded with the purchase), never of one UTC offset applied
to the whole history, which would move purchases on the other side of a
daylight-saving change to the neighbouring day (and month). A customer's cohort
is the month of their first purchase (over all history up to as_of, not
only the months shown).

Every kernel walks customers in ``chunks`` near-equal ranges in parallel,
each chunk adding into its own copy of the output, summed at the end: the
outputs are small tables (slices x months), and private copies avoid
atomics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

import engine.numba_threading  # noqa: F401  (a thread-safe layer before any kernel runs)

SECONDS_PER_DAY = 86400
# Per-chunk copies of the outputs are capped at this many cells in all, so
# that many slices over many months do not multiply memory by the threads.
MAX_PRIVATE_CELLS = 8_000_000
MAX_MONTHS = 240


class LifecycleInputError(ValueError):
    """Columnar arrays the kernels cannot use; the message names the field."""


@njit(cache=True, nogil=True)
def _month_of(t, utc_offset):
    """Months since 0000-01 of local epoch second t + utc_offset (Hinnant's civil_from_days)."""
    z = (t + utc_offset) // SECONDS_PER_DAY + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y * 12 + (m - 1)


@njit(cache=True, nogil=True)
def _chunk(size, chunks, c):
    return c * size // chunks, (c + 1) * size // chunks


# Months are looked up by local day in a table built once per call
# (``_day_table``): one division per purchase instead of the calendar
# arithmetic of _month_of, which made a pass over every purchase 6x slower.
# The table's month 0 is the month before the first one shown; earlier days
# are all BEFORE, which no shown month is adjacent to.
BEFORE = -2


@njit(cache=True, nogil=True, inline="always")
def _relative_month(local_days, times, j, utc_offset, first_day, day_month):
    """Purchase j's month in the table: of its stored local day, or (no days given) of times[j] + utc_offset."""
    day = local_days[j] if local_days.size else (times[j] + utc_offset) // SECONDS_PER_DAY
    d = day - first_day
    return BEFORE if d < 0 else day_month[d]


@njit(cache=True, nogil=True, parallel=True)
def _cohort_kernel(offsets, times, local_days, utc_offset, amounts, groups, n_groups, as_of, first_day, day_month, n_months,
                   chunks):
    """customers[g, c, p]: customers of slice g whose first purchase was in
    shown month c and who bought in their p-th month after it (p = 0 is the
    first month); revenue[g, c, p]: what they spent in it."""
    n = offsets.size - 1
    customers = np.zeros((chunks, n_groups, n_months, n_months), np.int64)
    revenue = np.zeros((chunks, n_groups, n_months, n_months))
    for c in prange(chunks):
        lo, hi = _chunk(n, chunks, c)
        for i in range(lo, hi):
            g = groups[i]
            a = offsets[i]
            b = offsets[i + 1]
            if g < 0 or a == b or times[a] > as_of:
                continue
            cohort = _relative_month(local_days, times, a, utc_offset, first_day, day_month) - 1
            if cohort < 0 or cohort >= n_months:
                continue  # first bought before (or after) the months shown
            last_period = -1
            for j in range(a, b):
                t = times[j]
                if t > as_of:
                    break  # ascending: the rest is later still
                p = _relative_month(local_days, times, j, utc_offset, first_day, day_month) - 1 - cohort
                if p >= n_months - cohort:
                    break  # past the last month shown (as_of may lie beyond it)
                if p != last_period:
                    customers[c, g, cohort, p] += 1
                    last_period = p
                revenue[c, g, cohort, p] += amounts[j]
    return customers.sum(axis=0), revenue.sum(axis=0)


@njit(cache=True, nogil=True, inline="always")
def _count_month(out, c, g, month, purchases, previous, first, m):
    """Add a customer's month (table index) to the counts, once it is complete."""
    if 0 <= month < m:
        out[c, 0, g, month] += 1
        if purchases >= 2:
            out[c, 1, g, month] += 1
        if previous == month - 1:
            out[c, 2, g, month] += 1
        if month == first:
            out[c, 3, g, month] += 1


@njit(cache=True, nogil=True, parallel=True)
def _rates_kernel(offsets, times, local_days, utc_offset, groups, n_groups, as_of, first_day, day_month, n_months,
                  chunks):
    """Per slice g and table month k (k = 0 is the month before the first
    shown, needed for "bought last month"), counts of customers: buyers,
    repeat (2+ purchases in the month), retained (bought in the month and
    the one before), new (first purchase in the month), and existing (first
    purchase before the month)."""
    n = offsets.size - 1
    m = n_months + 1
    none = -(1 << 40)
    out = np.zeros((chunks, 5, n_groups, m), np.int64)
    for c in prange(chunks):
        lo, hi = _chunk(n, chunks, c)
        for i in range(lo, hi):
            g = groups[i]
            a = offsets[i]
            b = offsets[i + 1]
            if g < 0 or a == b or times[a] > as_of:
                continue
            first = _relative_month(local_days, times, a, utc_offset, first_day, day_month)
            # existing: every month after the first purchase's (a difference array, summed below)
            if first + 1 < m:
                out[c, 4, g, max(first + 1, 0)] += 1
            current = none
            purchases = 0
            previous = none
            for j in range(a, b):
                t = times[j]
                if t > as_of:
                    break
                k = _relative_month(local_days, times, j, utc_offset, first_day, day_month)
                if k >= m:
                    break  # past the last month shown
                if k == current:
                    purchases += 1
                    continue
                _count_month(out, c, g, current, purchases, previous, first, m)
                previous = current
                current = k
                purchases = 1
            _count_month(out, c, g, current, purchases, previous, first, m)
    total = out.sum(axis=0)
    for g in range(n_groups):
        for k in range(1, m):
            total[4, g, k] += total[4, g, k - 1]
    return total


def _day_table(first_month: int, last_day: int) -> tuple[int, np.ndarray]:
    """(first local day, month of each local day from it to ``last_day`` (as_of's), 0 being first_month - 1)."""
    start = first_month - 1
    first_day = int(np.datetime64(start - 1970 * 12, "M").astype("datetime64[D]").astype(np.int64))
    days = np.arange(first_day, max(last_day, first_day - 1) + 1)
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12 - start
    return first_day, np.ascontiguousarray(months, dtype=np.int64)


@dataclass(frozen=True)
class CohortMatrix:
    """Retention by first-purchase month: [slice, cohort month, months since first purchase]."""

    first_month: int  # month index (months since 0000-01) of cohort 0
    customers: np.ndarray  # int64 [groups, months, months]
    revenue: np.ndarray  # float64, same shape

    @property
    def sizes(self) -> np.ndarray:
        """Customers per cohort (those who bought in their first month: all of them)."""
        return self.customers[:, :, 0]


@dataclass(frozen=True)
class MonthlyCounts:
    """Per slice and month first_month + k (k = 0..months-1), customers who
    bought, bought 2+ times, bought in this month and the one before,
    bought for the first time, and had first bought before the month;
    ``previous_buyers`` bought in the month before."""

    first_month: int
    buyers: np.ndarray
    repeat_buyers: np.ndarray
    retained: np.ndarray
    new: np.ndarray
    existing: np.ndarray
    previous_buyers: np.ndarray


def _chunks(n_customers: int, cells: int) -> int:
    threads = numba.get_num_threads()
    by_memory = max(1, MAX_PRIVATE_CELLS // max(cells, 1))
    by_work = max(1, n_customers // 20_000)  # small batches: one chunk, no thread wake-up
    return int(max(1, min(4 * threads, by_memory, by_work)))


def _local_days(times: np.ndarray, local_days, utc_offset: int) -> np.ndarray:
    """Each purchase's local day: the stored ones; without them (tests, benches of UTC data) an empty
    array, and the kernels take days of ``times + utc_offset`` (no 8 bytes a purchase written and read)."""
    if local_days is None:
        return np.zeros(0, np.int64)
    local_days = np.ascontiguousarray(local_days, dtype=np.int64)
    if local_days.shape != times.shape:
        raise LifecycleInputError("local_days: must have one entry per purchase")
    return local_days


def _check(offsets, times, amounts, groups, n_groups: int, n_months: int):
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    times = np.ascontiguousarray(times, dtype=np.int64)
    amounts = np.ascontiguousarray(amounts, dtype=np.float64)
    groups = np.ascontiguousarray(groups, dtype=np.int64)
    if offsets.ndim != 1 or offsets.size < 1:
        raise LifecycleInputError("offsets: must be a 1-d array of length n_customers + 1")
    if offsets[0] != 0 or offsets[-1] != times.size or np.any(np.diff(offsets) < 0):
        raise LifecycleInputError("offsets: must start at 0, never decrease and end at the number of purchases")
    if amounts.size != times.size:
        raise LifecycleInputError("amounts: must have one entry per purchase")
    if groups.size != offsets.size - 1:
        raise LifecycleInputError("groups: must have one entry per customer")
    if n_groups < 1 or (groups.size and groups.max() >= n_groups):
        raise LifecycleInputError("groups: every slice index must be below n_groups")
    if not 1 <= n_months <= MAX_MONTHS:
        raise LifecycleInputError(f"months: must be 1 to {MAX_MONTHS}")
    if times.size > 1:
        inside = np.diff(times) < 0
        starts = np.zeros(times.size - 1, np.bool_)
        starts[offsets[1:-1][(offsets[1:-1] > 0) & (offsets[1:-1] < times.size)] - 1] = True
        if np.any(inside & ~starts):
            raise LifecycleInputError("times: must be ascending within each customer")
    return offsets, times, amounts, groups


def month_index(epoch_seconds: int, utc_offset: int = 0) -> int:
    """The local month (months since 0000-01) of an epoch second."""
    return int(_month_of(np.int64(epoch_seconds), np.int64(utc_offset)))


def cohort_matrix(offsets, times, amounts, groups, n_groups: int, as_of: int, first_month: int, n_months: int,
                  utc_offset: int = 0, local_days=None, as_of_day: int | None = None) -> CohortMatrix:
    """Cohorts first_month .. first_month + n_months - 1, each followed to as_of's month.

    ``local_days``: each purchase's stored local day, ``as_of_day`` as_of's
    local day; without them, days of ``times + utc_offset``."""
    offsets, times, amounts, groups = _check(offsets, times, amounts, groups, n_groups, n_months)
    local_days = _local_days(times, local_days, utc_offset)
    last_day = (as_of + utc_offset) // SECONDS_PER_DAY if as_of_day is None else int(as_of_day)
    chunks = _chunks(offsets.size - 1, n_groups * n_months * n_months)
    first_day, day_month = _day_table(first_month, last_day)
    customers, revenue = _cohort_kernel(offsets, times, local_days, np.int64(utc_offset), amounts, groups,
                                        np.int64(n_groups), np.int64(as_of), np.int64(first_day), day_month,
                                        np.int64(n_months), np.int64(chunks))
    return CohortMatrix(first_month=first_month, customers=customers, revenue=revenue)


def monthly_counts(offsets, times, groups, n_groups: int, as_of: int, first_month: int, n_months: int,
                   utc_offset: int = 0, local_days=None, as_of_day: int | None = None) -> MonthlyCounts:
    """The counts behind the monthly rates, for months first_month .. + n_months - 1 (local days as cohort_matrix)."""
    offsets, times, _, groups = _check(offsets, times, np.zeros(np.asarray(times).size), groups, n_groups, n_months)
    local_days = _local_days(times, local_days, utc_offset)
    last_day = (as_of + utc_offset) // SECONDS_PER_DAY if as_of_day is None else int(as_of_day)
    chunks = _chunks(offsets.size - 1, 5 * n_groups * (n_months + 1))
    first_day, day_month = _day_table(first_month, last_day)
    total = _rates_kernel(offsets, times, local_days, np.int64(utc_offset), groups, np.int64(n_groups), np.int64(as_of),
                          np.int64(first_day), day_month, np.int64(n_months), np.int64(chunks))
    return MonthlyCounts(first_month=first_month, buyers=total[0, :, 1:], repeat_buyers=total[1, :, 1:],
                         retained=total[2, :, 1:], new=total[3, :, 1:], existing=total[4, :, 1:],
                         previous_buyers=total[0, :, :-1])


# --- risk: the recency/frequency model -------------------------------------


@njit(cache=True, nogil=True, parallel=True)
def _purchase_days(offsets, times, local_days, amounts, as_of):
    """Per customer up to as_of: purchase days (stored local days with a purchase; UTC days when
    ``local_days`` is empty),
    first and last purchase time, and total spend; days 0 when none."""
    n = offsets.size - 1
    days = np.zeros(n, np.int64)
    first = np.zeros(n, np.int64)
    last = np.zeros(n, np.int64)
    spend = np.zeros(n)
    for i in prange(n):
        previous_day = np.int64(-(1 << 60))
        for j in range(offsets[i], offsets[i + 1]):
            t = times[j]
            if t > as_of:
                break
            day = local_days[j] if local_days.size else t // SECONDS_PER_DAY
            if day != previous_day:
                if days[i] == 0:
                    first[i] = t
                days[i] += 1
                previous_day = day
            last[i] = t
            spend[i] += amounts[j]
    return days, first, last, spend


@njit(cache=True, nogil=True)
def _alive(rate, dropout, recency_gap):
    """P(alive) of a Poisson buyer at ``rate`` with exponential lifetime at
    ``dropout`` per day, silent for the last ``recency_gap`` days
    (the individual-level Pareto/NBD; Schmittlein, Morrison & Colombo 1987)."""
    s = rate + dropout
    # 1 / (1 + mu/(lambda+mu) (e^{s gap} - 1)), written to stay finite for long gaps
    x = s * recency_gap
    if x > 700.0:
        return 0.0
    return 1.0 / (1.0 + dropout / s * np.expm1(x))


@njit(cache=True, nogil=True, parallel=True)
def _dropout_log_likelihood(rates, recency, age, dropouts):
    """Sum over customers of the log-likelihood of each dropout rate mu: per
    customer log(mu/s e^(-s t_x) + lam/s e^(-s T)) with s = lam + mu (the
    factor lam^x, the same for every mu, left out), written as the larger
    term plus log1p of the smaller over it: three transcendentals, not five."""
    out = np.zeros(dropouts.size)
    for k in prange(dropouts.size):
        mu = dropouts[k]
        log_mu = np.log(mu)
        total = 0.0
        for i in range(rates.size):
            lam = rates[i]
            s = lam + mu
            a = log_mu - s * recency[i]
            b = np.log(lam) - s * age[i]
            total += max(a, b) + np.log1p(np.exp(-abs(a - b))) - np.log(s)
        out[k] = total
    return out


@njit(cache=True, nogil=True, parallel=True)
def _no_purchase_probability(rates, dropout, recency, age, horizon):
    n = rates.size
    out = np.empty(n)
    for i in prange(n):
        alive = _alive(rates[i], dropout, age[i] - recency[i])
        # leaving during the horizon ends purchases too: P(first purchase within h | alive)
        s = rates[i] + dropout
        buys = rates[i] / s * -np.expm1(-s * horizon)
        out[i] = 1.0 - alive * buys
    return out


def warm_up() -> None:
    offsets = np.array([0, 2, 3], np.int64)
    times = np.array([0, 40 * SECONDS_PER_DAY, 5 * SECONDS_PER_DAY], np.int64)
    groups = np.zeros(2, np.int64)
    first = month_index(0)
    cohort_matrix(offsets, times, np.ones(3), groups, 1, 60 * SECONDS_PER_DAY, first, 3)
    monthly_counts(offsets, times, groups, 1, 60 * SECONDS_PER_DAY, first, 3)
    _purchase_days(offsets, times, times // SECONDS_PER_DAY, np.ones(3), np.int64(60 * SECONDS_PER_DAY))
    r = np.array([0.1, 0.2])
    _dropout_log_likelihood(r, np.array([5.0, 0.0]), np.array([9.0, 9.0]), np.array([0.01]))
    _no_purchase_probability(r, 0.01, np.array([5.0, 0.0]), np.array([9.0, 9.0]), 30.0)
