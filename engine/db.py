"""Database engines and transactions.

SQLite is the embedded default: WAL so readers never wait for the writer, a
busy timeout so writers queue instead of failing, foreign keys on, and every
write transaction opened with ``BEGIN IMMEDIATE`` so two writers never both
read-then-upgrade and deadlock into "database is locked". PostgreSQL goes
through psycopg 3, every wait bounded (engine/pg_bounds.py): connects,
pool checkouts, statements and answers from a server that went silent.

Engines hide statement parameters from their exceptions (``hide_parameters``):
an error's text, which reaches logs, would otherwise quote the names, phones
and emails being written.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from engine.config import Settings
from engine.pg_bounds import BoundedConnection, connect_args

# SQLite stores Numeric(14, 2) as REAL; amounts are rounded back to cents on
# read, so the driver's warning about Decimal is noise here.
warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively.*")


def normalise_url(url: str) -> str:
    """Let users write ``postgresql://`` and still get psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(settings: Settings | None = None, url: str | None = None, app_role: str | None = None) -> Engine:
    """The application's engine. On PostgreSQL its connections act as
    ``app_role`` (``SET ROLE``, unless they log in as it), a role that owns no
    table, so that row-level security applies to everything it runs."""
    from engine import input_bounds

    input_bounds.install()  # every ORM row checked against its columns before a flush (engine/input_bounds.py)
    settings = settings or Settings.from_env()
    url = normalise_url(url or settings.database_url)
    pool = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_size,
            "pool_timeout": settings.db_pool_timeout_s}
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings.sqlite_busy_timeout_ms, pool)
    response_timeout = settings.response_timeout_s
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool,
                           connect_args=connect_args(make_url(url).query, settings.db_connect_timeout_s, response_timeout))
    _bound_answers(engine, response_timeout, settings.statement_timeout_ms)
    if app_role:
        _act_as(engine, app_role)
    return engine


def make_migration_engine(settings: Settings | None = None) -> Engine:
    """The engine schema changes run on: the tables' owner, one connection,
    and on SQLite foreign keys off (batch mode copies tables; integrity is
    checked once the migrations are done)."""
    settings = settings or Settings.from_env()
    url = normalise_url(settings.migrate_database_url or settings.database_url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings.sqlite_busy_timeout_ms, {"poolclass": NullPool}, foreign_keys=False)
    # Connects bounded; statements not (a migration may rewrite a large table).
    return create_engine(url, poolclass=NullPool, hide_parameters=True, connect_args=connect_args(make_url(url).query, settings.db_connect_timeout_s, None))


def _bound_answers(engine: Engine, response_timeout: float | None, statement_timeout_ms: int) -> None:
    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.response_timeout = response_timeout
        return connection

    @event.listens_for(engine, "checkin")
    def _back_to_request_bounds(dbapi_connection, _record):
        # A batch transaction may have lengthened the wait (allow_batch_statements).
        if isinstance(dbapi_connection, BoundedConnection):
            dbapi_connection.response_timeout = response_timeout

    @event.listens_for(engine, "connect")
    def _statement_timeout(dbapi_connection, _record):
        # Outside any transaction, so it holds for the connection's life.
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        finally:
            dbapi_connection.autocommit = False


def allow_batch_statements(session, timeout_ms: int) -> None:
    """Let this transaction's statements run up to ``timeout_ms`` (0: no
    limit) rather than a request's bound: a job or ``guanxi score`` reads and
    writes a whole tenant. PostgreSQL only (SQLite has no statement timeout);
    the connection gets its request bounds back when it returns to the pool."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
    raw = connection.connection.dbapi_connection
    if isinstance(raw, BoundedConnection) and raw.response_timeout is not None:
        raw.response_timeout = timeout_ms / 1000 + 2.0 if timeout_ms else None


def _act_as(engine: Engine, role: str) -> None:
    @event.listens_for(engine, "connect")
    def _set_role(dbapi_connection, _record):
        # Outside any transaction, so the pool's rollback on return keeps it.
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                if cursor.fetchone()[0] != role:
                    cursor.execute(f'SET ROLE "{role}"')
        finally:
            dbapi_connection.autocommit = False


def _sqlite_engine(url: str, busy_timeout_ms: int, pool: dict, foreign_keys: bool = True) -> Engine:
    in_memory = make_url(url).database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        hide_parameters=True,
        **({} if in_memory else pool),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from the stdlib driver so we can
        # choose BEGIN or BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("guanxi_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextlib.contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """``session`` as one transaction: committed when the block ends, rolled
    back on error (a read session's commit writes nothing)."""
    with session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def writing(engine: Engine) -> Engine:
    """The engine whose transactions take the write lock at BEGIN (SQLite's BEGIN IMMEDIATE)."""
    return engine.execution_options(guanxi_write=True)
