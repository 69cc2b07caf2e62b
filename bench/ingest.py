"""Bulk ingest: 1,000,000 purchases for 100,000 customers through the engine's
bulk path (validation, duplicate check, customer statistics included), against
a plain driver ``executemany`` into a bare table with the same columns, on
SQLite and on PostgreSQL, in the same run.

    .venv/bin/python -m bench.ingest [--purchases 1000000] [--customers 100000]

``*_schema_floor_*``: the same driver writing the same rows straight into
the real interactions table (unique external id, customer foreign key,
indexes), with no validation and no statistics: the ceiling of any engine
path on that schema, and its ratio to the bare-table anchor.
``*_stats_floor_*``: the same rows through the engine's own insert and
customer-statistics fold (update_stats), one transaction per submission,
still with no validation, duplicate check or hooks: the ceiling of any
engine path that keeps the statistics current this way, as it must.

PostgreSQL is used when GUANXI_BENCH_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) is reachable; a throwaway
database per path is created and dropped. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

from engine.bulk import RawCursor, allocate_ids, insert_rows, refresh_stale_statistics, sqlite_time
from engine.config import Settings
from engine.db import make_engine
from engine.models import Customer, Interaction
from engine.plugins.manager import get_plugin_manager
from engine.runtime import Guanxi
from engine.services.interactions import INSERT_COLUMNS, _local_day, record_interactions, update_stats
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant

BATCH = 50_000
BARE_TABLE = """CREATE TABLE bare_interactions (
    id BIGINT PRIMARY KEY, tenant_id INTEGER, customer_id BIGINT, kind VARCHAR(16), occurred_at TIMESTAMP,
    local_day INTEGER, channel VARCHAR(16), store VARCHAR(64), staff VARCHAR(64), amount NUMERIC(14, 2),
    quantity INTEGER, external_id VARCHAR(128), reverses_id BIGINT, payload TEXT, recorded_at TIMESTAMP)"""


def make_items(customer_ids: list[int], n: int, seed: int = 1) -> list[dict]:
    """An order log: random customers and amounts, in time order like a shop's export."""
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    seconds = sorted(rnd.randint(0, 700 * 86400) for _ in range(n))
    return [
        {
            "customer_id": rnd.choice(customer_ids),
            "kind": "PURCHASE",
            "occurred_at": start + timedelta(seconds=seconds[i]),
            "amount": f"{rnd.randint(100, 99_999) / 100:.2f}",
            "quantity": rnd.randint(1, 5),
            "channel": "IN_STORE",
            "store": "SH-01",
            "external_id": f"o-{i}",
        }
        for i in range(n)
    ]


def open_engine(url: str) -> Guanxi:
    """The engine on ``url`` with every plugin, tables created."""
    settings = Settings(database_url=url)
    gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
    gx.upgrade()
    return gx


def tenant_with_customers(gx: Guanxi, customers: int, modules: tuple[str, ...] = ()) -> tuple[int, list[int]]:
    """A new tenant with ``modules`` enabled and ``customers`` bare customers; its id and theirs."""
    with gx.system() as session:
        tenant = create_tenant(session, f"bench-{uuid.uuid4().hex[:8]}", "bench")
        for name in modules:
            set_enabled(session, gx.plugins, tenant.id, name, True, actor="bench")
        ids = insert_rows(session, Customer.__table__, [
            Customer(tenant_id=tenant.id, code=f"C{i}").model_dump(exclude={"id"}) for i in range(customers)
        ])
    return tenant.id, ids


def engine_path(url: str, customers: int, items: list[dict]) -> float:
    gx = open_engine(url)
    tenant_id, ids = tenant_with_customers(gx, customers)
    for item, customer_id in zip(items, (ids[i % len(ids)] for i in range(len(items)))):
        item["customer_id"] = customer_id
    started = time.perf_counter()
    for offset in range(0, len(items), BATCH):
        with gx.tenant(tenant_id, actor="bench") as ctx:
            result = record_interactions(ctx, items[offset : offset + BATCH])
            assert not result.errors and not result.duplicates
    elapsed = time.perf_counter() - started
    gx.engine.dispose()
    return elapsed


def driver_path(url: str, items: list[dict]) -> float:
    """The anchor: the DB-API driver's executemany of the same rows into a bare table."""
    engine = make_engine(url=url)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [
        (i, 1, item["customer_id"], "PURCHASE", item["occurred_at"].replace(tzinfo=None), 0, "IN_STORE", "SH-01",
         None, item["amount"], item["quantity"], item["external_id"], None, "{}", now)
        for i, item in enumerate(items, 1)
    ]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP TABLE IF EXISTS bare_interactions")
        cursor.execute(BARE_TABLE)
        raw.commit()
        marks = ", ".join(["%s" if engine.dialect.name == "postgresql" else "?"] * 15)
        started = time.perf_counter()
        for offset in range(0, len(rows), BATCH):
            if engine.dialect.name == "sqlite":
                cursor.execute("BEGIN")
            cursor.executemany(f"INSERT INTO bare_interactions VALUES ({marks})", rows[offset : offset + BATCH])
            raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()
    return elapsed


def _floor_rows(tenant_id: int, ids: list[int], items: list[dict], postgres: bool) -> list[tuple]:
    """The items as stored interaction rows (FLOOR_COLUMNS order), converted once
    the way the engine's RawCursor converts them."""
    now = datetime.now(timezone.utc)
    if postgres:
        from psycopg.types.json import Jsonb

        payload, stamp, recorded = Jsonb({}), (lambda t: t), now
    else:
        payload, stamp = "{}", sqlite_time
        recorded = stamp(now)
    return [
        (tenant_id, ids[n % len(ids)], "PURCHASE", stamp(item["occurred_at"]),
         _local_day(item["occurred_at"], timezone.utc), "IN_STORE", "SH-01", None,
         item["amount"] if postgres else float(item["amount"]), item["quantity"], item["external_id"], None,
         payload, recorded)
        for n, item in enumerate(items)
    ]


FLOOR_COLUMNS = INSERT_COLUMNS[1:]  # the engine's insert without the id


def schema_floor_path(url: str, customers: int, items: list[dict]) -> float:
    """What no engine path can beat: the driver writing the same rows straight
    into the real interactions table (its unique external id, customer
    foreign key and indexes), on a fresh database. executemany on SQLite,
    COPY on PostgreSQL, as the engine does; no validation, no statistics."""
    gx = open_engine(url)
    tenant_id, ids = tenant_with_customers(gx, customers)
    postgres = gx.engine.dialect.name == "postgresql"
    rows = _floor_rows(tenant_id, ids, items, postgres)
    columns = ", ".join(FLOOR_COLUMNS)
    raw = gx.engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for offset in range(0, len(rows), BATCH):
            if postgres:
                with cursor.copy(f"COPY interactions ({columns}) FROM STDIN") as copy:
                    for row in rows[offset : offset + BATCH]:
                        copy.write_row(row)
            else:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(f"INSERT INTO interactions ({columns}) VALUES ({', '.join(['?'] * 14)})",
                                   rows[offset : offset + BATCH])
            raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
        gx.engine.dispose()
    return elapsed


class _NewRow(NamedTuple):
    """What update_stats reads of a recorded interaction."""

    id: int
    customer_id: int
    kind: str


def stats_floor_path(url: str, customers: int, items: list[dict]) -> float:
    """The schema floor plus the customer statistics the issue requires: the
    engine's own id allocation, insert and statistics fold (update_stats),
    one transaction per submission of BATCH rows as in engine_path, with no
    validation, duplicate check or hooks. The engine path does all of this
    and more (it folds per 5,000-item chunk, not per submission), so it
    cannot beat it."""
    gx = open_engine(url)
    tenant_id, ids = tenant_with_customers(gx, customers)
    rows = _floor_rows(tenant_id, ids, items, gx.engine.dialect.name == "postgresql")
    started = time.perf_counter()
    for offset in range(0, len(rows), BATCH):
        part = rows[offset : offset + BATCH]
        with gx.tenant(tenant_id, actor="bench") as ctx:
            refresh_stale_statistics(ctx.session, ("customers", "interactions"))  # as record_interactions does
            new_ids = allocate_ids(ctx.session, Interaction.__table__, len(part))
            RawCursor(ctx.session).insert("interactions", INSERT_COLUMNS,
                                          [(new_id, *row) for new_id, row in zip(new_ids, part)])
            update_stats(ctx, [_NewRow(new_id, row[1], row[2]) for new_id, row in zip(new_ids, part)])
    elapsed = time.perf_counter() - started
    gx.engine.dispose()
    return elapsed


def postgres_url() -> str | None:
    base = os.environ.get("GUANXI_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        name = f"guanxi_bench_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        engine.dispose()
        return base.rsplit("/", 1)[0] + "/" + name
    except Exception:  # noqa: BLE001 - no server: report null figures
        return None


def drop_postgres(url: str) -> None:
    base, name = url.rsplit("/", 1)
    engine = sa.create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    engine.dispose()


def _figures(backend: str, rows: int, engine_s: float, driver_s: float, floor_s: float, stats_floor_s: float) -> dict:
    """Rates and ratios to the driver anchor: the engine's, the schema's own
    (the real table's driver write) and the schema with statistics kept."""
    return {
        f"{backend}_rows_per_s": round(rows / engine_s),
        f"{backend}_driver_rows_per_s": round(rows / driver_s),
        f"{backend}_ratio_vs_driver": round(driver_s / engine_s, 3),
        f"{backend}_schema_floor_rows_per_s": round(rows / floor_s),
        f"{backend}_schema_floor_ratio_vs_driver": round(driver_s / floor_s, 3),
        f"{backend}_stats_floor_rows_per_s": round(rows / stats_floor_s),
        f"{backend}_stats_floor_ratio_vs_driver": round(driver_s / stats_floor_s, 3),
    }


def _on_fresh_postgres(path, *args) -> float:
    """``path(url, *args)`` on a throwaway PostgreSQL database."""
    url = postgres_url()
    try:
        return path(url, *args)
    finally:
        drop_postgres(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    out: dict = {"bench": "ingest", "purchases": args.purchases, "customers": args.customers}
    with tempfile.TemporaryDirectory() as tmp:
        def sqlite_url(name: str) -> str:
            return f"sqlite:///{Path(tmp) / name}"

        items = make_items(list(range(args.customers)), args.purchases)
        engine_s = engine_path(sqlite_url("bench.db"), args.customers, items)
        driver_s = driver_path(sqlite_url("bare.db"), items)
        floor_s = schema_floor_path(sqlite_url("floor.db"), args.customers, items)
        stats_floor_s = stats_floor_path(sqlite_url("stats.db"), args.customers, items)
    out.update(_figures("sqlite", args.purchases, engine_s, driver_s, floor_s, stats_floor_s))
    out.update(dict.fromkeys(_figures("postgres", 1, 1, 1, 1, 1), None))
    first = postgres_url()  # None: no server reachable, the figures stay null
    if first:
        items = make_items(list(range(args.customers)), args.purchases)
        try:
            engine_s = engine_path(first, args.customers, items)
        finally:
            drop_postgres(first)
        driver_s = _on_fresh_postgres(driver_path, items)
        floor_s = _on_fresh_postgres(schema_floor_path, args.customers, items)
        stats_floor_s = _on_fresh_postgres(stats_floor_path, args.customers, items)
        out.update(_figures("postgres", args.purchases, engine_s, driver_s, floor_s, stats_floor_s))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
