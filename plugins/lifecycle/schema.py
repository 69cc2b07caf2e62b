"""The lifecycle module's GraphQL: ``Customer.lifecycle``, the ``customers(where: {lifecycle: ...})``
filter, stage counts, the monthly transition matrix, churn reasons and their report, win-back lists.

Mutations take one ``input`` and return a payload with ``errors`` (a reason
on a customer who is not lapsed or churned, an unknown reason code, a bad
threshold) and change nothing on failure.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Optional

import sqlalchemy as sa
import strawberry
from sqlalchemy import func, select

from api.contrib import CustomerFilter, CustomerOrder
from api.enums import labeled_enum, value_type
from api.errors import api_error
from api.filters import compare_condition
from api.ids import decode_id, to_global_id
from api.mutations import guarded
from api.pagination import Keyset, fetch_page, page_slice
from api.types import ERRORS, INPUT, After, DecimalFilter, Error, First, Lang, LangArg, PageInfo
from engine.enums import Role
from engine.errors import FieldError, ValidationFailed
from engine.models import Customer
from engine.types import CENT
from plugins.lifecycle import stages as st
from plugins.lifecycle.models import (LifecycleChurnReason, LifecycleCustomer, LifecycleRun, LifecycleTransition,
                                      LifecycleWinbackList, LifecycleWinbackMember)

LifecycleStageCode = labeled_enum(st.Stage, "LifecycleRetentionStage",
                                  "Where a customer stands in retention: prospect, new, active, at risk, lapsed, churned, "
                                  "won back (definitions in docs/lifecycle.md).")
LifecycleStageValue = value_type(st.Stage)
JOURNEY_LIMIT = 200  # a customer's newest transitions shown in the journey


def _stage_value(stored: str | None):
    return None if stored is None else st.Stage.of(stored)


def _money(value) -> Optional[Decimal]:
    return None if value is None else Decimal(str(value)).quantize(CENT)


# -- Customer.lifecycle -------------------------------------------------------------


@strawberry.type(name="LifecycleTransition", description="A change of retention stage: when, from, to.")
class LifecycleTransitionType:
    row: strawberry.Private[Any]

    @strawberry.field(description="The stage before; null for the customer's first stage.")
    def from_stage(self) -> Optional[LifecycleStageValue]:
        return _stage_value(self.row.from_stage)

    @strawberry.field(description="The stage after.")
    def to_stage(self) -> LifecycleStageValue:
        return _stage_value(self.row.to_stage)

    @strawberry.field(description="When the new stage began (UTC): the purchase, or the moment a threshold was passed.")
    def at(self) -> datetime:
        return self.row.at


@strawberry.type(name="LifecycleChurnReasonRecord", description="Why a lapsed or churned customer left, as an agent recorded it.")
class LifecycleChurnReasonRecord:
    row: strawberry.Private[LifecycleChurnReason]
    labels: strawberry.Private[dict]

    @strawberry.field(description="The reason's code (the tenant's reason codes: `lifecycleChurnReasons`).")
    def code(self) -> str:
        return self.row.code

    @strawberry.field(description="The reason's label for people; the code itself when the tenant removed the reason.")
    def label(self, lang: LangArg = Lang.ZH) -> str:
        reason = self.labels.get(self.row.code)
        return reason.label(lang.value) if reason else self.row.code

    @strawberry.field(description="The customer's stage when it was recorded.")
    def stage(self) -> LifecycleStageValue:
        return _stage_value(self.row.stage)

    @strawberry.field(description="The store it is filed under (by default the customer's last purchase's).")
    def store(self) -> Optional[str]:
        return self.row.store

    @strawberry.field(description="The staff member it is filed under (by default the customer's last purchase's).")
    def staff(self) -> Optional[str]:
        return self.row.staff

    @strawberry.field(description="The agent's note; null after the customer was erased.")
    def note(self) -> Optional[str]:
        return self.row.note

    @strawberry.field(description="Who recorded it.")
    def recorded_by(self) -> str:
        return self.row.recorded_by

    @strawberry.field(description="When it was recorded (UTC).")
    def recorded_at(self) -> datetime:
        return self.row.recorded_at


def _journeys(session, tenant_id: int, ids: list[int]) -> dict[int, list[LifecycleTransitionType]]:
    t = LifecycleTransition.__table__
    number = func.row_number().over(partition_by=t.c.customer_id, order_by=(t.c.at.desc(), t.c.id.desc())).label("n")
    inner = select(t.c.customer_id, t.c.from_stage, t.c.to_stage, t.c.at, t.c.id, number).where(
        t.c.tenant_id == tenant_id, t.c.customer_id.in_(ids)).subquery()
    rows = session.execute(select(inner).where(inner.c.n <= JOURNEY_LIMIT).order_by(inner.c.customer_id, inner.c.at,
                                                                                   inner.c.id)).all()
    out: dict[int, list] = {i: [] for i in ids}
    for row in rows:
        out[row.customer_id].append(LifecycleTransitionType(row=row))
    return out


@strawberry.type(name="LifecycleCustomer", description="A customer's retention stage, since when, and the churn risk.")
class LifecycleCustomerType:
    row: strawberry.Private[Any]

    @strawberry.field(description="The stage now (as of the last stage run or the customer's last purchase).")
    def stage(self) -> LifecycleStageValue:
        return _stage_value(self.row.stage)

    @strawberry.field(description="When the customer entered the stage (UTC).")
    def since(self) -> datetime:
        return self.row.stage_since

    @strawberry.field(description="Probability of no purchase in the tenant's risk window, 0 to 1; null before a risk score.")
    def risk(self) -> Optional[float]:
        return self.row.risk

    @strawberry.field(description="Risk times the expected value over the tenant's horizon (money); null before a risk score.")
    def value_at_risk(self) -> Optional[Decimal]:
        return _money(self.row.value_at_risk)

    @strawberry.field(description='Where the risk came from: "clv" (the CLV model) or "recency_frequency".')
    def risk_source(self) -> Optional[str]:
        return self.row.risk_source

    @strawberry.field(description="The gap between purchase days the customer's thresholds are scaled by, in days; "
                                  "null for prospects and one-time buyers.")
    def expected_gap_days(self) -> Optional[float]:
        return self.row.expected_gap_days

    @strawberry.field(description=f"The customer's stage changes, oldest first (the newest {JOURNEY_LIMIT}).")
    async def journey(self, info: strawberry.Info) -> list[LifecycleTransitionType]:
        ctx = info.context
        tenant_id = ctx.tenant_id
        return await ctx.loader(("lifecycle.journey",), lambda s, ids: _journeys(s, tenant_id, ids)).load(self.row.customer_id)

    @strawberry.field(description="Churn reasons recorded on the customer, oldest first.")
    async def churn_reasons(self, info: strawberry.Info) -> list[LifecycleChurnReasonRecord]:
        from plugins.lifecycle.reasons import customer_reasons

        ctx = info.context
        tenant_id, gx = ctx.tenant_id, ctx.gx

        def batch(session, ids):
            labels = {r.code: r for r in gx.context(session, tenant_id).module_settings("lifecycle").churn_reasons}
            return {cid: [LifecycleChurnReasonRecord(row=r, labels=labels) for r in rows]
                    for cid, rows in customer_reasons(session, tenant_id, ids).items()}

        return await ctx.loader(("lifecycle.reasons",), batch).load(self.row.customer_id)


def _states(session, tenant_id: int, ids: list[int]) -> dict[int, LifecycleCustomerType]:
    c = LifecycleCustomer.__table__
    rows = session.execute(select(*c.c).where(c.c.tenant_id == tenant_id, c.c.customer_id.in_(ids))).all()
    return {row.customer_id: LifecycleCustomerType(row=row) for row in rows}


def lifecycle_batch(ctx):
    """Customer.lifecycle for a page of customers at once (api/prefetch.py)."""
    tenant_id = ctx.tenant_id
    return "lifecycle.state", lambda session, ids: _states(session, tenant_id, ids)


@strawberry.type(description="The lifecycle module's Customer fields.")
class LifecycleCustomerFields:
    @strawberry.field(description="Retention stage, since when, churn risk and the stage journey; null before the "
                                  "customer's first stage run.")
    def lifecycle(self, info: strawberry.Info) -> Optional[LifecycleCustomerType]:
        return info.context.customer_value(lifecycle_batch, self.id)


# -- customers(where: {lifecycle: ...}, orderBy: {field: LIFECYCLE_...}) ------------------


@strawberry.input(name="LifecycleStageFilter", description="Customers by retention stage.")
class LifecycleStageFilter:
    eq: Optional[LifecycleStageCode] = strawberry.field(default=None, description="In this stage.")
    in_: Optional[list[LifecycleStageCode]] = strawberry.field(name="in", default=None, description="In any of these stages.")


@strawberry.input(name="LifecycleFloatFilter", description="Comparison of a fraction; conditions given together must all hold.")
class LifecycleFloatFilter:
    gt: Optional[float] = strawberry.field(default=None, description="Greater than.")
    gte: Optional[float] = strawberry.field(default=None, description="Greater than or equal to.")
    lt: Optional[float] = strawberry.field(default=None, description="Less than.")
    lte: Optional[float] = strawberry.field(default=None, description="Less than or equal to.")


@strawberry.input(name="LifecycleWhere", description="Customers by their stored retention stage and risk; customers "
                                                     "without a stage never match.")
class LifecycleWhere:
    stage: Optional[LifecycleStageFilter] = strawberry.field(default=None, description="The stage.")
    risk: Optional[LifecycleFloatFilter] = strawberry.field(default=None, description="The churn risk, 0 to 1.")
    value_at_risk: Optional[DecimalFilter] = strawberry.field(default=None, description="The value at risk (money).")


def _stored_code(value) -> str:
    return value.name.lower()


def _lifecycle_condition(where: LifecycleWhere, tenant_id: int):
    lc = LifecycleCustomer
    conditions = [lc.tenant_id == tenant_id]
    if where.stage is not None:
        if where.stage.eq is not None:
            conditions.append(lc.stage == _stored_code(where.stage.eq))
        if where.stage.in_ is not None:
            conditions.append(lc.stage.in_([_stored_code(code) for code in where.stage.in_]))
    if where.risk is not None:
        conditions.extend(compare_condition(lc.risk, where.risk))
    if where.value_at_risk is not None:
        conditions.extend(compare_condition(lc.value_at_risk, where.value_at_risk))
    return Customer.id.in_(select(lc.customer_id).where(*conditions))


def _score_of(column):
    def expression(tenant_id: int):
        return (select(column).where(LifecycleCustomer.tenant_id == tenant_id, LifecycleCustomer.customer_id == Customer.id)
                .correlate(Customer).scalar_subquery())

    return expression


CUSTOMER_FILTERS = [CustomerFilter("lifecycle", LifecycleWhere, _lifecycle_condition,
                                   "The stored retention stage and churn risk (lifecycle module).")]
CUSTOMER_ORDERS = [
    CustomerOrder("LIFECYCLE_RISK", _score_of(LifecycleCustomer.risk), floor=-1.0, parse=float,
                  description="The churn risk; customers without one as the lowest."),
    CustomerOrder("LIFECYCLE_VALUE_AT_RISK", _score_of(sa.cast(LifecycleCustomer.value_at_risk, sa.Float)), floor=-1e18,
                  parse=float, description="The value at risk; customers without one as the lowest."),
]


# -- stages and transitions ---------------------------------------------------------------


@strawberry.type(name="LifecycleStageCount", description="How many customers are in a stage.")
class LifecycleStageCount:
    stage: LifecycleStageValue = strawberry.field(description="The stage.")
    customers: int = strawberry.field(description="Customers in it.")
    share: float = strawberry.field(description="Their share of the staged customers, 0 to 1.")


@strawberry.type(name="LifecycleThresholds", description="The stage rules the last run derived from the tenant's own gaps.")
class LifecycleThresholds:
    at_risk_factor: float = strawberry.field(description="At risk after this many expected gaps without a purchase.")
    lapsed_factor: float = strawberry.field(description="Lapsed after this many expected gaps.")
    churned_factor: float = strawberry.field(description="Churned after this many expected gaps.")
    one_time_buyer_at_risk_days: float = strawberry.field(description="A one-time buyer is at risk after this many days.")
    one_time_buyer_lapsed_days: float = strawberry.field(description="A one-time buyer is lapsed after this many days.")
    one_time_buyer_churned_days: float = strawberry.field(description="A one-time buyer is churned after this many days.")
    median_gap_days: float = strawberry.field(description="The tenant's median gap between purchase days.")
    new_days: float = strawberry.field(description="A customer is new this many days after the first purchase.")
    won_back_days: float = strawberry.field(description="A returning customer is won back this many days.")
    gaps: int = strawberry.field(description="Gaps the thresholds were derived from.")
    shape: str = strawberry.field(description='"tenant": factors from the tenant\'s own gaps; "exponential": too few repeat '
                                              'buyers yet, the factors of buying at random.')


@strawberry.type(name="LifecycleStages", description="The tenant's customers per stage, from the last stage run.")
class LifecycleStages:
    as_of: datetime = strawberry.field(description="The time the last run staged customers as of.")
    computed_at: datetime = strawberry.field(description="When it ran (UTC).")
    customers: int = strawberry.field(description="Customers with a stage now.")
    stages: list[LifecycleStageCount] = strawberry.field(description="Every stage, in lifecycle order.")
    thresholds: LifecycleThresholds = strawberry.field(description="The rules the run used.")


def stage_summary(session, tenant_id: int) -> Optional[LifecycleStages]:
    run = session.execute(select(LifecycleRun).where(LifecycleRun.tenant_id == tenant_id)).scalars().first()
    if run is None:
        return None
    counts = dict(session.execute(select(LifecycleCustomer.stage, func.count()).where(
        LifecycleCustomer.tenant_id == tenant_id).group_by(LifecycleCustomer.stage)).all())
    total = sum(counts.values())
    th = run.thresholds
    return LifecycleStages(
        as_of=run.as_of, computed_at=run.computed_at, customers=total,
        stages=[LifecycleStageCount(stage=st.Stage.of(code), customers=counts.get(code, 0),
                                    share=counts.get(code, 0) / total if total else 0.0) for code in st.STAGES],
        thresholds=LifecycleThresholds(
            at_risk_factor=th["at_risk_factor"], lapsed_factor=th["lapsed_factor"], churned_factor=th["churned_factor"],
            one_time_buyer_at_risk_days=th["single_at_risk_days"], one_time_buyer_lapsed_days=th["single_lapsed_days"],
            one_time_buyer_churned_days=th["single_churned_days"], median_gap_days=th["median_gap_days"],
            new_days=th["new_days"], won_back_days=th["won_back_days"], gaps=th["gaps"], shape=th["shape"]))


@strawberry.type(name="LifecycleFlow", description="Customers who moved from one stage to another in a month.")
class LifecycleFlow:
    from_stage: Optional[LifecycleStageValue] = strawberry.field(description="The stage before; null for first stages.")
    to_stage: LifecycleStageValue = strawberry.field(description="The stage after.")
    customers: int = strawberry.field(description="How many moves (a customer may move twice in a month).")


@strawberry.type(name="LifecycleMonthFlows", description="One month's row of the transition matrix.")
class LifecycleMonthFlows:
    month: str = strawberry.field(description="The month, YYYY-MM, in the tenant's time zone.")
    flows: list[LifecycleFlow] = strawberry.field(description="Every (from, to) pair that happened, most first.")


def monthly_matrix(ctx, since: datetime | None, until: datetime | None, include_first: bool) -> list[LifecycleMonthFlows]:
    from plugins.lifecycle.history import monthly_transitions

    months: dict[str, list[LifecycleFlow]] = {}
    for month, from_stage, to_stage, n in monthly_transitions(ctx, since, until, include_first):
        months.setdefault(month, []).append(LifecycleFlow(from_stage=_stage_value(from_stage), to_stage=_stage_value(to_stage),
                                                          customers=n))
    return [LifecycleMonthFlows(month=m, flows=sorted(f, key=lambda x: -x.customers)) for m, f in sorted(months.items())]


# -- churn reasons ----------------------------------------------------------------------

LifecycleReasonSide = strawberry.enum(
    enum.Enum("LifecycleReasonSide", {
        "COMPANY": strawberry.enum_value("COMPANY", description="The company's side: quality, service, staff leaving."),
        "CUSTOMER": strawberry.enum_value("CUSTOMER", description="The customer's side: a competitor, changed needs, "
                                                                  "malice, objective reasons."),
    }),
    name="LifecycleReasonSide", description="Whose side a churn reason lies on.")


@strawberry.type(name="LifecycleChurnReasonCode", description="One of the tenant's churn reason codes.")
class LifecycleChurnReasonCode:
    code: str = strawberry.field(description="The code agents record.")
    side: LifecycleReasonSide = strawberry.field(description="COMPANY (quality, service, staff leaving) or CUSTOMER "
                                                             "(competitor, changed needs, malicious, objective reasons).")
    zh: strawberry.Private[str]
    en: strawberry.Private[str]

    @strawberry.field(description="The label for people.")
    def label(self, lang: LangArg = Lang.ZH) -> str:
        return self.zh if lang == Lang.ZH else self.en


@strawberry.type(name="LifecycleCount", description="How many churn reasons have a value.")
class LifecycleCount:
    key: Optional[str] = strawberry.field(description="The value (a reason code, COMPANY/CUSTOMER, a store or a staff "
                                                      "member); null for reasons filed without one.")
    count: int = strawberry.field(description="How many reasons.")


@strawberry.type(name="LifecyclePairCount", description="How many churn reasons of one code a store or staff member has.")
class LifecyclePairCount:
    key: Optional[str] = strawberry.field(description="The store or staff member; null when none.")
    code: str = strawberry.field(description="The reason code.")
    count: int = strawberry.field(description="How many reasons.")


@strawberry.type(name="LifecycleChurnReport", description="Churn reasons recorded in [from, to), by reason, side, store and staff.")
class LifecycleChurnReport:
    total: int = strawberry.field(description="Reasons recorded in the range.")
    by_reason: list[LifecycleCount] = strawberry.field(description="Per reason code, most first.")
    by_side: list[LifecycleCount] = strawberry.field(description="Company side against customer side.")
    by_store: list[LifecycleCount] = strawberry.field(description="Per store, most first.")
    by_staff: list[LifecycleCount] = strawberry.field(description="Per staff member, most first.")
    by_store_reason: list[LifecyclePairCount] = strawberry.field(description="Per store and reason, most first.")
    by_staff_reason: list[LifecyclePairCount] = strawberry.field(description="Per staff member and reason, most first.")


# -- win-back lists -------------------------------------------------------------------------

LifecycleWinbackSegment = strawberry.enum(
    enum.Enum("LifecycleWinbackSegment", {
        "WIN_BACK": strawberry.enum_value("win_back", description="Value at or above the threshold: worth winning back."),
        "LET_GO": strawberry.enum_value("let_go", description="Value below the threshold: let go."),
    }), name="LifecycleWinbackSegment", description="The two halves of a win-back list.")


@strawberry.type(name="LifecycleWinbackSegmentOutcome", description="How one segment of a list did within the window.")
class LifecycleWinbackSegmentOutcome:
    segment: LifecycleWinbackSegment = strawberry.field(description="The segment.")
    customers: int = strawberry.field(description="Customers listed in it.")
    value: Decimal = strawberry.field(description="Their net spend when listed (money).")
    won_back: int = strawberry.field(description="Of them, customers who bought within the window.")
    won_back_share: Optional[float] = strawberry.field(description="wonBack / customers, 0 to 1; null for an empty segment.")
    revenue: Decimal = strawberry.field(description="What they bought within the window (money).")


@strawberry.type(name="LifecycleWinbackMember", description="A customer on a win-back list.")
class LifecycleWinbackMemberType:
    row: strawberry.Private[LifecycleWinbackMember]

    @strawberry.field(description="The Customer.")
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Customer", self.row.customer_id))

    @strawberry.field(description="The segment the customer's value put them in.")
    def segment(self) -> LifecycleWinbackSegment:
        return LifecycleWinbackSegment(self.row.segment)

    @strawberry.field(description="The customer's stage when listed.")
    def stage(self) -> LifecycleStageValue:
        return _stage_value(self.row.stage)

    @strawberry.field(description="The customer's net spend when listed (money).")
    def value(self) -> Decimal:
        return _money(self.row.value)


@strawberry.type(name="LifecycleWinbackMemberEdge", description="A listed customer in a page, with its cursor.")
class LifecycleWinbackMemberEdge:
    cursor: str = strawberry.field(description="The position of this customer, for `after`.")
    node: LifecycleWinbackMemberType = strawberry.field(description="The listed customer.")


@strawberry.type(name="LifecycleWinbackMemberConnection", description="A page of a win-back list, highest value first.")
class LifecycleWinbackMemberConnection:
    edges: list[LifecycleWinbackMemberEdge] = strawberry.field(description="The customers of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")


MEMBERS = Keyset("LIFECYCLE_WINBACK_MEMBER:VALUE:DESC", LifecycleWinbackMember.customer_id, True,
                 key=LifecycleWinbackMember.value, parse=lambda v: Decimal(str(v)))


@strawberry.type(name="LifecycleWinbackList", description="Lapsed and churned customers split by value, and how many came back.")
class LifecycleWinbackListType:
    row: strawberry.Private[LifecycleWinbackList]
    outcome: strawberry.Private[Any]

    @strawberry.field(description="The list's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("LifecycleWinbackList", self.row.id))

    @strawberry.field(description="The list's name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Net spend at or above which a customer is in WIN_BACK (money).")
    def value_threshold(self) -> Decimal:
        return _money(self.row.value_threshold)

    @strawberry.field(description="A listed customer is won back when buying within this many days of the list.")
    def window_days(self) -> int:
        return self.row.window_days

    @strawberry.field(description="When the list was made (UTC): the snapshot's time.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="Who made it.")
    def created_by(self) -> str:
        return self.row.created_by

    @strawberry.field(description="The window's end, or now while it is open: the outcome counts purchases up to it.")
    def measured_until(self) -> datetime:
        return self.outcome.measured_until

    @strawberry.field(description="True once the window has ended and the outcome is final.")
    def complete(self) -> bool:
        return self.outcome.complete

    @strawberry.field(description="The outcome per segment: WIN_BACK, then LET_GO (the comparison).")
    def outcome_by_segment(self) -> list[LifecycleWinbackSegmentOutcome]:
        return [LifecycleWinbackSegmentOutcome(segment=LifecycleWinbackSegment(s.segment), customers=s.customers, value=s.value,
                                               won_back=s.won_back, won_back_share=s.won_back_share, revenue=s.revenue)
                for s in self.outcome.segments]

    @strawberry.field(description="The listed customers, highest value first (first ≤ 100).")
    async def members(self, info: strawberry.Info, first: First = None, after: After = None,
                      segment: Annotated[Optional[LifecycleWinbackSegment], strawberry.argument(
                          description="Only this segment.")] = None) -> LifecycleWinbackMemberConnection:
        ctx = info.context
        page = page_slice(first, after)
        tenant_id, cursors, list_id = ctx.tenant_id, ctx.cursors, self.row.id
        m = LifecycleWinbackMember
        query = select(m).where(m.tenant_id == tenant_id, m.list_id == list_id)
        if segment is not None:
            query = query.where(m.segment == segment.value)
        found = await ctx.read(lambda s: fetch_page(s, query, MEMBERS, cursors, page,
                                                    cursor_of=lambda r: cursors.encode(MEMBERS.name, str(r.value), r.customer_id)))
        return LifecycleWinbackMemberConnection(
            edges=[LifecycleWinbackMemberEdge(cursor=e.cursor, node=LifecycleWinbackMemberType(row=e.node)) for e in found.edges],
            page_info=found.page_info)


@strawberry.type(name="LifecycleWinbackListEdge", description="A win-back list in a page, with its cursor.")
class LifecycleWinbackListEdge:
    cursor: str = strawberry.field(description="The position of this list, for `after`.")
    node: LifecycleWinbackListType = strawberry.field(description="The list.")


@strawberry.type(name="LifecycleWinbackListConnection", description="A page of win-back lists, newest first.")
class LifecycleWinbackListConnection:
    edges: list[LifecycleWinbackListEdge] = strawberry.field(description="The lists of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")


LISTS = Keyset("LIFECYCLE_WINBACK_LIST:ID:DESC", LifecycleWinbackList.id, True)


def _with_outcomes(ctx, rows: list[LifecycleWinbackList]) -> list[LifecycleWinbackListType]:
    from plugins.lifecycle.winback import outcomes

    found = outcomes(ctx, rows)
    return [LifecycleWinbackListType(row=row, outcome=found[row.id]) for row in rows]


async def load_winback_list(info: strawberry.Info, pk: int) -> Optional[LifecycleWinbackListType]:
    """The caller's tenant's list ``pk`` (``lifecycleWinbackList(id)`` and ``node(id)``)."""
    ctx = info.context
    gx, tenant_id = ctx.gx, ctx.tenant_id

    def work(session):
        row = session.get(LifecycleWinbackList, pk)
        if row is None or row.tenant_id != tenant_id:
            return None
        return _with_outcomes(gx.context(session, tenant_id), [row])[0]

    return await ctx.read(work)


# -- queries ---------------------------------------------------------------------------------

FromArg = Annotated[Optional[datetime], strawberry.argument(name="from", description="At or after this time (default: no limit).")]
ToArg = Annotated[Optional[datetime], strawberry.argument(description="Before this time (default: no limit).")]


@strawberry.type(description="The lifecycle module's queries.")
class LifecycleQuery:
    @strawberry.field(description="Customers per retention stage and the thresholds behind them; null before the first run.")
    async def lifecycle_stages(self, info: strawberry.Info) -> Optional[LifecycleStages]:
        ctx = info.context
        tenant_id = ctx.tenant_id
        return await ctx.read(lambda s: stage_summary(s, tenant_id))

    @strawberry.field(description="The monthly transition matrix: per month, how many customers moved from each stage to each other.")
    async def lifecycle_transitions(
        self, info: strawberry.Info, from_: FromArg = None, to: ToArg = None,
        include_first_stages: Annotated[bool, strawberry.argument(
            description="Also count customers' first stages (from null), such as the first run's classification.")] = False,
    ) -> list[LifecycleMonthFlows]:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id
        return await ctx.read(lambda s: monthly_matrix(gx.context(s, tenant_id), from_, to, include_first_stages))

    @strawberry.field(description="The tenant's churn reason codes (defaults plus the tenant's own, from the settings).")
    async def lifecycle_churn_reasons(self, info: strawberry.Info) -> list[LifecycleChurnReasonCode]:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id
        reasons = await ctx.read(lambda s: gx.context(s, tenant_id).module_settings("lifecycle").churn_reasons)
        return [LifecycleChurnReasonCode(code=r.code, side=LifecycleReasonSide[r.side], zh=r.zh, en=r.en) for r in reasons]

    @strawberry.field(description="Churn reasons recorded in [from, to), by reason, side, store and staff.")
    async def lifecycle_churn_report(self, info: strawberry.Info, from_: FromArg = None, to: ToArg = None) -> LifecycleChurnReport:
        from plugins.lifecycle.reasons import reason_report

        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id

        def work(session):
            try:
                return reason_report(gx.context(session, tenant_id), from_, to)
            except ValidationFailed as error:
                raise api_error(str(error), "INVALID") from None

        r = await ctx.read(work)
        counts = lambda pairs: [LifecycleCount(key=None if k is None else str(k), count=n) for k, n in pairs]  # noqa: E731
        pairs = lambda rows: [LifecyclePairCount(key=k, code=c, count=n) for k, c, n in rows]  # noqa: E731
        return LifecycleChurnReport(total=r.total, by_reason=counts(r.by_reason), by_side=counts(r.by_side),
                                    by_store=counts(r.by_store), by_staff=counts(r.by_staff),
                                    by_store_reason=pairs(r.by_store_reason), by_staff_reason=pairs(r.by_staff_reason))

    @strawberry.field(description="Win-back lists, newest first, with their outcomes (first ≤ 100).")
    async def lifecycle_winback_lists(self, info: strawberry.Info, first: First = None,
                                      after: After = None) -> LifecycleWinbackListConnection:
        ctx = info.context
        gx, tenant_id, cursors, page = ctx.gx, ctx.tenant_id, ctx.cursors, page_slice(first, after)

        def work(session):
            query = select(LifecycleWinbackList).where(LifecycleWinbackList.tenant_id == tenant_id)
            found = fetch_page(session, query, LISTS, cursors, page)
            lists = _with_outcomes(gx.context(session, tenant_id), [edge.node for edge in found.edges])
            return LifecycleWinbackListConnection(
                edges=[LifecycleWinbackListEdge(cursor=edge.cursor, node=node) for edge, node in zip(found.edges, lists)],
                page_info=found.page_info)

        return await ctx.read(work)

    @strawberry.field(description="One win-back list; null when not in this tenant.")
    async def lifecycle_winback_list(
        self, info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The list's global id.")]
    ) -> Optional[LifecycleWinbackListType]:
        pk = decode_id(id, "LifecycleWinbackList")
        return None if pk is None else await load_winback_list(info, pk)


# -- mutations --------------------------------------------------------------------------------


@strawberry.input(name="RecordChurnReasonInput", description="Why a lapsed or churned customer left.")
class RecordChurnReasonInput:
    customer_id: strawberry.ID = strawberry.field(description="The Customer; must be lapsed or churned now.")
    code: str = strawberry.field(description="One of the tenant's reason codes (`lifecycleChurnReasons`).")
    note: Optional[str] = strawberry.field(default=None, description="What the customer said, at most 2,000 characters.")
    store: Optional[str] = strawberry.field(default=None, description="File it under this store (default: the last purchase's).")
    staff: Optional[str] = strawberry.field(default=None, description="File it under this staff member (default: the last purchase's).")


@strawberry.type(name="RecordChurnReasonPayload", description="The result of recordChurnReason.")
class RecordChurnReasonPayload:
    reason: Optional[LifecycleChurnReasonRecord] = strawberry.field(default=None, description="The reason recorded; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(name="CreateLifecycleWinbackListInput", description="A new win-back list of the lapsed and churned customers.")
class CreateLifecycleWinbackListInput:
    name: str = strawberry.field(description="A name for people.")
    value_threshold: Optional[Decimal] = strawberry.field(default=None, description="Net spend at or above which a customer is "
                                                          "worth winning back (default: the setting, else the list's median).")
    window_days: Optional[int] = strawberry.field(default=None, description="Days after the list in which a purchase counts as "
                                                  "won back, 1 to 3,650 (default: the setting winback_window_days).")


@strawberry.type(name="CreateLifecycleWinbackListPayload", description="The result of createLifecycleWinbackList.")
class CreateLifecycleWinbackListPayload:
    winback_list: Optional[LifecycleWinbackListType] = strawberry.field(default=None, description="The new list; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(name="UpdateLifecycleStagesInput", description="A stage run now (the daily job's work).")
class UpdateLifecycleStagesInput:
    as_of: Optional[datetime] = strawberry.field(default=None, description="Stage as of this time (default now); not before the last run's.")


@strawberry.type(name="UpdateLifecycleStagesPayload", description="The result of updateLifecycleStages.")
class UpdateLifecycleStagesPayload:
    stages: Optional[LifecycleStages] = strawberry.field(default=None, description="The stages after the run; null on failure.")
    changed: Optional[int] = strawberry.field(default=None, description="Customers whose stage changed in the run.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The lifecycle module's mutations.")
class LifecycleMutation:
    @strawberry.mutation(description="Record why a lapsed or churned customer left (agents and admins).")
    async def record_churn_reason(self, info: strawberry.Info,
                                  input: Annotated[RecordChurnReasonInput, INPUT]) -> RecordChurnReasonPayload:
        from plugins.lifecycle.reasons import record_reason

        ctx = info.context
        ctx.require(Role.AGENT, "recording churn reasons")

        def work(tc):
            pk = decode_id(input.customer_id, "Customer")
            if pk is None:
                raise ValidationFailed([FieldError("customer_id", "not a Customer id", "NOT_FOUND")])
            row = record_reason(tc, pk, input.code, input.note, input.store, input.staff)
            labels = {r.code: r for r in tc.module_settings("lifecycle").churn_reasons}
            return {"reason": LifecycleChurnReasonRecord(row=row, labels=labels)}

        return RecordChurnReasonPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Snapshot the lapsed and churned customers into a win-back list split by value (agents and admins).")
    async def create_lifecycle_winback_list(self, info: strawberry.Info, input: Annotated[CreateLifecycleWinbackListInput, INPUT]
                                            ) -> CreateLifecycleWinbackListPayload:
        from plugins.lifecycle.winback import create_list

        ctx = info.context
        ctx.require(Role.AGENT, "making win-back lists")

        def work(tc):
            made = create_list(tc, input.name, input.value_threshold, input.window_days)
            return {"winback_list": _with_outcomes(tc, [made])[0]}

        return CreateLifecycleWinbackListPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Re-stage every customer now (admins); the daily job does the same.")
    async def update_lifecycle_stages(self, info: strawberry.Info, input: Annotated[UpdateLifecycleStagesInput, INPUT]
                                      ) -> UpdateLifecycleStagesPayload:
        from engine.input_bounds import bounded_time
        from plugins.lifecycle.history import run_stages

        ctx = info.context
        ctx.require(Role.ADMIN, "running lifecycle stages")

        def work(tc):
            from engine.services import audit

            report = run_stages(tc, bounded_time("as_of", input.as_of))
            audit.record(tc.session, tc.tenant_id, tc.actor, "lifecycle.update_stages", "Tenant", tc.tenant_id,
                         {"changed": report.changed, "transitions": report.transitions})
            return {"stages": stage_summary(tc.session, tc.tenant_id), "changed": report.changed}

        return UpdateLifecycleStagesPayload(**await guarded(ctx, work))
