"""The plugin system: hook specifications and the per-tenant plugin manager."""

from engine.plugins.hookspecs import hookimpl, hookspec
from engine.plugins.manager import (
    DEFAULT_PLUGINS, GlobalPlugin, ModuleInfo, PluginConflict, PluginError, PluginManager, get_plugin_manager,
)

__all__ = ["DEFAULT_PLUGINS", "GlobalPlugin", "ModuleInfo", "PluginConflict", "PluginError", "PluginManager",
           "get_plugin_manager", "hookimpl", "hookspec"]
