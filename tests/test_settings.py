"""Settings: every GUANXI_ variable is one typed field of one model, bad
values are named at start, the documented table is the model's, and the API
refuses PostgreSQL without a cursor key."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.app import create_app
from engine.config import Settings, SettingsError, env_name
from engine.settings_doc import DOC, with_table

ROOT = Path(__file__).resolve().parent.parent
# Read by the test kit and the benches about themselves, not by Guanxi.
NOT_SETTINGS = {"GUANXI_TEST_DATABASE_URL", "GUANXI_BENCH_DATABASE_URL"}
PG_URL = "postgresql+psycopg://guanxi@db.invalid/guanxi"
GOOD_KEY = "k" * 32


@pytest.fixture
def clean_env(monkeypatch):
    """No GUANXI_ variable from the caller's environment (the test kit sets a secret key)."""
    import os

    for name in [n for n in os.environ if n.startswith("GUANXI_")]:
        monkeypatch.delenv(name)
    return monkeypatch


def test_variables_become_typed_fields(clean_env):
    clean_env.setenv("GUANXI_DATABASE_URL", "sqlite:///x.db")
    clean_env.setenv("GUANXI_DB_POOL_SIZE", "7")
    clean_env.setenv("GUANXI_DB_POOL_TIMEOUT_S", "2.5")
    clean_env.setenv("GUANXI_DISABLE_PLUGINS", " rfm, nps ,")
    clean_env.setenv("GUANXI_CORS_ORIGINS", "https://a.example.com,https://b.example.com")
    clean_env.setenv("GUANXI_API_RUNS_JOBS", "false")
    clean_env.setenv("GUANXI_LOG_LEVEL", "warning")
    clean_env.setenv("GUANXI_SECRET_KEY", GOOD_KEY)
    settings = Settings.from_env()
    assert settings.database_url == "sqlite:///x.db"
    assert settings.db_pool_size == 7 and settings.db_pool_timeout_s == 2.5
    assert settings.disabled_plugins == frozenset({"rfm", "nps"})
    assert settings.cors_origins == ("https://a.example.com", "https://b.example.com")
    assert settings.api_runs_jobs is False
    assert settings.log_level == "WARNING"
    assert settings.cursor_key() == GOOD_KEY
    assert GOOD_KEY not in repr(settings)  # a secret never printed


def test_defaults_without_environment(clean_env):
    settings = Settings.from_env()
    assert settings.database_url == "sqlite:///./guanxi.db"
    assert settings.api_runs_jobs is True and settings.cors_origins == () and settings.disabled_plugins == frozenset()
    # The client waits a little longer than the server lets a statement run.
    assert settings.statement_timeout_ms == 15_000 and settings.response_timeout_s == 17.0
    assert Settings(statement_timeout_ms=0).response_timeout_s is None
    clean_env.setenv("GUANXI_SECRET_KEY", "")  # VAR= is unset, not an empty value
    clean_env.setenv("GUANXI_MIGRATE_DATABASE_URL", "")
    assert Settings.from_env().secret_key is None and Settings.from_env().migrate_database_url is None


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("GUANXI_DB_POOL_SIZE", "many", "valid integer"),
    ("GUANXI_DB_POOL_SIZE", "0", "greater than or equal to 1"),
    ("GUANXI_DB_CONNECT_TIMEOUT_S", "1", "greater than or equal to 2"),
    ("GUANXI_STATEMENT_TIMEOUT_MS", "-5", "greater than or equal to 0"),
    ("GUANXI_API_RUNS_JOBS", "perhaps", "valid boolean"),
    ("GUANXI_LOG_LEVEL", "LOUD", "'DEBUG', 'INFO'"),
    ("GUANXI_SECRET_KEY", "short-secret", "at least 32 characters"),
    ("GUANXI_DB_RESPONSE_TIMEOUT_S", "10", "must exceed GUANXI_STATEMENT_TIMEOUT_MS"),
    ("GUANXI_DATABASE_URL", "guanxi.db", "not a database URL"),
    ("GUANXI_MIGRATE_DATABASE_URL", "mysql://root@db/guanxi", "SQLite or PostgreSQL, not mysql"),
])
def test_a_bad_value_is_named_with_its_problem(clean_env, name, value, problem):
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        Settings.from_env()
    assert name in str(error.value) and problem in str(error.value)
    if name == "GUANXI_SECRET_KEY":
        assert value not in str(error.value)


def test_the_code_reads_no_variable_outside_the_model():
    fields = {env_name(name) for name in Settings.model_fields}
    sources = [p for folder in ("engine", "api", "plugins") for p in (ROOT / folder).rglob("*.py")]
    readers = [p for p in sources if re.search(r"environ(\.get)?\(?\[?[\"']GUANXI_|getenv\([\"']GUANXI_", p.read_text())]
    assert {p.relative_to(ROOT).as_posix() for p in readers} <= {"engine/testing.py"}
    # Every GUANXI_ name the code and the docs mention is a setting (no stale or invented name).
    texts = sources + list((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    mentioned = {name for p in texts for name in re.findall(r"GUANXI_[A-Z0-9_]*[A-Z0-9]", p.read_text())}
    assert mentioned - fields - NOT_SETTINGS == set()


def test_the_documented_table_is_the_models():
    text = DOC.read_text(encoding="utf-8")
    assert with_table(text) == text, "docs/operations.md is stale: run python -m engine.settings_doc --write"
    for name in Settings.model_fields:
        assert f"| `{env_name(name)}` |" in text


def test_postgresql_without_a_secret_key_refuses_to_start(clean_env):
    with pytest.raises(SettingsError) as error:
        create_app_on(Settings(database_url=PG_URL))
    assert "GUANXI_SECRET_KEY is required on PostgreSQL" in str(error.value)
    assert "secrets.token_urlsafe" in str(error.value)  # how to make one


def test_sqlite_without_a_secret_key_warns_and_signs_with_a_derived_key(clean_env, caplog, tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with caplog.at_level(logging.WARNING, logger="guanxi.settings"):
        derived = Settings(database_url=url).cursor_key()
    assert "GUANXI_SECRET_KEY is not set" in caplog.text
    assert derived == Settings(database_url=url).cursor_key()  # the same in every worker
    assert Settings(database_url=url, secret_key=GOOD_KEY).cursor_key() == GOOD_KEY


def test_cursors_from_another_key_are_refused(gx, make_tenant, graphql):
    """A cursor signed with one GUANXI_SECRET_KEY is BAD_CURSOR for an API with another."""
    from api.pagination import Cursors, cursor_secret

    other = Cursors(cursor_secret(Settings(database_url=gx.settings.database_url, secret_key="x" * 40)))
    forged = other.encode("NAME_ASC", "a", 1)
    body = graphql(make_tenant()).execute("query($c: String) { customers(first: 1, after: $c) { totalCount } }",
                                          {"c": forged})
    assert body["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


def create_app_on(settings: Settings):
    from engine.plugins.manager import PluginManager
    from engine.runtime import Guanxi

    # No connection is opened: the key is checked before anything else.
    return create_app(Guanxi(settings=settings, plugins=PluginManager(settings)))


def test_cli_names_the_bad_setting_and_exits_1(clean_env):
    from engine.cli import app

    clean_env.setenv("GUANXI_DB_POOL_SIZE", "lots")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "GUANXI_DB_POOL_SIZE" in result.output and "valid integer" in result.output

    clean_env.delenv("GUANXI_DB_POOL_SIZE")
    clean_env.setenv("GUANXI_DATABASE_URL", PG_URL)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1 and "GUANXI_SECRET_KEY is required on PostgreSQL" in result.output
