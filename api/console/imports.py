"""``POST /console/import/{customers|interactions}``: a file uploaded from the
console, imported by the CLI's own service (engine/services/importer.py,
``guanxi import``), as the session's key.

Why an upload route and not a GraphQL mutation taking the file's text: the
importer reads the file's bytes as they were saved. It detects GB18030/GBK
(what Excel writes as "CSV" in a Chinese locale) and reads XLSX workbooks;
a browser reading a file as text would decode GBK wrongly, and an XLSX is
not text at all (base64 in a JSON string would cost a third more of the
1 MB GraphQL body cap). So the body is the file itself (any content type),
up to ``MAX_IMPORT_BYTES``; the file's name comes in ``?name=`` (its
extension says CSV or XLSX, and it names the file in messages), the
customers' mode in ``?mode=upsert|insert``.

The rules are the CLI's and the API's: admins only (a tenant's key), the
session's CSRF token in ``X-CSRF-Token`` (checked by the caller), every row
checked by the same services, rejected rows listed with their line and
reason, an audit event ``import.customers`` / ``import.interactions`` with the
key as actor, and a file already imported (same content) stores nothing
again. The answer (JSON) is the import's summary, the first rejected rows,
and the whole reject file as CSV text (to save from the page).
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.context import RANK, Principal
from api.endpoint import UNAVAILABLE_ERRORS, database_unavailable, error_response
from api.errors import FORBIDDEN
from api.threads import run_db
from engine.enums import Role
from engine.errors import GuanxiError
from engine.runtime import Guanxi
from engine.services.importer import KINDS, ImportReport, import_file

log = logging.getLogger("guanxi.console")
MAX_IMPORT_BYTES = 10_000_000  # about 60,000 customers; larger files: guanxi import (resumable, with progress)
MAX_REJECTS_CSV = 2_000_000  # the reject file returned inline up to this size
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_name(name: str | None, kind: str) -> str:
    """The uploaded file's name, reduced to a plain file name (never a path)."""
    base = _UNSAFE.sub("_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")[:120]
    if not base:
        base = f"{kind}.csv"
    if Path(base).suffix.lower() not in SUFFIXES:
        base += ".csv"
    return base


async def _read_capped(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _errors(error: GuanxiError, status: int = 400) -> JSONResponse:
    return JSONResponse({"errors": [{"message": str(e), "extensions": {"code": e.code, "field": e.field}}
                                    for e in error.errors]}, status_code=status)


def summary(report: ImportReport, rejects_csv: str | None) -> dict:
    return {
        "kind": report.kind, "file": Path(report.file).name, "mode": report.mode, "encoding": report.encoding,
        "rowsTotal": report.rows_total, "stored": report.rows_stored, "updated": report.rows_updated,
        "duplicates": report.rows_duplicate, "rejected": report.rows_invalid, "alreadyDone": report.already_done,
        "rejects": [{"line": line, "errors": [{"field": e.field, "message": e.message, "code": e.code} for e in errors]}
                    for line, errors in report.invalid],
        "rejectsCsv": rejects_csv,
    }


def _run(gx: Guanxi, principal: Principal, kind: str, name: str, mode: str | None, body: bytes) -> dict:
    with tempfile.TemporaryDirectory(prefix="guanxi-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(body)
        report = import_file(gx, principal.tenant.slug, kind, path, actor=principal.actor, mode=mode)
        rejects = None
        if report.reject_file is not None and report.reject_file.stat().st_size <= MAX_REJECTS_CSV:
            rejects = report.reject_file.read_text(encoding="utf-8-sig")
        return summary(report, rejects)


async def upload(gx: Guanxi, request: Request, principal: Principal) -> Response:
    """Import the request's body as ``principal`` (authenticated and CSRF-checked by the caller)."""
    kind = request.path_params["kind"]
    if kind not in KINDS:
        return error_response(f"no import {kind!r}: customers or interactions", "NOT_FOUND", 404)
    if principal.tenant is None:
        return error_response("imports are into one tenant: use a tenant's key", FORBIDDEN, 403)
    if RANK.get(principal.role, -1) < RANK[Role.ADMIN]:
        return error_response(f"importing files needs the admin role or higher; this key is {principal.role.code.lower()}",
                              FORBIDDEN, 403)
    request.state.tenant = principal.tenant.slug
    body = await _read_capped(request)
    if body is None:
        return error_response(f"file: over {MAX_IMPORT_BYTES:,} bytes; import larger files with `guanxi import`",
                              "PAYLOAD_TOO_LARGE", 413, field="file")
    if not body:
        return error_response("file: the file is empty", "BAD_USER_INPUT", 400, field="file")
    name = safe_name(request.query_params.get("name"), kind)
    mode = request.query_params.get("mode") or None
    try:
        result = await run_db(gx, _run, gx, principal, kind, name, mode, body)
    except GuanxiError as error:  # the file as a whole: unreadable, unknown columns, a bad mode, stopped part-way
        return _errors(error)
    except UNAVAILABLE_ERRORS:
        log.exception("console import: database error")
        return database_unavailable()
    return JSONResponse(result, headers={"Cache-Control": "no-store"})
