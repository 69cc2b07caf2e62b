"""Where the rate limits count: shared by every worker of every host.

``store.hit(key_id, tenant_id, minute)`` adds one request and returns the
key's count for that minute, or None when the store cannot answer (it logs
why and the request goes through: a limiter that is down must not take the
API with it).

- Redis (GUANXI_REDIS_URL): INCR and EXPIRE in one round trip.
- The database otherwise: one upsert on ``rate_limit_buckets``, on a small
  engine of its own. On PostgreSQL it acts as the engine's system role (the
  counters are nobody's tenant data) without waiting for the disk
  (synchronous_commit off: a crash loses at most a few counts). On SQLite
  its busy timeout is short: a request never queues behind an import's
  write for long to be counted.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from engine import db
from engine.config import Settings
from engine.tenancy import system_role

log = logging.getLogger("guanxi.api")

# How long a count may wait (a locked SQLite file, a busy row, a slow Redis).
STORE_TIMEOUT_MS = 250
DB_POOL_LIMIT = 8
REDIS_KEY = "guanxi:rate:{key_id}:{minute}"

UPSERT = sa.text(
    "INSERT INTO rate_limit_buckets (key_id, minute, tenant_id, hits) VALUES (:key_id, :minute, :tenant_id, 1) "
    "ON CONFLICT (key_id, minute) DO UPDATE SET hits = rate_limit_buckets.hits + 1 RETURNING hits")
FORGET_OLD = sa.text("DELETE FROM rate_limit_buckets WHERE key_id = :key_id AND minute < :minute")


def store_for(settings: Settings, gx):
    if settings.redis_url:
        return RedisStore(settings.redis_url)
    return DatabaseStore(gx)


class DatabaseStore:
    def __init__(self, gx):
        self.engine, self._own = _counter_engine(gx)

    def hit(self, key_id: int, tenant_id: int | None, minute: int) -> int | None:
        try:
            with self.engine.begin() as connection:
                hits = connection.execute(UPSERT, {"key_id": key_id, "minute": minute, "tenant_id": tenant_id}).scalar_one()
                if hits == 1:  # the key's first request this minute: its earlier minutes are done with
                    connection.execute(FORGET_OLD, {"key_id": key_id, "minute": minute})
            return hits
        except sa.exc.DBAPIError as error:
            log.warning("rate limit not counted: the database did not answer in time (%s)", type(error.orig).__name__)
            return None

    def close(self) -> None:
        if self._own:
            self.engine.dispose()


def _counter_engine(gx) -> tuple[sa.Engine, bool]:
    settings = gx.settings
    url = make_url(db.normalise_url(settings.database_url))
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return db.writing(gx.engine), False  # one in-memory database: only the engine's own connection sees it
        quick = settings.model_copy(update={"sqlite_busy_timeout_ms": STORE_TIMEOUT_MS,
                                            "db_pool_size": min(settings.db_pool_size, DB_POOL_LIMIT)})
        return db.writing(db.make_engine(quick)), True
    small = settings.model_copy(update={"db_pool_size": min(settings.db_pool_size, DB_POOL_LIMIT)})
    role = system_role(settings.db_app_role) if gx.tenant_scoping else None
    engine = db.make_engine(small, app_role=role)

    @event.listens_for(engine, "connect")
    def _quick(dbapi_connection, _record):
        dbapi_connection.autocommit = True  # session settings, outside any transaction
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
                cursor.execute(f"SET statement_timeout = {STORE_TIMEOUT_MS}")
                cursor.execute(f"SET lock_timeout = {STORE_TIMEOUT_MS}")
        finally:
            dbapi_connection.autocommit = False

    return engine, True


class RedisStore:
    def __init__(self, url: str):
        import redis  # only when configured

        timeout = STORE_TIMEOUT_MS / 1000
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors = (redis.RedisError, OSError)

    def hit(self, key_id: int, tenant_id: int | None, minute: int) -> int | None:
        key = REDIS_KEY.format(key_id=key_id, minute=minute)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)  # the minute, and one more for clocks a little apart
            hits, _ = pipe.execute()
            return int(hits)
        except self._errors as error:
            log.warning("rate limit not counted: Redis did not answer (%s)", type(error).__name__)
            return None

    def close(self) -> None:
        self.client.close()
