"""Mutation inputs, and their conversion to the dicts the engine services take."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

import strawberry
from strawberry.scalars import JSON

from api.enums import (
    AcquisitionChannelCode, ChannelCode, CustomerRoleCode, GenderCode, InteractionKindCode, LifecycleStageCode,
    PriceSensitivityCode, RoleCode, code_of,
)
from api.ids import decode_id
from engine.errors import FieldError, ValidationFailed


def _set(description: str):
    """A customer input field: left out (UNSET) means "not changed"."""
    return strawberry.field(default=strawberry.UNSET, description=description)


@strawberry.input(description="Customer fields; on update, fields left out are not changed and null clears a field.")
class CustomerFields:
    code: Optional[str] = _set("The tenant's own customer number, unique in the tenant (up to 64 characters).")
    name: Optional[str] = _set("The customer's name, Chinese or Latin script (up to 200 characters).")
    gender: Optional[GenderCode] = _set("The customer's gender.")
    birthday: Optional[date] = _set("The date of birth (ISO 8601 date).")
    phone: Optional[str] = _set("A phone number: stored in E.164; without a country code it is read in the tenant's region. "
                                "Unique among live customers.")
    email: Optional[str] = _set("An email address, stored trimmed and lower-cased.")
    wechat_id: Optional[str] = _set("The customer's WeChat id.")
    region: Optional[str] = _set("Province or region.")
    city: Optional[str] = _set("City.")
    occupation: Optional[str] = _set("Occupation, free text.")
    income_band: Optional[str] = _set("Income band, in the tenant's own bands.")
    acquisition_channel: Optional[AcquisitionChannelCode] = _set("How the customer first came.")
    preferred_channel: Optional[ChannelCode] = _set("How the customer likes to be reached.")
    price_sensitivity: Optional[PriceSensitivityCode] = _set("How much price decides the customer's purchases.")
    skin_type: Optional[str] = _set("Skin type (beauty retail), free text.")
    preferences: Optional[str] = _set("Preferences, free text.")
    owner: Optional[str] = _set("The staff member who owns the relationship.")
    store: Optional[str] = _set("The customer's home store.")
    referrer_id: Optional[strawberry.ID] = _set("The Customer who referred this one (a Customer id).")
    role: Optional[CustomerRoleCode] = _set("The customer's standing: potential, existing or churned.")
    lifecycle_stage: Optional[LifecycleStageCode] = _set("The customer's stage in the relationship.")
    tags: Optional[list[str]] = _set("Tags; on update the list replaces the stored one.")
    attributes: Optional[JSON] = _set("The tenant's own fields, a JSON object; on update it replaces the stored one.")
    consent: Optional[JSON] = _set("Consent per channel, a JSON object such as {\"SMS\": true, \"WECHAT\": false}.")


@strawberry.input(description="A new customer: every field is optional.")
class CreateCustomerInput(CustomerFields):
    pass


@strawberry.input(description="Changes to a customer: only the fields sent are changed.")
class UpdateCustomerInput(CustomerFields):
    id: strawberry.ID = strawberry.field(description="The Customer to change.")


@strawberry.input(description="The object to act on.")
class IdInput:
    id: strawberry.ID = strawberry.field(description="The object's global id.")


@strawberry.input(description="Two customers who are one person: `merge` is folded into `keep`.")
class MergeCustomersInput:
    keep: strawberry.ID = strawberry.field(description="The Customer that stays, with both records' history.")
    merge: strawberry.ID = strawberry.field(description="The Customer folded into `keep` and deleted; its id then leads to `keep`.")


@strawberry.input(description="One interaction. Times without an offset are the tenant's local time.")
class InteractionInput:
    kind: InteractionKindCode = strawberry.field(description="What happened.")
    occurred_at: datetime = strawberry.field(description="When it happened (ISO 8601): from 1900 on, and not more than a day in the future.")
    customer_id: Optional[strawberry.ID] = strawberry.field(default=None, description="The Customer; give this or `customerCode`.")
    customer_code: Optional[str] = strawberry.field(default=None, description="The customer's code; give this or `customerId`.")
    channel: Optional[ChannelCode] = strawberry.field(default=None, description="Where it happened.")
    store: Optional[str] = strawberry.field(default=None, description="The store it happened in.")
    staff: Optional[str] = strawberry.field(default=None, description="The staff member involved.")
    amount: Optional[Decimal] = strawberry.field(default=None, description="Money, for purchases and refunds (two decimals, positive).")
    quantity: Optional[int] = strawberry.field(default=None, description="Number of items, for purchases and refunds.")
    external_id: Optional[str] = strawberry.field(default=None, description="Your id for it (an order number): an id already recorded "
                                                                           "is reported as a duplicate and not stored again.")
    reverses_id: Optional[strawberry.ID] = strawberry.field(default=None, description="For a refund: the purchase it reverses (an Interaction id).")
    reverses_external_id: Optional[str] = strawberry.field(default=None, description="For a refund: the externalId of the purchase it reverses.")
    payload: Optional[JSON] = strawberry.field(default=None, description="Anything else to keep with it, a JSON object (modules read some keys, "
                                                                        "such as the complaint category).")


@strawberry.input(description="One item of a bulk: as InteractionInput, but `occurredAt` is checked per item, so an item "
                             "whose time is not a date (or out of range) is an item error and the others are stored.")
class BulkInteractionInput(InteractionInput):
    occurred_at: str = strawberry.field(description="ISO 8601 date-time, from 1900 on and not more than a day in the "
                                                    "future; without an offset, the tenant's local time.")


@strawberry.input(description="Interactions to record together.")
class RecordInteractionsInput:
    items: list[BulkInteractionInput] = strawberry.field(description="Up to 1,000 interactions.")


@strawberry.input(description="A module, by name.")
class ModuleNameInput:
    name: str = strawberry.field(description="The module's name, such as rfm (see `modules`).")


@strawberry.input(description="What to score, and as of when.")
class RunScoringInput:
    modules: Optional[list[str]] = strawberry.field(
        default=None, description="Modules to score, e.g. [\"rfm\", \"clv\"]; default every enabled module that scores."
    )
    as_of: Optional[datetime] = strawberry.field(
        default=None, description="Score as of this time (without an offset: the tenant's local time); default when the run starts.")


@strawberry.input(description="New settings for a module.")
class ConfigureModuleInput:
    name: str = strawberry.field(description="The module's name, such as loyalty.")
    settings: JSON = strawberry.field(description="The module's settings, a JSON object with snake_case keys; it replaces the stored settings, "
                                                  "and keys left out take their defaults.")


@strawberry.input(description="A new API key for this tenant.")
class CreateApiKeyInput:
    role: RoleCode = strawberry.field(description="What the key may do: ADMIN, AGENT, ANALYST or VIEWER.")
    name: str = strawberry.field(default="", description="What the key is for, such as \"store tablet\" (default empty).")


def provided(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the caller actually sent (UNSET ones are left out), enums as their codes."""
    return {
        f.name: code_of(getattr(obj, f.name))
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


def interaction_values(item: InteractionInput) -> dict[str, Any]:
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
