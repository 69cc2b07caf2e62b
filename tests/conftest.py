"""The engine's own tests use the plugin author's kit (engine/testing.py,
loaded by pytest through the ``pytest11`` entry point): the real engine on
SQLite, and on PostgreSQL when GUANXI_TEST_DATABASE_URL is set (every
database test then runs on both).

Tests share one database per backend and isolate themselves the way the
product does: each test makes its own tenants.
"""

from __future__ import annotations

from engine.testing import unique_slug

__all__ = ["unique_slug"]

