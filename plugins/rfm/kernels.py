"""Numba kernels of the RFM plugin, and their validating wrapper.

Input is the engine's columnar batch (DESIGN.md "Batch scoring"): customers
0..n-1, purchases of customer i at ``offsets[i]:offsets[i+1]`` of ``times``
(int64 epoch seconds, ascending per customer) and ``amounts`` (positive),
``refunds[i]`` the amount refunded to customer i inside the window.

The window is ``window_start <= t <= as_of`` (both inclusive). A customer
with no purchase in it is not scored: mask false, scores 0, segment -1.

The kernels are pure functions over contiguous arrays; call ``score_rfm``,
which checks the input and picks the kernels the settings ask for.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from plugins.rfm.segments import RF_GRID, SCHEME_SEGMENTS, Segment
from plugins.rfm.settings import RfmSettings

SECONDS_PER_DAY = 86400
_NO_WINDOW = np.iinfo(np.int64).min

R_HIGH_IS_BETTER = False  # recency: fewer days is better

# Waking the thread pool costs 0.1 ms on an idle machine and tens of ms on a
# busy one; below this many customers one thread finishes first.
PARALLEL_MIN_CUSTOMERS = 10_000

# --- per-customer aggregates ----------------------------------------------


_NONE = np.iinfo(np.int64).max  # "no such index" in the input checks


@njit(cache=True, nogil=True, parallel=True)
def customer_aggregates(offsets, times, amounts, refunds, as_of, window_start):
    """Last purchase time, purchase count, net spend and has-purchase mask,
    plus the checks of the purchases themselves.

    Amounts are summed in purchase order, then the refund is subtracted, so
    a plain Python loop gives bit-identical monetary values.

    The checks ride along so that the purchases are walked once, not twice
    (a separate check pass took as long as this one): (first customer whose times
    are not ascending, first purchase whose amount is not a positive finite
    number, earliest purchase time), each _NONE when there is none. The
    aggregates mean nothing unless the first two are _NONE. Each customer is
    checked into its own slot and the slots are reduced serially: prange
    min() reductions returned a wrong value here on numba 0.68.
    """
    n = offsets.size - 1
    last = np.zeros(n, np.int64)
    frequency = np.zeros(n, np.int64)
    monetary = np.empty(n, np.float64)
    scored = np.zeros(n, np.bool_)
    unsorted_at = np.zeros(n, np.bool_)
    bad_amount_at = np.empty(n, np.int64)
    for i in prange(n):
        lo, hi = offsets[i], offsets[i + 1]
        count = 0
        spend = 0.0
        latest = 0
        ascending = True
        bad = _NONE
        for j in range(lo, hi):
            t = times[j]
            if j > lo and t < times[j - 1]:
                ascending = False
            if bad == _NONE and not (0.0 < amounts[j] < np.inf):  # also catches NaN
                bad = j
            if window_start <= t <= as_of:
                count += 1
                spend += amounts[j]
                latest = t
        last[i] = latest
        frequency[i] = count
        monetary[i] = spend - refunds[i]
        scored[i] = count > 0
        unsorted_at[i] = not ascending
        bad_amount_at[i] = bad
    unsorted = _NONE
    bad_amount = _NONE
    earliest = _NONE
    for i in range(n):
        if unsorted == _NONE and unsorted_at[i]:
            unsorted = i
        bad_amount = min(bad_amount, bad_amount_at[i])
        if offsets[i + 1] > offsets[i]:
            earliest = min(earliest, times[offsets[i]])
    return last, frequency, monetary, scored, (unsorted, bad_amount, earliest)


@njit(cache=True, nogil=True, parallel=True)
def recency_days(last, scored, as_of):
    """Days since the last purchase; NaN where the customer is not scored."""
    out = np.empty(last.size, np.float64)
    for i in prange(last.size):
        out[i] = (as_of - last[i]) / SECONDS_PER_DAY if scored[i] else np.nan
    return out


# --- scores -----------------------------------------------------------------
#
# The tie-consistent rule is score = 1 + floor(k * worse / m), where worse is
# the number of scored customers with a strictly worse value and m the
# number scored. score >= s exactly when worse >= p_s = ceil((s-1) m / k),
# that is when the value is above the p_s-th smallest one. So a score needs
# only the k-1 order statistics at positions p_s - 1, not a full sort: they
# are found by radix selection on order-preserving unsigned keys, O(n).

_RADIX_BITS = 16
_SMALL = 4096  # below this many candidates a sort is cheaper than a pass


@njit(cache=True, nogil=True, parallel=True)
def int_keys(values):
    """uint64 keys in the order of the int64 values (flip the sign bit)."""
    out = np.empty(values.size, np.uint64)
    for i in prange(values.size):
        out[i] = np.uint64(values[i]) ^ np.uint64(1 << 63)
    return out


@njit(cache=True, nogil=True, parallel=True)
def float_keys(values):
    """uint64 keys in the order of the float64 values (IEEE bit trick).

    Positive numbers get the sign bit set, negative ones all bits flipped;
    -0.0 is first made +0.0 so that equal values get equal keys.
    """
    bits = (values + 0.0).view(np.uint64)
    out = np.empty(values.size, np.uint64)
    sign = np.uint64(1 << 63)
    for i in prange(values.size):
        b = bits[i]
        out[i] = ~b if b & sign else b | sign
    return out


@njit(cache=True, nogil=True)
def _bucket_shift(span):
    """Smallest shift that maps 0..span into 2**_RADIX_BITS buckets."""
    shift = np.uint64(0)
    while (span >> shift) >= np.uint64(1 << _RADIX_BITS):
        shift += np.uint64(1)
    return shift


@njit(cache=True, nogil=True)
def _kth_smallest(candidates, r):
    """The r-th smallest (0-based) of ``candidates``, by repeated radix passes."""
    while candidates.size > _SMALL:
        lo = candidates.min()
        span = candidates.max() - lo
        if span == np.uint64(0):
            return lo
        shift = _bucket_shift(span)
        histogram = np.zeros(1 << _RADIX_BITS, np.int64)
        for key in candidates:
            histogram[(key - lo) >> shift] += 1
        bucket = 0
        while r >= histogram[bucket]:
            r -= histogram[bucket]
            bucket += 1
        kept = np.empty(histogram[bucket], np.uint64)
        j = 0
        for key in candidates:
            if (key - lo) >> shift == np.uint64(bucket):
                kept[j] = key
                j += 1
        candidates = kept
    return np.sort(candidates)[r]


@njit(cache=True, nogil=True)
def _cut_keys(keys, scored, k):
    """Key of the p_s-th smallest scored customer for s = 2..k (see above)."""
    m = 0
    lo = np.uint64(0xFFFFFFFFFFFFFFFF)
    hi = np.uint64(0)
    for i in range(keys.size):
        if scored[i]:
            m += 1
            lo = min(lo, keys[i])
            hi = max(hi, keys[i])
    cuts = np.empty(k - 1, np.uint64)
    if m == 0:
        return cuts
    shift = _bucket_shift(hi - lo)
    histogram = np.zeros(1 << _RADIX_BITS, np.int64)
    for i in range(keys.size):
        if scored[i]:
            histogram[(keys[i] - lo) >> shift] += 1
    bucket = 0
    below = 0  # scored customers in the buckets before ``bucket``
    last_bucket = -1
    candidates = np.empty(0, np.uint64)
    for s in range(2, k + 1):
        position = ((s - 1) * m + k - 1) // k - 1
        while below + histogram[bucket] <= position:
            below += histogram[bucket]
            bucket += 1
        if bucket != last_bucket:  # cut points often share a bucket
            candidates = np.empty(histogram[bucket], np.uint64)
            j = 0
            for i in range(keys.size):
                if scored[i] and (keys[i] - lo) >> shift == np.uint64(bucket):
                    candidates[j] = keys[i]
                    j += 1
            last_bucket = bucket
        cuts[s - 2] = _kth_smallest(candidates.copy(), position - below)
    return cuts


@njit(cache=True, nogil=True, parallel=True)
def quantile_scores(keys, scored, k):
    """score = 1 + floor(k * #(scored customers strictly worse) / #scored).

    ``keys`` come from int_keys / float_keys of "higher is better" values
    (pass the last purchase time for R); equal values get equal scores.
    """
    cuts = _cut_keys(keys, scored, k)
    out = np.zeros(keys.size, np.int8)
    for i in prange(keys.size):
        if scored[i]:
            score = 1
            for cut in cuts:
                if keys[i] > cut:
                    score += 1
            out[i] = score
    return out


def scored_order(values, scored):
    """Indices of the scored customers, ascending by value (ties in any order).

    Only ABC needs a full order (cumulative spend from the top).
    """
    idx = np.flatnonzero(scored)
    return idx[np.argsort(values[idx])]


@njit(cache=True, nogil=True)
def count_quantile_scores(counts, scored, k):
    """quantile_scores for small non-negative integers (F), by histogram.

    O(n + max count) instead of a sort: the number of strictly worse
    customers is the running total of the histogram below the value.
    """
    m = 0
    top = 0
    for i in range(counts.size):
        if scored[i]:
            m += 1
            top = max(top, counts[i])
    histogram = np.zeros(top + 1, np.int64)
    for i in range(counts.size):
        if scored[i]:
            histogram[counts[i]] += 1
    score_of = np.empty(top + 1, np.int8)
    worse = 0
    for v in range(top + 1):
        score_of[v] = 1 + (k * worse) // max(m, 1)
        worse += histogram[v]
    out = np.zeros(counts.size, np.int8)
    for i in range(counts.size):
        if scored[i]:
            out[i] = score_of[counts[i]]
    return out


@njit(cache=True, nogil=True, parallel=True)
def threshold_scores(values, scored, cuts, higher_is_better):
    """Fixed cut points t1 < ... < t(k-1), see settings.RfmThresholds.

    higher is better: 1 + #{t_j <= v}; lower is better: k - #{t_j < v}.
    """
    k = cuts.size + 1
    out = np.zeros(values.size, np.int8)
    for i in prange(values.size):
        if scored[i]:
            if higher_is_better:
                out[i] = 1 + np.searchsorted(cuts, values[i], side="right")
            else:
                out[i] = k - np.searchsorted(cuts, values[i], side="left")
    return out


# --- segments ---------------------------------------------------------------


@njit(cache=True, nogil=True)
def _grid_bucket(score, k):
    # Same rounding as segments.grid_bucket: 1..k linearly onto 1..5.
    return 1 + ((score - 1) * 8 + (k - 1)) // (2 * (k - 1))


@njit(cache=True, nogil=True, parallel=True)
def rf_grid_segments(r_score, f_score, scored, k, grid):
    out = np.full(r_score.size, -1, np.int8)
    for i in prange(r_score.size):
        if scored[i]:
            out[i] = grid[_grid_bucket(r_score[i], k) - 1, _grid_bucket(f_score[i], k) - 1]
    return out


@njit(cache=True, nogil=True, parallel=True)
def mean8_segments(recency_s, frequency, monetary, scored):
    """RFM_MEAN_8: each dimension is high when strictly better than its mean.

    "v > mean" is tested as "v * m > total". R (integer seconds) and F are
    exact in int64; M uses a compensated (Neumaier) total, so customers
    whose M equals the mean are low rather than decided by rounding noise.
    """
    m = 0
    sum_r = 0
    sum_f = 0
    sum_m = 0.0
    comp = 0.0
    for i in range(scored.size):
        if scored[i]:
            m += 1
            sum_r += recency_s[i]
            sum_f += frequency[i]
            v = monetary[i]
            t = sum_m + v
            if abs(sum_m) >= abs(v):
                comp += (sum_m - t) + v
            else:
                comp += (v - t) + sum_m
            sum_m = t
    sum_m += comp
    out = np.full(scored.size, -1, np.int8)
    for i in prange(scored.size):
        if scored[i]:
            r_low = not (recency_s[i] * m < sum_r)
            f_low = not (frequency[i] * m > sum_f)
            m_low = not (monetary[i] * m > sum_m)
            out[i] = 4 * np.int8(m_low) + 2 * np.int8(r_low) + np.int8(f_low)
    return out


@njit(cache=True, nogil=True)
def abc_segments(monetary, order, a_cut, b_cut):
    """ABC classes 0/1/2 by cumulative spend; see segments.py for the rule.

    ``order`` is scored_order(monetary, scored); it is walked from the top.
    """
    out = np.full(monetary.size, -1, np.int8)
    total = 0.0  # spend of the customers with M > 0
    for p in range(order.size - 1, -1, -1):
        out[order[p]] = 2  # C unless earned better below
        if monetary[order[p]] > 0.0:
            total += monetary[order[p]]
    a_limit = a_cut * total
    b_limit = b_cut * total
    before = 0.0  # spend of the customers with a strictly larger M
    end = order.size
    while end > 0 and monetary[order[end - 1]] > 0.0:
        value = monetary[order[end - 1]]
        cls = 0 if before < a_limit else (1 if before < b_limit else 2)
        start = end
        while start > 0 and monetary[order[start - 1]] == value:
            out[order[start - 1]] = cls
            before += value
            start -= 1
        end = start
    return out


# --- input checks -----------------------------------------------------------


# --- public API -------------------------------------------------------------


class RfmInputError(ValueError):
    """The batch handed to score_rfm is malformed; the message names the field."""


@dataclass(frozen=True)
class RfmScores:
    """Per-customer results, all arrays of length n (customer index order).

    Unscored customers (no purchase in the window): scored False,
    recency_days NaN, scores 0, segment -1. frequency and monetary are still
    the true counts/net amounts (0 and minus the refund).
    """

    scheme: str
    k: int
    recency_days: np.ndarray  # float64
    frequency: np.ndarray  # int64
    monetary: np.ndarray  # float64, net of refunds, may be negative
    r_score: np.ndarray  # int8, 1..k, 0 = unscored
    f_score: np.ndarray  # int8
    m_score: np.ndarray  # int8
    segment: np.ndarray  # int8 index into segments(), -1 = unscored
    scored: np.ndarray  # bool

    def segments(self) -> tuple[Segment, ...]:
        return SCHEME_SEGMENTS[self.scheme]

    def segment_codes(self) -> list[str | None]:
        """Segment code per customer (None when unscored); for small batches."""
        table = self.segments()
        return [table[s].code if s >= 0 else None for s in self.segment.tolist()]


def _int_scalar(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise RfmInputError(f"{name} must be an integer number of epoch seconds, got {value!r}")
    return int(value)


def _array(name: str, value, kind: str, dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise RfmInputError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in kind:
        raise RfmInputError(f"{name} must hold {np.dtype(dtype).name} values, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_batch(offsets, times, amounts, refunds, as_of, window_start):
    offsets = _array("offsets", offsets, "iu", np.int64)
    times = _array("times", times, "iu", np.int64)
    amounts = _array("amounts", amounts, "iuf", np.float64)
    refunds = _array("refunds", refunds, "iuf", np.float64)
    as_of = _int_scalar("as_of", as_of)
    if window_start is not None:
        window_start = _int_scalar("window_start", window_start)

    if offsets.size == 0:
        raise RfmInputError("offsets must have n+1 entries (at least [0]), got an empty array")
    n = offsets.size - 1
    if offsets[0] != 0:
        raise RfmInputError(f"offsets must start at 0, got {offsets[0]}")
    steps = np.diff(offsets)
    if (steps < 0).any():
        i = int(np.argmax(steps < 0))
        raise RfmInputError(f"offsets must be non-decreasing; offsets[{i + 1}] < offsets[{i}]")
    if offsets[-1] != times.size:
        raise RfmInputError(f"offsets[-1] must equal len(times): {offsets[-1]} != {times.size}")
    if amounts.size != times.size:
        raise RfmInputError(f"amounts must have one entry per purchase: len(amounts)={amounts.size}, len(times)={times.size}")
    if refunds.size != n:
        raise RfmInputError(f"refunds must have one entry per customer: len(refunds)={refunds.size}, customers={n}")
    if not (np.isfinite(refunds) & (refunds >= 0)).all():
        i = int(np.argmax(~(np.isfinite(refunds) & (refunds >= 0))))
        raise RfmInputError(f"refunds must be non-negative finite amounts; refunds[{i}] = {refunds[i]}")
    if window_start is not None and window_start > as_of:
        raise RfmInputError(f"window_start ({window_start}) is after as_of ({as_of})")
    return offsets, times, amounts, refunds, as_of, window_start


def _check_purchases(times, amounts, as_of, checks) -> None:
    """Raise on what customer_aggregates found wrong with the purchases."""
    unsorted, bad_amount, earliest = checks
    if bad_amount != _NONE:
        raise RfmInputError(f"amounts must be positive finite numbers; amounts[{bad_amount}] = {amounts[bad_amount]}")
    if unsorted != _NONE:
        raise RfmInputError(f"times must be ascending within each customer; customer {unsorted} is not sorted")
    if times.size and as_of < earliest:
        raise RfmInputError(
            f"as_of ({as_of}) is before the earliest purchase ({earliest}); "
            "check that times and as_of are both epoch seconds"
        )


@contextmanager
def _threads_for(n_customers: int):
    # numba's thread count is per calling thread, so this is safe when
    # several request threads score at once.
    if n_customers >= PARALLEL_MIN_CUSTOMERS:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def score_rfm(
    offsets,
    times,
    amounts,
    refunds,
    as_of: int,
    settings: RfmSettings,
    window_start: int | None = None,
) -> RfmScores:
    """Score one tenant's batch as of ``as_of`` (epoch seconds).

    The window starts at ``window_start`` when given (it overrides
    ``settings.window_days``), else ``as_of - window_days`` days, else it is
    all history. Raises RfmInputError naming the bad field.
    """
    if not isinstance(settings, RfmSettings):
        raise RfmInputError(f"settings must be an RfmSettings, got {type(settings).__name__}")
    offsets, times, amounts, refunds, as_of, window_start = _check_batch(
        offsets, times, amounts, refunds, as_of, window_start
    )
    if window_start is None and settings.window_days is not None:
        window_start = as_of - settings.window_days * SECONDS_PER_DAY
    start = _NO_WINDOW if window_start is None else window_start
    with _threads_for(offsets.size - 1):
        return _score(offsets, times, amounts, refunds, as_of, start, settings)


def _score(offsets, times, amounts, refunds, as_of, start, settings) -> RfmScores:
    last, frequency, monetary, scored, checks = customer_aggregates(offsets, times, amounts, refunds, as_of, start)
    _check_purchases(times, amounts, as_of, checks)
    days = recency_days(last, scored, as_of)
    k = settings.k
    cuts = settings.thresholds

    def score(name, values, cut_values, higher_is_better):
        fixed = getattr(cuts, name) if cuts is not None else None
        if fixed is not None:
            return threshold_scores(
                cut_values.astype(np.float64), scored, np.asarray(fixed, np.float64), higher_is_better
            )
        if name == "frequency":
            return count_quantile_scores(values, scored, k)  # small integers: a histogram
        keys = int_keys(values) if values.dtype.kind == "i" else float_keys(values)
        return quantile_scores(keys, scored, k)

    # R ranks by the last purchase time (later = better, exact integers);
    # R cut points are in days.
    r_score = score("recency", last, days, R_HIGH_IS_BETTER)
    f_score = score("frequency", frequency, frequency, True)
    m_score = score("monetary", monetary, monetary, True)

    if settings.scheme == "RF_GRID_10":
        segment = rf_grid_segments(r_score, f_score, scored, k, RF_GRID)
    elif settings.scheme == "RFM_MEAN_8":
        segment = mean8_segments(as_of - last, frequency, monetary, scored)
    else:
        order = scored_order(monetary, scored)
        a_cut, b_cut = settings.abc_cuts
        segment = abc_segments(monetary, order, float(a_cut), float(b_cut))

    return RfmScores(
        scheme=settings.scheme,
        k=k,
        recency_days=days,
        frequency=frequency,
        monetary=monetary,
        r_score=r_score,
        f_score=f_score,
        m_score=m_score,
        segment=segment,
        scored=scored,
    )


def warm_up() -> None:
    """Compile (or load from cache) every kernel on a tiny batch.

    Call once at start so the first scoring request does not pay for
    compilation.
    """
    offsets = np.array([0, 2, 3, 3], np.int64)
    times = np.array([100, 200, 150], np.int64)
    amounts = np.array([1.0, 2.0, 3.0])
    refunds = np.array([0.0, 1.0, 0.0])
    fixed = {"recency": [1.0], "frequency": [1.0], "monetary": [1.0]}
    for scheme in ("RF_GRID_10", "RFM_MEAN_8", "ABC"):
        score_rfm(offsets, times, amounts, refunds, 300, RfmSettings(scheme=scheme))
    score_rfm(offsets, times, amounts, refunds, 300, RfmSettings(k=2, thresholds=fixed), window_start=120)
