"""Alembic revisions of the birthdays branch (loaded by Guanxi's migrations, not imported)."""
