"""The SLA sweep: breach flags, escalation, broken promises (a periodic job).

Columnar: the open cases with an SLA are read as arrays (instants as epoch
seconds computed in SQL, so no per-row datetime objects), evaluated at once
by ``sla.sweep`` with the tenant's business calendars, and only the cases
whose state changed are written back. Each escalation gets a timeline entry
and one ``guanxi_complaint_escalated`` hook call. Running it twice at the
same instant changes nothing the second time (levels never go down, flags
are only set).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy import select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from engine.bulk import insert_rows
from engine.context import TenantContext
from engine.jobs import Job
from plugins.complaints.hookspecs import ComplaintEscalation
from plugins.complaints.models import PROMISE_WHERE, SWEEP_WHERE, ComplaintCase, ComplaintEvent
from plugins.complaints.service import MODULE, _now, _settings
from plugins.complaints.sla import SweepInput, sweep

READ_CHUNK = 50_000
LEVEL_NAMES = {1: "department head", 2: "company level (公司级投诉)"}


class epoch(FunctionElement):
    """Epoch seconds (float) of a UtcDateTime column, NULL stays NULL."""

    type = sa.Float()
    inherit_cache = True
    name = "guanxi_epoch"


@compiles(epoch)
def _epoch_default(element, compiler, **kw):
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS DOUBLE PRECISION)"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    # Stored as naive UTC text; julianday keeps the fractional seconds.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@dataclass(frozen=True)
class SweepReport:
    checked: int
    breached: int  # cases whose first breach flag was set now
    escalated: int
    level_1: int
    level_2: int
    promises_broken: int

    def __str__(self) -> str:
        return (f"{self.checked} open cases checked, {self.breached} newly breached, "
                f"{self.escalated} escalated (level 1: {self.level_1}, level 2: {self.level_2}), "
                f"{self.promises_broken} promises broken")


def _floats(values) -> np.ndarray:
    return np.array(values, dtype=np.float64)  # None → NaN


def sweep_tenant(ctx: TenantContext, now: datetime | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> SweepReport:
    now = _now(now)
    settings = _settings(ctx)
    session = ctx.session
    session.flush()
    c = ComplaintCase.__table__.c
    # Same terms as the partial index ix_complaint_cases_sweep, so the planner can use it.
    where = (c.tenant_id == ctx.tenant_id, sa.text(SWEEP_WHERE))
    total = session.execute(select(sa.func.count()).select_from(ComplaintCase.__table__).where(*where)).scalar_one()
    columns = (c.id, epoch(c.opened_at), c.first_response_target, c.resolution_target, c.paused_minutes,
               epoch(c.paused_since), epoch(c.first_response_at), c.escalation_level, c.sla_calendar,
               c.first_response_breached, c.resolution_breached)
    parts: list[list] = [[] for _ in columns]
    last_id, done = 0, 0
    if on_progress:
        on_progress(0, total)
    # The raw DB-API cursor: no per-value result processing (every value
    # selected is already a plain number or string); literal binds are ints
    # and the fixed status codes.
    cursor = session.connection().connection.dbapi_connection.cursor()
    dialect = session.get_bind().dialect
    try:
        while True:
            statement = select(*columns).where(*where, c.id > last_id).order_by(c.id).limit(READ_CHUNK)
            cursor.execute(str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
            rows = cursor.fetchall()
            if not rows:
                break
            for part, column in zip(parts, zip(*rows)):
                part.extend(column)
            last_id = rows[-1][0]
            done += len(rows)
            if on_progress:
                on_progress(done, total)
            if len(rows) < READ_CHUNK:
                break
    finally:
        cursor.close()
    broken = _break_promises(ctx, now)
    n = len(parts[0])
    if n == 0:
        return SweepReport(0, 0, 0, 0, 0, broken)

    ids = np.array(parts[0], dtype=np.int64)
    # A calendar the tenant has since removed counts 24/7 (index -1).
    names = sorted({name for name in parts[8] if name and name in settings.calendars})
    calendars = [settings.calendars[name] for name in names]
    index_of = {name: i for i, name in enumerate(names)}
    which = np.array([index_of.get(name, -1) for name in parts[8]], dtype=np.int64)

    old_level = np.array(parts[7], dtype=np.int8)
    first_target = _floats(parts[2])
    resolution_target = _floats(parts[3])
    result = sweep(
        SweepInput(
            opened_at=_floats(parts[1]), first_response_minutes=first_target, resolution_minutes=resolution_target,
            paused_minutes=np.nan_to_num(_floats(parts[4])), paused_since=_floats(parts[5]),
            first_response_at=_floats(parts[6]), escalation_level=old_level, calendar=which,
        ),
        now,
        calendars,
    )
    old_first = np.array(parts[9], dtype=bool)
    old_resolution = np.array(parts[10], dtype=bool)
    new_first = old_first | result.first_response_breached
    new_resolution = old_resolution | result.resolution_breached
    changed = (new_first != old_first) | (new_resolution != old_resolution) | result.escalated
    newly_breached = int(np.count_nonzero((new_first | new_resolution) & ~(old_first | old_resolution)))
    escalated = np.flatnonzero(result.escalated)

    # Few distinct new states: one UPDATE ... WHERE id IN (...) per state and chunk.
    new_level = result.escalation_level
    for i_first in (False, True):
        for i_resolution in (False, True):
            same_flags = changed & (new_first == i_first) & (new_resolution == i_resolution)
            plain = np.flatnonzero(same_flags & ~result.escalated)
            _update_in(session, ids[plain], {"first_response_breached": i_first, "resolution_breached": i_resolution})
            for level in (1, 2):
                rows = np.flatnonzero(same_flags & result.escalated & (new_level == level))
                _update_in(session, ids[rows], {"first_response_breached": i_first, "resolution_breached": i_resolution,
                                                "escalation_level": level, "escalated_at": now, "updated_at": now})
    if escalated.size:
        _announce(ctx, ids, escalated, old_level, result, first_target, resolution_target, now)
    return SweepReport(
        checked=n,
        breached=newly_breached,
        escalated=int(escalated.size),
        level_1=int(np.count_nonzero(result.escalation_level[escalated] == 1)),
        level_2=int(np.count_nonzero(result.escalation_level[escalated] == 2)),
        promises_broken=broken,
    )


def _update_in(session, ids: np.ndarray, values: dict, chunk: int = 900) -> None:
    if ids.size == 0:
        return
    table = ComplaintCase.__table__
    for start in range(0, ids.size, chunk):
        part = ids[start:start + chunk].tolist()
        session.execute(update(table).where(table.c.id.in_(part)).values(**values),
                        execution_options={"synchronize_session": False})


def _announce(ctx, ids, escalated, old_level, result, first_target, resolution_target, now) -> None:
    """Timeline entries (bulk) and one hook call per escalation."""
    first_ratio = result.first_response_elapsed[escalated] / first_target[escalated]
    resolution_ratio = result.resolution_elapsed[escalated] / resolution_target[escalated]
    details: dict[int, tuple] = {}
    c = ComplaintCase.__table__.c
    escalated_ids = [int(ids[i]) for i in escalated.tolist()]
    for start in range(0, len(escalated_ids), 900):
        part = escalated_ids[start:start + 900]
        for row in ctx.session.execute(
            select(c.id, c.customer_id, c.category, c.priority, c.status, c.store, c.department, c.assignee)
            .where(c.tenant_id == ctx.tenant_id, c.id.in_(part))
        ):
            details[row.id] = row
    events, escalations = [], []
    for k, i in enumerate(escalated.tolist()):
        case_id = int(ids[i])
        level, previous = int(result.escalation_level[i]), int(old_level[i])
        clock = "first_response" if (result.first_response_breached[i] and first_ratio[k] >= resolution_ratio[k]) else "resolution"
        ratio = float(first_ratio[k] if clock == "first_response" else resolution_ratio[k])
        row = details[case_id]
        events.append({
            "tenant_id": ctx.tenant_id, "case_id": case_id, "kind": "ESCALATION", "from_status": row.status,
            "to_status": row.status, "actor": ctx.actor,
            "note": f"escalated to level {level} ({LEVEL_NAMES[level]}): {clock.replace('_', ' ')} at {ratio:.2f}× its target",
            "data": {"level": level, "previous_level": previous, "clock": clock, "ratio": round(ratio, 4)}, "at": now,
        })
        escalations.append(ComplaintEscalation(
            case_id=case_id, customer_id=row.customer_id, level=level, previous_level=previous, clock=clock,
            category=row.category, priority=row.priority, status=row.status, store=row.store,
            department=row.department, assignee=row.assignee, at=now,
        ))
    insert_rows(ctx.session, ComplaintEvent.__table__, events)
    hook = ctx.hooks.guanxi_complaint_escalated
    for escalation in escalations:
        hook(ctx=ctx, escalation=escalation)


def _break_promises(ctx: TenantContext, now: datetime) -> int:
    """Promised reply times that passed with no update or resolution: broken."""
    c = ComplaintCase.__table__.c
    result = ctx.session.execute(
        update(ComplaintCase.__table__)
        .where(c.tenant_id == ctx.tenant_id, sa.text(PROMISE_WHERE), c.promised_reply_at < now)
        .values(promise_kept=False),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


def _run(ctx: TenantContext):
    return sweep_tenant(ctx)


JOBS = [Job(name="complaints.sla_sweep", module=MODULE, every_minutes=5, run=_run)]
