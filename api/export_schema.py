"""Print the SDL of the schema with every installed module enabled:

    .venv/bin/python -m api.export_schema > docs/schema.graphql
"""

from __future__ import annotations

from api.schema import SchemaCache
from engine.plugins.manager import get_plugin_manager


def sdl() -> str:
    return str(SchemaCache(get_plugin_manager()).all_modules()).rstrip() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
