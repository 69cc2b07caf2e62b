"""The uplift estimates against scipy (an independent reference) and, on
simulated groups of known uplift, the 95% intervals' coverage."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from plugins.campaigns.uplift import mean_difference, proportion_difference


def test_the_conversion_test_is_the_two_proportion_z_test_scipy_computes_as_chi_square():
    n_t, x_t, n_c, x_c = 900, 243, 100, 18
    e = proportion_difference(n_t, x_t, n_c, x_c)
    assert e.estimate == pytest.approx(243 / 900 - 18 / 100)
    _, p, _, _ = stats.chi2_contingency([[x_t, n_t - x_t], [x_c, n_c - x_c]], correction=False)
    assert e.p_value == pytest.approx(p, rel=1e-9)
    se = math.sqrt(0.27 * 0.73 / 900 + 0.18 * 0.82 / 100)
    assert (e.low, e.high) == pytest.approx((e.estimate - 1.959964 * se, e.estimate + 1.959964 * se), rel=1e-6)


def test_the_revenue_test_is_welchs_statistic_with_the_normal_distribution():
    rng = np.random.default_rng(3)
    t = np.where(rng.random(800) < 0.3, rng.gamma(2.0, 150.0, 800), 0.0)
    c = np.where(rng.random(200) < 0.2, rng.gamma(2.0, 150.0, 200), 0.0)
    e = mean_difference(len(t), t.sum(), (t * t).sum(), len(c), c.sum(), (c * c).sum())
    welch = stats.ttest_ind(t, c, equal_var=False)
    assert e.estimate == pytest.approx(t.mean() - c.mean())
    se = math.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
    assert welch.statistic == pytest.approx(e.estimate / se)
    assert e.p_value == pytest.approx(2 * stats.norm.sf(abs(welch.statistic)))
    assert e.p_value == pytest.approx(welch.pvalue, abs=0.002)  # t and normal agree at these sizes


def test_groups_under_thirty_get_no_figures():
    assert proportion_difference(29, 5, 500, 50).estimate is None
    assert mean_difference(500, 1.0, 1.0, 10, 1.0, 1.0).low is None


def test_on_simulated_campaigns_of_known_uplift_the_intervals_cover_it_about_95_times_in_100():
    rnd = random.Random(11)
    p_holdout, uplift, spend = 0.20, 0.06, 200.0
    covered_rate = covered_revenue = 0
    runs = 400
    for _ in range(runs):
        n_t, n_c = 1800, 200
        buys_t = [rnd.random() < p_holdout + uplift for _ in range(n_t)]
        buys_c = [rnd.random() < p_holdout for _ in range(n_c)]
        rev_t = [rnd.expovariate(1 / spend) if b else 0.0 for b in buys_t]
        rev_c = [rnd.expovariate(1 / spend) if b else 0.0 for b in buys_c]
        e = proportion_difference(n_t, sum(buys_t), n_c, sum(buys_c))
        covered_rate += e.low <= uplift <= e.high
        r = mean_difference(n_t, sum(rev_t), sum(x * x for x in rev_t), n_c, sum(rev_c), sum(x * x for x in rev_c))
        covered_revenue += r.low <= uplift * spend <= r.high
    # 95% nominal; with 400 runs the binomial spread is ±2.2 points at 2 sigma
    assert 0.91 <= covered_rate / runs <= 0.99
    assert 0.91 <= covered_revenue / runs <= 0.99
