"""The churn-risk validation on CDNOW: AUC checked against a plain-Python pair count, and the
score against the recency-only baseline (figures in docs/lifecycle-analytics.md)."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.clv.settings import ClvSettings
from plugins.lifecycle.validation import auc, clv_risk_at, outcomes, report, top_decile_lift, validate_history
from tests.plugins.clv.test_clv_cdnow import epoch, load_sample

SPLIT = "1997-10-01"  # the end of the published 39-week calibration period


def pair_count_auc(scores, positive):
    """Every (positive, negative) pair: 1 when the positive scores higher, 1/2 on a tie."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = 0.0
    for a in pos:
        for b in neg:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def cdnow():
    _, offsets, times, amounts = load_sample()
    return offsets, times, amounts


def test_auc_matches_a_plain_pair_count_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 400).astype(float)  # many ties
    positive = rng.random(400) < 0.3
    assert auc(scores, positive) == pytest.approx(pair_count_auc(scores.tolist(), positive.tolist()), abs=1e-12)
    assert auc(scores, np.zeros(400, bool)) is None


def test_cdnow_risk_beats_recency_and_the_figures_are_right(cdnow):
    offsets, times, amounts = cdnow
    split = epoch(SPLIT)
    result = validate_history(offsets, times, amounts, split, 90)
    assert result.customers == 2357  # every CDNOW customer first bought in 1997 Q1, before the split
    had, came_back, recency = outcomes(offsets, times, split, 90)
    # who came back, from the raw file: a purchase in Oct-Dec 1997
    owner = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    window = (times > split) & (times <= split + 90 * 86400)
    assert result.came_back == np.unique(owner[window]).size == 400
    from plugins.lifecycle.risk import risk_from_history

    risk = risk_from_history(offsets, times, amounts, split, 90, 365).risk
    churned = (~came_back).tolist()
    assert result.auc == pytest.approx(pair_count_auc(risk.tolist(), churned), abs=1e-12)
    assert result.baseline_auc == pytest.approx(pair_count_auc(recency.tolist(), churned), abs=1e-12)
    assert result.auc > result.baseline_auc + 0.005  # 0.795 against 0.783
    assert result.top_decile_lift >= result.baseline_top_decile_lift
    # calibration: ten bands, risk rising, and the observed share rising with it from the bottom band to the top
    bands = result.calibration
    assert [b.band for b in bands] == list(range(1, 11)) and sum(b.customers for b in bands) == 2357
    assert all(x.mean_risk <= y.mean_risk for x, y in zip(bands, bands[1:]))
    assert bands[0].observed_no_purchase < 0.45 and bands[-1].observed_no_purchase > 0.9
    assert all(abs(b.mean_risk - b.observed_no_purchase) < 0.06 for b in bands)  # calibrated to within 6 points
    # lift by hand: the riskiest 236 customers' no-return share over everyone's
    top = np.argsort(-risk, kind="stable")[:236]
    assert result.top_decile_lift == pytest.approx((~came_back)[top].mean() / (~came_back).mean())


def test_cdnow_clv_risk_beats_recency(cdnow):
    offsets, times, amounts = cdnow
    split = epoch(SPLIT)
    risk = clv_risk_at(offsets, times, amounts, split, 90, ClvSettings(unit="WEEK"))
    had, came_back, recency = outcomes(offsets, times, split, 90)
    result = report(risk, had, came_back, recency, split, 90, "clv")
    assert result.auc == pytest.approx(pair_count_auc(risk.tolist(), (~came_back).tolist()), abs=1e-12)
    assert result.auc > result.baseline_auc


def test_lift_of_a_perfect_and_of_a_useless_score():
    positive = np.array([True] * 10 + [False] * 90)
    assert top_decile_lift(positive.astype(float), positive) == pytest.approx(10.0)
    # a constant score: the top decile is the first ten customers (ties keep customer order), reproducibly
    assert top_decile_lift(np.zeros(100), positive) == pytest.approx(10.0)
    assert top_decile_lift(np.zeros(100), positive[::-1]) == 0.0
