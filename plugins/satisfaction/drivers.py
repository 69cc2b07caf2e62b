"""Derived weights: how much each dimension drives overall satisfaction
(or repurchase intention), estimated from the answers.

Ordinary least squares of the target (1–5) on the respondents' dimension
scores, over respondents who answered the target and at least one
indicator of every dimension:

    target = b0 + b1·dimension_1 + ... + bD·dimension_D + error

solved from the normal equations the kernel summed (``Aggregates.cross``),
so a slice's regression costs a D+1 square solve whatever its size. Standard
errors are the classical ones, σ̂² (XᵀX)⁻¹ with σ̂² = RSS / (n − D − 1);
intervals use Student's t with n − D − 1 degrees of freedom. A dimension's
importance is its coefficient over the sum of the positive coefficients
(a negative coefficient gets importance 0: raising that dimension is not
estimated to help).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import stats as sps

MIN_EXTRA_ROWS = 2  # rows needed beyond the D+1 parameters for any standard error


@dataclass
class DriverWeight:
    dimension: int
    coefficient: float
    std_error: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    p_value: Optional[float]
    importance: float  # share of the positive coefficients, 0–1


@dataclass
class Drivers:
    target: str
    respondents: int
    intercept: Optional[float]
    r_squared: Optional[float]
    weights: list[DriverWeight]
    warning: Optional[str] = None


def _optional(value: float) -> Optional[float]:
    return float(value) if np.isfinite(value) else None


def solve(cross: np.ndarray, level: float, target: str = "OVERALL") -> Drivers:
    """OLS from one slice's (D+2)×(D+2) sums of x xᵀ, x = (1, dimensions..., target)."""
    p = cross.shape[0] - 1  # parameters: intercept and D slopes
    n = int(round(cross[0, 0]))
    xtx, xty, yty = cross[:p, :p], cross[:p, p], cross[p, p]
    if n < p + MIN_EXTRA_ROWS:
        return Drivers(target, n, None, None, [], f"{n} complete responses: at least {p + MIN_EXTRA_ROWS} are needed")
    # Centred: the raw sums are of 1–5 scores over up to millions of rows.
    mean = xtx[0, 1:] / n
    y_mean = xty[0] / n
    sxx = xtx[1:, 1:] - n * np.outer(mean, mean)
    sxy = xty[1:] - n * mean * y_mean
    syy = yty - n * y_mean * y_mean
    if np.linalg.matrix_rank(sxx) < p - 1:
        return Drivers(target, n, None, None, [], "the dimension scores are collinear (or constant): no unique weights")
    inverse = np.linalg.inv(sxx)
    slopes = inverse @ sxy
    rss = max(syy - slopes @ sxy, 0.0)
    sigma2 = rss / (n - p)
    se = np.sqrt(np.maximum(np.diag(inverse) * sigma2, 0.0))
    t = sps.t.ppf(0.5 + level / 2, n - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_values = 2 * sps.t.sf(np.abs(slopes / se), n - p)
    positive = np.maximum(slopes, 0.0)
    importance = positive / positive.sum() if positive.sum() > 0 else np.zeros_like(slopes)
    return Drivers(
        target=target,
        respondents=n,
        intercept=float(y_mean - mean @ slopes),
        r_squared=_optional(1.0 - rss / syy) if syy > 0 else None,
        weights=[DriverWeight(d, float(slopes[d]), _optional(se[d]), _optional(slopes[d] - t * se[d]),
                              _optional(slopes[d] + t * se[d]), _optional(p_values[d]), float(importance[d]))
                 for d in range(p - 1)],
    )


def of_analysis(analysis, per_slice: bool = False) -> list[Drivers]:
    """Derived weights over all the analysis' responses, or one regression per slice."""
    cross = analysis.aggregates.cross if per_slice else analysis.aggregates.total().cross
    return [solve(c, analysis.level, analysis.target) for c in cross]
