"""``guanxi jobs ...`` and ``guanxi worker``: the modules' periodic jobs, their
schedules and their recorded runs (engine/worker.py runs them)."""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

import typer

from engine.cli_support import (
    bad_value, console, err, fail, json_option, new_app, open_engine, print_json, say, table, tenant_option,
    usage_error,
)
from engine.errors import GuanxiError

jobs_app = new_app("The modules' periodic jobs: list, run now, schedule per tenant, past runs.")


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return "-" if value is None else value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _tenant(gx, slug: str):
    """(tenant row, enabled modules) of ``slug``; exits with the error when there is none."""
    from engine.services.modules import enabled_modules

    try:
        with gx.tenant(slug, write=False) as ctx:
            return ctx.tenant, enabled_modules(ctx.session, ctx.tenant_id) & frozenset(gx.plugins.modules)
    except GuanxiError as error:
        fail(error)


@jobs_app.command("list")
def jobs_list(
    tenant: Optional[str] = typer.Option(None, "--tenant", metavar="SLUG", help="Show this tenant's jobs and schedule"),
    as_json: bool = json_option(),
) -> None:
    """The jobs and their intervals: every installed job, or a tenant's with its overrides, next due and last run."""
    from engine.job_schedule import tenant_jobs
    from engine.jobs import installed_jobs

    gx = open_engine()
    if tenant is None:
        jobs = sorted(installed_jobs(gx.plugins).values(), key=lambda j: j.name)
        if as_json:
            print_json([{"job": job.name, "module": job.module, "every_minutes": job.every_minutes} for job in jobs])
            return
        shown = table("job", "module", "every (min)")
        for job in jobs:
            shown.add_row(job.name, job.module, str(job.every_minutes))
        console.print(shown)
        return
    row, enabled = _tenant(gx, tenant)
    zone = ZoneInfo(row.timezone)
    with gx.tenant_session(row.id) as session:
        views = tenant_jobs(session, gx.plugins, row.id, enabled)
    if as_json:
        print_json([{
            "job": view.name, "every_minutes": view.every_minutes, "override_minutes": view.override_minutes,
            "default_minutes": view.job.every_minutes, "paused": view.paused, "running": view.running,
            "next_due_at": view.next_due_at,
            "last_run": None if view.last_run is None else {
                "id": view.last_run.id, "status": view.last_run.status,
                "started_at": view.last_run.started_at or view.last_run.created_at},
        } for view in views])
        return
    shown = table("job", "every (min)", "override", "next due", "last run", title=f"{row.slug} (times in {row.timezone})")
    for view in views:
        override = [f"{view.override_minutes} (default {view.job.every_minutes})"] if view.override_minutes is not None else []
        override += ["paused"] if view.paused else []
        last = view.last_run
        shown.add_row(
            view.name, str(view.every_minutes), ", ".join(override) or "-",
            "running now" if view.running else _when(view.next_due_at, zone),
            f"{last.status} {_when(last.started_at or last.created_at, zone)}" if last else "never",
        )
    console.print(shown)
    if not views:
        say(f"{tenant} has no jobs: none of its enabled modules ({', '.join(sorted(enabled)) or 'none'}) has any.")


@jobs_app.command("run")
def jobs_run(
    tenant: str = tenant_option(),
    job: Optional[list[str]] = typer.Option(None, "--job", metavar="JOB",
                                            help="Run only this job (repeatable); default all the tenant's jobs"),
) -> None:
    """Run the tenant's jobs now, each recorded as a MANUAL run; a failure does
    not stop the others. Exit status 1 when any failed or a job is unknown."""
    from engine.job_models import FAILED
    from engine.worker import run_now

    gx = open_engine()

    def show(outcome) -> None:
        colour = {"SUCCEEDED": "green", "FAILED": "red"}.get(outcome.status, "yellow")
        detail = outcome.error if outcome.error else _text(outcome.value)
        run = f" (run {outcome.run_id})" if outcome.run_id else ""
        console.print(f"[bold]{outcome.job}[/bold]{run}: [{colour}]{outcome.status}[/{colour}] {detail}", highlight=False)
        if outcome.traceback:
            err.print(outcome.traceback, highlight=False, markup=False)

    try:
        outcomes = run_now(gx, tenant, job, requested_by="cli", on_outcome=show)
    except GuanxiError as error:
        fail(_as_options(error))
    if not outcomes:
        say(f"{tenant} has no jobs: none of its enabled modules has any (guanxi module list --tenant {tenant}).")
    if any(o.status == FAILED for o in outcomes):
        raise typer.Exit(code=1)


_OPTIONS = {"every_minutes": "--every", "job": "--job"}


def _as_options(error: GuanxiError) -> GuanxiError:
    """The service's field names as the command's options."""
    from engine.errors import FieldError

    error.errors = [FieldError(_OPTIONS.get(e.field, e.field), e.message, e.code) for e in error.errors]
    return error


def _text(value) -> str:
    import json

    from engine.job_runs import jsonable

    value = jsonable(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@jobs_app.command("schedule")
def jobs_schedule(
    tenant: str = tenant_option(),
    job: str = typer.Option(..., "--job", metavar="JOB", help="The job, e.g. rfm.rescore (guanxi jobs list --tenant T)"),
    every: Optional[int] = typer.Option(None, "--every", metavar="MINUTES", help="Run it every MINUTES for this tenant"),
    paused: bool = typer.Option(False, "--paused", help="Stop running it for this tenant"),
    resume: bool = typer.Option(False, "--resume", help="Run it again after --paused"),
    default: bool = typer.Option(False, "--default", help="Back to the job's own interval, not paused"),
) -> None:
    """Override a job's interval for one tenant, pause or resume it, or go back to its default."""
    from engine.job_schedule import KEEP, set_schedule

    # Contradicting or missing flags: usage errors (status 2), before any database work.
    if not (every is not None or paused or resume or default):
        usage_error("--every", "say what to change: --every MINUTES, --paused, --resume or --default")
    if paused and resume:
        usage_error("--paused", "--paused and --resume contradict each other")
    if default and (every is not None or paused or resume):
        usage_error("--default", "--default resets everything; give it alone")
    gx = open_engine()
    row, enabled = _tenant(gx, tenant)
    try:
        with gx.tenant(row, actor="cli") as ctx:
            view = set_schedule(
                ctx.session, gx.plugins, ctx.tenant_id, row.slug, enabled, job,
                every_minutes=None if default else (every if every is not None else KEEP),
                paused=False if default or resume else (True if paused else KEEP), actor="cli")
    except GuanxiError as error:
        fail(_as_options(error))
    state = "paused" if view.paused else f"runs every {view.every_minutes} min"
    if view.override_minutes is None:
        source = "the job's default interval"
    else:
        source = f"overridden for this tenant; the job's default is {view.job.every_minutes} min"
    say(f"{view.name} for {row.slug}: {state} ({source})")


@jobs_app.command("runs")
def jobs_runs(
    tenant: str = tenant_option(),
    job: Optional[str] = typer.Option(None, "--job", metavar="JOB", help="Only this job's runs"),
    status: Optional[str] = typer.Option(None, "--status", metavar="STATUS", help="QUEUED, RUNNING, SUCCEEDED or FAILED"),
    limit: int = typer.Option(20, "--limit", metavar="N", min=1, max=1000, help="How many, newest first (1-1000)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Full results, errors and tracebacks"),
    as_json: bool = json_option(),
) -> None:
    """The tenant's recorded job runs, newest first."""
    from engine.job_models import STATUSES
    from engine.job_runs import list_runs, summary

    if status is not None and status.upper() not in STATUSES:
        bad_value("--status", f"{status!r} is not one of {', '.join(STATUSES)}")
    gx = open_engine()
    row, _ = _tenant(gx, tenant)
    zone = ZoneInfo(row.timezone)
    with gx.tenant_session(row.id) as session:
        runs = list_runs(session, row.id, job, status.upper() if status else None, limit)
    if as_json:
        print_json([_run_json(run, verbose) for run in runs])
        return
    if not runs:
        say(f"No runs for {row.slug}" + (f" of {job}" if job else "") + ".")
        return
    columns = ["run", "job", "trigger", "status", "started", "took", "result / error"]
    shown = table(*columns, *(["requested by", "worker"] if verbose else []), title=f"{row.slug} (times in {row.timezone})")
    for run in runs:
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at and run.started_at else "-"
        cells = [str(run.id), run.job, run.trigger, run.status, _when(run.started_at or run.created_at, zone), took,
                 summary(run, 400 if verbose else 80)]
        shown.add_row(*cells, *([run.requested_by or "-", run.worker_id or "-"] if verbose else []))
    console.print(shown)
    if verbose:
        for run in runs:
            if run.traceback:
                err.print(f"run {run.id} ({run.job}) traceback:", highlight=False)
                err.print(run.traceback, highlight=False, markup=False)


def _run_json(run, with_traceback: bool = True) -> dict:
    return {
        "id": run.id, "job": run.job, "trigger": run.trigger, "status": run.status, "created_at": run.created_at,
        "started_at": run.started_at, "finished_at": run.finished_at, "requested_by": run.requested_by,
        "worker": run.worker_id, "params": run.params, "result": run.result, "error": run.error,
        **({"traceback": run.traceback} if with_traceback else {}),
    }


@jobs_app.command("show")
def jobs_show(
    run_id: int = typer.Argument(..., metavar="RUN", help="The run's id (guanxi jobs runs)"),
    tenant: str = tenant_option(),
    as_json: bool = json_option(),
) -> None:
    """One recorded run in full: times, who asked, its result or error and traceback."""
    from engine.errors import not_found
    from engine.job_runs import get_run

    gx = open_engine()
    row, _ = _tenant(gx, tenant)
    with gx.tenant_session(row.id) as session:
        run = get_run(session, row.id, run_id)
    if run is None:
        fail(not_found("run", f"no job run {run_id} for {row.slug}"))
    if as_json:
        print_json(_run_json(run))
        return
    zone = ZoneInfo(row.timezone)
    took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at and run.started_at else "-"
    for label, value in (("run", run.id), ("job", run.job), ("trigger", run.trigger), ("status", run.status),
                         (f"created ({row.timezone})", _when(run.created_at, zone)),
                         ("started", _when(run.started_at, zone)), ("finished", _when(run.finished_at, zone)),
                         ("took", took), ("requested by", run.requested_by or "-"), ("worker", run.worker_id or "-"),
                         ("result", "-" if run.result is None else _text(run.result)), ("error", run.error or "-")):
        console.print(f"{label}: {value}", highlight=False, markup=False, soft_wrap=True)
    if run.traceback:
        console.print(run.traceback, highlight=False, markup=False, soft_wrap=True)


def _start_webhooks(gx, tenants):
    """The webhooks module's delivery loop beside the jobs; the returned event stops it."""
    import threading

    if "webhooks" not in gx.plugins.modules:
        usage_error("--webhooks", "the webhooks module is not installed")
    from plugins.webhooks.delivery import start_in_thread

    stop = threading.Event()
    tenant_ids = None if not tenants else [gx.tenant_id(t) for t in tenants]
    start_in_thread(gx, stop, tenants=tenant_ids)
    return stop


def worker(
    once: bool = typer.Option(False, "--once", help="Run what is due and what is queued, then exit (cron)"),
    poll_seconds: float = typer.Option(30.0, "--poll-seconds", metavar="SECONDS", min=0.1,
                                       help="How often to look for due jobs (at least 0.1)"),
    concurrency: int = typer.Option(2, "--concurrency", metavar="N", min=1, max=64,
                                    help="Jobs run at once, each in a thread (1-64)"),
    lease_seconds: float = typer.Option(300.0, "--lease-seconds", metavar="SECONDS", min=5,
                                        help="How long a crashed worker's jobs stay claimed (renewed every third of it; at least 5)"),
    tenant: Optional[list[str]] = typer.Option(None, "--tenant", metavar="SLUG", help="Only these tenants (repeatable); default all"),
    keep_days: int = typer.Option(30, "--keep-days", metavar="DAYS", min=1,
                                  help="Delete finished runs older than this (each job's last run is kept)"),
    webhooks: bool = typer.Option(False, "--webhooks", help="Also deliver webhooks, in a thread (as `guanxi webhooks deliver` does)"),
) -> None:
    """Run every tenant's jobs at their intervals, and the runs requested through the API.

    Any number of workers may run against one database: a job never runs
    twice at once for a tenant. SIGTERM or SIGINT stops claiming and lets
    running jobs finish; a second one gives them back at once."""
    from api.logs import configure_logging
    from engine.job_models import FAILED
    from engine.worker import Worker

    gx = open_engine()
    configure_logging(gx.settings.log_level, gx.settings.log_format)
    try:
        the_worker = Worker(gx, concurrency=concurrency, poll_seconds=poll_seconds, lease_seconds=lease_seconds,
                            tenants=tenant or None, keep_days=keep_days)
        the_worker.tenant_ids()  # an unknown --tenant fails now
    except GuanxiError as error:
        fail(error)

    def on_signal(signum, _frame) -> None:
        the_worker.stop()
        if the_worker.stop_requests == 1:
            err.print(f"{signal.Signals(signum).name}: finishing {len(the_worker.running)} running job(s), claiming "
                      "nothing more (send it again to give them back now)", highlight=False)
        else:
            err.print(f"{signal.Signals(signum).name}: giving the running jobs back", highlight=False)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    delivering = _start_webhooks(gx, tenant) if webhooks and not once else None
    try:
        if once:
            outcomes = the_worker.run_once()
        else:
            err.print(f"worker {the_worker.worker_id}: {concurrency} thread(s), polling every {poll_seconds:g} s",
                      highlight=False)
            outcomes = the_worker.run_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if delivering is not None:
            delivering.set()
    if the_worker.running:
        # Forced stop with jobs still running: leave now; their transactions roll back with the process.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    failed = [o for o in outcomes if o.status == FAILED]
    if once:
        console.print(f"{len(outcomes)} run(s), {len(failed)} failed")
        for outcome in failed:
            console.print(f"  [red]FAILED[/red] tenant {outcome.tenant_id} {outcome.job} (run {outcome.run_id}): {outcome.error}",
                          highlight=False)
    if failed and once:
        raise typer.Exit(code=1)
