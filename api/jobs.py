"""Jobs in GraphQL: the tenant's jobs and their schedule (``jobs``,
``setJobSchedule``), their recorded runs (``jobRuns``, ``jobRun``,
``node(id:)``), and scoring requested as a job (``runScoring`` enqueues a run
and returns it at once; the client polls it until SUCCEEDED or FAILED)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from typing import Annotated, Optional

import strawberry
from sqlmodel import Session
from strawberry.scalars import JSON

from api.ids import decode_id, to_global_id
from api.inputs import RunScoringInput
from api.mutations import guarded
from api.pagination import Cursors, Keyset, Page, Slice, fetch_page, page_slice, wants_total
from api.types import ERRORS, INPUT, After, Before, Error, First, Last, Node, PageInfo
from engine import job_runs
from engine import input_bounds
from engine.enums import Role
from engine.errors import FieldError, ValidationFailed
from engine.job_models import API, JobRun as JobRunRow
from engine.job_schedule import JobView, set_schedule, tenant_jobs
from engine.jobs import SCORING, find_job
from engine.services import audit

# Scoring as of a moment a little ahead of the server's clock is a client's
# clock running fast, not a request for the future.
AS_OF_SKEW = timedelta(minutes=5)
EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=timezone.utc)


@strawberry.enum(description="Where a run is: QUEUED (waiting for a worker), RUNNING, SUCCEEDED or FAILED (see error).")
class JobRunStatus(enum.Enum):
    QUEUED = strawberry.enum_value("QUEUED", description="Waiting for a worker.")
    RUNNING = strawberry.enum_value("RUNNING", description="A worker is running it.")
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="Done: its result (and reports) are readable.")
    FAILED = strawberry.enum_value("FAILED", description="It failed: `error` says why.")


@strawberry.enum(description="What started a run: the worker's SCHEDULE, a MANUAL `guanxi jobs run`, or an API request.")
class JobTrigger(enum.Enum):
    SCHEDULE = strawberry.enum_value("SCHEDULE", description="The worker ran it on the job's schedule.")
    MANUAL = strawberry.enum_value("MANUAL", description="Someone ran it with `guanxi jobs run`.")
    API = strawberry.enum_value("API", description="An API request (runScoring, runJob) asked for it.")


@strawberry.type(description="What one module's scoring did in a run.")
class ScoreReport:
    module: str = strawberry.field(description="The module scored, such as rfm.")
    scored: int = strawberry.field(description="Customers given a score.")
    unscored: int = strawberry.field(description="Customers the module did not score (RFM: no purchase in the window): no score, not zeros.")
    details: JSON = strawberry.field(description="The module's own figures for the run (JSON), such as the CLV model's fit.")
    warnings: list[str] = strawberry.field(description="What the module noticed and scored anyway, for people (English).")


@strawberry.type(description="One run of a job for this tenant: scheduled, run by hand, or requested (runScoring).")
class JobRun(Node):
    @strawberry.field(description="The run's global id.")
    def id(self: JobRunRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("JobRun", self.id))

    job: str = strawberry.field(description="The job run, such as rfm.rescore or scoring.")
    requested_by: Optional[str] = strawberry.field(description="Who asked for it (an actor, as in audit events); null for scheduled runs.")
    params: JSON = strawberry.field(description="The run's parameters (JSON), such as the modules and asOf of a scoring run.")
    created_at: datetime = strawberry.field(description="When the run was queued (UTC).")
    started_at: Optional[datetime] = strawberry.field(description="When a worker started it; null while QUEUED.")
    finished_at: Optional[datetime] = strawberry.field(description="When it SUCCEEDED or FAILED; null before.")

    @strawberry.field(description="Where the run is.")
    def status(self: JobRunRow) -> JobRunStatus:
        return JobRunStatus(self.status)

    @strawberry.field(description="What started it.")
    def trigger(self: JobRunRow) -> JobTrigger:
        return JobTrigger(self.trigger)

    @strawberry.field(description="What the job returned (JSON), once SUCCEEDED.")
    def result(self: JobRunRow) -> Optional[JSON]:
        return self.result

    @strawberry.field(description="Why it FAILED: the job's own message (e.g. \"as_of: the tenant has no purchases up to this time\").")
    def error(self: JobRunRow) -> Optional[str]:
        return self.error

    @strawberry.field(description="A scoring run's reports, one per module scored (empty until it SUCCEEDED).")
    def reports(self: JobRunRow) -> list[ScoreReport]:
        found = self.result.get("reports") if isinstance(self.result, dict) and self.job == SCORING else None
        return [ScoreReport(module=r["module"], scored=r["scored"], unscored=r.get("unscored", 0),
                            details=r.get("details") or {}, warnings=r.get("warnings") or []) for r in found or []]

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, JobRunRow)


@strawberry.type(description="A job run in a page, with its cursor.")
class JobRunEdge:
    cursor: str = strawberry.field(description="The position of this run, for `after`.")
    node: JobRun = strawberry.field(description="The run.")


@strawberry.type(description="A page of job runs, newest first.")
class JobRunConnection:
    edges: list[JobRunEdge] = strawberry.field(description="The runs of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(description="Runs matching the filter (counted only when selected).")


@strawberry.type(description="A periodic job of one of the tenant's modules, and when it runs for this tenant.")
class Job:
    @strawberry.field(description="The job's name, such as rfm.rescore.")
    def name(self: JobView) -> str:
        return self.name

    @strawberry.field(description="The module that declares it.")
    def module(self: JobView) -> str:
        return self.job.module

    @strawberry.field(description="The interval in force: the tenant's override, else the job's default.")
    def every_minutes(self: JobView) -> int:
        return self.every_minutes

    @strawberry.field(description="The interval the module declares.")
    def default_every_minutes(self: JobView) -> int:
        return self.job.every_minutes

    @strawberry.field(description="This tenant's interval, when it overrides the default.")
    def override_every_minutes(self: JobView) -> Optional[int]:
        return self.override_minutes

    @strawberry.field(description="Paused for this tenant: the worker does not run it.")
    def paused(self: JobView) -> bool:
        return self.paused

    @strawberry.field(description="When a worker runs it next (null when paused; now when it never ran).")
    def next_due_at(self: JobView) -> Optional[datetime]:
        return self.next_due_at

    @strawberry.field(description="A worker is running it now.")
    def running(self: JobView) -> bool:
        return self.running

    @strawberry.field(description="Its latest run for this tenant; null before the first.")
    def last_run(self: JobView) -> Optional[JobRun]:
        return self.last_run


@strawberry.input(description="A job's schedule for this tenant, as a whole: everyMinutes null (or left out) is the job's default interval.")
class SetJobScheduleInput:
    job: str = strawberry.field(description="The job's name, such as rfm.rescore (see `jobs`).")
    every_minutes: Optional[int] = strawberry.field(default=None, description="The interval in minutes, positive; null or left out: the job's default.")
    paused: bool = strawberry.field(default=False, description="Pause the job for this tenant (default false).")


@strawberry.type(description="The result of runScoring.")
class RunScoringPayload:
    job: Optional[JobRun] = strawberry.field(default=None, description="The queued run: poll jobRun(id:) or node(id:) until SUCCEEDED or FAILED.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A job to run now for this tenant.")
class RunJobInput:
    job: str = strawberry.field(description="The job's name, such as rfm.rescore (see `jobs`).")


@strawberry.type(description="The result of runJob.")
class RunJobPayload:
    job: Optional[JobRun] = strawberry.field(default=None, description="The queued run: poll jobRun(id:) until SUCCEEDED or FAILED.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of setJobSchedule.")
class JobSchedulePayload:
    job: Optional[Job] = strawberry.field(default=None, description="The job with its new schedule.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


# -- reads ------------------------------------------------------------------------------


RUNS = Keyset("ID:DESC", JobRunRow.id, True)


def runs_page(session: Session, tenant_id: int, cursors: Cursors, page: Slice,
              job: str | None, status: JobRunStatus | None, with_total: bool = True) -> Page:
    status_code = status.value if status is not None else None
    count = (lambda: job_runs.count_runs(session, tenant_id, job, status_code)) if with_total else None
    return fetch_page(session, job_runs.runs_query(tenant_id, job, status_code), RUNS, cursors, page, count)


async def load_run(info: strawberry.Info, pk: int) -> JobRunRow | None:
    """The caller's tenant's run ``pk`` (analysts and up); None for another tenant's."""
    ctx = info.context
    ctx.require(Role.ANALYST, "reading job runs")
    return await ctx.read(lambda s: job_runs.get_run(s, ctx.tenant_id, pk))


@strawberry.type
class JobsQuery:
    @strawberry.field(description="This tenant's job runs, newest first (scheduled, manual and requested). Analysts and up.")
    async def job_runs(
        self, info: strawberry.Info, first: First = None, after: After = None,
        job: Annotated[Optional[str], strawberry.argument(description="Only runs of this job, such as rfm.rescore.")] = None,
        status: Annotated[Optional[JobRunStatus], strawberry.argument(description="Only runs in this status.")] = None,
        last: Last = None, before: Before = None,
    ) -> JobRunConnection:
        ctx = info.context
        ctx.require(Role.ANALYST, "reading job runs")
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: runs_page(s, ctx.tenant_id, ctx.cursors, page, job, status, total))

    @strawberry.field(description="One job run by id (null when it is not this tenant's). Analysts and up.")
    async def job_run(
        self, info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The run's global id.")]
    ) -> Optional[JobRun]:
        pk = decode_id(id, "JobRun")
        if pk is None:
            info.context.require(Role.ANALYST, "reading job runs")
            return None
        return await load_run(info, pk)

    @strawberry.field(description="The periodic jobs of this tenant's modules: interval, override, next due, last run. Analysts and up.")
    async def jobs(self, info: strawberry.Info) -> list[Job]:
        ctx = info.context
        ctx.require(Role.ANALYST, "reading jobs")
        modules = ctx.principal.modules
        return await ctx.read(lambda s: tenant_jobs(s, ctx.gx.plugins, ctx.tenant_id, modules))


# -- mutations --------------------------------------------------------------------------


def _as_of(value: datetime | None, tenant_zone: str) -> datetime | None:
    """``asOf`` checked: aware (the tenant's local time when it has no offset), not in the future, not before 1970."""
    if value is None:
        return None
    value = input_bounds.bounded_time("as_of", value, tenant_zone)  # 0001-01-01 and 9999-12-31T23:59:59-12:00 included
    now = datetime.now(timezone.utc)
    if value > now + AS_OF_SKEW:
        raise ValidationFailed([FieldError("as_of", f"{value.isoformat()} is in the future (now is {now.isoformat(timespec='seconds')}); "
                                                    "scoring counts what has happened up to asOf")])
    if value < EARLIEST_AS_OF:
        raise ValidationFailed([FieldError("as_of", "must be after 1970-01-01")])
    return value


@strawberry.type
class JobsMutation:
    @strawberry.mutation(description="Request batch scoring: checks the input at once, then queues a run and returns it. "
                                     "Poll jobRun(id:) until SUCCEEDED (reports) or FAILED (error); each module's results are replaced atomically.")
    async def run_scoring(self, info: strawberry.Info, input: Annotated[RunScoringInput, INPUT]) -> RunScoringPayload:
        ctx = info.context
        ctx.require(Role.ANALYST, "running scoring")
        names = list(dict.fromkeys(name.strip().lower() for name in input.modules)) if input.modules else None

        def work(tc):
            if names:
                missing = [name for name in names if name not in tc.enabled_modules]
                if missing:
                    raise ValidationFailed([FieldError("modules", f"not enabled for this tenant: {', '.join(missing)}")])
            elif not tc.enabled_modules:
                raise ValidationFailed([FieldError("modules", "this tenant has no module enabled: nothing to score")])
            as_of = _as_of(input.as_of, tc.tenant.timezone)
            params = {"modules": names, "as_of": as_of.isoformat() if as_of else None}
            run = job_runs.enqueue(tc.session, tc.tenant_id, SCORING, API, tc.actor, params)
            audit.record(tc.session, tc.tenant_id, tc.actor, "scoring.request", "JobRun", run.id, {"modules": names})
            return {"job": run}

        result = await guarded(ctx, work)
        if result.get("job") is not None and ctx.jobs is not None:
            ctx.jobs.kick()  # the API runs it itself unless GUANXI_API_RUNS_JOBS=false
        return RunScoringPayload(**result)

    @strawberry.mutation(description="Run one of the tenant's periodic jobs now (as `guanxi jobs run --job` does): queues a run "
                                     "and returns it; poll jobRun(id:) until SUCCEEDED or FAILED. It runs after a run of the same "
                                     "job already under way. Admins only.")
    async def run_job(self, info: strawberry.Info, input: Annotated[RunJobInput, INPUT]) -> RunJobPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "running jobs")

        def work(tc):
            job = find_job(tc.plugins, tc.enabled_modules, input.job.strip(), tc.tenant.slug)
            run = job_runs.enqueue(tc.session, tc.tenant_id, job.name, API, tc.actor)
            audit.record(tc.session, tc.tenant_id, tc.actor, "job.request", "JobRun", run.id, {"job": job.name})
            return {"job": run}

        result = await guarded(ctx, work)
        if result.get("job") is not None and ctx.jobs is not None:
            ctx.jobs.kick()
        return RunJobPayload(**result)

    @strawberry.mutation(description="Set a job's schedule for this tenant: its interval (null: the job's default) and whether it is paused. Admins only.")
    async def set_job_schedule(self, info: strawberry.Info, input: Annotated[SetJobScheduleInput, INPUT]) -> JobSchedulePayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "scheduling jobs")

        def work(tc):
            view = set_schedule(tc.session, tc.plugins, tc.tenant_id, tc.tenant.slug, tc.enabled_modules, input.job,
                                every_minutes=input.every_minutes, paused=input.paused, actor=tc.actor)
            return {"job": view}

        return JobSchedulePayload(**await guarded(ctx, work))

