"""The clv module's GraphQL: ``Customer.clv`` and ``clvModel``.

Reads go through the request's DataLoaders (one statement per page for
``Customer.clv``, whatever the page size) in a worker thread. Every value
comes from the tenant's latest stored run; ``expectedPurchases(days:)`` for
a horizon other than the stored 30/90/365 days is computed from the run's
parameters and the customer's stored frequency, recency and T.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

import sqlalchemy as sa
import strawberry
from sqlmodel import select

from engine.types import CENT
from plugins.clv.models import ClvRun, ClvScore

STORED_HORIZONS = {30: "expected_purchases_30", 90: "expected_purchases_90", 365: "expected_purchases_365"}
MAX_DAYS = 36_500


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT)


def _scores_by_customer(session, tenant_id: int, ids: list[int]) -> dict:
    # Plain rows (attribute access like the model's): a page's worth without ORM identity-map work.
    table = ClvScore.__table__
    rows = session.execute(select(*table.c).where(table.c.tenant_id == tenant_id, table.c.customer_id.in_(ids))).all()
    run = session.exec(select(ClvRun).where(ClvRun.tenant_id == tenant_id)).first() if rows else None
    return {row.customer_id: ClvCustomerValue(row=row, run=run) for row in rows}


@strawberry.enum(name="ClvModelKind", description="The purchase model fitted.")
class ClvModelKind(enum.Enum):
    BG_NBD = strawberry.enum_value("BG_NBD", description="BG/NBD (beta-geometric / negative binomial).")
    MBG_NBD = strawberry.enum_value("MBG_NBD", description="Modified BG/NBD (MBG/NBD).")
    PARETO_NBD = strawberry.enum_value("PARETO_NBD", description="Pareto/NBD.")


@strawberry.enum(name="ClvTimeUnit", description="The time unit of a model's parameters.")
class ClvTimeUnit(enum.Enum):
    DAY = strawberry.enum_value("DAY", description="Days.")
    WEEK = strawberry.enum_value("WEEK", description="Weeks.")
    MONTH = strawberry.enum_value("MONTH", description="Months.")


@strawberry.enum(name="ClvSpendModel", description="How the spend per purchase is predicted.")
class ClvSpendModel(enum.Enum):
    GAMMA_GAMMA = strawberry.enum_value("GAMMA_GAMMA", description="The Gamma-Gamma model, fitted on repeat customers' spend.")
    MEAN_SPEND = strawberry.enum_value("MEAN_SPEND", description="The mean spend per purchase, when Gamma-Gamma could not be fitted.")


@strawberry.type(name="ClvParameter", description="A fitted model parameter and its standard error.")
class ClvParameter:
    name: str = strawberry.field(description="The parameter's name in the model's literature, such as r, alpha, a, b.")
    value: float = strawberry.field(description="The fitted value.")
    std_error: float = strawberry.field(description="Its standard error.")


def _parameters(stored: dict) -> list[ClvParameter]:
    return [ClvParameter(name=name, value=p["value"], std_error=p["std_error"]) for name, p in stored.items()]


@strawberry.type(name="ClvFrequencyGroup", description="Holdout purchases of the customers with one calibration frequency.")
class ClvFrequencyGroup:
    frequency: str = strawberry.field(description='Repeat purchases in the calibration period: "0", "1", ..., "7+".')
    customers: int = strawberry.field(description="How many customers had that frequency.")
    mean_actual: float = strawberry.field(description="Their mean purchases in the holdout period, as they happened.")
    mean_predicted: float = strawberry.field(description="Their mean purchases in the holdout period, as predicted.")


@strawberry.type(name="ClvValidation", description="Calibration/holdout check: fit before calibrationEnd, predict after.")
class ClvValidation:
    holdout_days: int = strawberry.field(description="Length of the holdout period, in days.")
    calibration_end: datetime = strawberry.field(description="End of the calibration period: the model was fitted on purchases before it.")
    observation_end: datetime = strawberry.field(description="End of the holdout period.")
    customers: int = strawberry.field(description="Customers in the check.")
    total_actual: float = strawberry.field(description="Their purchases in the holdout period, as they happened.")
    total_predicted: float = strawberry.field(description="Their purchases in the holdout period, as predicted.")
    mean_absolute_error: float = strawberry.field(description="Mean absolute error per customer, in purchases.")
    correlation: Optional[float] = strawberry.field(description="Correlation of predicted and actual purchases per customer; null when undefined.")
    by_frequency: list[ClvFrequencyGroup] = strawberry.field(description="Actual and predicted, by calibration frequency.")


def _validation(report: dict | None) -> Optional[ClvValidation]:
    if not report:
        return None
    return ClvValidation(
        holdout_days=report["holdout_days"],
        calibration_end=datetime.fromisoformat(report["calibration_end"]),
        observation_end=datetime.fromisoformat(report["observation_end"]),
        customers=report["customers"], total_actual=report["total_actual"],
        total_predicted=report["total_predicted"], mean_absolute_error=report["mean_absolute_error"],
        correlation=report["correlation"],
        by_frequency=[ClvFrequencyGroup(frequency=g["frequency"], customers=g["customers"],
                                        mean_actual=g["mean_actual"], mean_predicted=g["mean_predicted"])
                      for g in report["by_frequency"]],
    )


@strawberry.type(name="ClvModel", description="The tenant's latest fitted CLV model.")
class ClvModel:
    kind: ClvModelKind = strawberry.field(description="The purchase model fitted.")
    unit: ClvTimeUnit = strawberry.field(description="Time unit of the parameters.")
    parameters: list[ClvParameter] = strawberry.field(description="The purchase model's fitted parameters.")
    log_likelihood: float = strawberry.field(description="The fit's log-likelihood.")
    customers: int = strawberry.field(description="Customers the model was fitted on.")
    unique_rows: int = strawberry.field(description="Distinct (frequency, recency, T) rows among them.")
    spend_model: ClvSpendModel = strawberry.field(description="How spend per purchase is predicted.")
    spend_parameters: list[ClvParameter] = strawberry.field(description="The spend model's fitted parameters (empty for MEAN_SPEND).")
    fitted_at: datetime = strawberry.field(description="When the model was fitted (UTC).")
    as_of: datetime = strawberry.field(description="The time the run fitted as of: purchases up to it count.")
    warnings: list[str] = strawberry.field(description="What the fit noticed and went on with, for people (English).")
    validation: Optional[ClvValidation] = strawberry.field(description="The calibration/holdout check, when the run made one.")


@strawberry.type(name="ClvCustomerValue", description="A customer's predicted value from the latest CLV run.")
class ClvCustomerValue:
    row: strawberry.Private[ClvScore]
    run: strawberry.Private[Optional[ClvRun]]

    @strawberry.field(description="Probability the customer is still active.")
    def probability_alive(self) -> float:
        return self.row.probability_alive

    @strawberry.field(description="Expected purchase days in the next `days` days (default 90).")
    def expected_purchases(
        self, days: Annotated[int, strawberry.argument(description="The horizon in days, 0 to 36,500 (default 90).")] = 90,
    ) -> Optional[float]:
        if days in STORED_HORIZONS:
            return getattr(self.row, STORED_HORIZONS[days])
        if not 0 <= days <= MAX_DAYS or self.run is None:
            return None
        from plugins.clv.service import DAYS_PER_UNIT, FITTERS, UNITS

        fitter = FITTERS[self.run.kind].from_params({k: v["value"] for k, v in self.run.parameters.items()})
        per_day = DAYS_PER_UNIT[UNITS[self.run.unit]]
        value = fitter.conditional_expected_number_of_purchases_up_to_time(
            days / per_day, [self.row.frequency], [self.row.recency], [self.row.T])
        return float(value[0])

    @strawberry.field(description="Expected spend per purchase (money).")
    def expected_spend(self) -> Decimal:
        return _money(self.row.expected_spend)

    @strawberry.field(description="Discounted value over the horizon set for the tenant, times the margin (money).")
    def predicted_value(self) -> Decimal:
        return _money(self.row.predicted_value)

    @strawberry.field(description="Everything bought up to the run's as-of time, net of refunds (money).")
    def historical_value(self) -> Decimal:
        return _money(self.row.historical_value)

    @strawberry.field(description="1 (lowest predicted value) to 10 (highest).")
    def value_decile(self) -> int:
        return self.row.value_decile

    @strawberry.field(description="When the run that scored the customer finished (UTC).")
    def computed_at(self) -> datetime:
        return self.row.computed_at


def clv_batch(ctx):
    """Customer.clv for many customers at once (api/prefetch.py)."""
    tenant_id = ctx.tenant_id
    return "clv.scores", lambda session, ids: _scores_by_customer(session, tenant_id, ids)


@strawberry.type(description="The clv module's Customer fields.")
class ClvCustomerFields:
    @strawberry.field(description="Predicted lifetime value; null until the customer has a purchase and a CLV run.")
    def clv(self, info: strawberry.Info) -> Optional[ClvCustomerValue]:
        return info.context.customer_value(clv_batch, self.id)


@strawberry.type(description="The clv module's queries.")
class ClvQuery:
    @strawberry.field(description="The tenant's latest fitted CLV model; null before the first run.")
    async def clv_model(self, info: strawberry.Info) -> Optional[ClvModel]:
        ctx = info.context
        tenant_id = ctx.tenant_id
        run = await ctx.read(lambda session: session.exec(select(ClvRun).where(ClvRun.tenant_id == tenant_id)).first())
        if run is None:
            return None
        return ClvModel(
            kind=ClvModelKind[run.kind], unit=ClvTimeUnit[run.unit], parameters=_parameters(run.parameters),
            log_likelihood=run.log_likelihood, customers=run.customers, unique_rows=run.unique_rows,
            spend_model=ClvSpendModel[run.spend_model],
            spend_parameters=_parameters(run.spend_parameters), fitted_at=run.fitted_at, as_of=run.as_of,
            warnings=list(run.warnings), validation=_validation(run.validation),
        )


# -- customers(where: {clv: ...}, orderBy: {field: CLV_...}) ----------------------

from api.contrib import CustomerFilter, CustomerOrder  # noqa: E402
from api.filters import compare_condition  # noqa: E402
from api.types import DecimalFilter, IntFilter  # noqa: E402
from engine.models import Customer  # noqa: E402


@strawberry.input(name="ClvFloatFilter", description="Comparison of a fraction; conditions given together must all hold.")
class ClvFloatFilter:
    gt: Optional[float] = strawberry.field(default=None, description="Greater than.")
    gte: Optional[float] = strawberry.field(default=None, description="Greater than or equal to.")
    lt: Optional[float] = strawberry.field(default=None, description="Less than.")
    lte: Optional[float] = strawberry.field(default=None, description="Less than or equal to.")


@strawberry.input(name="ClvWhere", description="Customers by their latest CLV scores; customers without a score never match.")
class ClvWhere:
    probability_alive: Optional[ClvFloatFilter] = strawberry.field(default=None, description="Probability the customer is still active, 0 to 1.")
    predicted_value: Optional[DecimalFilter] = strawberry.field(default=None, description="The predicted value (money).")
    value_decile: Optional[IntFilter] = strawberry.field(default=None, description="The value decile, 1 to 10.")


def _clv_condition(where: ClvWhere, tenant_id: int):
    conditions = [ClvScore.tenant_id == tenant_id]
    for name in ("probability_alive", "predicted_value", "value_decile"):
        value = getattr(where, name)
        if value is not None:
            conditions.extend(compare_condition(getattr(ClvScore, name), value))
    return Customer.id.in_(select(ClvScore.customer_id).where(*conditions))


def _score_of(column):
    def expression(tenant_id: int):
        return (
            select(column)
            .where(ClvScore.tenant_id == tenant_id, ClvScore.customer_id == Customer.id)
            .correlate(Customer)
            .scalar_subquery()
        )

    return expression


CUSTOMER_FILTERS = [CustomerFilter("clv", ClvWhere, _clv_condition, "The latest CLV scores (clv module).")]
# Customers without a score sort below every scored one.
CUSTOMER_ORDERS = [
    CustomerOrder("CLV_PREDICTED_VALUE", _score_of(sa.cast(ClvScore.predicted_value, sa.Float)), floor=-1e18, parse=float,
                  description="The predicted lifetime value; customers without a CLV score as the lowest."),
    CustomerOrder("CLV_PROBABILITY_ALIVE", _score_of(ClvScore.probability_alive), floor=-1.0, parse=float,
                  description="The probability of being still active; customers without a CLV score as the lowest."),
]
