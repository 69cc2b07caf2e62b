"""Golden tests: every published CDNOW value, to the precision it was printed.

Sources and values: tests/data/cdnow/README.md.
"""

from pathlib import Path

import numpy as np
import pytest

from plugins.clv.fitters import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from plugins.clv.summary import summarise
from plugins.clv.validation import calibration_holdout

DATA = Path(__file__).resolve().parents[2] / "data" / "cdnow"
DAY = 86400


def epoch(day: str) -> int:
    return int(np.datetime64(day, "s").astype(np.int64))


def load_summary():
    rows = np.loadtxt(DATA / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
    return rows[:, 0].astype(int), rows[:, 1], rows[:, 2], rows[:, 3]


def load_summary_with_spend():
    rows = np.loadtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    return rows[:, 0].astype(int), rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]


def load_sample():
    """The transactions as the engine's columnar batch, customers ordered by new_id."""
    raw = np.loadtxt(DATA / "CDNOW_sample.txt", dtype=str)
    ids = raw[:, 1].astype(int)
    days = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[s]").astype(np.int64)
    amounts = raw[:, 4].astype(float)
    order = np.lexsort((days, ids))
    ids, days, amounts = ids[order], days[order], amounts[order]
    customers, counts = np.unique(ids, return_counts=True)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return customers, offsets, days, amounts


def assert_printed(actual, printed: str):
    """actual rounds to the printed value: |actual - printed| <= half a unit in its last place."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    assert abs(actual - float(printed)) <= 0.5 * 10.0**-decimals + 1e-12, (actual, printed)


@pytest.fixture(scope="module")
def cdnow():
    return load_summary()


@pytest.fixture(scope="module")
def bgf(cdnow):
    _, x, t_x, T = cdnow
    return BetaGeoFitter().fit(x, t_x, T)


def test_bgnbd_parameters_and_log_likelihood(bgf):
    for name, printed in (("r", "0.243"), ("alpha", "4.414"), ("a", "0.793"), ("b", "2.426")):
        assert_printed(bgf.params_[name], printed)
    assert_printed(bgf.log_likelihood_, "-9582.4")
    assert bgf.n_customers_ == 2357


def test_bgnbd_standard_errors_match_lifetimes(bgf):
    # lifetimes 0.11.3 summary on the same data: se(coef) r 0.012557, alpha 0.378221, a 0.185719, b 0.705345
    expected = {"r": 0.012557, "alpha": 0.378221, "a": 0.185719, "b": 0.705345}
    for name, se in expected.items():
        assert bgf.standard_errors_[name] == pytest.approx(se, rel=2e-3)


def test_bgnbd_conditional_expectation_1_226(bgf):
    value = bgf.conditional_expected_number_of_purchases_up_to_time(39, [2], [30.43], [38.86])
    assert_printed(value[0], "1.226")


def test_bgnbd_unconditional_expectations(bgf):
    times = [0.1429, 1, 3, 31.8571, 32]
    published = ["0.0078", "0.0532", "0.1506", "1.0405", "1.0437"]
    values = bgf.expected_number_of_purchases_up_to_time(np.array(times))
    for value, printed in zip(values, published):
        assert_printed(value, printed)


def test_bgnbd_expectation_at_78_weeks_is_the_exact_series_value(bgf):
    # Published 1.8576 comes from a 2F1 series cut short; the converged value is 1.85797
    # (scipy.special.hyp2f1 and lifetimes agree), 4e-4 above the printed figure.
    value = bgf.expected_number_of_purchases_up_to_time(78.0)
    assert value == pytest.approx(1.85797, abs=1e-5)
    assert abs(value - 1.8576) < 1e-3


def test_paretonbd_parameters_and_log_likelihood(cdnow):
    _, x, t_x, T = cdnow
    fitter = ParetoNBDFitter().fit(x, t_x, T)
    for name, printed in (("r", "0.553"), ("alpha", "10.578"), ("s", "0.606")):
        assert_printed(fitter.params_[name], printed)
    assert_printed(fitter.log_likelihood_, "-9595.0")
    # beta is printed as 11.669; the maximum is at 11.6679 (gradient 1e-12 there, and
    # lifetimes stops at 11.6685). The likelihood is flat along beta (se 6.2): the
    # printed point is 8e-5 lower in log-likelihood, within its optimiser's tolerance.
    assert abs(fitter.params_["beta"] - 11.669) < 1.5e-3
    published = ParetoNBDFitter.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
    assert published.params_["beta"] == 11.669
    from plugins.clv.kernels import paretonbd_loglik

    at_published, _ = paretonbd_loglik(np.array([0.553, 10.578, 0.606, 11.669]), x, t_x, T, np.ones_like(x))
    assert fitter.log_likelihood_ - 1e-3 < at_published < fitter.log_likelihood_


def test_mbgnbd_parameters(cdnow):
    _, x, t_x, T = cdnow
    fitter = ModifiedBetaGeoFitter().fit(x, t_x, T)
    for name, printed in (("r", "0.525"), ("alpha", "6.183"), ("a", "0.891"), ("b", "1.614")):
        assert_printed(fitter.params_[name], printed)


@pytest.fixture(scope="module")
def ggf():
    _, x, _, _, zbar = load_summary_with_spend()
    return GammaGammaFitter().fit(x, zbar)


def test_gamma_gamma_parameters_and_log_likelihood(ggf):
    for name, printed in (("p", "6.25"), ("q", "3.74")):
        assert_printed(ggf.params_[name], printed)
    assert_printed(ggf.log_likelihood_, "-4055.92")
    assert ggf.n_customers_ == 946
    # gamma is printed as 15.44; the maximum is at 15.4477 (lifetimes: 15.4477 too). The
    # printed triple (6.25, 3.74, 15.44) is a nearby point of the flat p-gamma ridge
    # whose log-likelihood, -4055.9247, also prints as -4055.92.
    assert 15.44 <= ggf.params_["gamma"] < 15.45
    from plugins.clv.kernels import gammagamma_loglik

    _, x, _, _, zbar = load_summary_with_spend()
    repeat = x > 0
    at_published, _ = gammagamma_loglik(np.array([6.25, 3.74, 15.44]), x[repeat], zbar[repeat], np.ones(946))
    assert_printed(at_published, "-4055.92")
    assert at_published < ggf.log_likelihood_


def test_gamma_gamma_expected_spend_of_first_ten(ggf):
    _, x, _, _, zbar = load_summary_with_spend()
    spend = ggf.conditional_expected_average_profit(x[:10], zbar[:10])
    published = ["24.65", "18.91", "35.17", "35.17", "35.17", "71.46", "18.91", "35.17", "27.28", "35.17"]
    # printed truncated to cents (24.6586 shows as 24.65, as in lifetimes' documentation)
    for value, printed in zip(spend, published):
        assert float(printed) <= value < float(printed) + 0.01, (value, printed)
    assert spend[0] == pytest.approx(24.6586, abs=1e-4)


# --- the summaries are what summary.py makes of the transactions ------------


@pytest.fixture(scope="module")
def sample_summary():
    customers, offsets, times, amounts = load_sample()
    return customers, summarise(offsets, times, amounts, epoch("1997-09-30"), unit="week", period="day")


def test_sample_summary_reproduces_frequency_recency_T(sample_summary):
    customers, summary = sample_summary
    ids, x, t_x, T = load_summary()
    np.testing.assert_array_equal(customers, ids)
    assert summary.observed.all()
    np.testing.assert_array_equal(summary.frequency, x)
    # the file rounds to 2 decimals; ours are exact day counts / 7
    assert np.abs(summary.recency - t_x).max() <= 0.005
    assert np.abs(summary.T - T).max() <= 0.005
    np.testing.assert_array_equal(np.round(summary.recency, 2), t_x)
    np.testing.assert_array_equal(np.round(summary.T, 2), T)


def test_sample_summary_reproduces_mean_repeat_spend(sample_summary):
    _, summary = sample_summary
    _, _, _, _, zbar = load_summary_with_spend()
    # the file rounds half-cents up (54.585 -> 54.59) where numpy rounds to even
    half_up = np.floor(summary.monetary_value * 100.0 + 0.5 + 1e-9) / 100.0
    np.testing.assert_allclose(half_up, zbar, atol=1e-9)
    assert 0 < np.sum(np.round(summary.monetary_value, 2) != zbar) < 100  # the half-cent cases


def test_sample_holdout_against_a_direct_count():
    customers, offsets, times, amounts = load_sample()
    start, end = epoch("1997-09-30"), epoch("1998-06-30")
    report = calibration_holdout(offsets, times, amounts, start, end, unit="week", period="day")
    assert report.holdout_length == 39.0
    expected = np.zeros(customers.size)
    for i in range(customers.size):
        days = times[offsets[i] : offsets[i + 1]]
        expected[i] = np.unique(days[(days > start) & (days <= end)]).size
    np.testing.assert_array_equal(report.actual, expected)
    assert report.total_actual == 1882
    assert report.params["r"] == pytest.approx(0.2426, abs=5e-4)  # the calibration summary is the golden one
    # BG/NBD under-predicts this holdout somewhat (FHL 2005, figure 4 shows the same shape)
    assert 0.8 < report.total_predicted / report.total_actual < 0.95
    assert [g.label for g in report.by_frequency] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(g.n_customers for g in report.by_frequency) == customers.size
    means = [g.mean_predicted for g in report.by_frequency]
    assert means == sorted(means)  # more past purchases, more expected
    assert report.correlation is not None and report.correlation > 0.5
