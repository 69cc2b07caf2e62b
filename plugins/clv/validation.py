"""Calibration / holdout check of a transaction model on a tenant's own purchases.

Split the history at ``calibration_end``: summarise the calibration period,
fit the model there, predict each customer's purchases over the holdout
period (calibration_end, observation_end], and compare with what they did.
This is the check of Fader, Hardie & Lee (2005, figure 4): mean actual and
predicted holdout purchases of customers grouped by calibration frequency.

Only customers with a purchase by calibration_end are scored. Holdout
purchases are counted in periods like the calibration frequency (purchases
in the same period count once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugins.clv.fitters import (
    BetaGeoFitter,
    ClvInputError,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from plugins.clv.summary import span_in_units, summarise

MODELS = {
    "bgnbd": BetaGeoFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
    "paretonbd": ParetoNBDFitter,
}


@dataclass(frozen=True)
class FrequencyGroup:
    """Customers with one calibration frequency (the last group is 'at least')."""

    label: str  # "0", "1", ..., "7+"
    n_customers: int
    mean_actual: float
    mean_predicted: float


@dataclass(frozen=True)
class HoldoutReport:
    model: str
    params: dict[str, float]
    holdout_length: float  # in unit
    customers: np.ndarray  # input indices of the scored customers
    frequency: np.ndarray  # calibration summary of those customers
    recency: np.ndarray
    T: np.ndarray
    actual: np.ndarray  # holdout purchase periods
    predicted: np.ndarray  # expected holdout purchases
    total_actual: float
    total_predicted: float
    mean_absolute_error: float
    correlation: float | None  # Pearson; None when either side is constant
    by_frequency: list[FrequencyGroup]
    standard_errors: dict[str, float] | None = None  # of params


def _frequency_groups(frequency, actual, predicted, top: int) -> list[FrequencyGroup]:
    groups = []
    for k in range(top + 1):
        members = frequency >= k if k == top else frequency == k
        n = int(members.sum())
        groups.append(
            FrequencyGroup(
                label=f"{k}+" if k == top else str(k),
                n_customers=n,
                mean_actual=float(actual[members].mean()) if n else 0.0,
                mean_predicted=float(predicted[members].mean()) if n else 0.0,
            )
        )
    return groups


def calibration_holdout(
    offsets,
    times,
    amounts,
    calibration_end: int,
    observation_end: int,
    unit: str = "day",
    period: str | None = None,
    model: str = "bgnbd",
    penalizer_coef: float = 0.0,
    top_frequency: int = 7,
    local_days=None,
    calibration_end_local: int | None = None,
    observation_end_local: int | None = None,
    deadline: float | None = None,
) -> HoldoutReport:
    """Fit on purchases up to calibration_end, predict (calibration_end, observation_end].

    Arrays are the engine's columnar batch (see ``plugins.clv.summary``);
    times are epoch seconds. ``local_days`` and the ``*_local`` ends (local
    wall-clock epoch seconds) put the calendar in the tenant's time zone, as
    in ``summarise``; ``deadline`` (time.monotonic()) bounds the fit.
    """
    cal_local = int(calibration_end) if calibration_end_local is None else int(calibration_end_local)
    obs_local = int(observation_end) if observation_end_local is None else int(observation_end_local)
    if model not in MODELS:
        raise ClvInputError(f"model: must be one of {', '.join(MODELS)}, got {model!r}")
    if not int(observation_end) > int(calibration_end):
        raise ClvInputError("observation_end: must be after calibration_end")
    if top_frequency < 1:
        raise ClvInputError("top_frequency: must be >= 1")
    calibration = summarise(
        offsets, times, amounts, calibration_end, unit=unit, period=period, local_days=local_days,
        as_of_local=cal_local,
    )
    holdout = summarise(
        offsets,
        times,
        amounts,
        observation_end,
        unit=unit,
        period=period,
        start=int(calibration_end) + 1,
        local_days=local_days,
        as_of_local=obs_local,
    )
    scored = np.flatnonzero(calibration.observed)
    if scored.size == 0:
        raise ClvInputError("calibration_end: no customer has a purchase by then")
    x = calibration.frequency[scored].astype(np.float64)
    t_x = calibration.recency[scored]
    age = calibration.T[scored]
    # purchase periods in the holdout: its first one counts too
    actual = np.where(holdout.observed[scored], holdout.frequency[scored] + 1, 0).astype(np.float64)
    length = span_in_units(cal_local, obs_local, unit)

    fitter = MODELS[model]().fit(x, t_x, age, penalizer_coef=penalizer_coef, deadline=deadline)
    predicted = fitter.conditional_expected_number_of_purchases_up_to_time(length, x, t_x, age)

    correlation = None
    if actual.std() > 0 and predicted.std() > 0:
        correlation = float(np.corrcoef(actual, predicted)[0, 1])
    return HoldoutReport(
        model=model,
        params=dict(fitter.params_),
        holdout_length=length,
        customers=scored,
        frequency=x,
        recency=t_x,
        T=age,
        actual=actual,
        predicted=predicted,
        total_actual=float(actual.sum()),
        total_predicted=float(predicted.sum()),
        mean_absolute_error=float(np.abs(actual - predicted).mean()),
        correlation=correlation,
        by_frequency=_frequency_groups(x, actual, predicted, top_frequency),
        standard_errors=dict(fitter.standard_errors_),
    )
