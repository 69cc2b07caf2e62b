"""The API's per-key request counters when no Redis is configured: one row
per key and minute (api/rate_limits.py counts in it with one upsert).

Rows carry ``tenant_id`` (NULL for a platform key) like every table; the
API reads and writes them as the engine's system role, across tenants.
Old minutes are deleted as each key opens a new one.
"""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class RateLimitBucket(SQLModel, table=True):
    """Requests one API key made in one minute (``minute`` = Unix time // 60)."""

    __tablename__ = "rate_limit_buckets"

    key_id: int = Field(primary_key=True, sa_type=sa.Integer, sa_column_kwargs={"autoincrement": False})
    minute: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})
    tenant_id: Optional[int] = Field(default=None)
    hits: int = Field(default=0)
