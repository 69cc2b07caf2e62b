"""Shared fixtures: the real engine on SQLite, and on PostgreSQL when
GUANXI_TEST_DATABASE_URL is set (every database test then runs on both).

Tests share one database per backend and isolate themselves the way the
product does: each test makes its own tenants.
"""

from __future__ import annotations

import itertools
import os
import uuid

import pytest

from engine.config import Settings
from engine.db import make_engine
from engine.plugins.manager import get_plugin_manager
from engine.runtime import Guanxi
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant

BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("GUANXI_TEST_DATABASE_URL") else [])
_counter = itertools.count(1)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    if request.param == "postgres":
        return os.environ["GUANXI_TEST_DATABASE_URL"]
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'guanxi-test.db'}"


@pytest.fixture(scope="session")
def gx(database_url) -> Guanxi:
    """The engine with the installed plugins, on a test database."""
    settings = Settings(database_url=database_url)
    engine = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
    engine.init_db()
    yield engine
    engine.engine.dispose()


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_tenant(gx):
    """Create a fresh tenant (optionally with modules enabled); returns its slug."""

    def make(modules: tuple[str, ...] = (), timezone: str = "Asia/Shanghai", currency: str = "CNY") -> str:
        slug = unique_slug()
        with gx.write() as session:
            tenant = create_tenant(session, slug, f"Tenant {slug}", currency, timezone, "zh-CN", actor="test")
            for name in modules:
                set_enabled(session, gx.plugins, tenant.id, name, True, actor="test")
        return slug

    return make


@pytest.fixture
def tenant(make_tenant) -> str:
    return make_tenant()
