"""What a value may be, checked where input is validated, so SQLite and
PostgreSQL accept and refuse the same values (docs/api.md, "Input bounds").

SQLite stores a 300-character name in a 200-character column, a NUL, and any
number; PostgreSQL refuses each with a failed statement. Checking here turns
every one into a field error naming the field, on both databases, before
anything is written:

- text: no NUL (PostgreSQL cannot store it) and no lone surrogate (not a
  character: UTF-8 cannot encode it); at most the column's length;
- times: within ``EARLIEST`` and ``LATEST`` (0001-01-01 is a placeholder, and
  9999-12-31T23:59:59-12:00 is past the last instant Python can hold in UTC);
- amounts: below ``MAX_AMOUNT``, so a customer's total (14 digits) holds a
  thousand of the largest purchases;
- integers: what their column holds (32 or 64 bits); points balances at most
  ``MAX_POINTS``, the largest GraphQL ``Int``.

``check_row`` runs on every ORM object a session flushes (``install``), so a
table a plugin adds is bounded by its own column types without code of its own.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from engine.errors import FieldError, ValidationFailed

EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)  # exclusive
MAX_AMOUNT = Decimal("1000000000")  # exclusive: at most 999,999,999.99
MAX_POINTS = 2**31 - 1
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_IN_LIST = 1_000  # values in one `in` filter

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or searched for, or None."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "holds a NUL character (U+0000)"
    return "holds a lone surrogate (U+D800..U+DFFF), which is not text"


def json_problem(value: Any) -> str | None:
    """The first bad text inside a JSON value (keys included), or None."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = (text_problem(key) if isinstance(key, str) else None) or json_problem(item)
            if problem:
                return problem
    elif isinstance(value, (list, tuple)):
        for item in value:
            problem = json_problem(item)
            if problem:
                return problem
    return None


def check_text(field: str, value: str | None, max_length: int | None = None) -> list[FieldError]:
    if value is None:
        return []
    problem = text_problem(value)
    if problem:
        return [FieldError(field, problem)]
    if max_length is not None and len(value) > max_length:
        return [FieldError(field, f"is {len(value):,} characters long; at most {max_length:,}")]
    return []


def time_problem(value: datetime | date) -> str | None:
    """Why a time is outside the documented range, or None (an aware time is expected)."""
    if isinstance(value, datetime):
        try:
            if EARLIEST <= value.astimezone(timezone.utc) < LATEST:
                return None
        except (OverflowError, ValueError):
            pass  # past the first or last instant Python holds in UTC
    elif EARLIEST.date() <= value < LATEST.date():
        return None
    return f"{value.isoformat()} is outside {EARLIEST.date().isoformat()} to {LATEST.date().isoformat()} (exclusive)"


def bounded_time(field: str, value: datetime | None, tz: ZoneInfo | str | None = None) -> datetime | None:
    """An input time as aware UTC (without an offset: in ``tz``), or ValidationFailed naming ``field``."""
    if value is None:
        return None
    if value.tzinfo is None:
        if tz is None:
            tz = timezone.utc
        value = value.replace(tzinfo=ZoneInfo(tz) if isinstance(tz, str) else tz)
    problem = time_problem(value)
    if problem:
        raise ValidationFailed([FieldError(field, problem)])
    return value.astimezone(timezone.utc)


def check_int(field: str, value: int | None, low: int, high: int) -> list[FieldError]:
    if value is None or low <= value <= high:
        return []
    return [FieldError(field, f"{value} is out of range ({low:,} to {high:,})")]


# -- every flushed row, against its columns ------------------------------------


def _numeric_limit(column_type: sa.Numeric) -> Decimal | None:
    if column_type.precision is None:
        return None
    return Decimal(10) ** (column_type.precision - (column_type.scale or 0))


def column_problem(column: sa.Column, value: Any) -> str | None:
    """Why ``value`` does not fit ``column`` (by its type, the same on every database), or None."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl if not isinstance(kind.impl, type) else kind.impl()
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            return problem
        length = getattr(kind, "length", None)
        if length is not None and len(value) > length:
            return f"is {len(value):,} characters long; at most {length:,}"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and isinstance(kind, sa.Integer):
        low, high = INT64 if isinstance(kind, sa.BigInteger) else INT32
        return None if low <= value <= high else f"{value} is out of range ({low:,} to {high:,})"
    if isinstance(value, Decimal) and isinstance(kind, sa.Numeric):
        limit = _numeric_limit(kind)
        if not value.is_finite() or (limit is not None and abs(value) >= limit):
            return f"{value} is too large (less than {limit:,} in absolute value)" if limit else f"{value} is not a number"
        return None
    if isinstance(value, (datetime, date)):
        return time_problem(value) if not (isinstance(value, datetime) and value.tzinfo is None) else None
    if isinstance(value, (dict, list)):
        return json_problem(value)
    return None


def check_row(obj: Any, changed_only: bool = False) -> list[FieldError]:
    """Every column value of an ORM object that its column cannot hold (of a
    loaded row: only the values changed since it was loaded)."""
    state = sa.inspect(obj)
    errors = []
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        if not isinstance(column, sa.Column) or column.computed is not None:
            continue
        if changed_only and not state.attrs[attr.key].history.has_changes():
            continue
        problem = column_problem(column, state.dict.get(attr.key))
        if problem:
            errors.append(FieldError(attr.key, problem))
    return errors


def _before_flush(session: Session, _context, _instances) -> None:
    errors: list[FieldError] = []
    for obj in session.new:
        errors.extend(check_row(obj))
    for obj in session.dirty:
        errors.extend(check_row(obj, changed_only=True))
    if errors:
        raise ValidationFailed(errors)


_installed = False


def install() -> None:
    """Check every ORM row before any session flushes it (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        _installed = True
