"""The storage layer: SQLite pragmas, write transactions, tenant isolation of queries."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.services.customers import create_customer
from engine.services.search import search_customers
from tests.concurrency import run_in_threads


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(gx):
    if gx.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with gx.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_many_concurrent_writers_never_see_database_is_locked(gx, tenant):
    """BEGIN IMMEDIATE + busy timeout: writers queue instead of failing."""
    def writer(n: int) -> None:
        for i in range(5):
            with gx.tenant(tenant, actor="t") as ctx:
                found = search_customers(ctx.session, ctx.tenant_id, "writer")  # read, then write
                create_customer(ctx, {"name": f"writer {n}-{i}-{len(found)}"})

    assert run_in_threads(writer, 8) == []
    with gx.tenant(tenant, write=False) as ctx:
        assert len(search_customers(ctx.session, ctx.tenant_id, "writer", limit=100)) == 40


def test_every_table_has_a_tenant_id(gx):
    from sqlmodel import SQLModel

    from engine.migrations import table_owners

    installed = table_owners(gx)
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "tenants" or table.name not in installed:
            continue
        assert "tenant_id" in table.c, f"{table.name} has no tenant_id"


def test_a_failed_write_transaction_leaves_nothing_behind(gx, tenant):
    with pytest.raises(RuntimeError):
        with gx.tenant(tenant) as ctx:
            create_customer(ctx, {"name": "ghost"})
            raise RuntimeError("boom")
    with gx.system(write=False) as session:
        count = session.execute(text("SELECT COUNT(*) FROM customers WHERE name = 'ghost'")).scalar()
    assert count == 0


def test_pool_size_comes_from_the_environment(monkeypatch, tmp_path):
    from engine.config import Settings
    from engine.db import make_engine

    monkeypatch.setenv("GUANXI_DATABASE_URL", f"sqlite:///{tmp_path}/pool.db")
    monkeypatch.setenv("GUANXI_DB_POOL_SIZE", "7")
    engine = make_engine(Settings.from_env())
    try:
        assert engine.pool.size() == 7
    finally:
        engine.dispose()


def test_the_default_customer_list_walks_an_index_instead_of_sorting_the_tenant(gx, tenant):
    """Newest first is the list's default order; sorting a 100k-customer tenant per page would not scale."""
    if gx.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan")
    from sqlalchemy import event

    from api import queries
    from api.pagination import FORWARD, Cursors

    statements = []
    capture = lambda conn, cursor, sql, params, *rest: statements.append((sql, params))  # noqa: E731
    with gx.tenant(tenant, write=False) as ctx:
        event.listen(gx.engine, "before_cursor_execute", capture)
        try:
            queries.customers_page(ctx.session, ctx.tenant_id, Cursors(b"k" * 32), FORWARD)
        finally:
            event.remove(gx.engine, "before_cursor_execute", capture)
        plans = [
            " ".join(row[3] for row in ctx.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in statements
        ]
    assert len(plans) == 2, statements  # the count and the page
    count, page = plans
    # The count reads one index range; a covering one of the search indexes
    # (docs/search.md) costs the same as the partial one (6 ms for 50,000).
    assert "SEARCH customers USING" in count and "(tenant_id=?)" in count and "TEMP B-TREE" not in count, count
    assert "ix_customers_tenant_live_newest" in page and "TEMP B-TREE" not in page, page


def test_a_table_that_outgrew_its_statistics_is_analyzed_and_lookups_use_their_index(tmp_path):
    """SQLite never analyzes by itself; without statistics a phone lookup walked every customer."""
    from engine.bulk import _sqlite_known_rows, insert_rows, refresh_stale_statistics
    from engine.config import Settings
    from engine.models import Customer
    from engine.runtime import Guanxi
    from engine.services.tenants import create_tenant

    shop = Guanxi(settings=Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}"))
    shop.upgrade()
    with shop.system() as session:
        tenant_id = create_tenant(session, "shop", "Shop").id
        insert_rows(session, Customer.__table__, [
            Customer(tenant_id=tenant_id, code=f"bulk-{i}", phone=f"1380000{i:05d}").model_dump(exclude={"id"})
            for i in range(12_000)
        ])
    lookup = ("EXPLAIN QUERY PLAN SELECT * FROM customers WHERE tenant_id = ? AND deleted_at IS NULL "
              "AND phone = '13800000042' ORDER BY created_at DESC, id DESC LIMIT 21")
    with shop.system() as session:
        assert _sqlite_known_rows(session, "customers") == 0
        refresh_stale_statistics(session, ("customers",))
        known = _sqlite_known_rows(session, "customers")
        refresh_stale_statistics(session, ("customers",))  # fresh now: nothing to do
        assert _sqlite_known_rows(session, "customers") == known >= 12_000
        plan = " ".join(row[3] for row in session.connection().exec_driver_sql(lookup, (tenant_id,)))
    # One of the phone indexes (the live customers' unique one fits this lookup best), not a walk.
    assert "phone=?" in plan and "SCAN customers" not in plan, plan
    shop.engine.dispose()


def test_folding_statistics_reads_the_batch_and_each_customers_own_rows_only(gx, tenant, monkeypatch):
    """The stats UPDATE must not walk the tenant's interactions: that made every batch slower than the last."""
    if gx.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan")
    from datetime import datetime, timedelta, timezone

    from engine.bulk import RawCursor
    from engine.services.interactions import record_interactions

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with gx.tenant(tenant) as ctx:
        ids = [create_customer(ctx, {"name": f"c{n}"}).id for n in range(3)]

    def batch(first: int) -> list[dict]:
        return [{"customer_id": ids[n % 3], "kind": "PURCHASE", "amount": "10.00", "external_id": f"s{first + n}",
                 "occurred_at": start + timedelta(days=(first + n) % 40)} for n in range(60)]

    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, batch(0))
    statements = []
    run = RawCursor._run

    def capture(self, sql, params, fetch):
        statements.append((sql, params))
        return run(self, sql, params, fetch)

    monkeypatch.setattr(RawCursor, "_run", capture)
    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, batch(60))  # back-dated days too: the recount runs
    [(sql, params)] = [(sql, params) for sql, params in statements if sql.lstrip().startswith("UPDATE customers")]
    with gx.system(write=False) as session:
        plan = [row[3] for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", tuple(params))]
    reads = [step for step in plan if step.startswith(("SEARCH", "SCAN")) and step.split()[1] in ("interactions", "p")]
    assert reads == [
        "SEARCH interactions USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",  # the batch's rows
        "SEARCH p USING INDEX ix_interactions_tenant_customer (tenant_id=? AND customer_id=?)",  # a recount
    ], plan


def test_bulk_result_writes_keep_every_value_as_given(gx, tenant):
    """replace_result_columns: COPY text on PostgreSQL, executemany on SQLite.
    Strings with tabs, newlines and backslashes, floats that print long,
    None and a datetime constant all read back as written."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from sqlmodel import select

    from engine.scoring import replace_result_columns
    from plugins.rfm.models import RfmScore

    when = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=timezone.utc)
    awkward = ["tab\there", "line\nbreak\r", "back\\slash \\N", "中文"]
    with gx.tenant(tenant) as ctx:
        ids = [create_customer(ctx, {"name": f"c{n}"}).id for n in range(4)]
        replace_result_columns(ctx.session, RfmScore.__table__, ctx.tenant_id, {
            "tenant_id": ctx.tenant_id, "run_id": 7, "computed_at": when,
        }, {
            "customer_id": ids, "recency_days": [0.1 + 0.2, 1e-7, 2.0, 123456.789],
            "frequency": [1, 2, 3, 2**31 - 1], "monetary": [0.3, -5.25, 1e9, 0.01],
            "r_score": [1, 2, 3, 4], "f_score": [1, 1, 1, 1], "m_score": [5, 4, 3, 2], "segment": awkward,
        })
    with gx.tenant(tenant, write=False) as ctx:
        rows = {r.customer_id: r for r in ctx.session.exec(select(RfmScore).where(RfmScore.tenant_id == ctx.tenant_id))}
    assert [rows[i].segment for i in ids] == awkward
    assert [rows[i].recency_days for i in ids] == [0.1 + 0.2, 1e-7, 2.0, 123456.789]
    assert [rows[i].frequency for i in ids] == [1, 2, 3, 2**31 - 1]
    assert [Decimal(rows[i].monetary) for i in ids] == [Decimal("0.30"), Decimal("-5.25"), Decimal("1000000000.00"), Decimal("0.01")]
    assert {rows[i].computed_at for i in ids} == {when} and {rows[i].run_id for i in ids} == {7}


def test_bulk_result_writes_store_none_as_null(gx, tenant):
    from datetime import datetime, timezone

    from sqlmodel import select

    from plugins.clv.models import ClvScore
    from plugins.clv.service import replace_scores

    with gx.tenant(tenant) as ctx:
        ids = [create_customer(ctx, {"name": f"c{n}"}).id for n in range(2)]
        numbers = {name: [1.5, 2.5] for name in ("recency", "T", "monetary_value", "probability_alive",
                                                 "expected_purchases_30", "expected_purchases_90", "expected_purchases_365",
                                                 "expected_spend", "predicted_value", "historical_value")}
        replace_scores(ctx.session, ctx.tenant_id, {"tenant_id": ctx.tenant_id, "run_id": 1, "computed_at": datetime.now(timezone.utc)},
                       {"customer_id": ids, "frequency": [0, 3], "value_decile": [1, 10], **numbers,
                        "holdout_actual": [None, 2.0], "holdout_predicted": [None, None]})
    with gx.tenant(tenant, write=False) as ctx:
        rows = {r.customer_id: r for r in ctx.session.exec(select(ClvScore).where(ClvScore.tenant_id == ctx.tenant_id))}
    assert [(rows[i].holdout_actual, rows[i].holdout_predicted, rows[i].T) for i in ids] == [(None, None, 1.5), (2.0, None, 2.5)]
