"""A real receiver (starlette under uvicorn, plugins/webhooks/receiver.py) and helpers."""

from __future__ import annotations

import pytest

from engine.services import modules
from plugins.webhooks.delivery import Deliverer
from plugins.webhooks.endpoints import create_endpoint
from plugins.webhooks.receiver import Receiver, Served


def allow_hosts(gx, monkeypatch, *hosts: str) -> None:
    """As GUANXI_WEBHOOKS_ALLOWED_HOSTS would (subprocesses get the variable itself)."""
    monkeypatch.setattr(gx, "settings", gx.settings.model_copy(update={"webhooks_allowed_hosts": hosts}))


@pytest.fixture(autouse=True)
def local_receivers_allowed(gx, monkeypatch):
    allow_hosts(gx, monkeypatch, "127.0.0.1")


@pytest.fixture
def receiver():
    found = Receiver()
    with Served(found) as url:
        found.url = url
        yield found


@pytest.fixture
def hooked(gx, make_tenant, receiver):
    """A tenant with the module on and an endpoint (path ``/ok`` unless changed), the receiver knowing its secret."""

    def make(path: str = "/ok", event_types=(), settings: dict | None = None):
        slug = make_tenant(modules=("webhooks",))
        with gx.tenant(slug) as ctx:
            if settings:
                modules.configure(ctx.session, gx.plugins, ctx.tenant_id, "webhooks", settings)
                ctx.forget_modules()
            new = create_endpoint(ctx, gx.settings, receiver.url + path, list(event_types))
            receiver.secrets.append(new.secret)
            return slug, ctx.tenant_id, new.endpoint.id

    return make


def deliverer(gx, tenant_id: int, **options) -> Deliverer:
    return Deliverer(gx, tenants=[tenant_id], **options)
