"""Tenant-scoped data access: a session bound to one tenant cannot read or
write another tenant's rows through the ORM, however its caller forgets
``tenant_id``.

- Reads: every ORM statement (``select``, ``session.get``, ORM ``update`` and
  ``delete``, subqueries included) gets ``tenant_id = <the tenant>`` on each
  tenant-owned model it touches (SQLAlchemy's ``with_loader_criteria``);
  Core statements on tenant tables get it on their target or top-level tables.
  A table the statement's own top-level WHERE already limits to the tenant
  (as every engine query does) is left as written.
- Writes: objects flushed with another tenant's id are refused (a missing
  ``tenant_id`` is filled in); Core inserts naming another tenant are refused.
- PostgreSQL: each transaction also declares its tenant
  (``guanxi.tenant_id``) for the row-level security policies that
  ``guanxi db upgrade`` puts on every tenant table (engine/migrations/security.py),
  so even raw SQL sees one tenant. The engine's own cross-tenant sessions
  switch to the application's system role instead.

Raw driver SQL on SQLite has no second wall: plugins go through the ORM.

A table is tenant-owned when it has a ``tenant_id`` column; ``tenants`` is
scoped by its ``id``. A table without either must be declared global with
``global_table`` or it is refused at start.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.sql import operators
from sqlalchemy.sql import util as sql_util
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList
from sqlmodel import Session, SQLModel

from engine import transaction_settings

TENANT_COLUMN = "tenant_id"
GLOBAL_MARK = "guanxi_global"
# PostgreSQL setting the row-level security policies read: the transaction's tenant id.
TENANT_SETTING = "guanxi.tenant_id"


def system_role(app_role: str) -> str:
    """The PostgreSQL role the engine's own cross-tenant work switches to
    (authentication, the platform's tenant list, the worker's schedule)."""
    return f"{app_role}_system"


class TenantIsolationError(RuntimeError):
    """A tenant-bound session was asked to write another tenant's rows: a bug in the caller."""


class UnscopedTableError(RuntimeError):
    """A table has no ``tenant_id`` and was not declared global."""


def global_table(model):
    """Class decorator: this table holds no tenant's data (shared reference
    data). Without it a table lacking ``tenant_id`` is refused at start."""
    model.__table__.info[GLOBAL_MARK] = True
    return model


def tenant_column(table: sa.Table) -> sa.Column | None:
    """The column naming a row's tenant (``tenants.id`` for the tenants table), or None."""
    if table.name == "tenants":
        return table.c.id
    return table.c.get(TENANT_COLUMN)


def check_tables(tables: Iterable[sa.Table], owners: dict[str, str] | None = None) -> None:
    """Refuse tables that carry no tenant and are not declared global."""
    owners = owners or {}
    bad = [t.name for t in tables if tenant_column(t) is None and not t.info.get(GLOBAL_MARK)]
    if bad:
        named = ", ".join(f"{name} (plugin {owners[name]!r})" if name in owners else name for name in sorted(bad))
        raise UnscopedTableError(
            f"tables without a tenant_id column: {named}. Every table carries tenant_id; a table of shared "
            "reference data is declared with engine.tenancy.global_table.")


class TenantSession(Session):
    """A session bound to one tenant (``tenant_id``); see the module docstring."""

    def __init__(self, bind, tenant_id: int, **kwargs):
        super().__init__(bind, **kwargs)
        self.tenant_id = tenant_id


class SystemSession(Session):
    """The engine's own cross-tenant session: authentication, tenants, the
    worker's schedule. Never handed to plugins, resolvers or jobs. On
    PostgreSQL its transactions act as ``db_role`` (the system role)."""

    def __init__(self, bind, db_role: str | None = None, **kwargs):
        super().__init__(bind, **kwargs)
        self.db_role = db_role


# Tables already mapped to a model, so a statement's tables lead to the
# models to put criteria on. Rebuilt when a model is mapped after the first use.
_models_by_table: dict[sa.Table, type] = {}


def _model_of(table: sa.Table) -> type | None:
    model = _models_by_table.get(table)
    if model is None and table not in _models_by_table:
        for mapper in SQLModel._sa_registry.mappers:
            if mapper.local_table is not None:
                _models_by_table[mapper.local_table] = mapper.class_
        _models_by_table.setdefault(table, None)
        model = _models_by_table[table]
    return model


def _criteria(model: type, tenant_id: int):
    column = tenant_column(model.__table__).key
    if column == "id":
        return with_loader_criteria(model, lambda cls: cls.id == tenant_id, include_aliases=True)
    return with_loader_criteria(model, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    tenant_id = state.session.tenant_id
    statement = state.statement
    if state.is_insert:
        _check_insert(state, tenant_id)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return  # textual SQL: the database's row-level security is the wall
    # A table the statement already limits to this tenant at its top level
    # gets no second condition: a duplicate ``tenant_id = ?`` costs an option
    # per statement and skewed SQLite's choice of index. (Should the same
    # table also appear unfiltered in a subquery, PostgreSQL's policy still
    # holds it; on SQLite that query is the plugin's to get right.)
    scoped = _already_scoped(statement, tenant_id)
    tables = [t for t in _tenant_tables(statement) if t not in scoped]
    if not tables:
        return
    if state.is_orm_statement:
        models = [m for m in map(_model_of, tables) if m is not None]
        state.statement = statement.options(*(_criteria(m, tenant_id) for m in models))
        return
    # Core statements over tables: scope their target (UPDATE, DELETE) or top-level tables (SELECT).
    if state.is_update or state.is_delete:
        targets = [statement.table]
    else:
        targets = [t for t in statement.get_final_froms() if isinstance(t, sa.Table)]
    conditions = [tenant_column(t) == tenant_id for t in targets if t in tables]
    if conditions:
        state.statement = statement.where(*conditions)


# Tenant tables per statement shape (SQLAlchemy's cache key, which execution
# computes anyway and keeps on the statement): walking every statement for
# its tables cost more than the rest of the scoping together.
_tables_by_shape: dict[tuple, tuple[sa.Table, ...]] = {}
_SHAPES_KEPT = 4096


def _tenant_tables(statement) -> tuple[sa.Table, ...]:
    key = statement._generate_cache_key()
    tables = None if key is None else _tables_by_shape.get(key.key)
    if tables is None:
        found = sql_util.find_tables(statement, include_crud=True)
        tables = tuple(dict.fromkeys(t for t in found if tenant_column(t) is not None))
        if key is not None:
            if len(_tables_by_shape) >= _SHAPES_KEPT:
                _tables_by_shape.clear()
            _tables_by_shape[key.key] = tables
    return tables


def _already_scoped(statement, tenant_id: int) -> set[sa.Table]:
    """Tables whose tenant column the statement's own WHERE compares with
    ``tenant_id`` (the top level only: walking every subquery cost more than
    the duplicate condition it would save)."""
    where = getattr(statement, "whereclause", None)
    if where is None:
        return set()
    terms = where.clauses if isinstance(where, BooleanClauseList) and where.operator is operators.and_ else [where]
    scoped = set()
    for term in terms:
        if (isinstance(term, BinaryExpression) and term.operator is operators.eq
                and isinstance(term.left, sa.Column) and isinstance(term.right, sa.BindParameter)
                and term.right.value == tenant_id and isinstance(term.left.table, sa.Table)
                and term.left.key == getattr(tenant_column(term.left.table), "key", None)):
            scoped.add(term.left.table)
    return scoped


def _check_insert(state: ORMExecuteState, tenant_id: int) -> None:
    table = state.statement.table
    column = tenant_column(table)
    if column is None:
        return
    rows = state.parameters
    rows = rows if isinstance(rows, (list, tuple)) else [rows or {}]
    values = state.statement._values or {}  # insert(...).values(tenant_id=...)
    given = [value for value in (row.get(column.key) for row in rows) if value is not None]
    for key, value in values.items():
        if getattr(key, "key", key) == column.key and isinstance(value, sa.BindParameter):
            given.append(value.value)
    foreign = sorted({v for v in given if v != tenant_id})
    if foreign:
        raise TenantIsolationError(f"insert into {table.name} for tenant {foreign[0]} in a session bound to tenant {tenant_id}")


@event.listens_for(TenantSession, "before_flush")
def _check_flush(session: TenantSession, _context, _instances) -> None:
    for obj in list(session.new) + list(session.dirty):
        table = getattr(type(obj), "__table__", None)
        column = tenant_column(table) if table is not None else None
        if column is None:
            continue
        value = getattr(obj, column.key, None)
        if value is None and column.key == TENANT_COLUMN:
            setattr(obj, column.key, session.tenant_id)  # a plugin may leave it to the session
        elif value != session.tenant_id:
            verb = "insert" if obj in session.new else "update"
            raise TenantIsolationError(
                f"{verb} of a {table.name} row of tenant {value} in a session bound to tenant {session.tenant_id}")
    for obj in session.deleted:
        table = getattr(type(obj), "__table__", None)
        column = tenant_column(table) if table is not None else None
        if column is not None and getattr(obj, column.key, None) != session.tenant_id:
            raise TenantIsolationError(f"delete of a {table.name} row of another tenant in a session bound to tenant {session.tenant_id}")


# One statement per transaction, with any request budget (engine/transaction_settings.py).
@event.listens_for(TenantSession, "after_begin")
def _tenant_transaction(session: TenantSession, _transaction, connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        transaction_settings.apply(connection, {TENANT_SETTING: str(int(session.tenant_id))})


@event.listens_for(SystemSession, "after_begin")
def _system_transaction(session: SystemSession, _transaction, connection: sa.Connection) -> None:
    if session.db_role and connection.dialect.name == "postgresql":
        # set_config('role', ..., true) is SET LOCAL ROLE
        transaction_settings.apply(connection, {"role": session.db_role})
