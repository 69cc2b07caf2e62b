"""Batch kernels for the loyalty plugin's periodic job (DOMAIN.md §5).

Pure functions over contiguous columnar arrays (the umap/stumpy pattern):
``@njit(cache=True, nogil=True)``, ``prange`` across members only, a
validating public wrapper per kernel, and ``warm_up()`` to compile at start.

Times are int64 microseconds since the Unix epoch, UTC. The wrappers also
accept ``datetime64`` arrays and, for ``as_of``, an aware ``datetime``.

Lots are laid out per member: member ``m`` owns lots
``offsets[m]:offsets[m + 1]`` (CSR, like the engine's purchase arrays).

Expiry: a lot expires as of ``t`` when ``expires_at <= t``; its expired
amount is all it still holds. A lot already zeroed expires nothing, so
running the job twice (after applying the first result) changes nothing.

Tier evaluation, per member, as of ``t``:
- qualified = the highest tier whose threshold <= the metric (tier 0's
  threshold is 0, so everyone qualifies for something);
- qualified above current: upgrade straight to it, today;
- qualified below current: downgrade only when the current tier has been
  held at least ``min_months`` calendar months (achieved_at + min_months <=
  t, day clamped to the month's end: Jan 31 + 1 month = Feb 28/29), and then
  by ONE tier only;
- every change resets achieved_at to ``t``, so a member falling from Diamond
  to Member steps down one tier per ``min_months`` (3 × 12 months), which is
  the "kept at least 12 months" promise applied to each tier in turn.
A member who keeps qualifying keeps the tier; achieved_at is not refreshed
then (the rolling 12-month metric is what proves they still qualify).

The metric must be summed exactly (SQL SUM over NUMERIC, or Decimal) and
converted to float64 once: float64 holds every cent amount below ~9e13
exactly, but summing floats can land 2000.00 at 1999.9999999.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
from numba import njit, prange

import engine.numba_threading  # noqa: F401  (a thread-safe layer before any kernel runs)

_US_PER_DAY = 86_400_000_000

# Batches with fewer members than this run on one thread (see the kernels).
PARALLEL_MIN_MEMBERS = 10_000


# -- calendar arithmetic (Howard Hinnant's civil-date algorithms) ----------------


@njit(cache=True, nogil=True)
def _civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m, d


@njit(cache=True, nogil=True)
def _days_from_civil(y, m, d):
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True, nogil=True)
def _days_in_month(y, m):
    if m == 2:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        return 29 if leap else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@njit(cache=True, nogil=True)
def _add_months(t_us, months):
    """``t_us`` plus calendar months, the day clamped to the month's end."""
    days = t_us // _US_PER_DAY
    time_of_day = t_us - days * _US_PER_DAY
    y, m, d = _civil_from_days(days)
    total = y * 12 + (m - 1) + months
    y2 = total // 12
    m2 = total - y2 * 12 + 1
    d2 = min(d, _days_in_month(y2, m2))
    return _days_from_civil(y2, m2, d2) * _US_PER_DAY + time_of_day


# -- kernels ------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _expire_member(lo, hi, expires_at, remaining, as_of, per_lot):
    total = 0
    for j in range(lo, hi):
        if remaining[j] > 0 and expires_at[j] <= as_of:
            per_lot[j] = remaining[j]
            total += remaining[j]
        else:
            per_lot[j] = 0
    return total


# Each kernel comes twice: parallel for the periodic job's big batches, serial
# for small ones, where waking the thread pool costs more than the work (and,
# on a busy machine, a descheduled worker stalls the whole call).
# Separate functions, not one body jitted twice: numba's on-disk cache keys
# on the function, not on the parallel flag.


@njit(cache=True, nogil=True, parallel=True)
def _expire_parallel(offsets, expires_at, remaining, as_of, per_lot, per_member):
    for m in prange(offsets.size - 1):
        per_member[m] = _expire_member(offsets[m], offsets[m + 1], expires_at, remaining, as_of, per_lot)


@njit(cache=True, nogil=True)
def _expire_serial(offsets, expires_at, remaining, as_of, per_lot, per_member):
    for m in range(offsets.size - 1):
        per_member[m] = _expire_member(offsets[m], offsets[m + 1], expires_at, remaining, as_of, per_lot)


@njit(cache=True, nogil=True)
def _qualified_tier(metric, thresholds):
    q = 0
    for k in range(1, thresholds.size):
        if metric >= thresholds[k]:
            q = k
    return q


@njit(cache=True, nogil=True)
def _next_tier(current, achieved_at, metric, thresholds, min_months, as_of):
    q = _qualified_tier(metric, thresholds)
    if q > current:
        return q, as_of
    if q < current and _add_months(achieved_at, min_months) <= as_of:
        return current - 1, as_of
    return current, achieved_at


@njit(cache=True, nogil=True, parallel=True)
def _tiers_parallel(current, achieved_at, metric, thresholds, min_months, as_of, new_tier, new_achieved):
    for i in prange(current.size):
        new_tier[i], new_achieved[i] = _next_tier(current[i], achieved_at[i], metric[i], thresholds, min_months, as_of)


@njit(cache=True, nogil=True)
def _tiers_serial(current, achieved_at, metric, thresholds, min_months, as_of, new_tier, new_achieved):
    for i in range(current.size):
        new_tier[i], new_achieved[i] = _next_tier(current[i], achieved_at[i], metric[i], thresholds, min_months, as_of)


# -- validating wrappers ------------------------------------------------------------


class ExpiryResult(NamedTuple):
    per_lot: np.ndarray  # int64, points each lot loses now (0 for lots not expiring)
    per_member: np.ndarray  # int64, the same summed per member


class TierResult(NamedTuple):
    tier: np.ndarray  # int64 tier index per member
    achieved_at: np.ndarray  # same time representation as the input
    changed: np.ndarray  # bool, tier differs from the input


def to_epoch_us(value, name: str = "time") -> int:
    """One instant as int64 microseconds since the epoch (UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value}")
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[us]").astype(np.int64))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"{name} must be an aware datetime, numpy datetime64 or int64 microseconds, got {value!r}")


def _times(a, name: str, n: int) -> tuple[np.ndarray, bool]:
    a = np.asarray(a)
    was_datetime = np.issubdtype(a.dtype, np.datetime64)
    if was_datetime:
        if np.isnat(a).any():
            raise ValueError(f"{name} contains NaT")
        a = a.astype("datetime64[us]").view(np.int64)
    elif not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be datetime64 or int64 microseconds, got dtype {a.dtype}")
    if a.ndim != 1 or a.size != n:
        raise ValueError(f"{name} must be 1-D with {n} entries, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.int64), was_datetime


def _ints(a, name: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.floor(a)):
            raise ValueError(f"{name} must hold whole numbers")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")
    if a.ndim != 1 or (n is not None and a.size != n):
        raise ValueError(f"{name} must be 1-D{f' with {n} entries' if n is not None else ''}, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.int64)


def expire_lots(offsets, expires_at, remaining, as_of) -> ExpiryResult:
    """Points each lot loses as of ``as_of``, and the totals per member.

    ``offsets`` (n_members + 1) slices the lot columns per member. The
    caller writes ``remaining - per_lot`` back, so a second run expires 0.
    """
    offsets = _ints(offsets, "offsets")
    if offsets.size == 0 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must start at 0 and never decrease (n_members + 1 entries)")
    n_lots = int(offsets[-1])
    remaining = _ints(remaining, "remaining", n_lots)
    if np.any(remaining < 0):
        raise ValueError("remaining must be >= 0 for every lot")
    expires_at, _ = _times(expires_at, "expires_at", n_lots)
    as_of_us = to_epoch_us(as_of, "as_of")

    per_lot = np.empty(n_lots, dtype=np.int64)
    per_member = np.empty(offsets.size - 1, dtype=np.int64)
    kernel = _expire_parallel if offsets.size - 1 >= PARALLEL_MIN_MEMBERS else _expire_serial
    kernel(offsets, expires_at, remaining, as_of_us, per_lot, per_member)
    return ExpiryResult(per_lot, per_member)


def _check_thresholds(thresholds) -> np.ndarray:
    t = np.ascontiguousarray(np.asarray(thresholds, dtype=np.float64))
    if t.ndim != 1 or t.size < 1:
        raise ValueError("thresholds must be a non-empty 1-D array")
    if not np.all(np.isfinite(t)) or t[0] != 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"thresholds must start at 0 and be strictly increasing, got {t.tolist()}")
    return t


def _check_min_months(min_months) -> int:
    if isinstance(min_months, bool) or not isinstance(min_months, (int, np.integer)) or min_months < 0:
        raise ValueError(f"min_months must be a whole number >= 0, got {min_months!r}")
    return int(min_months)


def evaluate_tiers(current_tier, tier_achieved_at, metric, thresholds, min_months: int, as_of) -> TierResult:
    """New tier index per member as of ``as_of`` (rule in the module docstring).

    ``metric`` is the rolling-12-month qualifying value (spend, points or
    purchase count) as float64; ``thresholds`` come from the tenant's tiers,
    lowest first (``thresholds_from_settings``).
    """
    current = _ints(current_tier, "current_tier")
    n = current.size
    t = _check_thresholds(thresholds)
    if np.any(current < 0) or np.any(current >= t.size):
        raise ValueError(f"current_tier must be tier indexes in 0..{t.size - 1}")
    achieved, was_datetime = _times(tier_achieved_at, "tier_achieved_at", n)
    m = np.ascontiguousarray(np.asarray(metric, dtype=np.float64))
    if m.ndim != 1 or m.size != n:
        raise ValueError(f"metric must be 1-D with {n} entries, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("metric must be finite for every member (no NaN or inf)")
    months = _check_min_months(min_months)
    as_of_us = to_epoch_us(as_of, "as_of")

    new_tier = np.empty(n, dtype=np.int64)
    new_achieved = np.empty(n, dtype=np.int64)
    kernel = _tiers_parallel if n >= PARALLEL_MIN_MEMBERS else _tiers_serial
    kernel(current, achieved, m, t, months, as_of_us, new_tier, new_achieved)
    if was_datetime:
        new_achieved = new_achieved.view("datetime64[us]")
    return TierResult(new_tier, new_achieved, new_tier != current)


def evaluate_tier(
    current_tier: int, tier_achieved_at: dt.datetime, metric: float, thresholds, min_months: int, as_of: dt.datetime
) -> tuple[int, dt.datetime]:
    """One member's (tier index, achieved_at), e.g. to upgrade at purchase time.

    Same compiled rule as ``evaluate_tiers``.
    """
    t = _check_thresholds(thresholds)
    if isinstance(current_tier, bool) or not isinstance(current_tier, (int, np.integer)) \
            or not 0 <= current_tier < t.size:
        raise ValueError(f"current_tier must be a tier index in 0..{t.size - 1}, got {current_tier!r}")
    if not np.isfinite(metric):
        raise ValueError(f"metric must be finite, got {metric!r}")
    tier, achieved = _next_tier(
        int(current_tier), to_epoch_us(tier_achieved_at, "tier_achieved_at"), float(metric), t,
        _check_min_months(min_months), to_epoch_us(as_of, "as_of"),
    )
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return int(tier), epoch + dt.timedelta(microseconds=int(achieved))


def thresholds_from_settings(settings) -> np.ndarray:
    """The tenant's tier thresholds, lowest first, as float64."""
    return np.array([float(t.threshold) for t in settings.tiers], dtype=np.float64)


def warm_up() -> None:
    """Compile (or load from cache) every kernel now, so the first job run does not pay."""
    offsets = np.array([0, 1, 2], dtype=np.int64)
    expires = np.array([0, 10], dtype=np.int64)
    remaining = np.array([5, 0], dtype=np.int64)
    for kernel in (_expire_serial, _expire_parallel):
        kernel(offsets, expires, remaining, 5, np.empty(2, np.int64), np.empty(2, np.int64))
    current = np.array([0, 1], dtype=np.int64)
    achieved = np.array([0, 0], dtype=np.int64)
    metric = np.array([0.0, 5.0])
    thresholds = np.array([0.0, 1.0, 10.0])
    for kernel in (_tiers_serial, _tiers_parallel):
        kernel(current, achieved, metric, thresholds, 12, 10, np.empty(2, np.int64), np.empty(2, np.int64))
    evaluate_tier(0, dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), 0.0, thresholds, 12,
                  dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc))
