"""Database work in worker threads: SQLite's at most one thread per core at once."""

from __future__ import annotations

import os
import threading
import time

import anyio
import pytest

from api.threads import run_db

pytestmark = pytest.mark.anyio


async def test_sqlite_work_runs_on_at_most_one_thread_per_core_and_postgres_on_more(gx):
    running, peak = 0, 0
    lock = threading.Lock()

    def work():
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(run_db, gx, work)
    cores = max(2, os.cpu_count() or 2)
    if gx.engine.dialect.name == "sqlite":
        assert peak == min(cores, 12)
    else:
        assert peak > cores or cores >= 12
