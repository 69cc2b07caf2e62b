"""Calibration / holdout reports on small synthetic batches."""

import numpy as np
import pytest

from plugins.clv.fitters import ClvInputError
from plugins.clv.validation import calibration_holdout

DAY = 86400
T0 = 1_700_006_400  # a midnight UTC


def synthetic_batch(n=400, seed=5):
    """BG/NBD customers in days: first purchase in the first 30 days, watched to day 200."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(0.5, 1 / 10.0, n)  # purchases per day
    dropout = rng.beta(0.8, 2.5, n)
    per_customer = []
    for i in range(n):
        t = rng.uniform(0, 30)
        days = [t]
        while True:
            t += rng.exponential(1 / rates[i])
            if t >= 200:
                break
            days.append(t)
            if rng.random() < dropout[i]:
                break
        per_customer.append(np.floor(np.array(days) * DAY).astype(np.int64) + T0)
    offsets = np.concatenate([[0], np.cumsum([t.size for t in per_customer])]).astype(np.int64)
    times = np.concatenate(per_customer)
    return offsets, times, np.full(times.size, 10.0)


BATCH = synthetic_batch()
CAL_END = T0 + 100 * DAY
OBS_END = T0 + 200 * DAY


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "paretonbd"])
def test_report_adds_up(model):
    # a tiny penalty: on BG/NBD data Pareto/NBD's death-rate spread runs off to infinity
    report = calibration_holdout(
        *BATCH, CAL_END, OBS_END, unit="day", model=model, top_frequency=3, penalizer_coef=1e-6
    )
    n = report.customers.size
    assert report.holdout_length == 100.0
    assert report.actual.shape == report.predicted.shape == (n,)
    assert report.total_actual == report.actual.sum()
    assert report.total_predicted == pytest.approx(report.predicted.sum())
    assert report.mean_absolute_error == pytest.approx(np.abs(report.actual - report.predicted).mean())
    assert [g.label for g in report.by_frequency] == ["0", "1", "2", "3+"]
    assert sum(g.n_customers for g in report.by_frequency) == n
    weighted = sum(g.n_customers * g.mean_actual for g in report.by_frequency)
    assert weighted == pytest.approx(report.total_actual)
    # the model is not the simulation, but it should not be far off in total
    assert 0.6 < report.total_predicted / report.total_actual < 1.5
    assert report.correlation is not None and report.correlation > 0.4


def test_only_customers_seen_by_calibration_end_are_scored():
    offsets, times, amounts = BATCH
    report = calibration_holdout(offsets, times, amounts, CAL_END, OBS_END)
    first = times[offsets[:-1][np.diff(offsets) > 0]]
    assert report.customers.size == np.sum(first <= CAL_END)


def test_holdout_counts_purchase_days_after_calibration_end():
    offsets, times, amounts = BATCH
    mine = T0 + np.array([0, DAY, 150 * DAY + 9 * 3600, 150 * DAY + 15 * 3600, 170 * DAY, 250 * DAY], dtype=np.int64)
    report = calibration_holdout(
        np.append(offsets, offsets[-1] + mine.size),
        np.concatenate([times, mine]),
        np.concatenate([amounts, np.ones(mine.size)]),
        CAL_END,
        OBS_END,
    )
    last = report.customers.size - 1
    assert report.customers[last] == offsets.size - 1  # the appended customer, scored last
    assert (report.frequency[last], report.recency[last], report.T[last]) == (1, 1.0, 100.0)
    assert report.actual[last] == 2  # day 150 (twice, one period) and day 170; day 250 is past the end
    assert report.predicted[last] > 0


def test_too_few_customers_to_fit():
    offsets = np.array([0, 2, 4, 5])
    times = (T0 + DAY * np.array([0, 1, 0, 2, 5])).astype(np.int64)
    with pytest.raises(ClvInputError, match="^frequency: 3 customers are too few"):
        calibration_holdout(offsets, times, np.ones(5), T0 + 10 * DAY, T0 + 60 * DAY)


def test_bad_arguments():
    with pytest.raises(ClvInputError, match="^model:"):
        calibration_holdout(*BATCH, CAL_END, OBS_END, model="cox")
    with pytest.raises(ClvInputError, match="^observation_end:"):
        calibration_holdout(*BATCH, CAL_END, CAL_END)
    with pytest.raises(ClvInputError, match="^calibration_end: no customer"):
        calibration_holdout(*BATCH, T0 - DAY, OBS_END)
