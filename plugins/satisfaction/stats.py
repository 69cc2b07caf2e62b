"""Confidence intervals and tests on the kernels' sums, vectorised over slices.

- A mean: Student's t interval, mean ± t(n-1) · s / √n (no interval below 2 answers).
- A share (% satisfied, recommend shares): the Wilson score interval, which
  stays inside 0–100% and behaves for small counts and shares near 0 or 1.
- NPS: each answer counts +100 (promoter), 0 (passive) or -100 (detractor);
  NPS is their mean, its variance 100² · (p + d − (p − d)²), the interval
  normal: NPS ± z · √(variance / n), clipped to ±100.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps


def _quiet(fn):
    def wrapped(*args, **kwargs):
        with np.errstate(invalid="ignore", divide="ignore"):
            return fn(*args, **kwargs)
    return wrapped


@_quiet
def mean_interval(count, total, squares, level: float):
    """(mean, low, high) from count, sum and sum of squares (NaN where undefined)."""
    count = np.asarray(count, np.float64)
    mean = np.asarray(total, np.float64) / count
    variance = np.maximum(np.asarray(squares, np.float64) - count * mean * mean, 0.0) / (count - 1)
    half = sps.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1)) * np.sqrt(variance / count)
    half = np.where(count >= 2, half, np.nan)
    return mean, mean - half, mean + half


@_quiet
def wilson_interval(successes, count, level: float):
    """(share, low, high) of successes among count (NaN where count is 0)."""
    n = np.asarray(count, np.float64)
    p = np.asarray(successes, np.float64) / n
    z = sps.norm.ppf(0.5 + level / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


@_quiet
def nps_interval(promoters, detractors, count, level: float):
    """(NPS, low, high) on the −100..100 scale."""
    n = np.asarray(count, np.float64)
    p = np.asarray(promoters, np.float64) / n
    d = np.asarray(detractors, np.float64) / n
    score = 100.0 * (p - d)
    half = sps.norm.ppf(0.5 + level / 2) * 100.0 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0.0) / n)
    return score, np.clip(score - half, -100.0, 100.0), np.clip(score + half, -100.0, 100.0)


@_quiet
def welch_z(mean_a, var_a, n_a, mean_b, var_b, n_b):
    """Welch's statistic for two independent means and its two-sided p-value
    (normal reference: the counts behind monthly indices are in the hundreds)."""
    z = (mean_a - mean_b) / np.sqrt(var_a / n_a + var_b / n_b)
    return z, 2.0 * sps.norm.sf(np.abs(z))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (family-wise error), NaN kept as NaN."""
    p = np.asarray(p_values, np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out
