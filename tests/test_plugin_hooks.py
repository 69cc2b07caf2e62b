"""The plugin contract: documented hooks, discovery through entry points,
per-tenant enablement, and a third-party plugin using every hook."""

from __future__ import annotations

import re
import sys
import uuid
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pluggy
import pytest
from sqlalchemy import select

from engine.config import Settings
from engine.jobs import run_jobs
from engine.plugins import GlobalPlugin, PluginManager, hookspecs
from engine.runtime import Guanxi
from engine.scoring import run_scoring
from engine.services.customers import create_customer, erase_customer
from engine.services.interactions import record_interactions
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant
from tests.extra_plugins import engine_with

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("guanxi_"))

PLUGIN_SOURCE = '''
from pathlib import Path
from typing import Optional
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlmodel import Field, SQLModel
import strawberry
from engine import hookimpl
from engine.jobs import Job
from engine.plugins import ModuleInfo
from engine.scoring import ScoreReport

class VisitLogSettings(BaseModel):
    model_config = {"extra": "forbid"}
    note_prefix: str = "visit"

class VisitLog(SQLModel, table=True):
    __tablename__ = "test_visit_log"
    __table_args__ = {"extend_existing": True}
    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(index=True)
    customer_id: int
    note: Optional[str] = None

@hookimpl
def guanxi_module():
    return ModuleInfo(name="visitlog", title_zh="到店记录", title_en="Visit log", settings_model=VisitLogSettings,
                      personal_fields={"test_visit_log": ("note",)})

@hookimpl
def guanxi_models():
    return [VisitLog]

@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("visitlog_migrations")

@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    prefix = ctx.module_settings("visitlog").note_prefix
    for i in interactions:
        if i.kind == "VISIT":
            ctx.session.add(VisitLog(tenant_id=ctx.tenant_id, customer_id=i.customer_id, note=f"{prefix} at {i.store}"))

@hookimpl
def guanxi_customer_erased(ctx, customer_id):
    ctx.session.execute(update(VisitLog).where(VisitLog.tenant_id == ctx.tenant_id,
                        VisitLog.customer_id == customer_id).values(note=None))

WARMED = []

@hookimpl
def guanxi_warm_up():
    WARMED.append("kernels")

@hookimpl
def guanxi_score(ctx, batch):
    if "visitlog" not in batch.modules:
        return None
    return ScoreReport(module="visitlog", scored=len(batch), unscored=batch.customers_total - len(batch))

def _count_visits(ctx):
    return ctx.session.scalar(select(func.count()).select_from(VisitLog).where(VisitLog.tenant_id == ctx.tenant_id))

@hookimpl
def guanxi_jobs():
    return [Job(name="visitlog.count", module="visitlog", every_minutes=60, run=_count_visits)]

@strawberry.type
class VisitLogFields:
    @strawberry.field
    def visit_count(self) -> int:
        return 0

@hookimpl
def guanxi_customer_fields():
    return [VisitLogFields]

@hookimpl
def guanxi_graphql():
    return {"query": VisitLogFields}

import typer
visitlog_cli = typer.Typer()

@visitlog_cli.command("hello")
def hello(tenant: str = typer.Option(..., "--tenant")):
    print(f"visit log for {tenant}")

@hookimpl
def guanxi_cli_commands():
    return [("visitlog", visitlog_cli)]
'''


# What a third-party plugin ships for its table: the first revision of its own branch.
MIGRATION_SOURCE = '''
"""visitlog: the visit log table."""
import sqlalchemy as sa
from alembic import op

revision = "visitlog_0001"
down_revision = None
branch_labels = ("visitlog",)
depends_on = "core_0001"


def upgrade():
    op.create_table(
        "test_visit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_index("ix_test_visit_log_tenant_id", "test_visit_log", ["tenant_id"])


def downgrade():
    op.drop_table("test_visit_log")
'''


def test_every_hook_is_documented_with_its_signature():
    doc = (ROOT / "docs" / "plugin-hooks.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (guanxi_\w+)\(", doc, flags=re.M))
    assert documented == set(HOOKS)


def test_every_hook_has_a_test():
    this = Path(__file__).name
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py") if p.name != this)
    sources += PLUGIN_SOURCE  # the third-party plugin below implements and exercises them
    untested = [hook for hook in HOOKS if hook not in sources]
    assert untested == []


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory) -> Path:
    """A plugin installed the way users install plugins: a distribution with an entry point."""
    tmp_path = tmp_path_factory.mktemp("site")
    package = tmp_path / "visitlog_plugin.py"
    package.write_text(textwrap.dedent(PLUGIN_SOURCE), encoding="utf-8")
    (tmp_path / "visitlog_migrations").mkdir()
    (tmp_path / "visitlog_migrations" / "visitlog_0001_initial.py").write_text(MIGRATION_SOURCE, encoding="utf-8")
    dist = tmp_path / "visitlog_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: visitlog-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[guanxi.plugins]\nvisitlog = visitlog_plugin\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def third_party(plugin_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_dir))


def _engine_with_plugins(database_url: str, disabled: frozenset[str] = frozenset()) -> Guanxi:
    return engine_with(database_url, disabled=disabled)


def _tenant(gx: Guanxi, slug: str, modules=()) -> str:
    with gx.system() as session:
        tenant = create_tenant(session, slug, slug)
        for name in modules:
            set_enabled(session, gx.plugins, tenant.id, name, True)
    return slug


def test_third_party_plugin_reaches_only_tenants_that_enabled_it(third_party, fresh_database_url):
    gx = _engine_with_plugins(fresh_database_url)
    assert "visitlog" in gx.plugins.modules
    visit_log = sys.modules["visitlog_plugin"].VisitLog
    on, off = _tenant(gx, f"on-{uuid.uuid4().hex[:8]}", ["visitlog"]), _tenant(gx, f"off-{uuid.uuid4().hex[:8]}")
    when = datetime(2026, 5, 1, tzinfo=timezone.utc)
    ids = {}
    for slug in (on, off):
        with gx.tenant(slug) as ctx:
            customer = create_customer(ctx, {"name": "Visitor"})
            ids[slug] = customer.id
            record_interactions(ctx, [
                {"customer_id": customer.id, "kind": "VISIT", "occurred_at": when, "store": "SH-01"},
                {"customer_id": customer.id, "kind": "PURCHASE", "occurred_at": when, "amount": "10"},
            ])
    with gx.system(write=False) as session:
        rows = session.execute(select(visit_log.tenant_id, visit_log.note)).all()
    tenant_ids = {}
    with gx.system(write=False) as session:
        for slug in (on, off):
            tenant_ids[slug] = gx.context(session, slug).tenant_id
    mine = [note for tenant_id, note in rows if tenant_id == tenant_ids[on]]
    assert mine == ["visit at SH-01"]
    assert not [1 for tenant_id, _ in rows if tenant_id == tenant_ids[off]]

    # Batch scores, jobs and schema contributions follow the same enablement.
    with gx.tenant(on) as ctx:
        reports = run_scoring(ctx, ["visitlog"])
        assert [(r.module, r.scored) for r in reports] == [("visitlog", 1)]
        assert ctx.hooks.guanxi_customer_fields() != []
        assert ctx.hooks.guanxi_graphql() != []
    with gx.tenant(off) as ctx:
        assert ctx.hooks.guanxi_customer_fields() == []
        assert ctx.hooks.guanxi_graphql() == []
        assert run_scoring(ctx, []) == []
    assert run_jobs(gx, on) == {"visitlog.count": 1}
    assert run_jobs(gx, off) == {}

    # Plugins add CLI sub-commands.
    from typer.testing import CliRunner

    commands = dict(pair for group in gx.plugins.hook.guanxi_cli_commands() for pair in group)
    sub_app = commands["visitlog"]
    assert CliRunner().invoke(sub_app, ["--tenant", on]).output.strip() == f"visit log for {on}"

    # Erasing a customer reaches the plugin's table too.
    with gx.tenant(on) as ctx:
        erase_customer(ctx, ids[on])
    with gx.system(write=False) as session:
        notes = session.execute(select(visit_log.note).where(visit_log.tenant_id == tenant_ids[on])).scalars().all()
    assert notes == [None]


def test_the_api_warms_every_plugin_up_before_it_serves(third_party, fresh_database_url):
    import asyncio

    from api.app import create_app

    gx = _engine_with_plugins(fresh_database_url)
    warmed = sys.modules["visitlog_plugin"].WARMED
    before = len(warmed)
    app = create_app(gx)
    assert len(warmed) == before  # not at import or construction: at start

    async def start():
        async with app.router.lifespan_context(app):
            return len(warmed)

    assert asyncio.run(start()) == before + 1


def test_guanxi_disable_plugins_keeps_a_plugin_out(third_party, fresh_database_url):
    gx = _engine_with_plugins(fresh_database_url, disabled=frozenset({"visitlog", "clv"}))
    assert "visitlog" not in gx.plugins.modules
    assert "clv" not in gx.plugins.modules
    assert {"rfm", "loyalty", "complaints"} <= set(gx.plugins.modules)


def test_a_misspelled_hook_fails_at_start():
    class Typo:
        @hookspecs.hookimpl
        def guanxi_module(self):
            return GlobalPlugin(name="typo")

        @hookspecs.hookimpl
        def guanxi_interaction_recordd(self, ctx, interactions):  # sic
            pass

    manager = PluginManager(Settings())
    manager.register_module(Typo(), name="typo")
    with pytest.raises(pluggy.PluginValidationError):
        manager.check()


def test_the_built_in_modules_are_installed_with_titles_and_settings():
    manager = PluginManager(Settings())
    manager.load_default_plugins()
    # Built-ins first, in this order; installed third-party modules (make install adds examples/) follow.
    assert list(manager.modules)[:4] == ["rfm", "clv", "loyalty", "complaints"]
    for info in manager.modules.values():
        assert info.title_zh and info.title_en
        info.settings_model()  # defaults validate
