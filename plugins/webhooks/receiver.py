"""A reference receiver: a starlette app that verifies Standard Webhooks
signatures and deduplicates on ``webhook-id``, as a tenant's provider should.
The tests and ``bench/webhooks.py`` run it under uvicorn on a free port, with
paths that fail on purpose:

- ``/ok``: 200 for every correctly signed request (401 otherwise);
- ``/flaky/{n}``: 500 for the first ``n`` requests of each event, then 200;
- ``/down``: always 500;
- ``/slow/{seconds}``: answers after ``seconds`` (to make the sender time out).

``processed`` holds each event once, in arrival order (what a receiver acts
on); ``requests`` counts every request; ``redelivered`` counts requests for an
event already processed (what the dedup absorbed).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from plugins.webhooks.signing import InvalidSignature, verify


class Receiver:
    def __init__(self, secrets: list[str] | None = None):
        self.secrets = list(secrets or [])  # any of them may sign
        self.processed: list[dict] = []
        self.seen: set[str] = set()
        self.requests = 0
        self.redelivered = 0
        self.refused = 0
        self.tries: Counter = Counter()
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        self.first_at = self.last_at = None  # perf_counter of the first and last event processed
        self.app = Starlette(routes=[
            Route("/stats", self._stats, methods=["GET"]),
            Route("/ok", self._ok, methods=["POST"]),
            Route("/flaky/{n:int}", self._flaky, methods=["POST"]),
            Route("/down", self._down, methods=["POST"]),
            Route("/slow/{seconds:float}", self._slow, methods=["POST"]),
        ])

    async def _verified(self, request: Request) -> tuple[str | None, bytes]:
        body = await request.body()
        with self._lock:
            self.requests += 1
            self.headers.append(dict(request.headers))
        for secret in self.secrets:
            try:
                return verify(secret, request.headers, body, int(time.time())), body
            except InvalidSignature:
                continue
        with self._lock:
            self.refused += 1
        return None, body

    def _process(self, event_id: str, body: bytes) -> None:
        with self._lock:
            if event_id in self.seen:
                self.redelivered += 1
                return
            self.seen.add(event_id)
            self.processed.append(json.loads(body))
            self.last_at = time.perf_counter()
            self.first_at = self.first_at or self.last_at

    async def _stats(self, request: Request):
        """What the bench reads when the receiver runs in its own process (``python -m plugins.webhooks.receiver``)."""
        with self._lock:
            stats = {"processed": len(self.processed), "requests": self.requests, "redelivered": self.redelivered,
                     "refused": self.refused, "seconds": (self.last_at - self.first_at) if self.first_at else 0.0}
            if request.query_params.get("ids"):
                stats["ids"] = [e["id"] for e in self.processed]
        return JSONResponse(stats)

    async def _ok(self, request: Request):
        event_id, body = await self._verified(request)
        if event_id is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        self._process(event_id, body)
        return JSONResponse({"ok": True})

    async def _flaky(self, request: Request):
        event_id, body = await self._verified(request)
        if event_id is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        with self._lock:
            self.tries[event_id] += 1
            failing = self.tries[event_id] <= request.path_params["n"]
        if failing:
            return JSONResponse({"error": "failing on purpose"}, status_code=500)
        self._process(event_id, body)
        return JSONResponse({"ok": True})

    async def _down(self, request: Request):
        await self._verified(request)
        return JSONResponse({"error": "down"}, status_code=500)

    async def _slow(self, request: Request):
        event_id, body = await self._verified(request)
        await asyncio.sleep(request.path_params["seconds"])
        return JSONResponse({"ok": True})

    def event_ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.processed]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The receiver under uvicorn in a thread: ``with Served(receiver) as url:``."""

    def __init__(self, receiver: Receiver, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(receiver.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def main() -> None:
    """``python -m plugins.webhooks.receiver PORT SECRET...``: serve until killed."""
    import sys

    import uvicorn

    port, secrets = int(sys.argv[1]), sys.argv[2:]
    uvicorn.run(Receiver(secrets).app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
