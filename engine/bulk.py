"""Bulk writes through SQLAlchemy Core: multi-row inserts with ids known up front.

``INSERT ... RETURNING`` in parameter order makes SQLAlchemy fall back to one
statement per row on SQLite, so ids are allocated first instead: from the
sequence on PostgreSQL, and on SQLite from MAX(id) while the write
transaction (BEGIN IMMEDIATE) holds the database's only write lock.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session


def allocate_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar_one()
        rows = session.execute(sa.text("SELECT nextval(:s) FROM generate_series(1, :n)"), {"s": sequence, "n": count})
        return [row[0] for row in rows]
    start = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(start + 1, start + 1 + count))


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict]) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) and return their new ids, in order."""
    ids = allocate_ids(session, table, len(rows))
    if rows:
        session.execute(sa.insert(table), [dict(row, id=new_id) for row, new_id in zip(rows, ids)])
    return ids
