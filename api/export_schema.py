"""Print the SDL of the schema with every built-in module enabled:

    .venv/bin/python -m api.export_schema > docs/schema.graphql

Third-party plugins installed alongside are left out: docs/schema.graphql
documents Guanxi itself, whatever else an installation adds.
"""

from __future__ import annotations

import importlib

from api.schema import SchemaCache
from engine.plugins.manager import DEFAULT_PLUGINS, PluginManager


def built_in_plugins() -> PluginManager:
    manager = PluginManager()
    for dotted in DEFAULT_PLUGINS:
        manager.register_module(importlib.import_module(dotted), name=dotted)
    manager.check()
    return manager


def sdl() -> str:
    return str(SchemaCache(built_in_plugins()).all_modules()).rstrip() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
