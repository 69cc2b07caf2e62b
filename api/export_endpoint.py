"""Streamed downloads for analysts and admins:

    GET /export/customers.csv?where=<CustomerWhere JSON>
    GET /export/segments/CHAMPIONS.xlsx
    GET /export/interactions.csv?since=2026-01-01&until=2026-01-31&kind=PURCHASE&customer=C001

with the API key in ``Authorization: Bearer``. The format is the path's
extension (``?format=csv|xlsx`` overrides it; default CSV). Everything is
checked before the first byte goes out, so a mistake is a 4xx JSON error
naming the field; then a CSV streams page by page, while an XLSX, zipped
only at its end, is built in a temporary file and then streamed. Each export
leaves an audit event (``export.customers``, ...): who, which filters, how
many rows, and whether the download completed.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Iterator

import anyio
from starlette.concurrency import iterate_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.auth import bearer_token, load_principal
from api.context import RANK, Principal
from api.endpoint import UNAVAILABLE_ERRORS, database_unavailable, error_response
from api.errors import FORBIDDEN, UNAUTHENTICATED
from api.export_where import CustomerWhereParser, leaf_paths, parse_json
from api.schema import SchemaCache
from api.threads import run_db
from engine.enums import Role
from engine.errors import GuanxiError
from engine.runtime import Guanxi
from engine.services import export as exports

log = logging.getLogger("guanxi.api")
CHUNK = 256 * 1024
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _invalid(error: GuanxiError, status: int = 400) -> JSONResponse:
    return JSONResponse({"errors": [{"message": str(e), "extensions": {"code": e.code, "field": e.field}}
                                    for e in error.errors]}, status_code=status)


def _split(name: str, fmt: str | None) -> tuple[str, str]:
    """('customers', 'csv') from 'customers.csv' and the ?format= parameter."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    return stem, exports.check_format(fmt or extension or "csv")


class ExportEndpoint:
    def __init__(self, gx: Guanxi, schemas: SchemaCache):
        self.gx = gx
        self.where = CustomerWhereParser(gx.plugins, schemas)

    async def named(self, request: Request) -> Response:
        """/export/customers.csv, /export/interactions.xlsx"""
        name = request.path_params["name"]
        return await self._serve(request, name.partition(".")[0], name)

    async def segment(self, request: Request) -> Response:
        """/export/segments/CHAMPIONS.csv"""
        return await self._serve(request, "segment", request.path_params["name"])

    async def as_principal(self, request: Request, principal: Principal, path: str) -> Response:
        """``path`` (customers.csv, interactions.xlsx, segments/CODE.csv) for a
        caller already authenticated another way (the console's session,
        api/console/routes.py): the same checks, role rule and audit."""
        folder, slash, name = path.rpartition("/")
        if slash and folder != "segments":
            return error_response(f"no export {path!r}", "NOT_FOUND", 404)
        return await self._serve(request, "segment" if slash else name.partition(".")[0], name, principal)

    async def _serve(self, request: Request, kind: str, name: str, principal: Principal | None = None) -> Response:
        try:
            return await self._answer(request, kind, name, principal)
        except UNAVAILABLE_ERRORS:  # before the first byte; a failure mid-stream cuts the download
            log.exception("export failed: database error")
            return database_unavailable()

    async def _answer(self, request: Request, kind: str, name: str, principal: Principal | None) -> Response:
        principal = await self._principal(request) if principal is None else self._allowed(request, principal)
        if isinstance(principal, Response):
            return principal
        try:
            stem, fmt = _split(name, request.query_params.get("format"))
            if kind not in ("customers", "interactions", "segment") or (kind != "segment" and stem != kind):
                return error_response(f"no export {name!r}: /export/customers.csv, /export/interactions.csv "
                                      "or /export/segments/CODE.csv (or .xlsx)", "NOT_FOUND", 404)
            export = await run_db(self.gx, self._prepare, principal, kind, stem, request.query_params)
        except GuanxiError as error:
            return _invalid(error)
        filename = f"{kind if kind != 'segment' else 'segment-' + stem.upper()}-{principal.tenant.slug}.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        chunks = self._csv(export) if fmt == "csv" else await self._xlsx(export)
        if isinstance(chunks, Response):
            return chunks
        return ClosingStreamingResponse(self._audited(chunks, principal, export, fmt), media_type=MEDIA_TYPES[fmt],
                                        headers=headers)

    async def _principal(self, request: Request) -> Principal | Response:
        secret = bearer_token(request.headers.get("authorization"))
        principal = await run_db(self.gx, load_principal, self.gx, secret) if secret else None
        if principal is None:
            message = "missing API key: send Authorization: Bearer <key>" if not secret else "invalid or revoked API key"
            return error_response(message, UNAUTHENTICATED, 401, {"WWW-Authenticate": "Bearer"})
        return self._allowed(request, principal)

    @staticmethod
    def _allowed(request: Request, principal: Principal) -> Principal | Response:
        """The role rule: a tenant's analyst or higher."""
        if principal.tenant is None:
            return error_response("exports are of one tenant's data: use a tenant's key", FORBIDDEN, 403)
        if RANK.get(principal.role, -1) < RANK[Role.ANALYST]:
            return error_response(f"exporting data needs the analyst role or higher; this key is "
                                  f"{principal.role.code.lower()}", FORBIDDEN, 403)
        request.state.tenant = principal.tenant.slug
        return principal

    def _prepare(self, principal: Principal, kind: str, stem: str, params) -> exports.Export:
        """Check the parameters and set the export up (in a worker thread)."""
        gx, tenant_id = self.gx, principal.tenant_id
        if kind == "interactions":
            with gx.tenant(tenant_id, write=False) as ctx:
                where = exports.interaction_filter(ctx, params.get("since"), params.get("until"),
                                                   [k for value in params.getlist("kind") for k in value.split(",") if k],
                                                   params.get("customer"))
            return exports.interaction_export(gx, tenant_id, where)
        where = parse_json(params.get("where"))
        segment = stem if kind == "segment" else None
        condition = self.where.condition(principal.modules, where, gx.engine.dialect.name, tenant_id, segment)
        filters = {"where": leaf_paths(where)} if where else {}
        if segment:
            filters["segment"] = segment.upper()
        return exports.customer_export(gx, tenant_id, condition, filters)

    def _csv(self, export: exports.Export) -> AsyncIterator[bytes]:
        return _in_threads(exports.csv_chunks(export))

    async def _xlsx(self, export: exports.Export) -> AsyncIterator[bytes] | Response:
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        try:
            await run_db(self.gx, exports.write_xlsx, export, spool)
        except GuanxiError as error:
            spool.close()
            return _invalid(error, 413 if any(e.code == "TOO_LARGE" for e in error.errors) else 400)
        spool.seek(0)
        return _in_threads(_read(spool))

    async def _audited(self, chunks: AsyncIterator[bytes], principal: Principal, export: exports.Export,
                       fmt: str) -> AsyncIterator[bytes]:
        complete = False
        try:
            async for chunk in chunks:
                yield chunk
            complete = True
        finally:
            with anyio.CancelScope(shield=True):  # a client that hung up is audited too
                await chunks.aclose()
                await run_db(self.gx, exports.record_export, self.gx, principal.tenant_id, principal.actor, export,
                             fmt, complete)


class ClosingStreamingResponse(StreamingResponse):
    """Closes its body when the response ends, also when the client hung up
    (Starlette leaves an abandoned body to the garbage collector)."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


async def _in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` read in worker threads; closed as soon as the response ends,
    so a client that hangs up ends the database read (and frees its
    connection) at once, not whenever the generator is collected."""
    try:
        async for chunk in iterate_in_threadpool(chunks):
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)


def _read(spool) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(CHUNK):
            yield chunk
