"""A module with jobs and no tables, for the worker's tests (tables would
need migrations of their own): jobs that record each execution, fail,
take a while or wait at a gate."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from engine import hookimpl
from engine.jobs import Job
from engine.plugins import ModuleInfo, PluginManager
from engine.runtime import Guanxi
from engine.services import audit

MODULE = "testjobs"
WAIT_SECONDS = 120.0  # a bound against hanging, not a speed check


class JobsPlugin:
    """A module with jobs and no tables (so it needs no migrations)."""

    def __init__(self, jobs, module: str = MODULE):
        self.jobs, self.module = jobs, module

    @hookimpl
    def guanxi_module(self):
        return ModuleInfo(name=self.module, title_zh="测试任务", title_en="Test jobs")

    @hookimpl
    def guanxi_jobs(self):
        return self.jobs


class Recorder:
    """Jobs that record each execution: (tenant id, job, the clock's time, start, end)."""

    def __init__(self, clock=None):
        self.clock = clock
        self.calls: list[tuple[int, str, datetime | None, float, float]] = []
        self._lock = threading.Lock()

    def job(self, name: str, every: int = 60, fail: Exception | None = None, sleep=None, gate=None) -> Job:
        def run(ctx):
            started = time.monotonic()
            now = self.clock() if self.clock else None
            if gate is not None:
                gate.started.set()
                assert gate.release.wait(WAIT_SECONDS)
            if sleep:
                time.sleep(sleep())
            if fail is not None:
                # Written, then rolled back with the failed run.
                audit.record(ctx.session, ctx.tenant_id, ctx.actor, "testjobs.half_done", "Job", name)
                raise fail
            with self._lock:
                self.calls.append((ctx.tenant_id, name, now, started, time.monotonic()))
            return {"job": name, "tenant": ctx.tenant.slug}

        return Job(name=f"{MODULE}.{name}", module=MODULE, every_minutes=every, run=run)

    def count(self, tenant_id: int, name: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c[0] == tenant_id and c[1] == name)


class Gate:
    def __init__(self):
        self.started, self.release = threading.Event(), threading.Event()


@pytest.fixture
def jobs_engine(gx):
    """``jobs_engine(*jobs)``: the engine on the test database with one more
    installed module, ``testjobs``, providing ``jobs``."""

    def make(*jobs: Job) -> Guanxi:
        plugins = PluginManager(settings=gx.settings)
        plugins.register_module(JobsPlugin(list(jobs)), name="tests.jobs_plugin.testjobs")
        plugins.check()
        return Guanxi(settings=gx.settings, plugins=plugins, engine=gx.engine)

    return make


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


