"""The console's browser files (api/console/static), read once and served
from memory, gzipped when that is smaller.

Files import one another as ES modules by relative URL, so their URLs carry
no content hash; they are served with ``no-cache`` and an ETag instead (a
revisit costs one 304 per file). Only files found at start are served: the
name is looked up, never joined to a path.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

STATIC = Path(__file__).with_name("static")
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when compressing would not make it smaller
    etag: str
    media_type: str

    @classmethod
    def load(cls, path: Path) -> Asset:
        body = path.read_bytes()
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        digest = hashlib.sha256(body).hexdigest()[:16]
        return cls(body, packed if len(packed) < len(body) else None, f'"{digest}"', MEDIA_TYPES[path.suffix])


def _scan() -> dict[str, Asset]:
    return {path.relative_to(STATIC).as_posix(): Asset.load(path)
            for path in sorted(STATIC.rglob("*")) if path.is_file() and path.suffix in MEDIA_TYPES}


class Assets:
    def __init__(self) -> None:
        self._assets: dict[str, Asset] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Asset]:
        with self._lock:
            if self._assets is None:
                self._assets = _scan()
            return self._assets

    async def ready(self) -> dict[str, Asset]:
        if self._assets is None:  # reading and compressing 1 MB of ECharts: off the event loop
            await anyio.to_thread.run_sync(self._load)
        return self._assets

    async def serve(self, request: Request) -> Response:
        asset = (await self.ready()).get(request.path_params["name"])
        if asset is None:
            return PlainTextResponse("not found", status_code=404)
        headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding",
                   "X-Content-Type-Options": "nosniff"}
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(asset.gzipped, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(asset.body, media_type=asset.media_type, headers=headers)


assets = Assets()  # one per process: the files are the package's
