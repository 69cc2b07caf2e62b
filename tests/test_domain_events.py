"""engine.events.emit reaches the plugins enabled for the tenant, inside the
transaction of the change."""

from __future__ import annotations

import pytest

from engine import hookimpl
from engine.events import DomainEvent, emit
from engine.plugins import ModuleInfo


class Outbox:
    """A module keeping what it hears, as the webhooks module's outbox would."""

    def __init__(self):
        self.heard = []

    @hookimpl
    def guanxi_module(self):
        return ModuleInfo(name=f"outbox_{id(self)}", title_zh="发件箱", title_en="Outbox")

    @hookimpl
    def guanxi_domain_events(self, ctx, events):
        self.heard.extend((ctx.tenant.slug, e.type, e.customer_id, e.id) for e in events)


@pytest.fixture
def outbox(gx):
    plugin = Outbox()
    gx.plugins.register_module(plugin, name=f"outbox-{id(plugin)}")
    gx.plugins.check()
    yield plugin
    gx.plugins.unregister(plugin)


def test_events_reach_only_tenants_that_enabled_the_module(gx, make_tenant, outbox):
    listening = make_tenant(modules=(f"outbox_{id(outbox)}",))
    deaf = make_tenant()
    first, second = DomainEvent("customer.created", {"code": "C1"}, customer_id=7), DomainEvent("campaign.sent", {})
    with gx.tenant(listening) as ctx:
        emit(ctx, [first, second])
    with gx.tenant(deaf) as ctx:
        emit(ctx, [DomainEvent("customer.created", {}, customer_id=8)])
    assert outbox.heard == [(listening, "customer.created", 7, first.id), (listening, "campaign.sent", None, second.id)]
    assert first.id != second.id and len(first.id) == 32
