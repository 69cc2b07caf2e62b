"""GraphQL types that do not depend on the tenant's modules (shared by every schema)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

import strawberry
from strawberry.scalars import JSON

from api.enums import ChannelCode, InteractionKindCode, Lang, LangArg, value_type  # noqa: F401  (Lang, LangArg: for plugins)
from api.errors import ErrorCode, error_code
from api.ids import to_global_id
from api.references import CURRENT_CORE, load_interaction
from engine.enums import Role
from engine.models import ApiKey as ApiKeyRow
from engine.models import AuditEvent as AuditEventRow
from engine.models import Tenant as TenantRow

# The one argument of every mutation.
INPUT = strawberry.argument(description="The mutation's input.")

# The ``errors`` field of every payload.
ERRORS = "Expected failures, each naming the input field at fault; empty on success."

# Pagination arguments of every connection field (api/pagination.py checks them).
First = Annotated[Optional[int], strawberry.argument(
    description="How many items to return from the start, or after `after`: 0 to 100 (default 20 unless `last` is given).")]
After = Annotated[Optional[str], strawberry.argument(description="Only items after this cursor (a `pageInfo.endCursor`).")]
Last = Annotated[Optional[int], strawberry.argument(
    description="How many items to return from the end, or before `before`: 0 to 100; not together with `first`.")]
Before = Annotated[Optional[str], strawberry.argument(description="Only items before this cursor (a `pageInfo.startCursor`).")]


@strawberry.enum(description="Why customers are listed as possible duplicates.")
class DuplicateReason(enum.Enum):
    PHONE = strawberry.enum_value("PHONE", description="They share a phone number.")
    EMAIL = strawberry.enum_value("EMAIL", description="They share an email address.")
    NAME_BIRTHDAY = strawberry.enum_value("NAME_BIRTHDAY", description="They share a name and a birthday.")


@strawberry.enum(description="Sort direction.")
class Direction(enum.Enum):
    ASC = strawberry.enum_value("asc", description="Ascending: smallest, earliest or A first.")
    DESC = strawberry.enum_value("desc", description="Descending: largest, latest or Z first.")


@strawberry.interface(description="An object with a global id (Relay): `node(id:)` fetches it.")
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global id (an opaque string).")


@strawberry.type(description="Where a page of a connection lies in the whole list (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow the page (paging with last/before: true when paging before a cursor).")
    has_previous_page: bool = strawberry.field(
        default=False, description="More rows precede the page (paging with first/after: true when paging after a cursor).")
    start_cursor: Optional[str] = strawberry.field(default=None, description="The first edge's cursor; null on an empty page.")
    end_cursor: Optional[str] = strawberry.field(default=None, description="The last edge's cursor; null on an empty page.")


def _as_error_code(self) -> None:
    if isinstance(self.code, str):
        self.code = error_code(self.code)


@strawberry.type(description="An expected failure: which input field, what is wrong, a stable code.")
class Error:
    field: Optional[str] = strawberry.field(description="The input field at fault, in camelCase (module settings as `settings.<path>`); null for the request as a whole.")
    message: str = strawberry.field(description="What is wrong, for people (English).")
    code: ErrorCode = strawberry.field(description="A stable code for programs.")

    __post_init__ = _as_error_code


@strawberry.type(description="A failure of one item of a bulk mutation; `index` is its position in the input.")
class ItemError:
    index: int = strawberry.field(description="The item's position in the input list, from 0.")
    field: Optional[str] = strawberry.field(description="The item's field at fault, in camelCase; null for the item as a whole.")
    message: str = strawberry.field(description="What is wrong, for people (English).")
    code: ErrorCode = strawberry.field(description="A stable code for programs.")

    __post_init__ = _as_error_code


@strawberry.type(description="A business served by this installation: customers, keys and modules belong to one tenant.")
class Tenant:
    @strawberry.field(description="The tenant's global id.")
    def id(self: TenantRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("Tenant", self.id))

    slug: str = strawberry.field(description="The tenant's short unique name, used by the CLI (`--tenant acme`).")
    name: str = strawberry.field(description="The business's display name.")
    currency: str = strawberry.field(description="ISO 4217 code of the currency amounts are in, such as CNY.")
    timezone: str = strawberry.field(description="IANA time zone, such as Asia/Shanghai: times sent without an offset are in it.")
    locale: str = strawberry.field(description="BCP 47 locale, such as zh-CN.")
    created_at: datetime = strawberry.field(description="When the tenant was created (UTC).")


# Audit targets stored by primary key: sent as global ids (Module, Job and Export targets are names).
ID_TARGETS = frozenset({"Customer", "Interaction", "JobRun", "ApiKey", "Tenant", "Complaint", "LoyaltyLedgerEntry", "LoyaltyCoupon"})


@strawberry.type(description="One change made through the API or the CLI: who, what, to which object, when.")
class AuditEvent(Node):
    @strawberry.field(description="The event's global id.")
    def id(self: AuditEventRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("AuditEvent", self.id))

    actor: str = strawberry.field(description="Who made the change: `api-key:<key database id>` for an API key, `cli` for the command line.")
    action: str = strawberry.field(description="What was done, such as `customer.create` or `module.configure`.")
    target_type: Optional[str] = strawberry.field(description="The type of the object changed, such as Customer; null for tenant-wide actions.")

    @strawberry.field(description="The target's global id (as its `id` field gives it); a module or job target by name.")
    def target_id(self: AuditEventRow) -> Optional[strawberry.ID]:
        value = self.target_id
        if value is not None and self.target_type in ID_TARGETS and value.isascii() and value.isdigit():
            return strawberry.ID(to_global_id(self.target_type, value))
        return value

    changes: JSON = strawberry.field(description="What changed, as recorded with the action (for example the fields sent).")
    at: datetime = strawberry.field(description="When it happened (UTC).")

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, AuditEventRow)


@strawberry.type(description="An audit event in a page, with its cursor.")
class AuditEventEdge:
    cursor: str = strawberry.field(description="The position of this event, for `after`.")
    node: AuditEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of audit events, newest first.")
class AuditEventConnection:
    edges: list[AuditEventEdge] = strawberry.field(description="The events of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(description="Events matching the filter (counted only when selected).")


@strawberry.type(description="An API key; the secret itself is shown only by createApiKey.")
class ApiKey:
    @strawberry.field(description="The key's global id (revokeApiKey takes it).")
    def id(self: ApiKeyRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("ApiKey", self.id))

    name: str = strawberry.field(description="What the key is for, as given on creation.")

    @strawberry.field(description="What the key may do.")
    def role(self: ApiKeyRow) -> value_type(Role):
        return Role.parse(self.role)

    prefix: str = strawberry.field(description="The first characters of the secret, to tell keys apart.")
    created_at: datetime = strawberry.field(description="When the key was created (UTC).")
    created_by: Optional[str] = strawberry.field(description="Who created it (an actor, as in audit events).")
    revoked_at: Optional[datetime] = strawberry.field(description="When the key was revoked; null while it works.")
    last_used_at: Optional[datetime] = strawberry.field(description="When the key last authenticated a request (updated at most once a minute).")


# -- filters --------------------------------------------------------------------


@strawberry.input(description="Text match; `contains` and `startsWith` ignore case. Conditions given together must all hold.")
class StringFilter:
    eq: Optional[str] = strawberry.field(default=None, description="Exactly this text.")
    contains: Optional[str] = strawberry.field(default=None, description="Contains this text, ignoring case.")
    starts_with: Optional[str] = strawberry.field(default=None, description="Starts with this text, ignoring case.")
    in_: Optional[list[str]] = strawberry.field(name="in", default=None, description="Exactly one of these texts.")


@strawberry.input(description="Whole-number comparison; conditions given together must all hold.")
class IntFilter:
    eq: Optional[int] = strawberry.field(default=None, description="Equal to.")
    gt: Optional[int] = strawberry.field(default=None, description="Greater than.")
    gte: Optional[int] = strawberry.field(default=None, description="Greater than or equal to.")
    lt: Optional[int] = strawberry.field(default=None, description="Less than.")
    lte: Optional[int] = strawberry.field(default=None, description="Less than or equal to.")


@strawberry.input(description="Decimal (money) comparison; conditions given together must all hold.")
class DecimalFilter:
    eq: Optional[Decimal] = strawberry.field(default=None, description="Equal to.")
    gt: Optional[Decimal] = strawberry.field(default=None, description="Greater than.")
    gte: Optional[Decimal] = strawberry.field(default=None, description="Greater than or equal to.")
    lt: Optional[Decimal] = strawberry.field(default=None, description="Less than.")
    lte: Optional[Decimal] = strawberry.field(default=None, description="Less than or equal to.")


@strawberry.input(description="Time comparison (ISO 8601); conditions given together must all hold.")
class DateTimeFilter:
    eq: Optional[datetime] = strawberry.field(default=None, description="At exactly this instant.")
    gt: Optional[datetime] = strawberry.field(default=None, description="After this instant.")
    gte: Optional[datetime] = strawberry.field(default=None, description="At or after this instant.")
    lt: Optional[datetime] = strawberry.field(default=None, description="Before this instant.")
    lte: Optional[datetime] = strawberry.field(default=None, description="At or before this instant.")


@strawberry.input(description="Tag membership: the customer has the tag / any of / all of the tags.")
class TagsFilter:
    has: Optional[str] = strawberry.field(default=None, description="Has this tag.")
    has_any: Optional[list[str]] = strawberry.field(default=None, description="Has at least one of these tags.")
    has_all: Optional[list[str]] = strawberry.field(default=None, description="Has every one of these tags.")


@strawberry.input(description="Conditions on customers: all the fields given must hold; `AND` and `OR` combine "
                              "lists of further conditions (modules add their own fields, such as `rfm`).")
class CustomerWhere:
    name: Optional[StringFilter] = strawberry.field(default=None, description="The customer's name.")
    phone: Optional[StringFilter] = strawberry.field(default=None, description="The phone number, in E.164 (+8613800138000).")
    email: Optional[StringFilter] = strawberry.field(default=None, description="The email address (stored lower-case).")
    code: Optional[StringFilter] = strawberry.field(default=None, description="The tenant's own customer code.")
    store: Optional[StringFilter] = strawberry.field(default=None, description="The customer's home store.")
    owner: Optional[StringFilter] = strawberry.field(default=None, description="The staff member who owns the relationship.")
    tags: Optional[TagsFilter] = strawberry.field(default=None, description="The customer's tags.")
    created_at: Optional[DateTimeFilter] = strawberry.field(default=None, description="When the customer was created.")
    total_spent: Optional[DecimalFilter] = strawberry.field(default=None, description="Purchases before refunds (as grossSpent).",
                                                            deprecation_reason="Use grossSpent (the same value) or netSpent.")
    gross_spent: Optional[DecimalFilter] = strawberry.field(default=None, description="Purchases before refunds.")
    net_spent: Optional[DecimalFilter] = strawberry.field(default=None, description="Purchases minus refunds.")
    purchase_count: Optional[IntFilter] = strawberry.field(default=None, description="How many purchases.")
    last_purchase_at: Optional[DateTimeFilter] = strawberry.field(default=None, description="When the latest purchase was.")
    and_: Optional[list[CustomerWhere]] = strawberry.field(name="AND", default=None, description="Every one of these must hold.")
    or_: Optional[list[CustomerWhere]] = strawberry.field(name="OR", default=None, description="At least one of these must hold.")


@strawberry.enum(description="What to sort customers by (modules add their own keys).")
class CustomerOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("created_at", description="When the customer was created (the default).")
    TOTAL_SPENT = strawberry.enum_value("total_spent", description="Purchases before refunds (as GROSS_SPENT).",
                                        deprecation_reason="Use GROSS_SPENT (the same order) or NET_SPENT.")
    GROSS_SPENT = strawberry.enum_value("gross_spent", description="Purchases before refunds.")
    NET_SPENT = strawberry.enum_value("net_spent", description="Purchases minus refunds.")
    PURCHASE_COUNT = strawberry.enum_value("purchase_count", description="How many purchases.")
    LAST_PURCHASE_AT = strawberry.enum_value("last_purchase_at", description="The latest purchase; customers who never bought sort as the oldest.")
    NAME = strawberry.enum_value("name", description="The name; customers without one sort as an empty name.")


@strawberry.input(description="How to sort customers.")
class CustomerOrder:
    field: CustomerOrderField = strawberry.field(default=CustomerOrderField.CREATED_AT, description="The sort key (default CREATED_AT).")
    direction: Optional[Direction] = strawberry.field(
        default=None, description="Left out: A→Z for NAME, largest or newest first for the others.")


def order_direction(order) -> Direction:
    """The direction given, else the natural one of the field (names A→Z, amounts and dates high to low)."""
    if order.direction is not None:
        return order.direction
    return Direction.ASC if order.field.name == "NAME" else Direction.DESC


@strawberry.input(description="Conditions on interactions; all the fields given must hold.")
class InteractionWhere:
    customer_id: Optional[strawberry.ID] = strawberry.field(default=None, description="Only this customer's interactions (a Customer id).")
    kind: Optional[list[InteractionKindCode]] = strawberry.field(default=None, description="Any of these kinds.")
    channel: Optional[list[ChannelCode]] = strawberry.field(default=None, description="Any of these channels.")
    store: Optional[StringFilter] = strawberry.field(default=None, description="The store it happened in.")
    occurred_at: Optional[DateTimeFilter] = strawberry.field(default=None, description="When it happened.")


@strawberry.type(description="A bulk item whose externalId was already recorded (or repeated earlier in the batch).")
class DuplicateItem:
    index: int = strawberry.field(description="The item's position in the input list, from 0.")
    external_id: str = strawberry.field(description="The externalId already recorded.")
    existing_id: Optional[strawberry.ID] = strawberry.field(description="The Interaction recorded with it; null when it was repeated in the batch.")
    existing_pk: strawberry.Private[Optional[int]] = None

    @strawberry.field(description="The interaction already recorded with this externalId; null for a repeat within the batch.")
    async def existing(self, info: strawberry.Info) -> Optional[Annotated["Interaction", strawberry.lazy(CURRENT_CORE)]]:
        return await load_interaction(info, self.existing_pk)
