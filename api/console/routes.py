"""The console's HTTP side: its page, its files, sign-in and sign-out, and
its GraphQL door.

- ``GET /console/``: the page (api/console/page.py); ``/console`` redirects there.
- ``GET /console/static/{name}``: its files (api/console/assets.py).
- ``POST /console/session`` ``{"key": "gx_..."}``: sign in. The key is checked
  once and forgotten; the browser gets a session cookie (HttpOnly,
  SameSite=Strict, Secure when served over TLS) and the CSRF token.
  ``GET`` answers whether and as whom the browser is signed in (and the CSRF
  token again, for a reloaded page); ``DELETE`` signs out.
- ``POST /console/graphql``: the public API's own endpoint, run as the
  session's key. There is no second permission system: the console can show
  and do exactly what its key can through ``/graphql``. Every request must
  carry the CSRF token in ``X-CSRF-Token``.

- ``GET /console/export/{customers.csv|interactions.csv|segments/CODE.xlsx}``:
  the exports of api/export_endpoint.py (same parameters, role rule and
  audit) as the session's key. A GET with no side effect but its audit
  record, so it needs no CSRF token (the cookie is SameSite=Strict).
- ``POST /console/import/{customers|interactions}?name=FILE``: the body is a
  CSV or XLSX file, imported by the CLI's service (api/console/imports.py);
  admins, with the CSRF token.

The cookie is honoured only here: ``/graphql`` and ``/export`` still want
``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api.auth import principal_for_key
from api.console import imports
from api.console.assets import assets
from api.console.page import page_response
from api.context import Principal
from api.endpoint import UNAVAILABLE_ERRORS, GraphQLEndpoint, database_unavailable, error_response, rate_limited
from api.export_endpoint import ExportEndpoint
from api.errors import BAD_REQUEST, FORBIDDEN, UNAUTHENTICATED
from api.threads import run_db
from engine.services.console_sessions import SESSION_LIFETIME, close_session, csrf_matches, csrf_token, find_session_key, open_session
from engine.services.keys import find_key, needs_touch, touch

log = logging.getLogger("guanxi.console")
COOKIE = "guanxi_console"
CSRF_HEADER = "x-csrf-token"


class Console:
    def __init__(self, graphql: GraphQLEndpoint):
        self.graphql, self.gx = graphql, graphql.gx
        self._exports: ExportEndpoint | None = None  # built on the first download

    # --- the page and its files -------------------------------------------------

    async def redirect(self, _request: Request) -> Response:
        return RedirectResponse("console/", status_code=308)  # relative: a proxy's path prefix carries over

    async def page(self, _request: Request) -> Response:
        return page_response()

    # --- sessions ---------------------------------------------------------------

    async def session(self, request: Request) -> Response:
        try:
            if request.method == "POST":
                return await self._sign_in(request)
            token = request.cookies.get(COOKIE, "")
            if request.method == "DELETE":
                if not token or not csrf_matches(token, request.headers.get(CSRF_HEADER)):
                    return error_response("sign-out needs the session's CSRF token", FORBIDDEN, 403)
                await run_db(self.gx, self._close, token)
                response = JSONResponse({"signedIn": False})
                response.delete_cookie(COOKIE, path="/", samesite="strict", httponly=True)
                return response
            principal = await self._principal(token)
            if principal is None:  # a question, not a failure: 200, so a fresh page logs no error
                return JSONResponse({"signedIn": False}, headers={"Cache-Control": "no-store"})
            return JSONResponse({"signedIn": True, "csrf": csrf_token(token), "role": principal.role.code,
                                 "tenant": principal.tenant.slug if principal.tenant else None},
                                headers={"Cache-Control": "no-store"})
        except UNAVAILABLE_ERRORS:
            log.exception("console session: database error")
            return database_unavailable()

    async def _sign_in(self, request: Request) -> Response:
        refused = self.graphql.refused_anonymous(request)  # guesses count against the address's limit
        if refused is not None:
            return refused
        # JSON only: another site's form or no-cors fetch cannot send it, so it
        # cannot sign a visitor in with the attacker's key (login CSRF).
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return error_response("send the key as JSON: Content-Type: application/json", BAD_REQUEST, 415)
        try:
            body = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError):
            return error_response("request body is not valid JSON", BAD_REQUEST, 400)
        secret = body.get("key") if isinstance(body, dict) else None
        if not isinstance(secret, str) or not secret.strip():
            return error_response("key: enter an API key", BAD_REQUEST, 400, field="key")
        token = await run_db(self.gx, self._open, secret.strip())
        if token is None:
            return error_response("key: invalid or revoked API key", UNAUTHENTICATED, 401, field="key")
        response = JSONResponse({"signedIn": True, "csrf": csrf_token(token)}, headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    def _open(self, secret: str) -> str | None:
        with self.gx.system() as session:  # the key names the tenant: no tenant yet
            key = find_key(session, secret)
            if key is None:
                return None
            touch(session, key.id)
            return open_session(session, key)

    def _close(self, token: str) -> None:
        with self.gx.system() as session:
            close_session(session, token)

    def _load(self, token: str) -> Principal | None:
        """The session's principal; records the key's use as /graphql does (at most a write a minute)."""
        with self.gx.system(write=False) as session:
            key = find_session_key(session, token)
            principal = None if key is None else principal_for_key(self.gx, session, key)
        if principal is not None and needs_touch(key):
            with self.gx.system() as session:
                touch(session, key.id)
        return principal

    async def _principal(self, token: str) -> Principal | None:
        return await run_db(self.gx, self._load, token) if token else None

    # --- GraphQL ----------------------------------------------------------------

    async def graphql_request(self, request: Request) -> Response:
        token = request.cookies.get(COOKIE, "")
        if token and not csrf_matches(token, request.headers.get(CSRF_HEADER)):
            return error_response("missing or wrong CSRF token: send the session's X-CSRF-Token", FORBIDDEN, 403)
        body = await self.graphql.payload(request)
        if isinstance(body, Response):
            return body
        try:
            principal, decision = await run_db(self.gx, lambda: self.graphql.counted(self._load(token) if token else None))
        except UNAVAILABLE_ERRORS:
            log.exception("console request: database error")
            return database_unavailable()
        if principal is None:
            return _signed_out()
        return await self.graphql.execute(request, body, principal, decision)

    # --- files: exports (GET, no side effect but the audit record) and imports ---

    async def _session_principal(self, request: Request) -> Principal | Response:
        token = request.cookies.get(COOKIE, "")
        try:
            principal, decision = await run_db(self.gx, lambda: self.graphql.counted(self._load(token) if token else None))
        except UNAVAILABLE_ERRORS:
            log.exception("console request: database error")
            return database_unavailable()
        if principal is None:
            return _signed_out()
        if decision is not None and not decision.allowed:
            return rate_limited(decision, "this API key")
        return principal

    async def export(self, request: Request) -> Response:
        """GET /console/export/customers.csv (segments/CODE.xlsx, interactions.csv): api/export_endpoint.py as the session's key."""
        principal = await self._session_principal(request)
        if isinstance(principal, Response):
            return principal
        if self._exports is None:
            self._exports = ExportEndpoint(self.gx, self.graphql.schemas)
        return await self._exports.as_principal(request, principal, request.path_params["path"])

    async def import_file(self, request: Request) -> Response:
        """POST /console/import/customers?name=...: api/console/imports.py, CSRF-checked."""
        token = request.cookies.get(COOKIE, "")
        if not token or not csrf_matches(token, request.headers.get(CSRF_HEADER)):
            return error_response("missing or wrong CSRF token: send the session's X-CSRF-Token", FORBIDDEN, 403)
        principal = await self._session_principal(request)
        if isinstance(principal, Response):
            return principal
        return await imports.upload(self.gx, request, principal)

    def routes(self) -> list[Route]:
        return [
            Route("/console", self.redirect, methods=["GET"]),
            Route("/console/", self.page, methods=["GET"]),
            Route("/console/static/{name:path}", assets.serve, methods=["GET"]),
            Route("/console/session", self.session, methods=["GET", "POST", "DELETE"]),
            Route("/console/graphql", self.graphql_request, methods=["POST"]),
            Route("/console/export/{path:path}", self.export, methods=["GET"]),
            Route("/console/import/{kind}", self.import_file, methods=["POST"]),
        ]


def _signed_out() -> Response:
    return error_response("not signed in, or the session has ended: sign in again", UNAUTHENTICATED, 401)
