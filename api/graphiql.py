"""GraphiQL served from the package: the page a browser gets on GET /graphql
and its files under /graphiql/, so the IDE works with no internet (a public
CDN is often unreachable from mainland China and never from an air-gapped
store network).

The browser files are vendored from their npm releases in api/static/graphiql
(VENDOR.md; ``make vendor-graphiql`` re-fetches them). The page refers to
them with relative URLs, and GraphiQL posts to the page's own URL, so it works
behind a reverse proxy that adds a path prefix. The API key lives only in the
browser's headers editor; it is neither stored nor logged by the server.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

STATIC = Path(__file__).with_name("static") / "graphiql"
ASSET_PREFIX = "graphiql"  # the files' path, next to /graphql (relative, so a path prefix carries over)

JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
# Only these files are served: the name is looked up, never joined to a path.
MEDIA_TYPES = {
    "react.production.min.js": JS,
    "react-dom.production.min.js": JS,
    "graphiql.min.js": JS,
    "graphiql.min.css": CSS,
    "plugin-explorer.umd.js": JS,
    "plugin-explorer.css": CSS,
    "guanxi-graphiql.js": JS,
    "guanxi-graphiql.css": CSS,
}

# The page's URLs carry each file's hash, so a file can be cached for a year:
# a new release changes the URL.
IMMUTABLE = "public, max-age=31536000, immutable"

# 'self' only, plus data: for the fonts and icons graphiql.min.css embeds as
# data URIs (no request leaves the page). Styles need 'unsafe-inline':
# GraphiQL's pop-up menus (Radix UI; e.g. the operation picker when the editor
# holds two queries) insert inline styles, which Chromium refuses without it.
# Scripts stay 'self': the page has no inline script and nothing uses eval.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])

# What the editor opens with: the README's first query.
DEFAULT_QUERY = """\
# Enter your API key in the Headers tab below:
#   {"Authorization": "Bearer <your key>"}
# then run this query (Ctrl-Enter, or the play button).

{ me { tenant { name } role { code label(lang: EN) } enabledModules }
  customers(first: 5, orderBy: {field: GROSS_SPENT, direction: DESC}) {
    totalCount edges { node { name grossSpent purchaseCount lastPurchaseAt store } } } }
"""
DEFAULT_HEADERS = '{"Authorization": "Bearer "}'

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Guanxi GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{graphiql.min.css}">
<link rel="stylesheet" href="{plugin-explorer.css}">
<link rel="stylesheet" href="{guanxi-graphiql.css}">
</head>
<body>
<div id="graphiql" data-default-query="{default_query}" data-default-headers="{default_headers}">Loading GraphiQL…</div>
<script src="{react.production.min.js}"></script>
<script src="{react-dom.production.min.js}"></script>
<script src="{graphiql.min.js}"></script>
<script src="{plugin-explorer.umd.js}"></script>
<script src="{guanxi-graphiql.js}"></script>
</body>
</html>
"""


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when compressing would not make it smaller
    etag: str
    media_type: str

    @classmethod
    def load(cls, name: str) -> Asset:
        body = (STATIC / name).read_bytes()
        packed = gzip.compress(body, compresslevel=6, mtime=0)  # graphiql.min.js: 3.5 MB -> 0.7 MB
        digest = hashlib.sha256(body).hexdigest()[:16]
        return cls(body, packed if len(packed) < len(body) else None, f'"{digest}"', MEDIA_TYPES[name])


class GraphiQL:
    """The page and its files, read from the package once, on first use."""

    def __init__(self) -> None:
        self._assets: dict[str, Asset] | None = None
        self._page: str | None = None
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._assets is not None:
                return
            assets = {name: Asset.load(name) for name in MEDIA_TYPES}
            urls = {name: f"{ASSET_PREFIX}/{name}?v={asset.etag.strip(chr(34))}" for name, asset in assets.items()}
            # Each {file name} becomes its URL; the rest goes through str.format.
            template = PAGE
            for name, url in urls.items():
                template = template.replace("{" + name + "}", html.escape(url))
            self._page = template.format(default_query=html.escape(DEFAULT_QUERY), default_headers=html.escape(DEFAULT_HEADERS))
            self._assets = assets

    async def _ready(self) -> dict[str, Asset]:
        if self._assets is None:  # reading and compressing 4 MB: off the event loop
            await anyio.to_thread.run_sync(self._load)
        return self._assets

    async def page(self, _request: Request) -> Response:
        await self._ready()
        return HTMLResponse(self._page, headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        })

    async def asset(self, request: Request) -> Response:
        asset = (await self._ready()).get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("not found", status_code=404)
        headers = {"ETag": asset.etag, "Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding",
                   "X-Content-Type-Options": "nosniff"}
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(asset.gzipped, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    def routes(self) -> list[Route]:
        return [Route(f"/{ASSET_PREFIX}/{{name}}", self.asset, methods=["GET"])]


# One per process: the files are the package's, the same for every app.
graphiql = GraphiQL()


def wants_graphiql(request: Request) -> bool:
    """A browser opening /graphql (HTML accepted, no query in the URL)."""
    return request.method == "GET" and "text/html" in request.headers.get("accept", "") and "query" not in request.query_params
