"""The isolation generator catches a leak it was never told about, and the
tenant-scoped sessions stop it.

A test plugin, registered through a fresh PluginManager next to the built-in
ones, adds a Customer field and a Query field that forget the tenant filter
(the classic bug: look up by code or phone alone). With the tenant wall
turned off, the same generator and checker as the isolation suite must
report both; with it on (as in service), nothing leaks.
"""

from __future__ import annotations

from typing import Optional

import pytest
import sqlalchemy as sa
import strawberry

from api.app import create_app
from engine import hookimpl
from engine.models import Customer
from engine.plugins import ModuleInfo, PluginManager
from engine.runtime import Guanxi
from tests.security.attack import run_attack
from tests.security.conftest import SyncClient


@strawberry.type
class LeakyCustomerFields:
    @strawberry.field(description="BUG on purpose: the name of 'the same customer' found by code in any tenant.")
    async def twin_name(self, info: strawberry.Info) -> Optional[str]:
        code, own = self.code, self.tenant_id

        def lookup(session):
            return session.execute(
                sa.select(Customer.name).where(Customer.code == code, Customer.tenant_id != own).order_by(Customer.id.desc())
            ).scalars().first()

        return None if code is None else await info.context.read(lookup)


@strawberry.type
class LeakyQuery:
    @strawberry.field(description="BUG on purpose: customers by phone, without the tenant filter.")
    async def leaky_lookup(self, info: strawberry.Info, phone: str) -> list[str]:
        return await info.context.read(
            lambda session: list(session.execute(sa.select(Customer.name).where(Customer.phone == phone)).scalars())
        )


class LeakyPlugin:
    @hookimpl
    def guanxi_module(self):
        return ModuleInfo(name="leaky", title_zh="泄漏", title_en="Leaky (test)")

    @hookimpl
    def guanxi_customer_fields(self):
        return [LeakyCustomerFields]

    @hookimpl
    def guanxi_graphql(self):
        return {"query": [LeakyQuery]}


def _attack(gx, portal, tenant_scoping: bool):
    plugins = PluginManager(gx.settings)
    plugins.load_default_plugins()
    plugins.register_module(LeakyPlugin(), name="tests.security.leaky")
    plugins.check()
    leaky_gx = Guanxi(settings=gx.settings, plugins=plugins, tenant_scoping=tenant_scoping)
    client = SyncClient(portal, create_app(leaky_gx))
    try:
        return run_attack(client, leaky_gx, roles=("VIEWER",))
    finally:
        client.close()
        leaky_gx.engine.dispose()


@pytest.fixture(scope="module")
def leaky_attack(gx, portal):
    """The attack with the tenant wall off: what a careless plugin did before it existed."""
    return _attack(gx, portal, tenant_scoping=False)


def test_with_tenant_scoping_the_careless_fields_leak_nothing(gx, portal):
    attack = _attack(gx, portal, tenant_scoping=True)
    fields = {(op.kind, op.field) for op in attack.ops}
    assert ("customer-field", "twinName") in fields and ("query", "leakyLookup") in fields
    assert attack.leaks() == []


def test_the_leaking_fields_are_generated(leaky_attack):
    fields = {(op.kind, op.field) for op in leaky_attack.ops}
    assert ("customer-field", "twinName") in fields and ("query", "leakyLookup") in fields


def test_the_checker_reports_both_leaks(leaky_attack):
    leaks = leaky_attack.leaks()
    leaking_fields = {name.split("[")[0] for _, name, _ in leaks}
    assert "customer-field:twinName" in leaking_fields, leaks[:5]
    assert "query:leakyLookup" in leaking_fields, leaks[:5]
    # what leaked is B's data (its customers' names), and only requests that
    # select one of the leaking fields were flagged (the leak shows wherever
    # Customer is reachable: customers, customer, node, nested objects)
    b = leaky_attack.b
    assert all(any(m == b.marker or m in b.names for m in found) for _, _, found in leaks), leaks[:5]
    texts = {op.name: op.query for op in leaky_attack.ops}
    assert all("twinName" in texts[name] or "leakyLookup" in texts[name] for _, name, _ in leaks)
