"""Bulk writes through SQLAlchemy Core: multi-row inserts with ids known up front.

``INSERT ... RETURNING`` in parameter order makes SQLAlchemy fall back to one
statement per row on SQLite, so ids are allocated first instead: from the
sequence on PostgreSQL, and on SQLite from MAX(id) while the write
transaction (BEGIN IMMEDIATE) holds the database's only write lock.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.orm import Session


def allocate_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar_one()
        rows = session.execute(sa.text("SELECT nextval(:s) FROM generate_series(1, :n)"), {"s": sequence, "n": count})
        return [row[0] for row in rows]
    # On the connection: the largest id of every tenant, not only the session's.
    start = session.connection().exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
    return list(range(start + 1, start + 1 + count))


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict]) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) and return their new ids, in order."""
    ids = allocate_ids(session, table, len(rows))
    if rows:
        session.execute(sa.insert(table), [dict(row, id=new_id) for row, new_id in zip(rows, ids)])
    return ids


COPY_CHUNK = 50_000  # rows of COPY text built at a time


def _copy_text(values: list) -> list[str]:
    """Values of one column as COPY text fields: \\N for None, the shortest
    round-tripping text of floats (PostgreSQL reads nan and inf too),
    tabs, newlines and backslashes in strings escaped."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, str):
        joined = "".join(v for v in values if v is not None)
        convert = _escape_copy if any(c in joined for c in "\\\t\n\r") else str
    elif isinstance(sample, float):
        convert = repr  # ints among the floats print as ints
    elif isinstance(sample, datetime):
        convert = datetime.isoformat
    else:
        convert = str
    if None in values:
        return ["\\N" if v is None else convert(v) for v in values]
    return list(map(convert, values))


def _escape_copy(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


STALE_GROWTH = 1.2  # a table this many times the rows the planner knows, plus...
STALE_MARGIN = 10_000  # ...this many, has its statistics refreshed


def refresh_stale_statistics(session: Session, tables: Sequence[str]) -> None:
    """ANALYZE each of ``tables`` that has grown well past the row count the
    query planner last measured (never measured counts as none).

    PostgreSQL: during a tenant's first bulk load autovacuum lags behind;
    planning lookups for a table it believed held a few hundred rows, it
    hashed the whole tenant's 500,000 interactions to find 5,000 external
    ids (170 ms a chunk, growing with the table). SQLite never analyzes by
    itself: without statistics it answered a phone lookup by walking every
    customer newest first rather than through the phone index; it gets an
    approximate ANALYZE (a few hundred rows per index, milliseconds).
    Growth, not updates, is the test: customers' statistics change on every
    purchase without changing what the plans depend on.
    """
    if session.get_bind().dialect.name == "postgresql":
        stale = session.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.oid = ANY(CAST(:tables AS regclass[])) "
            "AND s.n_live_tup > :growth * GREATEST(c.reltuples, 0) + :margin"
        ), {"tables": list(tables), "growth": STALE_GROWTH, "margin": STALE_MARGIN}).scalars().all()
    else:
        stale = [
            table for table in tables
            if _sqlite_rows(session, table) > STALE_GROWTH * _sqlite_known_rows(session, table) + STALE_MARGIN
        ]
    analyze(session, stale)


ANALYZE_FUNCTION = "guanxi_analyze"  # PostgreSQL: ANALYZE as the tables' owner (engine/migrations/security.py)


def analyze(session: Session, tables: Sequence[str]) -> None:
    """Refresh the query planner's statistics of ``tables`` (on SQLite an
    approximate ANALYZE: a few hundred rows per index, milliseconds). On
    PostgreSQL only a table's owner may, and the application is not it: a
    function the upgrade made runs it as the owner."""
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(sa.text(f"SELECT {ANALYZE_FUNCTION}(CAST(:t AS regclass))"), {"t": table})
        return
    if tables:
        session.execute(sa.text("PRAGMA analysis_limit = 400"))
    for table in tables:
        session.execute(sa.text(f"ANALYZE {table}"))


def _sqlite_rows(session: Session, table: str) -> int:
    # The largest rowid: the row count of a table whose rows are rarely deleted, without a scan.
    return session.execute(sa.text(f"SELECT coalesce(max(rowid), 0) FROM {table}")).scalar_one()


def _sqlite_known_rows(session: Session, table: str) -> int:
    """The row count in the planner's statistics (sqlite_stat1: "rows avg..." per index); 0 without."""
    if session.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is None:
        return 0
    stats = session.execute(sa.text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).scalars().all()
    return max((int(stat.split()[0]) for stat in stats), default=0)


def sqlite_time(value: datetime) -> str:
    """An aware datetime as UtcDateTime stores it on SQLite: naive UTC text,
    fixed width (microseconds included), so text order is time order."""
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(" ", "microseconds")[:26]  # without "+00:00"


def probe_sql(columns: str, table: str, key: str, array_type: str, where: str = "", lock: str = "") -> str:
    """PostgreSQL: the rows of ``table`` whose ``key`` is in an array, one index
    probe per element, in the array's order (see RawCursor.select_in).
    Parameters: the array, then the tenant id."""
    return (f"SELECT found.* FROM unnest(%s::{array_type}) AS wanted(wanted_key) CROSS JOIN LATERAL "
            f"(SELECT {columns} FROM {table} WHERE tenant_id = %s AND {key} = wanted.wanted_key {where} "
            f"OFFSET 0 {lock}) AS found")


# PostgreSQL: fewer rows than this go in by INSERT; COPY through a staging
# table has a fixed cost of about 1.5 ms, which 100 inserted rows outweigh.
COPY_FROM_ROWS = 100


@contextlib.contextmanager
def copy_into(dbapi_connection, table: str, names: str):
    """A psycopg COPY writer whose rows end up in ``table`` (PostgreSQL).

    Through a temporary table of the same shape: PostgreSQL refuses COPY
    FROM into a table under row-level security, and the INSERT ... SELECT
    from the copy is held to the tenant policy like any insert. (For 50,000
    interactions, 2.5 s against 2.1 s for a COPY straight into the table.)
    The staging table is emptied after each use, or by the rollback.
    """
    stage = f"guanxi_stage_{table}"
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS)")
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            yield copy
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}")
        cursor.execute(f"TRUNCATE {stage}")
    finally:
        cursor.close()


class RawCursor:
    """The hot bulk paths' direct line to the DB-API driver, in the session's
    transaction: SQLAlchemy's per-row parameter processing costs more than the
    database's work for million-row ingests. Values are converted once here,
    the way the column types would store them."""

    def __init__(self, session: Session):
        dialect = session.get_bind().dialect
        self.postgres = dialect.name == "postgresql"
        self.mark = "%s" if self.postgres else "?"
        self._connection = session.connection().connection
        self._driver_error = dialect.loaded_dbapi.Error

    @contextlib.contextmanager
    def _translated(self, sql: str):
        """The driver's errors as SQLAlchemy's (a unique violation is an IntegrityError), as a
        statement run through the session raises them: callers' retries and the API's mapping
        of refused statements (engine/integrity.py) see one kind. Bound values are left out."""
        try:
            yield
        except self._driver_error as error:
            raise sa.exc.DBAPIError.instance(sql, None, error, self._driver_error, hide_parameters=True) from error

    def time(self, value):
        """Aware datetime → what UtcDateTime stores (naive UTC text on SQLite)."""
        if value is None or self.postgres:
            return value
        return sqlite_time(value)

    def read_time(self, value):
        if value is None or isinstance(value, datetime):
            return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)

    def money(self, value):
        return value if value is None or self.postgres else float(value)

    def json(self, value):
        if self.postgres:
            return Jsonb(value)
        return "{}" if not value and isinstance(value, dict) else json.dumps(value)  # most payloads are empty

    def placeholders(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        """Insert ``rows`` (tuples in ``columns`` order): COPY on PostgreSQL for
        COPY_FROM_ROWS rows or more, where it runs several times faster than
        executemany; executemany otherwise, and on SQLite."""
        if not rows:
            return
        names = ", ".join(columns)
        if not self.postgres or len(rows) < COPY_FROM_ROWS:
            self.executemany(f"INSERT INTO {table} ({names}) VALUES ({self.placeholders(len(columns))})", rows)
            return
        with self._translated(f"COPY {table}"), copy_into(self._connection, table, names) as copy:
            for row in rows:
                copy.write_row(row)

    def insert_columns(self, table: str, constants: dict[str, Any], columns: dict[str, list]) -> None:
        """Insert a row per position of the equal-length lists in ``columns``,
        each row with ``constants`` too. Lists hold int, float, str or None;
        constants may also be datetimes. PostgreSQL: COPY fed text built a
        column at a time, a third of the time ``write_row`` takes per row for
        200,000 scores; SQLite: executemany."""
        count = len(next(iter(columns.values()))) if columns else 0
        if count == 0:
            return
        names = [f'"{name}"' for name in [*constants, *columns]]  # quoted: CLV has a column "T"
        if not self.postgres:
            head = [[self.time(v) if isinstance(v, datetime) else v] * count for v in constants.values()]
            self.insert(table, names, list(zip(*head, *columns.values())))
            return
        prefix = "".join(_copy_text([v])[0] + "\t" for v in constants.values())
        texts = [_copy_text(values) for values in columns.values()]
        with self._translated(f"COPY {table}"), copy_into(self._connection, table, ", ".join(names)) as copy:
            for start in range(0, count, COPY_CHUNK):
                part = zip(*(text[start : start + COPY_CHUNK] for text in texts))
                copy.write("".join([prefix + "\t".join(fields) + "\n" for fields in part]))

    def select_in(self, columns: str, table: str, key: str, values: Sequence, tenant_id: int, where: str = "",
                  lock: str = "") -> list[tuple]:
        """``SELECT columns FROM table WHERE tenant_id = ? AND key IN (values) where``.

        ``values`` must be distinct and ``key`` indexed after ``tenant_id`` (or
        unique on its own). ``lock`` (PostgreSQL only, e.g. ``FOR
        UPDATE``) locks the rows found one value at a time, in the order of
        ``values``: pass them sorted and two callers never deadlock.

        PostgreSQL probes the key's index once per value (a LATERAL subquery
        the planner may not flatten). Left to choose, it compared each of
        the tenant's rows with every element of ``key = ANY(array)`` before
        its first analyze (1 s for 5,000 ids among 100,000 customers) and,
        after it, hashed the tenant's whole table for a join (170 ms for
        5,000 external ids among 500,000 interactions, growing with the
        table). SQLite, whose statements take at most 999 parameters, gets
        chunks of 900.
        """
        if not values:
            return []
        if self.postgres:
            array_type = "bigint[]" if isinstance(values[0], int) else "text[]"
            return self.fetchall(probe_sql(columns, table, key, array_type, where, lock), [list(values), tenant_id])
        rows: list[tuple] = []
        for start in range(0, len(values), 900):
            part = values[start : start + 900]
            rows.extend(self.fetchall(
                f"SELECT {columns} FROM {table} WHERE tenant_id = ? AND {key} IN ({self.placeholders(len(part))}) {where}",
                [tenant_id, *part],
            ))
        return rows

    def executemany(self, sql: str, rows: Sequence[tuple]) -> None:
        if rows:
            cursor = self._connection.cursor()
            try:
                with self._translated(sql):
                    cursor.executemany(sql, rows)
            finally:
                cursor.close()

    def execute(self, sql: str, params: Sequence = ()) -> None:
        self._run(sql, params, fetch=False)

    def fetchall(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self._run(sql, params, fetch=True)

    def _run(self, sql: str, params: Sequence, fetch: bool) -> list[tuple] | None:
        cursor = self._connection.cursor()
        try:
            with self._translated(sql):
                if self.postgres:
                    # Lookups vary in length and run while tables grow fast: a
                    # prepared generic plan chosen on an empty table would keep
                    # seq-scanning it. Plan each one with the current sizes.
                    cursor.execute(sql, tuple(params), prepare=False)
                else:
                    cursor.execute(sql, tuple(params))
                return cursor.fetchall() if fetch else None
        finally:
            cursor.close()
