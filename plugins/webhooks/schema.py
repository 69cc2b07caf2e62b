"""The webhooks module's GraphQL: endpoints, their deliveries, and the admin's
mutations (create, update, rotate the secret, disable, delete, replay).

Everything here is for admins (an endpoint's URL and deliveries say where the
tenant's data goes). A secret appears once, in the payload of
``createWebhookEndpoint`` and ``rotateWebhookSecret``; it cannot be read back.
Expected failures come back as ``errors { field message code }``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Optional

import strawberry
from sqlalchemy import func, select

from api.ids import decode_id, to_global_id
from api.mutations import guarded
from api.pagination import Keyset, page_slice, slice_page, wants_total
from api.types import ERRORS, INPUT, After, Before, Error, First, Last, Node, PageInfo
from engine.enums import Role
from engine.errors import FieldError, ValidationFailed
from plugins.webhooks import endpoints as service
from plugins.webhooks.models import WebhookDelivery, WebhookEndpoint

ENDPOINT = "WebhookEndpoint"


@strawberry.enum(name="WebhookDeliveryStatus", description="Where a delivery stands.")
class WebhookDeliveryStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Waiting to be sent (first try, or a retry after its backoff).")
    DELIVERING = strawberry.enum_value("delivering", description="Claimed by a worker and being sent.")
    DELIVERED = strawberry.enum_value("delivered", description="The endpoint answered 2xx.")
    DEAD = strawberry.enum_value("dead", description="Every attempt failed; replay it once the endpoint works.")


@strawberry.type(name="WebhookDeliveryCounts", description="An endpoint's deliveries by status.")
class WebhookDeliveryCounts:
    pending: int = strawberry.field(description="Waiting to be sent.")
    delivering: int = strawberry.field(description="Being sent.")
    delivered: int = strawberry.field(description="Delivered.")
    dead: int = strawberry.field(description="Dead (replayable).")


@strawberry.type(name="WebhookDelivery", description="One event to one endpoint, with its attempts.")
class WebhookDeliveryType:
    row: strawberry.Private[WebhookDelivery]
    event_type: str = strawberry.field(description="The event's type, e.g. customer.created.")

    @strawberry.field(description="The delivery's id (for replayWebhookDeliveries).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("WebhookDelivery", self.row.id))

    @strawberry.field(description="The event's id: the webhook-id header, the same on every retry.")
    def event_id(self) -> str:
        return self.row.event_id

    @strawberry.field(description="Where it stands.")
    def status(self) -> WebhookDeliveryStatus:
        return WebhookDeliveryStatus(self.row.status)

    @strawberry.field(description="Attempts made so far.")
    def attempts(self) -> int:
        return self.row.attempts

    @strawberry.field(description="When it is due (pending only).")
    def next_attempt_at(self) -> Optional[datetime]:
        return self.row.next_attempt_at if self.row.status == "pending" else None

    @strawberry.field(description="The HTTP status of the last answer; null when none came (timeout, refused).")
    def last_status_code(self) -> Optional[int]:
        return self.row.last_status_code

    @strawberry.field(description="Why the last attempt failed.")
    def last_error(self) -> Optional[str]:
        return self.row.last_error

    @strawberry.field(description="When it was last tried.")
    def last_attempt_at(self) -> Optional[datetime]:
        return self.row.last_attempt_at

    @strawberry.field(description="When the endpoint accepted it.")
    def delivered_at(self) -> Optional[datetime]:
        return self.row.delivered_at

    @strawberry.field(description="When the event was written to the outbox.")
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type(name="WebhookDeliveryEdge", description="A delivery in a page, with its cursor.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description="The position of this delivery, for `after`.")
    node: WebhookDeliveryType = strawberry.field(description="The delivery.")


@strawberry.type(name="WebhookDeliveryConnection", description="A page of deliveries, newest first.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="The deliveries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: Optional[int] = strawberry.field(description="Deliveries matching the filter (counted only when selected).")


DELIVERIES = Keyset("WEBHOOK_DELIVERY:ID:DESC", WebhookDelivery.id, True)


def _deliveries_page(session, tenant_id: int, cursors, page, endpoint_id: int | None, status: str | None,
                     with_total: bool) -> WebhookDeliveryConnection:
    query = service.deliveries_query(tenant_id, endpoint_id, status)
    total = None
    if with_total:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.where(*DELIVERIES.conditions(cursors, page))
                           .order_by(*DELIVERIES.order_by(page.backwards)).limit(page.size + 1)).all()
    found = slice_page(list(rows), page, lambda r: DELIVERIES.cursor(cursors, r[0]), total)
    return WebhookDeliveryConnection(
        edges=[WebhookDeliveryEdge(cursor=e.cursor, node=WebhookDeliveryType(row=e.node[0], event_type=e.node[1]))
               for e in found.edges],
        page_info=found.page_info, total_count=found.total_count)


StatusArg = Annotated[Optional[WebhookDeliveryStatus], strawberry.argument(description="Only deliveries in this status.")]


@strawberry.type(name="WebhookEndpoint", description="An address the tenant's events are sent to, signed.")
class WebhookEndpointType(Node):
    row: strawberry.Private[WebhookEndpoint]

    @strawberry.field(description="The endpoint's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id(ENDPOINT, self.row.id))

    @strawberry.field(description="Where requests go (http or https).")
    def url(self) -> str:
        return self.row.url

    @strawberry.field(description="What it is for (e.g. the SMS provider).")
    def description(self) -> Optional[str]:
        return self.row.description

    @strawberry.field(description="Event types it receives ('customer.*' for a family); empty: every type.")
    def event_types(self) -> list[str]:
        return list(self.row.event_types or [])

    @strawberry.field(description="false: nothing is written or sent for it until enabled again.")
    def enabled(self) -> bool:
        return self.row.enabled

    @strawberry.field(description="Until when the secret replaced by the last rotation also signs; null when only one signs.")
    def previous_secret_expires_at(self) -> Optional[datetime]:
        return self.row.previous_secret_expires_at

    @strawberry.field(description="When it was created.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When it last changed (URL, types, secret).")
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(description="Its deliveries by status.")
    async def delivery_counts(self, info: strawberry.Info) -> WebhookDeliveryCounts:
        tenant_id, endpoint_id = info.context.tenant_id, self.row.id
        counts = await info.context.read(lambda s: service.delivery_counts(s, tenant_id, endpoint_id))
        return WebhookDeliveryCounts(**counts)

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(self, info: strawberry.Info, status: StatusArg = None, first: First = None, after: After = None,
                         last: Last = None, before: Before = None) -> WebhookDeliveryConnection:
        ctx = info.context
        page, with_total = page_slice(first, after, last, before), wants_total(info)
        tenant_id, cursors, endpoint_id = ctx.tenant_id, ctx.cursors, self.row.id
        code = status.value if status else None
        return await ctx.read(lambda s: _deliveries_page(s, tenant_id, cursors, page, endpoint_id, code, with_total))


async def load_endpoint(info: strawberry.Info, pk: int) -> Optional[WebhookEndpointType]:
    ctx = info.context
    ctx.require(Role.ADMIN, "reading webhook endpoints")
    row = await ctx.read(lambda s: s.get(WebhookEndpoint, pk))
    return WebhookEndpointType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.type(description="The webhooks module's queries (admins only).")
class WebhooksQuery:
    @strawberry.field(description="The tenant's webhook endpoints, oldest first.")
    async def webhook_endpoints(self, info: strawberry.Info) -> list[WebhookEndpointType]:
        ctx = info.context
        ctx.require(Role.ADMIN, "reading webhook endpoints")
        tenant_id = ctx.tenant_id
        return [WebhookEndpointType(row=r) for r in await ctx.read(lambda s: service.list_endpoints(s, tenant_id))]

    @strawberry.field(description="One endpoint; null when not in this tenant.")
    async def webhook_endpoint(
        self, info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's global id.")]
    ) -> Optional[WebhookEndpointType]:
        pk = decode_id(id, ENDPOINT)
        return None if pk is None else await load_endpoint(info, pk)

    @strawberry.field(description="Deliveries of every endpoint (or one), newest first, optionally by status.")
    async def webhook_deliveries(
        self, info: strawberry.Info, status: StatusArg = None,
        endpoint_id: Annotated[Optional[strawberry.ID], strawberry.argument(description="Only this endpoint's.")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> WebhookDeliveryConnection:
        ctx = info.context
        ctx.require(Role.ADMIN, "reading webhook deliveries")
        page, with_total = page_slice(first, after, last, before), wants_total(info)
        tenant_id, cursors = ctx.tenant_id, ctx.cursors
        pk = None if endpoint_id is None else (decode_id(endpoint_id, ENDPOINT) or -1)
        code = status.value if status else None
        return await ctx.read(lambda s: _deliveries_page(s, tenant_id, cursors, page, pk, code, with_total))


# -- mutations ---------------------------------------------------------------------


def _pk(value: str, field: str = "id", type_name: str = ENDPOINT) -> int:
    pk = decode_id(value, type_name)
    if pk is None:
        raise ValidationFailed([FieldError(field, f"not a {type_name} id", "NOT_FOUND")])
    return pk


@strawberry.input(name="CreateWebhookEndpointInput", description="A new endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http(s) URL without credentials; non-public addresses only where the operator allows them.")
    event_types: Optional[list[str]] = strawberry.field(default=None, description="Types to receive ('customer.created', 'campaign.*'); none: every type.")
    description: Optional[str] = strawberry.field(default=None, description="What it is for.")
    enabled: bool = strawberry.field(default=True, description="Start receiving at once.")


@strawberry.input(name="UpdateWebhookEndpointInput", description="Changes to an endpoint; fields left out stay.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint.")
    url: Optional[str] = strawberry.field(default=None, description="A new URL.")
    event_types: Optional[list[str]] = strawberry.field(default=None, description="New subscriptions ([] = every type).")
    description: Optional[str] = strawberry.field(default=None, description="A new description.")
    enabled: Optional[bool] = strawberry.field(default=None, description="Enable or disable.")


@strawberry.input(name="RotateWebhookSecretInput", description="Which endpoint's secret to replace.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description="The endpoint.")
    overlap_hours: Optional[float] = strawberry.field(default=None, description="How long the old secret also signs (default: the module setting rotation_overlap_hours; 0: stop at once).")


@strawberry.input(name="WebhookEndpointIdInput", description="An endpoint.")
class WebhookEndpointIdInput:
    id: strawberry.ID = strawberry.field(description="The endpoint.")


@strawberry.input(name="ReplayWebhookDeliveriesInput", description="Dead deliveries to send again.")
class ReplayWebhookDeliveriesInput:
    endpoint_id: strawberry.ID = strawberry.field(description="The endpoint whose dead deliveries to replay.")
    delivery_id: Optional[strawberry.ID] = strawberry.field(default=None, description="Only this one (default: every dead one).")


@strawberry.type(name="WebhookEndpointPayload", description="The endpoint after the change.")
class WebhookEndpointPayload:
    endpoint: Optional[WebhookEndpointType] = strawberry.field(default=None, description="The endpoint; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="WebhookSecretPayload", description="The endpoint and its new secret, shown this once.")
class WebhookSecretPayload:
    endpoint: Optional[WebhookEndpointType] = strawberry.field(default=None, description="The endpoint; null on failure.")
    secret: Optional[str] = strawberry.field(default=None, description="whsec_... : store it now, it cannot be read again.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="DeleteWebhookEndpointPayload", description="The result of deleteWebhookEndpoint.")
class DeleteWebhookEndpointPayload:
    deleted_id: Optional[strawberry.ID] = strawberry.field(default=None, description="The deleted endpoint's id.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="ReplayWebhookDeliveriesPayload", description="The result of replayWebhookDeliveries.")
class ReplayWebhookDeliveriesPayload:
    replayed: int = strawberry.field(default=0, description="Dead deliveries made pending again.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


def _secret(new: service.NewSecret) -> dict:
    return {"endpoint": WebhookEndpointType(row=new.endpoint), "secret": new.secret}


@strawberry.type(description="The webhooks module's mutations (admins only).")
class WebhooksMutation:
    @strawberry.mutation(description="Add an endpoint; its signing secret is in the payload, once.")
    async def create_webhook_endpoint(self, info: strawberry.Info, input: Annotated[CreateWebhookEndpointInput, INPUT]) -> WebhookSecretPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "managing webhooks")
        settings = ctx.gx.settings
        return WebhookSecretPayload(**await guarded(ctx, lambda tc: _secret(service.create_endpoint(
            tc, settings, input.url, input.event_types, input.description, input.enabled))))

    @strawberry.mutation(description="Change an endpoint's URL, subscriptions, description or state.")
    async def update_webhook_endpoint(self, info: strawberry.Info, input: Annotated[UpdateWebhookEndpointInput, INPUT]) -> WebhookEndpointPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "managing webhooks")
        changes = {name: getattr(input, name) for name in ("url", "event_types", "description", "enabled")
                   if getattr(input, name) is not None}
        settings = ctx.gx.settings
        return WebhookEndpointPayload(**await guarded(ctx, lambda tc: {
            "endpoint": WebhookEndpointType(row=service.update_endpoint(tc, settings, _pk(input.id), changes))}))

    @strawberry.mutation(description="Replace the signing secret; the old one also signs for the overlap. The new secret is in the payload, once.")
    async def rotate_webhook_secret(self, info: strawberry.Info, input: Annotated[RotateWebhookSecretInput, INPUT]) -> WebhookSecretPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "managing webhooks")
        settings = ctx.gx.settings
        return WebhookSecretPayload(**await guarded(ctx, lambda tc: _secret(service.rotate_secret(
            tc, settings, _pk(input.id), input.overlap_hours))))

    @strawberry.mutation(description="Stop sending to an endpoint (its pending deliveries wait; new events skip it).")
    async def disable_webhook_endpoint(self, info: strawberry.Info, input: Annotated[WebhookEndpointIdInput, INPUT]) -> WebhookEndpointPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "managing webhooks")
        settings = ctx.gx.settings
        return WebhookEndpointPayload(**await guarded(ctx, lambda tc: {
            "endpoint": WebhookEndpointType(row=service.update_endpoint(tc, settings, _pk(input.id), {"enabled": False}))}))

    @strawberry.mutation(description="Delete an endpoint and its deliveries.")
    async def delete_webhook_endpoint(self, info: strawberry.Info, input: Annotated[WebhookEndpointIdInput, INPUT]) -> DeleteWebhookEndpointPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "managing webhooks")
        return DeleteWebhookEndpointPayload(**await guarded(ctx, lambda tc: {
            "deleted_id": strawberry.ID(to_global_id(ENDPOINT, service.delete_endpoint(tc, _pk(input.id))))}))

    @strawberry.mutation(description="Send dead deliveries again (one, or all of the endpoint's), with fresh attempts.")
    async def replay_webhook_deliveries(self, info: strawberry.Info, input: Annotated[ReplayWebhookDeliveriesInput, INPUT]) -> ReplayWebhookDeliveriesPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "replaying webhooks")

        def work(tc):
            delivery = None if input.delivery_id is None else _pk(input.delivery_id, "deliveryId", "WebhookDelivery")
            return {"replayed": service.replay(tc, _pk(input.endpoint_id, "endpointId"), delivery)}

        return ReplayWebhookDeliveriesPayload(**await guarded(ctx, work))
