"""Events reach a real receiver signed, in order per customer, retried, dead, replayed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.events import DomainEvent, emit
from engine.services.customers import create_customer, update_customer
from engine.services.interactions import record_interaction
from engine.testing import FakeClock
from plugins.webhooks.delivery import backoff_seconds
from plugins.webhooks.models import WebhookDelivery, WebhookEvent
from plugins.webhooks.settings import WebhooksSettings
from tests.plugins.webhooks.conftest import deliverer


def _deliveries(gx, slug):
    with gx.tenant(slug, write=False) as ctx:
        return ctx.session.execute(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars().all()


def test_customer_and_interaction_events_arrive_signed_in_order(gx, hooked, receiver):
    slug, tenant_id, _ = hooked()
    with gx.tenant(slug) as ctx:
        customer = create_customer(ctx, {"code": "W1", "name": "王芳", "phone": "13800138000"})
        update_customer(ctx, customer.id, {"city": "上海"})
        record_interaction(ctx, {"customer_id": customer.id, "kind": "PURCHASE", "amount": "88.00",
                                 "occurred_at": "2026-05-01T10:00:00+08:00"})
    report = deliverer(gx, tenant_id).run_once()
    assert report.delivered == 3 and receiver.refused == 0
    types = [e["type"] for e in receiver.processed]
    assert types == ["customer.created", "customer.updated", "interaction.recorded"]
    created = receiver.processed[0]
    assert created["tenant"] == slug and created["data"] == {"code": "W1", "fields": ["code", "name", "phone"]}
    assert receiver.processed[1]["data"]["fields"] == ["city"]
    assert receiver.processed[2]["data"]["amount"] == "88.00"
    # The webhook-id header is the event id, and the signature is one v1 entry.
    headers = receiver.headers[0]
    assert headers["webhook-id"] == created["id"] and headers["webhook-signature"].startswith("v1,")
    assert " " not in headers["webhook-signature"]
    assert all(d.status == "delivered" and d.attempts == 1 for d in _deliveries(gx, slug))


def test_a_rolled_back_change_leaves_no_event(gx, hooked, receiver):
    slug, tenant_id, _ = hooked()
    with pytest.raises(RuntimeError):
        with gx.tenant(slug) as ctx:
            create_customer(ctx, {"code": "GONE"})
            raise RuntimeError("the change fails after the event was written")
    with gx.tenant(slug, write=False) as ctx:
        assert ctx.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar_one() == 0
    assert deliverer(gx, tenant_id).run_once().claimed == 0 and receiver.requests == 0


def test_subscriptions_choose_the_types_and_tenants_without_the_module_store_nothing(gx, hooked, make_tenant, receiver):
    slug, tenant_id, _ = hooked(event_types=["interaction.*"])
    with gx.tenant(slug) as ctx:
        customer = create_customer(ctx, {"code": "S1"})
        record_interaction(ctx, {"customer_id": customer.id, "kind": "VISIT", "occurred_at": "2026-05-01T10:00:00+08:00"})
    plain = make_tenant()
    with gx.tenant(plain) as ctx:
        create_customer(ctx, {"code": "S1"})
        assert ctx.session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar_one() == 0
    deliverer(gx, tenant_id).run_once()
    assert [e["type"] for e in receiver.processed] == ["interaction.recorded"]


def test_a_failure_is_retried_after_a_jittered_backoff(gx, hooked, receiver):
    slug, tenant_id, _ = hooked("/flaky/1", settings={"backoff_base_seconds": 30})
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"text": "生日快乐"}, customer_id=None)])
    clock = FakeClock()
    worker = deliverer(gx, tenant_id, clock=clock)
    first = worker.run_once()
    assert (first.claimed, first.retried, first.delivered) == (1, 1, 0)
    [pending] = _deliveries(gx, slug)
    wait = pending.next_attempt_at - clock()
    assert pending.status == "pending" and pending.last_status_code == 500 and timedelta(0) <= wait <= timedelta(seconds=30)
    clock.advance(seconds=31)
    assert worker.run_once().delivered == 1
    [done] = _deliveries(gx, slug)
    assert done.status == "delivered" and done.attempts == 2
    assert [e["data"] for e in receiver.processed] == [{"text": "生日快乐"}]


def test_backoff_is_exponential_with_full_jitter():
    settings = WebhooksSettings(backoff_base_seconds=10, backoff_max_seconds=100)
    assert [backoff_seconds(settings, n, rng=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert backoff_seconds(settings, 3, rng=lambda: 0.0) == 0
    assert backoff_seconds(settings, 3, rng=lambda: 0.5) == 20


def test_dead_after_the_last_attempt_then_replayed(gx, hooked, receiver, graphql):
    slug, tenant_id, endpoint_id = hooked("/down", settings={"max_attempts": 2, "backoff_base_seconds": 1})
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"n": 1}), DomainEvent("campaign.message", {"n": 2})])
    clock = FakeClock()
    worker = deliverer(gx, tenant_id, clock=clock)
    worker.run_once()
    clock.advance(seconds=2)
    assert worker.run_once().dead == 2
    assert {d.status for d in _deliveries(gx, slug)} == {"dead"}
    client = graphql(slug)
    listing = client.execute("{ webhookEndpoints { id deliveryCounts { dead } deliveries(status: DEAD) { totalCount "
                             "edges { node { id status attempts lastStatusCode lastError } } } } }")
    [endpoint] = listing["data"]["webhookEndpoints"]
    assert endpoint["deliveryCounts"]["dead"] == 2
    dead = [e["node"] for e in endpoint["deliveries"]["edges"]]
    assert [(d["attempts"], d["lastStatusCode"]) for d in dead] == [(2, 500), (2, 500)] and "HTTP 500" in dead[0]["lastError"]
    # The provider is fixed: point the endpoint at a working path and replay one, then the rest.
    moved = client.execute("mutation($i: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $i) { errors { field } } }",
                           {"i": {"id": endpoint["id"], "url": receiver.url + "/ok"}})
    assert moved["data"]["updateWebhookEndpoint"]["errors"] == []
    replay = "mutation($i: ReplayWebhookDeliveriesInput!) { replayWebhookDeliveries(input: $i) { replayed errors { field code } } }"
    one = client.execute(replay, {"i": {"endpointId": endpoint["id"], "deliveryId": dead[0]["id"]}})
    assert one["data"]["replayWebhookDeliveries"] == {"replayed": 1, "errors": []}
    again = client.execute(replay, {"i": {"endpointId": endpoint["id"], "deliveryId": dead[0]["id"]}})
    assert again["data"]["replayWebhookDeliveries"]["errors"][0]["field"] == "deliveryId"
    worker = deliverer(gx, tenant_id)  # replayed deliveries are due at the real now
    assert worker.run_once().delivered == 1
    rest = client.execute(replay, {"i": {"endpointId": endpoint["id"]}})
    assert rest["data"]["replayWebhookDeliveries"]["replayed"] == 1
    assert worker.run_once().delivered == 1
    assert sorted(e["data"]["n"] for e in receiver.processed) == [1, 2]


def test_a_slow_endpoint_times_out(gx, hooked, receiver):
    slug, tenant_id, _ = hooked("/slow/3", settings={"timeout_seconds": 0.3})
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {})])
    assert deliverer(gx, tenant_id).run_once().retried == 1
    [delivery] = _deliveries(gx, slug)
    assert delivery.status == "pending" and delivery.last_status_code is None and "timed out" in delivery.last_error


def test_a_customers_next_event_waits_for_the_previous_one(gx, hooked, receiver):
    slug, tenant_id, _ = hooked("/flaky/1", settings={"backoff_base_seconds": 1})
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"n": 1}, customer_id=11),
                   DomainEvent("campaign.message", {"n": 2}, customer_id=11),
                   DomainEvent("campaign.message", {"n": 3}, customer_id=12)])
    clock = FakeClock()
    worker = deliverer(gx, tenant_id, clock=clock)
    worker.run_once()
    # n=1 and n=3 were tried (and failed once, on purpose); n=2 waits behind n=1.
    tried = {h["webhook-id"] for h in receiver.headers}
    second = [d for d in _deliveries(gx, slug)][1]
    assert second.event_id not in tried and second.attempts == 0
    for _ in range(4):
        clock.advance(seconds=5)
        worker.run_once()
    assert [e["data"]["n"] for e in receiver.processed if e["customerId"] is not None and e["data"]["n"] < 3] == [1, 2]
    assert {d.status for d in _deliveries(gx, slug)} == {"delivered"}


def test_tenants_get_their_own_events_only(gx, hooked, receiver, graphql):
    first, first_id, first_endpoint = hooked()
    second, second_id, _ = hooked()
    with gx.tenant(first) as ctx:
        create_customer(ctx, {"code": "A"})
    with gx.tenant(second) as ctx:
        create_customer(ctx, {"code": "B"})
    deliverer(gx, second_id).run_once()
    assert [(e["tenant"], e["data"]["code"]) for e in receiver.processed] == [(second, "B")]
    from api.ids import to_global_id

    seen = graphql(second).execute("query($id: ID!) { webhookEndpoint(id: $id) { url } webhookEndpoints { id } }",
                                   {"id": to_global_id("WebhookEndpoint", first_endpoint)})
    assert seen["data"]["webhookEndpoint"] is None
    assert len(seen["data"]["webhookEndpoints"]) == 1
    node = "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { url } } }"
    own_id = to_global_id("WebhookEndpoint", first_endpoint)
    assert graphql(first).execute(node, {"id": own_id})["data"]["node"]["url"] == receiver.url + "/ok"
    assert graphql(second).execute(node, {"id": own_id})["data"]["node"] is None
