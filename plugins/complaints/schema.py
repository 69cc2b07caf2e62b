"""The complaints module's GraphQL: the queue, one case with its timeline (``events``),
``Customer.complaints``, a mutation per workflow step and ``complaintStats``.

Mutations take one ``input`` and return ``{complaint, errors}``: expected
failures (unknown category, illegal transition, missing root cause,
satisfaction outside 1–5, promised time in the past, self or cyclic link)
come back as ``errors { field message code }`` and leave the case unchanged.
Lists are keyset-paginated newest first; ``Customer.complaints`` and every
case's timeline go through per-request DataLoaders (one statement per page).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Optional

import sqlalchemy as sa
import strawberry
from sqlalchemy import func, select
from strawberry.scalars import JSON

from api.errors import api_error
from api.ids import decode_id, to_global_id
from api.mutations import guarded
from api.enums import ChannelCode, code_of, coded_enum, value_type
from api.pagination import Keyset, Slice, page_slice, slice_page, wants_total
from api.references import CURRENT_CORE, load_customer
from api.types import ERRORS, INPUT, After, Before, Error, First, Lang, LangArg, Last, Node, PageInfo
from engine.enums import Channel, Role
from engine.errors import FieldError, ValidationFailed
from plugins.complaints import service
from plugins.complaints.models import ComplaintCase, ComplaintEvent
from plugins.complaints.stats import complaint_stats
from plugins.complaints.workflow import Priority, Status

def _labelled(source, name: str, description: str):
    # Python values stay the stored lower-case codes; GraphQL shows the names.
    members = {m.name: strawberry.enum_value(m.value, description=f"{m.en} ({m.zh}).") for m in source}
    return strawberry.enum(enum.Enum(name, members), name=name, description=description)


ComplaintStatus = _labelled(Status, "ComplaintStatus", "Where a case stands in the workflow (the steps are in docs/complaints.md).")
ComplaintPriority = _labelled(Priority, "ComplaintPriority", "How urgent a case is; the SLA policy can depend on it.")


@strawberry.enum(name="ComplaintStatsGroupBy", description="What complaintStats groups cases by.")
class ComplaintStatsGroupBy(enum.Enum):
    CATEGORY = strawberry.enum_value("category", description="The category code.")
    STATUS = strawberry.enum_value("status", description="The status now (keys are ComplaintStatus codes).")
    STORE = strawberry.enum_value("store", description="The store.")
    PRIORITY = strawberry.enum_value("priority", description="The priority (keys are ComplaintPriority codes).")


ComplaintEventKind = coded_enum("ComplaintEventKind", "What a timeline entry records.", {
    "TRANSITION": "A change of status.",
    "UPDATE": "A progress update to the customer.",
    "ESCALATION": "The case was escalated.",
    "NOTE": "A note.",
})


def _code(value: Optional[str]) -> Optional[str]:
    """A stored status or priority (lower-case) as its API code; other keys unchanged."""
    for source in (Status, Priority):
        try:
            return source(value).name
        except ValueError:
            continue
    return value


def _gid(type_name: str, pk: int | None) -> Optional[strawberry.ID]:
    return None if pk is None else strawberry.ID(to_global_id(type_name, pk))


@strawberry.type(name="ComplaintEvent", description="A timeline entry: a transition, a customer update, an escalation or a note.")
class ComplaintEventType:
    row: strawberry.Private[ComplaintEvent]

    @strawberry.field(description="What the entry records.")
    def kind(self) -> ComplaintEventKind:
        return ComplaintEventKind[self.row.kind]

    @strawberry.field(description="For a transition: the status before; null at opening.")
    def from_status(self) -> Optional[ComplaintStatus]:
        return None if self.row.from_status is None else ComplaintStatus(self.row.from_status)

    @strawberry.field(description="For a transition: the status after.")
    def to_status(self) -> Optional[ComplaintStatus]:
        return None if self.row.to_status is None else ComplaintStatus(self.row.to_status)

    @strawberry.field(description="Who made it (an actor, as in audit events).")
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field(description="The note given with it; null after the customer was erased.")
    def note(self) -> Optional[str]:
        return self.row.note

    @strawberry.field(description="Details of the entry (keys as stored, snake_case); the ids in it (interaction_id, parent_id) are global ids.")
    def data(self) -> JSON:
        return _global_ids(self.row.data or {})

    @strawberry.field(description="When (UTC).")
    def at(self) -> datetime:
        return self.row.at


# Timeline data keys holding a pk, and the type their global id names.
_DATA_IDS = {"interaction_id": "Interaction", "parent_id": "Complaint"}


def _global_ids(data: dict) -> dict:
    """The entry's data with raw pks made global ids that node(id:) resolves (stored data keeps pks)."""
    return {key: (to_global_id(_DATA_IDS[key], value) if key in _DATA_IDS and isinstance(value, int) else value)
            for key, value in data.items()}


def _timelines(session, tenant_id: int, ids: list[int]) -> dict[int, list[ComplaintEventType]]:
    out: dict[int, list[ComplaintEventType]] = {i: [] for i in ids}
    rows = session.execute(
        select(ComplaintEvent).where(ComplaintEvent.tenant_id == tenant_id, ComplaintEvent.case_id.in_(ids)).order_by(ComplaintEvent.id)
    ).scalars()
    for row in rows:
        out[row.case_id].append(ComplaintEventType(row=row))
    return out


EVENTS = Keyset("COMPLAINT_EVENT:ID:ASC", ComplaintEvent.id, False)


def _events_of_cases(session, tenant_id: int, cursors, case_ids: list[int], page: Slice) -> dict[int, list[ComplaintEvent]]:
    """Up to size+1 entries of each case in the slice's direction, in one statement (a window per case)."""
    order = EVENTS.order_by(page.backwards)
    number = func.row_number().over(partition_by=ComplaintEvent.case_id, order_by=order).label("n")
    inner = (select(ComplaintEvent.id, number)
             .where(ComplaintEvent.tenant_id == tenant_id, ComplaintEvent.case_id.in_(case_ids), *EVENTS.conditions(cursors, page))
             .subquery())
    query = (select(ComplaintEvent).join(inner, inner.c.id == ComplaintEvent.id)
             .where(inner.c.n <= page.size + 1).order_by(ComplaintEvent.case_id, *order))
    out: dict[int, list[ComplaintEvent]] = {cid: [] for cid in case_ids}
    for row in session.execute(query).scalars():
        out[row.case_id].append(row)
    return out


def _event_counts(session, tenant_id: int, case_ids: list[int]) -> dict[int, int]:
    return dict(session.execute(
        select(ComplaintEvent.case_id, func.count())
        .where(ComplaintEvent.tenant_id == tenant_id, ComplaintEvent.case_id.in_(case_ids))
        .group_by(ComplaintEvent.case_id)).all())


@strawberry.type(name="ComplaintEventEdge", description="A timeline entry in a page, with its cursor.")
class ComplaintEventEdge:
    cursor: str = strawberry.field(description="The position of this entry, for `after` and `before`.")
    node: ComplaintEventType = strawberry.field(description="The entry.")


@strawberry.type(name="ComplaintEventConnection", description="A page of a case's timeline, oldest entry first.")
class ComplaintEventConnection:
    edges: list[ComplaintEventEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    count: strawberry.Private[Any]

    @strawberry.field(description="The case's entries (counted only when selected).")
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type(name="Complaint", description="A complaint case (投诉) and where it stands in the six-step workflow.")
class ComplaintType(Node):
    row: strawberry.Private[ComplaintCase]

    @strawberry.field(description="The case's global id.")
    def id(self) -> strawberry.ID:
        return _gid("Complaint", self.row.id)

    @strawberry.field(description="The Customer who complained.")
    def customer_id(self) -> strawberry.ID:
        return _gid("Customer", self.row.customer_id)

    @strawberry.field(description="The customer who complained; null once the customer is deleted (merged or erased).")
    async def customer(self, info: strawberry.Info) -> Optional[Annotated["Customer", strawberry.lazy(CURRENT_CORE)]]:
        return await load_customer(info, self.row.customer_id)

    @strawberry.field(description="The case this one is linked under (a duplicate or follow-up); null when none.")
    async def parent(self, info: strawberry.Info) -> Optional[ComplaintType]:
        if self.row.parent_id is None:
            return None
        # One statement for every parent on the page, not one per case.
        ctx = info.context
        loader = ctx.loader("complaint", lambda s, ids: _cases_by_ids(s, ctx.tenant_id, ids))
        row = await loader.load(self.row.parent_id)
        return None if row is None else ComplaintType(row=row)

    @strawberry.field(description="The id of `parent` (a Complaint id); null when none.")
    def parent_id(self) -> Optional[strawberry.ID]:
        return _gid("Complaint", self.row.parent_id)

    @strawberry.field(description="A category code of the tenant's settings (PRODUCT_QUALITY, SERVICE, ...).")
    def category(self) -> str:
        return self.row.category

    @strawberry.field(description="How urgent the case is.")
    def priority(self) -> ComplaintPriority:
        return ComplaintPriority(self.row.priority)

    @strawberry.field(description="The priority's label for people.")
    def priority_label(self, lang: LangArg = Lang.ZH) -> str:
        return Priority(self.row.priority).label(lang.value)

    @strawberry.field(description="Where the case stands in the workflow.")
    def status(self) -> ComplaintStatus:
        return ComplaintStatus(self.row.status)

    @strawberry.field(description="The status's label for people.")
    def status_label(self, lang: LangArg = Lang.ZH) -> str:
        return Status(self.row.status).label(lang.value)

    @strawberry.field(description="Where the complaint came in.")
    def channel(self) -> Optional[value_type(Channel)]:
        return None if self.row.channel is None else Channel.parse(self.row.channel)

    @strawberry.field(description="The store it concerns.")
    def store(self) -> Optional[str]:
        return self.row.store

    @strawberry.field(description="What the customer said; null after the customer was erased.")
    def description(self) -> Optional[str]:
        return self.row.description

    @strawberry.field(description="The department handling it.")
    def department(self) -> Optional[str]:
        return self.row.department

    @strawberry.field(description="The agent handling it.")
    def assignee(self) -> Optional[str]:
        return self.row.assignee

    @strawberry.field(description="The reply time promised to the customer (承诺答复时间).")
    def promised_reply_at(self) -> Optional[datetime]:
        return self.row.promised_reply_at

    @strawberry.field(description="true kept, false broken, null pending or no promise.")
    def promise_kept(self) -> Optional[bool]:
        return self.row.promise_kept

    @strawberry.field(description="How it was resolved; null before, and after the customer was erased.")
    def resolution(self) -> Optional[str]:
        return self.row.resolution

    @strawberry.field(description="The root cause found at resolution.")
    def root_cause(self) -> Optional[str]:
        return self.row.root_cause

    @strawberry.field(description="The follow-up score, 1–5.")
    def satisfaction(self) -> Optional[int]:
        return self.row.satisfaction

    @strawberry.field(description="How many times the case was reopened.")
    def reopen_count(self) -> int:
        return self.row.reopen_count

    @strawberry.field(description="When the complaint was received (UTC).")
    def opened_at(self) -> datetime:
        return self.row.opened_at

    @strawberry.field(description="When the customer first heard back; null before.")
    def first_response_at(self) -> Optional[datetime]:
        return self.row.first_response_at

    @strawberry.field(description="When it was (last) resolved; null before.")
    def resolved_at(self) -> Optional[datetime]:
        return self.row.resolved_at

    @strawberry.field(description="When it was closed; null before.")
    def closed_at(self) -> Optional[datetime]:
        return self.row.closed_at

    @strawberry.field(description="Set while waiting on the customer (the resolution clock is paused).")
    def paused_since(self) -> Optional[datetime]:
        return self.row.paused_since

    @strawberry.field(description="The SLA policy that matched at opening; null when none applies.")
    def sla_policy(self) -> Optional[str]:
        return self.row.sla_policy

    @strawberry.field(description="When the first response is due under the SLA; null without a policy.")
    def first_response_due(self) -> Optional[datetime]:
        return self.row.first_response_due

    @strawberry.field(description="Null while paused (the due time moves with the pause) and once resolved.")
    def resolution_due(self) -> Optional[datetime]:
        return self.row.resolution_due

    @strawberry.field(description="The first response came (or is) later than due.")
    def first_response_breached(self) -> bool:
        return bool(self.row.first_response_breached)

    @strawberry.field(description="The resolution came (or is) later than due.")
    def resolution_breached(self) -> bool:
        return bool(self.row.resolution_breached)

    @strawberry.field(description="0 none, 1 department head, 2 company level (公司级投诉).")
    def escalation_level(self) -> int:
        return self.row.escalation_level

    @strawberry.field(description="Every transition, update, escalation and note, oldest first.",
                      deprecation_reason="Use events, the same entries as a connection.")
    async def timeline(self, info: strawberry.Info) -> list[ComplaintEventType]:
        ctx = info.context
        tenant_id = ctx.tenant_id
        return await ctx.loader("complaints.timeline", lambda s, ids: _timelines(s, tenant_id, ids)).load(self.row.id)

    @strawberry.field(description="The case's timeline: every transition, update, escalation and note, oldest first.")
    async def events(self, info: strawberry.Info, first: First = None, after: After = None,
                     last: Last = None, before: Before = None) -> ComplaintEventConnection:
        ctx = info.context
        page = page_slice(first, after, last, before)
        tenant_id, cursors, case_id = ctx.tenant_id, ctx.cursors, self.row.id
        rows = await ctx.loader(("complaints.events", page.key),
                                lambda s, ids: _events_of_cases(s, tenant_id, cursors, ids, page)).load(case_id)
        counts = ctx.loader(("complaints.events.count",), lambda s, ids: _event_counts(s, tenant_id, ids))

        async def total() -> int:
            return (await counts.load(case_id)) or 0

        found = slice_page(rows or [], page, lambda r: EVENTS.cursor(cursors, r), total)
        return ComplaintEventConnection(edges=[ComplaintEventEdge(cursor=e.cursor, node=ComplaintEventType(row=e.node))
                                               for e in found.edges], page_info=found.page_info, count=total)


def _cases_by_ids(session, tenant_id: int, ids: list[int]) -> dict[int, ComplaintCase]:
    rows = session.execute(select(ComplaintCase).where(ComplaintCase.tenant_id == tenant_id, ComplaintCase.id.in_(ids))).scalars()
    return {row.id: row for row in rows}


async def load_complaint(info: strawberry.Info, pk: int) -> Optional[ComplaintType]:
    """The caller's tenant's case ``pk`` (``complaint(id)`` and ``node(id)``)."""
    ctx = info.context
    row = await ctx.read(lambda s: s.get(ComplaintCase, pk))
    return ComplaintType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.type(name="ComplaintEdge", description="A case in a page, with its cursor.")
class ComplaintEdge:
    cursor: str = strawberry.field(description="The position of this case, for `after`.")
    node: ComplaintType = strawberry.field(description="The case.")


@strawberry.type(name="ComplaintConnection", description="A page of complaint cases, newest first.")
class ComplaintConnection:
    edges: list[ComplaintEdge] = strawberry.field(description="The cases of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(description="Cases matching the filter (counted only when selected).")


@strawberry.input(name="ComplaintWhere", description="Queue filters; all given conditions must hold.")
class ComplaintWhere:
    status: Optional[list[ComplaintStatus]] = strawberry.field(default=None, description="In any of these statuses.")
    open: Optional[bool] = strawberry.field(default=None, description="true: RECEIVED, ROUTED, IN_PROGRESS or WAITING_ON_CUSTOMER only; "
                                                                      "false: the others.")
    category: Optional[list[str]] = strawberry.field(default=None, description="In any of these category codes.")
    priority: Optional[list[ComplaintPriority]] = strawberry.field(default=None, description="Of any of these priorities.")
    breached: Optional[bool] = strawberry.field(default=None, description="true: a response or resolution SLA was breached; false: none was.")
    escalation_level_gte: Optional[int] = strawberry.field(default=None, description="Escalated to at least this level (0–2).")
    assignee: Optional[str] = strawberry.field(default=None, description="Handled by this agent.")
    department: Optional[str] = strawberry.field(default=None, description="Handled by this department.")
    store: Optional[str] = strawberry.field(default=None, description="Concerning this store.")
    customer_id: Optional[strawberry.ID] = strawberry.field(default=None, description="Of this Customer.")


def _conditions(tenant_id: int, where: Optional[ComplaintWhere]) -> list:
    c = ComplaintCase
    conditions: list = [c.tenant_id == tenant_id]
    if where is None:
        return conditions
    if where.status:
        conditions.append(c.status.in_([s.value for s in where.status]))
    if where.open is not None:
        values = service.OPEN_STATUS_VALUES
        conditions.append(c.status.in_(values) if where.open else c.status.not_in(values))
    if where.category:
        conditions.append(c.category.in_([code.strip().upper() for code in where.category]))
    if where.priority:
        conditions.append(c.priority.in_([p.value for p in where.priority]))
    if where.breached is not None:
        breached = sa.or_(c.first_response_breached.is_(True), c.resolution_breached.is_(True))
        conditions.append(breached if where.breached else sa.not_(breached))
    if where.escalation_level_gte is not None:
        conditions.append(c.escalation_level >= where.escalation_level_gte)
    for name in ("assignee", "department", "store"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(getattr(c, name) == value)
    if where.customer_id is not None:
        conditions.append(c.customer_id == (decode_id(where.customer_id, "Customer") or -1))
    return conditions


CASES = Keyset("COMPLAINT:ID:DESC", ComplaintCase.id, True)


def _page(rows: list, page: Slice, total, cursors) -> ComplaintConnection:
    found = slice_page(rows, page, lambda r: CASES.cursor(cursors, r), total)
    return ComplaintConnection(
        edges=[ComplaintEdge(cursor=e.cursor, node=ComplaintType(row=e.node)) for e in found.edges],
        page_info=found.page_info, total_count=found.total_count,
    )


def queue_page(session, tenant_id: int, cursors, page: Slice, where: Optional[ComplaintWhere],
               with_total: bool = True) -> ComplaintConnection:
    conditions = _conditions(tenant_id, where)
    total = session.execute(select(func.count()).select_from(ComplaintCase).where(*conditions)).scalar_one() if with_total else None
    query = select(ComplaintCase).where(*conditions, *CASES.conditions(cursors, page))
    rows = session.execute(query.order_by(*CASES.order_by(page.backwards)).limit(page.size + 1)).scalars().all()
    return _page(rows, page, total, cursors)


def _customer_pages(session, tenant_id: int, cursors, page: Slice, where, customer_ids: list[int],
                    with_total: bool = True) -> dict[int, ComplaintConnection]:
    """Each customer's page and case count in one statement (window functions per customer);
    within cursors the page is narrower than the count, which then takes a second statement
    (only when totalCount is selected)."""
    conditions = [*_conditions(tenant_id, where), ComplaintCase.customer_id.in_(customer_ids)]
    narrowed = CASES.conditions(cursors, page)
    per_customer = {"partition_by": ComplaintCase.customer_id}
    order = CASES.order_by(page.backwards)
    number = func.row_number().over(**per_customer, order_by=order).label("n")
    count = func.count().over(**per_customer).label("total")
    inner = select(ComplaintCase.id, number, count).where(*conditions, *narrowed).subquery()
    ranked = (select(ComplaintCase, inner.c.total).join(inner, inner.c.id == ComplaintCase.id)
              .where(inner.c.n <= page.size + 1).order_by(*order))
    by_customer: dict[int, list] = {cid: [] for cid in customer_ids}
    totals: dict[int, int] = {}
    for row, total in session.execute(ranked):
        by_customer[row.customer_id].append(row)
        totals[row.customer_id] = total
    if narrowed and with_total:
        totals = dict(session.execute(
            select(ComplaintCase.customer_id, func.count()).where(*conditions).group_by(ComplaintCase.customer_id)
        ).all())
    elif narrowed:
        totals = dict.fromkeys(totals)  # the window counted the narrowed range: not a total, and not asked for
    none = _page([], page, 0, cursors)  # most customers have no case: one shared empty connection
    return {cid: _page(rows, page, totals[cid], cursors) if cid in totals else none for cid, rows in by_customer.items()}


DEFAULT_CASES = 20


def _cases_batch(ctx, page: Slice, where, with_total: bool = True):
    tenant_id, cursors = ctx.tenant_id, ctx.cursors
    key = ("complaints.customer", page.key, repr(where), with_total)
    return key, lambda s, ids: _customer_pages(s, tenant_id, cursors, page, where, ids, with_total)


def complaints_batch(ctx):
    """Customer.complaints with the default arguments, for many customers at once (api/prefetch.py)."""
    return _cases_batch(ctx, Slice(DEFAULT_CASES), None)


WhereArg = Annotated[Optional[ComplaintWhere], strawberry.argument(description="Conditions the cases must meet.")]


@strawberry.type(description="The complaints module's Customer fields.")
class ComplaintCustomerFields:
    @strawberry.field(description="The customer's complaint cases, newest first (first ≤ 100).")
    def complaints(self, info: strawberry.Info, first: First = None, after: After = None,
                   where: WhereArg = None, last: Last = None, before: Before = None) -> ComplaintConnection:
        ctx = info.context
        page = page_slice(first, after, last, before)
        if page == Slice(DEFAULT_CASES) and where is None:
            return ctx.customer_value(complaints_batch, self.id)
        return ctx.loader(*_cases_batch(ctx, page, where, wants_total(info))).load(self.id)


# -- stats ---------------------------------------------------------------------------


@strawberry.type(name="ComplaintDuration", description="Business minutes, to the minute (nearest-rank percentiles).")
class ComplaintDuration:
    count: int = strawberry.field(description="Cases measured.")
    median_minutes: Optional[float] = strawberry.field(description="The median, in business minutes; null without cases.")
    p90_minutes: Optional[float] = strawberry.field(description="The 90th percentile, in business minutes; null without cases.")


@strawberry.type(name="ComplaintCount", description="How many cases have a value.")
class ComplaintCount:
    key: Optional[str] = strawberry.field(description="The value: a category, a ComplaintStatus code, a store, a root cause or a "
                                                      "satisfaction score; null for cases without one.")
    count: int = strawberry.field(description="How many cases.")


@strawberry.type(name="ComplaintStatsGroup", description="The report for all cases in range (key null) or one group.")
class ComplaintStatsGroup:
    key: Optional[str] = strawberry.field(description="The group's value (ComplaintStatus and ComplaintPriority codes when grouped by "
                                                      "them); null for the totals.")
    count: int = strawberry.field(description="Cases opened in the range.")
    first_response: ComplaintDuration = strawberry.field(description="Time to the first response.")
    resolution: ComplaintDuration = strawberry.field(description="Time to resolution, pauses left out.")
    sla_met: int = strawberry.field(description="Cases that met their SLA.")
    sla_breached: int = strawberry.field(description="Cases that breached their SLA.")
    sla_compliance: Optional[float] = strawberry.field(description="slaMet / (slaMet + slaBreached), 0 to 1; null without such cases.")
    promises_made: int = strawberry.field(description="Cases with a promised reply time.")
    promises_kept: int = strawberry.field(description="Promises kept.")
    promises_broken: int = strawberry.field(description="Promises broken.")
    promises_kept_rate: Optional[float] = strawberry.field(description="Kept / (kept + broken), 0 to 1; null without settled promises.")
    satisfaction_count: int = strawberry.field(description="Cases with a follow-up satisfaction score.")
    satisfaction_average: Optional[float] = strawberry.field(description="Mean satisfaction, 1 to 5; null without scores.")
    satisfaction_distribution: list[ComplaintCount] = strawberry.field(description="Cases per satisfaction score.")
    resolved_ever: int = strawberry.field(description="Cases resolved at least once.")
    reopened: int = strawberry.field(description="Cases reopened at least once.")
    reopen_rate: Optional[float] = strawberry.field(description="reopened / resolvedEver, 0 to 1; null when none was resolved.")


@strawberry.type(name="ComplaintEscalations", description="Escalations of the cases opened in a range (levels never go down).")
class ComplaintEscalations:
    escalated: int = strawberry.field(description="Cases escalated at least once: level 1 (department head) or 2.")
    company_level: int = strawberry.field(description="Cases escalated to level 2, company level (公司级投诉).")


@strawberry.type(name="ComplaintStats", description="The complaint report over cases opened in [from, to).")
class ComplaintStatsType:
    totals: ComplaintStatsGroup = strawberry.field(description="The report over every case in the range.")
    by_category: list[ComplaintCount] = strawberry.field(description="Cases per category, most first.")
    by_status: list[ComplaintCount] = strawberry.field(description="Cases per status now (ComplaintStatus codes), most first.")
    by_store: list[ComplaintCount] = strawberry.field(description="Cases per store, most first.")
    top_root_causes: list[ComplaintCount] = strawberry.field(description="The most frequent root causes, most first.")
    groups: list[ComplaintStatsGroup] = strawberry.field(description="The report per group, when groupBy is given; empty otherwise.")
    opened_range: strawberry.Private[tuple[datetime, datetime]] = None

    @strawberry.field(description="How many of the range's cases were escalated (one more statement, only when asked for).")
    async def escalations(self, info: strawberry.Info) -> ComplaintEscalations:
        ctx = info.context
        tenant_id, (since, until) = ctx.tenant_id, self.opened_range
        c = ComplaintCase
        levels = dict(await ctx.read(lambda s: s.execute(
            select(c.escalation_level, func.count()).where(
                c.tenant_id == tenant_id, c.opened_at >= since, c.opened_at < until, c.escalation_level > 0)
            .group_by(c.escalation_level)).all()))
        return ComplaintEscalations(escalated=sum(levels.values()), company_level=sum(n for level, n in levels.items() if level >= 2))


def _group(g, coded: bool = False) -> ComplaintStatsGroup:
    duration = lambda t: ComplaintDuration(count=t.count, median_minutes=t.median_minutes, p90_minutes=t.p90_minutes)  # noqa: E731
    key = None if g.key is None else str(g.key)
    return ComplaintStatsGroup(
        key=_code(key) if coded else key, count=g.count, first_response=duration(g.first_response),
        resolution=duration(g.resolution), sla_met=g.sla_met, sla_breached=g.sla_breached, sla_compliance=g.sla_compliance,
        promises_made=g.promises_made, promises_kept=g.promises_kept, promises_broken=g.promises_broken,
        promises_kept_rate=g.promises_kept_rate, satisfaction_count=g.satisfaction_count,
        satisfaction_average=g.satisfaction_average,
        satisfaction_distribution=[ComplaintCount(key=str(k), count=v) for k, v in g.satisfaction_distribution.items()],
        resolved_ever=g.resolved_ever, reopened=g.reopened, reopen_rate=g.reopen_rate,
    )


def _counts(mapping, coded: bool = False) -> list[ComplaintCount]:
    counts = []
    for key, value in mapping.items() if isinstance(mapping, dict) else mapping:
        key = None if key is None else str(key)
        counts.append(ComplaintCount(key=_code(key) if coded else key, count=int(value)))
    return counts


@strawberry.type(name="ComplaintCategory", description="A complaint category of the tenant's settings.")
class ComplaintCategoryType:
    code: str = strawberry.field(description="The category's code, as cases carry it (PRODUCT_QUALITY, SERVICE, ...).")
    name_zh: strawberry.Private[str]
    name_en: strawberry.Private[str]

    @strawberry.field(description="The category's name for people, in Chinese (the default) or English.")
    def label(self, lang: LangArg = Lang.ZH) -> str:
        return self.name_zh if lang is Lang.ZH else self.name_en


@strawberry.type(description="The complaints module's queries.")
class ComplaintsQuery:
    @strawberry.field(description="The tenant's complaint categories, in the order of its settings (any role).")
    async def complaint_categories(self, info: strawberry.Info) -> list[ComplaintCategoryType]:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id
        categories = await ctx.read(lambda s: gx.context(s, tenant_id).module_settings("complaints").categories)
        return [ComplaintCategoryType(code=c.code, name_zh=c.zh, name_en=c.en) for c in categories]

    @strawberry.field(description="The tenant's complaint queue, newest first, with filters (first ≤ 100).")
    async def complaints(self, info: strawberry.Info, first: First = None, after: After = None,
                         where: WhereArg = None, last: Last = None, before: Before = None) -> ComplaintConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: queue_page(s, ctx.tenant_id, ctx.cursors, page, where, total))

    @strawberry.field(description="One complaint (with its timeline); null when not in this tenant.")
    async def complaint(
        self, info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The case's global id.")]
    ) -> Optional[ComplaintType]:
        pk = decode_id(id, "Complaint")
        return None if pk is None else await load_complaint(info, pk)

    @strawberry.field(description="Counts, response and resolution times, SLA compliance, promises, satisfaction, reopen rate, root causes.")
    async def complaint_stats(
        self, info: strawberry.Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="Cases opened at or after this time.")],
        to: Annotated[datetime, strawberry.argument(description="Cases opened before this time.")],
        group_by: Annotated[Optional[ComplaintStatsGroupBy], strawberry.argument(
            description="Also report per group of cases (`groups`).")] = None,
    ) -> ComplaintStatsType:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id

        def work(session):
            try:
                return complaint_stats(gx.context(session, tenant_id), from_, to, group_by.value if group_by else None)
            except ValidationFailed as error:
                raise api_error(str(error), "INVALID") from None

        result = await ctx.read(work)
        coded = group_by in (ComplaintStatsGroupBy.STATUS, ComplaintStatsGroupBy.PRIORITY)
        return ComplaintStatsType(
            totals=_group(result.totals), by_category=_counts(result.by_category),
            by_status=_counts(result.by_status, coded=True),
            by_store=_counts(result.by_store), top_root_causes=_counts(result.top_root_causes),
            groups=[_group(g, coded) for g in result.groups], opened_range=(result.since, result.until),
        )


# -- mutations ---------------------------------------------------------------------


@strawberry.type(name="ComplaintPayload", description="The result of a workflow step.")
class ComplaintPayload:
    complaint: Optional[ComplaintType] = strawberry.field(default=None, description="The case after the step; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="OpenComplaintPayload", description="The result of openComplaint.")
class OpenComplaintPayload:
    complaint: Optional[ComplaintType] = strawberry.field(default=None, description="The new case; null on failure.")
    duplicates: list[ComplaintType] = strawberry.field(default_factory=list, description="Open cases it may duplicate: candidates for linkComplaint.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


CASE_ID = "The case (a Complaint id)."
NOTE = "A note for the timeline."


@strawberry.input(name="OpenComplaintInput", description="A complaint received (step 1).")
class OpenComplaintInput:
    customer_id: strawberry.ID = strawberry.field(description="The Customer who complains.")
    category: str = strawberry.field(description="A category code of the tenant's settings (PRODUCT_QUALITY, SERVICE, ...).")
    priority: Optional[ComplaintPriority] = strawberry.field(default=None, description="How urgent (default NORMAL).")
    channel: Optional[ChannelCode] = strawberry.field(default=None, description="Where it came in.")
    store: Optional[str] = strawberry.field(default=None, description="The store it concerns.")
    description: Optional[str] = strawberry.field(default=None, description="What the customer said.")
    department: Optional[str] = strawberry.field(default=None, description="The department to handle it.")
    assignee: Optional[str] = strawberry.field(default=None, description="The agent to handle it.")
    promised_reply_at: Optional[datetime] = strawberry.field(default=None, description="The reply time promised to the customer, in the future.")
    opened_at: Optional[datetime] = strawberry.field(default=None, description="When it was received (default: now); not in the future.")
    note: Optional[str] = strawberry.field(default=None, description=NOTE)


@strawberry.input(name="RouteComplaintInput", description="Where to route a case (step 2).")
class RouteComplaintInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    department: Optional[str] = strawberry.field(default=None, description="The department to handle it.")
    assignee: Optional[str] = strawberry.field(default=None, description="The agent to handle it.")
    note: Optional[str] = strawberry.field(default=None, description=NOTE)


@strawberry.input(name="AddComplaintUpdateInput", description="A progress update to the customer (step 3).")
class AddComplaintUpdateInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    note: str = strawberry.field(description="What the customer was told; required.")
    promised_reply_at: Optional[datetime] = strawberry.field(default=None, description="A new reply time promised, in the future.")


@strawberry.input(name="ResolveComplaintInput", description="How a case was resolved (step 4).")
class ResolveComplaintInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    resolution: str = strawberry.field(description="How it was resolved; required.")
    root_cause: str = strawberry.field(description="The root cause; required.")
    note: Optional[str] = strawberry.field(default=None, description=NOTE)


@strawberry.input(name="RecordFollowUpInput", description="The follow-up with the customer (step 5).")
class RecordFollowUpInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    satisfaction: int = strawberry.field(description="The customer's satisfaction, 1 (very unsatisfied) to 5 (very satisfied).")
    note: Optional[str] = strawberry.field(default=None, description=NOTE)
    reopen: Optional[bool] = strawberry.field(default=None, description="Default: reopen when satisfaction ≤ the tenant's reopen_at_or_below.")


@strawberry.input(name="ComplaintStepInput", description="A case to move one step.")
class ComplaintStepInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    note: Optional[str] = strawberry.field(default=None, description=NOTE)


@strawberry.input(name="ReopenComplaintInput", description="A case in follow-up to reopen.")
class ReopenComplaintInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    note: Optional[str] = strawberry.field(default=None, description=NOTE)
    satisfaction: Optional[int] = strawberry.field(default=None, description="The customer's satisfaction, 1 to 5, if asked.")


@strawberry.input(name="LinkComplaintInput", description="A case to link under a parent case about the same problem.")
class LinkComplaintInput:
    id: strawberry.ID = strawberry.field(description=CASE_ID)
    parent_id: strawberry.ID = strawberry.field(description="The parent case (a Complaint id).")
    cancel: bool = strawberry.field(default=False, description="Cancel this case as a duplicate of the parent (default false).")
    note: Optional[str] = strawberry.field(default=None, description=NOTE)


def _pk(value: Any, field: str = "id", type_name: str = "Complaint") -> int:
    pk = decode_id(value, type_name)
    if pk is None:
        raise ValidationFailed([FieldError(field, f"not a {type_name} id", "NOT_FOUND")])
    return pk


async def _step(info: strawberry.Info, action: str, call) -> ComplaintPayload:
    ctx = info.context
    ctx.require(Role.AGENT, action)
    result = await guarded(ctx, lambda tc: {"complaint": ComplaintType(row=call(tc))})
    return ComplaintPayload(**result)


@strawberry.type(description="The complaints module's mutations: one per workflow step.")
class ComplaintsMutation:
    @strawberry.mutation(description="Step 1: receive a complaint; suggests open duplicates.")
    async def open_complaint(self, info: strawberry.Info, input: Annotated[OpenComplaintInput, INPUT]) -> OpenComplaintPayload:
        ctx = info.context
        ctx.require(Role.AGENT, "opening complaints")

        def work(tc):
            data = {k: code_of(getattr(input, k)) for k in ("category", "channel", "store", "description", "department", "assignee",
                                                    "promised_reply_at", "opened_at", "note") if getattr(input, k) is not None}
            data["customer_id"] = _pk(input.customer_id, "customer_id", "Customer")
            if input.priority is not None:
                data["priority"] = input.priority.value
            opened = service.open_case(tc, data)
            return {"complaint": ComplaintType(row=opened.case), "duplicates": [ComplaintType(row=d) for d in opened.duplicates]}

        return OpenComplaintPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Step 2: route to a department and/or an agent.")
    async def route_complaint(self, info: strawberry.Info, input: Annotated[RouteComplaintInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "routing complaints", lambda tc: service.route_case(tc, _pk(input.id), input.department, input.assignee, input.note))

    @strawberry.mutation(description="Step 3: a progress update to the customer (counts as the first response).")
    async def add_complaint_update(self, info: strawberry.Info, input: Annotated[AddComplaintUpdateInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "updating complaints", lambda tc: service.add_update(tc, _pk(input.id), input.note, input.promised_reply_at))

    @strawberry.mutation(description="Wait on the customer: the resolution clock pauses.")
    async def wait_on_complaint_customer(self, info: strawberry.Info, input: Annotated[ComplaintStepInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "updating complaints", lambda tc: service.wait_on_customer(tc, _pk(input.id), input.note))

    @strawberry.mutation(description="The customer answered: the resolution clock runs again.")
    async def resume_complaint(self, info: strawberry.Info, input: Annotated[ComplaintStepInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "updating complaints", lambda tc: service.resume_case(tc, _pk(input.id), input.note))

    @strawberry.mutation(description="Step 4: resolve (resolution and root cause required); linked cases resolve with it.")
    async def resolve_complaint(self, info: strawberry.Info, input: Annotated[ResolveComplaintInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "resolving complaints",
                           lambda tc: service.resolve_case(tc, _pk(input.id), input.resolution, input.root_cause, input.note))

    @strawberry.mutation(description="Step 5: the follow-up visit; satisfaction 1–5, an unsatisfied customer reopens the case.")
    async def record_follow_up(self, info: strawberry.Info, input: Annotated[RecordFollowUpInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "following up complaints",
                           lambda tc: service.record_follow_up(tc, _pk(input.id), input.satisfaction, input.note, input.reopen))

    @strawberry.mutation(description="Step 6: close (needs the follow-up result).")
    async def close_complaint(self, info: strawberry.Info, input: Annotated[ComplaintStepInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "closing complaints", lambda tc: service.close_case(tc, _pk(input.id), input.note))

    @strawberry.mutation(description="Reopen a case in follow-up (the customer is not satisfied).")
    async def reopen_complaint(self, info: strawberry.Info, input: Annotated[ReopenComplaintInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "reopening complaints",
                           lambda tc: service.reopen_case(tc, _pk(input.id), input.note, input.satisfaction))

    @strawberry.mutation(description="Link a case under a parent (same problem); optionally cancel it as a duplicate.")
    async def link_complaint(self, info: strawberry.Info, input: Annotated[LinkComplaintInput, INPUT]) -> ComplaintPayload:
        return await _step(info, "linking complaints",
                           lambda tc: service.link_case(tc, _pk(input.id), _pk(input.parent_id, "parent_id"), input.cancel, input.note))
