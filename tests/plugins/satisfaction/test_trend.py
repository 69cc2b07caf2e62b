"""The monthly trend flags planted peaks and troughs, and nothing in a flat series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from plugins.satisfaction import stats, trend
from plugins.satisfaction.kernels import aggregate
from plugins.satisfaction.simulate import simulate

ITEM_DIM = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4])
MONTHS = np.array([202401 + i for i in range(12)])


def series(shifts, per_month=400, seed=0):
    month_of = np.repeat(np.arange(12), per_month)
    sim = simulate(month_of.size, ITEM_DIM, np.full(5, 0.2), seed=seed, shift=np.asarray(shifts)[month_of])
    agg = aggregate(sim.scores, month_of, 12, ITEM_DIM, np.ones(5), sim.overall, sim.nps, sim.recommend, sim.repurchase)
    return trend.monthly(MONTHS, agg.index[:, 0], agg.index[:, 1], agg.index[:, 2], 0.95), agg


def test_planted_trough_and_peak_are_flagged():
    shifts = np.zeros(12)
    shifts[4] = -0.5  # a bad month
    shifts[9] = 0.5
    points, _ = series(shifts, seed=1)
    flags = {p.month: p.flag for p in points if p.flag}
    assert flags == {202405: "TROUGH", 202410: "PEAK"}
    assert points[4].change_flag == "FALL" and points[5].change_flag == "RISE"


def test_flat_series_flags_nothing():
    for seed in range(5):
        points, _ = series(np.zeros(12), seed=10 + seed)
        assert not [p for p in points if p.flag or p.change_flag]


def test_points_match_the_monthly_means_and_welch_against_the_rest():
    points, agg = series(np.zeros(12), per_month=50, seed=2)
    count, total, squares = agg.index[:, 0], agg.index[:, 1], agg.index[:, 2]
    m = 3
    mean = total[m] / count[m]
    assert points[m].index == pytest.approx(mean) and points[m].respondents == count[m]
    # the month against every other month's respondents, by hand
    var = (squares[m] - count[m] * mean ** 2) / (count[m] - 1)
    rest = np.delete(np.arange(12), m)
    n_r = count[rest].sum()
    mean_r = total[rest].sum() / n_r
    var_r = (squares[rest].sum() - n_r * mean_r ** 2) / (n_r - 1)
    z = (mean - mean_r) / np.sqrt(var / count[m] + var_r / n_r)
    _, p = stats.welch_z(mean, var, count[m], mean_r, var_r, n_r)
    assert p == pytest.approx(2 * (1 - norm.cdf(abs(z))))
    assert points[m].p_value >= p  # Holm never lowers a p-value


def test_holm_adjustment():
    assert list(stats.holm(np.array([0.01, 0.04, 0.03, np.nan])))[:3] == pytest.approx([0.03, 0.06, 0.06])
