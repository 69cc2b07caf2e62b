"""Schema migrations: every branch applied on an empty database matches the
models; a database the last release built (before migrations) is stamped
and upgraded with its data kept; a plugin's new column arrives through its
own migration; nothing starts on a database behind the installed code."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from pathlib import Path
from typing import Optional

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Field, SQLModel
from typer.testing import CliRunner

from engine import cli, hookimpl, migrations
from engine.db import make_migration_engine, normalise_url
from engine.migrations import SchemaNotCurrent
from engine.plugins import ModuleInfo
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.testing import engine_on, new_tenant
from tests.extra_plugins import engine_with

DUMPS = Path(__file__).parent / "data" / "previous_release"
BASELINES = ["clv_0001", "complaints_0001", "core_0001", "loyalty_0001", "rfm_0001"]


def _load_dump(url: str) -> None:
    backend = make_url(normalise_url(url)).get_backend_name()
    script = gzip.decompress((DUMPS / f"{'sqlite' if backend == 'sqlite' else 'postgres'}.sql.gz").read_bytes()).decode()
    if backend == "sqlite":
        import sqlite3

        with sqlite3.connect(make_url(url).database) as connection:
            connection.executescript(script)
        return
    plain = make_url(normalise_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(script)


# Columns later revisions change on purpose: core_0005 rewrites phones in E.164
# (test_customer_phones.py checks how).
CHANGED_COLUMNS = {"customers": {"phone"}}


def _contents(gx, columns: dict[str, list[str]] | None = None) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every table (of ``columns``' tables and
    columns only, when given: a later migration may fill new columns), read
    as the tables' owner."""
    engine = make_migration_engine(gx.settings)
    out = {}
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for name in sorted(columns or inspector.get_table_names()):
                if name == "alembic_version":
                    continue
                names = (columns or {}).get(name) or [c["name"] for c in inspector.get_columns(name)]
                names = [n for n in names if n not in CHANGED_COLUMNS.get(name, set())]
                quoted = ", ".join(connection.dialect.identifier_preparer.quote(n) for n in names)
                rows = connection.exec_driver_sql(f"SELECT {quoted} FROM {name}").all()
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                out[name] = (len(rows), digest)
    finally:
        engine.dispose()
    return out


def test_every_branch_applied_to_an_empty_database_matches_the_models(fresh_database_url):
    gx = engine_on(fresh_database_url)
    engine = make_migration_engine(gx.settings)
    with engine.connect() as connection:
        assert migrations.differences(gx, connection) == []
        assert migrations.pending(gx, connection) == []
    engine.dispose()
    gx.check_schema()  # passes: nothing missing


def test_a_database_the_last_release_built_is_stamped_and_upgraded_with_its_data(fresh_database_url):
    _load_dump(fresh_database_url)
    gx = engine_on(fresh_database_url, upgrade=False)
    with pytest.raises(SchemaNotCurrent, match="built before migrations"):
        gx.check_schema()
    engine = make_migration_engine(gx.settings)
    with engine.connect() as connection:  # the release's columns: later ones may be filled by migrations
        inspector = sa.inspect(connection)
        columns = {t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()}
    engine.dispose()
    before = _contents(gx, columns)
    assert before["customers"][0] == 60 and before["rfm_scores"][0] == 60 and before["loyalty_ledger"][0] > 0

    report = gx.upgrade()

    assert sorted(report.stamped) == BASELINES
    assert report.differences == []
    after = _contents(gx, columns)
    assert after == before  # every row of every table, unchanged
    gx.check_schema()
    # and the engine serves it: the demo tenant's customers and scores, through a tenant session
    with gx.tenant("demo", write=False) as ctx:
        rows = ctx.session.execute(sa.text("SELECT COUNT(*) FROM rfm_scores")).scalar_one()
    assert rows == 60
    gx.engine.dispose()


def test_nothing_starts_on_a_database_behind_the_code_and_the_message_names_the_revisions(fresh_database_url):
    from api.app import create_app

    gx = engine_on(fresh_database_url, upgrade=False)
    gx.upgrade("core@head")  # the core only: every plugin's branch is missing

    async def start():
        app = create_app(gx)
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(SchemaNotCurrent) as refused:
        asyncio.run(start())
    message = str(refused.value)
    assert "rfm_0001" in message and "loyalty_0001" in message and "guanxi db upgrade" in message
    assert "core_0001" not in message  # applied already
    gx.upgrade()
    asyncio.run(start())  # now it starts


def test_a_branch_downgraded_to_base_loses_its_tables_and_comes_back_with_upgrade(fresh_database_url):
    gx = engine_on(fresh_database_url)
    migrations.downgrade(gx, "rfm@base")
    engine = make_migration_engine(gx.settings)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert "rfm_scores" not in tables and "customers" in tables
    with pytest.raises(SchemaNotCurrent, match="rfm_0001"):
        gx.check_schema()
    gx.upgrade()
    with engine.connect() as connection:
        assert migrations.differences(gx, connection) == []
    engine.dispose()


def test_a_revision_unknown_to_this_installation_is_named(fresh_database_url):
    gx = engine_on(fresh_database_url)
    engine = make_migration_engine(gx.settings)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES ('nps_0003')")
    engine.dispose()
    with pytest.raises(SchemaNotCurrent, match="does not know: nps_0003"):
        gx.check_schema()


# -- a plugin that adds a column in its second release ------------------------------------


def _cards_plugin(model, folder: Path):
    class CardsPlugin:
        @hookimpl
        def guanxi_module(self):
            return ModuleInfo(name="cards", title_zh="会员卡", title_en="Cards")

        @hookimpl
        def guanxi_models(self):
            return [model]

        @hookimpl
        def guanxi_migrations(self):
            return folder

        @hookimpl
        def guanxi_interactions_recorded(self, ctx, interactions):
            for item in interactions:
                row = model(tenant_id=ctx.tenant_id, customer_id=item.customer_id, visits=1)
                if hasattr(model, "stamp"):
                    row.stamp = "new in v2"
                ctx.session.add(row)

    return CardsPlugin()


def _forget_cards_table() -> None:
    """The two releases' models share one table in the metadata (extend_existing):
    each test run starts from the first release's."""
    if "test_cards" in SQLModel.metadata.tables:
        SQLModel.metadata.remove(SQLModel.metadata.tables["test_cards"])


@pytest.mark.filterwarnings("ignore:This declarative base already contains a class")  # the models, declared per backend
def test_a_plugins_new_column_arrives_through_its_migration_with_its_rows_kept(fresh_database_url, tmp_path):
    _forget_cards_table()

    class LoyaltyCardV1(SQLModel, table=True):
        __tablename__ = "test_cards"
        __table_args__ = {"extend_existing": True}
        id: Optional[int] = Field(default=None, primary_key=True)
        tenant_id: int = Field(index=True)
        customer_id: int
        visits: int = 0

    folder = tmp_path / "cards_migrations"
    gx = engine_with(fresh_database_url, {"cards": _cards_plugin(LoyaltyCardV1, folder)})
    slug = new_tenant(gx, ["cards"])
    with gx.tenant(slug) as ctx:
        customer = create_customer(ctx, {"name": "张伟"})
        record_interactions(ctx, [{"customer_id": customer.id, "kind": "VISIT", "occurred_at": "2026-05-01T10:00:00+08:00"}])

    class LoyaltyCardV2(SQLModel, table=True):  # the plugin's next release: one more column
        __tablename__ = "test_cards"
        __table_args__ = {"extend_existing": True}
        id: Optional[int] = Field(default=None, primary_key=True)
        tenant_id: int = Field(index=True)
        customer_id: int
        visits: int = 0
        stamp: Optional[str] = Field(default=None, max_length=32)

    try:
        v2 = engine_with(fresh_database_url, {"cards": _cards_plugin(LoyaltyCardV2, folder)})  # nothing new to apply yet
        written = migrations.new_revision(v2, "cards", "cards get a stamp", autogenerate=True)
        source = Path(written.path).read_text()
        assert "add_column" in source and "stamp" in source
        if v2.engine.dialect.name == "sqlite":
            assert "batch_alter_table" in source  # SQLite ALTERs go through batch mode
        with pytest.raises(SchemaNotCurrent, match="cards_0002"):
            v2.check_schema()
        v2.upgrade()
        with v2.tenant(slug) as ctx:
            record_interactions(ctx, [{"customer_id": customer.id, "kind": "VISIT", "occurred_at": "2026-05-02T10:00:00+08:00"}])
        with v2.tenant(slug, write=False) as ctx:
            rows = ctx.session.execute(sa.select(LoyaltyCardV2.visits, LoyaltyCardV2.stamp).order_by(LoyaltyCardV2.id)).all()
        assert [tuple(r) for r in rows] == [(1, None), (1, "new in v2")]
        engine = make_migration_engine(v2.settings)
        with engine.connect() as connection:
            assert migrations.differences(v2, connection) == []
        engine.dispose()
    finally:
        _forget_cards_table()


# -- the CLI ---------------------------------------------------------------------------------


def test_the_db_commands_upgrade_and_report(fresh_database_url, monkeypatch):
    monkeypatch.setenv("GUANXI_DATABASE_URL", fresh_database_url)
    runner = CliRunner()
    behind = runner.invoke(cli.app, ["tenant", "list"])
    assert behind.exit_code == 1 and "missing revisions" in behind.output
    first = runner.invoke(cli.app, ["init"])
    assert first.exit_code == 0, first.output
    assert "applied core_0001" in first.output and "applied rfm_0001" in first.output
    again = runner.invoke(cli.app, ["db", "upgrade"])
    assert again.exit_code == 0 and "Nothing to apply" in again.output
    current = runner.invoke(cli.app, ["db", "current"])
    heads = migrations.scripts(engine_on(fresh_database_url, upgrade=False)).get_heads()
    assert current.exit_code == 0 and "up to date" in current.output
    assert all(head in current.output for head in heads), (heads, current.output)  # each branch at its head
    history = runner.invoke(cli.app, ["db", "history"])
    assert history.exit_code == 0 and "loyalty_0001" in history.output
    down = runner.invoke(cli.app, ["db", "downgrade", "clv@base"])
    assert down.exit_code == 0, down.output
    assert "pending: clv_0001" in runner.invoke(cli.app, ["db", "current"]).output
