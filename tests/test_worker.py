"""The job worker on a real database with real plugins: intervals (a clock
injected, never slept on), per-tenant overrides, failures recorded and
isolated, leases that keep two workers from running a job for a tenant twice
at once, heartbeats, crashed workers, stopping, and scoring as a job."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from engine import job_leases, job_runs
from engine.errors import FieldError, ValidationFailed
from engine.job_models import API, JobLease, JobRun
from engine.job_schedule import due_jobs, set_schedule
from engine.jobs import SCORING, Job
from engine.runtime import Guanxi
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure, set_enabled
from engine.testing import FakeClock, new_tenant
from engine.worker import Worker
from engine.plugins import PluginError, PluginManager
from tests.jobs_plugin import MODULE, WAIT_SECONDS, Gate, JobsPlugin, Recorder, jobs_engine, wait_until

__all__ = ["jobs_engine"]  # a fixture

def runs(gx, tenant) -> list[JobRun]:
    with gx.tenant(tenant, write=False) as ctx:
        return list(reversed(job_runs.list_runs(ctx.session, ctx.tenant_id, limit=1000)))


def lease(gx, tenant_id: int, job: str) -> JobLease | None:
    with gx.system(write=False) as session:
        return session.get(JobLease, (tenant_id, job))


# -- intervals and overrides ----------------------------------------------------------


def test_a_job_runs_again_only_when_its_interval_has_passed(jobs_engine):
    clock = FakeClock()
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("hourly", every=60))
    tenant = new_tenant(tgx, (MODULE,))
    tenant_id = tgx.tenant_id(tenant)
    worker = Worker(tgx, clock=clock, tenants=[tenant])

    assert [o.status for o in worker.run_once()] == ["SUCCEEDED"]  # never ran: due at once
    assert worker.run_once() == []
    clock.advance(minutes=59)
    assert worker.run_once() == []
    clock.advance(minutes=1)
    assert [o.job for o in worker.run_once()] == [f"{MODULE}.hourly"]
    assert recorder.count(tenant_id, "hourly") == 2
    recorded = runs(tgx, tenant)
    assert [(r.job, r.trigger, r.status) for r in recorded] == [(f"{MODULE}.hourly", "SCHEDULE", "SUCCEEDED")] * 2
    assert recorded[1].started_at - recorded[0].started_at == timedelta(minutes=60)
    assert recorded[1].result == {"job": "hourly", "tenant": tenant}
    assert recorded[1].worker_id == worker.worker_id


def test_a_tenants_override_and_pause_change_only_that_tenant(jobs_engine):
    clock = FakeClock()
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("hourly", every=60))
    often, paused, plain = (new_tenant(tgx, (MODULE,)) for _ in range(3))
    ids = {slug: tgx.tenant_id(slug) for slug in (often, paused, plain)}
    for slug, changes in ((often, {"every_minutes": 10}), (paused, {"paused": True})):
        with tgx.tenant(slug, actor="test") as ctx:
            set_schedule(ctx.session, tgx.plugins, ctx.tenant_id, slug, ctx.enabled_modules, f"{MODULE}.hourly",
                         actor="test", **changes)
    worker = Worker(tgx, clock=clock, tenants=[often, paused, plain])
    for _ in range(6):  # an hour in steps of ten minutes
        worker.run_once()
        clock.advance(minutes=10)
    worker.run_once()
    assert {slug: recorder.count(tenant_id, "hourly") for slug, tenant_id in ids.items()} == {often: 7, paused: 0, plain: 2}

    # Back to the default: the override is gone, and the next run is an hour after the last.
    with tgx.tenant(often, actor="test") as ctx:
        view = set_schedule(ctx.session, tgx.plugins, ctx.tenant_id, often, ctx.enabled_modules, f"{MODULE}.hourly",
                            every_minutes=None, paused=False, actor="test")
    assert (view.every_minutes, view.override_minutes, view.next_due_at) == (60, None, clock() + timedelta(minutes=60))
    clock.advance(minutes=30)
    worker.run_once()
    assert recorder.count(ids[often], "hourly") == 7


def test_bad_schedules_name_the_field(jobs_engine):
    tgx = jobs_engine(Recorder().job("hourly"))
    tenant = new_tenant(tgx, (MODULE,))
    with tgx.tenant(tenant, actor="test") as ctx:
        for name, minutes, field, words in [
            ("testjobs.hourlyy", 5, "job", ["unknown job 'testjobs.hourlyy'", "did you mean 'testjobs.hourly'", "testjobs.hourly"]),
            ("testjobs.hourly", 0, "every_minutes", ["positive"]),
            ("testjobs.hourly", -5, "every_minutes", ["positive"]),
        ]:
            with pytest.raises(ValidationFailed) as raised:
                set_schedule(ctx.session, tgx.plugins, ctx.tenant_id, tenant, ctx.enabled_modules, name, every_minutes=minutes)
            [error] = raised.value.errors
            assert error.field == field and all(w in error.message for w in words), error


def test_two_jobs_of_one_name_are_refused_at_start():
    plugins = PluginManager()
    plugins.register_module(JobsPlugin([Recorder().job("hourly")]), name="tests.one")
    impostor = Job(name=f"{MODULE}.hourly", module="otherjobs", every_minutes=5, run=lambda ctx: None)
    plugins.register_module(JobsPlugin([impostor], module="otherjobs"), name="tests.other")
    with pytest.raises(PluginError, match="two jobs are named 'testjobs.hourly'") as raised:
        plugins.check()
    assert "'testjobs'" in str(raised.value) and "'otherjobs'" in str(raised.value)


# -- failures -------------------------------------------------------------------------


def test_a_failing_job_is_recorded_and_the_tenants_other_jobs_still_run(jobs_engine):
    clock = FakeClock()
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("boom", fail=RuntimeError("the printer is on fire")), recorder.job("fine"))
    tenant, other = new_tenant(tgx, (MODULE,)), new_tenant(tgx, (MODULE,))
    worker = Worker(tgx, clock=clock, tenants=[tenant, other])

    outcomes = worker.run_once()
    assert sorted((o.tenant_id, o.job, o.status) for o in outcomes) == sorted(
        (tgx.tenant_id(t), f"{MODULE}.{name}", status) for t in (tenant, other)
        for name, status in (("boom", "FAILED"), ("fine", "SUCCEEDED")))
    by_job = {r.job: r for r in runs(tgx, tenant)}
    failed, fine = by_job[f"{MODULE}.boom"], by_job[f"{MODULE}.fine"]
    assert failed.status == "FAILED" and failed.error == "RuntimeError: the printer is on fire"
    assert "the printer is on fire" in failed.traceback and "in run" in failed.traceback
    assert failed.finished_at is not None and failed.result is None
    assert fine.status == "SUCCEEDED" and fine.result == {"job": "fine", "tenant": tenant}
    # The failed job's writes were rolled back; its lease is free again.
    with tgx.tenant(tenant, write=False) as ctx:
        actions = ctx.session.execute(sa.text("SELECT action FROM audit_events WHERE tenant_id = :t"),
                                      {"t": ctx.tenant_id}).scalars().all()
    assert "testjobs.half_done" not in actions
    assert lease(tgx, tgx.tenant_id(tenant), f"{MODULE}.boom").leased_until is None
    # A failure is not retried in a loop: it is due again at its interval.
    assert worker.run_once() == []
    clock.advance(minutes=60)
    assert sorted(o.status for o in worker.run_once()) == ["FAILED", "FAILED", "SUCCEEDED", "SUCCEEDED"]


def test_an_expected_failure_is_recorded_as_its_message(jobs_engine):
    refusal = ValidationFailed([FieldError("as_of", "the tenant has no purchases up to this time")])
    tgx = jobs_engine(Recorder().job("refuses", fail=refusal))
    tenant = new_tenant(tgx, (MODULE,))
    [outcome] = Worker(tgx, tenants=[tenant]).run_once()
    [run] = runs(tgx, tenant)
    assert (outcome.status, run.status) == ("FAILED", "FAILED")
    assert run.error == "as_of: the tenant has no purchases up to this time" and run.traceback is None


# -- leases ---------------------------------------------------------------------------


def test_two_workers_never_run_a_job_for_a_tenant_twice_at_once(gx, jobs_engine, database_url):
    """Two workers, each with its own engine and two threads, race for six
    (tenant, job) pairs through five periods of the jobs' interval while jobs
    take a random while. No pair's executions overlap, and each pair runs
    exactly once per period."""
    clock = FakeClock()
    recorder = Recorder(clock)
    rng = random.Random(7)
    sleep = lambda: rng.uniform(0.005, 0.05)  # noqa: E731
    tgx = jobs_engine(recorder.job("a", every=60, sleep=sleep), recorder.job("b", every=60, sleep=sleep))
    tenants = [new_tenant(tgx, (MODULE,)) for _ in range(3)]
    pairs = [(tgx.tenant_id(t), name) for t in tenants for name in ("a", "b")]
    engines = [Guanxi(settings=gx.settings, plugins=tgx.plugins) for _ in range(2)]
    workers = [Worker(e, concurrency=2, poll_seconds=0.01, lease_seconds=86400, clock=clock, tenants=tenants,
                      keep_days=None) for e in engines]
    threads = [threading.Thread(target=w.run_forever) for w in workers]
    for thread in threads:
        thread.start()
    periods = []
    try:
        for _ in range(5):
            period = clock()
            periods.append(period)
            wait_until(lambda: {(c[0], c[1]) for c in list(recorder.calls) if c[2] == period} == set(pairs),
                       f"every pair to run in the period of {period}")
            clock.advance(minutes=60)
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(WAIT_SECONDS)
        for engine in engines:
            engine.engine.dispose()
    assert not any(thread.is_alive() for thread in threads)
    for pair in pairs:
        calls = sorted((c for c in recorder.calls if (c[0], c[1]) == pair), key=lambda c: c[3])
        for earlier, later in zip(calls, calls[1:]):
            assert later[3] >= earlier[4], f"{pair} ran twice at once"
        per_period = [sum(1 for c in calls if c[2] == period) for period in periods]
        assert per_period == [1] * len(periods), (pair, per_period)
    # Every execution is one SUCCEEDED run, by one of the two workers.
    recorded = [r for t in tenants for r in runs(gx, t)]
    assert len(recorded) == len(recorder.calls)
    assert {r.status for r in recorded} == {"SUCCEEDED"}
    assert {r.worker_id for r in recorded} <= {w.worker_id for w in workers}


@pytest.fixture
def postgres_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time: a running job's blocks every other write, "
                    "heartbeats and claims included, so there is nothing to keep alive or give back meanwhile")


def test_a_long_job_keeps_its_lease_by_heartbeat(jobs_engine, postgres_only):
    clock = FakeClock()
    gate = Gate()
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("long", every=1, gate=gate))
    tenant = new_tenant(tgx, (MODULE,))
    tenant_id = tgx.tenant_id(tenant)
    first = Worker(tgx, clock=clock, tenants=[tenant], lease_seconds=300, heartbeat_seconds=0.02, poll_seconds=0.02)
    thread = threading.Thread(target=first.run_forever)
    thread.start()
    try:
        assert gate.started.wait(WAIT_SECONDS)
        held_until = lease(tgx, tenant_id, f"{MODULE}.long").leased_until
        clock.advance(seconds=250)
        wait_until(lambda: lease(tgx, tenant_id, f"{MODULE}.long").leased_until > held_until, "a heartbeat")
        clock.advance(seconds=250)  # past the first lease: only the heartbeat keeps it
        assert Worker(tgx, clock=clock, tenants=[tenant]).run_once() == []
    finally:
        first.stop()
        gate.release.set()
        thread.join(WAIT_SECONDS)
    [run] = runs(tgx, tenant)
    assert run.status == "SUCCEEDED" and recorder.count(tenant_id, "long") == 1


def test_a_crashed_workers_run_is_recorded_abandoned_and_its_job_runs_again(jobs_engine):
    clock = FakeClock()
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("hourly", every=60))
    tenant = new_tenant(tgx, (MODULE,))
    tenant_id = tgx.tenant_id(tenant)
    with tgx.system() as session:  # a worker claims the job, then dies
        [due] = due_jobs(session, tgx.plugins, clock(), {tenant_id})
        dead = job_leases.claim_due(session, due, "worker:gone:1:abc", clock(), lease_seconds=300)
    worker = Worker(tgx, clock=clock, tenants=[tenant])
    assert worker.run_once() == []  # the lease still holds
    clock.advance(minutes=6)
    assert worker.run_once() == []  # the lease ran out; the job is not due before its hour
    [abandoned] = runs(tgx, tenant)
    assert abandoned.id == dead.run_id and abandoned.status == "FAILED"
    assert "abandoned" in abandoned.error and "worker:gone:1:abc" in abandoned.error
    clock.advance(minutes=54)
    assert [o.status for o in worker.run_once()] == ["SUCCEEDED"]
    assert recorder.count(tenant_id, "hourly") == 1


def test_a_worker_asked_to_stop_lets_its_running_job_finish(jobs_engine):
    gate = Gate()
    tgx = jobs_engine(Recorder().job("a_slow", gate=gate), Recorder().job("b_next"))  # claimed in name order
    tenant = new_tenant(tgx, (MODULE,))
    worker = Worker(tgx, tenants=[tenant], concurrency=1, poll_seconds=0.02)
    outcomes = []
    thread = threading.Thread(target=lambda: outcomes.extend(worker.run_forever()))
    thread.start()
    assert gate.started.wait(WAIT_SECONDS)
    worker.stop()
    thread.join(0.2)
    assert thread.is_alive(), "the worker returned while its job was running"
    gate.release.set()
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    # It finished the running job and claimed nothing after the stop.
    assert [(o.job, o.status) for o in outcomes] == [(f"{MODULE}.a_slow", "SUCCEEDED")]
    assert [(r.job, r.status) for r in runs(tgx, tenant)] == [(f"{MODULE}.a_slow", "SUCCEEDED")]
    assert lease(tgx, tgx.tenant_id(tenant), f"{MODULE}.a_slow").leased_until is None


def test_a_worker_stopped_twice_gives_its_runs_back(gx, jobs_engine, postgres_only):
    gate = Gate()
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("slow", gate=gate))
    tenant = new_tenant(tgx, (MODULE,))
    tenant_id = tgx.tenant_id(tenant)
    with tgx.tenant(tenant) as ctx:  # a requested run as well as the scheduled one
        queued = job_runs.enqueue(ctx.session, ctx.tenant_id, f"{MODULE}.slow", API, "test")
    worker = Worker(tgx, tenants=[tenant], concurrency=1, poll_seconds=0.02)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    assert gate.started.wait(WAIT_SECONDS)
    worker.stop()
    worker.stop()
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    # The requested run is back in the queue for another worker, the lease is free.
    assert {r.id: r.status for r in runs(tgx, tenant)} == {queued.id: "QUEUED"}
    assert lease(tgx, tenant_id, f"{MODULE}.slow").leased_until is None
    # The abandoned execution cannot commit: its run is no longer its worker's.
    gate.release.set()
    wait_until(lambda: not worker.running, "the abandoned job to end")
    assert recorder.count(tenant_id, "slow") == 1  # it did its work, then it was rolled back
    assert {r.id: r.status for r in runs(tgx, tenant)} == {queued.id: "QUEUED"}
    # Another worker takes it from the queue (a run of the job: the schedule's is not due after it).
    outcomes = Worker(tgx, tenants=[tenant]).run_once()
    assert [(o.run_id, o.status) for o in outcomes] == [(queued.id, "SUCCEEDED")]
    assert {r.id: r.status for r in runs(tgx, tenant)} == {queued.id: "SUCCEEDED"}


# -- the built-in jobs and scoring ----------------------------------------------------


def _buyers(gx, tenant, count: int = 3) -> None:
    now = datetime.now(timezone.utc)
    with gx.tenant(tenant) as ctx:
        items = []
        for n in range(count):
            cid = create_customer(ctx, {"name": f"buyer {n}"}).id
            items += [{"customer_id": cid, "kind": "PURCHASE", "occurred_at": now - timedelta(days=d + n), "amount": "25"}
                      for d in range(1, n + 2)]
        record_interactions(ctx, items)


def test_the_built_in_jobs_run_under_the_worker_and_twice_is_safe(gx, make_tenant):
    tenant = make_tenant(modules=("rfm", "clv", "complaints"))
    _buyers(gx, tenant)  # before loyalty is on: its ingest hook's COPY is refused under row-level security (main's bug)
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", {"schedule_minutes": 60})
        set_enabled(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", True)
    clock = FakeClock()
    worker = Worker(gx, clock=clock, tenants=[tenant], concurrency=2)
    first = {o.job: o for o in worker.run_once()}
    assert set(first) == {"rfm.rescore", "clv.rescore", "loyalty.expire_points", "loyalty.evaluate_tiers",
                          "complaints.sla_sweep"}
    assert {o.status for o in first.values()} == {"SUCCEEDED"}, {o.job: o.error for o in first.values()}
    assert first["rfm.rescore"].value == "3 customers scored"
    clock.advance(days=1)
    second = {o.job: o for o in worker.run_once()}
    assert set(second) == set(first) and {o.status for o in second.values()} == {"SUCCEEDED"}
    assert second["rfm.rescore"].value.startswith("not due")
    assert second["loyalty.expire_points"].value == first["loyalty.expire_points"].value


def test_two_tenants_score_at_once_in_one_worker(gx, make_tenant):
    """And a tenant's second request waits for its first, without holding up the other tenant."""
    first, second = tenants = [make_tenant(modules=("rfm",)) for _ in range(2)]
    queued = {}
    for n, tenant in enumerate(tenants):
        _buyers(gx, tenant, count=3 + n)
    for tenant in (first, first, second):
        with gx.tenant(tenant) as ctx:
            run = job_runs.enqueue(ctx.session, ctx.tenant_id, SCORING, API, "test", {"modules": ["rfm"]})
            queued.setdefault(tenant, []).append(run.id)
    worker = Worker(gx, concurrency=2, schedule=False, tenants=tenants)
    outcomes = worker.run_once()
    assert sorted(o.run_id for o in outcomes) == sorted(queued[first] + queued[second])
    for n, tenant in enumerate(tenants):
        recorded = runs(gx, tenant)
        assert [r.id for r in recorded] == queued[tenant]
        for run in recorded:
            assert (run.status, run.worker_id) == ("SUCCEEDED", worker.worker_id), run.error
            [report] = run.result["reports"]
            assert (report["module"], report["scored"]) == ("rfm", 3 + n)
    one, two = runs(gx, first)
    assert two.started_at >= one.finished_at


def test_a_job_outlasts_a_requests_statement_timeout(gx):
    """A request's statement timeout (300 ms here) does not cut batch work
    short: a job runs under GUANXI_JOB_STATEMENT_TIMEOUT_MS, and its connection
    gets the request's bound back when it returns to the pool."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("statement timeouts are PostgreSQL's")
    settings = gx.settings.model_copy(update={"statement_timeout_ms": 300, "job_statement_timeout_ms": 10_000})

    def sleepy(ctx):
        return ctx.session.execute(sa.text("SELECT 'rested' FROM pg_sleep(0.8)")).scalar_one()

    plugins = PluginManager(settings=settings)
    plugins.register_module(JobsPlugin([Job(name=f"{MODULE}.sleepy", module=MODULE, every_minutes=60, run=sleepy)]),
                            name="tests.jobs_plugin.testjobs")
    plugins.check()
    tgx = Guanxi(settings=settings, plugins=plugins)
    try:
        tenant = new_tenant(tgx, (MODULE,))
        [outcome] = Worker(tgx, clock=FakeClock(), tenants=[tenant]).run_once()
        assert (outcome.status, outcome.value) == ("SUCCEEDED", "rested"), outcome.error
        for _ in range(2):  # every pooled connection is back to a request's bound
            with tgx.engine.connect() as connection, pytest.raises(sa.exc.OperationalError, match="statement timeout"):
                connection.execute(sa.text("SELECT pg_sleep(2)"))
    finally:
        tgx.engine.dispose()
