"""Settings read from the environment (12-factor: no config files to ship).

Every ``GUANXI_*`` variable the API, workers and commands read is a field of
``Settings``, with its type, default and description, and is read here and
nowhere else. ``python -m engine.settings_doc`` renders the fields as the
table in docs/operations.md. A bad value stops the process at start with
``SettingsError`` naming the variable and the problem.

Plugin settings are per tenant, in the database (``guanxi module``): not here.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "GUANXI_"
DEFAULT_DATABASE_URL = "sqlite:///./guanxi.db"
SECRET_KEY_MIN_LENGTH = 32
GENERATE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

log = logging.getLogger("guanxi.settings")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "text", "auto"]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names each variable and the problem."""


def _comma_separated(value):
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True,
        validate_default=True, env_ignore_empty=True,  # VAR= means unset, as it did before
    )

    # -- the database ------------------------------------------------------------------
    database_url: str = Field(
        DEFAULT_DATABASE_URL, min_length=1,
        description="The database the API, workers and commands use: `sqlite:///path.db` (the embedded default) "
                    "or `postgresql+psycopg://user:password@host/db`.")
    migrate_database_url: str | None = Field(
        None,
        description="PostgreSQL: the tables' owner, used by `guanxi db` only (unset: `GUANXI_DATABASE_URL`).")
    db_app_role: str = Field(
        "guanxi_app", min_length=1, max_length=63,
        description="PostgreSQL: the role the application acts as; it owns no table, so row-level security applies.")
    db_pool_size: int = Field(
        20, ge=1, le=1000,
        description="Database connections kept open per process; as many again may open under bursts.")
    # Requests run their database work in worker threads, one connection each;
    # a pool smaller than the concurrent requests opens and closes connections.
    db_pool_timeout_s: float = Field(
        10.0, gt=0, le=300,
        description="How long a request waits for a free connection of the pool before it fails "
                    "(DATABASE_UNAVAILABLE, 503).")
    db_connect_timeout_s: int = Field(
        5, ge=2, le=300,
        description="PostgreSQL: how long opening a connection may take (whole seconds, at least 2: libpq's "
                    "`connect_timeout`).")
    statement_timeout_ms: int = Field(
        15_000, ge=0, le=86_400_000,
        description="PostgreSQL: the `statement_timeout` of the application's connections; the server cancels "
                    "a statement running longer (0: no limit). Not applied to `guanxi db`. Also each API "
                    "request's time budget for all its database work, on both databases (`QUERY_TIMEOUT`).")
    job_statement_timeout_ms: int = Field(
        1_800_000, ge=0, le=86_400_000,
        description="PostgreSQL: the `statement_timeout` of batch work (jobs run by `guanxi worker` or the API, "
                    "`guanxi score`), which reads and writes a whole tenant and outlasts a request's budget "
                    "(0: no limit; default 30 minutes).")
    db_response_timeout_s: float | None = Field(
        None, gt=0, le=86_400,
        description="PostgreSQL: how long a connection waits for any answer from the server before it is closed "
                    "as dead (a partition, a frozen server). Unset: `GUANXI_STATEMENT_TIMEOUT_MS` plus 2 s, or "
                    "no limit when that is 0. Must exceed the statement timeout.")
    readiness_timeout_s: float = Field(
        2.0, gt=0, le=60,
        description="How long `/readyz` waits for the database before it answers 503 not ready.")
    sqlite_busy_timeout_ms: int = Field(
        30_000, ge=0, le=3_600_000,
        description="SQLite: how long a writer waits for the write lock.")

    # -- the API -----------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        None,
        description=f"Signs pagination cursors; the same on every worker, at least {SECRET_KEY_MIN_LENGTH} "
                    f"characters (`{GENERATE_SECRET_KEY}`). Required on PostgreSQL; on SQLite, unset means "
                    "a key derived from the database URL, with a warning.")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated origins allowed to call the API from a browser "
                    "(`https://app.example.com,https://admin.example.com`); empty: none.")
    api_runs_jobs: bool = Field(
        True,
        description="`true`: the API process runs requested jobs (`runScoring`) itself in a background thread; "
                    "`false`: they wait for a `guanxi worker`.")
    log_level: LogLevel = Field(
        "INFO",
        description="The least severe log lines written (Guanxi's and uvicorn's; other libraries' from WARNING).")
    log_format: LogFormat = Field(
        "auto",
        description="`json` (one JSON object per line), `text` (one readable line), or `auto`: text when stderr "
                    "is a terminal, JSON otherwise.")
    metrics: bool = Field(
        True,
        description="`true`: Prometheus metrics at `/metrics`; `false`: no route, nothing counted.")
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, `/metrics` answers only a scraper sending `Authorization: Bearer <token>`; "
                    "unset: anyone who reaches the port.")

    # -- the API's protection (docs/api.md, Limits) --------------------------------------
    query_cost_budgets: str | None = Field(
        None,
        description="Objects one query may ask for, per role, over the defaults (`viewer=10000,agent=10000,"
                    "analyst=20000,admin=20000,platform=5000`): `role=number,...`.")
    rate_limits: str | None = Field(
        None,
        description="Requests per minute per API key, per role, over the defaults (`viewer=1200,analyst=1200,"
                    "agent=3000,admin=3000,platform=600`): `role=number,...`; `0` is unlimited.")
    rate_limit_anonymous: int = Field(
        60, ge=0, le=1_000_000,
        description="Requests per minute per client address without a valid key (`0`: unlimited). Behind a "
                    "proxy, run uvicorn with `--proxy-headers` so the address is the client's.")
    redis_url: str | None = Field(
        None,
        description="Where every worker counts rate limits (`redis://host:6379/0`); unset: the database's "
                    "`rate_limit_buckets` table.")

    # -- plugins -----------------------------------------------------------------------
    disabled_plugins: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), validation_alias="GUANXI_DISABLE_PLUGINS",
        description="Comma-separated plugin names never loaded in this process, whatever tenants enable.")
    webhooks_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Webhooks module: host names and networks endpoints may reach although not public "
                    "(`sms.store.lan,10.20.0.0/16`); empty: only public addresses (docs/webhooks.md, SSRF).")

    def __init__(self, **values):
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(describe(error)) from None

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings from the environment (``GUANXI_*``)."""
        return cls()

    @field_validator("cors_origins", "disabled_plugins", "webhooks_allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value):
        return _comma_separated(value)

    @field_validator("database_url", "migrate_database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from sqlalchemy.engine import make_url  # here: importing the settings stays cheap
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL: sqlite:///path.db or postgresql+psycopg://user@host/db") from None
        if backend not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(f"Guanxi runs on SQLite or PostgreSQL, not {backend}")
        return value

    @field_validator("query_cost_budgets", "rate_limits")
    @classmethod
    def _role_numbers(cls, value: str | None) -> str | None:
        from engine.enums import Role

        for part in (value or "").split(","):
            if not part.strip():
                continue
            role, sep, number = part.partition("=")
            if not sep or not number.strip().isdigit():
                raise ValueError(f"expected role=number, got {part.strip()!r}")
            Role.parse(role)  # a ValueError naming the roles
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(f"must be at least {SECRET_KEY_MIN_LENGTH} characters (got "
                             f"{len(value.get_secret_value())}); generate one with {GENERATE_SECRET_KEY}")
        return value

    @model_validator(mode="after")
    def _response_outlasts_statements(self) -> "Settings":
        configured = self.db_response_timeout_s
        if configured is not None and self.statement_timeout_ms and configured * 1000 <= self.statement_timeout_ms:
            raise ValueError(f"GUANXI_DB_RESPONSE_TIMEOUT_S ({configured:g} s) must exceed GUANXI_STATEMENT_TIMEOUT_MS "
                             f"({self.statement_timeout_ms} ms), or the client gives up on statements the server "
                             "is still allowed to run")
        return self

    @property
    def response_timeout_s(self) -> float | None:
        """How long to wait for the server's answer (None: for ever)."""
        if self.db_response_timeout_s is not None:
            return self.db_response_timeout_s
        return self.statement_timeout_ms / 1000 + 2.0 if self.statement_timeout_ms else None

    def cursor_key(self) -> str:
        """What pagination cursors are signed with: GUANXI_SECRET_KEY. The
        embedded SQLite demo may run without one (the database URL stands in,
        which whoever knows the URL could forge cursors with: a warning says
        so); on PostgreSQL a missing key is a SettingsError."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if not self.is_sqlite:
            raise SettingsError(f"GUANXI_SECRET_KEY is required on PostgreSQL: it signs pagination cursors and must "
                                f"be the same on every worker. Generate one with {GENERATE_SECRET_KEY}")
        log.warning("GUANXI_SECRET_KEY is not set: cursors are signed with a key derived from the database URL; "
                    "set one for anything but a demo (%s)", GENERATE_SECRET_KEY)
        return self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def env_name(field: str) -> str:
    """The environment variable of a field of ``Settings``."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


def describe(error: ValidationError) -> str:
    """One line per problem, naming the variable (never echoing a secret)."""
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if not item["loc"]:  # a rule between fields: the message names them
            lines.append(message)
            continue
        field = str(item["loc"][0])
        name = env_name(field) if field in Settings.model_fields else field
        shown = "" if field in ("secret_key", "metrics_token") else f" (got {item.get('input')!r})"
        lines.append(f"{name}: {message}{shown}")
    return "invalid settings: " + "; ".join(lines)
