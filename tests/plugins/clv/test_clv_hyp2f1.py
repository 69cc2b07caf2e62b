"""The numba 2F1 and digamma against scipy and closed forms."""

import numpy as np
import pytest
from scipy.special import hyp2f1, psi

from plugins.clv.kernels import digamma, hyp2f1_array, log_hyp2f1_array

VALUES = [0.05, 0.3, 0.9, 1.0, 1.7, 3.5, 10.0, 42.0, 200.0]
ZS = [0.0, 1e-6, 0.01, 0.2, 0.5, 0.74, 0.76, 0.9, 0.99, 0.999, 0.99999]


def grid(a_values, b_values, c_values, zs):
    mesh = np.meshgrid(a_values, b_values, c_values, zs, indexing="ij")
    return [np.ascontiguousarray(m.ravel(), dtype=np.float64) for m in mesh]


def test_matches_scipy_over_a_wide_grid():
    a, b, c, z = grid(VALUES, VALUES, VALUES, ZS)
    ours = hyp2f1_array(a, b, c, z)
    ref = hyp2f1(a, b, c, z)
    comparable = np.isfinite(ref) & (np.abs(ref) < 1e300)
    assert comparable.sum() > 7000  # most of the 8019 points
    rel = np.abs(ours[comparable] - ref[comparable]) / np.abs(ref[comparable])
    # the worst cases are scipy's own (checked against mpmath at 40 digits: ours within 1e-11)
    assert rel.max() < 2e-10
    assert np.median(rel) < 1e-14
    # where scipy overflows we still give the logarithm (finite for every point)
    logs, signs = log_hyp2f1_array(a, b, c, z)
    assert np.all(np.isfinite(logs)) and np.all(signs == 1.0)


def test_negative_c_and_negative_numerators_match_scipy():
    a, b, c, z = grid([-2.5, -0.3, 0.4, 2.2], [0.7, 3.1], [-1.7, -0.4, 0.6, 5.5], [0.1, 0.6, 0.8, 0.95])
    ours = hyp2f1_array(a, b, c, z)
    ref = hyp2f1(a, b, c, z)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("z", [0.5, 0.99, 1 - 1e-5, 1 - 1e-7, 1 - 1e-9])
def test_log_closed_form_with_integer_c_minus_a_minus_b(z):
    # 2F1(1, 1; 2; z) = -log(1 - z) / z: c - a - b = 0, the connection formula's pole
    value = hyp2f1_array(np.array([1.0]), np.array([1.0]), np.array([2.0]), np.array([z]))[0]
    assert value == pytest.approx(-np.log1p(-z) / z, rel=1e-9)


@pytest.mark.parametrize("a", [2.0, 3.0, 0.5, 500.5])
@pytest.mark.parametrize("z", [0.3, 0.9, 0.999, 1 - 1e-6])
def test_power_closed_form_in_log_space(a, z):
    # 2F1(a, b; b; z) = (1 - z)^-a, far beyond float range for a = 500.5
    logs, signs = log_hyp2f1_array(np.array([a]), np.array([1.3]), np.array([1.3]), np.array([z]))
    assert signs[0] == 1.0
    assert logs[0] == pytest.approx(-a * np.log1p(-z), rel=1e-10)


def test_digamma_matches_scipy():
    x = np.concatenate([np.geomspace(1e-8, 1e8, 400), np.linspace(0.5, 30.0, 300)])
    ours = np.array([digamma(v) for v in x])
    np.testing.assert_allclose(ours, psi(x), rtol=1e-14, atol=1e-14)
