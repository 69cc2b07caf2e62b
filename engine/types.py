"""Column types shared by every table: aware UTC times, money, JSON."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type: store naive UTC, hand back aware UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Guanxi stores aware UTC times")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Money: exact decimal with cents; SQLite keeps REAL and we round on read.
Money = sa.Numeric(14, 2, asdecimal=True)

# JSON that PostgreSQL can index and query (jsonb), plain JSON elsewhere.
Json = sa.JSON().with_variant(JSONB(), "postgresql")

CENT = Decimal("0.01")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
