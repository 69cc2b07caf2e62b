"""Many workflow steps at once: the services' rules, set-based reads and writes.

``work_cases`` applies a list of steps (route, update, wait, resume, resolve,
follow-up, close, reopen), each at its own time, to many cases in the
caller's transaction. Every step goes through the same validation and
transition code as the single-case service (``service._route`` and so on:
``check_transition``, SLA clocks, timeline entries, an audit event per
step); what differs is the I/O: the cases are read in one locked query and
written in one flush instead of a read, a lock and a flush per call, and
the status-change hooks run after that flush, once per change in the order
the changes happened (a hook that raises aborts the batch: roll back). For
back-filled history (the demo) and bulk tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed
from engine.services import audit
from plugins.complaints import service
from plugins.complaints.models import ComplaintCase
from plugins.complaints.workflow import OPEN_STATUSES, Status

__all__ = ["Step", "STEPS", "work_cases"]

IN_CHUNK = 900


@dataclass(frozen=True)
class Step:
    """One workflow step on one case at ``at``; ``args`` are the service's keyword arguments."""

    case_id: int
    action: str
    at: datetime
    args: dict[str, Any] = field(default_factory=dict)


def _follow_up(ctx, case, at, satisfaction, note=None, reopen=None):
    if service._follow_up(ctx, case, satisfaction, note, reopen, at):
        service._reopen(ctx, case, "customer not satisfied", case.satisfaction, at)
        audit.record(ctx.session, ctx.tenant_id, ctx.actor, "complaints.reopen_case", "ComplaintCase", case.id,
                     {"satisfaction": case.satisfaction})


# action → (audit action, apply(ctx, case, at, **args))
STEPS = {
    "route": ("complaints.route_case",
              lambda ctx, case, at, department=None, assignee=None, note=None: service._route(ctx, case, department, assignee, note, at)),
    "update": ("complaints.add_update",
               lambda ctx, case, at, note, promised_reply_at=None: service._update(ctx, case, note, promised_reply_at, at)),
    "wait": ("complaints.wait_on_customer", lambda ctx, case, at, note=None: service._wait(ctx, case, note, at)),
    "resume": ("complaints.resume_case", lambda ctx, case, at, note=None: service._resume(ctx, case, note, at)),
    "resolve": ("complaints.resolve_case",
                lambda ctx, case, at, resolution, root_cause, note=None: service._resolve(ctx, case, resolution, root_cause, note, at)),
    "follow_up": ("complaints.record_follow_up", _follow_up),
    "close": ("complaints.close_case", lambda ctx, case, at, note=None: service._close(ctx, case, note, at)),
    "reopen": ("complaints.reopen_case",
               lambda ctx, case, at, note=None, satisfaction=None: service._reopen(ctx, case, note, satisfaction, at)),
}


def _load(ctx: TenantContext, ids: Sequence[int]) -> dict[int, ComplaintCase]:
    """The cases, locked for update on PostgreSQL, refreshed from the database (a sweep may
    have changed them behind the session's back)."""
    cases: dict[int, ComplaintCase] = {}
    for start in range(0, len(ids), IN_CHUNK):
        part = list(ids[start:start + IN_CHUNK])
        statement = (select(ComplaintCase).where(ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.id.in_(part))
                     .order_by(ComplaintCase.id).with_for_update().execution_options(populate_existing=True))
        cases.update((case.id, case) for case in ctx.session.execute(statement).scalars())
    return cases


def work_cases(ctx: TenantContext, steps: Sequence[Step]) -> int:
    """Apply ``steps`` in order (sort them by time first); returns how many were applied.

    Raises ValidationFailed naming the step (``steps[i].action`` or the
    service's own field, prefixed ``steps[i].``) on the first bad one; the
    caller's transaction then holds the earlier steps' changes, so roll back.
    """
    errors: list[FieldError] = []
    for i, step in enumerate(steps):
        if step.action not in STEPS:
            errors.append(FieldError(f"steps[{i}].action", f"unknown step {step.action!r}; known: {', '.join(STEPS)}"))
        elif not isinstance(step.at, datetime) or step.at.tzinfo is None:
            errors.append(FieldError(f"steps[{i}].at", "must be a timezone-aware date-time"))
    if errors:
        raise ValidationFailed(errors)
    ids = sorted({int(step.case_id) for step in steps})
    cases = _load(ctx, ids)
    missing = [i for i, step in enumerate(steps) if int(step.case_id) not in cases]
    if missing:
        raise ValidationFailed([FieldError(f"steps[{i}].case_id", f"no complaint {steps[i].case_id} in this tenant", "NOT_FOUND")
                                for i in missing])
    resolved: set[int] = set()
    changes: list = []
    token = service.deferred_changes.set(changes)
    try:
        with ctx.session.no_autoflush:
            for i, step in enumerate(steps):
                action, apply = STEPS[step.action]
                case = cases[int(step.case_id)]
                try:
                    apply(ctx, case, service._now(step.at), **step.args)
                except ValidationFailed as error:
                    raise ValidationFailed([FieldError(f"steps[{i}].{e.field}", e.message, e.code) for e in error.errors]) from None
                numbers = {k: v for k, v in step.args.items() if isinstance(v, (int, float, bool))}
                audit.record(ctx.session, ctx.tenant_id, ctx.actor, action, "ComplaintCase", case.id, numbers)
                if step.action == "resolve":
                    resolved.add(case.id)
    finally:
        service.deferred_changes.reset(token)
    ctx.session.flush()
    # The status-change hooks, in the order the changes happened, on the written cases.
    for change in changes:
        ctx.hooks.guanxi_complaint_status_changed(ctx=ctx, change=change)
    _resolve_linked(ctx, [cases[i] for i in sorted(resolved) if Status(cases[i].status) not in OPEN_STATUSES])
    return len(steps)


def _resolve_linked(ctx: TenantContext, parents: list[ComplaintCase]) -> None:
    """Open cases linked under a case resolved here resolve with it, as ``resolve_case`` does."""
    ids = [parent.id for parent in parents]
    for start in range(0, len(ids), IN_CHUNK):
        part = ids[start:start + IN_CHUNK]
        children = ctx.session.execute(
            select(ComplaintCase.id, ComplaintCase.parent_id).where(
                ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.parent_id.in_(part),
                ComplaintCase.status.in_(service.OPEN_STATUS_VALUES)).order_by(ComplaintCase.id)).all()
        by_id = {parent.id: parent for parent in parents}
        for child_id, parent_id in children:
            parent = by_id[parent_id]
            service.resolve_case(ctx, child_id, parent.resolution, parent.root_cause, None, parent.resolved_at, _parent=parent_id)
