"""CSV import of customers and interactions: chunked, with progress, resumable.

Each chunk is stored in one transaction together with the job's progress
counter, so an import killed at any point and started again resumes after
the last committed chunk and ends with every row stored exactly once.
Invalid rows are skipped and reported with their line number and reasons.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from engine.bulk import insert_rows, refresh_stale_statistics
from engine.errors import FieldError, ValidationFailed
from engine.models import Customer, ImportJob
from engine.runtime import Guanxi
from engine.services import audit
from engine.services.customers import CustomerInput, parse_customer_input, phone_region
from engine.services.interactions import ALLOWED_KEYS as INTERACTION_COLUMNS
from engine.services.interactions import record_interactions
from engine.services.search import index_tags, with_search_columns
from engine.types import utcnow

IMPORT_CHUNK = 5_000
CUSTOMER_COLUMNS = frozenset(CustomerInput.model_fields) | {"referrer_code"}
LIST_SEPARATOR = "|"


@dataclass
class ImportReport:
    kind: str
    file: str
    rows_total: int = 0
    rows_stored: int = 0
    rows_duplicate: int = 0
    rows_invalid: int = 0
    resumed_from: int = 0
    already_done: bool = False
    invalid: list[tuple[int, list[FieldError]]] = field(default_factory=list)  # (line, errors), first 100


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _rows(path: Path, allowed: frozenset[str]) -> tuple[list[str], Iterator[dict[str, str]]]:
    handle = path.open(newline="", encoding="utf-8-sig")
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in allowed]
    if unknown:
        handle.close()
        raise ValidationFailed([FieldError(name, f"unknown column in {path.name}") for name in unknown])
    return header, reader


def count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def _customer_from_csv(row: dict[str, str]) -> dict:
    """CSV text to service input: empty cells are unset, lists use '|'."""
    data: dict = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        if key == "tags":
            data[key] = [tag for tag in value.split(LIST_SEPARATOR) if tag.strip()]
        elif key == "consent":
            data[key] = {channel.strip(): True for channel in value.split(LIST_SEPARATOR) if channel.strip()}
        elif key == "attributes":
            data[key] = json.loads(value)
        else:
            data[key] = value
    return data


def _interaction_from_csv(row: dict[str, str]) -> dict:
    data = {key: value for key, value in row.items() if value not in (None, "")}
    if "payload" in data:
        data["payload"] = json.loads(data["payload"])
    return data


def import_csv(
    gx: Guanxi,
    tenant: str,
    kind: str,
    path: Path,
    actor: str = "cli",
    chunk_size: int = IMPORT_CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import ``path`` (kind ``customers`` or ``interactions``) into ``tenant``."""
    if kind not in ("customers", "interactions"):
        raise ValidationFailed([FieldError("kind", "must be customers or interactions")])
    if not path.is_file():
        raise ValidationFailed([FieldError("file", f"{path} does not exist")])
    allowed = CUSTOMER_COLUMNS if kind == "customers" else INTERACTION_COLUMNS
    digest = file_sha256(path)
    report = ImportReport(kind=kind, file=str(path), rows_total=count_rows(path))
    tenant = gx.tenant_id(tenant)  # once: each chunk opens the tenant's session by id
    job_id = _start_job(gx, tenant, kind, digest, path)
    with gx.tenant(tenant, write=False) as ctx:
        job = ctx.session.get(ImportJob, job_id)
        start_at = job.rows_done
        if job.status == "DONE":
            report.already_done = True
            report.rows_stored, report.rows_duplicate, report.rows_invalid = job.rows_stored, job.rows_duplicate, job.rows_invalid
            return report
    report.resumed_from = start_at
    _, rows = _rows(path, allowed)
    convert = _customer_from_csv if kind == "customers" else _interaction_from_csv
    store = _store_customers if kind == "customers" else _store_interactions
    if on_progress:
        on_progress(start_at, report.rows_total)
    line = 1  # the header
    chunk: list[tuple[int, dict | Exception]] = []
    done = 0
    for row in rows:
        line += 1
        done += 1
        if done <= start_at:
            continue
        try:
            chunk.append((line, convert(row)))
        except (ValueError, json.JSONDecodeError) as error:
            chunk.append((line, error))
        if len(chunk) >= chunk_size:
            _commit_chunk(gx, tenant, job_id, chunk, store, report, actor)
            if on_progress:
                on_progress(done, report.rows_total)
            chunk = []
    if chunk:
        _commit_chunk(gx, tenant, job_id, chunk, store, report, actor)
    with gx.tenant(tenant, actor=actor) as ctx:
        session = ctx.session
        job = session.get(ImportJob, job_id)
        job.status, job.finished_at = "DONE", utcnow()
        report.rows_stored, report.rows_duplicate, report.rows_invalid = job.rows_stored, job.rows_duplicate, job.rows_invalid
        audit.record(session, job.tenant_id, actor, f"import.{kind}", "ImportJob", job.id,
                     {"file": path.name, "stored": job.rows_stored, "duplicates": job.rows_duplicate, "invalid": job.rows_invalid})
    if on_progress:
        on_progress(report.rows_total, report.rows_total)
    return report


def _start_job(gx: Guanxi, tenant: int, kind: str, digest: str, path: Path) -> int:
    with gx.tenant(tenant) as ctx:
        job = ctx.session.execute(
            select(ImportJob).where(ImportJob.tenant_id == ctx.tenant_id, ImportJob.kind == kind, ImportJob.file_sha256 == digest)
        ).scalars().first()
        if job is None:
            job = ImportJob(tenant_id=ctx.tenant_id, kind=kind, file_sha256=digest, file_name=path.name)
            ctx.session.add(job)
            ctx.session.flush()
        return job.id


def _commit_chunk(gx, tenant, job_id, chunk, store, report: ImportReport, actor: str) -> None:
    """Store one chunk and advance the job's counter in the same transaction."""
    with gx.tenant(tenant, actor=actor) as ctx:
        invalid: list[tuple[int, list[FieldError]]] = []
        parsed = []
        for line, item in chunk:
            if isinstance(item, Exception):
                invalid.append((line, [FieldError("", f"unreadable row: {item}")]))
            else:
                parsed.append((line, item))
        stored, duplicates, bad = store(ctx, parsed)
        invalid.extend(bad)
        job = ctx.session.get(ImportJob, job_id)
        job.rows_done += len(chunk)
        job.rows_stored += stored
        job.rows_duplicate += duplicates
        job.rows_invalid += len(invalid)
        ctx.session.add(job)
    report.rows_stored += stored
    report.rows_duplicate += duplicates
    report.rows_invalid += len(invalid)
    room = 100 - len(report.invalid)
    report.invalid.extend(sorted(invalid)[: max(room, 0)])


def _store_interactions(ctx, parsed: list[tuple[int, dict]]):
    result = record_interactions(ctx, [item for _, item in parsed])
    lines = [line for line, _ in parsed]
    invalid = [(lines[index], errors) for index, errors in result.errors.items()]
    return len(result.recorded), len(result.duplicates), invalid


def _store_customers(ctx, parsed: list[tuple[int, dict]]):
    """Insert new customers; a code already stored (or earlier in the file) is a duplicate."""
    session: Session = ctx.session
    refresh_stale_statistics(session, ("customers",))
    tenant_filter = Customer.tenant_id == ctx.tenant_id
    invalid, rows = [], []
    region = phone_region(ctx)
    for line, data in parsed:
        referrer_code = data.pop("referrer_code", None)
        try:
            values = parse_customer_input(data, region).model_dump(exclude_none=True)
        except ValidationFailed as error:
            invalid.append((line, error.errors))
            continue
        rows.append((line, values, referrer_code))

    codes = {values["code"] for _, values, _ in rows if values.get("code")}
    codes |= {referrer for _, _, referrer in rows if referrer}
    stored_ids: dict[str, int] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), 900):
        stored_ids.update(session.execute(
            select(Customer.code, Customer.id).where(tenant_filter, Customer.code.in_(ordered[start:start + 900]))
        ).all())

    phones_used = _live_phones(session, ctx.tenant_id, [values["phone"] for _, values, _ in rows if values.get("phone")])
    fresh, duplicates, seen = [], 0, set()
    for line, values, referrer in rows:
        code = values.get("code")
        if code and (code in stored_ids or code in seen):
            duplicates += 1
            continue
        if referrer and referrer not in stored_ids and referrer not in seen:
            invalid.append((line, [FieldError("referrer_code", f"no customer with code {referrer!r} in this tenant", "NOT_FOUND")]))
            continue
        phone = values.get("phone")
        if phone and phone in phones_used:  # one live customer per phone (docs/customers.md)
            invalid.append((line, [FieldError("phone", f"phone {phone} is already used by {phones_used[phone]}", "CONFLICT")]))
            continue
        if code:
            seen.add(code)
        if phone:
            phones_used[phone] = f"line {line} of this file"
        fresh.append((values, referrer))
    if not fresh:
        return 0, duplicates, invalid

    now = utcnow()
    new_ids = insert_rows(session, Customer.__table__, [
        with_search_columns(Customer(tenant_id=ctx.tenant_id, created_at=now, updated_at=now, **values).model_dump(exclude={"id"}))
        for values, _ in fresh
    ])
    index_tags(session, ctx.tenant_id, [(new_id, values.get("tags")) for new_id, (values, _) in zip(new_ids, fresh)])
    # Referrers may be rows of this very chunk: link them once all exist.
    links = [(new_id, referrer) for new_id, (_, referrer) in zip(new_ids, fresh) if referrer]
    if links:
        ids = dict(session.execute(
            select(Customer.code, Customer.id).where(tenant_filter, Customer.code.in_({r for _, r in links}))
        ).all())
        session.execute(
            update(Customer.__table__).where(Customer.__table__.c.id == bindparam("b_id")).values(referrer_id=bindparam("b_referrer")),
            [{"b_id": new_id, "b_referrer": ids[referrer]} for new_id, referrer in links],
            execution_options={"synchronize_session": False},
        )
    return len(fresh), duplicates, invalid


def _live_phones(session: Session, tenant_id: int, phones: list[str]) -> dict[str, str]:
    """Phones already held by a live customer of the tenant -> who holds them."""
    used: dict[str, str] = {}
    ordered = sorted(set(phones))
    for start in range(0, len(ordered), 900):
        for phone, code, pk in session.execute(
            select(Customer.phone, Customer.code, Customer.id).where(
                Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None), Customer.phone.in_(ordered[start:start + 900]))
        ).all():
            used[phone] = f"customer {code!r}" if code else f"customer {pk} (no code)"
    return used
