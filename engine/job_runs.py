"""Job runs as stored: requesting one (QUEUED), recording how it ended, and
reading them back (newest first). Results are kept as JSON; failures as a
message and, for unexpected ones, the last frames of the traceback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import traceback as tb
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.errors import GuanxiError
from engine.job_models import FAILED, FINISHED, QUEUED, RUNNING, STATUSES, SUCCEEDED, JobRun

MAX_RESULT_CHARS = 64_000  # a larger result is kept as a truncated text summary
MAX_ERROR_CHARS = 2_000
TRACEBACK_FRAMES = 6

RUNS = JobRun.__table__


class LeaseLost(RuntimeError):
    """The run is no longer this worker's (its lease ran out and the run was
    taken back): its work is rolled back rather than committed."""


def enqueue(session: Session, tenant_id: int, job: str, trigger: str, requested_by: str | None,
            params: dict | None = None) -> JobRun:
    """A QUEUED run, in the caller's transaction; a worker (or the API's own
    runner) claims it once the transaction commits."""
    from engine.job_leases import ensure

    run = JobRun(tenant_id=tenant_id, job=job, trigger=trigger, status=QUEUED, requested_by=requested_by,
                 params=jsonable(params or {}))
    session.add(run)
    ensure(session, [(tenant_id, job)])  # here rather than in a worker's claim (see ensure)
    session.flush()
    return run


def mark_succeeded(session: Session, run_id: int, worker_id: str, result: Any, finished_at: dt.datetime) -> None:
    """Record success in the job's own transaction, so that the run says
    SUCCEEDED exactly when its work is committed. Raises LeaseLost when the run
    is no longer this worker's (the caller's transaction must then roll back)."""
    done = session.execute(
        sa.update(RUNS).where(RUNS.c.id == run_id, RUNS.c.status == RUNNING, RUNS.c.worker_id == worker_id)
        .values(status=SUCCEEDED, finished_at=finished_at, result=result, error=None, traceback=None)
    ).rowcount
    if done != 1:
        raise LeaseLost(f"run {run_id} is no longer held by {worker_id}")


def mark_failed(session: Session, run_id: int, worker_id: str | None, error: str, traceback: str | None,
                finished_at: dt.datetime) -> bool:
    """Record a failure (in its own transaction: the job's was rolled back)."""
    condition = [RUNS.c.id == run_id, RUNS.c.status == RUNNING]
    if worker_id is not None:
        condition.append(RUNS.c.worker_id == worker_id)
    return session.execute(
        sa.update(RUNS).where(*condition).values(status=FAILED, finished_at=finished_at, error=error[:MAX_ERROR_CHARS],
                                                 traceback=traceback)
    ).rowcount == 1


def describe_failure(error: BaseException) -> tuple[str, str | None]:
    """(message, traceback) of a job's exception. An expected failure (a
    GuanxiError: "as_of: the tenant has no purchases up to this time") is its
    message alone; anything else is a bug in the job: its type and message,
    and the last frames of where it happened."""
    if isinstance(error, GuanxiError):
        return str(error), None
    message = f"{type(error).__name__}: {error}"
    frames = tb.format_exception(type(error), error, error.__traceback__, limit=-TRACEBACK_FRAMES)
    return message, "".join(frames)[-MAX_ERROR_CHARS * 2:]


def jsonable(value: Any) -> Any:
    """A job's return value as JSON: dataclasses as objects, numbers and
    times as JSON numbers and ISO strings, anything else as its text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def result_of(value: Any) -> Any:
    """What is stored for a job's return value: JSON, or a truncated text
    summary when the JSON would be too large to keep."""
    result = jsonable(value)
    text = json.dumps(result, ensure_ascii=False, default=str)
    if len(text) > MAX_RESULT_CHARS:
        return text[:MAX_RESULT_CHARS] + " … (truncated)"
    return result


def summary(run: JobRun, width: int = 120) -> str:
    """One line for listings: the error of a failed run, else its result."""
    if run.status == FAILED:
        text = run.error or ""
    elif run.result is None:
        text = ""
    else:
        text = run.result if isinstance(run.result, str) else json.dumps(run.result, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- reading ------------------------------------------------------------------------


def get_run(session: Session, tenant_id: int, run_id: int) -> JobRun | None:
    """The tenant's run ``run_id`` (None when there is none, or it is another tenant's)."""
    run = session.get(JobRun, run_id)
    return run if run is not None and run.tenant_id == tenant_id else None


def _filters(tenant_id: int, job: str | None, status: str | None) -> list:
    conditions = [RUNS.c.tenant_id == tenant_id]
    if job:
        conditions.append(RUNS.c.job == job)
    if status:
        conditions.append(RUNS.c.status == status)
    return conditions


def list_runs(session: Session, tenant_id: int, job: str | None = None, status: str | None = None,
              limit: int = 20, before_id: int | None = None) -> list[JobRun]:
    """The tenant's runs, newest first (``before_id``: those older than that run)."""
    query = runs_query(tenant_id, job, status)
    if before_id is not None:
        query = query.where(JobRun.id < before_id)
    return list(session.execute(query.order_by(JobRun.id.desc()).limit(limit)).scalars())


def runs_query(tenant_id: int, job: str | None = None, status: str | None = None) -> sa.Select:
    """The tenant's runs (of one job, in one status), unordered."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return sa.select(JobRun).where(*_filters(tenant_id, job, status))


def count_runs(session: Session, tenant_id: int, job: str | None = None, status: str | None = None) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(RUNS).where(*_filters(tenant_id, job, status))).scalar_one()


def last_runs(session: Session, tenant_id: int) -> dict[str, JobRun]:
    """The newest run of each of the tenant's jobs, by job name."""
    newest = sa.select(sa.func.max(RUNS.c.id)).where(RUNS.c.tenant_id == tenant_id).group_by(RUNS.c.job)
    rows = session.execute(sa.select(JobRun).where(JobRun.tenant_id == tenant_id, JobRun.id.in_(newest))).scalars()
    return {run.job: run for run in rows}


def prune(session: Session, older_than: dt.datetime, tenant_ids: set[int] | None = None) -> int:
    """Delete finished runs older than ``older_than``, keeping each (tenant,
    job)'s newest run so listings still show when a job last ran."""
    newest = sa.select(sa.func.max(RUNS.c.id)).group_by(RUNS.c.tenant_id, RUNS.c.job)
    conditions = [RUNS.c.status.in_(FINISHED), RUNS.c.finished_at < older_than, RUNS.c.id.not_in(newest)]
    if tenant_ids is not None:
        conditions.append(RUNS.c.tenant_id.in_(tenant_ids))
    return session.execute(sa.delete(RUNS).where(*conditions)).rowcount or 0


def is_finished(run: JobRun) -> bool:
    return run.status in FINISHED

