"""The monthly trend of the index, with its significant peaks and troughs.

A month is a PEAK when its mean index is significantly above the mean of
all the other months' respondents together, a TROUGH when significantly
below: Welch's two-sample test (normal reference), two-sided, its p-values
adjusted over the months with Holm's method so that the chance of flagging
any month of a flat series stays at most 1 − ci_level. The change from the
previous month is tested the same way (Holm over the month pairs) and
reported as RISE or FALL when significant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from plugins.satisfaction import stats


@dataclass
class TrendPoint:
    month: int  # yyyymm
    respondents: int
    index: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    flag: Optional[str]  # PEAK / TROUGH / None
    p_value: Optional[float]  # Holm-adjusted, against the other months
    change: Optional[float]  # index points since the previous month
    change_flag: Optional[str]  # RISE / FALL / None
    change_p_value: Optional[float]  # Holm-adjusted


def _opt(value) -> Optional[float]:
    return float(value) if value is not None and np.isfinite(value) else None


def monthly(months: np.ndarray, count: np.ndarray, total: np.ndarray, squares: np.ndarray, level: float) -> list[TrendPoint]:
    """Trend points from each month's index sums (count, sum, sum of squares), months ascending."""
    order = np.argsort(months, kind="stable")
    months, count, total, squares = (np.asarray(a, np.float64)[order] for a in (months, count, total, squares))
    alpha = 1.0 - level
    mean, low, high = stats.mean_interval(count, total, squares, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(squares - count * mean * mean, 0.0) / (count - 1)
        rest_n = count.sum() - count
        rest_mean = (total.sum() - total) / rest_n
        rest_var = np.maximum((squares.sum() - squares) - rest_n * rest_mean ** 2, 0.0) / (rest_n - 1)
    usable = (count >= 2) & (rest_n >= 2)
    z, p = stats.welch_z(mean, var, count, rest_mean, rest_var, rest_n)
    p = stats.holm(np.where(usable, p, np.nan))
    # Month over month.
    change = np.full(months.size, np.nan)
    change_p = np.full(months.size, np.nan)
    if months.size > 1:
        change[1:] = mean[1:] - mean[:-1]
        _, pair_p = stats.welch_z(mean[1:], var[1:], count[1:], mean[:-1], var[:-1], count[:-1])
        pair_ok = (count[1:] >= 2) & (count[:-1] >= 2)
        change_p[1:] = stats.holm(np.where(pair_ok, pair_p, np.nan))
    points = []
    for m in range(months.size):
        flag = None
        if np.isfinite(p[m]) and p[m] < alpha:
            flag = "PEAK" if z[m] > 0 else "TROUGH"
        change_flag = None
        if np.isfinite(change_p[m]) and change_p[m] < alpha:
            change_flag = "RISE" if change[m] > 0 else "FALL"
        points.append(TrendPoint(int(months[m]), int(count[m]), _opt(mean[m]), _opt(low[m]), _opt(high[m]), flag,
                                 _opt(p[m]), _opt(change[m]), change_flag, _opt(change_p[m])))
    return points


def of_analysis(analysis) -> list[TrendPoint]:
    """The trend of an analysis sliced by month alone."""
    if analysis.by != ("month",):
        raise ValueError("the trend needs an analysis sliced by month")
    months = np.array([key["month"] for key in analysis.keys], np.int64)
    idx = analysis.aggregates.index
    return monthly(months, idx[:, 0], idx[:, 1], idx[:, 2], analysis.level)
