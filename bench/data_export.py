"""Customer export to CSV against the driver's own bulk read of the same rows.

    .venv/bin/python -m bench.data --only export [--quick]

A tenant with N customers (1,000,000; 50,000 with --quick), every profile
field filled, and RFM scores for each (seven plugin columns), built with the
bulk helpers. Measured in the same run, interleaved, best of three (the ratio of each
round is reported too, for the spread):

- export: ``engine.services.export`` (one SELECT with the rfm module's
  columns joined in through its hook, every value formatted by the
  database; on PostgreSQL written by the server through COPY, on SQLite by
  ``csv.writer`` from a raw cursor's blocks) into a file;
- anchor: the driver reading the same columns, RFM's joined in, and writing
  CSV with no formatting at all: on SQLite a raw sqlite3 cursor into
  ``csv.writer.writerows``; on PostgreSQL ``COPY (SELECT ...) TO STDOUT``,
  the server writing the CSV itself.

``ratio = driver_s / export_s`` (goal >= 0.5). ``export_peak_mb`` is the
growth of the process's resident memory during the export (sampled every
10 ms), at N and at N/10; ``export_traced_peak_mb_*`` is tracemalloc's peak
of Python allocations at N/10 and N/100. Equal figures at different sizes
mean memory does not grow with rows. (Resident growth is measured against
what the process already holds: after the SQLite half, PostgreSQL's export
reuses freed memory and may show 0.)
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.ingest import drop_postgres, open_engine, postgres_url
from engine.bulk import insert_rows
from engine.models import Customer
from engine.scoring import replace_result_columns
from engine.services import export as exports
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant
from plugins.rfm.export import FIELDS as RFM_FIELDS
from plugins.rfm.models import RfmScore

CHUNK = 50_000
ROUNDS = 3  # driver and export interleaved
SURNAMES = "王李张刘陈杨赵黄周吴"
SEGMENTS = ("CHAMPIONS", "LOYAL", "AT_RISK", "HIBERNATING", "NEW")


def _customer(tenant_id: int, i: int, rnd: random.Random, now: datetime) -> dict:
    first = now - timedelta(days=rnd.randint(30, 700))
    return {
        "tenant_id": tenant_id, "code": f"C{i:07d}", "name": f"{SURNAMES[i % 10]}{'小明娜伟静'[i % 5]}{i}",
        "gender": "FEMALE" if i % 3 else "MALE", "birthday": None, "phone": f"+86138{i:08d}",
        "email": f"c{i}@example.cn", "wechat_id": None, "region": "华东", "city": "上海" if i % 2 else "杭州",
        "occupation": None, "income_band": None, "acquisition_channel": "WECHAT", "preferred_channel": "WECHAT",
        "price_sensitivity": None, "skin_type": "干性", "preferences": None, "owner": "店长", "store": f"S{i % 6}",
        "referrer_id": None, "role": "CUSTOMER", "lifecycle_stage": "GROWTH", "tags": ["VIP"] if i % 4 == 0 else [],
        "attributes": {}, "consent": {"SMS": True}, "created_at": first, "updated_at": now, "deleted_at": None,
        "erased_at": None, "first_purchase_at": first, "last_purchase_at": now - timedelta(days=i % 300),
        "last_purchase_day": None, "purchase_count": 1 + i % 9, "purchase_days": 1 + i % 9,
        "total_spent": round(rnd.uniform(50, 20000), 2), "refunded_amount": 0,
    }


def build(gx, customers: int) -> int:
    """A tenant with the rfm module on, ``customers`` customers and a score each; its id."""
    rnd = random.Random(7)
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    with gx.system() as session:
        tenant = create_tenant(session, f"bench-export-{os.getpid()}-{time.monotonic_ns()}", "bench")
        set_enabled(session, gx.plugins, tenant.id, "rfm", True, actor="bench")
    ids: list[int] = []
    for start in range(0, customers, CHUNK):
        with gx.tenant_session(tenant.id, write=True) as session:
            rows = [_customer(tenant.id, i, rnd, now) for i in range(start, min(start + CHUNK, customers))]
            ids += insert_rows(session, Customer.__table__, rows)
    with gx.tenant_session(tenant.id, write=True) as session:
        replace_result_columns(session, RfmScore.__table__, tenant.id, {"tenant_id": tenant.id, "run_id": 1, "computed_at": now}, {
            "customer_id": ids, "recency_days": [float(i % 300) for i in range(len(ids))],
            "frequency": [1 + i % 9 for i in range(len(ids))], "monetary": [float(100 + i % 5000) for i in range(len(ids))],
            "r_score": [1 + i % 5 for i in range(len(ids))], "f_score": [1 + i % 4 for i in range(len(ids))],
            "m_score": [1 + i % 3 for i in range(len(ids))], "segment": [SEGMENTS[i % 5] for i in range(len(ids))],
        })
    return tenant.id


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def export_once(gx, tenant_id: int, path: Path) -> tuple[float, float, int]:
    """(seconds, peak resident growth in MB, rows) of one export into ``path``."""
    baseline, peak, done = _rss_mb(), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    with path.open("wb") as handle:
        rows = exports.write_csv(exports.customer_export(gx, tenant_id), handle)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, max(peak[0] - baseline, 0.0), rows


def traced_peak_mb(gx, tenant_id: int, path: Path) -> float:
    """Peak of Python's own allocations during one export (tracemalloc: exact
    but slow, so measured on the smaller tenants only)."""
    import tracemalloc

    tracemalloc.start()
    try:
        with path.open("wb") as handle:
            exports.write_csv(exports.customer_export(gx, tenant_id), handle)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _driver_sql(tenant_id: int, placeholder: str) -> str:
    core = ", ".join(f"c.{name}" for name in exports.CUSTOMER_COLUMNS)
    rfm = ", ".join(f"r.{name}" for name in RFM_FIELDS)
    return (f"SELECT {core}, {rfm} FROM customers c LEFT JOIN rfm_scores r "
            f"ON r.tenant_id = c.tenant_id AND r.customer_id = c.id "
            f"WHERE c.tenant_id = {placeholder} AND c.deleted_at IS NULL ORDER BY c.id")


def driver_once(gx, tenant_id: int, path: Path) -> float:
    started = time.perf_counter()
    if gx.engine.dialect.name == "sqlite":
        import sqlite3

        connection = sqlite3.connect(gx.engine.url.database)
        try:
            with path.open("w", newline="", encoding="utf-8-sig") as handle:
                writer = csv.writer(handle)
                cursor = connection.execute(_driver_sql(tenant_id, "?"), (tenant_id,))
                writer.writerow([d[0] for d in cursor.description])
                writer.writerows(cursor)
        finally:
            connection.close()
    else:
        import psycopg

        url = gx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url) as connection, path.open("wb") as handle:
            sql = f"COPY ({_driver_sql(tenant_id, str(int(tenant_id)))}) TO STDOUT WITH (FORMAT csv, HEADER)"
            with connection.cursor().copy(sql) as copy:
                for block in copy:
                    handle.write(block)
    return time.perf_counter() - started


def measure(url: str, customers: int, folder: Path, backend: str) -> dict:
    gx = open_engine(url)
    try:
        tiny = build(gx, max(customers // 100, 1))
        small = build(gx, max(customers // 10, 1))
        large = build(gx, customers)
        with gx.engine.begin() as connection:  # fresh statistics, as guanxi's bulk paths leave them
            connection.exec_driver_sql("ANALYZE")
        _, small_peak, _ = export_once(gx, small, folder / "small.csv")
        traced_tiny = traced_peak_mb(gx, tiny, folder / "tiny.csv")
        traced_small = traced_peak_mb(gx, small, folder / "small.csv")
        export_s, driver_s, peak, rows = [], [], 0.0, 0
        for _ in range(ROUNDS):
            driver_s.append(driver_once(gx, large, folder / "driver.csv"))
            seconds, run_peak, rows = export_once(gx, large, folder / "export.csv")
            export_s.append(seconds)
            peak = max(peak, run_peak)
        assert rows == customers
    finally:
        gx.engine.dispose()
    ratios = sorted(d / e for d, e in zip(driver_s, export_s))  # per round: the noise of a shared machine
    return {
        f"export_rows_per_s_{backend}": round(rows / min(export_s)),
        f"driver_rows_per_s_{backend}": round(rows / min(driver_s)),
        f"export_ratio_vs_driver_{backend}": round(min(driver_s) / min(export_s), 3),
        f"export_ratio_per_round_{backend}": [round(r, 3) for r in ratios],
        f"export_peak_mb_{backend}": round(peak, 1),
        f"export_peak_mb_at_tenth_{backend}": round(small_peak, 1),
        f"export_traced_peak_mb_at_tenth_{backend}": round(traced_small, 1),
        f"export_traced_peak_mb_at_hundredth_{backend}": round(traced_tiny, 1),
    }


def run(args) -> dict:
    customers = 50_000 if args.quick else 1_000_000
    out: dict = {"customers": customers, "columns": len(exports.CUSTOMER_COLUMNS) + len(RFM_FIELDS),
                 "page_size": exports.PAGE_SIZE}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out.update(measure(f"sqlite:///{folder / 'export.db'}", customers, folder, "sqlite"))
        url = postgres_url()
        if url:
            try:
                out.update(measure(url, customers, folder, "postgres"))
            finally:
                drop_postgres(url)
    out["export_peak_mb"] = max(v for k, v in out.items() if k.startswith("export_peak_mb_") and "tenth" not in k)
    return out
