"""Churn risk per customer, its value at risk, and the array-level models behind them.

Risk is one quantity whatever its source: the probability that the customer
makes no purchase in the next ``validation_horizon_days`` (the risk window),
which is what the validation report checks it against.

- ``clv`` (the clv module enabled and fitted): from the stored run's
  expected purchases E over the window, risk = e^(-E), no purchase if the
  window's purchases are Poisson with mean E. E already carries the
  probability alive p (E = p x the purchases expected if alive). 1 - p alone
  is no churn score under BG/NBD: a one-time buyer is alive with p = 1 there
  (on CDNOW 1 - p ranks who comes back with an AUC of 0.33, worse than a
  coin); the mixture 1 - p (1 - e^(-E/p)) ranked worse than e^(-E) as well
  (AUC 0.782 against 0.788, recency alone 0.783; docs/lifecycle-analytics.md).
- ``recency_frequency`` (otherwise): the individual-level Pareto/NBD
  (Schmittlein, Morrison & Colombo 1987). Each customer buys at their own
  rate, estimated from their purchase days and shrunk towards the tenant's
  average rate by one pseudo-purchase (a one-time buyer is not assumed to
  never return); lifetimes end at one dropout rate for the tenant, fitted by
  maximum likelihood (a coarse then a fine grid of rates). A long silence for a frequent buyer is then
  far more alarming than the same silence for a yearly one, which is what
  recency alone cannot tell.

Expected value (money over ``risk_horizon_days``) is what the customer would
spend over that horizon if they stay: their mean spend per purchase day
times the purchases a live customer is expected to make. Value at risk is
risk x expected value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

SECONDS_PER_DAY = 86400
STORED_CLV_HORIZONS = (30, 90, 365)  # the clv module's stored expected_purchases_<days>
# The dropout rate per day is searched from one in 2,700 years to one a day:
# quarter decades first, then 21 steps across the best one's neighbours
# (a resolution of 1/40 decade, 6%).
COARSE_DROPOUTS = np.logspace(-6, 0, 25)
FINE_STEPS = 21
FIT_SAMPLE = 20_000  # customers the dropout rate is fitted on (evenly spaced): plenty for one parameter
PRIOR_PURCHASES = 1.0  # the pseudo-purchase shrinking each customer's rate towards the tenant's


@dataclass(frozen=True)
class RiskScores:
    """Per customer with a purchase (ascending ``customer_ids``)."""

    customer_ids: np.ndarray  # int64
    risk: np.ndarray  # float64 in [0, 1]: no purchase in the risk window
    expected_value: np.ndarray  # float64, money over risk_horizon_days if the customer stays
    value_at_risk: np.ndarray  # float64, risk x expected_value
    source: str  # "clv" or "recency_frequency"

    def __len__(self) -> int:
        return len(self.customer_ids)


@dataclass(frozen=True)
class HistoryRisk:
    """The recency/frequency model's output for every customer of the batch
    (``observed`` False: no purchase up to as_of, other entries 0)."""

    risk: np.ndarray
    expected_value: np.ndarray
    observed: np.ndarray
    dropout_per_day: float
    mean_rate_per_day: float


def risk_from_history(offsets, times, amounts, as_of: int, window_days: float, value_days: float,
                      local_days=None) -> HistoryRisk:
    """The recency/frequency model on columnar purchases (see the module's docstring).

    Purchase days are the purchases' stored ``local_days`` (UTC days without them)."""
    from plugins.lifecycle.kernels import _check, _local_days, _no_purchase_probability, _purchase_days

    offsets, times, amounts, _ = _check(offsets, times, amounts, np.zeros(max(np.asarray(offsets).size - 1, 0)), 1, 1)
    days, first, last, spend = _purchase_days(offsets, times, _local_days(times, local_days, 0), amounts,
                                              np.int64(as_of))
    observed = days > 0
    n = days.size
    risk = np.zeros(n)
    expected = np.zeros(n)
    if not observed.any():
        return HistoryRisk(risk, expected, observed, 0.0, 0.0)
    seen = np.flatnonzero(observed)
    repeats = (days[seen] - 1).astype(np.float64)
    age = (as_of - first[seen]) / SECONDS_PER_DAY
    recency = (last[seen] - first[seen]) / SECONDS_PER_DAY
    # The tenant's mean repeat rate per day of observed life; a tenant of
    # one-time buyers gets a tiny rate rather than none.
    mean_rate = max(repeats.sum() / max(age.sum(), 1.0), 1e-6)
    rates = (repeats + PRIOR_PURCHASES) / (age + PRIOR_PURCHASES / mean_rate)
    sample = np.linspace(0, seen.size - 1, min(seen.size, FIT_SAMPLE)).astype(np.int64)
    dropout = fit_dropout(rates[sample], recency[sample], age[sample])
    risk[seen] = np.clip(_no_purchase_probability(rates, dropout, recency, age, float(window_days)), 0.0, 1.0)
    # purchases a live customer makes over the value horizon, ended by dropout along the way
    purchases_if_alive = rates / dropout * -np.expm1(-dropout * value_days)
    expected[seen] = spend[seen] / days[seen] * purchases_if_alive
    return HistoryRisk(risk, expected, observed, dropout, mean_rate)


def fine_dropouts(coarse_best: int) -> np.ndarray:
    """The fine search's rates around the coarse grid's best (index)."""
    lo = COARSE_DROPOUTS[max(coarse_best - 1, 0)]
    hi = COARSE_DROPOUTS[min(coarse_best + 1, COARSE_DROPOUTS.size - 1)]
    return np.logspace(np.log10(lo), np.log10(hi), FINE_STEPS)


def fit_dropout(rates, recency, age) -> float:
    """The tenant's dropout rate per day maximising the likelihood, each customer's rate given."""
    from plugins.lifecycle.kernels import _dropout_log_likelihood

    coarse = _dropout_log_likelihood(rates, recency, age, COARSE_DROPOUTS)
    fine = fine_dropouts(int(np.argmax(coarse)))
    return float(fine[int(np.argmax(_dropout_log_likelihood(rates, recency, age, fine)))])


def risk_from_expected(expected_purchases) -> np.ndarray:
    """No purchase in the window when its purchases are Poisson with the
    mean a CLV model expects (which already weighs in P(alive))."""
    e = np.maximum(np.asarray(expected_purchases, dtype=np.float64), 0.0)
    return np.exp(-e)


def interpolate_horizon(days: float, stored: dict[int, np.ndarray]) -> np.ndarray:
    """Expected purchases over ``days`` from those stored for 30/90/365 days:
    linear between them, proportional below 30 and beyond 365."""
    horizons = sorted(stored)
    if days in stored:
        return stored[days]
    if days < horizons[0]:
        return stored[horizons[0]] * (days / horizons[0])
    if days > horizons[-1]:
        return stored[horizons[-1]] * (days / horizons[-1])
    hi = next(h for h in horizons if h > days)
    lo = horizons[horizons.index(hi) - 1]
    w = (days - lo) / (hi - lo)
    return stored[lo] * (1 - w) + stored[hi] * w


def _clv_scores(ctx, window_days: float, value_days: float) -> RiskScores | None:
    """From the clv module's latest stored run; None when it is off or has no run."""
    if "clv" not in ctx.enabled_modules:
        return None
    from plugins.clv.models import ClvScore

    table = ClvScore.__table__
    rows = ctx.session.execute(
        table.select().with_only_columns(
            table.c.customer_id, table.c.probability_alive, table.c.expected_purchases_30,
            table.c.expected_purchases_90, table.c.expected_purchases_365, table.c.expected_spend,
        ).where(table.c.tenant_id == ctx.tenant_id).order_by(table.c.customer_id)
    ).all()
    if not rows:
        return None
    columns = list(zip(*rows))
    ids = np.array(columns[0], np.int64)
    alive = np.array(columns[1], np.float64)
    stored = {h: np.array(col, np.float64) for h, col in zip(STORED_CLV_HORIZONS, columns[2:5])}
    spend = np.array([float(v) for v in columns[5]], np.float64)
    risk = risk_from_expected(interpolate_horizon(window_days, stored))
    expected_if_alive = np.divide(interpolate_horizon(value_days, stored), alive, out=np.zeros_like(alive),
                                  where=alive > 0)
    value = np.round(spend * expected_if_alive, 2)
    return RiskScores(ids, risk, value, np.round(risk * value, 2), "clv")


def risk_scores(ctx, as_of: datetime, batch=None) -> RiskScores:
    """Every customer with a purchase up to ``as_of``: CLV's stored results when
    the clv module is enabled and fitted, the recency/frequency model
    otherwise. ``batch``: the PurchaseBatch already read for ``as_of``, if any."""
    settings = ctx.module_settings("lifecycle")
    window, horizon = settings.validation_horizon_days, settings.risk_horizon_days
    from_clv = _clv_scores(ctx, window, horizon)
    if from_clv is not None:
        return from_clv
    if batch is None:
        from engine.scoring import load_purchase_batch

        batch = load_purchase_batch(ctx.session, ctx.tenant_id, as_of, ("lifecycle",))
    model = risk_from_history(batch.offsets, batch.times, batch.amounts, batch.as_of_epoch, window, horizon,
                              local_days=batch.local_days)
    seen = model.observed
    value = np.round(model.expected_value[seen], 2)
    risk = model.risk[seen]
    return RiskScores(batch.customer_ids[seen].astype(np.int64), risk, value, np.round(risk * value, 2),
                      "recency_frequency")


# --- the work list: who to call today --------------------------------------------

WORK_LIST_STAGES = ("new", "active", "at_risk", "lapsed", "won_back")  # churned ones go to win-back lists
MAX_WORK_LIST = 1000


@dataclass(frozen=True)
class WorkItem:
    rank: int
    customer_id: int
    name: str | None
    phone: str | None
    store: str | None
    owner: str | None  # the staff giving dedicated service, who would call
    stage: str
    risk: float
    value_at_risk: float
    risk_source: str | None
    last_purchase_at: datetime | None


def work_list(ctx, limit: int = 50, stages: list[str] | None = None, store: str | None = None,
              owner: str | None = None, min_risk: float | None = None) -> list[WorkItem]:
    """Customers ranked by value at risk (then risk), from the stored stage run:
    the ones worth a call first. Only customers with a stored risk are listed."""
    import sqlalchemy as sa

    from engine.errors import FieldError, ValidationFailed
    from engine.models import Customer
    from plugins.lifecycle.models import LifecycleCustomer

    errors = []
    if not 1 <= limit <= MAX_WORK_LIST:
        errors.append(FieldError("first", f"must be 1 to {MAX_WORK_LIST}"))
    wanted = list(stages) if stages else list(WORK_LIST_STAGES)
    unknown = sorted(set(wanted) - {"prospect", "new", "active", "at_risk", "lapsed", "churned", "won_back"})
    if unknown:
        errors.append(FieldError("stages", f"unknown stage codes: {', '.join(unknown)}"))
    if min_risk is not None and not 0.0 <= min_risk <= 1.0:
        errors.append(FieldError("minRisk", "must be 0 to 1"))
    if errors:
        raise ValidationFailed(errors)
    lc, c = LifecycleCustomer.__table__.c, Customer.__table__.c
    query = (
        sa.select(lc.customer_id, c.name, c.phone, c.store, c.owner, lc.stage, lc.risk, lc.value_at_risk,
                  lc.risk_source, c.last_purchase_at)
        .join_from(LifecycleCustomer.__table__, Customer.__table__,
                   sa.and_(c.id == lc.customer_id, c.tenant_id == lc.tenant_id))
        .where(lc.tenant_id == ctx.tenant_id, lc.risk.is_not(None), lc.stage.in_(wanted), c.deleted_at.is_(None))
        .order_by(sa.func.coalesce(lc.value_at_risk, 0).desc(), lc.risk.desc(), lc.customer_id)
        .limit(limit)
    )
    if store is not None:
        query = query.where(c.store == store)
    if owner is not None:
        query = query.where(c.owner == owner)
    if min_risk is not None:
        query = query.where(lc.risk >= min_risk)
    rows = ctx.session.execute(query).all()
    return [WorkItem(rank, r.customer_id, r.name, r.phone, r.store, r.owner, r.stage, float(r.risk),
                     float(r.value_at_risk or 0), r.risk_source, r.last_purchase_at)
            for rank, r in enumerate(rows, start=1)]
