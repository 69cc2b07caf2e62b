"""Settings read from the environment (12-factor: no config files to ship)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite:///./guanxi.db"


def _csv_env(name: str) -> frozenset[str]:
    raw = os.environ.get(name, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Plugin names never loaded in this process, whatever tenants enable.
    disabled_plugins: frozenset[str] = field(default_factory=frozenset)
    sqlite_busy_timeout_ms: int = 30_000
    # Connections kept open per process. Requests run their database work in
    # worker threads, one connection each; a pool smaller than the number of
    # concurrent requests opens and closes a connection per request beyond it
    # (a PostgreSQL backend start, or SQLite re-reading the schema).
    db_pool_size: int = 20
    # PostgreSQL: schema changes run as the tables' owner (this URL, default
    # database_url's user); the application's sessions run as db_app_role,
    # which owns nothing, so row-level security applies to it.
    migrate_database_url: str | None = None
    db_app_role: str = "guanxi_app"
    # The API's protection (docs/api.md, Limits). A request's database work
    # stops after this many milliseconds (0: no limit).
    statement_timeout_ms: int = 15_000
    # Per-key request counts live in Redis when set, else in the database.
    redis_url: str | None = None
    # Requests per minute per key, "role=n,..." over the defaults (0: unlimited),
    # and per client address for requests without a valid key.
    rate_limits: str = ""
    rate_limit_anonymous: int = 60
    # Objects one query may ask for, "role=n,..." over the defaults (api/cost.py).
    query_cost_budgets: str = ""

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("GUANXI_DATABASE_URL", DEFAULT_DATABASE_URL),
            disabled_plugins=_csv_env("GUANXI_DISABLE_PLUGINS"),
            sqlite_busy_timeout_ms=int(os.environ.get("GUANXI_SQLITE_BUSY_TIMEOUT_MS", "30000")),
            db_pool_size=int(os.environ.get("GUANXI_DB_POOL_SIZE", "20")),
            migrate_database_url=os.environ.get("GUANXI_MIGRATE_DATABASE_URL") or None,
            db_app_role=os.environ.get("GUANXI_DB_APP_ROLE", "guanxi_app"),
            statement_timeout_ms=int(os.environ.get("GUANXI_STATEMENT_TIMEOUT_MS", "15000")),
            redis_url=os.environ.get("GUANXI_REDIS_URL") or None,
            rate_limits=os.environ.get("GUANXI_RATE_LIMITS", ""),
            rate_limit_anonymous=int(os.environ.get("GUANXI_RATE_LIMIT_ANONYMOUS", "60")),
            query_cost_budgets=os.environ.get("GUANXI_QUERY_COST_BUDGETS", ""),
        )
