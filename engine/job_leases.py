"""Claiming work so that no (tenant, job) ever runs twice at once, however
many workers there are.

Each (tenant, job) has one lease row. A worker takes it for ``lease_seconds``
before it runs the job, extends it by heartbeat while the job runs and gives
it back after. On PostgreSQL the row is claimed with ``SELECT ... FOR UPDATE
SKIP LOCKED`` (a worker never waits for another's claim, it moves on); on
SQLite, whose write transactions already run one at a time (``BEGIN
IMMEDIATE``), with a conditional ``UPDATE``. A crashed worker's lease runs out
and its run is marked FAILED by the next sweep.

Everything here runs in the engine's system session (``gx.system()``):
leases are cross-tenant scheduling state. The jobs themselves run in tenant
sessions (engine/worker.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from engine.job_models import FAILED, QUEUED, RUNNING, SCHEDULE, JobLease, JobRun
from engine.job_schedule import Due

LEASES = JobLease.__table__
RUNS = JobRun.__table__


@dataclass
class Claim:
    """A run this worker holds the lease for and is about to run."""

    run_id: int
    tenant_id: int
    job: str
    trigger: str
    params: dict = field(default_factory=dict)
    requested_by: str | None = None


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def ensure(session: Session, pairs) -> None:
    """Make sure each (tenant id, job) has its lease row. Callers do this in a
    short transaction of its own before claiming: two workers inserting the
    same new rows inside their claims could otherwise wait on each other
    (rows inserted in one order here, so at worst one waits)."""
    rows = [{"tenant_id": t, "job": j} for t, j in sorted(set(pairs))]
    if rows:
        insert = pg_insert if _postgres(session) else sqlite_insert
        session.execute(insert(LEASES).values(rows).on_conflict_do_nothing())


def take(session: Session, tenant_id: int, job: str, worker_id: str, now: datetime, lease_seconds: float,
         started_before: datetime | None = None) -> bool:
    """Take the (tenant, job) lease if nobody holds it (and, with
    ``started_before``, if the job last started no later than that: it is
    still due). True when taken; the caller's transaction must commit."""
    ensure(session, [(tenant_id, job)])
    conditions = [LEASES.c.tenant_id == tenant_id, LEASES.c.job == job,
                  sa.or_(LEASES.c.leased_until.is_(None), LEASES.c.leased_until < now)]
    if started_before is not None:
        conditions.append(sa.or_(LEASES.c.last_started_at.is_(None), LEASES.c.last_started_at <= started_before))
    values = {"leased_until": now + timedelta(seconds=lease_seconds), "leased_by": worker_id, "last_started_at": now,
              "run_id": None}
    if _postgres(session):
        # SKIP LOCKED: a row another worker is claiming right now is theirs; move on.
        locked = session.execute(sa.select(LEASES.c.job).where(*conditions).with_for_update(skip_locked=True)).first()
        if locked is None:
            return False
        session.execute(sa.update(LEASES).where(LEASES.c.tenant_id == tenant_id, LEASES.c.job == job).values(**values))
        return True
    return session.execute(sa.update(LEASES).where(*conditions).values(**values)).rowcount == 1


def _hold(session: Session, tenant_id: int, job: str, run_id: int) -> None:
    session.execute(sa.update(LEASES).where(LEASES.c.tenant_id == tenant_id, LEASES.c.job == job).values(run_id=run_id))


def _start_run(session: Session, tenant_id: int, job: str, trigger: str, worker_id: str, now: datetime,
               requested_by: str | None = None) -> int:
    return session.execute(sa.insert(RUNS).values(
        tenant_id=tenant_id, job=job, trigger=trigger, status=RUNNING, requested_by=requested_by, params={},
        created_at=now, started_at=now, worker_id=worker_id,
    ).returning(RUNS.c.id)).scalar_one()


def claim_due(session: Session, due: Due, worker_id: str, now: datetime, lease_seconds: float) -> Claim | None:
    """Claim a scheduled run of a due job (None: another worker has it, or ran it meanwhile)."""
    still_due_if_started_by = now - timedelta(minutes=due.every_minutes)
    if not take(session, due.tenant_id, due.job.name, worker_id, now, lease_seconds, still_due_if_started_by):
        return None
    run_id = _start_run(session, due.tenant_id, due.job.name, SCHEDULE, worker_id, now)
    _hold(session, due.tenant_id, due.job.name, run_id)
    return Claim(run_id, due.tenant_id, due.job.name, SCHEDULE)


def claim_now(session: Session, tenant_id: int, job: str, trigger: str, worker_id: str, now: datetime,
              lease_seconds: float, requested_by: str | None = None) -> Claim | None:
    """Claim a run of ``job`` right now, due or not (None: it is running elsewhere)."""
    if not take(session, tenant_id, job, worker_id, now, lease_seconds):
        return None
    run_id = _start_run(session, tenant_id, job, trigger, worker_id, now, requested_by)
    _hold(session, tenant_id, job, run_id)
    return Claim(run_id, tenant_id, job, trigger, requested_by=requested_by)


def claim_queued(session: Session, worker_id: str, now: datetime, lease_seconds: float, limit: int,
                 tenant_ids: set[int] | None = None) -> list[Claim]:
    """Claim up to ``limit`` QUEUED runs, oldest first, skipping those whose
    (tenant, job) is running already (they wait for its end)."""
    if limit <= 0:
        return []
    # Runs whose (tenant, job) is running now wait, and do not hide the runs behind them.
    held = sa.exists().where(LEASES.c.tenant_id == RUNS.c.tenant_id, LEASES.c.job == RUNS.c.job,
                             LEASES.c.leased_until >= now)
    query = sa.select(RUNS.c.id, RUNS.c.tenant_id, RUNS.c.job, RUNS.c.trigger, RUNS.c.params, RUNS.c.requested_by).where(
        RUNS.c.status == QUEUED, ~held)
    if tenant_ids is not None:
        query = query.where(RUNS.c.tenant_id.in_(tenant_ids))
    query = query.order_by(RUNS.c.id).limit(limit * 4)
    if _postgres(session):
        query = query.with_for_update(skip_locked=True)
    claims: list[Claim] = []
    busy: set[tuple[int, str]] = set()
    for row in session.execute(query).all():
        if len(claims) == limit:
            break
        pair = (row.tenant_id, row.job)
        if pair in busy or not take(session, row.tenant_id, row.job, worker_id, now, lease_seconds):
            busy.add(pair)
            continue
        busy.add(pair)  # one run of a (tenant, job) at a time, even among queued ones
        started = session.execute(sa.update(RUNS).where(RUNS.c.id == row.id, RUNS.c.status == QUEUED).values(
            status=RUNNING, started_at=now, worker_id=worker_id)).rowcount
        if started != 1:  # SQLite: cannot happen under BEGIN IMMEDIATE; kept as a guard
            continue
        _hold(session, row.tenant_id, row.job, row.id)
        claims.append(Claim(row.id, row.tenant_id, row.job, row.trigger, dict(row.params or {}), row.requested_by))
    return claims


def heartbeat(session: Session, worker_id: str, run_ids: list[int], now: datetime, lease_seconds: float) -> set[int]:
    """Extend the leases of this worker's running runs; returns the runs whose lease it still holds."""
    if not run_ids:
        return set()
    mine = [LEASES.c.leased_by == worker_id, LEASES.c.run_id.in_(run_ids)]
    session.execute(sa.update(LEASES).where(*mine).values(leased_until=now + timedelta(seconds=lease_seconds)))
    return set(session.execute(sa.select(LEASES.c.run_id).where(*mine)).scalars())


def release(session: Session, claim: Claim, now: datetime) -> None:
    """Give the lease back after the run ended (if it is still this run's)."""
    session.execute(sa.update(LEASES).where(
        LEASES.c.tenant_id == claim.tenant_id, LEASES.c.job == claim.job, LEASES.c.run_id == claim.run_id,
    ).values(leased_until=None, leased_by=None, run_id=None, last_finished_at=now))


def give_back(session: Session, claim: Claim, worker_id: str, now: datetime) -> None:
    """A worker stopping before the run ends: a requested run goes back to the
    queue for another worker; a scheduled one is recorded FAILED
    (interrupted) and is due again at once."""
    if claim.trigger == SCHEDULE:
        session.execute(sa.update(RUNS).where(RUNS.c.id == claim.run_id, RUNS.c.status == RUNNING).values(
            status=FAILED, finished_at=now,
            error=f"interrupted: worker {worker_id} was stopped before the job finished (its work was rolled back); "
                  "it runs again at the next poll"))
        last_started = None
    else:
        session.execute(sa.update(RUNS).where(RUNS.c.id == claim.run_id, RUNS.c.status == RUNNING).values(
            status=QUEUED, started_at=None, worker_id=None))
        last_started = LEASES.c.last_started_at
    session.execute(sa.update(LEASES).where(
        LEASES.c.tenant_id == claim.tenant_id, LEASES.c.job == claim.job, LEASES.c.run_id == claim.run_id,
    ).values(leased_until=None, leased_by=None, run_id=None, last_started_at=last_started))


def sweep(session: Session, now: datetime, tenant_ids: set[int] | None = None) -> list[int]:
    """Mark FAILED the runs left RUNNING by a worker that stopped renewing
    their lease (crashed, killed, cut off from the database); returns their ids."""
    lease = sa.and_(LEASES.c.tenant_id == RUNS.c.tenant_id, LEASES.c.job == RUNS.c.job, LEASES.c.run_id == RUNS.c.id)
    query = (sa.select(RUNS.c.id, RUNS.c.worker_id, LEASES.c.leased_until).select_from(RUNS.outerjoin(LEASES, lease))
             .where(RUNS.c.status == RUNNING, sa.or_(LEASES.c.leased_until.is_(None), LEASES.c.leased_until < now)))
    if tenant_ids is not None:
        query = query.where(RUNS.c.tenant_id.in_(tenant_ids))
    rows = session.execute(query).all()
    swept = []
    for run_id, worker_id, leased_until in rows:
        when = f" at {leased_until.isoformat(timespec='seconds')}" if leased_until else ""
        done = session.execute(sa.update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == RUNNING).values(
            status=FAILED, finished_at=now,
            error=f"abandoned: worker {worker_id} stopped renewing its lease (it ran out{when}): the worker crashed, "
                  "was killed or lost the database; a scheduled job runs again when due, a requested one must be "
                  "requested again")).rowcount
        if done:
            swept.append(run_id)
    if swept:
        session.execute(sa.update(LEASES).where(LEASES.c.run_id.in_(swept)).values(
            leased_until=None, leased_by=None, run_id=None))
    return swept
