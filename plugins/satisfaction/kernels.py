"""Numba kernels of the satisfaction index, and their validating wrapper.

Input is one survey's responses as columns (plugins/satisfaction/reader.py):
``scores`` an n×k uint8 matrix (one column per scale question, 0 = not
answered, 1–5), ``overall``/``repurchase`` (1–5), ``nps`` (0–10) and
``recommend`` (1 yes, 2 no, 3 don't know) as int8 with -1 for "not
answered", and ``slice_of`` the slice (store × month, say) of each row.

One pass adds up, per slice, everything the index needs: counts, sums and
sums of squares of every indicator, of each respondent's dimension scores
and of each respondent's index, the top-box counts, the NPS classes, the
recommend answers, and the cross-products the driver regression solves.
Every figure is a sum, so the totals (and any coarser slicing) are sums of
slices: plugins/satisfaction/index.py turns them into means, shares and
confidence intervals.

Call ``aggregate``; the kernel itself trusts its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

import engine.numba_threading  # noqa: F401  (a thread-safe layer before any kernel runs)

MISSING = -1  # int8 "not answered" for overall, nps, recommend, repurchase
# Below this many responses one thread finishes before the pool wakes up.
PARALLEL_MIN_ROWS = 20_000
# Columns of the per-slice moment arrays.
COUNT, SUM, SUMSQ, TOP = 0, 1, 2, 3
# Columns of the NPS and recommend counts.
NPS_PROMOTERS, NPS_PASSIVES, NPS_DETRACTORS = 1, 2, 3
RECOMMEND_YES, RECOMMEND_NO, RECOMMEND_DONT_KNOW = 1, 2, 3


@dataclass
class Aggregates:
    """Per-slice sums (first axis: slice). Moments are (count, sum, sum of squares, top-box count).

    - ``items`` int64 [S, k, 4]: each indicator's answers (from counts per answer value).
    - ``dimensions`` float64 [S, D, 4]: each respondent's dimension score
      (the mean of the dimension's answered indicators).
    - ``index`` float64 [S, 3]: each respondent's index, 0–100 (count, sum, sum of squares).
    - ``overall``, ``repurchase`` int64 [S, 4]: the two single questions.
    - ``nps`` int64 [S, 4]: (answers, promoters 9–10, passives 7–8, detractors 0–6).
    - ``recommend`` int64 [S, 4]: (answers, yes, no, don't know).
    - ``responses`` int64 [S]: rows.
    - ``cross`` float64 [S, D+2, D+2]: sums of x xᵀ over complete rows,
      x = (1, dimension scores..., target): the driver regression's normal equations.
    """

    items: np.ndarray
    dimensions: np.ndarray
    index: np.ndarray
    overall: np.ndarray
    repurchase: np.ndarray
    nps: np.ndarray
    recommend: np.ndarray
    responses: np.ndarray
    cross: np.ndarray

    @property
    def slices(self) -> int:
        return self.responses.size

    def merged(self, groups: np.ndarray, n_groups: int) -> "Aggregates":
        """Slices added up into ``n_groups`` groups (``groups[s]`` the group of slice s)."""
        def add(a):
            out = np.zeros((n_groups, *a.shape[1:]), a.dtype)
            np.add.at(out, groups, a)
            return out
        return Aggregates(**{name: add(getattr(self, name)) for name in self.__dataclass_fields__})

    def total(self) -> "Aggregates":
        """All slices as one."""
        return self.merged(np.zeros(self.slices, np.int64), 1)


@njit(cache=True, nogil=True)
def _moment(acc, s, c, value, top):
    acc[s, c, COUNT] += 1
    acc[s, c, SUM] += value
    acc[s, c, SUMSQ] += value * value
    acc[s, c, TOP] += top


@njit(cache=True, nogil=True)
def _rows(lo, hi, scores, slice_of, item_dim, weights, satisfied_from, overall, nps, recommend, repurchase, target,
          items, dims, index, singles, nps_acc, rec_acc, responses, cross):
    """Add rows lo..hi-1 into one chunk's accumulators (the arrays passed, no chunk axis).

    Answers on a fixed scale are counted per value (``items[s, j, answer]``,
    one increment per answer); their means, variances and top-box counts
    come from those counts afterwards (_moments_of_counts)."""
    k = scores.shape[1]
    n_dims = weights.size
    dim_sum = np.zeros(n_dims, np.int64)
    dim_count = np.zeros(n_dims, np.int64)
    x = np.zeros(n_dims + 2)
    x[0] = 1.0
    for i in range(lo, hi):
        s = slice_of[i]
        responses[s] += 1
        dim_sum[:] = 0
        dim_count[:] = 0
        for j in range(k):
            b = np.int64(scores[i, j])
            items[s, j, b] += 1
            d = item_dim[j]
            dim_sum[d] += b
            dim_count[d] += np.int64(b > 0)
        weighted = 0.0
        weight = 0.0
        complete = True
        for d in range(n_dims):
            if dim_count[d] > 0:
                score = dim_sum[d] / dim_count[d]
                _moment(dims, s, d, score, np.float64(score >= satisfied_from))
                weighted += weights[d] * (score - 1.0) * 25.0  # 1–5 → 0–100
                weight += weights[d]
                x[d + 1] = score
            else:
                complete = False
        if weight > 0.0:
            value = weighted / weight
            index[s, COUNT] += 1.0
            index[s, SUM] += value
            index[s, SUMSQ] += value * value
        singles[s, 0, overall[i] + 1] += 1  # column 0: not answered
        singles[s, 1, repurchase[i] + 1] += 1
        nps_acc[s, nps[i] + 1] += 1
        rec_acc[s, recommend[i] + 1] += 1
        y = overall[i] if target == 0 else repurchase[i]
        if complete and y != MISSING:
            x[n_dims + 1] = y
            for a in range(n_dims + 2):
                for b in range(a, n_dims + 2):
                    cross[s, a, b] += x[a] * x[b]


@njit(cache=True, nogil=True, parallel=True)
def _aggregate_chunks(scores, slice_of, item_dim, weights, satisfied_from, overall, nps, recommend, repurchase, target,
                      items, dims, index, singles, nps_acc, rec_acc, responses, cross):
    """Chunk c of the rows into accumulators [c]: no two threads write the same array."""
    chunks = items.shape[0]
    n = scores.shape[0]
    for c in prange(chunks):
        lo = c * n // chunks
        hi = (c + 1) * n // chunks
        _rows(lo, hi, scores, slice_of, item_dim, weights, satisfied_from, overall, nps, recommend, repurchase, target,
              items[c], dims[c], index[c], singles[c], nps_acc[c], rec_acc[c], responses[c], cross[c])


def _moments_of_counts(counts: np.ndarray, satisfied_from: int, first: int) -> np.ndarray:
    """(count, sum, sum of squares, top-box count) from counts per answer value;
    ``counts[..., first + v]`` holds the answers v (v = 1..5), lower columns the unanswered."""
    values = np.arange(counts.shape[-1]) - first
    answered = np.where(values >= 1, 1, 0)
    out = np.empty((*counts.shape[:-1], 4), np.int64)
    out[..., COUNT] = counts @ answered
    out[..., SUM] = counts @ (values * answered)
    out[..., SUMSQ] = counts @ (values * values * answered)
    out[..., TOP] = counts @ ((values >= satisfied_from) * answered)
    return out


def _check(scores, slice_of, n_slices, item_dim, weights, satisfied_from, columns) -> None:
    n = scores.shape[0]
    if scores.ndim != 2 or scores.dtype != np.uint8:
        raise ValueError("scores must be an n×k uint8 matrix")
    if item_dim.shape != (scores.shape[1],):
        raise ValueError("item_dim needs one dimension per score column")
    if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and non-negative, one per dimension")
    if item_dim.size and (item_dim.min() < 0 or item_dim.max() >= weights.size):
        raise ValueError("item_dim refers to a dimension without a weight")
    if not 1 <= satisfied_from <= 5:
        raise ValueError("satisfied_from must be 1 to 5")
    if slice_of.shape != (n,):
        raise ValueError("slice_of needs one slice per row")
    if n and (slice_of.min() < 0 or slice_of.max() >= n_slices):
        raise ValueError("slice_of out of range")
    if n and scores.size and scores.max() > 5:
        raise ValueError("scores must be 0 (not answered) to 5")
    for name, column, top in columns:
        if column.shape != (n,) or column.dtype != np.int8:
            raise ValueError(f"{name} must be int8, one per row")
        if n and (column.min() < MISSING or column.max() > top):
            raise ValueError(f"{name} must be -1 (not answered) or 0 to {top}")


def aggregate(scores: np.ndarray, slice_of: np.ndarray, n_slices: int, item_dim: np.ndarray, weights: np.ndarray,
              overall: np.ndarray, nps: np.ndarray, recommend: np.ndarray, repurchase: np.ndarray,
              satisfied_from: int = 4, target: str = "OVERALL") -> Aggregates:
    """Per-slice sums of one survey's responses (see Aggregates).

    ``weights`` are the dimensions' weights in the index (any scale; a
    respondent's index averages the dimensions they answered, weighted);
    ``satisfied_from`` the lowest score counted as satisfied (4: top-2-box);
    ``target`` the driver regression's dependent variable, OVERALL or REPURCHASE.
    """
    scores = np.ascontiguousarray(scores)
    slice_of = np.ascontiguousarray(slice_of, np.int64)
    item_dim = np.ascontiguousarray(item_dim, np.int64)
    weights = np.ascontiguousarray(weights, np.float64)
    columns = [("overall", overall, 5), ("nps", nps, 10), ("recommend", recommend, 3), ("repurchase", repurchase, 5)]
    _check(scores, slice_of, n_slices, item_dim, weights, satisfied_from, columns)
    if target not in ("OVERALL", "REPURCHASE"):
        raise ValueError("target must be OVERALL or REPURCHASE")
    if recommend.size and recommend.min() == 0:
        raise ValueError("recommend must be -1, 1, 2 or 3")
    n, k = scores.shape
    n_dims = weights.size
    chunks = numba.get_num_threads() if n >= PARALLEL_MIN_ROWS else 1
    acc = dict(
        items=np.zeros((chunks, n_slices, k, 6), np.int64),  # counts of answers 0 (none), 1..5
        dims=np.zeros((chunks, n_slices, n_dims, 4)),
        index=np.zeros((chunks, n_slices, 3)),
        singles=np.zeros((chunks, n_slices, 2, 7), np.int64),  # counts of -1 (none), 0..5
        nps_acc=np.zeros((chunks, n_slices, 12), np.int64),  # counts of -1 (none), 0..10
        rec_acc=np.zeros((chunks, n_slices, 5), np.int64),  # counts of -1 (none), 0, yes, no, don't know
        responses=np.zeros((chunks, n_slices), np.int64),
        cross=np.zeros((chunks, n_slices, n_dims + 2, n_dims + 2)),
    )
    _aggregate_chunks(scores, slice_of, item_dim, weights, np.int64(satisfied_from),
                      *(np.ascontiguousarray(c) for _, c, _ in columns), np.int64(target == "REPURCHASE"), **acc)
    total = {name: a.sum(axis=0) for name, a in acc.items()}
    cross = total["cross"]
    upper = np.triu_indices(n_dims + 2, 1)
    cross.transpose(0, 2, 1)[:, upper[0], upper[1]] = cross[:, upper[0], upper[1]]  # the kernel filled a <= b
    singles = _moments_of_counts(total["singles"], satisfied_from, first=1)
    nps_counts = total["nps_acc"]
    nps_table = np.stack([nps_counts[:, 1:].sum(axis=1), nps_counts[:, 10:].sum(axis=1),
                          nps_counts[:, 8:10].sum(axis=1), nps_counts[:, 1:8].sum(axis=1)], axis=1)
    recommend_table = np.concatenate([total["rec_acc"][:, 2:].sum(axis=1, keepdims=True), total["rec_acc"][:, 2:]], axis=1)
    return Aggregates(items=_moments_of_counts(total["items"], satisfied_from, first=0), dimensions=total["dims"],
                      index=total["index"], overall=singles[:, 0], repurchase=singles[:, 1], nps=nps_table,
                      recommend=recommend_table, responses=total["responses"], cross=cross)


def warm_up() -> None:
    """Compile (or load from cache) the kernels on a tiny input, both paths."""
    for n in (3, PARALLEL_MIN_ROWS):
        scores = np.ones((n, 2), np.uint8)
        ones = np.ones(n, np.int8)
        aggregate(scores, np.zeros(n, np.int64), 1, np.array([0, 1]), np.ones(2), ones, ones, ones, ones)
