"""Erasing a customer clears the columns a module declares personal, with no code of its own,
and calls its guanxi_customer_erased, whether or not the tenant has the module on."""

from __future__ import annotations

import types
import uuid
from typing import Optional

import pytest
import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine import hookimpl
from engine.plugins import ModuleInfo
from engine.services.customers import create_customer, erase_customer
from engine.services.modules import set_enabled
from engine.services.tenants import create_tenant
from tests.extra_plugins import engine_with


class StylistNote(SQLModel, table=True):
    __tablename__ = "test_stylist_notes"
    __table_args__ = {"extend_existing": True}
    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(index=True)
    customer_id: int
    note: str  # required: erasure leaves '' here
    allergy: Optional[str] = None
    visits: int = 0  # not personal: stays


def _stylist_plugin(erased: list, migrations):
    plugin = types.ModuleType("stylist_plugin_for_erase_tests")
    plugin.guanxi_module = hookimpl(lambda: ModuleInfo(
        name="stylist", title_zh="发型师笔记", title_en="Stylist notes",
        personal_fields={"test_stylist_notes": ("note", "allergy")}))
    plugin.guanxi_models = hookimpl(lambda: [StylistNote])
    plugin.guanxi_migrations = hookimpl(lambda: migrations)
    plugin.guanxi_customer_erased = hookimpl(lambda ctx, customer_id: erased.append(customer_id))
    return plugin


@pytest.mark.parametrize("switched_off", [False, True], ids=["module-on", "module-off"])
def test_declared_personal_columns_are_cleared_for_the_erased_customer_only(fresh_database_url, tmp_path, switched_off):
    """Whether or not the tenant has the module on: switched back on, it must not show the person."""
    hook_calls: list[int] = []
    plugin = _stylist_plugin(hook_calls, tmp_path / "migrations")
    gx = engine_with(fresh_database_url, {"stylist_plugin_for_erase_tests": plugin})
    plugins = gx.plugins
    slug = f"salon-{uuid.uuid4().hex[:8]}"
    with gx.system() as session:
        tenant = create_tenant(session, slug, "salon")
        set_enabled(session, plugins, tenant.id, "stylist", True)
    with gx.tenant(slug) as ctx:
        erased, kept = create_customer(ctx, {"name": "王芳"}), create_customer(ctx, {"name": "李娜"})
        for customer, note in ((erased, "王芳 likes short cuts, 138-0000-1111"), (kept, "李娜: colour every 6 weeks")):
            ctx.session.add(StylistNote(tenant_id=ctx.tenant_id, customer_id=customer.id, note=note, allergy="PPD", visits=3))
    if switched_off:
        with gx.system() as session:
            set_enabled(session, plugins, tenant.id, "stylist", False)
    with gx.tenant(slug) as ctx:
        erase_customer(ctx, erased.id)
    assert hook_calls == [erased.id]
    table = StylistNote.__table__
    with gx.system(write=False) as conn:
        rows = {r.customer_id: (r.note, r.allergy, r.visits) for r in conn.execute(sa.select(table).where(table.c.tenant_id == tenant.id))}
    assert rows[erased.id] == ("", None, 3)
    assert rows[kept.id] == ("李娜: colour every 6 weeks", "PPD", 3)
    gx.engine.dispose()
