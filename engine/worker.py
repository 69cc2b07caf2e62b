"""``guanxi worker``: runs every tenant's jobs when they are due, and the runs
requested through the API (QUEUED), ``concurrency`` at a time in threads.

One round: sweep runs abandoned by dead workers, claim QUEUED runs (oldest
first), then due scheduled jobs (longest overdue first), until the free
threads are used; each claimed job runs in its own thread and its own tenant
transaction (``gx.tenant(tenant_id, actor="worker")``) while the worker keeps
its lease alive. Claims, leases and schedules are read and written in the
engine's system session (engine/job_leases.py). A job's failure is recorded
on its run and touches nothing else: the tenant's other jobs run, the worker
goes on.

Stopping (``stop()``, SIGTERM or SIGINT in the CLI): the first call stops
claiming and lets running jobs finish; a second gives their runs back at
once (a requested run returns to the queue, a scheduled one is recorded
FAILED and is due again) and returns, leaving the caller to exit.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine import job_leases, job_runs, metrics
from engine.db import allow_batch_statements
from engine.errors import FieldError, ValidationFailed
from engine.job_leases import Claim
from engine.job_models import FAILED, MANUAL, SUCCEEDED
from engine.job_schedule import due_jobs
from engine.jobs import REQUEST_JOBS, find_job, installed_jobs, jobs_for
from engine.types import utcnow

log = logging.getLogger("guanxi.worker")

WORKER_ACTOR = "worker"
DEFAULT_POLL_SECONDS = 30.0
DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_KEEP_DAYS = 30
PRUNE_EVERY_SECONDS = 3600.0
SKIPPED, LOST = "SKIPPED", "LOST"  # outcomes that are not run statuses


@dataclass
class Outcome:
    """How one claimed run ended (status: SUCCEEDED, FAILED, or LOST when the
    worker lost its lease and the run's work was rolled back; SKIPPED for a
    manual run of a job running elsewhere)."""

    run_id: int | None
    tenant_id: int
    job: str
    trigger: str
    status: str
    value: Any = None  # what the job returned
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0


def new_worker_id(kind: str = "worker") -> str:
    return f"{kind}:{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(self, gx, *, concurrency: int = 1, poll_seconds: float = DEFAULT_POLL_SECONDS,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS, clock: Callable[[], datetime] = utcnow,
                 tenants: Iterable[str | int] | None = None, schedule: bool = True, queue: bool = True,
                 keep_days: int | None = DEFAULT_KEEP_DAYS, worker_id: str | None = None,
                 heartbeat_seconds: float | None = None, on_outcome: Callable[[Outcome], None] | None = None):
        """``clock`` decides what is due and when leases run out (tests inject
        one); ``tenants`` (slugs or ids) limits the worker to those tenants;
        ``schedule``/``queue``: whether it runs due jobs / QUEUED runs;
        ``heartbeat_seconds``: how often (real time) running jobs' leases are
        renewed, default a third of ``lease_seconds``."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.gx = gx
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds or max(lease_seconds / 3, 0.01)
        self.clock = clock
        self.schedule = schedule
        self.queue = queue
        self.keep_days = keep_days
        self.worker_id = worker_id or new_worker_id()
        self.on_outcome = on_outcome
        self._tenant_refs = None if tenants is None else list(tenants)
        self._tenant_ids: set[int] | None = None
        self._state = threading.Condition()
        self._running: dict[int, Claim] = {}
        self._stop_requests = 0
        self._generation = 0  # bumped when a job ends or a stop is asked for
        self._last_prune = float("-inf")

    # -- control ----------------------------------------------------------------------
    def stop(self) -> None:
        """First call: claim nothing more, let running jobs finish. Second: give them back now."""
        with self._state:
            self._stop_requests += 1
            self._generation += 1
            self._state.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop_requests > 0

    @property
    def stop_requests(self) -> int:
        return self._stop_requests

    @property
    def running(self) -> list[Claim]:
        with self._state:
            return list(self._running.values())

    # -- entry points -------------------------------------------------------------------
    def run_once(self) -> list[Outcome]:
        """Run what is due and what is queued now, then return (cron, tests).
        Each (tenant, job) runs at most once per call."""
        self._prune()
        ran: set[tuple[int, str]] = set()
        return self._loop(lambda free: self._claim(free, ran), once=True)

    def run_forever(self) -> list[Outcome]:
        """Poll every ``poll_seconds`` until stopped; returns the outcomes of its runs."""
        log.info("worker started", extra={"fields": {"worker": self.worker_id, "concurrency": self.concurrency}})
        outcomes = self._loop(lambda free: self._claim(free), once=False)
        log.info("worker stopped", extra={"fields": {"worker": self.worker_id, "runs": len(outcomes)}})
        return outcomes

    def run_claims(self, claim_next: Callable[[int], list[Claim]]) -> list[Outcome]:
        """Run what ``claim_next(free)`` hands out until it hands out nothing (manual runs)."""
        return self._loop(claim_next, once=True)

    # -- the loop -----------------------------------------------------------------------
    def _loop(self, claim: Callable[[int], list[Claim]], once: bool) -> list[Outcome]:
        outcomes: list[Outcome] = []
        threads: list[threading.Thread] = []
        beat_every = self.heartbeat_seconds
        last_beat = time.monotonic()
        while True:
            with self._state:
                generation = self._generation
            claimed: list[Claim] = []
            free = self.concurrency - len(self.running)
            if not self.stopping and free > 0:
                try:
                    claimed = claim(free)
                except Exception:
                    if once:
                        self._wait_for(threads)
                        raise
                    log.exception("claiming jobs failed; retrying at the next poll")
                for item in claimed:
                    with self._state:
                        self._running[item.run_id] = item
                    thread = threading.Thread(target=self._run_claim, args=(item, outcomes), daemon=True,
                                              name=f"guanxi-job-{item.run_id}")
                    threads.append(thread)
                    thread.start()
            with self._state:
                if self._stop_requests > 1:
                    break
                busy = bool(self._running)
                if not busy and (self.stopping or (once and not claimed)):
                    break
                more_to_claim = claimed and len(self._running) < self.concurrency and not self.stopping
                if not more_to_claim and self._generation == generation:
                    # Until a job ends, a stop, the next heartbeat or the next poll.
                    self._state.wait(min(self.poll_seconds, beat_every) if busy else self.poll_seconds)
            if time.monotonic() - last_beat >= beat_every:
                self._heartbeat()
                last_beat = time.monotonic()
            if not once and time.monotonic() - self._last_prune >= PRUNE_EVERY_SECONDS:
                self._prune()
        if self._stop_requests > 1:
            self._give_back()
        return outcomes

    @staticmethod
    def _wait_for(threads: list[threading.Thread]) -> None:
        for thread in threads:
            thread.join()

    # -- claiming ------------------------------------------------------------------------
    def tenant_ids(self) -> set[int] | None:
        if self._tenant_refs is not None and self._tenant_ids is None:
            self._tenant_ids = {self.gx.tenant_id(ref) for ref in self._tenant_refs}
        return self._tenant_ids

    def _claim(self, free: int, once_only: set[tuple[int, str]] | None = None) -> list[Claim]:
        now = self.clock()
        tenants = self.tenant_ids()
        with self.gx.system() as session:
            for run_id in job_leases.sweep(session, now, tenants):
                log.warning("run abandoned by its worker", extra={"fields": {"run_id": run_id}})
        claims: list[Claim] = []
        if self.queue:
            with self.gx.system() as session:
                claims += job_leases.claim_queued(session, self.worker_id, now, self.lease_seconds, free, tenants)
        if self.schedule and len(claims) < free:
            with self.gx.system(write=False) as session:
                due = due_jobs(session, self.gx.plugins, now, tenants)
            if once_only is not None:
                due = [d for d in due if (d.tenant_id, d.job.name) not in once_only]
            if due:
                new = [(d.tenant_id, d.job.name) for d in due if d.since is None]
                if new:  # jobs that never ran may have no lease row yet
                    with self.gx.system() as session:
                        job_leases.ensure(session, new)
                with self.gx.system() as session:
                    for item in due:
                        if len(claims) == free:
                            break
                        got = job_leases.claim_due(session, item, self.worker_id, now, self.lease_seconds)
                        if got is not None:
                            claims.append(got)
        if once_only is not None:
            once_only.update((c.tenant_id, c.job) for c in claims)
        return claims

    def _heartbeat(self) -> None:
        running = self.running
        if not running:
            return
        try:
            with self.gx.system() as session:
                held = job_leases.heartbeat(session, self.worker_id, [c.run_id for c in running], self.clock(),
                                            self.lease_seconds)
        except Exception:
            log.exception("renewing leases failed; retrying")
            return
        still_running = {c.run_id for c in self.running}
        for claim in running:
            if claim.run_id not in held and claim.run_id in still_running:
                log.warning("lease lost while the job runs; its work will be rolled back",
                            extra={"fields": {"run_id": claim.run_id, "job": claim.job, "tenant_id": claim.tenant_id}})

    def _prune(self) -> None:
        self._last_prune = time.monotonic()
        if self.keep_days is None:
            return
        try:
            with self.gx.system() as session:
                removed = job_runs.prune(session, self.clock() - timedelta(days=self.keep_days), self.tenant_ids())
        except Exception:
            log.exception("pruning old job runs failed")
            return
        if removed:
            log.info("pruned old job runs", extra={"fields": {"removed": removed, "keep_days": self.keep_days}})

    def _give_back(self) -> None:
        running = self.running
        if not running:
            return
        try:
            with self.gx.system() as session:
                for claim in running:
                    job_leases.give_back(session, claim, self.worker_id, self.clock())
        except Exception:
            # SQLite: the running job holds the write lock. Its lease runs out; the next sweep records it.
            log.exception("giving runs back failed: their leases run out and the next sweep records them")
            return
        log.warning("stopped with jobs running: their runs were given back",
                    extra={"fields": {"runs": [c.run_id for c in running]}})

    # -- running one ---------------------------------------------------------------------
    def _runner(self, claim: Claim) -> Callable[[Any, dict], Any]:
        request = REQUEST_JOBS.get(claim.job)
        if request is not None:
            return request.run
        job = installed_jobs(self.gx.plugins).get(claim.job)
        if job is None:
            raise ValidationFailed([FieldError("job", f"no installed plugin provides job {claim.job!r}")])

        def run(ctx, _params):
            if job.module not in ctx.enabled_modules:
                raise ValidationFailed([FieldError("job", f"module {job.module!r} is not enabled for this tenant")])
            return job.run(ctx)

        return run

    def execute(self, claim: Claim) -> Outcome:
        """Run a claimed job in its tenant's transaction and record how it ended."""
        started = time.perf_counter()
        outcome = Outcome(claim.run_id, claim.tenant_id, claim.job, claim.trigger, SUCCEEDED)
        try:
            runner = self._runner(claim)
            with self.gx.tenant(claim.tenant_id, actor=WORKER_ACTOR) as ctx:
                allow_batch_statements(ctx.session, self.gx.settings.job_statement_timeout_ms)
                outcome.value = runner(ctx, claim.params)
                # In the job's own transaction: the run says SUCCEEDED exactly when its work is committed.
                job_runs.mark_succeeded(ctx.session, claim.run_id, self.worker_id, job_runs.result_of(outcome.value),
                                        self.clock())
        except job_runs.LeaseLost as error:
            outcome.status, outcome.error = LOST, str(error)
            return self._finish(outcome, started)
        except Exception as error:
            outcome.status = FAILED
            outcome.error, outcome.traceback = job_runs.describe_failure(error)
        try:
            with self.gx.system() as session:
                now = self.clock()
                if outcome.status == FAILED:
                    job_runs.mark_failed(session, claim.run_id, self.worker_id, outcome.error, outcome.traceback, now)
                job_leases.release(session, claim, now)
        except Exception:
            # The lease runs out and the sweep records the run FAILED if this did not.
            log.exception("recording the end of a run failed", extra={"fields": {"run_id": claim.run_id}})
        return self._finish(outcome, started)

    def _finish(self, outcome: Outcome, started: float) -> Outcome:
        outcome.seconds = time.perf_counter() - started
        metrics.job_ended(outcome.job, outcome.status, outcome.seconds)
        level = logging.INFO if outcome.status == SUCCEEDED else logging.WARNING
        log.log(level, "job run ended", extra={"fields": {
            "run_id": outcome.run_id, "tenant_id": outcome.tenant_id, "job": outcome.job, "status": outcome.status,
            "seconds": round(outcome.seconds, 3), **({"error": outcome.error} if outcome.error else {})}})
        return outcome

    def _run_claim(self, claim: Claim, outcomes: list[Outcome]) -> None:
        outcome = None
        try:
            outcome = self.execute(claim)
            if self.on_outcome is not None and self._stop_requests < 2:
                self.on_outcome(outcome)
        finally:
            with self._state:
                if outcome is not None and self._stop_requests < 2:  # after a forced stop the run was given back
                    outcomes.append(outcome)
                self._running.pop(claim.run_id, None)
                self._generation += 1
                self._state.notify_all()


def run_now(gx, tenant: str | int, names: list[str] | None = None, requested_by: str = "cli",
            lease_seconds: float = DEFAULT_LEASE_SECONDS, on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run a tenant's jobs (all, or ``names``) now, one after the other, each
    recorded as a MANUAL run; a job running elsewhere at that moment is
    SKIPPED. Unknown names fail before anything runs (ValidationFailed on
    ``job``, listing the tenant's jobs)."""
    from engine.services.modules import enabled_modules

    tenant_id = gx.tenant_id(tenant)
    with gx.tenant(tenant_id, write=False) as ctx:
        enabled = enabled_modules(ctx.session, ctx.tenant_id) & frozenset(gx.plugins.modules)
        label = ctx.tenant.slug
    if names:
        jobs = [find_job(gx.plugins, enabled, name, label) for name in dict.fromkeys(names)]
    else:
        jobs = jobs_for(gx.plugins, enabled)
    worker = Worker(gx, lease_seconds=lease_seconds, worker_id=new_worker_id("manual"), schedule=False, queue=False)
    todo = list(jobs)
    skipped: list[Outcome] = []

    def claim_next(free: int) -> list[Claim]:
        while todo and free:
            job = todo.pop(0)
            with gx.system() as session:
                job_leases.ensure(session, [(tenant_id, job.name)])
            with gx.system() as session:
                got = job_leases.claim_now(session, tenant_id, job.name, MANUAL, worker.worker_id, worker.clock(),
                                           lease_seconds, requested_by[:64])
            if got is not None:
                return [got]
            outcome = Outcome(None, tenant_id, job.name, MANUAL, SKIPPED, error="already running elsewhere")
            skipped.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return []

    worker.on_outcome = on_outcome
    ran = worker.run_claims(claim_next)
    order = {job.name: i for i, job in enumerate(jobs)}
    return sorted(ran + skipped, key=lambda o: order.get(o.job, 0))
