"""The lifecycle module's analytics in GraphQL: cohort retention, monthly rates,
the churn-risk validation report and the agents' work list.

Reads run in a worker thread in a read transaction of the caller's tenant;
bad arguments (months out of range, a tier slice without the loyalty
module, a split whose outcome is not known yet) come back as GraphQL errors
with code INVALID naming the argument, like ``complaintStats``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

import strawberry

from api.errors import api_error
from api.ids import to_global_id
from api.references import CURRENT_CORE, load_customer
from engine.errors import ValidationFailed
from engine.types import CENT, utcnow


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(CENT)


@strawberry.enum(name="LifecycleSlice", description="How cohorts and rates are split: each customer falls in one group.")
class LifecycleSlice(enum.Enum):
    STORE = strawberry.enum_value("store", description="The customer's home store (customers.store).")
    CHANNEL = strawberry.enum_value("channel", description="The channel of the customer's first purchase.")
    TIER = strawberry.enum_value("tier", description="The customer's loyalty tier now (needs the loyalty module).")
    ACQUISITION_SOURCE = strawberry.enum_value(
        "acquisition_source", description="How the customer was acquired (customers.acquisitionChannel).")


@strawberry.enum(name="LifecycleRiskSource", description="Which model a churn risk comes from.")
class LifecycleRiskSource(enum.Enum):
    CLV = strawberry.enum_value("clv", description="The clv module's fitted model (expected purchases in the window).")
    RECENCY_FREQUENCY = strawberry.enum_value(
        "recency_frequency", description="The lifecycle module's recency/frequency model (clv off or not fitted).")


@strawberry.type(name="LifecycleCohort", description="The customers whose first purchase was in one month, followed month by month.")
class LifecycleCohort:
    month: str = strawberry.field(description='The month of their first purchase, "YYYY-MM" in the tenant\'s time zone.')
    customers: int = strawberry.field(description="How many customers first bought in that month.")
    active: list[int] = strawberry.field(description="active[k]: of them, how many bought in the k-th month after it (0: the month itself), up to now.")
    retention: list[float] = strawberry.field(description="active[k] / customers: the share still buying k months on.")
    revenue: list[Decimal] = strawberry.field(description="revenue[k]: what the cohort spent in the k-th month after it (money, refunds not netted).")


@strawberry.type(name="LifecycleCohortSlice", description="Cohorts of one group of customers (all customers when not sliced).")
class LifecycleCohortSlice:
    label: Optional[str] = strawberry.field(description="The group's value (a store, channel, tier or source); null for all customers, or for customers without one.")
    cohorts: list[LifecycleCohort] = strawberry.field(description="One per month, oldest first.")


@strawberry.type(name="LifecycleMonthRates", description="Buying, repurchase, retention and churn in one calendar month.")
class LifecycleMonthRates:
    month: str = strawberry.field(description='"YYYY-MM" in the tenant\'s time zone.')
    buyers: int = strawberry.field(description="Customers with a purchase in the month.")
    new: int = strawberry.field(description="Of them, first-time buyers.")
    returning: int = strawberry.field(description="Of them, customers who had bought before the month.")
    existing: int = strawberry.field(description="Customers whose first purchase was before the month.")
    repeat_buyers: int = strawberry.field(description="Buyers with two or more purchases in the month.")
    previous_buyers: int = strawberry.field(description="Customers with a purchase in the month before.")
    retained: int = strawberry.field(description="Of the month before's buyers, those who bought in this month too.")
    retention_rate: Optional[float] = strawberry.field(description="retained / previousBuyers: the share of last month's buyers still buying; null without any.")
    churn_rate: Optional[float] = strawberry.field(description="1 - retentionRate: the share of last month's buyers who did not buy; null without any.")
    repurchase_rate: Optional[float] = strawberry.field(description="repeatBuyers / buyers; null without buyers.")
    returning_share: Optional[float] = strawberry.field(description="returning / existing: the share of earlier customers who bought in the month; null without any.")


@strawberry.type(name="LifecycleRateSlice", description="Monthly rates of one group of customers (all customers when not sliced).")
class LifecycleRateSlice:
    label: Optional[str] = strawberry.field(description="The group's value; null for all customers, or for customers without one.")
    months: list[LifecycleMonthRates] = strawberry.field(description="One per month, oldest first.")


@strawberry.type(name="LifecycleCalibrationBand", description="A tenth of the customers by risk: predicted against what happened.")
class LifecycleCalibrationBand:
    band: int = strawberry.field(description="1 (lowest risk) to 10 (highest).")
    customers: int = strawberry.field(description="Customers in the band.")
    mean_risk: float = strawberry.field(description="Their mean predicted risk.")
    observed_no_purchase: float = strawberry.field(description="The share of them who did not buy within the horizon.")


@strawberry.type(name="LifecycleValidationReport", description="The churn-risk score checked against what customers did after a split date.")
class LifecycleValidationReport:
    split: datetime = strawberry.field(description="Scored as of this time, with only the purchases up to it.")
    horizon_days: int = strawberry.field(description="Who bought again within this many days after the split.")
    source: LifecycleRiskSource = strawberry.field(description="The model validated.")
    customers: int = strawberry.field(description="Customers with a purchase up to the split: the population checked.")
    came_back: int = strawberry.field(description="Of them, those who bought within the horizon.")
    auc: Optional[float] = strawberry.field(description="Chance a customer who did not come back has a higher risk than one who did (0.5: a coin); null when everyone or no one came back.")
    top_decile_lift: Optional[float] = strawberry.field(description="Share who did not come back among the riskiest 10%, over the share among all.")
    baseline_auc: Optional[float] = strawberry.field(description="The same AUC for recency alone (days since the last purchase), the rule of thumb to beat.")
    baseline_top_decile_lift: Optional[float] = strawberry.field(description="The top-decile lift of recency alone.")
    calibration: list[LifecycleCalibrationBand] = strawberry.field(description="Ten equal bands by risk, lowest first.")
    warnings: list[str] = strawberry.field(description="What the check noticed, for people (English).")


@strawberry.type(name="LifecycleWorkItem", description="A customer worth a call, with why.")
class LifecycleWorkItem:
    rank: int = strawberry.field(description="1 for the first to call.")
    customer_id: strawberry.ID = strawberry.field(description="The Customer's global id.")
    stage: str = strawberry.field(description="The stage code now (new, active, at_risk, lapsed, won_back, ...).")
    risk: float = strawberry.field(description="Probability of no purchase in the validation window, 0 to 1.")
    value_at_risk: Decimal = strawberry.field(description="Risk times the value expected if the customer stays (money).")
    risk_source: Optional[LifecycleRiskSource] = strawberry.field(description="The model the risk came from.")
    store: Optional[str] = strawberry.field(description="The customer's home store.")
    owner: Optional[str] = strawberry.field(description="The staff member giving the customer dedicated service.")
    last_purchase_at: Optional[datetime] = strawberry.field(description="The customer's last purchase (UTC).")

    @strawberry.field(description="The customer; null once deleted (merged or erased).")
    async def customer(self, info: strawberry.Info) -> Optional[Annotated["Customer", strawberry.lazy(CURRENT_CORE)]]:
        from api.ids import decode_id

        return await load_customer(info, decode_id(self.customer_id, "Customer"))


def _cohort_slice(s) -> LifecycleCohortSlice:
    return LifecycleCohortSlice(label=s.label, cohorts=[
        LifecycleCohort(month=r.month, customers=r.customers, active=r.active, retention=r.retention,
                        revenue=[_money(v) for v in r.revenue]) for r in s.cohorts])


def _rate_slice(s) -> LifecycleRateSlice:
    return LifecycleRateSlice(label=s.label, months=[
        LifecycleMonthRates(month=m.month, buyers=m.buyers, new=m.new, returning=m.returning, existing=m.existing,
                            repeat_buyers=m.repeat_buyers, previous_buyers=m.previous_buyers, retained=m.retained,
                            retention_rate=m.retention_rate, churn_rate=m.churn_rate,
                            repurchase_rate=m.repurchase_rate, returning_share=m.returning_share)
        for m in s.months])


async def _read(info: strawberry.Info, work):
    """``work(ctx)`` in a read transaction; ValidationFailed as an INVALID error."""
    ctx = info.context
    gx, tenant_id = ctx.gx, ctx.tenant_id

    def run(session):
        try:
            return work(gx.context(session, tenant_id))
        except ValidationFailed as error:
            raise api_error(str(error), "INVALID") from None

    return await ctx.read(run)


MONTHS = "How many calendar months, up to and including the as-of month (1 to 120, default 12)."
BY = "Split by store, first-purchase channel, loyalty tier or acquisition source; all customers together when null."
AS_OF = "Count purchases up to this time (default now)."


@strawberry.type(description="The lifecycle module's analytics queries.")
class LifecycleAnalyticsQuery:
    @strawberry.field(description="Cohort retention by first-purchase month: customers still buying and their revenue, month by month.")
    async def lifecycle_cohorts(
        self, info: strawberry.Info,
        months: Annotated[int, strawberry.argument(description=MONTHS)] = 12,
        by: Annotated[Optional[LifecycleSlice], strawberry.argument(description=BY)] = None,
        as_of: Annotated[Optional[datetime], strawberry.argument(description=AS_OF)] = None,
    ) -> list[LifecycleCohortSlice]:
        from plugins.lifecycle.cohorts import cohort_retention

        when = as_of or utcnow()
        slices = await _read(info, lambda ctx: cohort_retention(ctx, when, months, by.value if by else None))
        return [_cohort_slice(s) for s in slices]

    @strawberry.field(description="Monthly buyers, retention, churn and repurchase rates (definitions in docs/lifecycle.md).")
    async def lifecycle_rates(
        self, info: strawberry.Info,
        months: Annotated[int, strawberry.argument(description=MONTHS)] = 12,
        by: Annotated[Optional[LifecycleSlice], strawberry.argument(description=BY)] = None,
        as_of: Annotated[Optional[datetime], strawberry.argument(description=AS_OF)] = None,
    ) -> list[LifecycleRateSlice]:
        from plugins.lifecycle.cohorts import monthly_rates

        when = as_of or utcnow()
        slices = await _read(info, lambda ctx: monthly_rates(ctx, when, months, by.value if by else None))
        return [_rate_slice(s) for s in slices]

    @strawberry.field(description="Validate the churn-risk score: score as of a split date, compare with who bought again (AUC, top-decile lift, calibration, recency baseline).")
    async def lifecycle_validation(
        self, info: strawberry.Info,
        split: Annotated[Optional[datetime], strawberry.argument(
            description="Score as of this time (default: now minus the horizon); split plus horizon must be past.")] = None,
        horizon_days: Annotated[Optional[int], strawberry.argument(
            description="Days after the split in which buying again counts (1 to 3650; default the module's validation_horizon_days).")] = None,
    ) -> LifecycleValidationReport:
        from plugins.lifecycle.validation import validate

        r = await _read(info, lambda ctx: validate(ctx, split, horizon_days))
        return LifecycleValidationReport(
            split=datetime.fromisoformat(r.split), horizon_days=r.horizon_days, source=LifecycleRiskSource(r.source),
            customers=r.customers, came_back=r.came_back, auc=r.auc, top_decile_lift=r.top_decile_lift,
            baseline_auc=r.baseline_auc, baseline_top_decile_lift=r.baseline_top_decile_lift,
            calibration=[LifecycleCalibrationBand(band=b.band, customers=b.customers, mean_risk=b.mean_risk,
                                                  observed_no_purchase=b.observed_no_purchase) for b in r.calibration],
            warnings=r.warnings,
        )

    @strawberry.field(description="Who to call today: customers ranked by value at risk from the latest stage run (churned customers are on win-back lists instead).")
    async def lifecycle_work_list(
        self, info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="How many (1 to 1000, default 50).")] = 50,
        stages: Annotated[Optional[list[str]], strawberry.argument(
            description="Stage codes to include (default new, active, at_risk, lapsed, won_back).")] = None,
        store: Annotated[Optional[str], strawberry.argument(description="Only customers of this home store.")] = None,
        owner: Annotated[Optional[str], strawberry.argument(description="Only customers this staff member serves.")] = None,
        min_risk: Annotated[Optional[float], strawberry.argument(description="Only customers with at least this risk (0 to 1).")] = None,
    ) -> list[LifecycleWorkItem]:
        from plugins.lifecycle.risk import work_list

        items = await _read(info, lambda ctx: work_list(ctx, first, stages, store, owner, min_risk))
        return [LifecycleWorkItem(
            rank=i.rank, customer_id=to_global_id("Customer", i.customer_id), stage=i.stage, risk=i.risk,
            value_at_risk=_money(i.value_at_risk),
            risk_source=LifecycleRiskSource(i.risk_source) if i.risk_source else None, store=i.store, owner=i.owner,
            last_purchase_at=i.last_purchase_at) for i in items]
