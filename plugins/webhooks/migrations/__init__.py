"""Alembic revisions (loaded by engine/migrations, not imported)."""
