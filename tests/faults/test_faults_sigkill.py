"""Jobs killed with SIGKILL halfway and run again end exactly where an
uninterrupted run ends: no duplicate, no half run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from engine.models import Customer, ImportJob, Interaction
from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.importer import import_file
from plugins.rfm.models import RfmRun, RfmScore
from tests.concurrency import run_in_threads

ROOT = Path(__file__).resolve().parents[2]


def _orders_csv(path: Path, rows: int) -> Path:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_code", "kind", "occurred_at", "amount", "external_id"])
        for i in range(rows):
            when = start + timedelta(minutes=7 * i)
            writer.writerow([f"K{i % 50}", "PURCHASE", when.isoformat(), f"{5 + i % 13}.25", f"order-{i}"])
    return path


def _customers(gx, tenant: str) -> None:
    with gx.tenant(tenant) as ctx:
        for i in range(50):
            create_customer(ctx, {"code": f"K{i}", "name": f"客户 {i}"})


def _state(gx, tenant: str):
    """Everything an interrupted import could get wrong: rows, sums and per-customer stats."""
    with gx.tenant(tenant, write=False) as ctx:
        t = ctx.tenant_id
        interactions = ctx.session.execute(
            select(func.count(), func.count(func.distinct(Interaction.external_id)), func.sum(Interaction.amount))
            .where(Interaction.tenant_id == t)
        ).one()
        stats = ctx.session.execute(
            select(Customer.code, Customer.purchase_count, Customer.purchase_days, Customer.total_spent,
                   Customer.first_purchase_at, Customer.last_purchase_at)
            .where(Customer.tenant_id == t).order_by(Customer.code)
        ).all()
    return tuple(interactions), [tuple(row) for row in stats]


def _wait_until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the job to get halfway")


def test_an_import_killed_with_sigkill_resumes_to_the_uninterrupted_result(gx, make_tenant, database_url, tmp_path):
    rows = 6_000
    path = _orders_csv(tmp_path / "orders.csv", rows)
    killed, clean = make_tenant(), make_tenant()
    _customers(gx, killed)
    _customers(gx, clean)

    env = dict(os.environ, GUANXI_DATABASE_URL=database_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "import", "interactions", str(path), "--tenant", killed, "--chunk-size", "100"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def rows_done() -> int:
        with gx.tenant(killed, write=False) as ctx:
            return ctx.session.execute(select(func.coalesce(func.max(ImportJob.rows_done), 0)).where(ImportJob.tenant_id == ctx.tenant_id)).scalar_one()

    try:
        _wait_until(lambda: rows_done() >= 1_000 or process.poll() is not None)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    done_at_kill = rows_done()
    assert 0 < done_at_kill < rows, "the kill should land halfway"

    report = import_file(gx, killed, "interactions", path, chunk_size=100)
    assert report.resumed_from == done_at_kill
    import_file(gx, clean, "interactions", path, chunk_size=100)
    interrupted, uninterrupted = _state(gx, killed), _state(gx, clean)
    assert interrupted[0][:2] == (rows, rows)  # every row once, no duplicates
    assert interrupted == uninterrupted


def test_a_scoring_run_killed_with_sigkill_leaves_the_previous_run_whole(gx, make_tenant, database_url, tmp_path):
    tenant = make_tenant(modules=("rfm",))
    _customers(gx, tenant)
    import_file(gx, tenant, "interactions", _orders_csv(tmp_path / "orders.csv", 3_000))
    with gx.tenant(tenant) as ctx:
        run_scoring(ctx, ["rfm"])
        tenant_id = ctx.tenant_id

    def snapshot():
        with gx.system(write=False) as session:
            run = session.execute(select(RfmRun.id, RfmRun.scored).where(RfmRun.tenant_id == tenant_id)).all()
            scores = session.execute(
                select(RfmScore.customer_id, RfmScore.segment, RfmScore.run_id).where(RfmScore.tenant_id == tenant_id).order_by(RfmScore.customer_id)
            ).all()
        return [tuple(r) for r in run], [tuple(s) for s in scores]

    before = snapshot()
    env = dict(os.environ, GUANXI_DATABASE_URL=database_url)
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "score", "--tenant", tenant, "--module", "rfm"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # inside the run: importing, reading, scoring or writing
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    after_kill = snapshot()
    # Readers see the old run or a complete new one, never a mix.
    [(run_id, scored)] = after_kill[0]
    assert len(after_kill[1]) == scored == 50
    assert {row[2] for row in after_kill[1]} == {run_id}
    if run_id == before[0][0][0]:
        assert after_kill == before
    with gx.tenant(tenant) as ctx:
        [report] = run_scoring(ctx, ["rfm"])
    assert report.scored == 50
    assert [row[:2] for row in snapshot()[1]] == [row[:2] for row in before[1]]


def test_concurrent_scoring_runs_for_one_tenant_both_succeed(gx, make_tenant, tmp_path):
    """Two runs at once (two API workers, a cron job and a click) queue, never collide."""
    tenant = make_tenant(modules=("rfm",))
    _customers(gx, tenant)
    import_file(gx, tenant, "interactions", _orders_csv(tmp_path / "orders.csv", 1_000))
    reports = []

    def score(_n: int) -> None:
        with gx.tenant(tenant) as ctx:
            reports.extend(run_scoring(ctx, ["rfm"]))

    assert run_in_threads(score, 4) == []
    assert [r.scored for r in reports] == [50, 50, 50, 50]
