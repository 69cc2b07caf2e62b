"""What the database refused, as the field errors a client can act on.

A service checks before it writes (a code already taken is a CONFLICT naming
``code``), but two requests can pass the check together; the second then
fails on the unique index at its flush or commit. Rather than a try/except
around each write, this maps any refused statement centrally: the
constraint's name (PostgreSQL) or its columns (SQLite) lead to the table's
declared constraint, whose columns name the field.

- unique violation -> CONFLICT on the constraint's first column after tenant_id
- foreign key violation -> NOT_FOUND on the referencing column
- not-null or check violation -> INVALID on the column
- a value out of a numeric column's range (PostgreSQL 22003) -> INVALID
- text PostgreSQL cannot take (NUL) -> INVALID
"""

from __future__ import annotations

import functools
import re

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import SQLModel

from engine.errors import Conflict, FieldError, GuanxiError, NotFound, ValidationFailed

UNIQUE, FOREIGN_KEY, NOT_NULL, CHECK = "23505", "23503", "23502", "23514"
NUMERIC_OUT_OF_RANGE = "22003"
_SQLITE_COLUMNS = re.compile(r"constraint failed: ([\w.]+(?:, [\w.]+)*)")
_PG_KEY_COLUMNS = re.compile(r"^Key \(([\w, ]+)\)=")  # only the column names are read, never the values


@functools.cache
def _constraints() -> dict[str, tuple[str, list[str]]]:
    """Constraint or index name -> (table, columns), for every table declared so far."""
    out: dict[str, tuple[str, list[str]]] = {}
    for table in SQLModel.metadata.tables.values():
        for constraint in table.constraints:
            if constraint.name and isinstance(constraint, (sa.UniqueConstraint, sa.PrimaryKeyConstraint, sa.ForeignKeyConstraint)):
                out[str(constraint.name)] = (table.name, [c.name for c in constraint.columns])
        for index in table.indexes:
            if index.name:
                out[str(index.name)] = (table.name, [c.name for c in index.columns if isinstance(c, sa.Column)])
    return out


_STATEMENT_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE)\s+(\w+)\s*(?:\(([\w\s,\"]+)\))?", re.IGNORECASE)


def _sqlite_foreign_key(statement: str) -> str:
    """The one foreign key column (besides tenant_id) the statement sets, or ""."""
    found = _STATEMENT_TABLE.match(statement)
    table = SQLModel.metadata.tables.get(found.group(1)) if found else None
    if table is None:
        return ""
    named = {c.strip().strip('"') for c in found.group(2).split(",")} if found.group(2) else None
    keys = [fk.parent.name for fk in table.foreign_keys
            if fk.parent.name != "tenant_id" and (named is None or fk.parent.name in named)]
    return keys[0] if len(keys) == 1 else ""


def _pg_default_name_column(name: str, table_name: str | None) -> str:
    """PostgreSQL's own names, ``<table>_<column>_fkey`` or ``_key``: the column
    (the application's role is not shown the key's columns in the message)."""
    table = SQLModel.metadata.tables.get(table_name or "")
    if table is None or not name.startswith(f"{table.name}_"):
        return ""
    middle = re.sub(r"_(fkey|key|check|not_null)$", "", name[len(table.name) + 1:])
    return middle if middle in table.c else ""


def _field(columns: list[str]) -> str:
    named = [c for c in columns if c != "tenant_id"]
    return named[0] if named else ""


def _sqlstate(error: StatementError) -> str | None:
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def mapped(error: BaseException) -> GuanxiError | None:
    """The expected failure behind a refused statement, or None when it is not one (a bug: re-raise)."""
    if not isinstance(error, (IntegrityError, DataError)):
        return None
    orig = getattr(error, "orig", None)
    text = str(orig or error)
    state = _sqlstate(error)
    diag = getattr(orig, "diag", None)
    if state is not None:  # PostgreSQL
        name = getattr(diag, "constraint_name", None)
        _table, columns = _constraints().get(name or "", ("", []))
        if not columns:  # a constraint no model names: PostgreSQL's default name, or the columns in the message
            default = _pg_default_name_column(name or "", getattr(diag, "table_name", None))
            found = _PG_KEY_COLUMNS.match(getattr(diag, "message_detail", None) or "")
            columns = [default] if default else [c.strip() for c in found.group(1).split(",")] if found else []
        column = getattr(diag, "column_name", None) or _field(columns)
        if state == UNIQUE:
            return Conflict([FieldError(column, "is already taken (another request stored the same value first)", "CONFLICT")])
        if state == FOREIGN_KEY:
            return NotFound([FieldError(column, "refers to a record that does not exist (or was just removed)", "NOT_FOUND")])
        if state in (NOT_NULL, CHECK):
            return ValidationFailed([FieldError(column, "is refused by the database's rules for it")])
        if state == NUMERIC_OUT_OF_RANGE:
            return ValidationFailed([FieldError("amount", "would take a stored total past what it can hold (999,999,999,999.99)")])
        return None
    if "NUL" in text:  # psycopg refuses to send a NUL, before any statement
        return ValidationFailed([FieldError("", "text may not hold a NUL character (U+0000)")])
    found = _SQLITE_COLUMNS.search(text)
    columns = [c.split(".")[-1] for c in found.group(1).split(", ")] if found else []
    if text.startswith("UNIQUE") or "UNIQUE constraint" in text:
        return Conflict([FieldError(_field(columns), "is already taken (another request stored the same value first)", "CONFLICT")])
    if "FOREIGN KEY" in text:  # SQLite names no column: the statement's table does, when it has one foreign key
        return NotFound([FieldError(_sqlite_foreign_key(getattr(error, "statement", None) or ""),
                                    "refers to a record that does not exist (or was just removed)", "NOT_FOUND")])
    if "NOT NULL" in text or "CHECK" in text:
        return ValidationFailed([FieldError(_field(columns), "is refused by the database's rules for it")])
    return None
