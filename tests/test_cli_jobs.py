"""``guanxi jobs ...`` and ``guanxi worker`` on the test database: unknown
jobs are errors that list the tenant's jobs, manual runs are recorded and a
failure makes the exit status non-zero, schedules show in the listings, and
the worker process stops gracefully on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import cli, cli_jobs, job_runs
from engine.job_models import JobLease, JobSchedule
from tests.jobs_plugin import MODULE, WAIT_SECONDS, Recorder, jobs_engine, wait_until

__all__ = ["jobs_engine"]  # a fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def guanxi(monkeypatch, database_url):
    """``guanxi(*args)``: the CLI on the test database."""
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at the terminal's width
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.app, [str(a) for a in args])


def _runs(gx, tenant):
    with gx.tenant(tenant, write=False) as ctx:
        return job_runs.list_runs(ctx.session, ctx.tenant_id, limit=100)


def test_running_an_unknown_job_fails_naming_it_and_listing_the_tenants_jobs(gx, make_tenant, guanxi):
    tenant = make_tenant(modules=("rfm", "loyalty"))
    result = guanxi("jobs", "run", "--tenant", tenant, "--job", "typo")
    assert result.exit_code == 1, result.output  # a domain error: this tenant has no such job
    assert "unknown job 'typo'" in result.output
    assert "rfm.rescore" in result.output and "loyalty.expire_points" in result.output
    assert _runs(gx, tenant) == []
    # A job of a module the tenant has not enabled is named as such.
    result = guanxi("jobs", "run", "--tenant", tenant, "--job", "complaints.sla_sweep")
    assert result.exit_code == 1 and "module 'complaints'" in result.output and "not enabled" in result.output


def test_scheduling_an_unknown_job_or_no_minutes_is_an_error(gx, make_tenant, guanxi):
    tenant = make_tenant(modules=("rfm",))
    result = guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescor", "--every", "5")
    assert result.exit_code == 1
    assert "--job" in result.output and "unknown job 'rfm.rescor'" in result.output and "rfm.rescore" in result.output
    for minutes in ("0", "-10"):
        result = guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescore", "--every", minutes)
        assert result.exit_code == 1 and "--every" in result.output and "positive" in result.output, result.output
    result = guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescore")  # no change asked: a usage error
    assert result.exit_code == 2 and "say what to change" in result.output
    with gx.system(write=False) as session:
        assert session.get(JobSchedule, (gx.tenant_id(tenant), "rfm.rescore")) is None


def _row(output: str, job: str) -> str:
    [line] = [line for line in output.splitlines() if job in line]
    return line


def test_a_schedule_set_from_the_cli_shows_in_the_listing(make_tenant, guanxi):
    tenant = make_tenant(modules=("rfm", "complaints"))
    result = guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescore", "--every", "15")
    assert result.exit_code == 0, result.output
    assert "every 15 min" in result.output and "default is 5 min" in result.output
    listing = guanxi("jobs", "list", "--tenant", tenant).output
    assert "15 (default 5)" in _row(listing, "rfm.rescore")
    assert "| 5 " in _row(listing, "complaints.sla_sweep").replace("│", "|") and "never" in _row(listing, "complaints.sla_sweep")

    assert guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescore", "--paused").exit_code == 0
    assert "15 (default 5), paused" in _row(guanxi("jobs", "list", "--tenant", tenant).output, "rfm.rescore")
    assert guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescore", "--default").exit_code == 0
    row = _row(guanxi("jobs", "list", "--tenant", tenant).output, "rfm.rescore")
    assert "paused" not in row and "default 5" not in row
    # Without a tenant: every installed job with its declared interval.
    assert "1440" in _row(guanxi("jobs", "list").output, "loyalty.expire_points")


def test_jobs_run_records_manual_runs_and_a_failure_exits_non_zero(gx, jobs_engine, make_tenant, guanxi, monkeypatch):
    recorder = Recorder()
    tgx = jobs_engine(recorder.job("boom", fail=RuntimeError("no paper")), recorder.job("fine"))
    monkeypatch.setattr(cli_jobs, "open_engine", lambda check_schema=True: tgx)
    from engine.testing import new_tenant

    tenant = new_tenant(tgx, (MODULE,))
    result = guanxi("jobs", "run", "--tenant", tenant)
    assert result.exit_code == 1, result.output
    assert "testjobs.boom" in result.output and "FAILED" in result.output and "RuntimeError: no paper" in result.output
    assert "testjobs.fine" in result.output and "SUCCEEDED" in result.output
    runs = {r.job: r for r in _runs(tgx, tenant)}
    assert {(r.trigger, r.status, r.requested_by) for r in runs.values()} == {("MANUAL", "FAILED", "cli"), ("MANUAL", "SUCCEEDED", "cli")}
    assert runs[f"{MODULE}.fine"].result == {"job": "fine", "tenant": tenant}
    # Only the job that works: exit 0.
    assert guanxi("jobs", "run", "--tenant", tenant, "--job", f"{MODULE}.fine").exit_code == 0
    listing = guanxi("jobs", "runs", "--tenant", tenant).output
    assert "RuntimeError: no paper" in _row(listing, "boom") and "MANUAL" in _row(listing, "boom")
    assert len([line for line in listing.splitlines() if "testjobs.fine" in line]) == 2
    failed_only = guanxi("jobs", "runs", "--tenant", tenant, "--status", "failed").output
    assert "testjobs.boom" in failed_only and "testjobs.fine" not in failed_only
    assert guanxi("jobs", "runs", "--tenant", tenant, "--status", "done").exit_code == 2


def test_worker_once_runs_what_is_due_then_nothing(gx, make_tenant, guanxi):
    tenant = make_tenant(modules=("rfm", "complaints"))
    result = guanxi("worker", "--once", "--tenant", tenant)
    assert result.exit_code == 0, result.output
    assert "2 run(s), 0 failed" in result.output
    assert sorted((r.job, r.trigger, r.status) for r in _runs(gx, tenant)) == [
        ("complaints.sla_sweep", "SCHEDULE", "SUCCEEDED"), ("rfm.rescore", "SCHEDULE", "SUCCEEDED")]
    result = guanxi("worker", "--once", "--tenant", tenant)
    assert result.exit_code == 0 and "0 run(s)" in result.output
    assert guanxi("worker", "--once", "--tenant", "no-such-tenant").exit_code == 1


def test_the_worker_process_stops_gracefully_on_sigterm(gx, make_tenant, database_url):
    tenant = make_tenant(modules=("complaints",))
    # This checkout first, then whatever the caller made importable (plugins on PYTHONPATH).
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "GUANXI_DATABASE_URL": database_url, "PYTHONPATH": path}
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker", "--poll-seconds", "0.2", "--tenant", tenant],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: process.poll() is not None or any(r.status == "SUCCEEDED" for r in _runs(gx, tenant)),
                   "the worker's first run")
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "SIGTERM" in stderr and '"worker stopped"' in stderr.replace("'", '"')
    [run] = _runs(gx, tenant)
    assert (run.job, run.status) == ("complaints.sla_sweep", "SUCCEEDED")
    with gx.system(write=False) as session:
        assert session.get(JobLease, (gx.tenant_id(tenant), "complaints.sla_sweep")).leased_until is None
