"""Endpoints: URL checks, secrets encrypted and rotated, roles; events of merges, erasures and bulk imports."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from engine.events import api_id
from engine.services.customers import create_customer, erase_customer
from engine.services.import_customers import store_customers
from engine.services.merge import merge_customers
from plugins.webhooks import crypto
from plugins.webhooks.models import WebhookEndpoint, WebhookEvent
from plugins.webhooks.signing import InvalidSignature, headers, verify
from tests.plugins.webhooks.conftest import allow_hosts, deliverer

CREATE = """mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  secret endpoint { id url eventTypes enabled } errors { field message code } } }"""
ROTATE = """mutation($i: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $i) {
  secret endpoint { previousSecretExpiresAt } errors { field message } } }"""


@pytest.mark.parametrize("url, message", [
    ("ftp://provider.example.com/hook", "http:// or https://"),
    ("https://user:pw@provider.example.com/hook", "credentials"),
    ("https://10.1.2.3/hook", "non-public"),
    ("http://169.254.169.254/latest/meta-data", "non-public"),
    ("not a url", "http:// or https://"),
])
def test_bad_urls_are_refused_naming_the_field(gx, make_tenant, graphql, monkeypatch, url, message):
    allow_hosts(gx, monkeypatch)
    slug = make_tenant(modules=("webhooks",))
    result = graphql(slug).execute(CREATE, {"i": {"url": url}})["data"]["createWebhookEndpoint"]
    assert result["endpoint"] is None and result["secret"] is None
    [error] = result["errors"]
    assert error["field"] == "url" and message in error["message"]


def test_an_allowed_private_network_and_unknown_event_types(gx, make_tenant, graphql, monkeypatch):
    allow_hosts(gx, monkeypatch, "10.20.0.0/16", "sms.store.lan")
    slug = make_tenant(modules=("webhooks",))
    client = graphql(slug)
    ok = client.execute(CREATE, {"i": {"url": "http://10.20.1.5:8080/sms", "eventTypes": ["campaign.*", "customer.created"]}})
    created = ok["data"]["createWebhookEndpoint"]
    assert created["errors"] == [] and created["secret"].startswith("whsec_")
    assert created["endpoint"]["eventTypes"] == ["campaign.*", "customer.created"]
    bad = client.execute(CREATE, {"i": {"url": "http://10.20.1.5/x", "eventTypes": ["customer.deleted"]}})
    assert bad["data"]["createWebhookEndpoint"]["errors"][0]["field"] == "eventTypes"


def test_only_admins_manage_endpoints(gx, make_tenant, graphql):
    slug = make_tenant(modules=("webhooks",))
    refused = graphql(slug, role="AGENT").execute(CREATE, {"i": {"url": "https://provider.example.com/hook"}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert graphql(slug, role="ANALYST").execute("{ webhookEndpoints { id } }")["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_the_secret_is_stored_encrypted_and_shown_once(gx, make_tenant, graphql, receiver):
    slug = make_tenant(modules=("webhooks",))
    created = graphql(slug).execute(CREATE, {"i": {"url": receiver.url + "/ok"}})["data"]["createWebhookEndpoint"]
    secret = created["secret"]
    with gx.tenant(slug, write=False) as ctx:
        row = ctx.session.execute(sa.select(WebhookEndpoint)).scalar_one()
    assert secret not in row.secret_encrypted and crypto.secret_bytes(secret).hex() not in row.secret_encrypted
    assert crypto.decrypt(gx.settings, row.secret_encrypted, f"{row.tenant_id}:{row.id}") == secret
    with pytest.raises(crypto.SecretUnreadable):  # bound to its endpoint: copied onto another row it is useless
        crypto.decrypt(gx.settings, row.secret_encrypted, f"{row.tenant_id}:{row.id + 1}")
    listed = graphql(slug).execute("{ webhookEndpoints { url } }")
    assert "secret" not in str(listed["data"]).lower()


def test_rotation_signs_with_both_secrets_until_the_overlap_ends(gx, make_tenant, graphql, receiver):
    slug = make_tenant(modules=("webhooks",))
    client = graphql(slug)
    created = client.execute(CREATE, {"i": {"url": receiver.url + "/ok"}})["data"]["createWebhookEndpoint"]
    old = created["secret"]
    rotated = client.execute(ROTATE, {"i": {"id": created["endpoint"]["id"]}})["data"]["rotateWebhookSecret"]
    new = rotated["secret"]
    assert new != old and rotated["endpoint"]["previousSecretExpiresAt"] is not None
    receiver.secrets[:] = [old]  # a receiver not yet switched still verifies
    with gx.tenant(slug) as ctx:
        create_customer(ctx, {"code": "R1"})
    tenant_id = gx.tenant_id(slug)
    deliverer(gx, tenant_id).run_once()
    assert len(receiver.processed) == 1 and len(receiver.headers[0]["webhook-signature"].split(" ")) == 2
    body = b'{"x":1}'
    signed = headers([crypto.secret_bytes(new)], "evt_1", int(time.time()), body)
    assert verify(new, signed, body, int(time.time())) == "evt_1"
    with pytest.raises(InvalidSignature):
        verify(old, signed, body, int(time.time()))
    with pytest.raises(InvalidSignature):  # an old capture replayed later
        verify(new, signed, body, int(time.time()) + 301)
    # Rotating with no overlap: only the newest secret signs.
    newest = client.execute(ROTATE, {"i": {"id": created["endpoint"]["id"], "overlapHours": 0}})["data"]["rotateWebhookSecret"]
    receiver.secrets[:] = [new]
    with gx.tenant(slug) as ctx:
        create_customer(ctx, {"code": "R2"})
    deliverer(gx, tenant_id).run_once()
    assert receiver.refused == 1 and len(receiver.processed) == 1
    receiver.secrets[:] = [newest["secret"]]
    with gx.tenant(slug) as ctx:
        create_customer(ctx, {"code": "R3"})
    deliverer(gx, tenant_id).run_once()
    assert [e["data"]["code"] for e in receiver.processed] == ["R1", "R3"]


def _events(gx, slug):
    with gx.tenant(slug, write=False) as ctx:
        return ctx.session.execute(sa.select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()


def test_merges_and_erasures_are_events_and_erasure_empties_older_ones(gx, hooked):
    slug, tenant_id, _ = hooked()
    with gx.tenant(slug) as ctx:
        kept = create_customer(ctx, {"code": "K", "name": "李雷"}).id
        merged = create_customer(ctx, {"code": "M", "phone": "13900139000"}).id
    with gx.tenant(slug) as ctx:
        merge_customers(ctx, kept, merged)
    events = _events(gx, slug)
    assert [e.type for e in events] == ["customer.created", "customer.created", "customer.merged"]
    assert {e.customer_id for e in events} == {kept}  # the merged customer's events are the kept one's
    assert events[-1].data["mergedCustomerId"] == api_id("Customer", merged)
    with gx.tenant(slug) as ctx:
        erase_customer(ctx, kept)
    events = _events(gx, slug)
    assert events[-1].type == "customer.erased" and all(e.data == {} for e in events)


def test_a_bulk_import_writes_one_event_per_new_customer(gx, hooked, make_tenant):
    slug, tenant_id, _ = hooked(event_types=["customer.*"])
    rows = [(line, {"code": f"B{line}", "name": f"客户{line}"}) for line in range(2, 502)]
    with gx.tenant(slug) as ctx:
        result = store_customers(ctx, rows, "upsert")
    assert result.stored == 500
    events = _events(gx, slug)
    assert len(events) == 500 and {e.type for e in events} == {"customer.created"}
    assert sorted(e.data["code"] for e in events) == sorted(f"B{n}" for n in range(2, 502))
    with gx.tenant(slug) as ctx:  # the same file again, one name changed: one update event
        store_customers(ctx, [(2, {"code": "B2", "name": "改名"})], "upsert")
    assert [e.type for e in _events(gx, slug)][-1] == "customer.updated"


def test_the_demo_gets_a_disabled_example_endpoint_for_campaign_messages(gx, make_tenant):
    from plugins.webhooks import plugin

    slug = make_tenant(modules=("webhooks",))
    with gx.tenant(slug) as ctx:
        assert "example" in plugin.guanxi_demo_data(ctx, 7)
    with gx.tenant(slug, write=False) as ctx:
        [endpoint] = ctx.session.execute(sa.select(WebhookEndpoint)).scalars().all()
    assert not endpoint.enabled and endpoint.event_types == ["campaign.*"]


def test_survey_links_go_out_as_events_for_the_tenants_provider(gx, hooked):
    from engine.services import modules
    from plugins.satisfaction.invitations import invite
    from plugins.satisfaction.surveys import create_survey

    slug, tenant_id, _ = hooked(event_types=["satisfaction.*"])
    with gx.system() as session:
        modules.set_enabled(session, gx.plugins, tenant_id, "satisfaction", True)
    with gx.tenant(slug) as ctx:
        customer = create_customer(ctx, {"code": "S1", "name": "王芳", "consent": {"sms": True}}).id
        survey = create_survey(ctx, {"code": "CSI", "title_zh": "调查", "title_en": "Survey", "model": "FOUR_DIMENSION"})
        [link] = invite(ctx, survey.id, [customer]).links
    [event] = _events(gx, slug)
    assert (event.type, event.customer_id) == ("satisfaction.invited", customer)
    assert event.data["path"] == link.path and event.data["channel"] == link.channel and event.data["survey"] == "CSI"
