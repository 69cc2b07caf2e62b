"""Buy-till-you-die model fitters with the API users of ``lifetimes`` know.

    bgf = BetaGeoFitter().fit(frequency, recency, T)
    bgf.params_                      # {"r": ..., "alpha": ..., "a": ..., "b": ...}
    bgf.conditional_expected_number_of_purchases_up_to_time(30, frequency, recency, T)
    ggf = GammaGammaFitter().fit(frequency, monetary_value)
    ggf.customer_lifetime_value(bgf, frequency, recency, T, monetary_value, time=12)

Inputs are array-likes in one time unit (the unit of recency and T, e.g.
from ``plugins.clv.summary.summarise``). Fitting maximises the likelihood
with L-BFGS-B in log-parameter space using the kernels' analytic gradients;
``weights`` (e.g. from ``summary.collapse``) count identical customers.
Bad input raises ``ClvInputError`` naming the field; a fit that does not
converge raises ``ClvFitError``. Nothing returns NaN.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
from scipy.optimize import minimize

from plugins.clv import kernels
from plugins.clv.summary import collapse

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # fits stay correct without it, only slower where BLAS threads contend
    ThreadpoolController = None

__all__ = [
    "BetaGeoFitter",
    "ClvFitError",
    "ClvInputError",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
]

LOG_PARAM_BOUND = 25.0  # parameters live in [e^-25, e^25]; a fit that reaches the edge has failed
MIN_CUSTOMERS_PER_PARAM = 3


class ClvInputError(ValueError):
    """Input that no model can use; the message starts with the offending field."""


class ClvFitError(RuntimeError):
    """The likelihood could not be maximised (no convergence, non-finite values)."""


class ClvFitTimeout(ClvFitError):
    """The fit ran past its deadline and was stopped (no estimate)."""


PROGRESS_EVERY_S = 1.0  # how often a long fit reports (evaluations, elapsed seconds)


# --- input checks ---------------------------------------------------------


def _as_vector(name: str, values, length: int | None = None, ref_name: str = "frequency") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ClvInputError(f"{name}: must be one-dimensional, got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ClvInputError(f"{name}: length {arr.size} differs from {ref_name} length {length}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ClvInputError(f"{name}: must be finite (customer {int(np.flatnonzero(bad)[0])} is {arr[bad][0]})")
    return np.ascontiguousarray(arr)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_non_negative(name: str, arr: np.ndarray) -> None:
    neg = arr < 0
    if neg.any():
        i = _first(neg)
        raise ClvInputError(f"{name}: must be >= 0 (customer {i} has {arr[i]})")


def validate_rfm(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked float64 copies of (frequency, recency, T)."""
    x = _as_vector("frequency", frequency)
    t_x = _as_vector("recency", recency, x.size)
    age = _as_vector("T", T, x.size)
    for name, arr in (("frequency", x), ("recency", t_x), ("T", age)):
        _check_non_negative(name, arr)
    fractional = x != np.floor(x)
    if fractional.any():
        i = _first(fractional)
        raise ClvInputError(f"frequency: must be whole numbers of repeat purchases (customer {i} has {x[i]})")
    late = t_x > age * (1.0 + 1e-12) + 1e-12  # rounding slack only
    if late.any():
        i = _first(late)
        raise ClvInputError(f"recency: must not exceed T (customer {i} has recency {t_x[i]} > T {age[i]})")
    lonely = (x == 0) & (t_x > 0)
    if lonely.any():
        i = _first(lonely)
        raise ClvInputError(
            f"recency: must be 0 when frequency is 0 (customer {i} has recency {t_x[i]} and no repeat purchase)"
        )
    return x, np.minimum(t_x, age), age


def _validate_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _as_vector("weights", weights, n)
    _check_non_negative("weights", w)
    if not w.sum() > 0:
        raise ClvInputError("weights: must not all be zero")
    return w


def _validate_penalizer(penalizer_coef) -> float:
    pen = float(penalizer_coef)
    if not (math.isfinite(pen) and pen >= 0.0):
        raise ClvInputError(f"penalizer_coef: must be a finite number >= 0, got {penalizer_coef!r}")
    return pen


def _validate_time(name: str, t) -> np.ndarray:
    arr = _as_vector(name, t)
    _check_non_negative(name, arr)
    return arr


def _check_identifiable(model: str, n_params: int, n_customers: float, any_repeat: bool) -> None:
    if not any_repeat:
        raise ClvInputError(f"frequency: all customers have zero repeat purchases, so {model} cannot be fitted")
    need = MIN_CUSTOMERS_PER_PARAM * n_params
    if n_customers < need:
        raise ClvInputError(
            f"frequency: {n_customers:g} customers are too few to fit {model} "
            f"({n_params} parameters): need at least {need}"
        )


# --- optimisation -----------------------------------------------------------


_blas_limited = False


def one_blas_thread() -> None:
    """Keep OpenBLAS at one thread for the rest of the process (done once).

    L-BFGS-B works on 3-4 parameters through BLAS; OpenBLAS threads on such
    tiny vectors cost far more than they save, and they compete with numba's
    threads for the cores. The limit is not undone after a fit: changing
    OpenBLAS's thread count wakes its threads, which then spin for a while on
    the cores numba's threads need (a 1M-customer BG/NBD fit on 2 cores took
    0.15 s with a limit restored after each fit, 0.08 s with this).
    """
    global _blas_limited
    if not _blas_limited and ThreadpoolController is not None:
        ThreadpoolController().limit(limits=1, user_api="blas")
    _blas_limited = True


def _show(names, theta) -> str:
    return ", ".join(f"{n}={v:.4g}" for n, v in zip(names, theta))


def _maximise(
    loglik: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: list[np.ndarray],
    n_customers: float,
    penalizer: float,
    names: tuple[str, ...],
    model: str,
    deadline: float | None = None,
    on_progress: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, float]:
    """Maximise loglik - n * penalizer * sum(theta^2) over theta = exp(log_theta).

    The objective is the mean negative log-likelihood plus the penalty, as in
    lifetimes. Several starting points are tried when one does not converge;
    the best converged optimum wins. ``deadline`` (a time.monotonic() value)
    stops the search with ClvFitTimeout; ``on_progress(evaluations,
    elapsed_s)`` hears of a long search about once a second.
    """
    started = time.monotonic()
    clock = {"evaluations": 0, "reported": started}

    def objective(log_theta):
        clock["evaluations"] += 1
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise ClvFitTimeout(
                f"{model} fit stopped at its time budget after {clock['evaluations']} likelihood evaluations "
                f"({now - started:.1f} s)"
            )
        if on_progress is not None and now - clock["reported"] >= PROGRESS_EVERY_S:
            clock["reported"] = now
            on_progress(clock["evaluations"], now - started)
        theta = np.exp(log_theta)
        ll, grad = loglik(theta)
        value = -ll / n_customers + penalizer * np.dot(theta, theta)
        jac = (-grad / n_customers + 2.0 * penalizer * theta) * theta
        if not (math.isfinite(value) and np.all(np.isfinite(jac))):
            return 1e300, np.zeros_like(log_theta)  # push the line search back
        return value, jac

    bounds = [(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * len(names)
    best = None
    failures = []
    for start in starts:
        x0 = np.clip(np.log(start), -LOG_PARAM_BOUND + 1, LOG_PARAM_BOUND - 1)
        res = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "maxfun": 20000, "ftol": 1e-13, "gtol": 1e-8},
        )
        value, jac = objective(res.x)
        # L-BFGS-B may stop on a line search it cannot improve, at the optimum: accept that
        stationary = value < 1e300 and np.max(np.abs(jac)) < 1e-5
        at_edge = np.abs(res.x) > LOG_PARAM_BOUND - 1e-3
        if at_edge.any():
            failures.append(f"{names[_first(at_edge)]} ran to {math.exp(res.x[at_edge][0]):.3g}")
            continue
        if not stationary:
            failures.append(f"{res.message} (largest gradient {np.max(np.abs(jac)):.2g})")
            continue
        if best is None or value < best[1]:
            best = (res.x, value)
        break
    if best is None:
        raise ClvFitError(
            f"{model} fit did not converge: {'; '.join(failures)}. "
            "The data may not identify the model; a penalizer_coef > 0 (e.g. 0.001) can help."
        )
    theta = np.exp(best[0])
    ll, _ = loglik(theta)
    if not math.isfinite(ll):
        raise ClvFitError(f"{model} fit gave a non-finite log-likelihood at {_show(names, theta)}")
    return theta, float(ll)


def _standard_errors(
    loglik: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta: np.ndarray,
    n_customers: float,
    penalizer: float,
    names: tuple[str, ...],
    model: str,
) -> np.ndarray:
    """Square roots of the diagonal of the inverse Hessian of the (penalised)
    negative log-likelihood, by central differences of the analytic gradient."""
    k = theta.size
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * theta[j]
        up = theta.copy()
        down = theta.copy()
        up[j] += h
        down[j] -= h
        g_up = -loglik(up)[1] + 2.0 * n_customers * penalizer * up
        g_down = -loglik(down)[1] + 2.0 * n_customers * penalizer * down
        hess[:, j] = (g_up - g_down) / (2.0 * h)
    hess = 0.5 * (hess + hess.T)
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        cov = np.full((k, k), np.nan)
    var = np.diag(cov)
    if not (np.all(np.isfinite(var)) and np.all(var > 0)):
        raise ClvFitError(
            f"{model} fit: the Hessian at the optimum is not positive definite, "
            f"so the parameters {_show(names, theta)} are not identified by this data"
        )
    return np.sqrt(var)


# --- transaction models -------------------------------------------------------


COLLAPSE_PREDICTIONS_MIN = 100_000  # customers; below this collapsing costs more than it saves


def _per_unique_row(kernel, x, t_x, age):
    """kernel(x, t_x, age) per customer, computed once per distinct (x, t_x, T) row.

    Real customer bases repeat rows a lot (whole-day recency, shared T), so
    large prediction batches collapse several-fold; results are identical.
    """
    if x.size >= COLLAPSE_PREDICTIONS_MIN:
        rows = collapse(x, t_x, age)
        if rows.weights.size <= x.size // 2:
            return kernel(rows.frequency, rows.recency, rows.T)[rows.inverse]
    return kernel(x, t_x, age)



def _fit_into(fitter, loglik, starts, initial_params, n_customers, pen, deadline=None, on_progress=None):
    """Maximise ``loglik`` from ``starts`` (user's ``initial_params`` first) and
    store the estimates, standard errors and log-likelihood on ``fitter``."""
    names, model = fitter._param_names, fitter._model_name
    if initial_params is not None:
        init = _as_vector("initial_params", initial_params, len(names), "parameter names")
        if np.any(init <= 0):
            raise ClvInputError("initial_params: must all be > 0")
        starts = [init] + starts
    one_blas_thread()
    theta, ll = _maximise(loglik, starts, n_customers, pen, names, model, deadline, on_progress)
    se = _standard_errors(loglik, theta, n_customers, pen, names, model)
    fitter.penalizer_coef = pen
    fitter.params_ = dict(zip(names, theta.tolist()))
    fitter.standard_errors_ = dict(zip(names, se.tolist()))
    fitter.log_likelihood_ = ll
    fitter.n_customers_ = int(n_customers) if n_customers == int(n_customers) else n_customers
    return fitter


class _TransactionFitter:
    """Shared fit/predict for BG/NBD, MBG/NBD and Pareto/NBD."""

    _model_name = ""
    _model_code = -1
    _param_names: tuple[str, ...] = ()

    def __init__(self, penalizer_coef: float = 0.0):
        self.penalizer_coef = _validate_penalizer(penalizer_coef)
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_likelihood_: float | None = None
        self.n_customers_: float = 0

    def __repr__(self) -> str:
        if not self.params_:
            return f"<{type(self).__name__}: not fitted>"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {shown}>"

    @classmethod
    def from_params(cls, params: dict[str, float]):
        """A fitter with stored parameters, ready to predict (no data needed)."""
        missing = [n for n in cls._param_names if n not in params]
        if missing:
            raise ClvInputError(f"params: missing {', '.join(missing)}")
        values = np.array([float(params[n]) for n in cls._param_names])
        if not (np.all(np.isfinite(values)) and np.all(values > 0)):
            raise ClvInputError(f"params: must all be finite and > 0, got {params}")
        fitter = cls()
        fitter.params_ = dict(zip(cls._param_names, values.tolist()))
        return fitter

    # subclasses: the kernel computing (weighted log-likelihood, gradient)
    def _loglik_kernel(self):
        raise NotImplementedError

    def _starts(self, x, t_x, T, w) -> list[np.ndarray]:
        raise NotImplementedError

    def fit(self, frequency, recency, T, weights=None, penalizer_coef: float | None = None, initial_params=None,
            deadline: float | None = None, on_progress=None):
        """Maximum likelihood fit; returns self with params_, standard_errors_, log_likelihood_.

        ``deadline`` (time.monotonic()) stops it with ClvFitTimeout;
        ``on_progress(evaluations, elapsed_s)`` reports a long fit."""
        x, t_x, age = validate_rfm(frequency, recency, T)
        w = _validate_weights(weights, x.size)
        pen = self.penalizer_coef if penalizer_coef is None else _validate_penalizer(penalizer_coef)
        n_customers = float(w.sum())
        _check_identifiable(self._model_name, len(self._param_names), n_customers, bool(np.any((x > 0) & (w > 0))))
        kernel = self._loglik_kernel()
        # identical customers have identical likelihoods: fit on unique rows
        rows = collapse(x, t_x, age)
        w = np.bincount(rows.inverse, weights=w, minlength=rows.weights.size)
        x, t_x, age = rows.frequency, rows.recency, rows.T

        def loglik(theta):
            return kernel(theta, x, t_x, age, w)

        starts = self._starts(x, t_x, age, w)
        return _fit_into(self, loglik, starts, initial_params, n_customers, pen, deadline, on_progress)

    def _params_array(self) -> np.ndarray:
        if not self.params_:
            raise ClvFitError(f"{type(self).__name__} is not fitted: call fit() or from_params() first")
        return np.array([self.params_[n] for n in self._param_names])

    def conditional_probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(customer still active at T | frequency, recency, T)."""
        params = self._params_array()
        x, t_x, age = validate_rfm(frequency, recency, T)
        model = self._model_code
        return _per_unique_row(lambda *rfm: kernels.probability_alive(model, params, *rfm), x, t_x, age)

    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T) -> np.ndarray:
        """Expected repeat purchases in (T, T + t] for each customer (t a scalar)."""
        params = self._params_array()
        t = float(_validate_time("t", t)[0]) if np.ndim(t) == 0 else None
        if t is None:
            raise ClvInputError("t: must be a single number of time units")
        x, t_x, age = validate_rfm(frequency, recency, T)
        model = self._model_code
        return _per_unique_row(
            lambda *rfm: kernels.conditional_expected_purchases(model, params, t, *rfm), x, t_x, age
        )

    def predict(self, t, frequency, recency, T) -> np.ndarray:
        """Alias of conditional_expected_number_of_purchases_up_to_time, as in lifetimes."""
        return self.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)

    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)]: expected repeat purchases of a new customer in (0, t]."""
        params = self._params_array()
        times = _validate_time("t", t)
        out = kernels.expected_purchases(self._model_code, params, times)
        return float(out[0]) if np.ndim(t) == 0 else out

    def customer_lifetime_value(
        self,
        frequency,
        recency,
        T,
        expected_spend,
        time: int = 12,
        discount_rate: float = 0.01,
        unit: str = "day",
        margin: float = 1.0,
    ) -> np.ndarray:
        """Discounted value of the next ``time`` months per customer.

        Sum over months m = 1..time of expected purchases in month m x
        expected_spend x margin / (1 + discount_rate)^m, months being
        30 days, 4.345 weeks or 1 month (lifetimes' convention).
        """
        params = self._params_array()
        x, t_x, age = validate_rfm(frequency, recency, T)
        spend = _as_vector("expected_spend", expected_spend, x.size)
        months = int(time)
        if months != time or months < 0:
            raise ClvInputError(f"time: must be a whole number of months >= 0, got {time!r}")
        if unit not in kernels.UNITS_PER_MONTH:
            raise ClvInputError(f"unit: must be one of {', '.join(kernels.UNITS_PER_MONTH)}, got {unit!r}")
        rate = float(discount_rate)
        if not (math.isfinite(rate) and rate > -1.0):
            raise ClvInputError(f"discount_rate: must be a finite monthly rate > -1, got {discount_rate!r}")
        margin = float(margin)
        if not math.isfinite(margin):
            raise ClvInputError(f"margin: must be finite, got {margin!r}")
        model, per_month = self._model_code, kernels.UNITS_PER_MONTH[unit]

        def discounted_purchases(*rfm):  # CLV is this times spend times margin
            ones = np.ones(rfm[0].size)
            return kernels.customer_lifetime_value(model, params, *rfm, ones, months, per_month, rate, 1.0)

        return _per_unique_row(discounted_purchases, x, t_x, age) * spend * margin


def _rate_start(x, T, w) -> float:
    """Time per repeat purchase across customers: a scale for alpha and beta."""
    return float(np.clip(np.dot(w, T) / max(np.dot(w, x), 1.0), 1e-6, 1e6))


class BetaGeoFitter(_TransactionFitter):
    """BG/NBD (Fader, Hardie & Lee 2005): parameters r, alpha, a, b."""

    _model_name = "BG/NBD"
    _model_code = kernels.BG_NBD
    _param_names = ("r", "alpha", "a", "b")

    def _loglik_kernel(self):
        return kernels.bgnbd_loglik

    def _starts(self, x, t_x, T, w):
        scale = _rate_start(x, T, w)
        return [
            np.array([1.0, scale, 1.0, 1.0]),
            np.array([1.1, 1.1 * np.max(T) / 10.0 + 1e-6, 1.1, 1.1]),  # lifetimes' start
            np.array([0.1, 0.1 * scale, 0.5, 5.0]),
        ]


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): parameters r, alpha, a, b."""

    _model_name = "MBG/NBD"
    _model_code = kernels.MBG_NBD

    def _loglik_kernel(self):
        return kernels.mbgnbd_loglik


class ParetoNBDFitter(_TransactionFitter):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): parameters r, alpha, s, beta."""

    _model_name = "Pareto/NBD"
    _model_code = kernels.PARETO_NBD
    _param_names = ("r", "alpha", "s", "beta")

    def _loglik_kernel(self):
        return kernels.paretonbd_loglik

    def _starts(self, x, t_x, T, w):
        scale = _rate_start(x, T, w)
        mean_T = float(np.clip(np.dot(w, T) / w.sum(), 1e-6, 1e6))
        return [
            np.array([1.0, scale, 1.0, mean_T]),
            np.array([1.1, 1.1 * np.max(T) / 10.0 + 1e-6, 1.1, 1.1 * np.max(T) / 10.0 + 1e-6]),
            np.array([0.1, 0.1 * scale, 0.5, 5.0 * mean_T]),
        ]


# --- spend model ------------------------------------------------------------


class GammaGammaFitter:
    """Gamma-Gamma model of spend per purchase (Fader & Hardie 2013): p, q, gamma.

    Fitted on the customers with at least one repeat purchase (others carry
    no spend information and are skipped); monetary_value is their mean
    spend per repeat purchase.
    """

    _param_names = ("p", "q", "gamma")
    _model_name = "Gamma-Gamma"

    def __init__(self, penalizer_coef: float = 0.0):
        self.penalizer_coef = _validate_penalizer(penalizer_coef)
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_likelihood_: float | None = None
        self.n_customers_: float = 0

    def __repr__(self) -> str:
        if not self.params_:
            return "<GammaGammaFitter: not fitted>"
        return "<GammaGammaFitter: " + ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items()) + ">"

    @classmethod
    def from_params(cls, params: dict[str, float]) -> "GammaGammaFitter":
        """A fitter with stored parameters, ready to predict."""
        missing = [n for n in cls._param_names if n not in params]
        if missing:
            raise ClvInputError(f"params: missing {', '.join(missing)}")
        values = np.array([float(params[n]) for n in cls._param_names])
        if not (np.all(np.isfinite(values)) and np.all(values > 0)):
            raise ClvInputError(f"params: must all be finite and > 0, got {params}")
        fitter = cls()
        fitter.params_ = dict(zip(cls._param_names, values.tolist()))
        return fitter

    @staticmethod
    def _validate(frequency, monetary_value) -> tuple[np.ndarray, np.ndarray]:
        x = _as_vector("frequency", frequency)
        m = _as_vector("monetary_value", monetary_value, x.size)
        _check_non_negative("frequency", x)
        fractional = x != np.floor(x)
        if fractional.any():
            i = _first(fractional)
            raise ClvInputError(f"frequency: must be whole numbers of repeat purchases (customer {i} has {x[i]})")
        bad = (x > 0) & (m <= 0)
        if bad.any():
            i = _first(bad)
            raise ClvInputError(
                f"monetary_value: must be > 0 for customers with repeat purchases (customer {i} has {m[i]})"
            )
        return x, m

    def fit(self, frequency, monetary_value, weights=None, penalizer_coef: float | None = None, initial_params=None,
            deadline: float | None = None, on_progress=None):
        """Maximum likelihood fit on the customers with frequency > 0; returns self (``deadline``,
        ``on_progress`` as for the transaction models)."""
        x, m = self._validate(frequency, monetary_value)
        w = _validate_weights(weights, x.size)
        pen = self.penalizer_coef if penalizer_coef is None else _validate_penalizer(penalizer_coef)
        repeat = (x > 0) & (w > 0)
        _check_identifiable(self._model_name, 3, float(w[repeat].sum()), bool(repeat.any()))
        x, m, w = x[repeat], m[repeat], w[repeat]
        n_customers = float(w.sum())

        def loglik(theta):
            return kernels.gammagamma_loglik(theta, x, m, w)

        mean_spend = float(np.dot(w, m) / n_customers)
        starts = [np.array([1.0, 2.0, mean_spend]), np.array([1.1, 1.1, 1.1]), np.array([5.0, 5.0, 4.0 * mean_spend])]
        return _fit_into(self, loglik, starts, initial_params, n_customers, pen, deadline, on_progress)

    def _params_array(self) -> np.ndarray:
        if not self.params_:
            raise ClvFitError("GammaGammaFitter is not fitted: call fit() or from_params() first")
        params = np.array([self.params_[n] for n in self._param_names])
        if params[1] <= 1.0:
            raise ClvFitError(
                f"Gamma-Gamma q = {params[1]:.4g} <= 1: the population mean spend is infinite, "
                "so expected spend cannot be predicted"
            )
        return params

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        """E[spend per purchase | frequency, monetary_value]; with no arguments,
        the population mean p gamma / (q - 1)."""
        params = self._params_array()
        if frequency is None and monetary_value is None:
            return params[0] * params[2] / (params[1] - 1.0)
        x, m = self._validate(frequency, monetary_value)
        return kernels.gammagamma_expected_spend(params, x, np.where(x > 0, m, 0.0))

    def customer_lifetime_value(
        self,
        transaction_prediction_model: _TransactionFitter,
        frequency,
        recency,
        T,
        monetary_value,
        time: int = 12,
        discount_rate: float = 0.01,
        unit: str = "day",
        margin: float = 1.0,
    ) -> np.ndarray:
        """Discounted CLV over ``time`` months: the transaction model's expected
        purchases x this model's expected spend x margin (lifetimes' formula)."""
        if not isinstance(transaction_prediction_model, _TransactionFitter):
            raise ClvInputError("transaction_prediction_model: must be a fitted BG/NBD, MBG/NBD or Pareto/NBD fitter")
        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        return transaction_prediction_model.customer_lifetime_value(
            frequency, recency, T, spend, time=time, discount_rate=discount_rate, unit=unit, margin=margin
        )
