"""Uplift of the targeted group over the holdout, with 95% intervals and tests.

- Conversion: the difference of two proportions, p_t - p_c. Interval: Wald's,
  with each group's own variance, ``d ± 1.96·sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c)``.
  Test: the two-proportion z test (pooled variance under "no difference"),
  two-sided p-value.
- Revenue per customer (zero for those who bought nothing): the difference
  of two means. Interval and test: Welch's unequal-variance statistic with the
  normal distribution (a large-sample z test: campaigns have hundreds of
  customers per group or more; below 30 in a group no figure is given).

Plain Python on the groups' sums: the SQL gives n, Σx and Σx² per group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
MIN_GROUP = 30


@dataclass(frozen=True)
class Estimate:
    estimate: float | None
    low: float | None
    high: float | None
    p_value: float | None
    test: str

    @classmethod
    def none(cls, test: str) -> "Estimate":
        return cls(None, None, None, None, test)


def two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


PROPORTIONS = "two-proportion z test (pooled), Wald interval"
MEANS = "Welch's unequal-variance z test (large-sample normal), Welch interval"


def proportion_difference(n_t: int, x_t: int, n_c: int, x_c: int) -> Estimate:
    if n_t < MIN_GROUP or n_c < MIN_GROUP:
        return Estimate.none(PROPORTIONS)
    p_t, p_c = x_t / n_t, x_c / n_c
    d = p_t - p_c
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    pooled = (x_t + x_c) / (n_t + n_c)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    p = 1.0 if se0 == 0 else two_sided_p(d / se0)
    return Estimate(d, d - Z95 * se, d + Z95 * se, p, PROPORTIONS)


def _variance(n: int, total: float, squares: float) -> float:
    mean = total / n
    return max(squares - n * mean * mean, 0.0) / (n - 1)


def mean_difference(n_t: int, sum_t: float, sq_t: float, n_c: int, sum_c: float, sq_c: float) -> Estimate:
    if n_t < MIN_GROUP or n_c < MIN_GROUP:
        return Estimate.none(MEANS)
    d = sum_t / n_t - sum_c / n_c
    se = math.sqrt(_variance(n_t, sum_t, sq_t) / n_t + _variance(n_c, sum_c, sq_c) / n_c)
    p = (1.0 if d == 0 else 0.0) if se == 0 else two_sided_p(d / se)
    return Estimate(d, d - Z95 * se, d + Z95 * se, p, MEANS)
