"""The complaints module's GraphQL: the queue, one case with its timeline,
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
from api.pagination import make_page, page_size
from api.types import INPUT, Error, Node, PageInfo
from engine.enums import Role
from engine.errors import FieldError, ValidationFailed
from plugins.complaints import service
from plugins.complaints.models import ComplaintCase, ComplaintEvent
from plugins.complaints.stats import complaint_stats
from plugins.complaints.workflow import Priority, Status

ComplaintStatus = strawberry.enum(enum.Enum("ComplaintStatus", {s.name: s.value for s in Status}), name="ComplaintStatus")
ComplaintPriority = strawberry.enum(enum.Enum("ComplaintPriority", {p.name: p.value for p in Priority}), name="ComplaintPriority")


@strawberry.enum(name="ComplaintStatsGroupBy")
class ComplaintStatsGroupBy(enum.Enum):
    CATEGORY = "category"
    STATUS = "status"
    STORE = "store"
    PRIORITY = "priority"


def _gid(type_name: str, pk: int | None) -> Optional[strawberry.ID]:
    return None if pk is None else strawberry.ID(to_global_id(type_name, pk))


@strawberry.type(name="ComplaintEvent", description="A timeline entry: a transition, a customer update, an escalation or a note.")
class ComplaintEventType:
    row: strawberry.Private[ComplaintEvent]

    @strawberry.field(description="TRANSITION, UPDATE, ESCALATION or NOTE.")
    def kind(self) -> str:
        return self.row.kind

    @strawberry.field
    def from_status(self) -> Optional[ComplaintStatus]:
        return None if self.row.from_status is None else ComplaintStatus(self.row.from_status)

    @strawberry.field
    def to_status(self) -> Optional[ComplaintStatus]:
        return None if self.row.to_status is None else ComplaintStatus(self.row.to_status)

    @strawberry.field
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field
    def note(self) -> Optional[str]:
        return self.row.note

    @strawberry.field
    def data(self) -> JSON:
        return self.row.data or {}

    @strawberry.field
    def at(self) -> datetime:
        return self.row.at


def _timelines(session, tenant_id: int, ids: list[int]) -> dict[int, list[ComplaintEventType]]:
    out: dict[int, list[ComplaintEventType]] = {i: [] for i in ids}
    rows = session.execute(
        select(ComplaintEvent).where(ComplaintEvent.tenant_id == tenant_id, ComplaintEvent.case_id.in_(ids)).order_by(ComplaintEvent.id)
    ).scalars()
    for row in rows:
        out[row.case_id].append(ComplaintEventType(row=row))
    return out


@strawberry.type(name="Complaint", description="A complaint case (投诉) and where it stands in the six-step workflow.")
class ComplaintType(Node):
    row: strawberry.Private[ComplaintCase]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return _gid("Complaint", self.row.id)

    @strawberry.field
    def customer_id(self) -> strawberry.ID:
        return _gid("Customer", self.row.customer_id)

    @strawberry.field
    def parent_id(self) -> Optional[strawberry.ID]:
        return _gid("Complaint", self.row.parent_id)

    @strawberry.field(description="A category code of the tenant's settings (PRODUCT_QUALITY, SERVICE, ...).")
    def category(self) -> str:
        return self.row.category

    @strawberry.field
    def priority(self) -> ComplaintPriority:
        return ComplaintPriority(self.row.priority)

    @strawberry.field
    def status(self) -> ComplaintStatus:
        return ComplaintStatus(self.row.status)

    @strawberry.field
    def channel(self) -> Optional[str]:
        return self.row.channel

    @strawberry.field
    def store(self) -> Optional[str]:
        return self.row.store

    @strawberry.field
    def description(self) -> Optional[str]:
        return self.row.description

    @strawberry.field
    def department(self) -> Optional[str]:
        return self.row.department

    @strawberry.field
    def assignee(self) -> Optional[str]:
        return self.row.assignee

    @strawberry.field(description="The reply time promised to the customer (承诺答复时间).")
    def promised_reply_at(self) -> Optional[datetime]:
        return self.row.promised_reply_at

    @strawberry.field(description="true kept, false broken, null pending or no promise.")
    def promise_kept(self) -> Optional[bool]:
        return self.row.promise_kept

    @strawberry.field
    def resolution(self) -> Optional[str]:
        return self.row.resolution

    @strawberry.field
    def root_cause(self) -> Optional[str]:
        return self.row.root_cause

    @strawberry.field(description="The follow-up score, 1–5.")
    def satisfaction(self) -> Optional[int]:
        return self.row.satisfaction

    @strawberry.field
    def reopen_count(self) -> int:
        return self.row.reopen_count

    @strawberry.field
    def opened_at(self) -> datetime:
        return self.row.opened_at

    @strawberry.field
    def first_response_at(self) -> Optional[datetime]:
        return self.row.first_response_at

    @strawberry.field
    def resolved_at(self) -> Optional[datetime]:
        return self.row.resolved_at

    @strawberry.field
    def closed_at(self) -> Optional[datetime]:
        return self.row.closed_at

    @strawberry.field(description="Set while waiting on the customer (the resolution clock is paused).")
    def paused_since(self) -> Optional[datetime]:
        return self.row.paused_since

    @strawberry.field(description="The SLA policy that matched at opening; null when none applies.")
    def sla_policy(self) -> Optional[str]:
        return self.row.sla_policy

    @strawberry.field
    def first_response_due(self) -> Optional[datetime]:
        return self.row.first_response_due

    @strawberry.field(description="Null while paused (the due time moves with the pause) and once resolved.")
    def resolution_due(self) -> Optional[datetime]:
        return self.row.resolution_due

    @strawberry.field
    def first_response_breached(self) -> bool:
        return bool(self.row.first_response_breached)

    @strawberry.field
    def resolution_breached(self) -> bool:
        return bool(self.row.resolution_breached)

    @strawberry.field(description="0 none, 1 department head, 2 company level (公司级投诉).")
    def escalation_level(self) -> int:
        return self.row.escalation_level

    @strawberry.field(description="Every transition, update, escalation and note, oldest first.")
    async def timeline(self, info: strawberry.Info) -> list[ComplaintEventType]:
        ctx = info.context
        tenant_id = ctx.tenant_id
        return await ctx.loader("complaints.timeline", lambda s, ids: _timelines(s, tenant_id, ids)).load(self.row.id)


async def load_complaint(info: strawberry.Info, pk: int) -> Optional[ComplaintType]:
    """The caller's tenant's case ``pk`` (``complaint(id)`` and ``node(id)``)."""
    ctx = info.context
    row = await ctx.read(lambda s: s.get(ComplaintCase, pk))
    return ComplaintType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.type(name="ComplaintEdge")
class ComplaintEdge:
    cursor: str
    node: ComplaintType


@strawberry.type(name="ComplaintConnection")
class ComplaintConnection:
    edges: list[ComplaintEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input(name="ComplaintWhere", description="Queue filters; all given conditions must hold.")
class ComplaintWhere:
    status: Optional[list[ComplaintStatus]] = None
    open: Optional[bool] = strawberry.field(default=None, description="true: received/routed/in progress/waiting only.")
    category: Optional[list[str]] = None
    priority: Optional[list[ComplaintPriority]] = None
    breached: Optional[bool] = None
    escalation_level_gte: Optional[int] = None
    assignee: Optional[str] = None
    department: Optional[str] = None
    store: Optional[str] = None
    customer_id: Optional[strawberry.ID] = None


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


def _after_id(cursors, after: Optional[str]) -> Optional[int]:
    if not after:
        return None
    _, last_id = cursors.decode(after, "COMPLAINT:ID:DESC")
    if not isinstance(last_id, int):
        raise api_error("the cursor is malformed", "BAD_CURSOR")
    return last_id


def _page(rows: list, size: int, total: int, cursors) -> ComplaintConnection:
    page = make_page(rows, size, total, lambda r: cursors.encode("COMPLAINT:ID:DESC", None, r.id))
    return ComplaintConnection(
        edges=[ComplaintEdge(cursor=e.cursor, node=ComplaintType(row=e.node)) for e in page.edges],
        page_info=PageInfo(has_next_page=page.page_info.has_next_page, end_cursor=page.page_info.end_cursor),
        total_count=page.total_count,
    )


def queue_page(session, tenant_id: int, cursors, size: int, after: Optional[str], where: Optional[ComplaintWhere]) -> ComplaintConnection:
    conditions = _conditions(tenant_id, where)
    total = session.execute(select(func.count()).select_from(ComplaintCase).where(*conditions)).scalar_one()
    last_id = _after_id(cursors, after)
    query = select(ComplaintCase).where(*conditions)
    if last_id is not None:
        query = query.where(ComplaintCase.id < last_id)
    rows = session.execute(query.order_by(ComplaintCase.id.desc()).limit(size + 1)).scalars().all()
    return _page(rows, size, total, cursors)


def _customer_pages(session, tenant_id: int, cursors, size: int, after, where, customer_ids: list[int]) -> dict[int, ComplaintConnection]:
    """Each customer's page and case count in one statement (window functions per customer);
    after a cursor the page is narrower than the count, which then takes a second statement."""
    conditions = [*_conditions(tenant_id, where), ComplaintCase.customer_id.in_(customer_ids)]
    last_id = _after_id(cursors, after)
    if last_id is not None:
        conditions.append(ComplaintCase.id < last_id)
    per_customer = {"partition_by": ComplaintCase.customer_id}
    number = func.row_number().over(**per_customer, order_by=ComplaintCase.id.desc()).label("n")
    count = func.count().over(**per_customer).label("total")
    inner = select(ComplaintCase.id, number, count).where(*conditions).subquery()
    ranked = (select(ComplaintCase, inner.c.total).join(inner, inner.c.id == ComplaintCase.id)
              .where(inner.c.n <= size + 1).order_by(ComplaintCase.id.desc()))
    by_customer: dict[int, list] = {cid: [] for cid in customer_ids}
    totals: dict[int, int] = {}
    for row, total in session.execute(ranked):
        by_customer[row.customer_id].append(row)
        totals[row.customer_id] = total
    if last_id is not None:
        totals = dict(session.execute(
            select(ComplaintCase.customer_id, func.count()).where(*_conditions(tenant_id, where), ComplaintCase.customer_id.in_(customer_ids))
            .group_by(ComplaintCase.customer_id)
        ).all())
    none = _page([], size, 0, cursors)  # most customers have no case: one shared empty connection
    return {cid: _page(rows, size, totals[cid], cursors) if cid in totals else none for cid, rows in by_customer.items()}


DEFAULT_CASES = 20


def _cases_batch(ctx, size, after, where):
    tenant_id, cursors = ctx.tenant_id, ctx.cursors
    key = ("complaints.customer", size, after, repr(where))
    return key, lambda s, ids: _customer_pages(s, tenant_id, cursors, size, after, where, ids)


def complaints_batch(ctx):
    """Customer.complaints with the default arguments, for many customers at once (api/prefetch.py)."""
    return _cases_batch(ctx, DEFAULT_CASES, None, None)


@strawberry.type
class ComplaintCustomerFields:
    @strawberry.field(description="The customer's complaint cases, newest first (first ≤ 100).")
    def complaints(self, info: strawberry.Info, first: Optional[int] = DEFAULT_CASES, after: Optional[str] = None,
                   where: Optional[ComplaintWhere] = None) -> ComplaintConnection:
        ctx = info.context
        if first == DEFAULT_CASES and after is None and where is None:
            return ctx.customer_value(complaints_batch, self.id)
        return ctx.loader(*_cases_batch(ctx, page_size(first), after, where)).load(self.id)


# -- stats ---------------------------------------------------------------------------


@strawberry.type(name="ComplaintDuration", description="Business minutes, to the minute (nearest-rank percentiles).")
class ComplaintDuration:
    count: int
    median_minutes: Optional[float]
    p90_minutes: Optional[float]


@strawberry.type(name="ComplaintCount")
class ComplaintCount:
    key: Optional[str]
    count: int


@strawberry.type(name="ComplaintStatsGroup", description="The report for all cases in range (key null) or one group.")
class ComplaintStatsGroup:
    key: Optional[str]
    count: int
    first_response: ComplaintDuration
    resolution: ComplaintDuration
    sla_met: int
    sla_breached: int
    sla_compliance: Optional[float]
    promises_made: int
    promises_kept: int
    promises_broken: int
    promises_kept_rate: Optional[float]
    satisfaction_count: int
    satisfaction_average: Optional[float]
    satisfaction_distribution: list[ComplaintCount]
    resolved_ever: int
    reopened: int
    reopen_rate: Optional[float]


@strawberry.type(name="ComplaintStats", description="The complaint report over cases opened in [from, to).")
class ComplaintStatsType:
    totals: ComplaintStatsGroup
    by_category: list[ComplaintCount]
    by_status: list[ComplaintCount]
    by_store: list[ComplaintCount]
    top_root_causes: list[ComplaintCount]
    groups: list[ComplaintStatsGroup]


def _group(g) -> ComplaintStatsGroup:
    duration = lambda t: ComplaintDuration(count=t.count, median_minutes=t.median_minutes, p90_minutes=t.p90_minutes)  # noqa: E731
    return ComplaintStatsGroup(
        key=None if g.key is None else str(g.key), count=g.count, first_response=duration(g.first_response),
        resolution=duration(g.resolution), sla_met=g.sla_met, sla_breached=g.sla_breached, sla_compliance=g.sla_compliance,
        promises_made=g.promises_made, promises_kept=g.promises_kept, promises_broken=g.promises_broken,
        promises_kept_rate=g.promises_kept_rate, satisfaction_count=g.satisfaction_count,
        satisfaction_average=g.satisfaction_average,
        satisfaction_distribution=[ComplaintCount(key=str(k), count=v) for k, v in g.satisfaction_distribution.items()],
        resolved_ever=g.resolved_ever, reopened=g.reopened, reopen_rate=g.reopen_rate,
    )


def _counts(mapping) -> list[ComplaintCount]:
    return [ComplaintCount(key=None if k is None else str(k), count=int(v)) for k, v in (mapping.items() if isinstance(mapping, dict) else mapping)]


@strawberry.type
class ComplaintsQuery:
    @strawberry.field(description="The tenant's complaint queue, newest first, with filters (first ≤ 100).")
    async def complaints(self, info: strawberry.Info, first: Optional[int] = 20, after: Optional[str] = None,
                         where: Optional[ComplaintWhere] = None) -> ComplaintConnection:
        ctx = info.context
        size = page_size(first)
        return await ctx.read(lambda s: queue_page(s, ctx.tenant_id, ctx.cursors, size, after, where))

    @strawberry.field(description="One complaint (with its timeline); null when not in this tenant.")
    async def complaint(self, info: strawberry.Info, id: strawberry.ID) -> Optional[ComplaintType]:
        pk = decode_id(id, "Complaint")
        return None if pk is None else await load_complaint(info, pk)

    @strawberry.field(description="Counts, response and resolution times, SLA compliance, promises, satisfaction, reopen rate, root causes.")
    async def complaint_stats(self, info: strawberry.Info, from_: Annotated[datetime, strawberry.argument(name="from")],
                              to: datetime, group_by: Optional[ComplaintStatsGroupBy] = None) -> ComplaintStatsType:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id

        def work(session):
            try:
                return complaint_stats(gx.context(session, tenant_id), from_, to, group_by.value if group_by else None)
            except ValidationFailed as error:
                raise api_error(str(error), "INVALID") from None

        result = await ctx.read(work)
        return ComplaintStatsType(
            totals=_group(result.totals), by_category=_counts(result.by_category), by_status=_counts(result.by_status),
            by_store=_counts(result.by_store), top_root_causes=_counts(result.top_root_causes),
            groups=[_group(g) for g in result.groups],
        )


# -- mutations ---------------------------------------------------------------------


@strawberry.type(name="ComplaintPayload")
class ComplaintPayload:
    complaint: Optional[ComplaintType] = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type(name="OpenComplaintPayload")
class OpenComplaintPayload:
    complaint: Optional[ComplaintType] = None
    duplicates: list[ComplaintType] = strawberry.field(default_factory=list, description="Open cases it may duplicate: candidates for linkComplaint.")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.input(name="OpenComplaintInput")
class OpenComplaintInput:
    customer_id: strawberry.ID
    category: str
    priority: Optional[ComplaintPriority] = None
    channel: Optional[str] = None
    store: Optional[str] = None
    description: Optional[str] = None
    department: Optional[str] = None
    assignee: Optional[str] = None
    promised_reply_at: Optional[datetime] = None
    opened_at: Optional[datetime] = None
    note: Optional[str] = None


@strawberry.input(name="RouteComplaintInput")
class RouteComplaintInput:
    id: strawberry.ID
    department: Optional[str] = None
    assignee: Optional[str] = None
    note: Optional[str] = None


@strawberry.input(name="AddComplaintUpdateInput")
class AddComplaintUpdateInput:
    id: strawberry.ID
    note: str
    promised_reply_at: Optional[datetime] = None


@strawberry.input(name="ResolveComplaintInput")
class ResolveComplaintInput:
    id: strawberry.ID
    resolution: str
    root_cause: str
    note: Optional[str] = None


@strawberry.input(name="RecordFollowUpInput")
class RecordFollowUpInput:
    id: strawberry.ID
    satisfaction: int
    note: Optional[str] = None
    reopen: Optional[bool] = strawberry.field(default=None, description="Default: reopen when satisfaction ≤ the tenant's reopen_at_or_below.")


@strawberry.input(name="ComplaintStepInput")
class ComplaintStepInput:
    id: strawberry.ID
    note: Optional[str] = None


@strawberry.input(name="ReopenComplaintInput")
class ReopenComplaintInput:
    id: strawberry.ID
    note: Optional[str] = None
    satisfaction: Optional[int] = None


@strawberry.input(name="LinkComplaintInput")
class LinkComplaintInput:
    id: strawberry.ID
    parent_id: strawberry.ID
    cancel: bool = strawberry.field(default=False, description="Cancel this case as a duplicate of the parent.")
    note: Optional[str] = None


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


@strawberry.type
class ComplaintsMutation:
    @strawberry.mutation(description="Step 1: receive a complaint; suggests open duplicates.")
    async def open_complaint(self, info: strawberry.Info, input: Annotated[OpenComplaintInput, INPUT]) -> OpenComplaintPayload:
        ctx = info.context
        ctx.require(Role.AGENT, "opening complaints")

        def work(tc):
            data = {k: getattr(input, k) for k in ("category", "channel", "store", "description", "department", "assignee",
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
