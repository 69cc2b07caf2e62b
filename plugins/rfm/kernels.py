"""Numba kernels of the RFM plugin, and their validating wrapper.

Input is the engine's columnar batch (DESIGN.md "Batch scoring"): customers
0..n-1, purchases of customer i at ``offsets[i]:offsets[i+1]`` of ``times``
(int64 epoch seconds, ascending per customer) and ``amounts`` (positive),
``refunds[i]`` the amount refunded to customer i inside the window.

The window is ``window_start <= t <= as_of`` (both inclusive). A customer
with no purchase in it is not scored: mask false, scores 0, segment -1.

The kernels are functions over contiguous arrays that change nothing but
the output arrays passed to them (see ``_outputs``); call ``score_rfm``,
which checks the input and picks the kernels the settings ask for, or
``score_rfm_totals`` for customers the database has already summed.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from plugins.rfm.segments import RF_GRID, SCHEME_SEGMENTS, Segment, grid_bucket
from plugins.rfm.settings import RfmSettings, RfmThresholds

SECONDS_PER_DAY = 86400
_NO_WINDOW = np.iinfo(np.int64).min

# Waking the thread pool costs 0.1 ms on an idle machine and tens of ms on a
# busy one; below this many customers one thread finishes first.
PARALLEL_MIN_CUSTOMERS = 10_000

# --- per-customer aggregates ----------------------------------------------
#
# Loops index with uint64 on purpose: numba wraps negative int64 indices
# (a[-1]), and that check in every access stops LLVM from vectorizing;
# the descent count below ran 8x slower with int64 indices.

_NONE = np.iinfo(np.int64).max  # "none" / "no such index" in the input checks
_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def _chunk(size, chunks, c):
    """Bounds of chunk c of ``chunks`` near-equal parts of range(size)."""
    return np.uint64(c * size // chunks), np.uint64((c + 1) * size // chunks)


@njit(cache=True, nogil=True, parallel=True)
def customer_aggregates(offsets, times, amounts, refunds, as_of, window_start, days, frequency, monetary, scored):
    """Fill days since the last purchase (NaN without one), purchase count,
    net spend and has-purchase mask, with the purchase checks in the same
    pass. Outputs are allocated by the caller: see _outputs.

    Times ascend within a customer, so the window is one run of purchases,
    starting after the purchases before it and ending after those up to
    as_of: both are counted branch-free (a search that stops at the edge
    mispredicts a branch per customer). Amounts are summed in purchase
    order, then the refund is subtracted, so a plain Python loop gives
    bit-identical monetary values.

    The checks only count, reading the purchases while they are at hand:
    times that go down within a customer, amounts that are not positive
    finite numbers (NaN included), and the earliest time.
    """
    n = offsets.size - 1
    descents = 0
    good = 0
    earliest = _NONE
    for i in prange(n):
        lo, hi = np.uint64(offsets[i]), np.uint64(offsets[i + 1])
        before = np.uint64(0)
        upto = np.uint64(0)
        g = 0
        for j in range(lo, hi):
            before += np.uint64(times[j] < window_start)
            upto += np.uint64(times[j] <= as_of)
            g += np.int64(amounts[j] > 0.0) & np.int64(amounts[j] < np.inf)
        d = 0
        for j in range(lo + _ONE, hi):
            d += np.int64(times[j] < times[j - _ONE])
        a, b = lo + before, lo + upto
        spend = 0.0
        for j in range(a, b):
            spend += amounts[j]
        days[i] = (as_of - times[b - _ONE]) / SECONDS_PER_DAY if b > a else np.nan
        frequency[i] = b - a
        monetary[i] = spend - refunds[i]
        scored[i] = b > a
        descents += d
        good += g
        earliest = min(earliest, times[lo] if lo < hi else _NONE)
    return descents, times.size - good, earliest


@njit(cache=True, nogil=True)
def customer_checks(offsets, refunds):
    """(offsets[i+1] < offsets[i] count, bad refund count), branch-free.

    A bad refund is not a non-negative finite amount (NaN included).
    """
    decreasing = 0
    for i in range(np.uint64(1), np.uint64(offsets.size)):
        decreasing += np.int64(offsets[i] < offsets[i - _ONE])
    good = 0
    for i in range(np.uint64(refunds.size)):
        good += np.int64(refunds[i] >= 0.0) & np.int64(refunds[i] < np.inf)
    return decreasing, refunds.size - good


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


_SIGN = np.uint64(1 << 63)


@njit(cache=True, nogil=True)
def order_key(value):
    """uint64 key in the order of a float64 value.

    IEEE bit trick: positive numbers get the sign bit set, negative ones all
    bits flipped; -0.0 is first made +0.0 so that equal values get equal
    keys.
    """
    bits = np.float64(value + 0.0).view(np.uint64)
    return ~bits if bits & _SIGN else bits | _SIGN


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
def _cut_buckets(histograms, m, k):
    """Where _cut_keys finds each cut: its bucket, its rank in the bucket,
    and where each chunk writes the keys of those buckets."""
    chunks = histograms.shape[0]
    histogram = histograms.sum(axis=0)

    # The bucket holding each cut position, and the cut's rank inside it.
    bucket_of_cut = np.empty(k - 1, np.int64)
    rank_in_bucket = np.empty(k - 1, np.int64)
    bucket = 0
    below = 0  # scored customers in the buckets before ``bucket``
    for s in range(2, k + 1):
        position = ((s - 1) * m + k - 1) // k - 1
        while below + histogram[bucket] <= position:
            below += histogram[bucket]
            bucket += 1
        bucket_of_cut[s - 2] = bucket
        rank_in_bucket[s - 2] = position - below

    # Cut points often share a bucket: one slot per distinct bucket, and
    # chunk c writes its keys of a slot after those of chunks 0..c-1.
    slot_of_bucket = np.full(1 << _RADIX_BITS, -1, np.int64)
    slots = 0
    for bucket in bucket_of_cut:
        if slot_of_bucket[bucket] < 0:
            slot_of_bucket[bucket] = slots
            slots += 1
    write_at = np.zeros((chunks + 1, slots), np.int64)
    for bucket in bucket_of_cut:
        slot = slot_of_bucket[bucket]
        for c in range(chunks):
            write_at[c + 1, slot] = write_at[c, slot] + histograms[c, bucket]
    return bucket_of_cut, rank_in_bucket, slot_of_bucket, write_at


@njit(cache=True, nogil=True, parallel=True)
def _cut_keys(values, sign, scored, k, chunks):
    """order_key of the p_s-th smallest scored ``sign * value`` for
    s = 2..k (see above); sign -1.0 ranks lower values as better.

    Each thread takes a chunk: range and count, then a histogram of its
    chunk; the bucket of every cut position comes from their sum, and each
    chunk copies its keys in those buckets to its own place, so the
    order-statistic search only looks at the customers near a cut.
    """
    counts = np.zeros(chunks, np.int64)
    lows = np.empty(chunks, np.uint64)
    highs = np.empty(chunks, np.uint64)
    for c in prange(chunks):
        a, b = _chunk(values.size, chunks, c)
        m = 0
        lo = np.uint64(0xFFFFFFFFFFFFFFFF)
        hi = np.uint64(0)
        for i in range(a, b):
            if scored[i]:
                key = order_key(sign * values[i])
                m += 1
                lo = min(lo, key)
                hi = max(hi, key)
        counts[c], lows[c], highs[c] = m, lo, hi
    m = counts.sum()
    cuts = np.empty(k - 1, np.uint64)
    if m == 0:
        return cuts
    lo = lows.min()
    shift = _bucket_shift(highs.max() - lo)
    histograms = np.zeros((chunks, 1 << _RADIX_BITS), np.int64)
    for c in prange(chunks):
        a, b = _chunk(values.size, chunks, c)
        histogram = histograms[c]
        for i in range(a, b):
            if scored[i]:
                histogram[(order_key(sign * values[i]) - lo) >> shift] += 1
    bucket_of_cut, rank_in_bucket, slot_of_bucket, write_at = _cut_buckets(histograms, m, k)
    sizes = write_at[chunks]
    candidates = np.empty((sizes.size, sizes.max()), np.uint64)
    for c in prange(chunks):
        a, b = _chunk(values.size, chunks, c)
        at = write_at[c].copy()
        for i in range(a, b):
            if scored[i]:
                key = order_key(sign * values[i])
                slot = slot_of_bucket[(key - lo) >> shift]
                if slot >= 0:
                    candidates[slot, at[slot]] = key
                    at[slot] += 1
    for s in range(k - 1):
        slot = slot_of_bucket[bucket_of_cut[s]]
        cuts[s] = _kth_smallest(candidates[slot, : sizes[slot]].copy(), rank_in_bucket[s])
    return cuts


@njit(cache=True, nogil=True)
def threshold_keys(cut_points, sign):
    """Fixed cut points t1 < ... < t(k-1) as cut keys (settings.RfmThresholds).

    A value scores 1 + #{j : sign * t_j <= sign * v}: key(v) > key(t_j) - 1.
    Higher is better (sign 1): 1 + #{t_j <= v}. Recency in days (sign -1):
    1 + #{t_j >= v} = k - #{t_j < v}.
    """
    keys = np.empty(cut_points.size, np.uint64)
    for j in range(cut_points.size):
        keys[j] = order_key(sign * cut_points[j]) - _ONE
    return keys


@njit(cache=True, nogil=True, parallel=True)
def count_score_table(counts, scored, k, chunks):
    """F's quantile score of every count 0..max, by histogram.

    O(n + max count) instead of a selection: the number of strictly worse
    customers is the running total of the histogram below the value.
    """
    tops = np.zeros(chunks, np.int64)
    for c in prange(chunks):
        a, b = _chunk(counts.size, chunks, c)
        top = 0
        for i in range(a, b):
            top = max(top, counts[i])
        tops[c] = top
    top = tops.max()
    histograms = np.zeros((chunks, top + 1), np.int64)
    for c in prange(chunks):
        a, b = _chunk(counts.size, chunks, c)
        histogram = histograms[c]
        for i in range(a, b):
            if scored[i]:
                histogram[counts[i]] += 1
    histogram = histograms.sum(axis=0)
    m = max(histogram.sum(), 1)
    score_of = np.empty(top + 1, np.int8)
    worse = 0
    for v in range(top + 1):
        score_of[v] = 1 + (k * worse) // m
        worse += histogram[v]
    return score_of


def threshold_count_table(counts: np.ndarray, cut_points) -> np.ndarray:
    """F's fixed-threshold score of every count 0..max: 1 + #{t_j <= count}."""
    top = int(counts.max()) if counts.size else 0
    return (1 + np.searchsorted(np.asarray(cut_points, np.float64), np.arange(top + 1), side="right")).astype(np.int8)


@njit(cache=True, nogil=True, parallel=True)
def score_customers(days, frequency, monetary, scored, r_cuts, f_table, m_cuts, grid, r_out, f_out, m_out, segment):
    """R, F and M scores of every customer, and the RF grid segment, into
    the int8 arrays given.

    R and M count the cut keys below the value's key (lower days rank
    higher), F looks its count up in ``f_table``. ``grid`` is
    rf_grid_table(k), or an empty table for the schemes that segment
    elsewhere (segment -1). Unscored customers get 0 and segment -1.
    """
    n = days.size
    with_grid = grid.size > 0
    for i in prange(n):
        r_key = order_key(-days[i])
        r = 1
        for s in range(r_cuts.size):
            r += r_key > r_cuts[s]
        m_key = order_key(monetary[i])
        m = 1
        for s in range(m_cuts.size):
            m += m_key > m_cuts[s]
        f = f_table[frequency[i]]  # unscored customers have count 0
        r_out[i] = r if scored[i] else 0
        f_out[i] = f if scored[i] else 0
        m_out[i] = m if scored[i] else 0
        segment[i] = grid[r - 1, f - 1] if with_grid and scored[i] else -1


def scored_order(values, scored):
    """Indices of the scored customers, ascending by value (ties in any order).

    Only ABC needs a full order (cumulative spend from the top).
    """
    idx = np.flatnonzero(scored)
    return idx[np.argsort(values[idx])]


# --- segments ---------------------------------------------------------------


def rf_grid_table(k: int) -> np.ndarray:
    """k x k int8 table: segment of scores (r, f) at [r-1, f-1]."""
    buckets = [grid_bucket(score, k) - 1 for score in range(1, k + 1)]
    return np.ascontiguousarray(RF_GRID[np.ix_(buckets, buckets)])


_NO_GRID = np.zeros((0, 0), np.int8)


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
    if refunds.size != n:
        raise RfmInputError(f"refunds must have one entry per customer: len(refunds)={refunds.size}, customers={n}")
    decreasing, bad_refunds = customer_checks(offsets, refunds)
    if decreasing:
        i = int(np.argmax(offsets[1:] < offsets[:-1]))
        raise RfmInputError(f"offsets must be non-decreasing; offsets[{i + 1}] < offsets[{i}]")
    if offsets[-1] != times.size:
        raise RfmInputError(f"offsets[-1] must equal len(times): {offsets[-1]} != {times.size}")
    if amounts.size != times.size:
        raise RfmInputError(f"amounts must have one entry per purchase: len(amounts)={amounts.size}, len(times)={times.size}")
    if bad_refunds:
        i = int(np.argmax(~(np.isfinite(refunds) & (refunds >= 0))))
        raise RfmInputError(f"refunds must be non-negative finite amounts; refunds[{i}] = {refunds[i]}")
    if window_start is not None and window_start > as_of:
        raise RfmInputError(f"window_start ({window_start}) is after as_of ({as_of})")
    return offsets, times, amounts, refunds, as_of, window_start


def _check_purchases(offsets, times, amounts, as_of, descents, bad_amounts, earliest) -> None:
    """Raise on what customer_aggregates found wrong with the purchases.

    The kernel only counts; on failure numpy finds the first culprit, which
    is slower but only runs to write the error.
    """
    if bad_amounts:
        j = int(np.argmax(~((amounts > 0.0) & (amounts < np.inf))))
        raise RfmInputError(f"amounts must be positive finite numbers; amounts[{j}] = {amounts[j]}")
    if descents:
        # a descent inside a customer: its position is not a customer's first
        positions = np.flatnonzero(times[1:] < times[:-1]) + 1
        owners = np.searchsorted(offsets, positions, side="right") - 1
        unsorted = int(owners[offsets[owners] != positions][0])
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


def score_rfm_totals(last_purchase, frequency, monetary, as_of: int, settings: RfmSettings) -> RfmScores:
    """Score customers already aggregated over the window (the engine's
    CustomerTotals): for each, the time of the last purchase (epoch seconds),
    the number of purchases (at least 1) and the net spend. Every customer
    given is scored. Raises RfmInputError naming the bad field.
    """
    if not isinstance(settings, RfmSettings):
        raise RfmInputError(f"settings must be an RfmSettings, got {type(settings).__name__}")
    last_purchase = _array("last_purchase", last_purchase, "iu", np.int64)
    frequency = _array("frequency", frequency, "iu", np.int64)
    monetary = _array("monetary", monetary, "iuf", np.float64)
    as_of = _int_scalar("as_of", as_of)
    n = last_purchase.size
    for name, arr in (("frequency", frequency), ("monetary", monetary)):
        if arr.size != n:
            raise RfmInputError(f"{name} must have one entry per customer: len({name})={arr.size}, customers={n}")
    if n and frequency.min() < 1:
        i = int(np.argmin(frequency))
        raise RfmInputError(f"frequency must be at least 1 for every customer given; frequency[{i}] = {frequency[i]}")
    if n and last_purchase.max() > as_of:
        i = int(np.argmax(last_purchase))
        raise RfmInputError(f"last_purchase must not be after as_of ({as_of}); last_purchase[{i}] = {last_purchase[i]}")
    if not np.isfinite(monetary).all():
        i = int(np.argmax(~np.isfinite(monetary)))
        raise RfmInputError(f"monetary must be finite amounts; monetary[{i}] = {monetary[i]}")
    days = (as_of - last_purchase) / SECONDS_PER_DAY  # as customer_aggregates computes it
    with _threads_for(n):
        return _scores_of(days, frequency, monetary, np.ones(n, np.bool_), settings, _outputs(n, *[np.int8] * 4))


def _outputs(n: int, *dtypes) -> list[np.ndarray]:
    """Output arrays of n items, carved in order from one numpy block.

    Not allocated inside the kernels: numpy asks for transparent huge pages
    on blocks of 4 MB or more, and one block leaves only its two ends in
    4 KB pages. Fresh 4 KB pages cost a fault each; for a million customers
    the 7,000 faults of kernel-side allocations were a quarter of the
    scoring time. Give 8-byte types first, so that every view is aligned.
    """
    sizes = [np.dtype(dtype).itemsize * n for dtype in dtypes]
    block = np.empty(sum(sizes), np.uint8)
    starts = np.cumsum([0, *sizes])
    return [block[start : start + size].view(dtype) for start, size, dtype in zip(starts, sizes, dtypes)]


def _score(offsets, times, amounts, refunds, as_of, start, settings) -> RfmScores:
    days, frequency, monetary, scored, *scores = _outputs(
        offsets.size - 1, np.float64, np.int64, np.float64, np.bool_, np.int8, np.int8, np.int8, np.int8
    )
    descents, bad_amounts, earliest = customer_aggregates(
        offsets, times, amounts, refunds, as_of, start, days, frequency, monetary, scored
    )
    _check_purchases(offsets, times, amounts, as_of, descents, bad_amounts, earliest)
    return _scores_of(days, frequency, monetary, scored, settings, scores)


def _scores_of(days, frequency, monetary, scored, settings, scores) -> RfmScores:
    """Scores and segments from the per-customer aggregates, into the four
    int8 arrays ``scores`` (R, F, M, segment)."""
    k = settings.k
    fixed = settings.thresholds or RfmThresholds()
    chunks = numba.get_num_threads()

    # R ranks by minus the days since the last purchase (fewer is better).
    def cut_keys(values, sign, cut_points):
        if cut_points is not None:
            return threshold_keys(np.asarray(cut_points, np.float64), sign)
        return _cut_keys(values, sign, scored, k, chunks)

    r_cuts = cut_keys(days, -1.0, fixed.recency)
    m_cuts = cut_keys(monetary, 1.0, fixed.monetary)
    if fixed.frequency is not None:
        f_table = threshold_count_table(frequency, fixed.frequency)
    else:
        f_table = count_score_table(frequency, scored, k, chunks)  # small integers
    grid = rf_grid_table(k) if settings.scheme == "RF_GRID_10" else _NO_GRID
    r_score, f_score, m_score, segment = scores
    score_customers(days, frequency, monetary, scored, r_cuts, f_table, m_cuts, grid, r_score, f_score, m_score, segment)

    if settings.scheme == "RFM_MEAN_8":
        segment = mean8_segments(_recency_seconds(days, scored), frequency, monetary, scored)
    elif settings.scheme == "ABC":
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


def _recency_seconds(days: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """Whole seconds since the last purchase (0 when unscored).

    Exact: days is the seconds / 86400 rounded once, and multiplying back
    is off by far less than half a second below 2**51 seconds.
    """
    return np.rint(np.where(scored, days, 0.0) * SECONDS_PER_DAY).astype(np.int64)


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
