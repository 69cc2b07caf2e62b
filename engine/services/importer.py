"""File import of customers and interactions: chunked, with progress, resumable.

Each chunk is stored in one transaction together with the job's progress
counter, so an import killed at any point and started again resumes after
the last committed chunk and ends with every row stored exactly once.

Everything wrong is per row: a row the services refuse, a row of garbage
(see import_files) and a row the database refuses all end in the reject file
(import_rejects) with their line and reason, and the other rows are stored.
An import that fails as a whole (the database went away, say) marks its job
FAILED with a reason that quotes no row; running it again resumes it.
Interactions without an ``external_id`` get a derived one (import_keys), so
importing a corrected file again stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from engine.errors import FieldError, GuanxiError, ValidationFailed
from engine.models import ImportJob
from engine.runtime import Guanxi
from engine.services import audit
from engine.services.import_customers import CUSTOMER_COLUMNS, customer_from_row, store_customers
from engine.services.import_files import BadRow, TableFile, file_sha256, open_table
from engine.services.import_keys import KeyDeriver
from engine.services.import_rejects import REJECT_COLUMNS, RejectFile, reason_text
from engine.services.import_results import StoreResult
from engine.services.interactions import ALLOWED_KEYS as INTERACTION_COLUMNS
from engine.services.interactions import record_interactions
from engine.types import utcnow

IMPORT_CHUNK = 5_000
REPORT_LIMIT = 200  # rejected rows kept in the report (the reject file has them all)
KINDS = ("customers", "interactions")
MODES = ("upsert", "insert")
DEFAULT_MODE = "upsert"


class ImportFailed(GuanxiError):
    """The import stopped as a whole; its job is FAILED and a rerun resumes it."""

    code = "IMPORT_FAILED"


@dataclass
class ImportReport:
    kind: str
    file: str
    mode: str | None = None
    encoding: str = ""
    rows_total: int = 0
    rows_stored: int = 0
    rows_updated: int = 0
    rows_duplicate: int = 0
    rows_invalid: int = 0  # rejected
    resumed_from: int = 0
    already_done: bool = False
    reject_file: Path | None = None
    invalid: list[tuple[int, list[FieldError]]] = field(default_factory=list)  # (line, errors), the first REPORT_LIMIT


@dataclass
class Row:
    """One data row on its way in: its line, the cells as read, and the service's input or what is wrong."""

    line: int
    raw: dict[str, str]
    item: dict | None
    errors: list[FieldError] | None = None


def import_file(
    gx: Guanxi,
    tenant: str,
    kind: str,
    path: Path,
    actor: str = "cli",
    chunk_size: int = IMPORT_CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
    mode: str | None = None,
) -> ImportReport:
    """Import ``path`` (CSV or XLSX; kind ``customers`` or ``interactions``) into ``tenant``.

    ``mode`` (customers only): ``upsert`` (default) updates the changed fields
    of a customer whose code is already stored, ``insert`` counts it a duplicate.
    Raises ValidationFailed when the file cannot be imported at all, ImportFailed
    when the import stopped part-way (resumable).
    """
    if kind not in KINDS:
        raise ValidationFailed([FieldError("kind", "must be customers or interactions")])
    if kind == "customers":
        mode = mode or DEFAULT_MODE
        if mode not in MODES:
            raise ValidationFailed([FieldError("mode", f"must be one of {', '.join(MODES)}")])
    else:
        mode = None
    table = open_table(path)
    _check_columns(table, CUSTOMER_COLUMNS if kind == "customers" else INTERACTION_COLUMNS)
    report = ImportReport(kind=kind, file=str(path), mode=mode, encoding=table.encoding, rows_total=table.count())
    tenant_id = gx.tenant_id(tenant)  # once: each chunk opens the tenant's session by id
    job_id, start_at = _start_job(gx, tenant_id, kind, mode, table, report)
    if report.already_done:
        return report
    report.resumed_from = start_at
    try:
        _run(gx, tenant_id, kind, mode, table, job_id, start_at, report, actor, chunk_size, on_progress)
    except Exception as error:  # not BaseException: a kill (KeyboardInterrupt) leaves it RUNNING, to resume
        # Anything but a kill: say why without quoting data (a database error's
        # text carries the statement's parameters, i.e. someone's personal data).
        reason = (str(error) if isinstance(error, GuanxiError) else type(error).__name__)[:500]
        _end_job(gx, tenant_id, job_id, "FAILED", actor, kind, path, failure=reason)
        raise ImportFailed([FieldError("file", f"{path.name}: the import stopped ({reason}); "
                                       "rows up to the last committed chunk are stored, run it again to resume")]) from None
    return report


def _check_columns(table: TableFile, allowed: frozenset[str]) -> None:
    unknown = [name for name in table.header if name not in allowed and name not in REJECT_COLUMNS]
    repeated = sorted({name for name in table.header if table.header.count(name) > 1})
    errors = [FieldError(name, f"unknown column in {table.path.name}") for name in unknown]
    errors += [FieldError(name, f"column named twice in {table.path.name}") for name in repeated]
    if errors:
        raise ValidationFailed(errors)


def _start_job(gx: Guanxi, tenant_id: int, kind: str, mode: str | None, table: TableFile, report: ImportReport):
    """The file's job (by content): new, resumed (RUNNING after a kill, or FAILED), or done."""
    digest = file_sha256(table.path)
    with gx.tenant(tenant_id) as ctx:
        job = ctx.session.execute(
            select(ImportJob).where(ImportJob.tenant_id == ctx.tenant_id, ImportJob.kind == kind, ImportJob.file_sha256 == digest)
        ).scalars().first()
        if job is None:
            job = ImportJob(tenant_id=ctx.tenant_id, kind=kind, file_sha256=digest, file_name=table.path.name[:500], mode=mode)
        elif job.status == "DONE" and job.mode == mode:
            report.already_done = True
            report.rows_stored, report.rows_updated = job.rows_stored, job.rows_updated
            report.rows_duplicate, report.rows_invalid = job.rows_duplicate, job.rows_invalid
            return job.id, job.rows_done
        elif job.status == "DONE":  # the same file again in another mode: a new run
            job.rows_done = job.rows_stored = job.rows_updated = job.rows_duplicate = job.rows_invalid = 0
            job.mode, job.started_at, job.finished_at = mode, utcnow(), None
        job.status, job.failure = "RUNNING", None
        ctx.session.add(job)
        ctx.session.flush()
        return job.id, job.rows_done


def _run(gx, tenant_id, kind, mode, table: TableFile, job_id, start_at, report: ImportReport, actor, chunk_size, on_progress):
    with gx.tenant(tenant_id, write=False) as ctx:
        tz = ZoneInfo(ctx.tenant.timezone)
    keys = KeyDeriver(tz) if kind == "interactions" else None
    convert = customer_from_row if kind == "customers" else _interaction_from_row
    if on_progress:
        on_progress(start_at, report.rows_total)
    rejects: RejectFile | None = None
    chunk: list[Row] = []
    last_skipped = None
    for done, (line, values) in enumerate(table.rows(), start=1):
        raw = values.raw if isinstance(values, BadRow) else values
        key = keys.key(raw) if keys is not None and not raw.get("external_id", "").strip() else None
        if done <= start_at:
            last_skipped = line  # keys above: the occurrence counter needs the rows before too
            continue
        if rejects is None:
            rejects = RejectFile(table.path, table.header, last_skipped)
        chunk.append(_row(line, values, key, convert))
        if len(chunk) >= chunk_size:
            _commit_chunk(gx, tenant_id, job_id, chunk, kind, mode, report, actor, rejects)
            if on_progress:
                on_progress(done, report.rows_total)
            chunk = []
    if rejects is None:
        rejects = RejectFile(table.path, table.header, last_skipped)
    if chunk:
        _commit_chunk(gx, tenant_id, job_id, chunk, kind, mode, report, actor, rejects)
    job = _end_job(gx, tenant_id, job_id, "DONE", actor, kind, table.path)
    report.rows_stored, report.rows_updated = job["rows_stored"], job["rows_updated"]
    report.rows_duplicate, report.rows_invalid = job["rows_duplicate"], job["rows_invalid"]
    report.reject_file = rejects.path if rejects.path.exists() else None
    if on_progress:
        on_progress(report.rows_total, report.rows_total)


def _row(line: int, values: dict[str, str] | BadRow, key: str | None, convert) -> Row:
    if isinstance(values, BadRow):
        return Row(line, values.raw, None, values.errors)
    try:
        item = convert(values)
    except ValidationFailed as error:
        return Row(line, values, None, error.errors)
    if key is not None:
        item["external_id"] = key
    return Row(line, values, item)


def _interaction_from_row(row: dict[str, str]) -> dict:
    data = {key: value for key, value in row.items() if value not in (None, "") and key not in REJECT_COLUMNS}
    if "payload" in data:
        try:
            data["payload"] = json.loads(data["payload"])
        except ValueError:
            raise ValidationFailed([FieldError("payload", "is not valid JSON")]) from None
    return data


def _end_job(gx, tenant_id, job_id, status, actor, kind, path: Path, failure: str | None = None) -> dict:
    with gx.tenant(tenant_id, actor=actor) as ctx:
        job = ctx.session.get(ImportJob, job_id)
        job.status, job.finished_at, job.failure = status, utcnow(), failure
        ctx.session.add(job)
        counts = {"rows_stored": job.rows_stored, "rows_updated": job.rows_updated,
                  "rows_duplicate": job.rows_duplicate, "rows_invalid": job.rows_invalid}
        audit.record(ctx.session, job.tenant_id, actor, f"import.{kind}" if status == "DONE" else f"import.{kind}.failed",
                     "ImportJob", job.id, {"file": path.name[:200], "status": status, **counts})
    return counts


def _commit_chunk(gx, tenant_id, job_id, chunk: list[Row], kind, mode, report: ImportReport, actor, rejects: RejectFile) -> None:
    """Store one chunk and advance the job's counter in the same transaction;
    its rejected rows reach the reject file before the commit."""
    with gx.tenant(tenant_id, actor=actor) as ctx:
        invalid = [(row.line, row.errors) for row in chunk if row.errors]
        good = [row for row in chunk if not row.errors]
        result = _store_guarded(ctx, kind, mode, good)
        invalid.extend(result.invalid)
        by_line = {row.line: row for row in chunk}
        rejects.write([(line, by_line[line].raw, reason_text(errors)) for line, errors in invalid])
        job = ctx.session.get(ImportJob, job_id)
        job.rows_done += len(chunk)
        job.rows_stored += result.stored
        job.rows_updated += result.updated
        job.rows_duplicate += result.duplicates
        job.rows_invalid += len(invalid)
        ctx.session.add(job)
    report.rows_stored += result.stored
    report.rows_updated += result.updated
    report.rows_duplicate += result.duplicates
    report.rows_invalid += len(invalid)
    room = REPORT_LIMIT - len(report.invalid)
    report.invalid.extend(sorted(invalid, key=lambda pair: pair[0])[: max(room, 0)])


def _store(ctx, kind: str, mode: str | None, rows: list[Row]) -> StoreResult:
    parsed = [(row.line, row.item) for row in rows]
    if kind == "customers":
        return store_customers(ctx, parsed, mode)
    return _store_interactions(ctx, parsed)


# What the database says about a value (too long, NUL, out of range, a
# constraint), as opposed to about itself (gone, locked): those fail the import.
REFUSED_DATA = (DataError, IntegrityError)


def _store_guarded(ctx, kind, mode, rows: list[Row]) -> StoreResult:
    """The chunk at once; if the database refuses a value or a plugin raises,
    row by row, so the one bad row is rejected and the others stored (never
    the same failure on every rerun)."""
    savepoint = ctx.session.begin_nested()
    try:
        result = _store(ctx, kind, mode, rows)
        savepoint.commit()
        return result
    except (*REFUSED_DATA, GuanxiError):
        savepoint.rollback()
    total = StoreResult()
    for row in rows:
        savepoint = ctx.session.begin_nested()
        try:
            one = _store(ctx, kind, mode, [row])
            savepoint.commit()
        except GuanxiError as error:
            savepoint.rollback()
            one = StoreResult(invalid=[(row.line, error.errors)])
        except REFUSED_DATA as error:
            savepoint.rollback()
            cause = type(getattr(error, "orig", None) or error).__name__
            one = StoreResult(invalid=[(row.line, [FieldError("", f"the database refused the row ({cause})", "REFUSED")])])
        total.add(one)
    return total


def _store_interactions(ctx, parsed: list[tuple[int, dict]]) -> StoreResult:
    result = record_interactions(ctx, [item for _, item in parsed])
    lines = [line for line, _ in parsed]
    invalid = [(lines[index], errors) for index, errors in result.errors.items()]
    return StoreResult(stored=len(result.recorded), duplicates=len(result.duplicates), invalid=invalid)
