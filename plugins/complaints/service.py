"""Complaint cases: the six-step workflow as services (DOMAIN.md §6).

Every service takes a ``TenantContext`` and works in its transaction. Each
validates everything first and only then changes the case, so an expected
failure (``ValidationFailed`` / ``NotFound`` naming the field) leaves the
case exactly as it was even when the caller catches the error and commits.
Every status change goes through ``workflow.check_transition`` and writes a
timeline entry (who, when, note).

``now`` parameters exist for tests and back-filled data; they default to
the current time.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import or_, select

from engine import input_bounds
from engine.bulk import insert_rows
from engine.context import TenantContext
from engine.enums import Channel
from engine.errors import FieldError, ValidationFailed, not_found
from engine.models import Customer
from engine.types import utcnow
from engine.services import audit
from plugins.complaints.business_hours import add_business_minutes, business_minutes_between, business_table
from plugins.complaints.hookspecs import ComplaintStatusChange
from plugins.complaints.models import ComplaintCase, ComplaintEvent
from plugins.complaints.settings import BusinessCalendar, ComplaintsSettings
from plugins.complaints.workflow import (
    OPEN_STATUSES,
    IllegalTransition,
    Priority,
    Status,
    TransitionRequirementError,
    check_transition,
)

MODULE = "complaints"
TEXT_LIMIT = 4000
SHORT_LIMIT = 64
# Opening times may be back-dated (a complaint taken on paper) but not future-dated.
MAX_CLOCK_SKEW = timedelta(minutes=5)
OPEN_STATUS_VALUES = tuple(s.value for s in OPEN_STATUSES)

__all__ = [
    "OpenResult",
    "open_case",
    "open_cases_from_interactions",
    "get_case",
    "timeline",
    "duplicate_suggestions",
    "route_case",
    "add_update",
    "add_note",
    "promise_reply",
    "wait_on_customer",
    "resume_case",
    "resolve_case",
    "start_follow_up",
    "record_follow_up",
    "close_case",
    "reopen_case",
    "link_case",
    "erase_customer_cases",
]


@dataclass
class OpenResult:
    case: ComplaintCase
    # Open cases of the same category from the same customer or store within
    # the tenant's duplicate window, newest first: candidates to link.
    duplicates: list[ComplaintCase] = field(default_factory=list)


# -- small helpers -------------------------------------------------------------


def _settings(ctx: TenantContext) -> ComplaintsSettings:
    return ctx.module_settings(MODULE)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc)


def _text(value: Any, name: str, errors: list[FieldError], limit: int = SHORT_LIMIT, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(FieldError(name, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(name, "must be a string"))
        return None
    text = value.strip()
    if len(text) > limit:
        errors.append(FieldError(name, f"must be at most {limit} characters"))
        return None
    problem = input_bounds.text_problem(text)  # PostgreSQL stores no NUL: refused on both databases
    if problem:
        errors.append(FieldError(name, problem))
        return None
    return text


def _time(value: Any, name: str, errors: list[FieldError], tz: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            errors.append(FieldError(name, f"{value!r} is not an ISO 8601 date-time"))
            return None
    if not isinstance(value, datetime):
        errors.append(FieldError(name, "must be an ISO 8601 date-time"))
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)  # no offset: the tenant's local time
    problem = input_bounds.time_problem(value)  # 0001-01-01, or past the last instant in UTC
    if problem:
        errors.append(FieldError(name, problem))
        return None
    return value.astimezone(timezone.utc)


def _future_promise(value: Any, errors: list[FieldError], tz: ZoneInfo, now: datetime) -> datetime | None:
    promised = _time(value, "promised_reply_at", errors, tz)
    if promised is not None and promised <= now:
        errors.append(FieldError("promised_reply_at", f"{promised.isoformat()} is in the past; promise a future reply time"))
        return None
    return promised


def _category(value: Any, settings: ComplaintsSettings, errors: list[FieldError], name: str = "category") -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append(FieldError(name, "is required"))
        return None
    code = str(value).strip().upper()
    if settings.category(code) is None:
        known = ", ".join(c.code for c in settings.categories)
        errors.append(FieldError(name, f"unknown category {value!r}; known: {known}"))
        return None
    return code


def _priority(value: Any, errors: list[FieldError], name: str = "priority") -> str | None:
    if value is None or value == "":
        return Priority.NORMAL.value
    try:
        return Priority(str(value).strip()).value
    except ValueError:
        errors.append(FieldError(name, f"unknown priority {value!r}; known: {', '.join(p.name for p in Priority)}"))
        return None


def _channel(value: Any, errors: list[FieldError], name: str = "channel") -> str | None:
    if value is None or value == "":
        return None
    try:
        return Channel.parse(value).code
    except ValueError as error:
        errors.append(FieldError(name, str(error)))
        return None


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def _check(current: str, target: Status, **facts: Any) -> Status:
    """workflow.check_transition with its errors turned into field errors."""
    try:
        return check_transition(current, target, **facts)
    except IllegalTransition as error:
        raise ValidationFailed([FieldError("status", str(error), "ILLEGAL_TRANSITION")]) from None
    except TransitionRequirementError as error:
        raise ValidationFailed([FieldError(error.field, str(error).split(": ", 1)[-1], "REQUIRED")]) from None


def _calendar(settings: ComplaintsSettings, case: ComplaintCase) -> BusinessCalendar | None:
    # A calendar the tenant has since removed counts 24/7.
    return settings.calendars.get(case.sla_calendar) if case.sla_calendar else None


def _business(settings: ComplaintsSettings, case: ComplaintCase, start: datetime, end: datetime) -> float:
    return max(0.0, business_minutes_between(_calendar(settings, case), start, end))


def _refresh_due(settings: ComplaintsSettings, case: ComplaintCase) -> None:
    """Due times from the case's targets, opening time and pauses."""
    if case.sla_policy is None:
        return
    calendar = _calendar(settings, case)
    case.first_response_due = add_business_minutes(calendar, case.opened_at, case.first_response_target)
    case.resolution_due = (
        None
        if case.paused_since is not None or case.resolved_at is not None
        else add_business_minutes(calendar, case.opened_at, case.resolution_target + case.paused_minutes)
    )


def _event(ctx: TenantContext, case: ComplaintCase, kind: str, at: datetime, note: str | None = None,
           from_status: str | None = None, to_status: str | None = None, data: dict | None = None) -> ComplaintEvent:
    event = ComplaintEvent(
        tenant_id=ctx.tenant_id, case_id=case.id, kind=kind, from_status=from_status, to_status=to_status,
        actor=ctx.actor, note=note, data=data or {}, at=at,
    )
    ctx.session.add(event)
    return event


# Set by batch.work_cases: status changes collect here and their hooks run once the batch
# is written (a hook's query would otherwise flush the session at every step).
deferred_changes: ContextVar[list | None] = ContextVar("complaints_deferred_changes", default=None)


def _move(ctx: TenantContext, case: ComplaintCase, target: Status, at: datetime, note: str | None, data: dict | None = None) -> None:
    """Apply an already checked transition and record it on the timeline."""
    previous = case.status
    case.status = target.value
    case.updated_at = at
    ctx.session.add(case)
    _event(ctx, case, "TRANSITION", at, note, previous, target.value, data)
    collected = deferred_changes.get()
    hook = collected.append if collected is not None else (
        lambda change: ctx.hooks.guanxi_complaint_status_changed(ctx=ctx, change=change))
    hook(ComplaintStatusChange(
        case_id=case.id, customer_id=case.customer_id, from_status=previous, to_status=target.value,
        category=case.category, store=case.store, assignee=case.assignee, satisfaction=case.satisfaction, at=at,
    ))


def _first_response(settings: ComplaintsSettings, case: ComplaintCase, at: datetime) -> None:
    if case.first_response_at is not None:
        return
    case.first_response_at = at
    case.first_response_minutes = _business(settings, case, case.opened_at, at)
    case.first_response_minute = int(case.first_response_minutes // 1)
    if case.sla_policy is not None:
        case.first_response_breached = case.first_response_breached or case.first_response_minutes > case.first_response_target


def _fulfil_promise(case: ComplaintCase, at: datetime) -> None:
    """A customer update or the resolution answers a pending promise."""
    if case.promised_reply_at is None or case.promise_fulfilled_at is not None:
        return
    if case.promise_made_at is not None and at < case.promise_made_at:
        return
    case.promise_fulfilled_at = at
    case.promise_kept = at <= case.promised_reply_at


def _end_pause(settings: ComplaintsSettings, case: ComplaintCase, at: datetime) -> float:
    if case.paused_since is None:
        return 0.0
    paused = _business(settings, case, case.paused_since, at)
    case.paused_minutes = (case.paused_minutes or 0.0) + paused
    case.paused_since = None
    return paused


def get_case(ctx: TenantContext, case_id: Any, field_name: str = "id") -> ComplaintCase:
    """The tenant's case, locked for update on PostgreSQL; NotFound naming the field."""
    try:
        key = int(case_id)
    except (TypeError, ValueError):
        raise ValidationFailed([FieldError(field_name, f"{case_id!r} is not a case id")]) from None
    case = ctx.session.execute(
        select(ComplaintCase).where(ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.id == key).with_for_update()
    ).scalar_one_or_none()
    if case is None:
        raise not_found(field_name, f"no complaint {key} in this tenant")
    return case


def timeline(ctx: TenantContext, case_id: int) -> list[ComplaintEvent]:
    get_case(ctx, case_id)
    return list(
        ctx.session.execute(
            select(ComplaintEvent)
            .where(ComplaintEvent.tenant_id == ctx.tenant_id, ComplaintEvent.case_id == int(case_id))
            .order_by(ComplaintEvent.id)
        ).scalars()
    )


# -- opening -------------------------------------------------------------------


def _case_rows(ctx: TenantContext, settings: ComplaintsSettings, specs: Sequence[dict], now: datetime) -> list[dict]:
    """Full column dicts for new cases; SLA policy matched and due times computed per calendar, vectorised."""
    policies: dict[tuple, Any] = {}
    rows = []
    for spec in specs:
        key = (spec["category"], spec["priority"], spec.get("channel"))
        if key not in policies:
            policies[key] = settings.policy_for(*key)
        policy = policies[key]
        rows.append({
            "tenant_id": ctx.tenant_id, "customer_id": spec["customer_id"], "interaction_id": spec.get("interaction_id"),
            "parent_id": None, "category": spec["category"], "priority": spec["priority"], "channel": spec.get("channel"),
            "store": spec.get("store"), "description": spec.get("description"), "department": spec.get("department"),
            "assignee": spec.get("assignee"), "status": Status.RECEIVED.value,
            "promised_reply_at": spec.get("promised_reply_at"),
            "promise_made_at": now if spec.get("promised_reply_at") else None,
            "promise_fulfilled_at": None, "promise_kept": None, "resolution": None, "root_cause": None,
            "satisfaction": None, "reopen_count": 0, "opened_at": spec["opened_at"], "first_response_at": None,
            "resolved_at": None, "closed_at": None, "paused_since": None, "paused_minutes": 0.0,
            "sla_policy": policy.name if policy else None, "sla_calendar": policy.calendar if policy else None,
            "first_response_target": policy.first_response_minutes if policy else None,
            "resolution_target": policy.resolution_minutes if policy else None,
            "first_response_due": None, "resolution_due": None, "first_response_minutes": None,
            "resolution_minutes": None, "first_response_breached": False, "resolution_breached": False,
            "escalation_level": 0, "escalated_at": None, "created_by": ctx.actor, "updated_at": now,
        })
    # Due times: one vectorised pass per calendar.
    by_calendar: dict[str | None, list[int]] = {}
    for index, row in enumerate(rows):
        if row["sla_policy"] is not None:
            by_calendar.setdefault(row["sla_calendar"], []).append(index)
    for name, indexes in by_calendar.items():
        opened = np.array([rows[i]["opened_at"].timestamp() for i in indexes])
        first = np.array([rows[i]["first_response_target"] for i in indexes], dtype=np.float64)
        resolution = np.array([rows[i]["resolution_target"] for i in indexes], dtype=np.float64)
        calendar = settings.calendars.get(name) if name else None
        if calendar is None:
            first_due, resolution_due = opened + first * 60, opened + resolution * 60
        else:
            table = business_table(calendar, float(opened.min()), float(opened.max()))
            first_due, resolution_due = table.add_minutes(opened, first), table.add_minutes(opened, resolution)
        for i, f, r in zip(indexes, first_due.tolist(), resolution_due.tolist()):
            rows[i]["first_response_due"] = datetime.fromtimestamp(round(f, 6), timezone.utc)
            rows[i]["resolution_due"] = datetime.fromtimestamp(round(r, 6), timezone.utc)
    return rows


def _insert_cases(ctx: TenantContext, rows: list[dict], now: datetime, note: str, received_at_opening: bool = False) -> list[int]:
    """The cases and their RECEIVED timeline entries, at ``now`` (when the case was entered) or,
    with ``received_at_opening``, at each case's opening time (the complaint itself was recorded:
    a back-filled one must not be received after the steps that worked it)."""
    ctx.session.flush()
    ids = insert_rows(ctx.session, ComplaintCase.__table__, rows)
    events = [
        {"tenant_id": ctx.tenant_id, "case_id": case_id, "kind": "TRANSITION", "from_status": None,
         "to_status": Status.RECEIVED.value, "actor": ctx.actor, "note": note,
         "data": {"interaction_id": row["interaction_id"]} if row["interaction_id"] else {},
         "at": row["opened_at"] if received_at_opening else now}
        for case_id, row in zip(ids, rows)
    ]
    insert_rows(ctx.session, ComplaintEvent.__table__, events)
    return ids


@audit.audited("complaints.open_case", "ComplaintCase")
def open_case(ctx: TenantContext, data: dict[str, Any], now: datetime | None = None) -> OpenResult:
    """Step 1, receive: open a case from a mutation's input.

    Keys: customer_id (required), category (required, a tenant category
    code), priority (low/normal/high/urgent, default normal), channel,
    store, description, department, assignee, promised_reply_at (future),
    opened_at (default now; may be back-dated, not future-dated), note.
    Returns the case and the open cases it may duplicate.
    """
    now = _now(now)
    settings = _settings(ctx)
    tz = ZoneInfo(ctx.tenant.timezone)
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("", "input must be an object")])
    allowed = {"customer_id", "category", "priority", "channel", "store", "description", "department",
               "assignee", "promised_reply_at", "opened_at", "note"}
    for key in sorted(set(data) - allowed):
        errors.append(FieldError(key, "unknown field"))
    customer_id = data.get("customer_id")
    if customer_id is None:
        errors.append(FieldError("customer_id", "is required"))
    else:
        try:
            customer_id = int(customer_id)
        except (TypeError, ValueError):
            errors.append(FieldError("customer_id", f"{customer_id!r} is not a customer id"))
            customer_id = None
    spec = {
        "customer_id": customer_id,
        "category": _category(data.get("category"), settings, errors),
        "priority": _priority(data.get("priority"), errors),
        "channel": _channel(data.get("channel"), errors),
        "store": _text(data.get("store"), "store", errors),
        "description": _text(data.get("description"), "description", errors, TEXT_LIMIT),
        "department": _text(data.get("department"), "department", errors),
        "assignee": _text(data.get("assignee"), "assignee", errors),
        "promised_reply_at": _future_promise(data.get("promised_reply_at"), errors, tz, now),
        "opened_at": _time(data.get("opened_at"), "opened_at", errors, tz) or now,
    }
    note = _text(data.get("note"), "note", errors, TEXT_LIMIT)
    if spec["opened_at"] > now + MAX_CLOCK_SKEW:
        errors.append(FieldError("opened_at", f"{spec['opened_at'].isoformat()} is in the future"))
    if customer_id is not None:
        exists = ctx.session.execute(
            select(Customer.id).where(Customer.tenant_id == ctx.tenant_id, Customer.id == customer_id, Customer.deleted_at.is_(None))
        ).scalar_one_or_none()
        if exists is None:
            errors.append(FieldError("customer_id", f"no customer {customer_id} in this tenant", "NOT_FOUND"))
    _raise(errors)
    rows = _case_rows(ctx, settings, [spec], now)
    [case_id] = _insert_cases(ctx, rows, now, note or "complaint received")
    case = ctx.session.get(ComplaintCase, case_id)
    return OpenResult(case=case, duplicates=duplicate_suggestions(ctx, case, settings=settings))


def duplicate_suggestions(ctx: TenantContext, case: ComplaintCase, settings: ComplaintsSettings | None = None) -> list[ComplaintCase]:
    """Open cases of the same category from the same customer or the same store,
    opened within ``duplicate_window_hours`` of this one (either side)."""
    settings = settings or _settings(ctx)
    window = timedelta(hours=settings.duplicate_window_hours)
    same = [ComplaintCase.customer_id == case.customer_id]
    if case.store:
        same.append(ComplaintCase.store == case.store)
    return list(
        ctx.session.execute(
            select(ComplaintCase)
            .where(
                ComplaintCase.tenant_id == ctx.tenant_id,
                ComplaintCase.category == case.category,
                ComplaintCase.opened_at >= case.opened_at - window,
                ComplaintCase.opened_at <= case.opened_at + window,
                ComplaintCase.status.in_(OPEN_STATUS_VALUES),
                ComplaintCase.id != case.id,
                or_(*same),
            )
            .order_by(ComplaintCase.opened_at.desc(), ComplaintCase.id.desc())
            .limit(20)
        ).scalars()
    )


def _payload_spec(payload: dict, occurred_at: datetime, settings: ComplaintsSettings, tz: ZoneInfo,
                  errors: list[FieldError]) -> dict:
    """The case fields a COMPLAINT interaction's payload gives, checked."""
    spec = {
        "category": _category(payload.get("category") or "OTHER", settings, errors, "payload.category"),
        "priority": _priority(payload.get("priority"), errors, "payload.priority"),
        "description": _text(payload.get("description"), "payload.description", errors, TEXT_LIMIT),
        "department": _text(payload.get("department"), "payload.department", errors),
        "assignee": _text(payload.get("assignee"), "payload.assignee", errors),
        "promised_reply_at": _time(payload.get("promised_reply_at"), "payload.promised_reply_at", errors, tz),
        "opened_at": occurred_at,
    }
    if spec["promised_reply_at"] is not None and spec["promised_reply_at"] <= occurred_at:
        errors.append(FieldError("payload.promised_reply_at", "must be after the complaint was made"))
    return spec


def complaint_item_errors(ctx: TenantContext, items: Sequence[dict]) -> dict[int, list[FieldError]]:
    """Per item about to be recorded, what would stop its case from opening
    (the ``guanxi_validate_interactions`` hook): a complaint with a bad
    category is refused on its own, the rest of the batch is stored."""
    settings = _settings(ctx)
    if not settings.auto_open_from_interaction:
        return {}
    tz = ZoneInfo(ctx.tenant.timezone)
    refused = {}
    for position, item in enumerate(items):
        payload = item.get("payload") or {}
        if item.get("kind") != "COMPLAINT" or payload.get("case_id"):
            continue
        errors: list[FieldError] = []
        _payload_spec(payload, item["occurred_at"], settings, tz, errors)
        if errors:
            refused[position] = errors
    return refused


def open_cases_from_interactions(ctx: TenantContext, interactions: Sequence[Any], now: datetime | None = None) -> list[int]:
    """Open one case per COMPLAINT interaction, set-based (the hook's path).

    The payload may carry category (default OTHER), priority, description,
    department, assignee and promised_reply_at; channel and store come from
    the interaction, the opening time is when it occurred. A payload with a
    ``case_id`` is about an existing case and opens nothing. An unknown
    category or priority raises ValidationFailed naming ``payload.category``
    (the recording is refused rather than filed under the wrong category).
    """
    complaints = [i for i in interactions if i.kind == "COMPLAINT" and not (i.payload or {}).get("case_id")]
    if not complaints:
        return []
    settings = _settings(ctx)
    if not settings.auto_open_from_interaction:
        return []
    now = _now(now)
    tz = ZoneInfo(ctx.tenant.timezone)
    specs, errors = [], []
    for interaction in complaints:
        item_errors: list[FieldError] = []
        spec = {
            "customer_id": interaction.customer_id,
            "interaction_id": interaction.id,
            "channel": interaction.channel,
            "store": interaction.store,
            **_payload_spec(interaction.payload or {}, interaction.occurred_at, settings, tz, item_errors),
        }
        errors.extend(item_errors)
        specs.append(spec)
    _raise(errors)
    rows = _case_rows(ctx, settings, specs, now)
    return _insert_cases(ctx, rows, now, "complaint received (from a recorded interaction)", received_at_opening=True)


# -- steps 2–6 -------------------------------------------------------------------


@audit.audited("complaints.route_case", "ComplaintCase")
def route_case(ctx: TenantContext, case_id: int, department: str | None = None, assignee: str | None = None,
               note: str | None = None, now: datetime | None = None) -> ComplaintCase:
    """Step 2, classify and route to a department and/or an agent.

    From RECEIVED this is the ROUTED transition; on a case already being
    worked it re-assigns (a timeline note, no status change).
    """
    now = _now(now)
    case = get_case(ctx, case_id)
    _route(ctx, case, department, assignee, note, now)
    ctx.session.flush()
    return case


def _route(ctx: TenantContext, case: ComplaintCase, department: str | None, assignee: str | None, note: str | None, now: datetime) -> None:
    errors: list[FieldError] = []
    department = _text(department, "department", errors)
    assignee = _text(assignee, "assignee", errors)
    note = _text(note, "note", errors, TEXT_LIMIT)
    if not errors and department is None and assignee is None:
        errors.append(FieldError("department", "route to a department, an agent (assignee) or both"))
    _raise(errors)
    reassign = Status(case.status) in (Status.ROUTED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)
    if not reassign:
        _check(case.status, Status.ROUTED)
    data = {"department": department or case.department, "assignee": assignee or case.assignee}
    case.department = department or case.department
    case.assignee = assignee or case.assignee
    if reassign:
        case.updated_at = now
        ctx.session.add(case)
        _event(ctx, case, "NOTE", now, note or "re-assigned", data=data)
    else:
        _move(ctx, case, Status.ROUTED, now, note, data)


@audit.audited("complaints.add_update", "ComplaintCase")
def add_update(ctx: TenantContext, case_id: int, note: str, promised_reply_at: Any = None,
               now: datetime | None = None) -> ComplaintCase:
    """Step 3, keep the customer informed: a progress update sent to the customer.

    Counts as the first response; answers a pending promise; may carry a
    new promised reply time. On a ROUTED case it starts the work
    (ROUTED → IN_PROGRESS).
    """
    now = _now(now)
    case = get_case(ctx, case_id)
    _update(ctx, case, note, promised_reply_at, now)
    ctx.session.flush()
    return case


def _update(ctx: TenantContext, case: ComplaintCase, note: str, promised_reply_at: Any, now: datetime) -> None:
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT, required=True)
    promised = _future_promise(promised_reply_at, errors, ZoneInfo(ctx.tenant.timezone), now)
    status = Status(case.status)
    if status not in OPEN_STATUSES:
        errors.append(FieldError("status", f"a {status.name} complaint takes no progress updates; reopen it first", "ILLEGAL_TRANSITION"))
    _raise(errors)
    settings = _settings(ctx)
    if status is Status.ROUTED:
        _check(case.status, Status.IN_PROGRESS)
    _first_response(settings, case, now)
    _fulfil_promise(case, now)
    if promised is not None:
        case.promised_reply_at, case.promise_made_at = promised, now
        case.promise_fulfilled_at, case.promise_kept = None, None
    data = {"promised_reply_at": promised.isoformat()} if promised else None
    case.updated_at = now
    ctx.session.add(case)
    _event(ctx, case, "UPDATE", now, note, data=data)
    if status is Status.ROUTED:
        _move(ctx, case, Status.IN_PROGRESS, now, "work started")


@audit.audited("complaints.add_note", "ComplaintCase")
def add_note(ctx: TenantContext, case_id: int, note: str, now: datetime | None = None) -> ComplaintEvent:
    """An internal note on the timeline (not a customer update)."""
    now = _now(now)
    case = get_case(ctx, case_id)
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT, required=True)
    _raise(errors)
    event = _event(ctx, case, "NOTE", now, note)
    ctx.session.flush()
    return event


@audit.audited("complaints.promise_reply", "ComplaintCase")
def promise_reply(ctx: TenantContext, case_id: int, promised_reply_at: Any, note: str | None = None,
                  now: datetime | None = None) -> ComplaintCase:
    """Record a reply time promised to the customer (承诺答复时间); must be in the future."""
    now = _now(now)
    case = get_case(ctx, case_id)
    errors: list[FieldError] = []
    if promised_reply_at is None:
        errors.append(FieldError("promised_reply_at", "is required"))
    promised = _future_promise(promised_reply_at, errors, ZoneInfo(ctx.tenant.timezone), now)
    note = _text(note, "note", errors, TEXT_LIMIT)
    if Status(case.status) not in OPEN_STATUSES:
        errors.append(FieldError("status", f"a {case.status} complaint owes no reply", "ILLEGAL_TRANSITION"))
    _raise(errors)
    case.promised_reply_at, case.promise_made_at = promised, now
    case.promise_fulfilled_at, case.promise_kept = None, None
    case.updated_at = now
    ctx.session.add(case)
    _event(ctx, case, "NOTE", now, note or "reply time promised", data={"promised_reply_at": promised.isoformat()})
    ctx.session.flush()
    return case


@audit.audited("complaints.wait_on_customer", "ComplaintCase")
def wait_on_customer(ctx: TenantContext, case_id: int, note: str | None = None, now: datetime | None = None) -> ComplaintCase:
    """IN_PROGRESS → WAITING_ON_CUSTOMER: the resolution clock pauses."""
    now = _now(now)
    case = get_case(ctx, case_id)
    _wait(ctx, case, note, now)
    ctx.session.flush()
    return case


def _wait(ctx: TenantContext, case: ComplaintCase, note: str | None, now: datetime) -> None:
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    _check(case.status, Status.WAITING_ON_CUSTOMER)
    settings = _settings(ctx)
    _first_response(settings, case, now)  # waiting on the customer means we talked to them
    case.paused_since = now
    _refresh_due(settings, case)
    _move(ctx, case, Status.WAITING_ON_CUSTOMER, now, note)


@audit.audited("complaints.resume_case", "ComplaintCase")
def resume_case(ctx: TenantContext, case_id: int, note: str | None = None, now: datetime | None = None) -> ComplaintCase:
    """WAITING_ON_CUSTOMER → IN_PROGRESS: the paused business minutes push the resolution due time out."""
    now = _now(now)
    case = get_case(ctx, case_id)
    _resume(ctx, case, note, now)
    ctx.session.flush()
    return case


def _resume(ctx: TenantContext, case: ComplaintCase, note: str | None, now: datetime) -> None:
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    _check(case.status, Status.IN_PROGRESS)
    settings = _settings(ctx)
    paused = _end_pause(settings, case, now)
    _refresh_due(settings, case)
    _move(ctx, case, Status.IN_PROGRESS, now, note, {"paused_minutes": round(paused, 3)})


@audit.audited("complaints.resolve_case", "ComplaintCase")
def resolve_case(ctx: TenantContext, case_id: int, resolution: str, root_cause: str, note: str | None = None,
                 now: datetime | None = None, _parent: int | None = None) -> ComplaintCase:
    """Step 4, resolve (resolution and root-cause category required).

    From RECEIVED this is "solved on the spot". Open cases linked under this
    one are resolved with it (a ROUTED child is started first, since the
    workflow does not jump ROUTED → RESOLVED).
    """
    now = _now(now)
    case = get_case(ctx, case_id)
    _resolve(ctx, case, resolution, root_cause, note, now, _parent)
    ctx.session.flush()
    children = ctx.session.execute(
        select(ComplaintCase.id).where(
            ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.parent_id == case.id,
            ComplaintCase.status.in_(OPEN_STATUS_VALUES),
        ).order_by(ComplaintCase.id)
    ).scalars().all()
    for child_id in children:
        resolve_case(ctx, child_id, resolution, root_cause, None, now, _parent=case.id)
    return case


def _resolve(ctx: TenantContext, case: ComplaintCase, resolution: str, root_cause: str, note: str | None,
             now: datetime, _parent: int | None = None) -> None:
    errors: list[FieldError] = []
    resolution = _text(resolution, "resolution", errors, TEXT_LIMIT)
    root_cause = _text(root_cause, "root_cause", errors)
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    current = Status(case.status)
    if _parent is not None and current is Status.ROUTED:
        _check(case.status, Status.IN_PROGRESS)
    else:
        _check(case.status, Status.RESOLVED, resolution=resolution, root_cause=root_cause)
    settings = _settings(ctx)
    if _parent is not None and current is Status.ROUTED:
        _move(ctx, case, Status.IN_PROGRESS, now, f"started to resolve with parent #{_parent}")
    _end_pause(settings, case, now)
    _first_response(settings, case, now)
    _fulfil_promise(case, now)
    case.resolution, case.root_cause, case.resolved_at = resolution, root_cause, now
    case.resolution_minutes = max(0.0, _business(settings, case, case.opened_at, now) - (case.paused_minutes or 0.0))
    case.resolution_minute = int(case.resolution_minutes // 1)
    if case.sla_policy is not None:
        case.resolution_breached = case.resolution_breached or case.resolution_minutes > case.resolution_target
    _refresh_due(settings, case)
    data = {"root_cause": root_cause, "parent_id": _parent} if _parent else {"root_cause": root_cause}
    _move(ctx, case, Status.RESOLVED, now, note or (f"resolved with parent #{_parent}" if _parent else None), data)


@audit.audited("complaints.start_follow_up", "ComplaintCase")
def start_follow_up(ctx: TenantContext, case_id: int, note: str | None = None, now: datetime | None = None) -> ComplaintCase:
    """Step 5 begins: RESOLVED → FOLLOW_UP (the visit or call to confirm)."""
    now = _now(now)
    case = get_case(ctx, case_id)
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    _check(case.status, Status.FOLLOW_UP)
    _move(ctx, case, Status.FOLLOW_UP, now, note)
    ctx.session.flush()
    return case


def _satisfaction(value: Any, errors: list[FieldError]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        errors.append(FieldError("satisfaction", f"must be an integer from 1 to 5, got {value!r}"))
        return None
    return value


@audit.audited("complaints.record_follow_up", "ComplaintCase")
def record_follow_up(ctx: TenantContext, case_id: int, satisfaction: int, note: str | None = None,
                     reopen: bool | None = None, now: datetime | None = None) -> ComplaintCase:
    """Step 5, follow-up: record the customer's satisfaction (1–5).

    A RESOLVED case moves to FOLLOW_UP first. An unsatisfied customer
    (``reopen=True``, or by default a score at or below the tenant's
    ``reopen_at_or_below``) reopens the case (FOLLOW_UP → IN_PROGRESS).
    """
    now = _now(now)
    case = get_case(ctx, case_id)
    reopen = _follow_up(ctx, case, satisfaction, note, reopen, now)
    ctx.session.flush()
    if reopen:
        return reopen_case(ctx, case.id, note="customer not satisfied", satisfaction=case.satisfaction, now=now)
    return case


def _follow_up(ctx: TenantContext, case: ComplaintCase, satisfaction: int, note: str | None, reopen: bool | None,
               now: datetime) -> bool:
    """The follow-up recorded; True when the customer is unsatisfied and the case must reopen."""
    errors: list[FieldError] = []
    score = _satisfaction(satisfaction, errors)
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    settings = _settings(ctx)
    if Status(case.status) is not Status.FOLLOW_UP:
        _check(case.status, Status.FOLLOW_UP)
    if reopen is None:
        reopen = score <= settings.reopen_at_or_below
    if Status(case.status) is Status.RESOLVED:
        _move(ctx, case, Status.FOLLOW_UP, now, None)
    case.satisfaction = score
    case.updated_at = now
    ctx.session.add(case)
    _event(ctx, case, "UPDATE", now, note, data={"satisfaction": score})
    return bool(reopen)


@audit.audited("complaints.close_case", "ComplaintCase")
def close_case(ctx: TenantContext, case_id: int, note: str | None = None, now: datetime | None = None) -> ComplaintCase:
    """Step 6, archive: FOLLOW_UP → CLOSED; needs the follow-up result (satisfaction)."""
    now = _now(now)
    case = get_case(ctx, case_id)
    _close(ctx, case, note, now)
    ctx.session.flush()
    return case


def _close(ctx: TenantContext, case: ComplaintCase, note: str | None, now: datetime) -> None:
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    _check(case.status, Status.CLOSED, satisfaction=case.satisfaction)
    case.closed_at = now
    _move(ctx, case, Status.CLOSED, now, note)


@audit.audited("complaints.reopen_case", "ComplaintCase")
def reopen_case(ctx: TenantContext, case_id: int, note: str | None = None, satisfaction: int | None = None,
                now: datetime | None = None) -> ComplaintCase:
    """FOLLOW_UP → IN_PROGRESS: the customer is not satisfied.

    The span the case sat resolved counts as a pause, so resolution time
    counts only the time the case was really open.
    """
    now = _now(now)
    case = get_case(ctx, case_id)
    _reopen(ctx, case, note, satisfaction, now)
    ctx.session.flush()
    return case


def _reopen(ctx: TenantContext, case: ComplaintCase, note: str | None, satisfaction: int | None, now: datetime) -> None:
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT)
    if satisfaction is not None:
        _satisfaction(satisfaction, errors)
    _raise(errors)
    _check(case.status, Status.IN_PROGRESS, satisfaction=satisfaction)
    settings = _settings(ctx)
    if case.resolved_at is not None:
        case.paused_minutes = (case.paused_minutes or 0.0) + _business(settings, case, case.resolved_at, now)
    if satisfaction is not None:
        case.satisfaction = satisfaction
    case.resolved_at, case.resolution_minutes, case.resolution_minute = None, None, None
    case.reopen_count = (case.reopen_count or 0) + 1
    _refresh_due(settings, case)
    _move(ctx, case, Status.IN_PROGRESS, now, note or "reopened", {"reopen_count": case.reopen_count})


@audit.audited("complaints.link_case", "ComplaintCase")
def link_case(ctx: TenantContext, case_id: int, parent_id: int, cancel: bool = False, note: str | None = None,
              now: datetime | None = None) -> ComplaintCase:
    """Link a case under a parent (the same problem reported again, e.g. from
    another branch). Linked open cases are resolved with the parent;
    ``cancel=True`` closes the duplicate at once (→ CANCELLED).

    Refused: linking a case to itself, to an unknown or cancelled parent, or
    into a cycle.
    """
    now = _now(now)
    errors: list[FieldError] = []
    note = _text(note, "note", errors, TEXT_LIMIT)
    _raise(errors)
    case = get_case(ctx, case_id)
    try:
        parent_key = int(parent_id)
    except (TypeError, ValueError):
        raise ValidationFailed([FieldError("parent_id", f"{parent_id!r} is not a case id")]) from None
    if parent_key == case.id:
        raise ValidationFailed([FieldError("parent_id", "a complaint cannot be linked to itself")])
    parent = get_case(ctx, parent_key, "parent_id")
    if parent.status == Status.CANCELLED.value:
        raise ValidationFailed([FieldError("parent_id", f"complaint {parent.id} is cancelled; link to the case it duplicates")])
    # Walk up from the parent: meeting this case means a cycle.
    seen, ancestor = {parent.id}, parent.parent_id
    while ancestor is not None:
        if ancestor == case.id:
            raise ValidationFailed([FieldError("parent_id", f"linking {case.id} under {parent.id} would make a cycle")])
        if ancestor in seen:
            break
        seen.add(ancestor)
        ancestor = ctx.session.execute(
            select(ComplaintCase.parent_id).where(ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.id == ancestor)
        ).scalar_one_or_none()
    if cancel:
        _check(case.status, Status.CANCELLED, parent_id=parent.id, case_id=case.id)
    case.parent_id = parent.id
    case.updated_at = now
    ctx.session.add(case)
    if cancel:
        _end_pause(_settings(ctx), case, now)
        _move(ctx, case, Status.CANCELLED, now, note or f"duplicate of #{parent.id}", {"parent_id": parent.id})
    else:
        _event(ctx, case, "NOTE", now, note or f"linked under #{parent.id}", data={"parent_id": parent.id})
    ctx.session.flush()
    return case


# -- erasure ---------------------------------------------------------------------


def erase_customer_cases(ctx: TenantContext, customer_id: int) -> None:
    """Clear the personal free text (descriptions, resolutions, timeline notes) of the
    customer's cases, whether or not the tenant has the module on now."""
    from sqlalchemy import update

    ctx.session.flush()
    case_ids = select(ComplaintCase.id).where(ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.customer_id == customer_id)
    ctx.session.execute(
        update(ComplaintEvent)
        .where(ComplaintEvent.tenant_id == ctx.tenant_id, ComplaintEvent.case_id.in_(case_ids))
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
    ctx.session.execute(
        update(ComplaintCase)
        .where(ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.customer_id == customer_id)
        .values(description=None, resolution=None)
        .execution_options(synchronize_session=False)
    )
