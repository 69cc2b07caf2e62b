"""PostgreSQL settings a transaction starts with, sent in one statement.

A request's transaction on PostgreSQL used to open with two round trips
before its first query: ``SET LOCAL statement_timeout`` (the request's time
budget, api/statement_budget.py) and ``set_config('guanxi.tenant_id')`` (the
tenant for row-level security, engine/tenancy.py), or ``SET LOCAL ROLE`` for
a system session. Each is a transaction-local setting, so one
``SELECT set_config(a, ..., true), set_config(b, ..., true)`` does the work of
both.

The budget is known when the connection begins (the engine's ``begin``
event), the tenant when the session's ``after_begin`` follows: the budget is
left here (``defer``) and the session's settings take it along (``apply``).
A transaction that no session begins (Core work on a connection) gets what
was left before its first statement instead.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

_PENDING = "guanxi.pending_settings"


def defer(connection: Connection, name: str, value: str | None) -> None:
    """Set ``name`` to ``value`` for this transaction with the next settings
    sent, or before its first statement; None forgets a deferred value
    (connection.info outlives the transaction: a pooled connection must not
    carry one request's setting into the next)."""
    pending = connection.info.get(_PENDING)
    if value is None:
        if pending:
            pending.pop(name, None)
        return
    if pending is None:
        pending = connection.info[_PENDING] = {}
    pending[name] = value
    _listen(connection.engine)


def apply(connection: Connection, settings: dict[str, str]) -> None:
    """``settings`` and whatever was deferred, transaction-local, in one statement."""
    values = {**(connection.info.pop(_PENDING, None) or {}), **settings}
    if values:
        sql, parameters = _statement(values)
        connection.exec_driver_sql(sql, parameters)


def _statement(values: dict[str, str]) -> tuple[str, tuple]:
    calls = ", ".join("set_config(%s, %s, true)" for _ in values)
    return f"SELECT {calls}", tuple(item for pair in values.items() for item in pair)


def _listen(engine: Engine) -> None:
    if not event.contains(engine, "before_cursor_execute", _before_first_statement):
        event.listen(engine, "before_cursor_execute", _before_first_statement)


def _before_first_statement(connection, cursor, statement, parameters, context, executemany) -> None:
    pending = connection.info.pop(_PENDING, None)
    if pending:
        sql, values = _statement(pending)
        cursor.execute(sql, values)  # the driver's cursor: no events, no recursion
