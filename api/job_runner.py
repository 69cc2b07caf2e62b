"""The API process running requested jobs itself (``GUANXI_API_RUNS_JOBS``,
on by default): after a mutation queues a run, a background thread claims
QUEUED runs the way ``guanxi worker`` does (the same leases, so each run runs
once whoever gets it) until none is left, then sleeps until the next one.
The embedded SQLite demo thus needs no worker; in production set
``GUANXI_API_RUNS_JOBS=false`` and let workers take the queue, off the
processes serving requests."""

from __future__ import annotations

import logging
import threading

from engine.worker import Worker, new_worker_id

log = logging.getLogger("guanxi.worker")
THREADS = 2  # runs at once per API process


class ApiJobRunner:
    def __init__(self, gx, threads: int = THREADS):
        self.worker = Worker(gx, concurrency=threads, schedule=False, keep_days=None, worker_id=new_worker_id("api"))
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def kick(self) -> None:
        """Look at the queue now (after a run was queued, and at start for runs left from before)."""
        with self._lock:
            if self._closed:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="guanxi-api-jobs", daemon=True)
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:
                self.worker.run_once()
            except Exception:
                log.exception("running queued jobs in the API failed; they wait for the next request or a worker")

    def close(self, timeout: float = 30.0) -> None:
        """Let a running job finish (up to ``timeout``), then give it back to the queue."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self.worker.stop()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                self.worker.stop()
                thread.join(timeout)
