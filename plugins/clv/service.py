"""CLV for one tenant: fit, predict, validate, and store the run atomically.

``fit_clv`` is pure (columnar arrays in, arrays and fitted models out);
``score_tenant`` is the ``guanxi_score`` body: it writes the run and the
per-customer scores in the caller's transaction, replacing the previous run.

Choices (docs/clv.md has the long form):
- Purchases on the same calendar day in the tenant's time zone count as one
  purchase (the CDNOW / lifetimes convention): the day is the one stored with
  each purchase when it was recorded (``local_day``), and T runs to the as-of
  instant's local time, so daylight-saving changes move nobody's days. The
  ``unit`` setting only sets the scale of recency, T and the model's parameters.
- Refused (``ValidationFailed``, nothing written, the previous run stays):
  no purchases, too few customers for the model, nobody with a repeat
  purchase (no model of repeat buying can be fitted), a transaction-model fit
  that does not converge, that converges on parameters the data does not
  support (``fit_checks``: a parameter past its ceiling or a standard error
  that is not finite, positive and within its limit), that runs past the
  ``fit_time_budget_s`` setting, and any non-finite prediction.
- The fits share one deadline (``fit_time_budget_s`` from the start of the
  run) and report progress (likelihood evaluations, seconds) through the
  batch's progress callback about once a second.
- Gamma-Gamma falls back to the mean spend per purchase day, with a warning,
  when it cannot be fitted (fewer than 9 repeat customers with positive
  spend, no convergence, or q <= 1, i.e. infinite mean spend). Repeat
  customers whose repeat purchases were all free (mean spend <= 0) are left
  out of the spend fit and get an expected spend of 0, with a warning.
- The validation report (calibration/holdout) is computed with every run;
  when the history is too short or the calibration fit fails the run is
  still stored, with ``validation`` None and a warning saying why.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete
from sqlmodel import select

from engine.errors import FieldError, ValidationFailed
from engine.scoring import PurchaseBatch, ScoreReport, replace_result_columns
from engine.types import utcnow
from plugins.clv.fit_checks import refusal_reason
from plugins.clv.fitters import (
    BetaGeoFitter,
    ClvFitError,
    ClvFitTimeout,
    ClvInputError,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from plugins.clv.models import ClvRun, ClvScore
from plugins.clv.settings import ClvSettings
from plugins.clv.summary import collapse, summarise
from plugins.clv.validation import calibration_holdout

SECONDS_PER_DAY = 86400
PERIOD = "day"  # purchases on one local calendar day are one purchase
UNITS = {"DAY": "day", "WEEK": "week", "MONTH": "month"}
DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
FITTERS = {"BG_NBD": BetaGeoFitter, "MBG_NBD": ModifiedBetaGeoFitter, "PARETO_NBD": ParetoNBDFitter}
VALIDATION_MODELS = {"BG_NBD": "bgnbd", "MBG_NBD": "mbgnbd", "PARETO_NBD": "paretonbd"}
HORIZON_DAYS = (30, 90, 365)
MIN_SPEND_CUSTOMERS = 9  # 3 per Gamma-Gamma parameter, as for the transaction models
KEPT = "nothing stored, the previous run is kept"

log = logging.getLogger("guanxi.clv")


def refuse(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field_name, message)])


def zone_of(tz_name: str):
    try:
        return ZoneInfo(tz_name)
    except Exception:  # an unknown zone name: UTC days
        return timezone.utc


def local_epoch(instant: datetime, zone) -> int:
    """Whole local wall-clock seconds since 1970-01-01 00:00 local of ``instant`` in ``zone``."""
    wall = instant.astimezone(zone).replace(tzinfo=None)
    return int((wall - datetime(1970, 1, 1)).total_seconds() // 1)


@dataclass(frozen=True)
class LocalCalendar:
    """The tenant's calendar for one run: each purchase's stored local day, the
    as-of instant's local time, and the zone (for the validation's split)."""

    local_days: np.ndarray | None = None  # per purchase; None: UTC days
    zone: object = timezone.utc

    def local(self, epoch: int) -> int:
        return local_epoch(datetime.fromtimestamp(int(epoch), timezone.utc), self.zone)

    def days_before(self, epoch: int, days: int) -> int:
        """The instant ``days`` local calendar days before ``epoch`` at the same wall-clock time."""
        wall = datetime.fromtimestamp(int(epoch), timezone.utc).astimezone(self.zone).replace(tzinfo=None)
        return int((wall - timedelta(days=days)).replace(tzinfo=self.zone).timestamp() // 1)


def value_deciles(values: np.ndarray) -> np.ndarray:
    """1..10 by value, 10 the highest; equal values share a decile."""
    n = values.size
    if n == 0:
        return np.zeros(0, np.int64)
    below = np.searchsorted(np.sort(values), values, side="left")
    return (1 + (10 * below) // n).astype(np.int64)


def _epoch_iso(epoch: int) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()


def _named(params: dict[str, float], errors: dict[str, float]) -> dict[str, dict[str, float]]:
    return {name: {"value": float(value), "std_error": float(errors.get(name, math.nan))} for name, value in params.items()}


@dataclass
class ClvFit:
    """Per scored customer (``scored`` indexes the batch) plus the fitted models."""

    kind: str
    unit: str
    scored: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray
    historical_value: np.ndarray
    probability_alive: np.ndarray
    expected_purchases: dict[int, np.ndarray]  # days ahead -> expected purchases
    expected_spend: np.ndarray
    predicted_value: np.ndarray
    value_decile: np.ndarray
    holdout_actual: np.ndarray  # NaN where the customer is not in the calibration period
    holdout_predicted: np.ndarray
    transaction: object
    unique_rows: int
    spend_model: str
    spend: GammaGammaFitter | None
    spend_mean: float | None
    spend_customers: int
    validation: dict | None
    warnings: list[str] = field(default_factory=list)
    fit_seconds: float = 0.0  # fits, predictions and validation, against the fit_time_budget_s setting

    def parameters(self) -> dict:
        return _named(self.transaction.params_, self.transaction.standard_errors_)

    def spend_parameters(self) -> dict:
        return _named(self.spend.params_, self.spend.standard_errors_) if self.spend else {}


def _fit_spend(x: np.ndarray, m: np.ndarray, historical: np.ndarray, warnings: list[str], deadline: float | None = None):
    """Gamma-Gamma on the repeat customers with positive spend, or the mean-spend fallback.

    Returns (spend model name, fitter or None, fallback mean or None, customers fitted, expected spend).
    """
    repeat = x > 0
    free = repeat & (m <= 0)
    usable = repeat & (m > 0)
    if free.any():
        warnings.append(
            f"{int(free.sum())} repeat customers spent nothing on their repeat purchases: "
            "left out of the spend model, expected spend 0"
        )
    n_usable = int(usable.sum())
    reason = None
    if n_usable < MIN_SPEND_CUSTOMERS:
        reason = f"only {n_usable} repeat customers with positive spend (need {MIN_SPEND_CUSTOMERS})"
    else:
        try:
            ggf = GammaGammaFitter().fit(x[usable], m[usable], deadline=deadline)
            spend = ggf.conditional_expected_average_profit(np.where(usable, x, 0.0), np.where(usable, m, 0.0))
            spend = np.where(free, 0.0, spend)
            if np.all(np.isfinite(spend)):
                return "GAMMA_GAMMA", ggf, None, n_usable, spend
            reason = "non-finite expected spend"
        except (ClvFitError, ClvInputError) as error:
            reason = str(error)
    purchase_days = float((x + 1).sum())
    mean = float(historical.sum() / purchase_days) if purchase_days > 0 else 0.0
    mean = max(mean, 0.0)
    warnings.append(
        f"Gamma-Gamma spend model not fitted ({reason}); expected spend is the mean spend per purchase "
        f"day, {mean:.2f}, for every customer"
    )
    return "MEAN_SPEND", None, mean, 0, np.where(free, 0.0, mean)


def _validation(offsets, times, amounts, as_of: int, settings: ClvSettings, unit: str, calendar: LocalCalendar,
                deadline: float, warnings: list[str]):
    """The calibration/holdout report as JSON, and per input customer (actual, predicted) or NaN."""
    n = offsets.size - 1
    actual = np.full(n, np.nan)
    predicted = np.full(n, np.nan)
    first = times[offsets[:-1][np.diff(offsets) > 0]] if times.size else np.zeros(0, np.int64)
    first = first[first <= as_of]
    if first.size == 0:
        return None, actual, predicted
    history_days = (as_of - int(first.min())) / SECONDS_PER_DAY
    holdout_days = settings.holdout_days or int(history_days // 4)
    if holdout_days < 1 or holdout_days >= history_days:
        warnings.append(
            f"validation not computed: {history_days:.0f} days of history cannot hold a {holdout_days}-day holdout"
        )
        return None, actual, predicted
    calibration_end = calendar.days_before(as_of, holdout_days)  # same local time, holdout_days local days before
    try:
        report = calibration_holdout(
            offsets, times, amounts, calibration_end, as_of, unit=unit, period=PERIOD,
            model=VALIDATION_MODELS[settings.model], penalizer_coef=settings.penalizer,
            local_days=calendar.local_days, calibration_end_local=calendar.local(calibration_end),
            observation_end_local=calendar.local(as_of), deadline=deadline,
        )
    except (ClvInputError, ClvFitError) as error:
        warnings.append(f"validation not computed: the calibration-period fit failed: {error}")
        return None, actual, predicted
    refused = refusal_reason(settings.model, unit, report.params, report.standard_errors or {})
    if refused is not None:  # the same checks as the run's own fit
        warnings.append(f"validation not computed: the calibration-period fit was refused: {refused}")
        return None, actual, predicted
    if not (np.all(np.isfinite(report.predicted)) and math.isfinite(report.total_predicted)):
        warnings.append("validation not computed: non-finite holdout predictions")
        return None, actual, predicted
    actual[report.customers] = report.actual
    predicted[report.customers] = report.predicted
    correlation = report.correlation if report.correlation is not None and math.isfinite(report.correlation) else None
    payload = {
        "model": settings.model,
        "unit": unit.upper(),
        "holdout_days": int(holdout_days),
        "calibration_end": _epoch_iso(calibration_end),
        "observation_end": _epoch_iso(as_of),
        "holdout_length": float(report.holdout_length),
        "parameters": {k: float(v) for k, v in report.params.items()},
        "customers": int(report.customers.size),
        "total_actual": float(report.total_actual),
        "total_predicted": float(report.total_predicted),
        "mean_absolute_error": float(report.mean_absolute_error),
        "correlation": correlation,
        "by_frequency": [
            {"frequency": g.label, "customers": g.n_customers, "mean_actual": g.mean_actual,
             "mean_predicted": g.mean_predicted}
            for g in report.by_frequency
        ],
    }
    return payload, actual, predicted


def fit_clv(offsets, times, amounts, refunds, as_of: int, settings: ClvSettings,
            calendar: LocalCalendar = LocalCalendar(), on_progress=None) -> ClvFit:
    """Fit the tenant's model and Gamma-Gamma, predict for every customer with a purchase by as_of.

    ``refunds`` is the refunded amount per customer up to as_of (it reduces
    historical value only); ``calendar`` gives the purchases' local days
    (default UTC days); ``on_progress(text)`` hears of a long fit. Raises
    ``ValidationFailed`` when the data cannot support a fit.
    """
    started = time.monotonic()
    deadline = started + settings.fit_time_budget_s
    unit = UNITS[settings.unit]
    warnings: list[str] = []
    try:
        summary = summarise(offsets, times, amounts, as_of, unit=unit, period=PERIOD,
                            local_days=calendar.local_days, as_of_local=calendar.local(as_of))
    except ValueError as error:
        raise refuse("purchases", str(error)) from None
    scored = np.flatnonzero(summary.observed)
    if scored.size == 0:
        raise refuse("as_of", "the tenant has no purchases up to this time; nothing to score")
    x = summary.frequency[scored].astype(np.float64)
    t_x = summary.recency[scored]
    age = summary.T[scored]
    m = summary.monetary_value[scored]
    historical = np.maximum(summary.historical_value[scored] - refunds[scored], 0.0)

    rows = collapse(x, t_x, age)
    fitter = FITTERS[settings.model](penalizer_coef=settings.penalizer)

    def progress(evaluations: int, elapsed: float) -> None:
        text = (f"fitting {settings.model}: {evaluations} likelihood evaluations, {elapsed:.0f} s "
                f"of a {settings.fit_time_budget_s:g} s budget")
        log.info(text)
        if on_progress is not None:
            on_progress(text)

    try:
        fitter.fit(rows.frequency, rows.recency, rows.T, weights=rows.weights, deadline=deadline,
                   on_progress=progress)
    except ClvInputError as error:
        raise refuse("purchases", f"{settings.model} cannot be fitted: {error}") from None
    except ClvFitTimeout as error:
        raise refuse("settings.fit_time_budget_s", f"{error}: {KEPT}; raise fit_time_budget_s or check the data") from None
    except ClvFitError as error:
        raise refuse("settings.penalizer", f"{error}; {KEPT}") from None
    reason = refusal_reason(settings.model, unit, fitter.params_, fitter.standard_errors_)
    if reason is not None:
        raise refuse("purchases", f"{reason}; {KEPT}")

    inv = rows.inverse
    f, r, t = rows.frequency, rows.recency, rows.T
    alive = fitter.conditional_probability_alive(f, r, t)[inv]
    per_day = DAYS_PER_UNIT[unit]
    expected = {
        days: fitter.conditional_expected_number_of_purchases_up_to_time(days / per_day, f, r, t)[inv]
        for days in HORIZON_DAYS
    }
    spend_model, ggf, spend_mean, spend_customers, spend = _fit_spend(
        x, m, summary.historical_value[scored], warnings, deadline)
    discounted = fitter.customer_lifetime_value(
        f, r, t, np.ones(f.size), time=settings.horizon_months, discount_rate=settings.discount_rate_monthly,
        unit=unit, margin=1.0,
    )[inv]
    value = discounted * spend * settings.margin

    outputs = [alive, spend, value, historical, *expected.values()]
    bad = ~np.logical_and.reduce([np.isfinite(a) for a in outputs])
    if bad.any() or not math.isfinite(fitter.log_likelihood_):
        raise refuse("purchases", f"{settings.model} gave non-finite predictions for {int(bad.sum())} customers; "
                     "nothing stored (a penalizer > 0 may help)")

    validation, holdout_actual, holdout_predicted = _validation(
        offsets, times, amounts, as_of, settings, unit, calendar, deadline, warnings
    )
    return ClvFit(
        kind=settings.model, unit=settings.unit, scored=scored, frequency=x, recency=t_x, T=age,
        monetary_value=m, historical_value=historical, probability_alive=np.clip(alive, 0.0, 1.0),
        expected_purchases=expected, expected_spend=spend, predicted_value=value,
        value_decile=value_deciles(value), holdout_actual=holdout_actual[scored],
        holdout_predicted=holdout_predicted[scored], transaction=fitter, unique_rows=int(rows.weights.size),
        spend_model=spend_model, spend=ggf, spend_mean=spend_mean, spend_customers=spend_customers,
        validation=validation, warnings=warnings, fit_seconds=time.monotonic() - started,
    )


def refunds_up_to(batch: PurchaseBatch, as_of: int) -> np.ndarray:
    n = len(batch)
    owner = np.repeat(np.arange(n), np.diff(batch.refund_offsets))
    inside = batch.refund_times <= as_of
    return np.bincount(owner[inside], weights=batch.refund_amounts[inside], minlength=n).astype(np.float64)


def _money(values: np.ndarray) -> list[float]:
    return np.round(values, 2).tolist()


def _optional(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def replace_scores(session, tenant_id: int, constants: dict, columns: dict[str, list]) -> None:
    """Swap the tenant's score rows inside the caller's transaction, in bulk."""
    replace_result_columns(session, ClvScore.__table__, tenant_id, constants, columns)


def score_tenant(ctx, batch: PurchaseBatch) -> ScoreReport:
    """Fit, predict and replace the tenant's CLV run and scores in ctx's transaction."""
    started = time.perf_counter()
    settings: ClvSettings = ctx.module_settings("clv")
    if len(batch) == 0:
        raise refuse("as_of", "the tenant has no purchases up to this time; nothing to score")
    as_of = batch.as_of_epoch
    calendar = LocalCalendar(local_days=batch.local_days, zone=zone_of(ctx.tenant.timezone))
    fit = fit_clv(batch.offsets, batch.times, batch.amounts, refunds_up_to(batch, as_of), as_of, settings, calendar,
                  on_progress=batch.progress)

    session = ctx.session
    now = utcnow()
    session.execute(delete(ClvRun).where(ClvRun.tenant_id == ctx.tenant_id))
    run = ClvRun(
        tenant_id=ctx.tenant_id, kind=fit.kind, unit=fit.unit, parameters=fit.parameters(),
        log_likelihood=float(fit.transaction.log_likelihood_), spend_model=fit.spend_model,
        spend_parameters=fit.spend_parameters(),
        spend_log_likelihood=float(fit.spend.log_likelihood_) if fit.spend else None,
        spend_mean=fit.spend_mean, customers=int(fit.scored.size), unique_rows=fit.unique_rows,
        spend_customers=fit.spend_customers, fitted_at=now, as_of=batch.as_of,
        settings=settings.model_dump(mode="json"), warnings=list(fit.warnings), validation=fit.validation,
        scored=int(fit.scored.size), unscored=int(batch.customers_total - fit.scored.size),
    )
    session.add(run)
    session.flush()
    columns = {
        "customer_id": batch.customer_ids[fit.scored].tolist(),
        "frequency": fit.frequency.astype(np.int64).tolist(),
        "recency": fit.recency.tolist(),
        "T": fit.T.tolist(),
        "monetary_value": fit.monetary_value.tolist(),
        "probability_alive": fit.probability_alive.tolist(),
        "expected_purchases_30": fit.expected_purchases[30].tolist(),
        "expected_purchases_90": fit.expected_purchases[90].tolist(),
        "expected_purchases_365": fit.expected_purchases[365].tolist(),
        "expected_spend": _money(fit.expected_spend),
        "predicted_value": _money(fit.predicted_value),
        "historical_value": _money(fit.historical_value),
        "value_decile": fit.value_decile.tolist(),
        "holdout_actual": _optional(fit.holdout_actual),
        "holdout_predicted": _optional(fit.holdout_predicted),
    }
    constants = {"tenant_id": ctx.tenant_id, "run_id": run.id, "computed_at": now}
    replace_scores(session, ctx.tenant_id, constants, columns)
    run.duration_s = time.perf_counter() - started
    session.add(run)
    details = {
        "model": fit.kind,
        "parameters": {k: round(v["value"], 4) for k, v in run.parameters.items()},
        "log_likelihood": round(run.log_likelihood, 2),
        "customers": run.customers,
        "unique_rows": run.unique_rows,
        "spend_model": fit.spend_model,
        "fit_seconds": round(fit.fit_seconds, 2),
    }
    if fit.validation:
        v = fit.validation
        details["validation"] = {
            "holdout_days": v["holdout_days"], "actual": round(v["total_actual"], 1),
            "predicted": round(v["total_predicted"], 1), "mae": round(v["mean_absolute_error"], 3),
        }
    return ScoreReport(module="clv", scored=run.scored, unscored=run.unscored, details=details,
                       warnings=list(fit.warnings))


def latest_run(session, tenant_id: int) -> ClvRun | None:
    return session.exec(select(ClvRun).where(ClvRun.tenant_id == tenant_id)).first()


def rescore_if_due(ctx) -> str:
    """The periodic job: re-score when ``schedule_minutes`` is set and the last run is that old."""
    from engine.scoring import score_if_due

    settings: ClvSettings = ctx.module_settings("clv")
    if settings.schedule_minutes is None:
        return "off (schedule_minutes not set)"
    run = latest_run(ctx.session, ctx.tenant_id)
    outcome = score_if_due(ctx, "clv", settings.schedule_minutes, run.fitted_at if run else None)
    return outcome if isinstance(outcome, str) else f"scored {outcome.scored} customers"
