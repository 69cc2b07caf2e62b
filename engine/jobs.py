"""Jobs: periodic work contributed by plugins (points expiry, SLA sweep,
re-scoring) and the core's on-request jobs (scoring asked for through the API).

A plugin's ``Job`` runs for every tenant that enabled its module, every
``every_minutes`` (a tenant may override the interval or pause the job:
engine/job_schedule.py). ``guanxi worker`` runs them (engine/worker.py) and
records every run (engine/job_runs.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.errors import FieldError, ValidationFailed


@dataclass(frozen=True)
class Job:
    name: str  # namespaced: "loyalty.expire_points"
    module: str  # runs only for tenants that enabled this module
    every_minutes: int  # the default interval; tenants may override it
    run: Callable[[Any], Any]  # takes a TenantContext; must be safe to run twice


@dataclass(frozen=True)
class RequestJob:
    """A core job run only on request, with parameters (never scheduled)."""

    name: str
    run: Callable[[Any, dict], Any]  # (TenantContext, params) -> result


def _run_scoring(ctx, params: dict) -> dict:
    from dataclasses import asdict
    from datetime import datetime

    from engine.scoring import run_scoring
    from engine.services import audit

    as_of = datetime.fromisoformat(params["as_of"]) if params.get("as_of") else None
    reports = run_scoring(ctx, params.get("modules") or None, as_of=as_of)
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "scoring.run", "Module", ",".join(r.module for r in reports),
                 {r.module: {"scored": r.scored, "unscored": r.unscored} for r in reports})
    return {"reports": [asdict(r) for r in reports]}


SCORING = "scoring"
REQUEST_JOBS = {SCORING: RequestJob(SCORING, _run_scoring)}


class JobConflict(RuntimeError):
    """Two plugins declare a job of the same name."""


def installed_jobs(plugins) -> dict[str, Job]:
    """Every installed plugin's jobs by name (whatever tenants enabled)."""
    jobs: dict[str, Job] = {}
    for group in plugins.hook.guanxi_jobs():
        for job in group or []:
            if job.name in jobs or job.name in REQUEST_JOBS:
                raise JobConflict(f"two jobs are named {job.name!r} (modules {jobs[job.name].module if job.name in jobs else 'core'!r} "
                                  f"and {job.module!r}); job names are namespaced by module")
            jobs[job.name] = job
    return jobs


def jobs_for(plugins, enabled: frozenset[str]) -> list[Job]:
    """The periodic jobs of the modules a tenant has enabled, by name."""
    return sorted((job for job in installed_jobs(plugins).values() if job.module in enabled), key=lambda j: j.name)


def find_job(plugins, enabled: frozenset[str], name: str, tenant: str, field: str = "job") -> Job:
    """The tenant's job called ``name``, or a ValidationFailed on ``field`` that
    names it and lists the tenant's jobs."""
    own = jobs_for(plugins, enabled)
    for job in own:
        if job.name == name:
            return job
    listing = ", ".join(j.name for j in own) or "none (enable a module that has jobs)"
    installed = installed_jobs(plugins).get(name)
    if installed is not None:
        message = (f"job {name!r} belongs to module {installed.module!r}, which tenant {tenant} has not enabled; "
                   f"its jobs: {listing}")
    else:
        close = difflib.get_close_matches(name, [j.name for j in own], n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        message = f"unknown job {name!r}{guess}; tenant {tenant}'s jobs: {listing}"
    raise ValidationFailed([FieldError(field, message, "NOT_FOUND")])


def run_jobs(gx, tenant: str, names: list[str] | None = None, actor: str = "scheduler") -> dict[str, Any]:
    """Run the tenant's jobs (or the named ones) now, each in its own
    transaction, and record each run (trigger MANUAL); returns what each job
    returned. A failing job does not stop the others: once all ran, the first
    failure is raised again (JobFailed)."""
    from engine.worker import run_now

    outcomes = run_now(gx, tenant, names, requested_by=actor)
    failed = [o for o in outcomes if o.status == "FAILED"]
    if failed:
        raise JobFailed(failed)
    return {o.job: o.value for o in outcomes if o.status == "SUCCEEDED"}


class JobFailed(RuntimeError):
    """Jobs run by ``run_jobs`` failed (their runs are recorded FAILED)."""

    def __init__(self, outcomes):
        self.outcomes = outcomes
        super().__init__("; ".join(f"{o.job}: {o.error}" for o in outcomes))
