"""Fitters: input errors, fit failures, weights, penalty, predictions."""

import numpy as np
import pytest

from plugins.clv.fitters import (
    BetaGeoFitter,
    ClvFitError,
    ClvInputError,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)

TRANSACTION_FITTERS = [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter]


def simulate_bgnbd(n, r=0.5, alpha=8.0, a=0.8, b=2.5, seed=0):
    """Continuous-time BG/NBD customers observed for T in [20, 40]."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(20, 40, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, T


DATA = simulate_bgnbd(600)


@pytest.fixture(scope="module")
def bgf():
    return BetaGeoFitter().fit(*DATA)


# --- input errors ---------------------------------------------------------------

BAD_RFM = [
    (([1, 2], [1.0], [2.0, 2.0]), "recency", "length 1 differs"),
    (([1, -1], [1.0, 0.0], [2.0, 2.0]), "frequency", ">= 0"),
    (([1, 1], [1.0, -1.0], [2.0, 2.0]), "recency", ">= 0"),
    (([1, 1], [1.0, 3.0], [2.0, 2.0]), "recency", "must not exceed T"),
    (([0, 1], [1.0, 1.0], [2.0, 2.0]), "recency", "must be 0 when frequency is 0"),
    (([1.5, 1], [1.0, 1.0], [2.0, 2.0]), "frequency", "whole numbers"),
    (([1, 1], [1.0, np.nan], [2.0, 2.0]), "recency", "finite"),
    (([1, 1], [1.0, 1.0], [2.0, np.inf]), "T", "finite"),
]


@pytest.mark.parametrize("fitter", TRANSACTION_FITTERS)
@pytest.mark.parametrize("args, field, words", BAD_RFM)
def test_bad_rfm_input_names_the_field(fitter, args, field, words):
    with pytest.raises(ClvInputError, match=f"^{field}:.*{words}"):
        fitter().fit(*args)


@pytest.mark.parametrize("args, field, words", BAD_RFM)
def test_predictions_validate_too(bgf, args, field, words):
    with pytest.raises(ClvInputError, match=f"^{field}:"):
        bgf.conditional_probability_alive(*args)


@pytest.mark.parametrize("fitter", TRANSACTION_FITTERS)
def test_too_few_customers(fitter):
    with pytest.raises(ClvInputError, match="^frequency: 11 customers are too few.*need at least 12"):
        fitter().fit(*(v[:11] for v in DATA))


@pytest.mark.parametrize("fitter", TRANSACTION_FITTERS)
def test_no_repeat_buyers(fitter):
    n = 50
    with pytest.raises(ClvInputError, match="^frequency: all customers have zero repeat purchases"):
        fitter().fit(np.zeros(n), np.zeros(n), np.full(n, 10.0))


def test_weights_are_checked():
    x, t_x, T = DATA
    with pytest.raises(ClvInputError, match="^weights: length 3 differs"):
        BetaGeoFitter().fit(x, t_x, T, weights=[1, 2, 3])
    with pytest.raises(ClvInputError, match="^weights: must be >= 0"):
        BetaGeoFitter().fit(x, t_x, T, weights=-np.ones(x.size))
    with pytest.raises(ClvInputError, match="^frequency: 11 customers are too few"):
        BetaGeoFitter().fit(x[:11], t_x[:11], T[:11])
    # weights count customers: 200 rows each standing for 3 fit like the 600 rows written out
    weighted = BetaGeoFitter().fit(x[:200], t_x[:200], T[:200], weights=np.full(200, 3))
    repeated = BetaGeoFitter().fit(np.repeat(x[:200], 3), np.repeat(t_x[:200], 3), np.repeat(T[:200], 3))
    assert weighted.n_customers_ == repeated.n_customers_ == 600
    for name, value in repeated.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-5)


def test_penalizer_is_checked():
    with pytest.raises(ClvInputError, match="^penalizer_coef:"):
        BetaGeoFitter().fit(*DATA, penalizer_coef=-0.1)
    with pytest.raises(ClvInputError, match="^penalizer_coef:"):
        BetaGeoFitter(penalizer_coef=float("nan"))


def test_gamma_gamma_input_errors():
    x = np.array([1, 2, 0, 3] * 5, dtype=float)
    m = np.array([10.0, 20.0, 0.0, 15.0] * 5)
    with pytest.raises(ClvInputError, match=r"^monetary_value: must be > 0 .*customer 1 has 0.0"):
        GammaGammaFitter().fit(x, np.where(np.arange(20) == 1, 0.0, m))
    with pytest.raises(ClvInputError, match="^monetary_value: length 3 differs"):
        GammaGammaFitter().fit(x, m[:3])
    with pytest.raises(ClvInputError, match="^frequency: all customers have zero repeat purchases"):
        GammaGammaFitter().fit(np.zeros(20), np.zeros(20))
    with pytest.raises(ClvInputError, match="^frequency: 8 customers are too few"):
        GammaGammaFitter().fit(x[:11], m[:11])  # 8 of the 11 have repeat purchases


def test_unfitted_models_refuse_to_predict():
    with pytest.raises(ClvFitError, match="not fitted"):
        BetaGeoFitter().conditional_probability_alive([1], [1.0], [2.0])
    with pytest.raises(ClvFitError, match="not fitted"):
        GammaGammaFitter().conditional_expected_average_profit([1], [10.0])


def test_from_params_checks_names_and_values():
    with pytest.raises(ClvInputError, match="^params: missing b"):
        BetaGeoFitter.from_params({"r": 1, "alpha": 1, "a": 1})
    with pytest.raises(ClvInputError, match="^params: must all be finite and > 0"):
        ParetoNBDFitter.from_params({"r": 1, "alpha": 1, "s": 0, "beta": 1})


def test_prediction_arguments_are_checked(bgf):
    x, t_x, T = (v[:5] for v in DATA)
    with pytest.raises(ClvInputError, match="^t: must be >= 0"):
        bgf.conditional_expected_number_of_purchases_up_to_time(-1, x, t_x, T)
    with pytest.raises(ClvInputError, match="^t: must be a single number"):
        bgf.conditional_expected_number_of_purchases_up_to_time([1, 2], x, t_x, T)
    with pytest.raises(ClvInputError, match="^time: must be a whole number"):
        bgf.customer_lifetime_value(x, t_x, T, np.ones(5), time=1.5)
    with pytest.raises(ClvInputError, match="^unit:"):
        bgf.customer_lifetime_value(x, t_x, T, np.ones(5), unit="year")
    with pytest.raises(ClvInputError, match="^expected_spend: length 4 differs"):
        bgf.customer_lifetime_value(x, t_x, T, np.ones(4))


# --- fitting ----------------------------------------------------------------------


def test_recovers_simulated_parameters():
    x, t_x, T = simulate_bgnbd(8000, seed=1)
    fit = BetaGeoFitter().fit(x, t_x, T)
    truth = {"r": 0.5, "alpha": 8.0, "a": 0.8, "b": 2.5}
    for name, value in truth.items():
        # within 3 standard errors of the truth
        assert abs(fit.params_[name] - value) < 3 * fit.standard_errors_[name], (name, fit.params_, fit.standard_errors_)


@pytest.mark.parametrize("fitter", TRANSACTION_FITTERS)
def test_weighted_rows_fit_like_the_customers_they_stand_for(fitter):
    x, t_x, T = (np.round(v) for v in DATA)  # rounded times repeat, so rows collapse
    t_x = np.minimum(t_x, T)
    t_x[x == 0] = 0
    # a small penalty: Pareto/NBD's death-rate heterogeneity is not identified on BG/NBD data
    full = fitter(penalizer_coef=1e-4).fit(x, t_x, T)
    rows, counts = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    weighted = fitter(penalizer_coef=1e-4).fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)
    assert weighted.n_customers_ == full.n_customers_ == x.size
    assert weighted.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-9)
    for name in full.params_:
        assert weighted.params_[name] == pytest.approx(full.params_[name], rel=1e-4)


def test_penalizer_shrinks_parameters(bgf):
    penalised = BetaGeoFitter().fit(*DATA, penalizer_coef=0.1)
    squares = sum(v * v for v in penalised.params_.values())
    assert squares < sum(v * v for v in bgf.params_.values())
    assert penalised.log_likelihood_ < bgf.log_likelihood_
    assert BetaGeoFitter(penalizer_coef=0.1).fit(*DATA).params_ == pytest.approx(penalised.params_)


def test_unidentifiable_data_raises_fit_error():
    # everyone bought again at the very end: nothing tells how customers drop out
    rng = np.random.default_rng(1)
    T = rng.uniform(10, 50, 200)
    x = rng.integers(1, 5, 200).astype(float)
    with pytest.raises(ClvFitError, match="^BG/NBD fit"):
        BetaGeoFitter().fit(x, T, T)
    with pytest.raises(ClvFitError, match="^Gamma-Gamma fit"):
        GammaGammaFitter().fit(np.full(50, 3.0), np.full(50, 10.0))  # no spread in spend


# --- predictions --------------------------------------------------------------------


def test_predictions_are_finite_and_sensible(bgf):
    x = np.array([0, 1, 5, 5, 40, 3000], dtype=float)
    t_x = np.array([0, 1, 30, 2, 39.9, 39.99])
    T = np.array([40.0, 40, 40, 40, 40, 40])
    alive = bgf.conditional_probability_alive(x, t_x, T)
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(30, x, t_x, T)
    clv = bgf.customer_lifetime_value(x, t_x, T, np.full(6, 20.0), time=12, unit="week")
    for values in (alive, expected, clv):
        assert np.all(np.isfinite(values)) and np.all(values >= 0)
    assert alive[0] == 1.0  # no repeat purchase: BG/NBD has had no chance to drop out
    assert alive[2] > alive[3]  # same purchases, the recent buyer is more likely alive
    assert expected[2] > expected[3]
    assert np.all(clv[:5] < 20.0 * expected[:5] * 2)


def test_expected_purchases_grow_with_time(bgf):
    t = np.array([0.0, 1.0, 10.0, 100.0])
    values = bgf.expected_number_of_purchases_up_to_time(t)
    assert values[0] == 0.0 and np.all(np.diff(values) > 0)
    assert isinstance(bgf.expected_number_of_purchases_up_to_time(10.0), float)


def test_predict_is_the_conditional_expectation(bgf):
    x, t_x, T = DATA
    np.testing.assert_array_equal(
        bgf.predict(10, x, t_x, T), bgf.conditional_expected_number_of_purchases_up_to_time(10, x, t_x, T)
    )


def test_stored_parameters_predict_like_the_fit(bgf):
    x, t_x, T = DATA
    restored = BetaGeoFitter.from_params(bgf.params_)
    np.testing.assert_array_equal(
        restored.conditional_probability_alive(x, t_x, T), bgf.conditional_probability_alive(x, t_x, T)
    )


def test_gamma_gamma_clv_uses_expected_spend(bgf):
    x, t_x, T = (v[:50] for v in DATA)
    rng = np.random.default_rng(4)
    m = np.where(x > 0, rng.gamma(4.0, 8.0, 50), 0.0)
    gg = GammaGammaFitter.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    spend = gg.conditional_expected_average_profit(x, m)
    assert np.all(spend[x == 0] == pytest.approx(gg.conditional_expected_average_profit()))
    clv = gg.customer_lifetime_value(bgf, x, t_x, T, m, time=6, discount_rate=0.02, unit="week", margin=0.3)
    direct = bgf.customer_lifetime_value(x, t_x, T, spend, time=6, discount_rate=0.02, unit="week", margin=0.3)
    np.testing.assert_array_equal(clv, direct)
    with pytest.raises(ClvInputError, match="^transaction_prediction_model:"):
        gg.customer_lifetime_value(gg, x, t_x, T, m)


def test_gamma_gamma_with_infinite_mean_refuses_to_predict():
    gg = GammaGammaFitter.from_params({"p": 2.0, "q": 0.9, "gamma": 10.0})
    with pytest.raises(ClvFitError, match="q = 0.9 <= 1"):
        gg.conditional_expected_average_profit([1], [10.0])


def test_standard_errors_are_positive(bgf):
    assert set(bgf.standard_errors_) == {"r", "alpha", "a", "b"}
    assert all(v > 0 and np.isfinite(v) for v in bgf.standard_errors_.values())
