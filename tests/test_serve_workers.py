"""``guanxi serve --workers 2`` becomes ready on a saturated host and keeps its workers.

uvicorn spawns each worker as a fresh interpreter, which imports the main
module again (the ``guanxi`` script, so engine.cli) and then answers the
parent's health check; a worker that does not answer in time is killed and
replaced. When that import loaded the engine, a loaded host never got a
worker ready. Real processes here: the installed ``guanxi`` script, a
SQLite database prepared with ``guanxi db upgrade``, busy loops on every core.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
READY_WITHIN_S = 300.0  # a bound against hanging on a slow shared host, not a speed check
WATCH_AFTER_READY_S = 10.0  # how long the workers are watched for restarts once ready
RESTART_SIGNS = ("died", "Terminated child process", "was not ready in time", "failed to start")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _guanxi() -> list[str]:
    script = Path(sys.executable).with_name("guanxi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "engine.cli"]


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


@pytest.fixture
def saturated_host():
    """A busy loop per core (2 to 4) for the duration of the test."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(min(4, max(2, os.cpu_count() or 2)))]
    yield len(loops)
    for loop in loops:
        loop.kill()
        loop.wait()


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads worker processes from /proc")
def test_serve_with_two_workers_becomes_ready_on_a_saturated_host(tmp_path, saturated_host):
    env = {**os.environ, "GUANXI_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    subprocess.run([*_guanxi(), "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True, timeout=600)
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([*_guanxi(), "serve", "--workers", "2", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        ready = False
        while time.monotonic() < deadline and server.poll() is None:
            text = log.read_text(errors="replace")
            if text.count("Application startup complete.") >= 2:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
                except httpx.HTTPError:
                    ready = False
                if ready:
                    break
            time.sleep(0.5)
        text = log.read_text(errors="replace")
        assert ready, f"not ready within {READY_WITHIN_S:.0f} s:\n{text[-3000:]}"
        workers = _children(server.pid)
        assert len(workers) >= 2, workers

        # Ready is not enough: the same two workers must stay, each answering.
        answered = 0
        watch_until = time.monotonic() + WATCH_AFTER_READY_S
        while time.monotonic() < watch_until:
            with httpx.Client(timeout=10) as fresh:  # a new connection each time: either worker may take it
                answered += fresh.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
            time.sleep(0.2)
        assert answered > 0 and server.poll() is None
        text = log.read_text(errors="replace")
        assert _children(server.pid) >= workers, "workers were replaced"
        started = re.findall(r"Started server process \[(\d+)\]", text)
        assert len(started) == 2, text[-3000:]  # two workers, never a replacement
        assert not [sign for sign in RESTART_SIGNS if sign in text], text[-3000:]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
