"""Mutation bodies: call the engine service in one write transaction (in a
worker thread) and turn expected failures into payload errors."""

from __future__ import annotations

from typing import Any

from api.context import RequestContext
from api.enums import code_of
from api.errors import EXPECTED_FAILURES, expected_failure, field_errors
from api.ids import decode_id, to_global_id
from api.inputs import CreateApiKeyInput, CustomerFields, IdInput, RecordInteractionsInput, customer_values, interaction_values
from api.types import DuplicateItem, Error, ItemError
from engine.errors import FieldError, GuanxiError, NotFound, ValidationFailed
from engine.services import audit, customers, interactions, keys, modules
from engine.services import merge as merge_service

MAX_BULK_ITEMS = 1000


def errors_of(error: GuanxiError) -> list[Error]:
    return [Error(field=e["field"], message=e["message"], code=e["code"]) for e in field_errors(error.errors)]


async def guarded(ctx: RequestContext, work) -> dict[str, Any]:
    """A mutation's payload: ``work(tenant_ctx)`` in one write transaction of
    the caller's tenant, its result dict as the payload; an expected failure
    (a GuanxiError: validation, not found, conflict) rolls everything back and
    comes back as ``{"errors": [Error...]}``. Plugins' mutations use it too."""
    try:
        return await ctx.write(work)
    except EXPECTED_FAILURES as error:  # refused by a service, or by the database (a race)
        return {"errors": errors_of(expected_failure(error))}


def _customer_id(value: str) -> int:
    pk = decode_id(value, "Customer")
    if pk is None:
        raise ValidationFailed([FieldError("id", "not a Customer id", "NOT_FOUND")])
    return pk


def _live_customer_id(tc, value: str) -> int:
    """The pk of a live customer of the tenant; NOT_FOUND names the id as the client sent it."""
    pk = _customer_id(value)
    if customers.get_customer_or_none(tc.session, tc.tenant_id, pk) is None:  # the service's own get then hits the session
        raise NotFound([FieldError("id", f"no customer {value} in this tenant", "NOT_FOUND")])
    return pk


async def create_customer(ctx: RequestContext, data: CustomerFields) -> dict:
    def work(tc):
        return {"customer": customers.create_customer(tc, customer_values(data))}

    return await guarded(ctx, work)


async def update_customer(ctx: RequestContext, data) -> dict:
    def work(tc):
        return {"customer": customers.update_customer(tc, _live_customer_id(tc, data.id), customer_values(data))}

    return await guarded(ctx, work)


async def erase_customer(ctx: RequestContext, data: IdInput) -> dict:
    return await guarded(ctx, lambda tc: {"customer": customers.erase_customer(tc, _live_customer_id(tc, data.id))})


async def merge_customers(ctx: RequestContext, data) -> dict:
    def work(tc):
        keep, merge = decode_id(data.keep, "Customer"), decode_id(data.merge, "Customer")
        bad = [FieldError(name, "not a Customer id", "NOT_FOUND") for name, pk in (("keep", keep), ("merge", merge)) if pk is None]
        if bad:
            raise ValidationFailed(bad)
        return {"customer": merge_service.merge_customers(tc, keep, merge)}

    return await guarded(ctx, work)


async def record_interaction(ctx: RequestContext, data) -> dict:
    def work(tc):
        recorded, duplicate = interactions.record_interaction(tc, interaction_values(data))
        if not duplicate:  # every change leaves an audit event, in the same transaction
            audit.record(tc.session, tc.tenant_id, tc.actor, "interaction.record", "Interaction", recorded.id, {"kind": recorded.kind})
        return {"interaction": recorded, "duplicate": duplicate}

    return await guarded(ctx, work)


async def record_interactions(ctx: RequestContext, data: RecordInteractionsInput) -> dict:
    if len(data.items) > MAX_BULK_ITEMS:
        message = f"at most {MAX_BULK_ITEMS} items per request, got {len(data.items)}; split the batch"
        return {"errors": [Error(field="items", message=message, code="TOO_MANY_ITEMS")]}
    item_errors: list[ItemError] = []
    items: list[Any] = []
    for index, item in enumerate(data.items):
        try:
            items.append(interaction_values(item))
        except ValidationFailed as error:
            items.append(None)  # keeps indexes aligned; the service reports it, we replace that report
            item_errors.extend(_item_errors(index, error.errors))
    bad = {e.index for e in item_errors}

    def work(tc):
        result = interactions.record_interactions(tc, [it if it is not None else {} for it in items])
        if result.recorded:  # one audit event per request (a bulk may hold 1,000 items)
            audit.record(tc.session, tc.tenant_id, tc.actor, "interaction.record_bulk", "Interaction", None,
                         {"recorded": len(result.recorded), "duplicates": len(result.duplicates), "rejected": len(result.errors)})
        return result

    try:
        result = await ctx.write(work)
    except EXPECTED_FAILURES as error:
        return {"errors": errors_of(expected_failure(error))}
    for index, errs in sorted(result.errors.items()):
        if index not in bad:
            item_errors.extend(_item_errors(index, errs))
    item_errors.sort(key=lambda e: e.index)
    duplicates = [
        {"index": d.index, "external_id": d.external_id, "existing_pk": d.existing_id,
         "existing_id": None if d.existing_id is None else to_global_id("Interaction", d.existing_id)}
        for d in result.duplicates
    ]
    return {
        "recorded_count": len(result.recorded),
        "interactions": result.recorded,
        "duplicates": [DuplicateItem(**d) for d in duplicates],
        "item_errors": item_errors,
    }


def _item_errors(index: int, errors: list[FieldError]) -> list[ItemError]:
    return [ItemError(index=index, field=e["field"], message=e["message"], code=e["code"]) for e in field_errors(errors, index)]


async def set_module(ctx: RequestContext, name: str, enabled: bool, views) -> dict:
    def work(tc):
        modules.set_enabled(tc.session, tc.plugins, tc.tenant_id, name, enabled, actor=tc.actor)
        return {"module": next(v for v in views(tc.session, tc.plugins, tc.tenant_id) if v.info.name == name)}

    return await guarded(ctx, work)


async def configure_module(ctx: RequestContext, name: str, settings: Any, views) -> dict:
    def work(tc):
        modules.configure(tc.session, tc.plugins, tc.tenant_id, name, settings, actor=tc.actor)
        return {"module": next(v for v in views(tc.session, tc.plugins, tc.tenant_id) if v.info.name == name)}

    return await guarded(ctx, work)


async def create_api_key(ctx: RequestContext, data: CreateApiKeyInput) -> dict:
    def work(tc):
        new = keys.create_key(tc.session, tc.tenant, code_of(data.role), data.name, actor=tc.actor)
        return {"api_key": new.record, "secret": new.secret}

    return await guarded(ctx, work)


async def revoke_api_key(ctx: RequestContext, data: IdInput) -> dict:
    def work(tc):
        pk = decode_id(data.id, "ApiKey")
        if pk is None:
            raise ValidationFailed([FieldError("id", "not an ApiKey id", "NOT_FOUND")])
        return {"api_key": keys.revoke_key(tc.session, tc.tenant_id, pk, actor=tc.actor)}

    return await guarded(ctx, work)

