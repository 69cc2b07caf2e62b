"""Engines with plugins that tests define on the spot.

A test's plugin with tables needs its own migrations, like any plugin: its
``guanxi_migrations`` names a folder; when that folder holds no revision yet,
the first one is written by autogenerate (as ``guanxi db revision --plugin
NAME --autogenerate`` would) and applied. The database must be one of the
test's own (``fresh_database_url``): the shared one must not learn revisions
that other tests' engines do not have.
"""

from __future__ import annotations

from pathlib import Path

from engine import migrations
from engine.config import Settings
from engine.plugins import PluginManager
from engine.runtime import Guanxi


def engine_with(database_url: str, plugins: dict[str, object] = {}, disabled: frozenset[str] = frozenset(),  # noqa: B006
                tenant_scoping: bool = True) -> Guanxi:
    """The installed plugins plus ``plugins`` (registered name -> plugin), upgraded."""
    settings = Settings(database_url=database_url, disabled_plugins=disabled)
    manager = PluginManager(settings)
    manager.load_default_plugins()
    for name, plugin in plugins.items():
        manager.register_module(plugin, name=name)
    manager.check()
    gx = Guanxi(settings=settings, plugins=manager, tenant_scoping=tenant_scoping)
    gx.upgrade()
    written = False
    for name, folder in manager.migration_folders().items():
        if name in plugins and not any(Path(folder).glob("*.py")):
            migrations.new_revision(gx, manager.branch_name(name), "the test plugin's tables", autogenerate=True)
            written = True
    if written:
        gx.upgrade()
    return gx
