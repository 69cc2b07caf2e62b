"""Schema changes through Alembic: the core's branch (``core``, in
engine/migrations/versions) and one branch per installed plugin (labelled
with its module's name, in the folder its ``guanxi_migrations`` hook names).

``guanxi db upgrade`` (and ``guanxi init``) runs ``upgrade``; the API, the
worker and every other command only ``check_current`` and refuse a database
that is behind the installed code. A database built before migrations
existed (tables made by ``create_all``) is recognised and stamped at the
first revisions whose tables it already has, then upgraded, its data kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlmodel import SQLModel

from engine import db
from engine.migrations import security
from engine.models import CORE_MODELS

HERE = Path(__file__).resolve().parent
CORE_VERSIONS = HERE / "versions"
CORE_BASE = "core_0001"
CORE_PLUGIN = "core"


class SchemaNotCurrent(RuntimeError):
    """The database is not at the installed code's revisions (the message says what to run)."""


@dataclass
class UpgradeReport:
    stamped: list[str] = field(default_factory=list)  # revisions a pre-migrations database already had
    applied: list[Script] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # where the database still differs from the models


def table_owners(gx) -> dict[str, str]:
    """Every table the installed code owns: name -> "core" or the plugin's name."""
    owners = {model.__table__.name: CORE_PLUGIN for model in CORE_MODELS}
    for plugin, models in gx.plugins.models_by_plugin().items():
        for model in models:
            owners[model.__table__.name] = plugin
    return owners


def _tables(gx) -> list[sa.Table]:
    names = table_owners(gx)
    return [t for t in SQLModel.metadata.sorted_tables if t.name in names]


def _config(gx, connection: sa.Connection | None = None, tables: set[str] | None = None, after_upgrade=()) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    locations = [str(CORE_VERSIONS), *(str(p) for p in gx.plugins.migration_folders().values())]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(locations))
    config.attributes["connection"] = connection
    config.attributes["tables"] = tables if tables is not None else set(table_owners(gx))
    config.attributes["after_upgrade"] = after_upgrade
    return config


def scripts(gx) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(gx))


def _describe(script: Script) -> str:
    branch = ",".join(sorted(script.branch_labels)) or _branch_of(script)
    return f"{script.revision} ({branch}: {script.doc})"


def _branch_of(script: Script) -> str:
    """A later revision carries no label: its id is ``<branch>_<NNNN>``."""
    return script.revision.rsplit("_", 1)[0] if "_" in script.revision else "?"


def _migration_engine(gx) -> sa.Engine:
    return db.make_migration_engine(gx.settings)


def current_revisions(connection: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def pending(gx, connection: sa.Connection) -> list[Script]:
    """Revisions of the installed code the database has not had, oldest first."""
    directory = scripts(gx)
    current = current_revisions(connection)
    unknown = [rev for rev in current if _lookup(directory, rev) is None]
    if unknown:
        raise SchemaNotCurrent(
            f"the database has revisions this installation does not know: {', '.join(sorted(unknown))}. "
            "Was a plugin uninstalled before its branch was downgraded (guanxi db downgrade NAME@base), "
            "or is this an older release of Guanxi than the one that upgraded the database?")
    ancestors = _with_ancestors(directory, current)
    todo = [s for s in directory.walk_revisions("base", "heads") if s.revision not in ancestors]
    return list(reversed(todo))


def _lookup(directory: ScriptDirectory, revision: str) -> Script | None:
    try:
        return directory.get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown revision
        return None


def check_current(gx) -> None:
    """Raise SchemaNotCurrent naming what is missing; on PostgreSQL also the
    tenant tables left without row-level security."""
    engine = _migration_engine(gx)
    try:
        with engine.connect() as connection:
            if not current_revisions(connection) and sa.inspect(connection).has_table("tenants"):
                raise SchemaNotCurrent("the database was built before migrations existed: run `guanxi db upgrade` "
                                       "(it is recognised, stamped and upgraded with its data kept)")
            missing = pending(gx, connection)
            if missing:
                raise SchemaNotCurrent(
                    "the database is behind the installed code: missing revisions "
                    + "; ".join(_describe(s) for s in missing) + ". Run `guanxi db upgrade`.")
            if connection.dialect.name == "postgresql" and gx.tenant_scoping:
                bare = security.unsecured_tables(connection, _tables(gx))
                if bare:
                    raise SchemaNotCurrent(f"tenant tables without row-level security: {', '.join(bare)}. Run `guanxi db upgrade`.")
                if not security.has_analyze_function(connection):
                    raise SchemaNotCurrent("the database lacks the engine's statistics function. Run `guanxi db upgrade`.")
    finally:
        engine.dispose()


def upgrade(gx, revision: str = "heads") -> UpgradeReport:
    """Apply the installed code's revisions up to ``revision``; stamp a
    pre-migrations database first. Returns what was done and any remaining
    difference between the database and the models."""
    report = UpgradeReport()
    engine = _migration_engine(gx)
    try:
        with engine.connect() as connection:
            report.stamped = _stamp_legacy(gx, connection)
            report.applied = pending(gx, connection)
            steps = ()
            if connection.dialect.name == "postgresql":
                steps = (lambda c: security.secure(c, _tables(gx), gx.settings.db_app_role),)
            command.upgrade(_config(gx, connection, after_upgrade=steps), revision)
            connection.commit()
            done = _with_ancestors(scripts(gx), current_revisions(connection))
            report.applied = [s for s in report.applied if s.revision in done]
            if connection.dialect.name == "sqlite":
                _check_foreign_keys(connection)
            report.differences = differences(gx, connection)
        with gx.system() as session:
            from engine.bulk import refresh_stale_statistics

            refresh_stale_statistics(session, ("customers", "interactions"))
    finally:
        engine.dispose()
    return report


def _stamp_legacy(gx, connection: sa.Connection) -> list[str]:
    """A database with Guanxi's tables and no version table was built by a
    release before migrations: stamp each branch's first revision whose
    tables (its module's ``creates_tables``) are all there already."""
    inspector = sa.inspect(connection)
    if current_revisions(connection) or not inspector.has_table("tenants"):
        return []
    existing = set(inspector.get_table_names())
    directory = scripts(gx)
    stamped = []
    for base in sorted(directory.get_bases()):
        tables = set(getattr(directory.get_revision(base).module, "creates_tables", ()))
        if tables and tables <= existing:
            stamped.append(base)
        elif tables & existing:
            raise SchemaNotCurrent(
                f"the database has some of the tables of {base} ({', '.join(sorted(tables & existing))}) but not "
                f"{', '.join(sorted(tables - existing))}: it was not built by a Guanxi release; fix it by hand")
    # Alembic keeps only revisions nothing else implies: a plugin's base implies the core's.
    implied = set()
    for rev in stamped:
        implied |= _with_ancestors(directory, {rev}) - {rev}
    command.stamp(_config(gx, connection), [rev for rev in stamped if rev not in implied])
    connection.commit()
    return stamped


def _with_ancestors(directory: ScriptDirectory, revisions: set[str]) -> set[str]:
    """The revisions and everything they revise or depend on."""
    out = set()
    for rev in revisions:
        out |= {s.revision for s in directory.iterate_revisions(rev, "base")}
    return out


def downgrade(gx, revision: str) -> None:
    """Undo revisions down to ``revision`` (``rfm@-1``, ``nps@base``, ``core_0001``)."""
    engine = _migration_engine(gx)
    try:
        with engine.connect() as connection:
            command.downgrade(_config(gx, connection), revision)
            connection.commit()
    finally:
        engine.dispose()


def current(gx) -> list[Script]:
    """The revision each branch of the database is at (a branch never applied is absent)."""
    engine = _migration_engine(gx)
    try:
        with engine.connect() as connection:
            revisions = current_revisions(connection)
    finally:
        engine.dispose()
    directory = scripts(gx)
    applied = [directory.get_revision(rev) for rev in sorted(_with_ancestors(directory, revisions))]
    superseded = {down for script in applied for down in _as_tuple(script.down_revision)}
    return [script for script in applied if script.revision not in superseded]


def _as_tuple(revisions: str | tuple | None) -> tuple:
    return (revisions,) if isinstance(revisions, str) else tuple(revisions or ())


def history(gx) -> list[Script]:
    """Every revision of the installed code, newest first."""
    return list(scripts(gx).walk_revisions("base", "heads"))


def differences(gx, connection: sa.Connection) -> list[str]:
    """What autogenerate would change to make the database match the models
    (empty when migrations and models agree)."""
    names = set(table_owners(gx))

    def include(obj, name, type_, reflected, compare_to):
        return name in names if type_ == "table" else True

    context = MigrationContext.configure(connection, opts={"include_object": include, "compare_type": True})
    return [repr(diff) for diff in compare_metadata(context, SQLModel.metadata)]


def _check_foreign_keys(connection: sa.Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise SchemaNotCurrent(f"foreign keys broken after the migrations: {broken[:5]}")


def new_revision(gx, name: str, message: str, autogenerate: bool = False) -> Script:
    """Write the next revision of a branch ("core", or a module's name) into
    its migrations folder, named ``<branch>_<NNNN>``; with ``autogenerate``
    its operations are what changed in the branch's models."""
    if name == CORE_PLUGIN:
        plugin, branch, folder = CORE_PLUGIN, CORE_PLUGIN, CORE_VERSIONS
    else:
        plugin = gx.plugins.plugin_name(name)
        branch = gx.plugins.branch_name(plugin)
        folder = gx.plugins.migration_folders().get(plugin)
        if folder is None:
            raise SchemaNotCurrent(f"plugin {plugin!r} names no migrations folder (its guanxi_migrations hook)")
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    own = [s for s in scripts(gx).walk_revisions("base", "heads") if Path(s.path).resolve().parent == folder]
    tables = {table for table, owner in table_owners(gx).items() if owner == plugin}
    kwargs = {"head": f"{branch}@head"} if own else {
        "head": "base", "branch_label": branch, "depends_on": None if branch == CORE_PLUGIN else CORE_BASE}
    engine = _migration_engine(gx)
    try:
        with engine.connect() as connection:
            return command.revision(_config(gx, connection, tables=tables), message=message, autogenerate=autogenerate,
                                    version_path=str(folder), rev_id=f"{branch}_{len(own) + 1:04d}", **kwargs)
    finally:
        engine.dispose()
