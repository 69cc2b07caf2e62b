"""Is the churn-risk score any good? Split history at a date and find out.

The score is computed as of the split from the purchases before it only,
then compared with what happened: who bought again within the horizon after
the split. The positives are the customers who did *not* (they are what the
score is for), among everyone with a purchase before the split.

- AUC: the chance that a random customer who did not come back has a
  higher risk than a random one who did (ties count half); 0.5 is a coin.
- Top-decile lift: the share who did not come back among the riskiest 10%,
  over that share among everyone; what calling the top of the list buys.
- Calibration: customers in ten equal-sized bands of risk, their mean risk
  against the share that did not come back.
- The baseline, in the same run and population: recency alone (days since
  the last purchase as of the split), the rule of thumb the score has to beat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from engine.errors import FieldError, ValidationFailed

SECONDS_PER_DAY = 86400
DECILES = 10


@dataclass(frozen=True)
class CalibrationBand:
    band: int  # 1 (lowest risk) .. 10 (highest)
    customers: int
    mean_risk: float
    observed_no_purchase: float  # share who did not buy within the horizon


@dataclass(frozen=True)
class ValidationReport:
    split: str  # ISO time
    horizon_days: int
    source: str  # the score validated: "clv" or "recency_frequency"
    customers: int  # with a purchase before the split
    came_back: int  # of them, bought within the horizon
    auc: float | None
    top_decile_lift: float | None
    baseline_auc: float | None
    baseline_top_decile_lift: float | None
    calibration: list[CalibrationBand] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def auc(scores, positive) -> float | None:
    """Mann-Whitney AUC of ``scores`` ranking the ``positive`` entries above
    the others, ties counted half; None when one class is empty."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(scores)  # average ranks for ties
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _riskiest_first(scores) -> np.ndarray:
    # stable on the negated scores: equal scores keep customer order, so the cut is reproducible
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def top_decile_lift(scores, positive) -> float | None:
    positive = np.asarray(positive, dtype=bool)
    n = positive.size
    if n == 0 or not positive.any():
        return None
    top = _riskiest_first(scores)[: max(1, int(np.ceil(n / DECILES)))]
    return float(positive[top].mean() / positive.mean())


def calibration(risk, positive) -> list[CalibrationBand]:
    """Ten bands of (near) equal size by ascending risk."""
    order = _riskiest_first(risk)[::-1]
    risk = np.asarray(risk, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    bands = []
    for b, part in enumerate(np.array_split(order, DECILES), start=1):
        if part.size:
            bands.append(CalibrationBand(b, int(part.size), float(risk[part].mean()), float(positive[part].mean())))
    return bands


def outcomes(offsets, times, split: int, horizon_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: bought before (or at) the split, bought within the
    horizon after it, and days since the last purchase as of the split."""
    offsets = np.asarray(offsets, dtype=np.int64)
    times = np.asarray(times, dtype=np.int64)
    n = offsets.size - 1
    owner = np.repeat(np.arange(n), np.diff(offsets))
    before = times <= split
    after = (times > split) & (times <= split + horizon_days * SECONDS_PER_DAY)
    had = np.bincount(owner[before], minlength=n) > 0
    came_back = np.bincount(owner[after], minlength=n) > 0
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, owner[before], times[before])
    recency_days = np.where(had, (split - last) / SECONDS_PER_DAY, 0.0)
    return had, came_back, recency_days


def report(risk, had, came_back, recency_days, split: int, horizon_days: int, source: str,
           warnings: list[str] | None = None) -> ValidationReport:
    """The report over the customers with a purchase before the split."""
    risk = np.asarray(risk, dtype=np.float64)[had]
    churned = ~np.asarray(came_back, dtype=bool)[had]
    recency = np.asarray(recency_days, dtype=np.float64)[had]
    return ValidationReport(
        split=datetime.fromtimestamp(split, timezone.utc).isoformat(), horizon_days=int(horizon_days), source=source,
        customers=int(risk.size), came_back=int((~churned).sum()),
        auc=auc(risk, churned), top_decile_lift=top_decile_lift(risk, churned),
        baseline_auc=auc(recency, churned), baseline_top_decile_lift=top_decile_lift(recency, churned),
        calibration=calibration(risk, churned), warnings=list(warnings or []),
    )


def validate_history(offsets, times, amounts, split: int, horizon_days: int, value_days: int = 365) -> ValidationReport:
    """The recency/frequency score validated on columnar purchases (no database)."""
    from plugins.lifecycle.risk import risk_from_history

    had, came_back, recency = outcomes(offsets, times, split, horizon_days)
    model = risk_from_history(offsets, times, amounts, split, horizon_days, value_days)
    return report(model.risk, had, came_back, recency, split, horizon_days, "recency_frequency")


def clv_risk_at(offsets, times, amounts, split: int, horizon_days: int, clv_settings, calendar=None) -> np.ndarray:
    """The clv module's model fitted as of the split (its settings), as risk
    over the horizon; 0 for customers with no purchase before the split."""
    from plugins.clv.fitters import ClvFitError, ClvInputError
    from plugins.clv.service import DAYS_PER_UNIT, FITTERS, PERIOD, UNITS
    from plugins.clv.summary import collapse, summarise
    from plugins.lifecycle.risk import risk_from_expected

    unit = UNITS[clv_settings.unit]
    if calendar is None:  # UTC days
        summary = summarise(offsets, times, amounts, split, unit=unit, period=PERIOD)
    else:  # each purchase's stored local day, as the clv module counts them
        summary = summarise(offsets, times, amounts, split, unit=unit, period=PERIOD,
                            local_days=calendar.local_days, as_of_local=calendar.local(split))
    seen = np.flatnonzero(summary.observed)
    rows = collapse(summary.frequency[seen].astype(np.float64), summary.recency[seen], summary.T[seen])
    fitter = FITTERS[clv_settings.model](penalizer_coef=clv_settings.penalizer)
    try:
        fitter.fit(rows.frequency, rows.recency, rows.T, weights=rows.weights)
    except (ClvInputError, ClvFitError) as error:
        raise ValidationFailed([FieldError("split", f"the CLV model cannot be fitted as of the split: {error}")]) from None
    f, r, t, inv = rows.frequency, rows.recency, rows.T, rows.inverse
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(
        horizon_days / DAYS_PER_UNIT[unit], f, r, t)[inv]
    risk = np.zeros(summary.observed.size)
    risk[seen] = risk_from_expected(expected)
    return risk


def validate(ctx, split: datetime | None = None, horizon_days: int | None = None) -> ValidationReport:
    """Validate the tenant's risk score: the clv model when the module is on
    and fitted (refitted as of the split), the recency/frequency model otherwise."""
    from engine.scoring import load_purchase_batch
    from engine.types import utcnow
    from plugins.lifecycle.risk import risk_from_history

    settings = ctx.module_settings("lifecycle")
    horizon = settings.validation_horizon_days if horizon_days is None else int(horizon_days)
    if not 1 <= horizon <= 3650:
        raise ValidationFailed([FieldError("horizonDays", "must be 1 to 3650 days")])
    now = utcnow()
    if split is None:
        split = now - timedelta(days=horizon)
    if split.tzinfo is None:
        raise ValidationFailed([FieldError("split", "must carry a time zone")])
    end = split + timedelta(days=horizon)
    if end > now:
        raise ValidationFailed([FieldError(
            "split", f"the split plus {horizon} days ends after now: what customers did next is not known yet")])
    batch = load_purchase_batch(ctx.session, ctx.tenant_id, end, ("lifecycle",))
    split_epoch = int(split.timestamp())
    had, came_back, recency = outcomes(batch.offsets, batch.times, split_epoch, horizon)
    if not had.any():
        raise ValidationFailed([FieldError("split", "no customer has a purchase before the split; nothing to validate")])
    warnings = []
    source = "recency_frequency"
    if "clv" in ctx.enabled_modules and _clv_fitted(ctx):
        from plugins.clv.service import LocalCalendar, zone_of

        calendar = LocalCalendar(local_days=batch.local_days, zone=zone_of(ctx.tenant.timezone))
        risk = clv_risk_at(batch.offsets, batch.times, batch.amounts, split_epoch, horizon,
                           ctx.module_settings("clv"), calendar)
        source = "clv"
    else:
        risk = risk_from_history(batch.offsets, batch.times, batch.amounts, split_epoch, horizon,
                                 settings.risk_horizon_days, local_days=batch.local_days).risk
    if had.sum() < 100:
        warnings.append(f"only {int(had.sum())} customers bought before the split: the figures are rough")
    return report(risk, had, came_back, recency, split_epoch, horizon, source, warnings)


def _clv_fitted(ctx) -> bool:
    from plugins.clv.models import ClvRun
    from sqlmodel import select

    return ctx.session.exec(select(ClvRun.id).where(ClvRun.tenant_id == ctx.tenant_id)).first() is not None
