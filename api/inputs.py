"""Mutation inputs, and their conversion to the dicts the engine services take."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

import strawberry
from strawberry.scalars import JSON

from api.ids import decode_id
from engine.errors import FieldError, ValidationFailed


@strawberry.input(description="Customer fields; on update, fields left out are not changed. Codes for gender, channels, role, lifecycleStage.")
class CustomerFields:
    code: Optional[str] = strawberry.UNSET
    name: Optional[str] = strawberry.UNSET
    gender: Optional[str] = strawberry.UNSET
    birthday: Optional[date] = strawberry.UNSET
    phone: Optional[str] = strawberry.UNSET
    email: Optional[str] = strawberry.UNSET
    wechat_id: Optional[str] = strawberry.UNSET
    region: Optional[str] = strawberry.UNSET
    city: Optional[str] = strawberry.UNSET
    occupation: Optional[str] = strawberry.UNSET
    income_band: Optional[str] = strawberry.UNSET
    acquisition_channel: Optional[str] = strawberry.UNSET
    preferred_channel: Optional[str] = strawberry.UNSET
    price_sensitivity: Optional[str] = strawberry.UNSET
    skin_type: Optional[str] = strawberry.UNSET
    preferences: Optional[str] = strawberry.UNSET
    owner: Optional[str] = strawberry.UNSET
    store: Optional[str] = strawberry.UNSET
    referrer_id: Optional[strawberry.ID] = strawberry.UNSET
    role: Optional[str] = strawberry.UNSET
    lifecycle_stage: Optional[str] = strawberry.UNSET
    tags: Optional[list[str]] = strawberry.UNSET
    attributes: Optional[JSON] = strawberry.UNSET
    consent: Optional[JSON] = strawberry.UNSET


@strawberry.input
class CreateCustomerInput(CustomerFields):
    pass


@strawberry.input
class UpdateCustomerInput(CustomerFields):
    id: strawberry.ID


@strawberry.input
class IdInput:
    id: strawberry.ID


@strawberry.input(description="Two customers who are one person: `merge` is folded into `keep`.")
class MergeCustomersInput:
    keep: strawberry.ID
    merge: strawberry.ID


@strawberry.input(description="One interaction. Times without an offset are the tenant's local time.")
class InteractionInput:
    kind: str
    occurred_at: datetime
    customer_id: Optional[strawberry.ID] = None
    customer_code: Optional[str] = None
    channel: Optional[str] = None
    store: Optional[str] = None
    staff: Optional[str] = None
    amount: Optional[Decimal] = None
    quantity: Optional[int] = None
    external_id: Optional[str] = None
    reverses_id: Optional[strawberry.ID] = None
    reverses_external_id: Optional[str] = None
    payload: Optional[JSON] = None


@strawberry.input(description="One item of a bulk: as InteractionInput, but `occurredAt` is checked per item, so an item "
                             "whose time is not a date (or out of range) is an item error and the others are stored.")
class BulkInteractionInput:
    kind: str
    occurred_at: str = strawberry.field(description="ISO 8601 date-time; without an offset, the tenant's local time.")
    customer_id: Optional[strawberry.ID] = None
    customer_code: Optional[str] = None
    channel: Optional[str] = None
    store: Optional[str] = None
    staff: Optional[str] = None
    amount: Optional[Decimal] = None
    quantity: Optional[int] = None
    external_id: Optional[str] = None
    reverses_id: Optional[strawberry.ID] = None
    reverses_external_id: Optional[str] = None
    payload: Optional[JSON] = None


@strawberry.input
class RecordInteractionsInput:
    items: list[BulkInteractionInput]


@strawberry.input
class ModuleNameInput:
    name: str


@strawberry.input
class RunScoringInput:
    modules: Optional[list[str]] = strawberry.field(
        default=None, description="Modules to score, e.g. [\"rfm\", \"clv\"]; default every enabled module that scores."
    )
    as_of: Optional[datetime] = strawberry.field(
        default=None, description="Score as of this time (without an offset: the tenant's local time); default when the run starts.")


@strawberry.input
class ConfigureModuleInput:
    name: str
    settings: JSON


@strawberry.input
class CreateApiKeyInput:
    role: str = strawberry.field(description="ADMIN, AGENT, ANALYST or VIEWER")
    name: str = ""


def provided(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the caller actually sent (UNSET ones are left out)."""
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(obj)
        if f.name not in skip and getattr(obj, f.name) is not strawberry.UNSET
    }


def customer_values(fields: CustomerFields) -> dict[str, Any]:
    values = provided(fields, skip=("id",))
    if values.get("referrer_id") is not None:
        referrer = decode_id(values["referrer_id"], "Customer")
        if referrer is None:
            raise ValidationFailed([FieldError("referrer_id", "not a Customer id", "NOT_FOUND")])
        values["referrer_id"] = referrer
    return values


def interaction_values(item: InteractionInput | BulkInteractionInput) -> dict[str, Any]:
    """The service's dict for one item; bad ids become field errors of that item."""
    values = {k: v for k, v in provided(item).items() if v is not None}
    errors = []
    for key, type_name in (("customer_id", "Customer"), ("reverses_id", "Interaction")):
        if key in values:
            pk = decode_id(values[key], type_name)
            if pk is None:
                errors.append(FieldError(key, f"not an {type_name} id" if type_name[0] in "AEIOU" else f"not a {type_name} id", "NOT_FOUND"))
            values[key] = pk
    if errors:
        raise ValidationFailed(errors)
    return values
