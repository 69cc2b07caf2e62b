"""``guanxi serve`` as a real process on a free port, for the tests that need
uvicorn itself (its workers, its access log)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 240.0  # a bound against hanging (workers warm numba kernels up), not a speed check


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(database_url: str, folder: Path, workers: int = 1, env: dict | None = None) -> Iterator[Server]:
    """The server until the block ends, then stopped (SIGINT, as Ctrl-C) and waited for."""
    port = free_port()
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    full_env = {**os.environ, "GUANXI_DATABASE_URL": database_url, "PYTHONPATH": path, "GUANXI_API_RUNS_JOBS": "false",
                **(env or {})}
    log_path = folder / f"serve-{port}.log"  # stderr: the logs
    with open(log_path, "w") as log, open(folder / f"serve-{port}.out", "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers)],
                                   cwd=ROOT, env=full_env, stdout=out, stderr=log)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"guanxi serve exited: {server.logs()}"
            try:
                if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"guanxi serve not ready in {START_SECONDS} s: {server.logs()}"
            time.sleep(0.3)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
