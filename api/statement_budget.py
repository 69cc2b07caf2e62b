"""A request's database work stops at its time budget.

The endpoint opens a budget per request (``within(ms)``: a deadline in a
context variable, which worker threads and DataLoader tasks inherit). Each
transaction the request begins on the engine is limited to the time left,
so the whole request, however many transactions it opens, stays within
GUANXI_STATEMENT_TIMEOUT_MS:

- PostgreSQL: ``statement_timeout`` local to the transaction, sent with the
  session's own settings (engine/transaction_settings.py); the server cancels a slow
  statement (SQLSTATE 57014), answered as ``QUERY_TIMEOUT``.
- SQLite: a progress handler, called every ``SQLITE_CHECK_EVERY`` virtual
  machine instructions (about a millisecond), interrupts the statement once
  the deadline has passed ("interrupted", answered the same way).

Work outside a request (the worker, the CLI) has no deadline and is left alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from engine import transaction_settings

_deadline: ContextVar[float | None] = ContextVar("guanxi_statement_deadline", default=None)


SQLITE_CHECK_EVERY = 100_000


def install(engine: Engine) -> bool:
    """Listen to ``engine``'s transactions (once); False for a database it cannot limit."""
    listener = {"postgresql": _limit_transaction, "sqlite": _limit_sqlite_transaction}.get(engine.dialect.name)
    if listener is None:
        return False
    if not event.contains(engine, "begin", listener):
        event.listen(engine, "begin", listener)
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
        transaction_settings.defer(connection, "statement_timeout", None)
        return
    # At least 1 ms: a budget already spent still cancels the first statement (0 would mean no limit).
    left = max(1, int((deadline - time.monotonic()) * 1000))
    # Sent with the session's tenant setting, in one statement (engine/transaction_settings.py).
    transaction_settings.defer(connection, "statement_timeout", str(left))


def _limit_sqlite_transaction(connection: Connection) -> None:
    # Set or cleared on every transaction: a pooled connection keeps no earlier request's deadline.
    dbapi = connection.connection.dbapi_connection
    deadline = _deadline.get()
    if deadline is None:
        dbapi.set_progress_handler(None, 0)
        return
    clock = time.monotonic
    dbapi.set_progress_handler(lambda: clock() > deadline, SQLITE_CHECK_EVERY)
