"""Alembic's environment for Guanxi: run by engine/migrations/__init__.py,
never from an alembic.ini. The caller passes the connection and what the
installed plugins own in ``config.attributes``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

config = context.config
connection = config.attributes["connection"]
tables = config.attributes["tables"]  # names of the tables the run may create or compare


def render_item(type_, obj, autogen_context):
    """Column types as plain SQLAlchemy where they are (sqlmodel's AutoString
    is a String), and the engine's own by their import path."""
    if type_ != "type":
        return False
    if obj.__class__.__module__ == "sqlmodel.sql.sqltypes" and obj.__class__.__name__ == "AutoString":
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if obj.__class__.__module__ == "engine.types":
        return f"engine.types.{obj.__class__.__name__}()"
    if isinstance(obj, sa.JSON) and "postgresql" in getattr(obj, "_variant_mapping", {}):
        return "engine.types.Json"  # JSON, jsonb on PostgreSQL
    return False


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table":
        return name in tables
    return True


context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    include_object=include_object,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs go through batch mode (copy and swap)
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
    for step in config.attributes.get("after_upgrade", ()):
        step(connection)
