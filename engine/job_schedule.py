"""When each tenant's jobs are due: the job's declared interval, or the
tenant's override (``job_schedules``), counted from the last start
(``job_leases.last_started_at``). A paused job is never due; a job that has
never run is due at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from engine.errors import FieldError, ValidationFailed
from engine.job_models import JobLease, JobRun, JobSchedule
from engine.job_runs import last_runs
from engine.jobs import Job, find_job, installed_jobs, jobs_for
from engine.models import TenantModule
from engine.services import audit
from engine.types import utcnow

MAX_EVERY_MINUTES = 366 * 24 * 60
KEEP = object()  # set_schedule: leave this part as it is


@dataclass
class JobView:
    """A tenant's job as the tenant sees it: interval, override, next due, last run."""

    job: Job
    override_minutes: int | None
    paused: bool
    last_started_at: datetime | None
    leased_until: datetime | None
    last_run: JobRun | None
    now: datetime

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def every_minutes(self) -> int:
        return effective_minutes(self.job, self.override_minutes)

    @property
    def next_due_at(self) -> datetime | None:
        """None when paused; now when it has never run (the next poll runs it)."""
        if self.paused:
            return None
        return next_due(self.last_started_at, self.every_minutes) or self.now

    @property
    def running(self) -> bool:
        return self.leased_until is not None and self.leased_until > self.now


def effective_minutes(job: Job, override: int | None) -> int:
    return override if override is not None else job.every_minutes


def next_due(last_started_at: datetime | None, every_minutes: int) -> datetime | None:
    return None if last_started_at is None else last_started_at + timedelta(minutes=every_minutes)


def _enabled(session: Session, tenant_ids: set[int] | None) -> dict[int, set[str]]:
    query = sa.select(TenantModule.tenant_id, TenantModule.module).where(TenantModule.enabled == sa.true())
    if tenant_ids is not None:
        query = query.where(TenantModule.tenant_id.in_(tenant_ids))
    out: dict[int, set[str]] = {}
    for tenant_id, module in session.execute(query):
        out.setdefault(tenant_id, set()).add(module)
    return out


def _by_pair(session: Session, model, tenant_ids: set[int] | None) -> dict[tuple[int, str], object]:
    query = sa.select(model)
    if tenant_ids is not None:
        query = query.where(model.tenant_id.in_(tenant_ids))
    return {(row.tenant_id, row.job): row for row in session.execute(query).scalars()}


# -- what the worker runs --------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    tenant_id: int
    job: Job
    every_minutes: int
    since: datetime | None  # when it became due (None: it never ran)


def due_jobs(session: Session, plugins, now: datetime, tenant_ids: set[int] | None = None) -> list[Due]:
    """Every (tenant, job) due at ``now`` and not leased, longest overdue
    first. Read in the engine's system session (all tenants at once)."""
    enabled = _enabled(session, tenant_ids)
    schedules = _by_pair(session, JobSchedule, tenant_ids)
    leases = _by_pair(session, JobLease, tenant_ids)
    installed = sorted(installed_jobs(plugins).values(), key=lambda j: j.name)  # once, not once per tenant
    due = []
    for tenant_id, modules in enabled.items():
        for job in (job for job in installed if job.module in modules):
            schedule = schedules.get((tenant_id, job.name))
            if schedule is not None and schedule.paused:
                continue
            minutes = effective_minutes(job, schedule.every_minutes if schedule else None)
            lease = leases.get((tenant_id, job.name))
            if lease is not None and lease.leased_until is not None and lease.leased_until > now:
                continue
            since = next_due(lease.last_started_at if lease else None, minutes)
            if since is None or since <= now:
                due.append(Due(tenant_id, job, minutes, since))
    return sorted(due, key=lambda d: (d.since is not None, d.since or now, d.tenant_id, d.job.name))


# -- what a tenant sees and sets --------------------------------------------------------


def tenant_jobs(session: Session, plugins, tenant_id: int, enabled: frozenset[str], now: datetime | None = None) -> list[JobView]:
    """The tenant's jobs (those of its enabled modules) with their schedule, by name."""
    now = now or utcnow()
    schedules = _by_pair(session, JobSchedule, {tenant_id})
    leases = _by_pair(session, JobLease, {tenant_id})
    runs = last_runs(session, tenant_id)
    views = []
    for job in jobs_for(plugins, enabled):
        schedule = schedules.get((tenant_id, job.name))
        lease = leases.get((tenant_id, job.name))
        views.append(JobView(
            job=job, override_minutes=schedule.every_minutes if schedule else None,
            paused=bool(schedule and schedule.paused), last_started_at=lease.last_started_at if lease else None,
            leased_until=lease.leased_until if lease else None, last_run=runs.get(job.name), now=now,
        ))
    return views


def validate_minutes(value, field: str = "every_minutes") -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationFailed([FieldError(field, f"must be a positive whole number of minutes, got {value!r}")])
    if value > MAX_EVERY_MINUTES:
        raise ValidationFailed([FieldError(field, f"at most {MAX_EVERY_MINUTES} minutes (366 days), got {value}")])


def set_schedule(session: Session, plugins, tenant_id: int, tenant_label: str, enabled: frozenset[str], name: str,
                 every_minutes=KEEP, paused=KEEP, actor: str = "system") -> JobView:
    """Change a tenant's schedule for one of its jobs: ``every_minutes`` (None:
    back to the job's own interval) and/or ``paused``; what is left as KEEP
    stays. A schedule back at the defaults is removed. Errors name the field
    (``job``: unknown, listing the tenant's jobs; ``every_minutes``)."""
    job = find_job(plugins, enabled, name, tenant_label)
    if every_minutes is not KEEP:
        validate_minutes(every_minutes)
    row = session.get(JobSchedule, (tenant_id, job.name))
    before = {"every_minutes": row.every_minutes if row else None, "paused": bool(row and row.paused)}
    after = {
        "every_minutes": before["every_minutes"] if every_minutes is KEEP else every_minutes,
        "paused": before["paused"] if paused is KEEP else bool(paused),
    }
    if after["every_minutes"] is None and not after["paused"]:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = JobSchedule(tenant_id=tenant_id, job=job.name)
            session.add(row)
        row.every_minutes, row.paused = after["every_minutes"], after["paused"]
        row.updated_at, row.updated_by = utcnow(), actor[:64]
    audit.record(session, tenant_id, actor, "job.schedule", "Job", job.name, {"before": before, "after": after})
    session.flush()
    return next(view for view in tenant_jobs(session, plugins, tenant_id, enabled) if view.name == job.name)
