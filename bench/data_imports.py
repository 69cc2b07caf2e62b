"""Imports: what forgiving costs, against its anchors in the same run (SQLite).

    .venv/bin/python -m bench.data --only imports [--quick]

- ``derived_keys``: an interactions CSV without ``external_id`` (every row
  gets a derived key: its time parsed, a hash) against the same rows with
  their own ids (the import path as it was), each into a fresh tenant,
  interleaved; rows/s and the ratio.
- ``read_*``: reading alone (decoding, per-row checks) of the same file as
  UTF-8 CSV, GB18030 CSV and XLSX, against ``csv.reader`` over the UTF-8
  file; rows/s.
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from openpyxl import Workbook

from engine.config import Settings
from engine.db import make_engine
from engine.plugins.manager import get_plugin_manager
from engine.runtime import Guanxi
from engine.services.customers import create_customer
from engine.services.import_files import open_table
from engine.services.importer import import_file
from engine.services.tenants import create_tenant

CUSTOMERS = 1_000


def _write(path: Path, rows: int, with_ids: bool, encoding: str = "utf-8") -> Path:
    start = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=8)))
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_code", "kind", "occurred_at", "amount", "store", *(["external_id"] if with_ids else [])])
        for i in range(rows):
            when = (start + timedelta(minutes=3 * i)).isoformat()
            writer.writerow([f"C{i % CUSTOMERS}", "PURCHASE", when, f"{10 + i % 90}.50", "上海一店", *([f"o-{i}"] if with_ids else [])])
    return path


def _xlsx(source: Path, target: Path) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            sheet.append(row)
    book.save(target)
    return target


def _tenant(gx: Guanxi, slug: str) -> str:
    with gx.system() as session:
        create_tenant(session, slug, slug, "CNY", "Asia/Shanghai", "zh-CN", actor="bench")
    with gx.tenant(slug) as ctx:
        for i in range(CUSTOMERS):
            create_customer(ctx, {"code": f"C{i}"})
    return slug


def _rate(rows: int, seconds: float) -> int:
    return int(rows / seconds)


def run(args) -> dict:
    rows = 5_000 if args.quick else 50_000
    rounds = 1 if args.quick else 3
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        settings = Settings(database_url=f"sqlite:///{folder / 'bench.db'}")
        gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
        gx.upgrade()
        with_ids = _write(folder / "with_ids.csv", rows, True)
        without = _write(folder / "without_ids.csv", rows, False)
        timings: dict[str, list[float]] = {"anchor_with_ids": [], "derived_keys": []}
        for round_ in range(rounds):
            for name, path in (("anchor_with_ids", with_ids), ("derived_keys", without)):  # interleaved
                tenant = _tenant(gx, f"bench-{name.replace('_', '-')}-{round_}")
                started = time.perf_counter()
                report = import_file(gx, tenant, "interactions", path)
                timings[name].append(time.perf_counter() - started)
                assert report.rows_stored == rows, report
        anchor, derived = (statistics.median(timings[k]) for k in ("anchor_with_ids", "derived_keys"))

        gb = _write(folder / "gb.csv", rows, True, encoding="gb18030")
        book = _xlsx(with_ids, folder / "book.xlsx")
        reads: dict[str, list[float]] = {"csv_reader_anchor": [], "utf8": [], "gb18030": [], "xlsx": []}
        for _ in range(rounds):
            started = time.perf_counter()
            with with_ids.open(newline="", encoding="utf-8") as handle:
                assert sum(1 for _ in csv.reader(handle)) == rows + 1
            reads["csv_reader_anchor"].append(time.perf_counter() - started)
            for name, path in (("utf8", with_ids), ("gb18030", gb), ("xlsx", book)):
                started = time.perf_counter()
                assert sum(1 for _ in open_table(path).rows()) == rows
                reads[name].append(time.perf_counter() - started)
        gx.engine.dispose()
    return {
        "database": "sqlite",
        "rows": rows,
        "rounds": rounds,
        "anchor_with_ids_rows_per_s": _rate(rows, anchor),
        "derived_keys_rows_per_s": _rate(rows, derived),
        "derived_keys_time_ratio": round(derived / anchor, 3),
        **{f"read_{name}_rows_per_s": _rate(rows, statistics.median(times)) for name, times in reads.items()},
    }
