"""Endpoints and their deliveries: what admins manage (GraphQL and CLI call these).

Secrets are made here and returned once, at creation and rotation; only
their ciphertext is stored (plugins/webhooks/crypto.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from engine.errors import FieldError, ValidationFailed, not_found
from engine.input_bounds import check_text
from engine.services import audit
from engine.types import utcnow
from plugins.webhooks import crypto
from plugins.webhooks.models import DEAD, DELIVERY_STATUSES, PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent
from plugins.webhooks.outbox import EVENT_TYPES
from plugins.webhooks.urls import check_url

MAX_ENDPOINTS = 50  # per tenant
MAX_EVENT_TYPES = 50
DELIVERIES = WebhookDelivery.__table__


@dataclass
class NewSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def _tag(endpoint: WebhookEndpoint) -> str:
    return f"{endpoint.tenant_id}:{endpoint.id}"


def _event_types(values: list[str] | None, field: str = "eventTypes") -> list[str]:
    values = list(dict.fromkeys(v.strip() for v in (values or [])))
    if len(values) > MAX_EVENT_TYPES:
        raise ValidationFailed([FieldError(field, f"at most {MAX_EVENT_TYPES} event types")])
    families = {t.split(".")[0] for t in EVENT_TYPES}
    for value in values:
        if value.endswith(".*") and value[:-2] in families:
            continue
        if value not in EVENT_TYPES:
            raise ValidationFailed([FieldError(field, f"unknown event type {value!r}; known: {', '.join(EVENT_TYPES)} "
                                                      f"(or a family such as 'customer.*'; none = every type)")])
    return values


def get_endpoint(ctx, endpoint_id: int, field: str = "id") -> WebhookEndpoint:
    endpoint = ctx.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != ctx.tenant_id:
        raise not_found(field, f"no webhook endpoint {endpoint_id} in this tenant")
    return endpoint


def list_endpoints(session, tenant_id: int) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).order_by(WebhookEndpoint.id)))


def create_endpoint(ctx, settings, url: str, event_types: list[str] | None = None, description: str | None = None,
                    enabled: bool = True) -> NewSecret:
    errors = check_text("description", description, 500)
    if errors:
        raise ValidationFailed(errors)
    url = check_url(url, settings.webhooks_allowed_hosts)
    types = _event_types(event_types)
    count = ctx.session.execute(sa.select(sa.func.count()).select_from(WebhookEndpoint)
                                .where(WebhookEndpoint.tenant_id == ctx.tenant_id)).scalar_one()
    if count >= MAX_ENDPOINTS:
        raise ValidationFailed([FieldError("url", f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints")])
    endpoint = WebhookEndpoint(tenant_id=ctx.tenant_id, url=url, event_types=types, description=description,
                               enabled=enabled, secret_encrypted="", created_by=ctx.actor)
    ctx.session.add(endpoint)
    ctx.session.flush()  # the id is part of the ciphertext's associated data
    secret = crypto.new_secret()
    endpoint.secret_encrypted = crypto.encrypt(settings, secret, _tag(endpoint))
    ctx.session.add(endpoint)
    ctx.session.flush()
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "webhooks.endpoint.create", "WebhookEndpoint", endpoint.id,
                 {"url": url, "event_types": types})
    return NewSecret(endpoint, secret)


def update_endpoint(ctx, settings, endpoint_id: int, changes: dict[str, Any]) -> WebhookEndpoint:
    endpoint = get_endpoint(ctx, endpoint_id)
    if "url" in changes:
        changes["url"] = check_url(changes["url"], settings.webhooks_allowed_hosts)
    if "event_types" in changes:
        changes["event_types"] = _event_types(changes["event_types"])
    if "description" in changes:
        errors = check_text("description", changes["description"], 500)
        if errors:
            raise ValidationFailed(errors)
    for key, value in changes.items():
        setattr(endpoint, key, value)
    endpoint.updated_at = utcnow()
    ctx.session.add(endpoint)
    ctx.session.flush()
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "webhooks.endpoint.update", "WebhookEndpoint", endpoint.id,
                 {"fields": sorted(changes)})
    return endpoint


def rotate_secret(ctx, settings, endpoint_id: int, overlap_hours: float | None = None) -> NewSecret:
    """A new secret signs from now on; the current one keeps signing too (two
    signatures per request) for ``overlap_hours`` (default: the module
    setting), so receivers can switch without missing a request."""
    endpoint = get_endpoint(ctx, endpoint_id)
    if overlap_hours is None:
        overlap_hours = ctx.module_settings("webhooks").rotation_overlap_hours
    if not 0 <= overlap_hours <= 24 * 30:
        raise ValidationFailed([FieldError("overlapHours", "must be between 0 and 720")])
    now = utcnow()
    if overlap_hours > 0:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = now + timedelta(hours=overlap_hours)
    else:
        endpoint.previous_secret_encrypted = endpoint.previous_secret_expires_at = None
    secret = crypto.new_secret()
    endpoint.secret_encrypted = crypto.encrypt(settings, secret, _tag(endpoint))
    endpoint.updated_at = now
    ctx.session.add(endpoint)
    ctx.session.flush()
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "webhooks.endpoint.rotate", "WebhookEndpoint", endpoint.id,
                 {"overlap_hours": overlap_hours})
    return NewSecret(endpoint, secret)


def signing_keys(settings, endpoint: WebhookEndpoint, now) -> list[bytes]:
    """HMAC keys that sign a request now: the current secret, and the previous one until it expires."""
    keys = [crypto.secret_bytes(crypto.decrypt(settings, endpoint.secret_encrypted, _tag(endpoint)))]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        keys.append(crypto.secret_bytes(crypto.decrypt(settings, endpoint.previous_secret_encrypted, _tag(endpoint))))
    return keys


def delete_endpoint(ctx, endpoint_id: int) -> int:
    """Deletes the endpoint and its deliveries (the events stay for other endpoints); returns the id."""
    endpoint = get_endpoint(ctx, endpoint_id)
    ctx.session.execute(sa.delete(DELIVERIES).where(DELIVERIES.c.tenant_id == ctx.tenant_id,
                                                    DELIVERIES.c.endpoint_id == endpoint.id))
    ctx.session.delete(endpoint)
    ctx.session.flush()
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "webhooks.endpoint.delete", "WebhookEndpoint", endpoint_id)
    return endpoint_id


def replay(ctx, endpoint_id: int, delivery_id: int | None = None) -> int:
    """Dead deliveries of the endpoint (one, or all) go back to pending with
    fresh attempts, due now; returns how many. Replaying an endpoint that is
    disabled is allowed: they are sent once it is enabled again."""
    endpoint = get_endpoint(ctx, endpoint_id, "endpointId")
    conditions = [DELIVERIES.c.tenant_id == ctx.tenant_id, DELIVERIES.c.endpoint_id == endpoint.id]
    if delivery_id is not None:
        delivery = ctx.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.tenant_id != ctx.tenant_id or delivery.endpoint_id != endpoint.id:
            raise not_found("deliveryId", f"no delivery {delivery_id} of endpoint {endpoint_id}")
        if delivery.status != DEAD:
            raise ValidationFailed([FieldError("deliveryId", f"delivery {delivery_id} is {delivery.status}, not dead: "
                                                             "only dead deliveries are replayed")])
        conditions.append(DELIVERIES.c.id == delivery_id)
    replayed = ctx.session.execute(
        sa.update(DELIVERIES).where(*conditions, DELIVERIES.c.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), leased_until=None, leased_by=None)
    ).rowcount
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "webhooks.replay", "WebhookEndpoint", endpoint.id,
                 {"delivery_id": delivery_id, "replayed": replayed})
    return replayed


def deliveries_query(tenant_id: int, endpoint_id: int | None = None, status: str | None = None):
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationFailed([FieldError("status", f"unknown status {status!r}; one of {', '.join(DELIVERY_STATUSES)}")])
    query = select(WebhookDelivery, WebhookEvent.type).join(
        WebhookEvent, sa.and_(WebhookEvent.tenant_id == WebhookDelivery.tenant_id,
                              WebhookEvent.event_id == WebhookDelivery.event_id)
    ).where(WebhookDelivery.tenant_id == tenant_id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return query


def delivery_counts(session, tenant_id: int, endpoint_id: int) -> dict[str, int]:
    rows = session.execute(
        sa.select(DELIVERIES.c.status, sa.func.count()).where(DELIVERIES.c.tenant_id == tenant_id,
                                                              DELIVERIES.c.endpoint_id == endpoint_id)
        .group_by(DELIVERIES.c.status)
    ).all()
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts
