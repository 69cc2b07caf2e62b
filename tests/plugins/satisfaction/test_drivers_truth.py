"""Derived weights recover the weights the answers were generated from,
within their confidence intervals, and the IPA matrix ranks what to fix."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.satisfaction import drivers, ipa
from plugins.satisfaction.kernels import aggregate
from plugins.satisfaction.simulate import simulate

ITEM_DIM = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4])
TRUE = np.array([0.10, 0.35, 0.05, 0.25, 0.15])


def derive(sim, level=0.95, target="OVERALL"):
    n = sim.scores.shape[0]
    agg = aggregate(sim.scores, np.zeros(n, np.int64), 1, ITEM_DIM, np.ones(5), sim.overall, sim.nps, sim.recommend,
                    sim.repurchase, target=target)
    return drivers.solve(agg.cross[0], level, target), agg


def test_weights_recovered_within_their_intervals():
    got, _ = derive(simulate(20_000, ITEM_DIM, TRUE, seed=7, intercept=0.3, missing=0.02))
    assert got.respondents > 15_000
    for w, truth in zip(got.weights, TRUE):
        assert w.ci_low <= truth <= w.ci_high, (w, truth)
        assert w.ci_high - w.ci_low < 0.06  # informative, not just wide
    # importance: the coefficients normalised, in the true order
    assert [w.dimension for w in sorted(got.weights, key=lambda w: -w.importance)] == list(np.argsort(-TRUE))
    assert sum(w.importance for w in got.weights) == pytest.approx(1.0)


def test_intervals_cover_the_truth_at_their_stated_rate():
    """Over 200 simulated surveys each 95% interval covers its true weight about 95% of the time."""
    covered = np.zeros(5)
    for seed in range(200):
        got, _ = derive(simulate(1_500, ITEM_DIM, TRUE, seed=1000 + seed, intercept=0.3))
        covered += [w.ci_low <= t <= w.ci_high for w, t in zip(got.weights, TRUE)]
    rate = covered / 200
    assert np.all(rate >= 0.89) and np.all(rate <= 0.995), rate


def test_a_dimension_that_does_not_matter_gets_an_interval_around_zero():
    truth = np.array([0.3, 0.3, 0.0, 0.3, 0.0])
    got, _ = derive(simulate(10_000, ITEM_DIM, truth, seed=3, intercept=0.3))
    for d in (2, 4):
        assert got.weights[d].ci_low <= 0 <= got.weights[d].ci_high
        assert got.weights[d].p_value > 0.001


def test_repurchase_target_explained_through_overall():
    got, _ = derive(simulate(10_000, ITEM_DIM, TRUE, seed=4, intercept=0.3), target="REPURCHASE")
    assert got.target == "REPURCHASE"
    # repurchase = 0.6 + 0.8 overall + noise: its true weights are 0.8 × the overall ones, attenuated by rounding
    assert got.weights[1].coefficient > got.weights[2].coefficient


def test_ipa_quadrants_and_fix_first_order():
    importance = np.array([0.10, 0.35, 0.05, 0.25, 0.25])
    performance = np.array([80.0, 55.0, 60.0, 40.0, 75.0])  # 0–100
    m = ipa.matrix(importance, performance)
    assert m.importance_cut == pytest.approx(0.2) and m.performance_cut == pytest.approx(62.0)
    assert [p.quadrant for p in m.points] == ["POSSIBLE_OVERKILL", "FIX_FIRST", "LOW_PRIORITY", "FIX_FIRST", "KEEP_UP"]
    # importance × room to gain: 0.35 × 45 = 15.75 before 0.25 × 60 = 15
    assert [p.dimension for p in m.fix_first()] == [1, 3]


def test_ipa_leaves_out_dimensions_without_figures():
    m = ipa.matrix(np.array([0.5, np.nan, 0.5]), np.array([50.0, 60.0, np.nan]))
    assert [p.dimension for p in m.points] == [0]
