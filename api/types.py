"""GraphQL types that do not depend on the tenant's modules (shared by every schema)."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

import strawberry
from strawberry.scalars import JSON

from engine.enums import LabeledEnum
from engine.models import AuditEvent as AuditEventRow
from engine.models import ApiKey as ApiKeyRow
from engine.models import Tenant as TenantRow
from api.errors import ErrorCode, error_code
from api.ids import to_global_id
from api.references import CURRENT_CORE, load_interaction


@strawberry.enum(description="Label language.")
class Lang(enum.Enum):
    ZH = "zh"
    EN = "en"


@strawberry.enum(description="Why customers are listed as possible duplicates.")
class DuplicateReason(enum.Enum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    NAME_BIRTHDAY = "NAME_BIRTHDAY"


@strawberry.enum
class Direction(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.type(description="A coded value (stored and compared by `code`) with zh/en labels.")
class EnumValue:
    # Resolved from engine.enums.LabeledEnum members directly.
    @strawberry.field
    def code(self: LabeledEnum) -> str:
        return self.code

    @strawberry.field
    def label(self: LabeledEnum, lang: Lang = Lang.ZH) -> str:
        return LabeledEnum.label(self, lang.value)


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


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
    field: Optional[str]
    message: str
    code: ErrorCode

    __post_init__ = _as_error_code


@strawberry.type(description="A failure of one item of a bulk mutation; `index` is its position in the input.")
class ItemError:
    index: int
    field: Optional[str]
    message: str
    code: ErrorCode

    __post_init__ = _as_error_code


@strawberry.type
class Tenant:
    @strawberry.field
    def id(self: TenantRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("Tenant", self.id))

    slug: str
    name: str
    currency: str
    timezone: str
    locale: str
    created_at: datetime


# Audit targets stored by primary key: sent as global ids (Module, Job and Export targets are names).
ID_TARGETS = frozenset({"Customer", "Interaction", "JobRun", "ApiKey", "Tenant", "Complaint", "LoyaltyLedgerEntry", "LoyaltyCoupon"})


@strawberry.type
class AuditEvent(Node):
    @strawberry.field
    def id(self: AuditEventRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("AuditEvent", self.id))

    actor: str
    action: str
    target_type: Optional[str]

    @strawberry.field(description="The target's global id (as its `id` field gives it); a module or job target by name.")
    def target_id(self: AuditEventRow) -> Optional[strawberry.ID]:
        value = self.target_id
        if value is not None and self.target_type in ID_TARGETS and value.isascii() and value.isdigit():
            return strawberry.ID(to_global_id(self.target_type, value))
        return value
    changes: JSON
    at: datetime

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, AuditEventRow)


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Events matching the filter (counted only when selected).")


@strawberry.type(description="An API key; the secret itself is shown only by createApiKey.")
class ApiKey:
    @strawberry.field
    def id(self: ApiKeyRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("ApiKey", self.id))

    name: str
    role: str
    prefix: str
    created_at: datetime
    created_by: Optional[str]
    revoked_at: Optional[datetime]
    last_used_at: Optional[datetime]


# -- filters --------------------------------------------------------------------


@strawberry.input(description="Text match; `contains` and `startsWith` ignore case.")
class StringFilter:
    eq: Optional[str] = None
    contains: Optional[str] = None
    starts_with: Optional[str] = None
    in_: Optional[list[str]] = strawberry.field(name="in", default=None)


@strawberry.input
class IntFilter:
    eq: Optional[int] = None
    gt: Optional[int] = None
    gte: Optional[int] = None
    lt: Optional[int] = None
    lte: Optional[int] = None


@strawberry.input
class DecimalFilter:
    eq: Optional[Decimal] = None
    gt: Optional[Decimal] = None
    gte: Optional[Decimal] = None
    lt: Optional[Decimal] = None
    lte: Optional[Decimal] = None


@strawberry.input
class DateTimeFilter:
    eq: Optional[datetime] = None
    gt: Optional[datetime] = None
    gte: Optional[datetime] = None
    lt: Optional[datetime] = None
    lte: Optional[datetime] = None


@strawberry.input(description="Tag membership: the customer has the tag / any of / all of the tags.")
class TagsFilter:
    has: Optional[str] = None
    has_any: Optional[list[str]] = None
    has_all: Optional[list[str]] = None


@strawberry.input(description="All given conditions must hold; combine with AND / OR.")
class CustomerWhere:
    name: Optional[StringFilter] = None
    phone: Optional[StringFilter] = None
    email: Optional[StringFilter] = None
    code: Optional[StringFilter] = None
    store: Optional[StringFilter] = None
    owner: Optional[StringFilter] = None
    tags: Optional[TagsFilter] = None
    created_at: Optional[DateTimeFilter] = None
    total_spent: Optional[DecimalFilter] = strawberry.field(default=None, deprecation_reason="Use grossSpent (the same value) or netSpent.")
    gross_spent: Optional[DecimalFilter] = strawberry.field(default=None, description="Purchases before refunds.")
    net_spent: Optional[DecimalFilter] = strawberry.field(default=None, description="Purchases minus refunds.")
    purchase_count: Optional[IntFilter] = None
    last_purchase_at: Optional[DateTimeFilter] = None
    and_: Optional[list[CustomerWhere]] = strawberry.field(name="AND", default=None)
    or_: Optional[list[CustomerWhere]] = strawberry.field(name="OR", default=None)


@strawberry.enum
class CustomerOrderField(enum.Enum):
    CREATED_AT = "created_at"
    TOTAL_SPENT = strawberry.enum_value("total_spent", deprecation_reason="Use GROSS_SPENT (the same order) or NET_SPENT.")
    GROSS_SPENT = strawberry.enum_value("gross_spent", description="Purchases before refunds.")
    NET_SPENT = strawberry.enum_value("net_spent", description="Purchases minus refunds.")
    PURCHASE_COUNT = "purchase_count"
    LAST_PURCHASE_AT = "last_purchase_at"
    NAME = "name"


@strawberry.input
class CustomerOrder:
    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    direction: Optional[Direction] = strawberry.field(
        default=None, description="Left out: A→Z for NAME, largest or newest first for the others.")


def order_direction(order) -> Direction:
    """The direction given, else the natural one of the field (names A→Z, amounts and dates high to low)."""
    if order.direction is not None:
        return order.direction
    return Direction.ASC if order.field.name == "NAME" else Direction.DESC


@strawberry.input
class InteractionWhere:
    customer_id: Optional[strawberry.ID] = None
    kind: Optional[list[str]] = None
    channel: Optional[list[str]] = None
    store: Optional[StringFilter] = None
    occurred_at: Optional[DateTimeFilter] = None


@strawberry.type(description="A bulk item whose externalId was already recorded (or repeated earlier in the batch).")
class DuplicateItem:
    index: int
    external_id: str
    existing_id: Optional[strawberry.ID]
    existing_pk: strawberry.Private[Optional[int]] = None

    @strawberry.field(description="The interaction already recorded with this externalId; null for a repeat within the batch.")
    async def existing(self, info: strawberry.Info) -> Optional[Annotated["Interaction", strawberry.lazy(CURRENT_CORE)]]:
        return await load_interaction(info, self.existing_pk)
