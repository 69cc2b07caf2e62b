"""Complaints: the SLA sweep and the report at scale; prints one JSON line.

Run with ``.venv/bin/python -m bench.complaints`` (a few minutes: most of it
is generating the data). ``--open-cases`` / ``--stats-cases`` shrink it.

- ``sla_sweep_s``: ``sweep_tenant`` over 100,000 open cases on SQLite, all
  under a business-hours SLA (Mon–Fri 09:00–18:00 Asia/Shanghai with
  holidays), in the job's steady state: five minutes after the previous
  sweep, every case evaluated, the few that crossed a target escalated.
  ``sla_sweep_cold_s`` is the first sweep of the fresh data (every breach so
  far written at once: ~40% of the cases escalate), ``sla_sweep_repeat_s``
  a second sweep at the same instant (idempotent).
- ``stats_s_sqlite`` / ``stats_s_postgres``: ``complaint_stats`` over
  1,000,000 cases of one tenant (median of 3 runs after a warm-up), with and
  without ``group_by``. PostgreSQL uses ``--postgres-url`` (default: a
  ``guanxi_bench_complaints`` database on 127.0.0.1:5432, created and
  dropped); ``null`` when it cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from engine.bulk import insert_rows
from engine.config import Settings
from engine.db import make_engine
from engine.models import Customer
from engine.plugins.manager import get_plugin_manager
from engine.runtime import Guanxi
from engine.services.modules import configure, set_enabled
from engine.services.tenants import create_tenant
from plugins.complaints.jobs import sweep_tenant
from plugins.complaints.models import ComplaintCase
from plugins.complaints.stats import complaint_stats

NOW = datetime.now(UTC).replace(microsecond=0)
CALENDAR_SETTINGS = {
    "calendars": {
        "office": {
            "timezone": "Asia/Shanghai",
            "hours": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": ["2026-01-01", "2026-02-17", "2026-02-18", "2026-05-01", "2026-10-01", "2026-10-02"],
        }
    },
    "sla_policies": [
        {"name": p, "condition": {"priorities": [p]}, "first_response_minutes": f, "resolution_minutes": r, "calendar": "office"}
        for p, f, r in (("urgent", 60, 1440), ("high", 240, 4320), ("normal", 1440, 10080), ("low", 4320, 20160))
    ],
}
PRIORITIES = np.array(["urgent", "high", "normal", "low"])
TARGETS = {"urgent": (60, 1440), "high": (240, 4320), "normal": (1440, 10080), "low": (4320, 20160)}
CATEGORIES = np.array(["PRODUCT_QUALITY", "SERVICE", "PRICE", "LOGISTICS", "AFTER_SALES", "PAYMENT", "OTHER"])
ROOT_CAUSES = np.array(["DEFECT", "CARRIER_DAMAGE", "STAFF_ATTITUDE", "PRICE_ERROR", "STOCKOUT", "BILLING", "MISC"])


def _engine(url: str) -> Guanxi:
    settings = Settings(database_url=url)
    gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
    gx.upgrade()
    return gx


def _tenant(gx: Guanxi, slug: str, customers: int, settings: dict | None = None) -> tuple[int, np.ndarray]:
    with gx.system() as session:
        tenant = create_tenant(session, slug, slug, "CNY", "Asia/Shanghai", "zh-CN", actor="bench")
        set_enabled(session, gx.plugins, tenant.id, "complaints", True, actor="bench")
        if settings:
            configure(session, gx.plugins, tenant.id, "complaints", settings, actor="bench")
        ids = insert_rows(session, Customer.__table__, [{"tenant_id": tenant.id, "code": f"C{i}"} for i in range(customers)])
    return tenant.id, np.array(ids)


def _dt(seconds: np.ndarray) -> list:
    return [None if np.isnan(s) else datetime.fromtimestamp(float(s), UTC) for s in seconds]


def _insert_cases(gx: Guanxi, columns: dict[str, list], chunk: int = 20_000) -> None:
    n = len(next(iter(columns.values())))
    table = ComplaintCase.__table__
    names = list(columns)
    # Loading a fresh table: build the indexes once at the end, not row by row.
    with gx.engine.begin() as conn:
        for index in table.indexes:
            index.drop(conn)
    with gx.system() as session:
        if session.get_bind().dialect.name == "postgresql":
            # COPY: the bulk path DESIGN.md names for PostgreSQL.
            raw = session.connection().connection.dbapi_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for i in range(n):
                    copy.write_row([columns[name][i] for name in names])
        else:
            for start in range(0, n, chunk):
                session.execute(sa.insert(table), [{name: columns[name][i] for name in names} for i in range(start, min(n, start + chunk))])
    with gx.engine.begin() as conn:
        for index in table.indexes:
            index.create(conn)


def _open_case_columns(tenant_id: int, customers: np.ndarray, n: int, rng) -> dict[str, list]:
    now = NOW.timestamp()
    opened = now - rng.uniform(0, 20 * 86400, n)
    priority = PRIORITIES[rng.choice(4, n, p=[0.05, 0.2, 0.6, 0.15])]
    status = np.array(["received", "routed", "in_progress", "waiting_on_customer"])[rng.choice(4, n, p=[0.3, 0.2, 0.35, 0.15])]
    answered = (status != "received") & (rng.random(n) < 0.8)
    first_at = np.where(answered, opened + rng.exponential(4 * 3600, n), np.nan)
    first_at = np.where(first_at > now, np.nan, first_at)
    waiting = status == "waiting_on_customer"
    paused_since = np.where(waiting, opened + (now - opened) * rng.uniform(0.3, 1.0, n), np.nan)
    first_at = np.where(waiting & np.isnan(first_at), opened + (paused_since - opened) / 2, first_at)
    targets = np.array([TARGETS[p] for p in priority])
    return {
        "tenant_id": [tenant_id] * n,
        "customer_id": rng.choice(customers, n).tolist(),
        "category": CATEGORIES[rng.integers(0, 7, n)].tolist(),
        "priority": priority.tolist(),
        "status": status.tolist(),
        "store": [f"S{k:02d}" for k in rng.integers(0, 50, n)],
        "opened_at": _dt(opened),
        "first_response_at": _dt(first_at),
        "paused_since": _dt(paused_since),
        "paused_minutes": np.round(rng.exponential(30, n) * (rng.random(n) < 0.2), 3).tolist(),
        "sla_policy": priority.tolist(),
        "sla_calendar": ["office"] * n,
        "first_response_target": targets[:, 0].tolist(),
        "resolution_target": targets[:, 1].tolist(),
        "escalation_level": [0] * n,
        "first_response_breached": [False] * n,
        "resolution_breached": [False] * n,
        "reopen_count": [0] * n,
        "updated_at": _dt(opened),
    }


def _stats_case_columns(tenant_id: int, customers: np.ndarray, n: int, rng) -> dict[str, list]:
    year = 365 * 86400
    now = NOW.timestamp()
    opened = now - rng.uniform(0, year, n)
    status = np.array(["received", "routed", "in_progress", "waiting_on_customer", "resolved", "follow_up", "closed", "cancelled"])[
        rng.choice(8, n, p=[0.02, 0.02, 0.04, 0.02, 0.05, 0.05, 0.75, 0.05])]
    done = np.isin(status, ["resolved", "follow_up", "closed"])
    answered = done | ((status != "received") & (rng.random(n) < 0.7))
    first_minutes = np.where(answered, np.round(rng.exponential(180, n), 2), np.nan)
    resolution_minutes = np.where(done, np.round(first_minutes + rng.exponential(2000, n), 2), np.nan)
    priority = PRIORITIES[rng.choice(4, n, p=[0.05, 0.2, 0.6, 0.15])]
    targets = np.array([TARGETS[p] for p in priority])
    promised = rng.random(n) < 0.3
    kept = np.where(promised & (rng.random(n) < 0.85), True, np.where(promised, False, None))
    satisfaction = np.where(np.isin(status, ["follow_up", "closed"]), rng.choice([1, 2, 3, 4, 5], n, p=[0.05, 0.07, 0.18, 0.35, 0.35]), None)
    return {
        "tenant_id": [tenant_id] * n,
        "customer_id": rng.choice(customers, n).tolist(),
        "category": CATEGORIES[rng.integers(0, 7, n)].tolist(),
        "priority": priority.tolist(),
        "status": status.tolist(),
        "store": [f"S{k:02d}" for k in rng.integers(0, 50, n)],
        "opened_at": _dt(opened),
        "resolved_at": _dt(np.where(done, opened + np.nan_to_num(resolution_minutes) * 60, np.nan)),
        "first_response_minutes": [None if np.isnan(x) else float(x) for x in first_minutes],
        "resolution_minutes": [None if np.isnan(x) else float(x) for x in resolution_minutes],
        "sla_policy": priority.tolist(),
        "first_response_target": targets[:, 0].tolist(),
        "resolution_target": targets[:, 1].tolist(),
        "first_response_breached": (np.nan_to_num(first_minutes) > targets[:, 0]).tolist(),
        "resolution_breached": (np.nan_to_num(resolution_minutes) > targets[:, 1]).tolist(),
        "promised_reply_at": _dt(np.where(promised, opened + 7200, np.nan)),
        "promise_kept": kept.tolist(),
        "satisfaction": satisfaction.tolist(),
        "reopen_count": (done & (rng.random(n) < 0.06)).astype(int).tolist(),
        "root_cause": np.where(done, ROOT_CAUSES[rng.integers(0, 7, n)], None).tolist(),
        "escalation_level": [0] * n,
        "paused_minutes": [0.0] * n,
        "updated_at": _dt(opened),
    }


def bench_sweep(path: Path, n: int) -> dict:
    gx = _engine(f"sqlite:///{path}")
    rng = np.random.default_rng(7)
    tenant_id, customers = _tenant(gx, "bench-sweep", 20_000, CALENDAR_SETTINGS)
    _insert_cases(gx, _open_case_columns(tenant_id, customers, n, rng))
    timings, reports = [], []
    # 1: the first sweep of fresh data (every breach so far to write: cold);
    # 2: five minutes later, the job's steady state (sla_sweep_s);
    # 3: the same instant again (idempotent: nothing to write).
    for at in (NOW - timedelta(minutes=5), NOW, NOW):
        started = time.perf_counter()
        with gx.tenant(tenant_id, actor="bench") as ctx:
            reports.append(sweep_tenant(ctx, now=at))
        timings.append(time.perf_counter() - started)
    gx.engine.dispose()
    return {"sla_sweep_s": round(timings[1], 3), "sla_sweep_cold_s": round(timings[0], 3),
            "sla_sweep_repeat_s": round(timings[2], 3), "sweep_open_cases": reports[1].checked,
            "sweep_escalated": reports[1].escalated, "sweep_cold_escalated": reports[0].escalated,
            "sweep_repeat_escalated": reports[2].escalated}


def bench_stats(url: str, n: int) -> dict:
    gx = _engine(url)
    rng = np.random.default_rng(11)
    tenant_id, customers = _tenant(gx, f"bench-stats-{int(time.time())}", 50_000)
    _insert_cases(gx, _stats_case_columns(tenant_id, customers, n, rng))
    # Statistics and, on PostgreSQL, the visibility map (index-only scans):
    # what autovacuum would have done after a load like this.
    with gx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE complaint_cases" if conn.dialect.name == "postgresql" else "ANALYZE")
    since, until = NOW - timedelta(days=400), NOW + timedelta(days=1)
    out = {}
    for label, group_by in (("", None), ("_grouped", "store")):
        timings = []
        for _ in range(4):
            started = time.perf_counter()
            with gx.tenant(tenant_id, write=False) as ctx:
                result = complaint_stats(ctx, since, until, group_by=group_by)
            timings.append(time.perf_counter() - started)
        assert result.totals.count == n
        out[label] = (round(statistics.median(timings[1:]), 3), round(timings[0], 3))
    gx.engine.dispose()
    return {"stats_s": out[""][0], "stats_cold_s": out[""][1], "stats_grouped_s": out["_grouped"][0]}


def _postgres(url: str | None):
    """(url to use, cleanup) or (None, None) when PostgreSQL is unreachable."""
    admin_url = url or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    name = "guanxi_bench_complaints"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception:  # unreachable: report null
        return None, None
    target = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def cleanup():
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return target, cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open-cases", type=int, default=100_000)
    parser.add_argument("--stats-cases", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", default=None, help="admin URL of a PostgreSQL server (a scratch database is created)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    result: dict = {"bench": "complaints", "open_cases": args.open_cases, "stats_cases": args.stats_cases}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(bench_sweep(Path(tmp) / "sweep.db", args.open_cases))
        sqlite = bench_stats(f"sqlite:///{Path(tmp) / 'stats.db'}", args.stats_cases)
    result.update({"stats_s_sqlite": sqlite["stats_s"], "stats_cold_s_sqlite": sqlite["stats_cold_s"],
                   "stats_grouped_s_sqlite": sqlite["stats_grouped_s"]})
    url, cleanup = (None, None) if args.no_postgres else _postgres(args.postgres_url)
    if url is None:
        result.update({"stats_s_postgres": None})
    else:
        try:
            pg = bench_stats(url, args.stats_cases)
        finally:
            cleanup()
        result.update({"stats_s_postgres": pg["stats_s"], "stats_cold_s_postgres": pg["stats_cold_s"],
                       "stats_grouped_s_postgres": pg["stats_grouped_s"]})
    result["goal_s"] = 2.0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
