"""Campaigns at scale; prints one JSON line.

    .venv/bin/python -m bench.campaigns [--customers N] [--runs R] [--events E] [--no-segments|--no-webhooks]

- ``segment_s_sqlite`` / ``segment_s_postgres``: materialising a saved
  segment of 1,000,000 customers (out of 1,200,000 in the tenant) into a
  campaign's snapshot, holdout marked: ``plugins.campaigns.segments.materialise``,
  the filter compiled from its stored JSON as the launch does. Median of
  ``--runs`` runs, each rolled back (a savepoint), with the min and max.
- The anchor, interleaved with those runs on the same data: the same
  INSERT ... SELECT of the same ids written by hand, without the filter
  compilation and without the holdout hash, in id order as ours
  (``anchor_s_*``, ``ratio_*``).
- PostgreSQL uses ``GUANXI_BENCH_POSTGRES_URL``'s server (a throwaway
  database, dropped after); ``null`` figures when none answers.

- The webhooks module's figures (bench/webhooks.py, first): ``deliveries_per_s``
  (signed deliveries to a local receiver by 2 worker processes, median of 3,
  against a plain httpx client posting to the same receiver, interleaved),
  then ``lost`` and ``duplicated`` after a kill -9 of one worker mid-run
  (duplicates counted by event id at the receiver after its deduplication).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.ingest import drop_postgres, postgres_url
from engine.bulk import analyze, sqlite_time
from engine.config import Settings
from engine.db import make_engine
from engine.plugins.manager import get_plugin_manager
from engine.runtime import Guanxi
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant
from engine.types import utcnow
from plugins.campaigns import segments
from plugins.campaigns.models import Campaign, CampaignMember

WHERE = {"totalSpent": {"gte": "100"}}  # five customers in six: 1,000,000 of 1,200,000


def _engine(url: str) -> Guanxi:
    settings = Settings(database_url=url, statement_timeout_ms=0)  # filling 1.2M rows outlasts a request's 15 s
    gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
    gx.upgrade()
    return gx


def _fill(gx: Guanxi, customers: int) -> tuple[int, int]:
    """The tenant, its customers generated in SQL (one statement), and a campaign to snapshot into."""
    with gx.system() as session:
        tenant = create_tenant(session, "bench", "bench", "CNY", "Asia/Shanghai", "zh-CN", actor="bench")
        set_enabled(session, gx.plugins, tenant.id, "campaigns", True, actor="bench")
        tenant_id = tenant.id
        pg = session.get_bind().dialect.name == "postgresql"
        now = "now()" if pg else f"'{sqlite_time(utcnow())}'"
        numbers = ("generate_series(1, :n) AS seq(n)" if pg else
                   "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :n) SELECT n FROM s) AS seq")
        session.execute(sa.text(
            "INSERT INTO customers (tenant_id, code, role, lifecycle_stage, tags, attributes, consent, created_at,"
            " updated_at, purchase_count, purchase_days, total_spent, refunded_amount)"
            f" SELECT :t, 'C' || n, 'POTENTIAL', 'EXPLORATION', '[]', '{{}}', '{{\"SMS\": true}}', {now}, {now},"
            f" 1 + n % 5, 1 + n % 5, CASE WHEN n % 6 = 0 THEN 10 ELSE 500 + n % 1000 END, 0 FROM {numbers}"),
            {"t": tenant_id, "n": customers})
        analyze(session, ["customers"])
    with gx.tenant(tenant_id, actor="bench") as ctx:
        campaign = Campaign(tenant_id=tenant_id, name="bench", goal="SALES", channels=["SMS"])
        ctx.session.add(campaign)
        ctx.session.flush()
        return tenant_id, campaign.id


def _anchor(ctx, campaign_id: int) -> None:
    ctx.session.execute(sa.text(
        "INSERT INTO campaign_members (tenant_id, campaign_id, customer_id, holdout)"
        " SELECT :t, :c, id, false FROM customers WHERE tenant_id = :t AND deleted_at IS NULL AND total_spent >= 100"
        " ORDER BY id"),
        {"t": ctx.tenant_id, "c": campaign_id})


def _timed(gx: Guanxi, tenant_id: int, work) -> tuple[float, int]:
    with gx.tenant(tenant_id, actor="bench") as ctx:
        savepoint = ctx.session.begin_nested()
        start = time.perf_counter()
        work(ctx)
        seconds = time.perf_counter() - start
        rows = ctx.session.execute(sa.select(sa.func.count()).select_from(CampaignMember)).scalar_one()
        savepoint.rollback()
    return seconds, rows


def measure(url: str, backend: str, customers: int, runs: int) -> dict:
    gx = _engine(url)
    try:
        tenant_id, campaign_id = _fill(gx, customers)
        with gx.tenant(tenant_id, actor="bench") as ctx:
            segments.condition(ctx, WHERE)  # builds the tenant's schema once: a process's first segment pays it, not each
        ours, anchor, members = [], [], 0
        for _ in range(runs):  # interleaved: the host's noise hits both alike
            seconds, _ = _timed(gx, tenant_id, lambda ctx: _anchor(ctx, campaign_id))
            anchor.append(seconds)
            seconds, members = _timed(gx, tenant_id, lambda ctx: segments.materialise(ctx, campaign_id, WHERE, 7, 0.1))
            ours.append(seconds)
    finally:
        gx.engine.dispose()
    median, base = statistics.median(ours), statistics.median(anchor)
    return {f"segment_s_{backend}": round(median, 3), f"segment_min_s_{backend}": round(min(ours), 3),
            f"segment_max_s_{backend}": round(max(ours), 3), f"segment_members_{backend}": members,
            f"anchor_s_{backend}": round(base, 3), f"ratio_{backend}": round(median / base, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_200_000, help="customers in the tenant (5/6 match)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=10_000, help="webhook deliveries per throughput run")
    parser.add_argument("--no-segments", action="store_true", help="only the webhook figures")
    parser.add_argument("--no-webhooks", action="store_true", help="only the segment figures")
    args = parser.parse_args()
    figures: dict = {"bench": "campaigns", "customers": args.customers}
    if not args.no_webhooks:  # signed deliveries to a local receiver, and a kill -9 mid-run (bench/webhooks.py)
        from bench import webhooks

        figures |= webhooks.measure(events=args.events)
        print(json.dumps(figures), file=sys.stderr)
    if args.no_segments:
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory() as folder:
        figures |= measure(f"sqlite:///{Path(folder) / 'campaigns.db'}", "sqlite", args.customers, args.runs)
    print(json.dumps(figures), file=sys.stderr)  # progress: the SQLite half while PostgreSQL runs
    url = postgres_url()
    if url is None:
        figures |= {"segment_s_postgres": None}
    else:
        try:
            figures |= measure(url, "postgres", args.customers, args.runs)
        finally:
            drop_postgres(url)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
