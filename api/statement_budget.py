"""A request's database work stops at its time budget (PostgreSQL).

The endpoint opens a budget per request (``within(ms)``: a deadline in a
context variable, which worker threads and DataLoader tasks inherit). Each
transaction the request begins on the engine starts with
``SET LOCAL statement_timeout`` to the time left, so a slow statement is
cancelled by the server (SQLSTATE 57014, answered as ``QUERY_TIMEOUT``)
and the whole request, however many transactions it opens, stays within
GUANXI_STATEMENT_TIMEOUT_MS. Work outside a request (the worker, the CLI)
has no deadline and is left alone. SQLite runs in the process and cannot be
cancelled this way; there the cost rule bounds what a request may ask.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_deadline: ContextVar[float | None] = ContextVar("guanxi_statement_deadline", default=None)


def install(engine: Engine) -> bool:
    """Listen to ``engine``'s transactions (once); False where there is nothing to set (SQLite)."""
    if engine.dialect.name != "postgresql":
        return False
    if not event.contains(engine, "begin", _limit_transaction):
        event.listen(engine, "begin", _limit_transaction)
    return True


@contextlib.contextmanager
def within(milliseconds: int) -> Iterator[None]:
    """The block's database work (and what it starts) must end within ``milliseconds`` (0: no limit)."""
    if milliseconds <= 0:
        yield
        return
    token = _deadline.set(time.monotonic() + milliseconds / 1000)
    try:
        yield
    finally:
        _deadline.reset(token)


def _limit_transaction(connection: Connection) -> None:
    deadline = _deadline.get()
    if deadline is None:
        return
    # At least 1 ms: a budget already spent still cancels the first statement (0 would mean no limit).
    left = max(1, int((deadline - time.monotonic()) * 1000))
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {left}")
