"""Likelihood kernels: gradients, the Pareto/NBD integral, predictions."""

import numpy as np
import pytest
from scipy.special import betaln, gammaln, hyp2f1

from plugins.clv import kernels as K

RNG = np.random.default_rng(7)


def random_customers(n=300, horizon=50.0):
    T = RNG.uniform(0.5, horizon, n)
    x = RNG.poisson(2.0, n).astype(float)
    t_x = np.where(x > 0, T * RNG.uniform(0.0, 1.0, n), 0.0)
    t_x[:5] = np.where(x[:5] > 0, T[:5], 0.0)  # some customers bought at the very end
    return x, t_x, T


CUSTOMERS = random_customers()

LOGLIKS = {
    "bgnbd": (K.bgnbd_loglik, [np.array([0.24, 4.4, 0.79, 2.4]), np.array([2.0, 0.3, 3.0, 0.2])]),
    "mbgnbd": (K.mbgnbd_loglik, [np.array([0.52, 6.2, 0.89, 1.6]), np.array([3.0, 50.0, 0.2, 7.0])]),
    "paretonbd": (
        K.paretonbd_loglik,
        [
            np.array([0.55, 10.6, 0.61, 11.7]),  # alpha < beta
            np.array([0.55, 11.7, 0.61, 10.6]),  # alpha > beta
            np.array([1.5, 5.0, 2.5, 5.0]),  # alpha = beta
            np.array([0.3, 40.0, 0.05, 0.01]),  # beta tiny: the integrand is steep near tau = 0
        ],
    ),
}


@pytest.mark.parametrize("model", sorted(LOGLIKS))
def test_gradient_matches_central_differences(model):
    loglik, param_sets = LOGLIKS[model]
    x, t_x, T = CUSTOMERS
    w = RNG.integers(1, 5, x.size).astype(float)
    for params in param_sets:
        _, grad = loglik(params, x, t_x, T, w)
        for j in range(params.size):
            h = 1e-5 * params[j]
            up, down = params.copy(), params.copy()
            up[j] += h
            down[j] -= h
            numeric = (loglik(up, x, t_x, T, w)[0] - loglik(down, x, t_x, T, w)[0]) / (2 * h)
            # differencing a sum of ~1e3 loses ~1e-12 / h of it to rounding
            assert grad[j] == pytest.approx(numeric, rel=1e-6, abs=1e-5), (model, params, j)


def test_gamma_gamma_gradient_matches_central_differences():
    x = RNG.integers(1, 10, 200).astype(float)
    m = RNG.gamma(3.0, 10.0, 200)
    w = np.ones(200)
    params = np.array([6.25, 3.74, 15.44])
    _, grad = K.gammagamma_loglik(params, x, m, w)
    for j in range(3):
        h = 1e-6 * params[j]
        up, down = params.copy(), params.copy()
        up[j] += h
        down[j] -= h
        numeric = (K.gammagamma_loglik(up, x, m, w)[0] - K.gammagamma_loglik(down, x, m, w)[0]) / (2 * h)
        assert grad[j] == pytest.approx(numeric, rel=1e-6)


def bgnbd_reference(params, x, t_x, T):
    """FHL 2005 eq. 6, straight from the paper with scipy."""
    r, alpha, a, b = params
    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    first = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    second = betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    return base + np.logaddexp(first, np.where(x > 0, second, -np.inf))


def test_bgnbd_terms_match_the_paper_formula():
    x, t_x, T = CUSTOMERS
    params = np.array([0.24, 4.4, 0.79, 2.4])
    ll, _ = K.bgnbd_loglik_terms(params, x, t_x, T)
    np.testing.assert_allclose(ll, bgnbd_reference(params, x, t_x, T), rtol=1e-12)


def pareto_reference(params, x, t_x, T):
    """Fader & Hardie (2005 note) eq. 19-20, with scipy's 2F1."""
    r, alpha, s, beta = params
    if alpha >= beta:
        big, other_exponent = alpha, s + 1
    else:
        big, other_exponent = beta, r + x
    k = r + s + x
    diff = abs(alpha - beta)

    def part(tau):
        return hyp2f1(k, other_exponent, k + 1, diff / (big + tau)) / (big + tau) ** k

    a0 = part(t_x) - part(T)
    like = (
        np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta))
        * (1 / ((alpha + T) ** (r + x) * (beta + T) ** s) + s / k * a0)
    )
    return np.log(like)


@pytest.mark.parametrize(
    "params",
    [
        [0.553, 10.578, 0.606, 11.669],
        [0.553, 11.669, 0.606, 10.578],
        [1.2, 3.0, 1.0, 3.0],
        [0.3, 40.0, 2.0, 1.0],
        [2.5, 0.5, 0.2, 30.0],
    ],
)
def test_pareto_integral_matches_the_hypergeometric_formula(params):
    x, t_x, T = CUSTOMERS
    params = np.array(params)
    ll, _ = K.paretonbd_loglik_terms(params, x, t_x, T)
    np.testing.assert_allclose(ll, pareto_reference(params, x, t_x, T), rtol=1e-10)


def test_weights_equal_repeated_rows():
    x, t_x, T = CUSTOMERS
    params = np.array([0.55, 10.6, 0.61, 11.7])
    w = RNG.integers(1, 4, x.size)
    weighted, g_weighted = K.paretonbd_loglik(params, x, t_x, T, w.astype(float))
    rep = [np.repeat(v, w) for v in (x, t_x, T)]
    expanded, g_expanded = K.paretonbd_loglik(params, *rep, np.ones(w.sum()))
    assert weighted == pytest.approx(expanded, rel=1e-12)
    np.testing.assert_allclose(g_weighted, g_expanded, rtol=1e-10)


def test_parallel_and_serial_paths_agree():
    n = K.PARALLEL_MIN_ROWS + 10
    x = np.tile(CUSTOMERS[0], n // 300 + 1)[:n]
    t_x = np.tile(CUSTOMERS[1], n // 300 + 1)[:n]
    T = np.tile(CUSTOMERS[2], n // 300 + 1)[:n]
    params = np.array([0.24, 4.4, 0.79, 2.4])
    big, _ = K.bgnbd_loglik_terms(params, x, t_x, T)
    small, _ = K.bgnbd_loglik_terms(params, x[:300], t_x[:300], T[:300])
    np.testing.assert_array_equal(big[:300], small)


# --- predictions ---------------------------------------------------------------


def test_probability_alive_bgnbd_closed_form_and_bounds():
    x, t_x, T = CUSTOMERS
    r, alpha, a, b = params = np.array([0.24, 4.4, 0.79, 2.4])
    alive = K.probability_alive(K.BG_NBD, params, x, t_x, T)
    expected = np.where(x > 0, 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)), 1.0)
    np.testing.assert_allclose(alive, expected, rtol=1e-12)
    pareto = K.probability_alive(K.PARETO_NBD, np.array([0.55, 10.6, 0.61, 11.7]), x, t_x, T)
    assert np.all((pareto > 0) & (pareto <= 1))
    bought_at_end = t_x == T
    np.testing.assert_allclose(pareto[bought_at_end], 1.0)  # nothing can have died unseen


def test_expected_purchases_bg_is_smooth_through_its_removable_poles():
    # a = 1 and a + b = 1 divide by zero in the closed form
    near = [K.expected_purchases_bg(20.0, 0.5, 4.0, 1.0 + d, 2.0) for d in (-3e-4, -5e-5, 0.0, 5e-5, 3e-4)]
    assert np.all(np.isfinite(near))
    assert np.all(np.diff(near) < 0)  # larger a, sooner dropout, fewer purchases
    assert near[2] == pytest.approx(0.5 * (near[1] + near[3]), rel=1e-7)
    around = [K.expected_purchases_bg(20.0, 0.5, 4.0, 0.4, 0.6 + d) for d in (-3e-4, 0.0, 3e-4)]
    assert np.all(np.isfinite(around))
    assert around[1] == pytest.approx(0.5 * (around[0] + around[2]), rel=1e-7)


def test_expected_purchases_bg_matches_scipy_form():
    r, alpha, a, b = 0.24, 4.4, 0.79, 2.4
    for t in (0.5, 10.0, 100.0, 10000.0):
        z = t / (alpha + t)
        ref = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
        assert K.expected_purchases_bg(t, r, alpha, a, b) == pytest.approx(ref, rel=1e-10)


def test_expected_purchases_pareto_through_s_equal_one():
    values = [K.expected_purchases_pareto(30.0, 0.5, 10.0, 1.0 + d, 12.0) for d in (-1e-6, 0.0, 1e-6)]
    assert values[1] == pytest.approx(0.5 * 12.0 / 10.0 * np.log1p(30.0 / 12.0), rel=1e-12)
    assert values[0] == pytest.approx(values[1], rel=1e-5) and values[2] == pytest.approx(values[1], rel=1e-5)


def test_mbgnbd_unconditional_is_bgnbd_after_surviving_the_first_purchase():
    r, alpha, a, b = 0.5, 6.0, 0.9, 1.6
    t = np.array([1.0, 10.0, 50.0])
    mbg = K.expected_purchases(K.MBG_NBD, np.array([r, alpha, a, b]), t)
    ref = b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, t / (alpha + t)))
    np.testing.assert_allclose(mbg, ref, rtol=1e-10)


@pytest.mark.parametrize("model", [K.BG_NBD, K.MBG_NBD, K.PARETO_NBD])
def test_conditional_expectation_of_a_new_customer_is_the_unconditional_one(model):
    params = np.array([0.5, 6.0, 0.9, 1.6]) if model != K.PARETO_NBD else np.array([0.55, 10.6, 0.61, 11.7])
    zero = np.zeros(1)
    cond = K.conditional_expected_purchases(model, params, 13.0, zero, zero, zero)[0]
    # for MBG/NBD both sides include the chance b/(a+b) of surviving the first purchase
    assert cond == pytest.approx(K.expected_purchases(model, params, np.array([13.0]))[0], rel=1e-12)


def test_conditional_expectation_for_heavy_buyers_beyond_float_range():
    # 2F1(r+x, b+x; a+b+x-1; z) is about 2^x here: it overflows for x = 2000.
    r, alpha, a, b = params = np.array([0.24, 4.4, 0.79, 2.4])
    x = np.array([500.0, 2000.0])
    t_x = np.array([360.0, 364.0])
    T = np.array([365.0, 365.0])
    t = 365.0
    values = K.conditional_expected_purchases(K.BG_NBD, params, t, x, t_x, T)
    # reference through Euler's transformation, where scipy's 2F1 has small parameters
    z = t / (alpha + T + t)
    c = a + b + x - 1
    alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    ref = alive * c / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(c - r - x, c - b - x, c, z))
    np.testing.assert_allclose(values, ref, rtol=1e-10)
    assert np.all(values > 100)


@pytest.mark.parametrize("model", [K.BG_NBD, K.MBG_NBD, K.PARETO_NBD])
def test_clv_is_the_discounted_monthly_sum(model):
    params = np.array([0.5, 6.0, 0.9, 1.6]) if model != K.PARETO_NBD else np.array([0.55, 10.6, 0.61, 11.7])
    x, t_x, T = (v[:20] for v in CUSTOMERS)
    spend = RNG.uniform(10, 50, 20)
    clv = K.customer_lifetime_value(model, params, x, t_x, T, spend, 6, 4.345, 0.01, 0.4)
    manual = np.zeros(20)
    previous = np.zeros(20)
    for month in range(1, 7):
        current = K.conditional_expected_purchases(model, params, month * 4.345, x, t_x, T)
        manual += (current - previous) * spend * 0.4 / 1.01**month
        previous = current
    np.testing.assert_allclose(clv, manual, rtol=1e-12)
    assert np.all(clv > 0)


@pytest.mark.parametrize("loglik_terms", [K.bgnbd_loglik_terms, K.mbgnbd_loglik_terms])
def test_tabulated_frequency_terms_equal_the_per_customer_formula(loglik_terms):
    # whole-number frequencies use per-frequency tables; one fractional value forces the plain path
    x, t_x, T = CUSTOMERS
    params = np.array([0.24, 4.4, 0.79, 2.4])
    tabled, g_tabled = loglik_terms(params, x, t_x, T)
    plain, g_plain = loglik_terms(params, np.append(x, 0.5), np.append(t_x, 0.1), np.append(T, 1.0))
    np.testing.assert_allclose(tabled, plain[:-1], rtol=1e-13)
    np.testing.assert_allclose(g_tabled, g_plain[:-1], rtol=1e-11, atol=1e-13)
