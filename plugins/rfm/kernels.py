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

import engine.numba_threading  # noqa: F401  (a thread-safe layer before any kernel runs)
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


# A customer's purchases are few, so loops over them exit after a handful
# of steps, at a different step for each customer: the CPU mispredicts
# every exit. Customers with more than _FEW purchases (and at most
# _MASKED) are instead read through a fixed number of lanes, masked to
# their own purchases: the loops have constant trip counts, no exit to
# mispredict, and compile to vector code. On the bench's 1M customers
# with 10 purchases each the aggregate pass went from 12 to 8 ms; customers
# with _FEW or fewer purchases are cheaper with plain loops.
_FEW = np.uint64(4)
_MASKED = 16
# The window counts read 24 lanes, of which at most _MASKED are live:
# LLVM fully unrolls a loop of 16 or 17 steps into scalar code instead of
# vectorizing it, which ran twice as slow (an AMD AVX-512 host, compiled
# for it and for AVX2). Code compiled for Intel's AVX-512 cores
# (NUMBA_CPU_NAME=icelake-server) ran no faster than the plain loops there.
_COUNT_LANES = 24
# The in-order window sum is a chain of dependent additions, one per lane:
# a window of at most 8 purchases (most customers, with a 1-year window)
# adds through 8 lanes, not 16 (measured 0.8 of the time of the pass).
_SUM_LANES = 8


@njit(cache=True, nogil=True, inline="always")
def _scan_loops(times, amounts, lo, hi, as_of, window_start):
    """(purchases before the window, purchases up to as_of, good amounts,
    descents) of purchases lo..hi-1, with plain loops."""
    before = np.uint64(0)
    upto = np.uint64(0)
    good = 0
    for j in range(lo, hi):
        before += np.uint64(times[j] < window_start)
        upto += np.uint64(times[j] <= as_of)
        good += np.int64(amounts[j] > 0.0) & np.int64(amounts[j] < np.inf)
    descents = 0
    for j in range(lo + _ONE, hi):
        descents += np.int64(times[j] < times[j - _ONE])
    return before, upto, good, descents


@njit(cache=True, nogil=True, inline="always")
def _scan_lanes(times, amounts, lo, count, as_of, window_start):
    """_scan_loops for count <= _MASKED purchases from lo, read through
    fixed lanes; the caller checks that lo + _COUNT_LANES is in bounds."""
    before = 0
    upto = 0
    good = 0
    for q in range(_COUNT_LANES):
        live = np.int64(np.uint64(q) < count)
        t = times[lo + np.uint64(q)]
        x = amounts[lo + np.uint64(q)]
        before += live & np.int64(t < window_start)
        upto += live & np.int64(t <= as_of)
        good += live & np.int64(x > 0.0) & np.int64(x < np.inf)
    descents = 0
    for q in range(1, _MASKED):
        j = lo + np.uint64(q)
        descents += np.int64(np.uint64(q) < count) & np.int64(times[j] < times[j - _ONE])
    return np.uint64(before), np.uint64(upto), good, descents


@njit(cache=True, nogil=True, inline="always")
def _sum_in_order(amounts, a, b, use_lanes):
    """amounts[a:b] summed in order; through _MASKED lanes when ``use_lanes``
    and they fit (adding 0.0 for the lanes past b changes nothing)."""
    spend = 0.0
    count = b - a
    if use_lanes and count <= _SUM_LANES and a + np.uint64(_SUM_LANES) <= np.uint64(amounts.size):
        for q in range(_SUM_LANES):
            x = amounts[a + np.uint64(q)]
            spend += x if np.uint64(q) < count else 0.0
    else:
        for j in range(a, b):
            spend += amounts[j]
    return spend


@njit(cache=True, nogil=True, inline="always")
def _finish_customer(i, as_of, refunds, spend, last, count, days, frequency, monetary, scored):
    """Write customer i's outputs from its window's spend, last time and count."""
    days[i] = (as_of - last) / SECONDS_PER_DAY if count else np.nan
    frequency[i] = count
    monetary[i] = spend - refunds[i]
    scored[i] = count > 0


@njit(cache=True, nogil=True, parallel=True)
def customer_aggregates(offsets, times, amounts, refunds, as_of, window_start, days, frequency, monetary, scored,
                        use_lanes=True):
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

    ``use_lanes`` false reads every customer with plain loops (the "loops"
    path, see KERNEL_PATHS); true reads customers of _FEW+1.._MASKED
    purchases through fixed lanes ("lanes").
    """
    n = offsets.size - 1
    size = np.uint64(times.size)
    descents = 0
    good = 0
    earliest = _NONE
    for i in prange(n):
        lo, hi = np.uint64(offsets[i]), np.uint64(offsets[i + 1])
        count = hi - lo
        lanes = use_lanes and count > _FEW
        if lanes and count <= _MASKED and lo + np.uint64(_COUNT_LANES) <= size:
            before, upto, g, d = _scan_lanes(times, amounts, lo, count, as_of, window_start)
        else:
            before, upto, g, d = _scan_loops(times, amounts, lo, hi, as_of, window_start)
        a, b = lo + before, lo + upto
        spend = _sum_in_order(amounts, a, b, lanes)
        _finish_customer(i, as_of, refunds, spend, times[b - _ONE] if b > a else 0, b - a,
                         days, frequency, monetary, scored)
        descents += d
        good += g
        earliest = min(earliest, times[lo] if lo < hi else _NONE)
    return descents, times.size - good, earliest


@njit(cache=True, nogil=True, parallel=True)
def customer_aggregates_one_pass(offsets, times, amounts, refunds, as_of, window_start, days, frequency, monetary,
                                 scored):
    """customer_aggregates in one loop per customer (the "one_pass" path):
    each purchase is read once, tested against the window and added (0.0
    when outside it, which leaves an in-order sum unchanged), so there is
    one loop exit per customer to mispredict instead of two, but no lanes.
    Same outputs and return value, bit for bit.
    """
    n = offsets.size - 1
    descents = 0
    good = 0
    earliest = _NONE
    for i in prange(n):
        lo, hi = np.uint64(offsets[i]), np.uint64(offsets[i + 1])
        count = 0
        spend = 0.0
        last = np.int64(0)
        d = 0
        g = 0
        previous = times[lo] if lo < hi else 0
        for j in range(lo, hi):
            t = times[j]
            x = amounts[j]
            inside = (t >= window_start) & (t <= as_of)
            count += np.int64(inside)
            spend += x if inside else 0.0
            last = t if inside else last
            g += np.int64(x > 0.0) & np.int64(x < np.inf)
            d += np.int64(t < previous)
            previous = t
        _finish_customer(i, as_of, refunds, spend, last, count, days, frequency, monetary, scored)
        descents += d
        good += g
        earliest = min(earliest, times[lo] if lo < hi else _NONE)
    return descents, times.size - good, earliest


@njit(cache=True, nogil=True, parallel=True)
def customer_checks(offsets, refunds):
    """(offsets[i+1] < offsets[i] count, bad refund count), branch-free.

    A bad refund is not a non-negative finite amount (NaN included).
    """
    decreasing = 0
    for i in prange(offsets.size - 1):
        j = np.uint64(i)
        decreasing += np.int64(offsets[j + _ONE] < offsets[j])
    good = 0
    for i in prange(refunds.size):
        j = np.uint64(i)
        good += np.int64(refunds[j] >= 0.0) & np.int64(refunds[j] < np.inf)
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
    """Where rank_tables finds each cut: its bucket, its rank in the bucket,
    and where each chunk writes the keys of those buckets."""
    chunks = histograms.shape[0]
    if histograms.shape[1] == 0:  # a dimension that is not ranked
        none = np.empty(0, np.int64)
        return none, none, none, np.zeros((chunks + 1, 0), np.int64)
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


@njit(cache=True, nogil=True)
def _r_key(days):
    """R ranks by minus the days since the last purchase: fewer is better."""
    return order_key(-days)


@njit(cache=True, nogil=True, parallel=True)
def rank_tables(days, monetary, frequency, scored, k, rank_r, rank_m, rank_f, chunks):
    """The quantile cut keys of R and M (order_key of the p_s-th smallest
    scored value for s = 2..k, see above) and F's score table, for the
    dimensions asked for (the others come back empty: they use thresholds).

    Three passes over the customers serve all three dimensions, each thread
    taking a chunk: the range of the keys and the largest count; histograms
    of the keys (and of the counts); and a copy of the keys in the buckets
    holding a cut, so the order-statistic search only looks at the
    customers near a cut. F needs no search: the number of strictly worse
    customers is the running total of its histogram below the count, so
    its table covers every count 0..max (unscored customers have count 0).
    """
    counts = np.zeros(chunks, np.int64)
    tops = np.zeros(chunks, np.int64)
    lows = np.full((2, chunks), np.uint64(0xFFFFFFFFFFFFFFFF))
    highs = np.zeros((2, chunks), np.uint64)
    for c in prange(chunks):
        a, b = _chunk(days.size, chunks, c)
        m, top = 0, 0
        r_lo, m_lo = lows[0, c], lows[1, c]
        r_hi, m_hi = highs[0, c], highs[1, c]
        for i in range(a, b):
            top = max(top, frequency[i])
            if scored[i]:
                m += 1
                if rank_r:
                    key = _r_key(days[i])
                    r_lo, r_hi = min(r_lo, key), max(r_hi, key)
                if rank_m:
                    key = order_key(monetary[i])
                    m_lo, m_hi = min(m_lo, key), max(m_hi, key)
        counts[c], tops[c] = m, top
        lows[0, c], lows[1, c], highs[0, c], highs[1, c] = r_lo, m_lo, r_hi, m_hi
    m, top = counts.sum(), tops.max()
    r_base, m_base = lows[0].min(), lows[1].min()
    r_shift = _bucket_shift(highs[0].max() - r_base) if m and rank_r else np.uint64(0)
    m_shift = _bucket_shift(highs[1].max() - m_base) if m and rank_m else np.uint64(0)

    buckets = 1 << _RADIX_BITS
    r_histograms = np.zeros((chunks, buckets if rank_r and m else 0), np.int64)
    m_histograms = np.zeros((chunks, buckets if rank_m and m else 0), np.int64)
    f_histograms = np.zeros((chunks, top + 1 if rank_f else 0), np.int64)
    for c in prange(chunks):
        a, b = _chunk(days.size, chunks, c)
        r_histogram, m_histogram, f_histogram = r_histograms[c], m_histograms[c], f_histograms[c]
        for i in range(a, b):
            if scored[i]:
                if r_histogram.size:
                    r_histogram[(_r_key(days[i]) - r_base) >> r_shift] += 1
                if m_histogram.size:
                    m_histogram[(order_key(monetary[i]) - m_base) >> m_shift] += 1
                if rank_f:
                    f_histogram[frequency[i]] += 1

    f_table = np.empty(top + 1 if rank_f else 0, np.int8)
    worse = 0
    histogram = f_histograms.sum(axis=0)
    for v in range(f_table.size):
        f_table[v] = 1 + (k * worse) // max(m, 1)
        worse += histogram[v]
    if m == 0:  # nobody to rank: no customer will look up a cut
        return np.zeros(k - 1 if rank_r else 0, np.uint64), np.zeros(k - 1 if rank_m else 0, np.uint64), f_table

    r_bucket, r_rank, r_slot, r_write_at = _cut_buckets(r_histograms, m, k)
    m_bucket, m_rank, m_slot, m_write_at = _cut_buckets(m_histograms, m, k)
    r_sizes, m_sizes = r_write_at[chunks], m_write_at[chunks]
    r_candidates = np.empty((r_sizes.size, r_sizes.max() if r_sizes.size else 0), np.uint64)
    m_candidates = np.empty((m_sizes.size, m_sizes.max() if m_sizes.size else 0), np.uint64)
    for c in prange(chunks):
        a, b = _chunk(days.size, chunks, c)
        r_at, m_at = r_write_at[c].copy(), m_write_at[c].copy()
        for i in range(a, b):
            if scored[i]:
                if r_at.size:
                    _keep_near_cut(_r_key(days[i]), r_base, r_shift, r_slot, r_candidates, r_at)
                if m_at.size:
                    _keep_near_cut(order_key(monetary[i]), m_base, m_shift, m_slot, m_candidates, m_at)
    return (
        _cuts_from(r_candidates, r_sizes, r_bucket, r_rank, r_slot),
        _cuts_from(m_candidates, m_sizes, m_bucket, m_rank, m_slot),
        f_table,
    )


@njit(cache=True, nogil=True, inline="always")
def _keep_near_cut(key, base, shift, slot_of_bucket, candidates, at):
    """Copy ``key`` to its slot's candidates when its bucket holds a cut."""
    slot = slot_of_bucket[(key - base) >> shift]
    if slot >= 0:
        candidates[slot, at[slot]] = key
        at[slot] += 1


@njit(cache=True, nogil=True)
def _cuts_from(candidates, sizes, bucket_of_cut, rank_in_bucket, slot_of_bucket):
    """Each cut key: the right rank among the keys copied from its bucket."""
    cuts = np.empty(bucket_of_cut.size, np.uint64)
    for s in range(cuts.size):
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


def threshold_count_table(counts: np.ndarray, cut_points) -> np.ndarray:
    """F's fixed-threshold score of every count 0..max: 1 + #{t_j <= count}."""
    top = int(counts.max()) if counts.size else 0
    return (1 + np.searchsorted(np.asarray(cut_points, np.float64), np.arange(top + 1), side="right")).astype(np.int8)


_MAX_CUTS = 9  # k <= 10


@njit(cache=True, nogil=True, parallel=True)
def score_customers(days, frequency, monetary, scored, r_cuts, f_table, m_cuts, grid, r_out, f_out, m_out, segment, chunks):
    """R, F and M scores of every customer, and the RF grid segment, into
    the int8 arrays given.

    R and M count the cut keys below the value's key (lower days rank
    higher), F looks its count up in ``f_table``. ``grid`` is
    rf_grid_table(k), or an empty table for the schemes that segment
    elsewhere (segment -1). Unscored customers get 0 and segment -1.

    Two loops per chunk, both branch-free, so that they vectorize: R and M
    against cut lists padded to a fixed length (a loop of k - 1 steps did
    not), then the table look-ups, which stopped the first from vectorizing
    when they shared its loop (measured 2.5 ms against 1.1 for 1M customers).
    """
    never = np.uint64(0xFFFFFFFFFFFFFFFF)  # no key is above it
    r_padded = np.full(_MAX_CUTS, never)
    r_padded[: r_cuts.size] = r_cuts
    m_padded = np.full(_MAX_CUTS, never)
    m_padded[: m_cuts.size] = m_cuts
    k = grid.shape[1]
    # flat[(r - 1) * k + f - 1] is the segment; the one-entry table gives -1
    flat = grid.ravel() if grid.size else np.full(1, np.int8(-1))
    for c in prange(chunks):
        a, b = _chunk(days.size, chunks, c)
        for i in range(a, b):
            r_key = _r_key(days[i])
            m_key = order_key(monetary[i])
            r = 1
            m = 1
            for s in range(_MAX_CUTS):
                r += r_key > r_padded[s]
                m += m_key > m_padded[s]
            live = np.int8(scored[i])
            r_out[i] = r * live
            m_out[i] = m * live
        for i in range(a, b):
            f = f_table[np.uint64(frequency[i])]  # unscored customers have count 0
            f_out[i] = f * np.int8(scored[i])
            at = np.uint64(max(r_out[i] - 1, 0) * k + f - 1) if grid.size else np.uint64(0)
            segment[i] = flat[at] if scored[i] else np.int8(-1)


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
    with _threads_for(n):
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
    descents, bad_amounts, earliest = aggregate(
        _kernel_path, offsets, times, amounts, refunds, as_of, start, days, frequency, monetary, scored
    )
    _check_purchases(offsets, times, amounts, as_of, descents, bad_amounts, earliest)
    return _scores_of(days, frequency, monetary, scored, settings, scores)


def _scores_of(days, frequency, monetary, scored, settings, scores) -> RfmScores:
    """Scores and segments from the per-customer aggregates, into the four
    int8 arrays ``scores`` (R, F, M, segment)."""
    k = settings.k
    fixed = settings.thresholds or RfmThresholds()
    chunks = numba.get_num_threads()

    r_cuts, m_cuts, f_table = rank_tables(
        days, monetary, frequency, scored, k,
        fixed.recency is None, fixed.monetary is None, fixed.frequency is None, chunks,
    )
    if fixed.recency is not None:
        r_cuts = threshold_keys(np.asarray(fixed.recency, np.float64), -1.0)
    if fixed.monetary is not None:
        m_cuts = threshold_keys(np.asarray(fixed.monetary, np.float64), 1.0)
    if fixed.frequency is not None:
        f_table = threshold_count_table(frequency, fixed.frequency)
    grid = rf_grid_table(k) if settings.scheme == "RF_GRID_10" else _NO_GRID
    r_score, f_score, m_score, segment = scores
    score_customers(
        days, frequency, monetary, scored, r_cuts, f_table, m_cuts, grid, r_score, f_score, m_score, segment, chunks
    )

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


# --- the per-customer pass: which code path --------------------------------
#
# The paths give the same outputs bit for bit (tests/plugins/rfm checks it);
# which is fastest depends on the code LLVM generates for the CPU: the
# fixed lanes were 1.5x faster than plain loops on the AMD EPYC host they
# were tuned on, and no faster on an Intel Xeon (AVX-512) host. warm_up()
# times them on a synthetic batch and keeps the fastest for the process.

KERNEL_PATHS = ("lanes", "loops", "one_pass")
DEFAULT_KERNEL_PATH = "lanes"  # until warm_up() has measured, and when timings tie
# A path must beat the default by this fraction to replace it: smaller
# differences are within the noise of a shared host.
_MARGIN = 0.05
_kernel_path = DEFAULT_KERNEL_PATH
kernel_timings: dict[str, float] = {}  # seconds per path, from the last choose_kernel_path()


def aggregate(path, offsets, times, amounts, refunds, as_of, start, days, frequency, monetary, scored):
    """customer_aggregates through the code path named ``path``."""
    if path == "one_pass":
        return customer_aggregates_one_pass(
            offsets, times, amounts, refunds, as_of, start, days, frequency, monetary, scored
        )
    if path not in KERNEL_PATHS:
        raise ValueError(f"unknown kernel path {path!r}; expected one of {KERNEL_PATHS}")
    return customer_aggregates(
        offsets, times, amounts, refunds, as_of, start, days, frequency, monetary, scored, path == "lanes"
    )


def kernel_path() -> str:
    """The per-customer code path score_rfm uses in this process."""
    return _kernel_path


def use_kernel_path(path: str) -> None:
    """Use ``path`` from now on in this process (benches, and tests)."""
    global _kernel_path
    if path not in KERNEL_PATHS:
        raise ValueError(f"unknown kernel path {path!r}; expected one of {KERNEL_PATHS}")
    _kernel_path = path


def timing_batch(customers: int = 30_000, seed: int = 0):
    """A batch shaped like retail data (about 10 purchases per customer,
    0 to 30 of them, over 3 years) for timing the paths:
    (offsets, times, amounts, refunds)."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(10, customers)
    offsets = np.zeros(customers + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    owner = np.repeat(np.arange(customers), counts)
    times = rng.integers(0, 3 * 365 * SECONDS_PER_DAY, owner.size)
    times = times[np.lexsort((times, owner))]  # ascending within each customer
    amounts = rng.integers(1, 500, owner.size).astype(np.float64)
    return offsets, times, amounts, np.zeros(customers)


def choose_kernel_path(rounds: int = 5) -> str:
    """Time every path on timing_batch() (best of ``rounds`` interleaved
    rounds, as score_rfm runs them: parallel at this size) and use the
    fastest, unless the default is within _MARGIN of it. A few ms."""
    import time

    offsets, times, amounts, refunds = timing_batch()
    n = offsets.size - 1
    as_of = int(times.max()) if times.size else 0
    start = as_of - 365 * SECONDS_PER_DAY
    outputs = _outputs(n, np.float64, np.int64, np.float64, np.bool_)
    best = dict.fromkeys(KERNEL_PATHS, float("inf"))
    with _threads_for(n):
        for path in KERNEL_PATHS:  # compiled or loaded before any is timed
            aggregate(path, offsets, times, amounts, refunds, as_of, start, *outputs)
        for _ in range(rounds):
            for path in KERNEL_PATHS:
                started = time.perf_counter()
                aggregate(path, offsets, times, amounts, refunds, as_of, start, *outputs)
                best[path] = min(best[path], time.perf_counter() - started)
    fastest = min(best, key=best.get)
    if best[DEFAULT_KERNEL_PATH] <= best[fastest] * (1 + _MARGIN):
        fastest = DEFAULT_KERNEL_PATH
    kernel_timings.clear()
    kernel_timings.update(best)
    use_kernel_path(fastest)
    return fastest


def warm_up() -> None:
    """Compile (or load from cache) every kernel on a tiny batch, then
    choose the per-customer code path (choose_kernel_path).

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
    choose_kernel_path()
