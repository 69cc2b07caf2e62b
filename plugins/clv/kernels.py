"""Numba kernels of the CLV plugin: buy-till-you-die likelihoods and predictions.

Pure functions over contiguous float64 arrays, one row per customer (or per
unique (frequency, recency, T) row with an integer weight). Nothing here
validates input: the wrappers in ``plugins.clv.fitters`` do.

Models (parameters in this order, as float64 arrays):
- BG/NBD, Fader, Hardie & Lee (2005): r, alpha, a, b
- MBG/NBD, Batislam, Denizel & Filiztekin (2007): r, alpha, a, b
- Pareto/NBD, Schmittlein, Morrison & Colombo (1987): r, alpha, s, beta
- Gamma-Gamma spend, Fader & Hardie (2013): p, q, gamma

Log-likelihood kernels return the weighted sum of the per-customer
log-likelihoods and its analytic gradient in the natural parameters.

The Gauss hypergeometric function 2F1 (needed by the BG/NBD and MBG/NBD
expectations) is evaluated by its power series summed in log space with a
rigorous tail bound, Euler's transformation when that shortens the series,
and the 1 - z connection formula (Abramowitz & Stegun 15.3.6) when z is close
to 1. The Pareto/NBD likelihood is written as a one-dimensional integral over
the unobserved death time and evaluated by adaptive Gauss-Legendre
quadrature, which also gives the exact gradient (the 2F1 form of the same
integral needs derivatives of 2F1 in its parameters).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

import engine.numba_threading  # noqa: F401  (a thread-safe layer before any kernel runs)

BG_NBD = 0
MBG_NBD = 1
PARETO_NBD = 2

# lifetimes' convention for CLV months: 30 days, 4.345 weeks, 1 month
UNITS_PER_MONTH = {"day": 30.0, "week": 4.345, "month": 1.0}

_INF = np.inf

# --- special functions -----------------------------------------------------


@njit(cache=True, nogil=True)
def digamma(x):
    """psi(x) for x > 0: shift to x >= 10, then the asymptotic series (error < 1e-16)."""
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    y = 1.0 / (x * x)
    tail = y * (
        1.0 / 12.0
        - y * (1.0 / 120.0 - y * (1.0 / 252.0 - y * (1.0 / 240.0 - y * (1.0 / 132.0 - y * 691.0 / 32760.0))))
    )
    return acc + math.log(x) - 0.5 / x - tail


@njit(cache=True, nogil=True)
def _gamma_sign(x):
    """Sign of Gamma(x); 0 at the poles (where 1/Gamma(x) is 0)."""
    if x > 0.0:
        return 1.0
    fl = math.floor(x)
    if fl == x:
        return 0.0
    return 1.0 if int(-fl) % 2 == 0 else -1.0


@njit(cache=True, nogil=True)
def _add_signed(l1, s1, l2, s2):
    """(log|v|, sign v) of v = s1 e^l1 + s2 e^l2."""
    if s1 == 0.0:
        return l2, s2
    if s2 == 0.0:
        return l1, s1
    top = max(l1, l2)
    v = s1 * math.exp(l1 - top) + s2 * math.exp(l2 - top)
    if v == 0.0:
        return -_INF, 0.0
    return top + math.log(abs(v)), (1.0 if v > 0.0 else -1.0)


SERIES_MAX_TERMS = 2_000_000
Z_SERIES = 0.75  # above this the 1 - z connection formula converges faster
NEAR_INTEGER = 1e-4  # c - a - b closer than this to an integer: the connection formula cancels
NEAR_INTEGER_STEP = 2e-4  # interpolation nodes at +-1, +-2 steps (all beyond NEAR_INTEGER)
NEAR_ONE_SERIES_TERMS = 20_000
MAX_CANCELLATION = 1e3  # sum of |terms| / |sum| we accept before trying another route


_RESCALE = 1e200
_LOG_RESCALE = math.log(_RESCALE)


@njit(cache=True, nogil=True)
def _series_2f1(a, b, c, z, max_terms):
    """Power series of 2F1 as (log|sum|, sign, converged, cancellation).

    Terms and sum are kept in plain floats times e^scale, rescaled whenever a
    term passes 1e200, so neither huge nor tiny terms overflow and no term
    costs a log or an exp. Once every Pochhammer factor is positive, the later
    term ratios are bounded by z * G with G from the monotone factors
    (a+k)/(c+k), (b+k)/(k+1); the tail is then at most |t| zG / (1 - zG), and
    we stop when that is below 1e-17 of the sum. ``cancellation`` is
    sum |t| / |sum t|: the factor by which rounding errors are magnified
    (1 when all terms are positive).
    """
    term = 1.0
    acc = 1.0  # partial sum = acc * exp(scale)
    acc_abs = 1.0  # sum of |terms|, same scale
    scale = 0.0
    converged = False
    rmax = 2.0  # bound on all later term ratios; > 1 until known
    for n in range(max_terms):
        ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z
        if ratio == 0.0:
            converged = True  # terminating series (or z = 0)
            break
        term *= ratio
        mag = abs(term)
        if mag > _RESCALE:
            term /= _RESCALE
            acc /= _RESCALE
            acc_abs /= _RESCALE
            mag /= _RESCALE
            scale += _LOG_RESCALE
        acc += term
        acc_abs += mag
        k = n + 1.0
        # the bound only tightens as k grows, so refreshing it now and then is enough
        if (rmax >= 1.0 or n % 16 == 0) and a + k > 0.0 and b + k > 0.0 and c + k > 0.0:
            g1 = max(1.0, (a + k) / (c + k)) * max(1.0, (b + k) / (k + 1.0))
            g2 = max(1.0, (b + k) / (c + k)) * max(1.0, (a + k) / (k + 1.0))
            rmax = z * min(g1, g2)
        if rmax < 1.0 and mag * rmax <= 1e-17 * (1.0 - rmax) * abs(acc):
            converged = True
            break
    if acc == 0.0:
        return -_INF, 0.0, converged, _INF
    return scale + math.log(abs(acc)), (1.0 if acc > 0.0 else -1.0), converged, acc_abs / abs(acc)


@njit(cache=True, nogil=True)
def _log_hyp2f1_direct(a, b, c, z, omz, max_terms):
    """Direct series, through Euler's transformation when its terms are smaller.

    Euler: 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z). It turns the
    BG/NBD conditional series, with a, b, c all about x, into one with small
    numerator parameters that converges in a few terms. If the transformed
    series cancels badly (mixed signs), the plain one is used when better.
    Returns (log|F|, sign, converged, cancellation).
    """
    if abs((c - a) * (c - b)) < abs(a * b):
        lg, sg, ok, canc = _series_2f1(c - a, c - b, c, z, max_terms)
        lg += (c - a - b) * math.log(omz)
        if ok and canc <= MAX_CANCELLATION:
            return lg, sg, ok, canc
        lg2, sg2, ok2, canc2 = _series_2f1(a, b, c, z, max_terms)
        if ok2 and (canc2 < canc or not ok):
            return lg2, sg2, ok2, canc2
        return lg, sg, ok, canc
    return _series_2f1(a, b, c, z, max_terms)


@njit(cache=True, nogil=True)
def _log_hyp2f1_connection(a, b, c, z, omz):
    """A&S 15.3.6, valid when c - a - b is not an integer:

    2F1(a,b;c;z) = G(c)G(s)/(G(c-a)G(c-b)) 2F1(a, b; 1-s; 1-z)
                 + (1-z)^s G(c)G(-s)/(G(a)G(b)) 2F1(c-a, c-b; 1+s; 1-z),  s = c-a-b.
    Returns (log|F|, sign, cancellation).
    """
    s = c - a - b
    sign_c = _gamma_sign(c)
    lg_c = math.lgamma(c)
    l1 = -_INF
    s1 = 0.0
    canc1 = 1.0
    den1 = _gamma_sign(c - a) * _gamma_sign(c - b)
    if den1 != 0.0:
        lf, sf, _, canc1 = _log_hyp2f1_direct(a, b, 1.0 - s, omz, z, SERIES_MAX_TERMS)
        l1 = lg_c + math.lgamma(s) - math.lgamma(c - a) - math.lgamma(c - b) + lf
        s1 = sign_c * _gamma_sign(s) * den1 * sf
    l2 = -_INF
    s2 = 0.0
    canc2 = 1.0
    den2 = _gamma_sign(a) * _gamma_sign(b)
    if den2 != 0.0:
        lf, sf, _, canc2 = _log_hyp2f1_direct(c - a, c - b, 1.0 + s, omz, z, SERIES_MAX_TERMS)
        l2 = s * math.log(omz) + lg_c + math.lgamma(-s) - math.lgamma(a) - math.lgamma(b) + lf
        s2 = sign_c * _gamma_sign(-s) * den2 * sf
    lg, sg = _add_signed(l1, s1, l2, s2)
    # the two terms may cancel each other as well as internally
    canc = max(canc1, canc2) * math.exp(max(l1, l2) - lg) if sg != 0.0 else _INF
    return lg, sg, canc


@njit(cache=True, nogil=True)
def _lagrange4(x, h, f_m2, f_m1, f_p1, f_p2):
    """Value at x of the cubic through (-2h, f_m2), (-h, f_m1), (h, f_p1), (2h, f_p2)."""
    u = x / h
    return (
        f_m2 * (u + 1.0) * (u - 1.0) * (u - 2.0) / -12.0
        + f_m1 * (u + 2.0) * (u - 1.0) * (u - 2.0) / 6.0
        + f_p1 * (u + 2.0) * (u + 1.0) * (u - 2.0) / -6.0
        + f_p2 * (u + 2.0) * (u + 1.0) * (u - 1.0) / 12.0
    )


@njit(cache=True, nogil=True)
def log_hyp2f1(a, b, c, z, omz):
    """(log|2F1(a, b; c; z)|, sign) for real a, b, c (c not 0, -1, -2, ...) and 0 <= z < 1.

    ``omz`` is 1 - z as computed by the caller (e.g. alpha / (alpha + t)):
    near z = 1 forming 1 - z from z would lose the digits that matter.
    """
    if z == 0.0:
        return 0.0, 1.0
    if z <= Z_SERIES:
        lg, sg, _, _ = _log_hyp2f1_direct(a, b, c, z, omz, SERIES_MAX_TERMS)
        return lg, sg
    s = c - a - b
    eps = s - np.round(s)
    near_integer = abs(eps) <= NEAR_INTEGER
    if not near_integer:
        lg, sg, canc = _log_hyp2f1_connection(a, b, c, z, omz)
        if canc <= MAX_CANCELLATION:
            return lg, sg
    # the direct series is slow this close to 1 but never wrong: use it if it converges
    cap = NEAR_ONE_SERIES_TERMS if near_integer else SERIES_MAX_TERMS
    lg2, sg2, ok, _ = _log_hyp2f1_direct(a, b, c, z, omz, cap)
    if ok or not near_integer:
        return (lg2, sg2) if ok else (lg, sg)
    # c - a - b is (nearly) an integer and z is too close to 1 for the series:
    # interpolate in c between points where the connection formula is safe.
    c0 = c - eps
    h = NEAR_INTEGER_STEP
    lm2, sm2, _ = _log_hyp2f1_connection(a, b, c0 - 2.0 * h, z, omz)
    lm1, sm1, _ = _log_hyp2f1_connection(a, b, c0 - h, z, omz)
    lp1, sp1, _ = _log_hyp2f1_connection(a, b, c0 + h, z, omz)
    lp2, sp2, _ = _log_hyp2f1_connection(a, b, c0 + 2.0 * h, z, omz)
    top = max(max(lm2, lm1), max(lp1, lp2))
    v = _lagrange4(
        eps,
        h,
        sm2 * math.exp(lm2 - top),
        sm1 * math.exp(lm1 - top),
        sp1 * math.exp(lp1 - top),
        sp2 * math.exp(lp2 - top),
    )
    if v == 0.0:
        return -_INF, 0.0
    return top + math.log(abs(v)), (1.0 if v > 0.0 else -1.0)


@njit(cache=True, nogil=True, parallel=True)
def hyp2f1_array(a, b, c, z):
    """2F1 elementwise over equal-length arrays (0 <= z < 1); overflow gives +-inf."""
    out = np.empty(z.size)
    for i in prange(z.size):
        lg, sg = log_hyp2f1(a[i], b[i], c[i], z[i], 1.0 - z[i])
        out[i] = sg * math.exp(lg)
    return out


@njit(cache=True, nogil=True, parallel=True)
def log_hyp2f1_array(a, b, c, z):
    """(log|2F1|, sign) elementwise: for values beyond float64's range."""
    logs = np.empty(z.size)
    signs = np.empty(z.size)
    for i in prange(z.size):
        logs[i], signs[i] = log_hyp2f1(a[i], b[i], c[i], z[i], 1.0 - z[i])
    return logs, signs


# --- BG/NBD and MBG/NBD ----------------------------------------------------


@njit(cache=True, nogil=True)
def _logsumexp2(l1, l2):
    """log(e^l1 + e^l2) and the two shares e^li / (e^l1 + e^l2)."""
    if l1 == -_INF and l2 == -_INF:
        return -_INF, 0.5, 0.5
    if l1 >= l2:  # one exp: the larger term is e^0 = 1
        e = math.exp(l2 - l1)
        return l1 + math.log1p(e), 1.0 / (1.0 + e), e / (1.0 + e)
    e = math.exp(l1 - l2)
    return l2 + math.log1p(e), e / (1.0 + e), 1.0 / (1.0 + e)


@njit(cache=True, nogil=True)
def _bg_family_row(r, alpha, a, b, x, t_x, T, modified, grad):
    """Log-likelihood of one customer; gradient in (r, alpha, a, b) written to grad.

    BG/NBD:  L = B(a, b+x)/B(a,b) G(r+x) a^r / (G(r) (alpha+T)^(r+x))
                 + [x > 0] B(a+1, b+x-1)/B(a,b) G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
    MBG/NBD: b+x -> b+x+1 in the first beta function; the second term, with
             B(a+1, b+x), is present for every customer (dropout can follow
             the first purchase too).
    """
    shift = 1.0 if modified else 0.0
    rx = r + x
    bx = b + x + shift  # second argument of the first beta function
    log_at = math.log(alpha + T)
    log_atx = math.log(alpha + t_x)
    a1 = math.lgamma(rx) - math.lgamma(r) + r * math.log(alpha)
    a2 = math.lgamma(a + b) + math.lgamma(bx) - math.lgamma(b) - math.lgamma(a + bx)
    a3 = -rx * log_at
    if modified or x > 0.0:
        a4 = math.log(a) - math.log(bx - 1.0) - rx * log_atx
        lse, w3, w4 = _logsumexp2(a3, a4)
    else:
        lse, w3, w4 = a3, 1.0, 0.0
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + bx)
    grad[0] = digamma(rx) - digamma(r) + math.log(alpha) - w3 * log_at - w4 * log_atx
    grad[1] = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x)
    grad[2] = psi_ab - psi_abx + w4 / a
    grad[3] = psi_ab + digamma(bx) - digamma(b) - psi_abx
    if w4 > 0.0:
        grad[3] -= w4 / (bx - 1.0)
    return a1 + a2 + lse


@njit(cache=True, nogil=True)
def _bg_family_tables(r, alpha, a, b, x_max, modified):
    """The parts of the BG/NBD (MBG/NBD) log-likelihood and gradient that depend
    on the customer only through an integer x, for x = 0..x_max.

    Frequencies are small integers shared by many customers: tabulating the
    log-gamma and digamma terms leaves a few logs and one exp per customer.
    Columns: log-likelihood part, d/dr part, d/da part, d/db part,
    log(a / (b' - 1)) and 1 / (b' - 1), with b' = b + x (+1 for MBG/NBD).
    """
    shift = 1.0 if modified else 0.0
    table = np.empty((x_max + 1, 6))
    lg_r = math.lgamma(r)
    lg_b = math.lgamma(b)
    lg_ab = math.lgamma(a + b)
    psi_r = digamma(r)
    psi_b = digamma(b)
    psi_ab = digamma(a + b)
    log_alpha = math.log(alpha)
    log_a = math.log(a)
    for k in range(x_max + 1):
        rx = r + k
        bx = b + k + shift
        psi_abx = digamma(a + bx)
        table[k, 0] = math.lgamma(rx) - lg_r + r * log_alpha + lg_ab + math.lgamma(bx) - lg_b - math.lgamma(a + bx)
        table[k, 1] = digamma(rx) - psi_r + log_alpha
        table[k, 2] = psi_ab - psi_abx
        table[k, 3] = psi_ab + digamma(bx) - psi_b - psi_abx
        if bx > 1.0:
            table[k, 4] = log_a - math.log(bx - 1.0)
            table[k, 5] = 1.0 / (bx - 1.0)
        else:  # only x = 0 of BG/NBD, which has no second term
            table[k, 4] = -_INF
            table[k, 5] = 0.0
    return table


@njit(cache=True, nogil=True)
def _bg_family_row_tabled(table, r, alpha, a, x, t_x, T, modified, grad):
    """_bg_family_row with the x-only parts read from the table."""
    k = int(x)
    rx = r + x
    log_at = math.log(alpha + T)
    log_atx = math.log(alpha + t_x)
    a3 = -rx * log_at
    if modified or x > 0.0:
        lse, w3, w4 = _logsumexp2(a3, table[k, 4] - rx * log_atx)
    else:
        lse, w3, w4 = a3, 1.0, 0.0
    grad[0] = table[k, 1] - w3 * log_at - w4 * log_atx
    grad[1] = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x)
    grad[2] = table[k, 2] + w4 / a
    grad[3] = table[k, 3] - w4 * table[k, 5]
    return table[k, 0] + lse


TABLE_MAX_FREQUENCY = 1_000_000


@njit(cache=True, nogil=True)
def _small_integer_max(x):
    """max(x) if every x is a whole number below TABLE_MAX_FREQUENCY, else -1."""
    top = 0.0
    for v in x:
        if v != math.floor(v) or v < 0.0 or v >= TABLE_MAX_FREQUENCY:
            return -1
        top = max(top, v)
    return int(top)


@njit(cache=True, nogil=True)
def _bg_family_terms_serial(params, x, t_x, T, modified):
    n = x.size
    ll = np.empty(n)
    grad = np.empty((n, 4))
    r, alpha, a, b = params[0], params[1], params[2], params[3]
    x_max = _small_integer_max(x)
    if x_max < 0:
        for i in range(n):
            ll[i] = _bg_family_row(r, alpha, a, b, x[i], t_x[i], T[i], modified, grad[i])
        return ll, grad
    table = _bg_family_tables(r, alpha, a, b, x_max, modified)
    for i in range(n):
        ll[i] = _bg_family_row_tabled(table, r, alpha, a, x[i], t_x[i], T[i], modified, grad[i])
    return ll, grad


@njit(cache=True, nogil=True, parallel=True)
def _bg_family_terms_parallel(params, x, t_x, T, modified):
    n = x.size
    ll = np.empty(n)
    grad = np.empty((n, 4))
    r, alpha, a, b = params[0], params[1], params[2], params[3]
    x_max = _small_integer_max(x)
    if x_max < 0:
        for i in prange(n):
            ll[i] = _bg_family_row(r, alpha, a, b, x[i], t_x[i], T[i], modified, grad[i])
        return ll, grad
    table = _bg_family_tables(r, alpha, a, b, x_max, modified)
    for i in prange(n):
        ll[i] = _bg_family_row_tabled(table, r, alpha, a, x[i], t_x[i], T[i], modified, grad[i])
    return ll, grad


@njit(cache=True, nogil=True, parallel=True)
def _bg_family_sums_parallel(params, x, t_x, T, w, modified, x_max):
    """The weighted log-likelihood and gradient summed in the threads (no per-row
    arrays): what the optimiser calls on large fits with whole-number frequencies."""
    r, alpha, a, b = params[0], params[1], params[2], params[3]
    table = _bg_family_tables(r, alpha, a, b, x_max, modified)
    total = 0.0
    g0 = 0.0
    g1 = 0.0
    g2 = 0.0
    g3 = 0.0
    for i in prange(x.size):
        wi = w[i]
        k = int(x[i])
        rx = r + x[i]
        log_at = math.log(alpha + T[i])
        log_atx = math.log(alpha + t_x[i])
        a3 = -rx * log_at
        if modified or x[i] > 0.0:
            lse, w3, w4 = _logsumexp2(a3, table[k, 4] - rx * log_atx)
        else:
            lse, w3, w4 = a3, 1.0, 0.0
        total += wi * (table[k, 0] + lse)
        g0 += wi * (table[k, 1] - w3 * log_at - w4 * log_atx)
        g1 += wi * (r / alpha - w3 * rx / (alpha + T[i]) - w4 * rx / (alpha + t_x[i]))
        g2 += wi * (table[k, 2] + w4 / a)
        g3 += wi * (table[k, 3] - w4 * table[k, 5])
    return total, np.array([g0, g1, g2, g3])


@njit(cache=True, nogil=True)
def _weighted_sums(ll, grad, w):
    total = 0.0
    g = np.zeros(grad.shape[1])
    for i in range(ll.size):
        total += w[i] * ll[i]
        for k in range(grad.shape[1]):
            g[k] += w[i] * grad[i, k]
    return total, g


# Threads pay off only on many rows; on a few thousand their start-up and
# spinning cost more than the work (and slow the optimiser between calls).
PARALLEL_MIN_ROWS = 20_000


def bgnbd_loglik_terms(params, x, t_x, T):
    """Per-customer BG/NBD log-likelihoods and gradients, shapes (n,) and (n, 4)."""
    if x.size >= PARALLEL_MIN_ROWS:
        return _bg_family_terms_parallel(params, x, t_x, T, False)
    return _bg_family_terms_serial(params, x, t_x, T, False)


def _bg_family_loglik(params, x, t_x, T, w, modified):
    if x.size >= PARALLEL_MIN_ROWS:
        x_max = _small_integer_max(x)
        if x_max >= 0:
            return _bg_family_sums_parallel(params, x, t_x, T, w, modified, x_max)
        return _weighted_sums(*_bg_family_terms_parallel(params, x, t_x, T, modified), w)
    return _weighted_sums(*_bg_family_terms_serial(params, x, t_x, T, modified), w)


def bgnbd_loglik(params, x, t_x, T, w):
    """Weighted BG/NBD log-likelihood and its gradient in (r, alpha, a, b)."""
    return _bg_family_loglik(params, x, t_x, T, w, False)


def mbgnbd_loglik_terms(params, x, t_x, T):
    """Per-customer MBG/NBD log-likelihoods and gradients, shapes (n,) and (n, 4)."""
    if x.size >= PARALLEL_MIN_ROWS:
        return _bg_family_terms_parallel(params, x, t_x, T, True)
    return _bg_family_terms_serial(params, x, t_x, T, True)


def mbgnbd_loglik(params, x, t_x, T, w):
    """Weighted MBG/NBD log-likelihood and its gradient in (r, alpha, a, b)."""
    return _bg_family_loglik(params, x, t_x, T, w, True)


@njit(cache=True, nogil=True)
def _ex_bg_raw(t, r, alpha, a, b):
    c = a + b - 1.0
    z = t / (alpha + t)
    omz = alpha / (alpha + t)
    lg, sg = log_hyp2f1(r, b, c, z, omz)
    prod = sg * math.exp(r * math.log(omz) + lg)
    return c / (a - 1.0) * (1.0 - prod)


NEAR_POLE = 1e-4  # |a - 1| or |a + b - 1| below this: interpolate across the removable pole
POLE_STEP = 2e-4


@njit(cache=True, nogil=True)
def expected_purchases_bg(t, r, alpha, a, b):
    """E[X(t)] under BG/NBD with these parameters (FHL 2005 eq. 9):

    (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].

    With posterior parameters (r+x, alpha+T, a, b+x) it is the conditional
    expectation of a customer who is alive. a = 1 and a + b = 1 are removable
    singularities of the closed form: there we interpolate from points beside them.
    """
    if t <= 0.0:
        return 0.0
    h = POLE_STEP
    if abs(a - 1.0) < NEAR_POLE:
        d = a - 1.0
        return _lagrange4(
            d,
            h,
            _ex_bg_raw(t, r, alpha, 1.0 - 2.0 * h, b),
            _ex_bg_raw(t, r, alpha, 1.0 - h, b),
            _ex_bg_raw(t, r, alpha, 1.0 + h, b),
            _ex_bg_raw(t, r, alpha, 1.0 + 2.0 * h, b),
        )
    if abs(a + b - 1.0) < NEAR_POLE:
        b0 = 1.0 - a
        d = b - b0
        return _lagrange4(
            d,
            h,
            _ex_bg_raw(t, r, alpha, a, b0 - 2.0 * h),
            _ex_bg_raw(t, r, alpha, a, b0 - h),
            _ex_bg_raw(t, r, alpha, a, b0 + h),
            _ex_bg_raw(t, r, alpha, a, b0 + 2.0 * h),
        )
    return _ex_bg_raw(t, r, alpha, a, b)


# --- Pareto/NBD --------------------------------------------------------------

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
_PANEL_DROP = 2.0  # log-integrand falls at most ~2 * this across a panel
_PANEL_MAX_WIDTH = 1.0  # in u = log(min(alpha, beta) + tau); singularities lie pi off the axis
_TAIL_DROP = 46.0  # stop where the log-integrand is this far below its peak (e^-46 ~ 1e-20)


@njit(cache=True, nogil=True)
def _pareto_log_integral(p, alpha, q, beta, t_x, T, means):
    """log of I = integral over tau in [t_x, T] of (alpha+tau)^-p (beta+tau)^-q.

    Writes to ``means`` the I-weighted means of d log f / d(p, alpha, q, beta),
    i.e. of -log(alpha+tau), -p/(alpha+tau), -log(beta+tau), -q/(beta+tau).

    In u = log(m + tau), m = min(alpha, beta), the log-integrand
    l(u) = u - p log(da + e^u) - q log(db + e^u) (one of da, db is 0) is
    concave, so it has one peak, found in closed form. Panels march out from
    the peak, each short enough that l changes by a few units, until l is
    46 below the peak; a 12-point Gauss-Legendre rule on each is then exact
    to rounding.
    """
    means[0] = 0.0
    means[1] = 0.0
    means[2] = 0.0
    means[3] = 0.0
    if T <= t_x:
        return -_INF
    m = min(alpha, beta)
    da = alpha - m
    db = beta - m
    u0 = math.log(m + t_x)
    u1 = math.log(m + T)
    # the factor with an offset bends l; the other is a straight line in u
    if da == 0.0:
        lin, curved, off = p, q, db
    else:
        lin, curved, off = q, p, da
    # slope l'(u) = 1 - lin - curved * e^u / (off + e^u): decreasing in u
    if off == 0.0:
        peak = u1 if 1.0 - lin - curved > 0.0 else u0
    else:
        share = (1.0 - lin) / curved  # the slope is 0 where e^u / (off + e^u) = share
        if share <= 0.0:
            peak = u0
        elif share >= 1.0:
            peak = u1
        else:
            peak = math.log(off * share / (1.0 - share))
    peak = min(max(peak, u0), u1)
    kappa = 0.25 * curved if off > 0.0 else 0.0

    def log_f(u):
        eu = math.exp(u)
        return u - p * math.log(da + eu) - q * math.log(db + eu)

    def slope(u):
        eu = math.exp(u)
        return 1.0 - p * eu / (da + eu) - q * eu / (db + eu)

    l_peak = log_f(peak)
    acc = 0.0
    for direction in (1.0, -1.0):
        uc = peak
        while (direction > 0.0 and uc < u1) or (direction < 0.0 and uc > u0):
            h = _PANEL_MAX_WIDTH
            sl = abs(slope(uc))
            if sl * h > _PANEL_DROP:
                h = _PANEL_DROP / sl
            if kappa > 0.0:
                h = min(h, math.sqrt(2.0 * _PANEL_DROP / kappa))
            un = uc + direction * h
            un = min(max(un, u0), u1)
            lo = min(uc, un)
            half = 0.5 * abs(un - uc)
            mid = lo + half
            for k in range(_GL_NODES.size):
                u = mid + half * _GL_NODES[k]
                eu = math.exp(u)
                fa = da + eu  # alpha + tau
                fb = db + eu  # beta + tau
                la = math.log(fa)
                lb = math.log(fb)
                wk = half * _GL_WEIGHTS[k] * math.exp(u - p * la - q * lb - l_peak)
                acc += wk
                means[0] -= wk * la
                means[1] -= wk * p / fa
                means[2] -= wk * lb
                means[3] -= wk * q / fb
            uc = un
            if log_f(uc) < l_peak - _TAIL_DROP:
                break
    if acc <= 0.0:
        return -_INF
    for k in range(4):
        means[k] /= acc
    return l_peak + math.log(acc)


@njit(cache=True, nogil=True)
def _pareto_row(r, alpha, s, beta, x, t_x, T, grad):
    """Log-likelihood of one customer; gradient in (r, alpha, s, beta) written to grad.

    With lambda ~ Gamma(r, alpha) and death rate mu ~ Gamma(s, beta):
    L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s
          + s * integral_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau ]
    (alive at T, or died at tau between the last purchase and T). Equal to
    Fader & Hardie's 2F1 form (2005 note, eq. 19-20).
    Returns (log-likelihood, probability alive).
    """
    p = r + x
    means = np.empty(4)
    log_i = _pareto_log_integral(p, alpha, s + 1.0, beta, t_x, T, means)
    log_alive = -p * math.log(alpha + T) - s * math.log(beta + T)
    lse, w_alive, w_dead = _logsumexp2(log_alive, math.log(s) + log_i)
    grad[0] = digamma(p) - digamma(r) + math.log(alpha) - w_alive * math.log(alpha + T) + w_dead * means[0]
    grad[1] = r / alpha - w_alive * p / (alpha + T) + w_dead * means[1]
    grad[2] = math.log(beta) - w_alive * math.log(beta + T) + w_dead * (1.0 / s + means[2])
    grad[3] = s / beta - w_alive * s / (beta + T) + w_dead * means[3]
    ll = math.lgamma(p) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta) + lse
    return ll, w_alive


@njit(cache=True, nogil=True)
def _pareto_terms_serial(params, x, t_x, T):
    n = x.size
    ll = np.empty(n)
    grad = np.empty((n, 4))
    r, alpha, s, beta = params[0], params[1], params[2], params[3]
    for i in range(n):
        ll[i], _ = _pareto_row(r, alpha, s, beta, x[i], t_x[i], T[i], grad[i])
    return ll, grad


@njit(cache=True, nogil=True, parallel=True)
def _pareto_terms_parallel(params, x, t_x, T):
    n = x.size
    ll = np.empty(n)
    grad = np.empty((n, 4))
    r, alpha, s, beta = params[0], params[1], params[2], params[3]
    for i in prange(n):
        ll[i], _ = _pareto_row(r, alpha, s, beta, x[i], t_x[i], T[i], grad[i])
    return ll, grad


def paretonbd_loglik_terms(params, x, t_x, T):
    """Per-customer Pareto/NBD log-likelihoods and gradients, shapes (n,) and (n, 4)."""
    if x.size >= PARALLEL_MIN_ROWS:
        return _pareto_terms_parallel(params, x, t_x, T)
    return _pareto_terms_serial(params, x, t_x, T)


def paretonbd_loglik(params, x, t_x, T, w):
    """Weighted Pareto/NBD log-likelihood and its gradient in (r, alpha, s, beta)."""
    return _weighted_sums(*paretonbd_loglik_terms(params, x, t_x, T), w)


@njit(cache=True, nogil=True)
def expected_purchases_pareto(t, r, alpha, s, beta):
    """E[X(t)] under Pareto/NBD: r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)].

    Written as (r/alpha) beta (1 - e^{-(s-1)L})/(s-1), L = log(1 + t/beta),
    which is smooth through s = 1 (limit r beta L / alpha).
    """
    if t <= 0.0:
        return 0.0
    big_l = math.log1p(t / beta)
    u = s - 1.0
    if abs(u * big_l) < 1e-10:
        factor = big_l * (1.0 - 0.5 * u * big_l)
    else:
        factor = -math.expm1(-u * big_l) / u
    return r / alpha * beta * factor


# --- Gamma-Gamma -----------------------------------------------------------


@njit(cache=True, nogil=True)
def _gammagamma_row(p, q, g, psi_q, x, m, grad):
    """Log-likelihood of mean spend m over x > 0 repeat purchases; gradient in (p, q, gamma).

    f(m | p, q, gamma, x) = G(px+q) / (G(px) G(q)) gamma^q m^(px-1) x^(px) / (gamma + x m)^(px+q)
    """
    px = p * x
    log_m = math.log(m)
    log_x = math.log(x)
    log_g = math.log(g)
    log_gxm = math.log(g + x * m)
    psi_pxq = digamma(px + q)
    grad[0] = x * (psi_pxq - digamma(px) + log_m + log_x - log_gxm)
    grad[1] = psi_pxq - psi_q + log_g - log_gxm
    grad[2] = q / g - (px + q) / (g + x * m)
    return (
        math.lgamma(px + q)
        - math.lgamma(px)
        - math.lgamma(q)
        + q * log_g
        + (px - 1.0) * log_m
        + px * log_x
        - (px + q) * log_gxm
    )


@njit(cache=True, nogil=True)
def _gammagamma_terms_serial(params, x, m):
    n = x.size
    ll = np.empty(n)
    grad = np.empty((n, 3))
    psi_q = digamma(params[1])
    for i in range(n):
        ll[i] = _gammagamma_row(params[0], params[1], params[2], psi_q, x[i], m[i], grad[i])
    return ll, grad


@njit(cache=True, nogil=True, parallel=True)
def _gammagamma_terms_parallel(params, x, m):
    n = x.size
    ll = np.empty(n)
    grad = np.empty((n, 3))
    psi_q = digamma(params[1])
    for i in prange(n):
        ll[i] = _gammagamma_row(params[0], params[1], params[2], psi_q, x[i], m[i], grad[i])
    return ll, grad


def gammagamma_loglik_terms(params, x, m):
    """Per-customer Gamma-Gamma log-likelihoods (x > 0) and gradients, shapes (n,) and (n, 3)."""
    if x.size >= PARALLEL_MIN_ROWS:
        return _gammagamma_terms_parallel(params, x, m)
    return _gammagamma_terms_serial(params, x, m)


def gammagamma_loglik(params, x, m, w):
    """Weighted Gamma-Gamma log-likelihood and its gradient in (p, q, gamma)."""
    return _weighted_sums(*gammagamma_loglik_terms(params, x, m), w)


@njit(cache=True, nogil=True, parallel=True)
def gammagamma_expected_spend(params, x, m):
    """E[spend per purchase | x, mean spend m] = p (gamma + x m) / (p x + q - 1).

    A weighted mean of the population mean p gamma / (q - 1) and the
    customer's own m; x = 0 gives the population mean. Needs q > 1.
    """
    p, q, g = params[0], params[1], params[2]
    out = np.empty(x.size)
    for i in prange(x.size):
        out[i] = p * (g + x[i] * m[i]) / (p * x[i] + q - 1.0)
    return out


# --- predictions shared by the transaction models ---------------------------


@njit(cache=True, nogil=True)
def _alive_and_posterior(model, params, x, t_x, T):
    """P(alive at T) and the parameters whose unconditional E[X(t)] gives the
    expected purchases of an alive customer after T."""
    r, alpha, c3, c4 = params[0], params[1], params[2], params[3]
    if model == PARETO_NBD:
        grad = np.empty(4)
        _, alive = _pareto_row(r, alpha, c3, c4, x, t_x, T, grad)
        return alive, r + x, alpha + T, c3, c4 + T
    # BG/NBD and MBG/NBD: odds of having dropped out after the last purchase
    shift = 1.0 if model == MBG_NBD else 0.0
    alive = 1.0
    if model == MBG_NBD or x > 0.0:
        log_odds = math.log(c3) - math.log(c4 + x + shift - 1.0) + (r + x) * (
            math.log(alpha + T) - math.log(alpha + t_x)
        )
        alive = 1.0 / (1.0 + math.exp(log_odds)) if log_odds < 700.0 else 0.0
    return alive, r + x, alpha + T, c3, c4 + x + shift


@njit(cache=True, nogil=True)
def _expected_alive(model, t, r, alpha, c3, c4):
    if model == PARETO_NBD:
        return expected_purchases_pareto(t, r, alpha, c3, c4)
    return expected_purchases_bg(t, r, alpha, c3, c4)


@njit(cache=True, nogil=True)
def expected_purchases(model, params, t):
    """Unconditional E[X(t)] for a new customer, for each t in the array."""
    out = np.empty(t.size)
    r, alpha, c3, c4 = params[0], params[1], params[2], params[3]
    for i in range(t.size):
        if model == MBG_NBD:
            # alive after the first purchase with probability b/(a+b); then BG with b+1
            out[i] = c4 / (c3 + c4) * expected_purchases_bg(t[i], r, alpha, c3, c4 + 1.0)
        else:
            out[i] = _expected_alive(model, t[i], r, alpha, c3, c4)
    return out


@njit(cache=True, nogil=True, parallel=True)
def probability_alive(model, params, x, t_x, T):
    """P(alive at T | x, t_x, T) per customer."""
    out = np.empty(x.size)
    for i in prange(x.size):
        alive, _, _, _, _ = _alive_and_posterior(model, params, x[i], t_x[i], T[i])
        out[i] = alive
    return out


@njit(cache=True, nogil=True, parallel=True)
def conditional_expected_purchases(model, params, t, x, t_x, T):
    """E[X(T, T+t) | x, t_x, T] per customer: P(alive) x E[X(t)] under the posterior."""
    out = np.empty(x.size)
    for i in prange(x.size):
        alive, r, alpha, c3, c4 = _alive_and_posterior(model, params, x[i], t_x[i], T[i])
        out[i] = alive * _expected_alive(model, t, r, alpha, c3, c4) if alive > 0.0 else 0.0
    return out


@njit(cache=True, nogil=True, parallel=True)
def customer_lifetime_value(model, params, x, t_x, T, spend, months, units_per_month, monthly_discount, margin):
    """Discounted value of the next ``months`` months per customer (lifetimes' formula):

    sum over m = 1..months of (E[X(0, m)] - E[X(0, m-1)]) * spend * margin / (1+d)^m,
    with E the conditional expected purchases and months of ``units_per_month`` units.
    """
    out = np.empty(x.size)
    for i in prange(x.size):
        alive, r, alpha, c3, c4 = _alive_and_posterior(model, params, x[i], t_x[i], T[i])
        total = 0.0
        if alive > 0.0:
            prev = 0.0
            for month in range(1, months + 1):
                cur = alive * _expected_alive(model, month * units_per_month, r, alpha, c3, c4)
                total += (cur - prev) / (1.0 + monthly_discount) ** month
                prev = cur
        out[i] = total * spend[i] * margin
    return out


def warm_up() -> None:
    """Compile (or load from cache) every kernel, so a first request does not pay for it."""
    x = np.array([0.0, 2.0, 1.0])
    t_x = np.array([0.0, 3.0, 1.0])
    T = np.array([5.0, 5.0, 4.0])
    w = np.ones(3)
    bg = np.array([0.25, 4.0, 0.8, 2.4])
    pareto = np.array([0.55, 10.0, 0.6, 11.0])
    gg = np.array([6.0, 3.7, 15.0])
    spend = np.array([20.0, 30.0])
    for modified in (False, True):  # both thread modes: small fits run serial, big ones parallel
        _weighted_sums(*_bg_family_terms_serial(bg, x, t_x, T, modified), w)
        _bg_family_terms_parallel(bg, x, t_x, T, modified)
        _bg_family_sums_parallel(bg, x, t_x, T, w, modified, 2)
    _weighted_sums(*_pareto_terms_serial(pareto, x, t_x, T), w)
    _pareto_terms_parallel(pareto, x, t_x, T)
    _weighted_sums(*_gammagamma_terms_serial(gg, x[1:], spend), w[1:])
    _gammagamma_terms_parallel(gg, x[1:], spend)
    gammagamma_expected_spend(gg, x, np.array([0.0, 20.0, 30.0]))
    hyp2f1_array(x + 1.0, x + 1.0, x + 2.0, np.array([0.1, 0.5, 0.9]))
    log_hyp2f1_array(x + 1.0, x + 1.0, x + 2.0, np.array([0.1, 0.5, 0.9]))
    for model, params in ((BG_NBD, bg), (MBG_NBD, bg), (PARETO_NBD, pareto)):
        expected_purchases(model, params, T)
        probability_alive(model, params, x, t_x, T)
        conditional_expected_purchases(model, params, 4.0, x, t_x, T)
        customer_lifetime_value(model, params, x, t_x, T, w, 12, 4.345, 0.01, 1.0)
