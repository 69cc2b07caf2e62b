"""Plugins' ``guanxi NAME ...`` command groups, found without loading the plugins.

``guanxi --help`` must answer at once, and loading the plugins means
importing their models, numba kernels and scipy (seconds). So the command
groups are found by name, and only the group asked for is imported:

- the built-in plugins' groups are listed here (as DEFAULT_PLUGINS lists the
  built-in plugins, so a plain source checkout works);
- an installed plugin declares its group as an entry point,
  ``[project.entry-points."guanxi.cli"] nps = "guanxi_nps.cli:nps_app"``;
  its cli module should import its heavy modules inside the commands;
- a plugin that only implements the ``guanxi_cli_commands`` hook still works
  when its command is called (the plugins are loaded then), but is not
  listed by ``guanxi --help``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from typer.core import TyperGroup

ENTRY_POINT_GROUP = "guanxi.cli"
DEFAULT_COMMANDS = {
    "clv": "plugins.clv.cli:clv_app",
    "loyalty": "plugins.loyalty.cli:loyalty_app",
    "complaints": "plugins.complaints.cli:complaints_app",
    "lifecycle": "plugins.lifecycle.cli:lifecycle_app",
    "satisfaction": "plugins.satisfaction.cli:satisfaction_app",
    "campaigns": "plugins.campaigns.cli:campaigns_app",
    "webhooks": "plugins.webhooks.cli:webhooks_app",
}


@cache
def declared_commands() -> dict[str, str]:
    """Group name -> ``module:attribute`` of its typer app, built-ins first."""
    from importlib.metadata import entry_points

    found = dict(DEFAULT_COMMANDS)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point.value)
    return found


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


@cache
def hook_commands() -> dict[str, Any]:
    """The groups plugins return from ``guanxi_cli_commands`` (loads every plugin)."""
    from engine.plugins import get_plugin_manager

    return {name: sub_app for group in get_plugin_manager().hook.guanxi_cli_commands() for name, sub_app in group or []}


class GuanxiGroup(TyperGroup):
    """The root ``guanxi`` group: the core's commands, then the plugins',
    each plugin group imported only when listed or called."""

    def list_commands(self, ctx) -> list[str]:
        core = super().list_commands(ctx)
        return core + sorted(name for name in declared_commands() if name not in self.commands)

    def get_command(self, ctx, name: str):
        command = super().get_command(ctx, name)
        if command is None:
            command = self._plugin_group(name)
        return command

    def _plugin_group(self, name: str):
        import typer.main

        target = declared_commands().get(name)
        try:
            sub_app = _load(target) if target else hook_commands().get(name)
        except Exception as error:  # one broken plugin must not take the whole CLI down
            from engine.cli_support import say

            say(f"[yellow]warning[/yellow] the {name!r} commands could not be loaded ({type(error).__name__}: {error})")
            return None
        if sub_app is None:
            return None
        group = typer.main.get_group(sub_app)
        group.name = name
        self.commands[name] = group
        return group
