"""The tables of the job worker: what ran (``job_runs``), per-tenant interval
overrides (``job_schedules``) and who is running what (``job_leases``).

Every row carries ``tenant_id``. Schedules and leases are the worker's
cross-tenant state: it reads and claims them in ``gx.system()``; admins
change their own tenant's schedule rows through tenant sessions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, UtcDateTime, utcnow

# Run statuses and triggers, stored as these codes.
QUEUED, RUNNING, SUCCEEDED, FAILED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
FINISHED = (SUCCEEDED, FAILED)
SCHEDULE, MANUAL, API = "SCHEDULE", "MANUAL", "API"
TRIGGERS = (SCHEDULE, MANUAL, API)


class JobRun(SQLModel, table=True):
    """One run of a job for one tenant, from request (QUEUED) or claim (RUNNING) to its outcome."""

    __tablename__ = "job_runs"
    __table_args__ = (
        sa.Index("ix_job_runs_tenant_id", "tenant_id", "id"),
        sa.Index("ix_job_runs_tenant_job", "tenant_id", "job", "id"),
        # The queue and the abandoned-run sweep read only unfinished runs, a handful among many.
        sa.Index("ix_job_runs_open", "status", "id", sqlite_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
                 postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    job: str = Field(max_length=128)
    trigger: str = Field(max_length=16)
    status: str = Field(max_length=16)
    requested_by: Optional[str] = Field(default=None, max_length=64)
    params: dict = Field(default_factory=dict, sa_type=Json)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    started_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    result: Optional[Any] = Field(default=None, sa_type=Json)  # what the job returned, as JSON
    error: Optional[str] = Field(default=None, sa_type=sa.Text)  # why it failed, one or two lines
    traceback: Optional[str] = Field(default=None, sa_type=sa.Text)  # the last frames of an unexpected failure
    worker_id: Optional[str] = Field(default=None, max_length=128)


class JobSchedule(SQLModel, table=True):
    """A tenant's override of a job's declared interval, or its pause."""

    __tablename__ = "job_schedules"

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    job: str = Field(max_length=128, primary_key=True)
    every_minutes: Optional[int] = None  # None: the job's declared interval
    paused: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_by: Optional[str] = Field(default=None, max_length=64)


class JobLease(SQLModel, table=True):
    """Who runs a (tenant, job) now, until when, and when it last started.

    A worker holds the lease while it runs the job (``leased_until`` in the
    future, extended by heartbeat); a crashed worker's lease runs out and the
    job can be claimed again. ``last_started_at`` decides when the job is due.
    """

    __tablename__ = "job_leases"

    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    job: str = Field(max_length=128, primary_key=True)
    leased_until: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    leased_by: Optional[str] = Field(default=None, max_length=128)
    run_id: Optional[int] = None  # the run holding the lease
    last_started_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    last_finished_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)


JOB_MODELS = (JobRun, JobSchedule, JobLease)
