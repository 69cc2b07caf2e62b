"""The core GraphQL types, as a template executed once per set of enabled modules.

api/schema.py loads a fresh copy of this module for each distinct set of
enabled modules, after setting CUSTOMER_MIXINS / QUERY_MIXINS /
MUTATION_MIXINS to the plugins' strawberry types. The copies' ``Customer``
(and everything that refers to it) therefore carry exactly that tenant's
plugin fields, while the rest of the code is written as ordinary
module-level strawberry types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

import strawberry
from strawberry.scalars import JSON

from api import jobs, mutations, queries
from api.filters import extended_customer_inputs
from api.ids import decode_id, parse_global_id, parse_pk, to_global_id
from api.inputs import (
    ConfigureModuleInput, CreateApiKeyInput, CreateCustomerInput, IdInput, InteractionInput,
    MergeCustomersInput, ModuleNameInput, RecordInteractionsInput, UpdateCustomerInput,
)
from api.pagination import page_slice, slice_page, wants_total
from api.prefetch import load_batches, selected_batches
from api.references import load_customer, load_interaction
from api.types import (
    ApiKey, AuditEvent, AuditEventConnection, CustomerOrder, CustomerWhere, DuplicateItem, DuplicateReason, EnumValue, Error,
    InteractionWhere, ItemError, Lang, Node, PageInfo, Tenant,
)
from engine.enums import (
    AcquisitionChannel, Channel, CustomerRole, Gender, InteractionKind, LabeledEnum, LifecycleStage,
    PriceSensitivity, Role,
)
from engine.models import AuditEvent as AuditEventRow
from engine.models import Customer as CustomerRow
from engine.models import Interaction as InteractionRow
from engine.models import TenantModule
from engine.services.interactions import RecordedInteraction
from engine.services.merge import resolve_merged
from engine.types import CENT

CUSTOMER_MIXINS: tuple = globals().get("CUSTOMER_MIXINS", ())
QUERY_MIXINS: tuple = globals().get("QUERY_MIXINS", ())
MUTATION_MIXINS: tuple = globals().get("MUTATION_MIXINS", ())
CUSTOMER_FILTERS: tuple = globals().get("CUSTOMER_FILTERS", ())
CUSTOMER_ORDERS: tuple = globals().get("CUSTOMER_ORDERS", ())
NODE_RESOLVERS: dict = globals().get("NODE_RESOLVERS", {})  # plugins' node types
CUSTOMER_BATCHES: dict = globals().get("CUSTOMER_BATCHES", {})  # plugin Customer fields read with a page
if CUSTOMER_FILTERS or CUSTOMER_ORDERS:
    # This copy's CustomerWhere / CustomerOrder carry the plugins' filters and sort keys.
    CustomerWhere, CustomerOrder = extended_customer_inputs(CUSTOMER_FILTERS, CUSTOMER_ORDERS)


def _enum(enum_type: type[LabeledEnum], code: str | None) -> LabeledEnum | None:
    try:
        return enum_type.parse(code) if code else None
    except ValueError:
        return None


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT)



# -- Customer -----------------------------------------------------------------------


@strawberry.type(description="A customer of the tenant: profile, purchase statistics and history.")
class Customer(Node, *CUSTOMER_MIXINS):
    @strawberry.field
    def id(self: CustomerRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("Customer", self.id))

    code: Optional[str]
    name: Optional[str]
    birthday: Optional[date]
    phone: Optional[str]
    email: Optional[str]
    wechat_id: Optional[str]
    region: Optional[str]
    city: Optional[str]
    occupation: Optional[str]
    income_band: Optional[str]
    skin_type: Optional[str]
    preferences: Optional[str]
    owner: Optional[str]
    store: Optional[str]
    tags: list[str]
    attributes: JSON
    consent: JSON
    created_at: datetime
    updated_at: datetime
    erased_at: Optional[datetime]
    first_purchase_at: Optional[datetime]
    last_purchase_at: Optional[datetime]
    purchase_count: int
    purchase_days: int

    @strawberry.field
    def gender(self: CustomerRow) -> Optional[EnumValue]:
        return _enum(Gender, self.gender)

    @strawberry.field
    def acquisition_channel(self: CustomerRow) -> Optional[EnumValue]:
        return _enum(AcquisitionChannel, self.acquisition_channel)

    @strawberry.field
    def preferred_channel(self: CustomerRow) -> Optional[EnumValue]:
        return _enum(Channel, self.preferred_channel)

    @strawberry.field
    def price_sensitivity(self: CustomerRow) -> Optional[EnumValue]:
        return _enum(PriceSensitivity, self.price_sensitivity)

    @strawberry.field
    def role(self: CustomerRow) -> Optional[EnumValue]:
        return _enum(CustomerRole, self.role)

    @strawberry.field
    def lifecycle_stage(self: CustomerRow) -> Optional[EnumValue]:
        return _enum(LifecycleStage, self.lifecycle_stage)

    @strawberry.field(description="Money as a decimal string.", deprecation_reason="Use grossSpent (the same value) or netSpent.")
    def total_spent(self: CustomerRow) -> Decimal:
        return _money(self.total_spent)

    @strawberry.field(description="Purchases before refunds (money as a decimal string).")
    def gross_spent(self: CustomerRow) -> Decimal:
        return _money(self.total_spent)

    @strawberry.field(description="Purchases minus refunds: what RFM and CLV score (money as a decimal string).")
    def net_spent(self: CustomerRow) -> Decimal:
        return _money(self.total_spent - self.refunded_amount)

    @strawberry.field
    def refunded_amount(self: CustomerRow) -> Decimal:
        return _money(self.refunded_amount)

    @strawberry.field
    async def referrer(self: CustomerRow, info: strawberry.Info) -> Optional[Customer]:
        return None if self.referrer_id is None else await load_customer(info, self.referrer_id)

    @strawberry.field(description="This customer's interactions, newest first.")
    async def interactions(
        self: CustomerRow, info: strawberry.Info, first: Optional[int] = None, after: Optional[str] = None,
        last: Optional[int] = None, before: Optional[str] = None,
    ) -> InteractionConnection:
        ctx = info.context
        page = page_slice(first, after, last, before)
        tenant_id, cursors = ctx.tenant_id, ctx.cursors
        rows = await ctx.loader(
            ("customer.interactions", page.key),
            lambda s, ids: queries.interactions_of_customers(s, tenant_id, cursors, ids, page),
        ).load(self.id)
        counts = ctx.loader(("customer.interactions.count",), lambda s, ids: queries.interaction_counts(s, tenant_id, ids))
        customer_id = self.id

        async def total() -> int:
            return (await counts.load(customer_id)) or 0

        # The count is a loader call, made only if totalCount is resolved.
        return slice_page(rows or [], page, lambda r: queries.interaction_cursor(cursors, r), total)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, CustomerRow)


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Customers matching the filter and search (counted only when selected).")


@strawberry.type(description="Live customers who may be one person: they share a phone, an email, or a name and birthday.")
class DuplicateGroup:
    @strawberry.field
    def reason(self) -> DuplicateReason:
        return DuplicateReason[self.reason]

    @strawberry.field(description="The customers sharing it, oldest first.")
    def customers(self) -> list[Customer]:
        return self.customers


@strawberry.type
class DuplicateGroupEdge:
    cursor: str
    node: DuplicateGroup


@strawberry.type
class DuplicateGroupConnection:
    edges: list[DuplicateGroupEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Groups in all (counted only when selected).")


# -- Interaction --------------------------------------------------------------------


@strawberry.type(description="A fact between a customer and the business: recorded once, never edited.")
class Interaction(Node):
    @strawberry.field
    def id(self: InteractionRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("Interaction", self.id))

    occurred_at: datetime
    store: Optional[str]
    staff: Optional[str]
    quantity: Optional[int]
    external_id: Optional[str]
    payload: JSON

    @strawberry.field
    def kind(self: InteractionRow) -> EnumValue:
        return _enum(InteractionKind, self.kind)

    @strawberry.field
    def channel(self: InteractionRow) -> Optional[EnumValue]:
        return _enum(Channel, self.channel)

    @strawberry.field
    def amount(self: InteractionRow) -> Optional[Decimal]:
        return _money(self.amount)

    @strawberry.field
    def reverses_id(self: InteractionRow) -> Optional[strawberry.ID]:
        return None if self.reverses_id is None else strawberry.ID(to_global_id("Interaction", self.reverses_id))

    @strawberry.field(description="The purchase this refund reverses; null for other kinds.")
    async def reverses(self: InteractionRow, info: strawberry.Info) -> Optional[Interaction]:
        return await load_interaction(info, self.reverses_id)

    @strawberry.field
    async def customer(self: InteractionRow, info: strawberry.Info) -> Optional[Customer]:
        return await load_customer(info, self.customer_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (InteractionRow, RecordedInteraction))


@strawberry.type
class InteractionEdge:
    cursor: str
    node: Interaction


@strawberry.type
class InteractionConnection:
    edges: list[InteractionEdge]
    page_info: PageInfo

    @strawberry.field(description="Interactions in the list (counted only when selected).")
    async def total_count(self) -> int:
        # An int for root pages; a loader call for pages nested under customers.
        value = self.total_count
        return await value() if callable(value) else value


# -- me, modules ---------------------------------------------------------------------


@strawberry.type
class Me:
    tenant: Tenant
    role: EnumValue
    enabled_modules: list[str]


@dataclass
class ModuleView:
    info: Any
    enabled: bool
    settings_value: dict


@strawberry.type(description="An installed module and whether this tenant has it on.")
class Module:
    @strawberry.field
    def name(self: ModuleView) -> str:
        return self.info.name

    @strawberry.field
    def title(self: ModuleView, lang: Lang = Lang.ZH) -> str:
        return self.info.title(lang.value)

    @strawberry.field
    def description(self: ModuleView) -> str:
        return self.info.description

    @strawberry.field
    def depends_on(self: ModuleView) -> list[str]:
        return list(self.info.depends_on)

    enabled: bool

    @strawberry.field(description="Effective settings (defaults filled in). Admins only.")
    def settings(self: ModuleView, info: strawberry.Info) -> JSON:
        info.context.require(Role.ADMIN, "reading module settings")
        return self.settings_value


def module_views(session, plugins, tenant_id: int) -> list[ModuleView]:
    from sqlmodel import select

    rows = {r.module: r for r in session.exec(select(TenantModule).where(TenantModule.tenant_id == tenant_id)).all()}
    views = []
    for name, info in plugins.modules.items():
        row = rows.get(name)
        settings = info.settings_model.model_validate(row.settings if row else {}).model_dump(mode="json")
        views.append(ModuleView(info, bool(row and row.enabled), settings))
    return views


# -- payloads ------------------------------------------------------------------------


@strawberry.type
class CustomerPayload:
    customer: Optional[Customer] = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class InteractionPayload:
    interaction: Optional[Interaction] = None
    duplicate: bool = strawberry.field(default=False, description="True when externalId was already recorded (nothing stored).")
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class RecordInteractionsPayload:
    recorded_count: int = 0
    interactions: list[Interaction] = strawberry.field(default_factory=list)
    duplicates: list[DuplicateItem] = strawberry.field(default_factory=list)
    item_errors: list[ItemError] = strawberry.field(default_factory=list, description="Items not stored, by index.")
    errors: list[Error] = strawberry.field(default_factory=list, description="Failures of the whole request.")


@strawberry.type
class ModulePayload:
    module: Optional[Module] = None
    errors: list[Error] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyPayload:
    api_key: Optional[ApiKey] = None
    secret: Optional[str] = strawberry.field(default=None, description="The key itself: shown only once, on creation.")
    errors: list[Error] = strawberry.field(default_factory=list)


# -- Query ---------------------------------------------------------------------------


@strawberry.type
class CoreQuery:
    @strawberry.field(description="Any object by its global id (null when it is not in this tenant).")
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Optional[Node]:
        ctx = info.context
        parsed = parse_global_id(id)
        pk = None if parsed is None else parse_pk(parsed[1])
        if pk is None:
            return None
        type_name = parsed[0]
        if type_name == "Customer":
            return await load_customer(info, pk)
        if type_name == "Interaction":
            row = await ctx.read(lambda s: s.get(InteractionRow, pk))
            return row if row is not None and row.tenant_id == ctx.tenant_id else None
        if type_name == "AuditEvent":
            ctx.require(Role.ADMIN, "reading audit events")
            row = await ctx.read(lambda s: s.get(AuditEventRow, pk))
            return row if row is not None and row.tenant_id == ctx.tenant_id else None
        if type_name == "JobRun":
            return await jobs.load_run(info, pk)
        resolve = NODE_RESOLVERS.get(type_name)
        return None if resolve is None else await resolve(info, pk)

    @strawberry.field(description="The calling key: its tenant, role and the modules on.")
    def me(self, info: strawberry.Info) -> Me:
        p = info.context.principal
        return Me(tenant=p.tenant, role=p.role, enabled_modules=sorted(p.modules))

    @strawberry.field(description="Every installed module, on or off for this tenant.")
    async def modules(self, info: strawberry.Info) -> list[Module]:
        ctx = info.context
        return await ctx.read(lambda s: module_views(s, ctx.gx.plugins, ctx.tenant_id))

    @strawberry.field(description="A customer by id; the id of a customer merged into another leads to the kept one.")
    async def customer(self, info: strawberry.Info, id: strawberry.ID) -> Optional[Customer]:
        pk = decode_id(id, "Customer")
        if pk is None:
            return None
        found = await load_customer(info, pk)
        if found is None:
            ctx = info.context
            kept = await ctx.read(lambda s: resolve_merged(s, ctx.tenant_id, pk))
            found = None if kept is None else await load_customer(info, kept)
        return found

    @strawberry.field(description="Candidate duplicates for agents to review and merge: groups of live customers "
                                  "sharing a phone, an email, or a name and birthday (first ≤ 100).")
    async def duplicate_customers(
        self, info: strawberry.Info, first: Optional[int] = None, after: Optional[str] = None,
        last: Optional[int] = None, before: Optional[str] = None,
    ) -> DuplicateGroupConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: queries.duplicate_groups_page(s, ctx.tenant_id, ctx.cursors, page, total))

    @strawberry.field(description="Customers, filtered and ordered; keyset-paginated (first ≤ 100).")
    async def customers(
        self, info: strawberry.Info, first: Optional[int] = None, after: Optional[str] = None,
        where: Optional[CustomerWhere] = None, order_by: Optional[CustomerOrder] = None, search: Optional[str] = None,
        last: Optional[int] = None, before: Optional[str] = None,
    ) -> CustomerConnection:
        ctx = info.context
        page_args, total = page_slice(first, after, last, before), wants_total(info)
        pairs = [ctx.batch_pair(spec) for spec in selected_batches(info, CUSTOMER_BATCHES)]

        def read(s):
            page = queries.customers_page(s, ctx.tenant_id, ctx.cursors, page_args, total,
                                          where, order_by, search, CUSTOMER_FILTERS, CUSTOMER_ORDERS)
            return page, load_batches(s, pairs, [edge.node.id for edge in page.edges])

        page, batches = await ctx.read(read)
        ctx.keep_prefetched(batches)
        return page

    @strawberry.field(description="Interactions, newest first.")
    async def interactions(
        self, info: strawberry.Info, first: Optional[int] = None, after: Optional[str] = None,
        where: Optional[InteractionWhere] = None, last: Optional[int] = None, before: Optional[str] = None,
    ) -> InteractionConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: queries.interactions_page(s, ctx.tenant_id, ctx.cursors, page, where, total))

    @strawberry.field(description="Who did what, newest first. Admins only.")
    async def audit_events(
        self, info: strawberry.Info, first: Optional[int] = None, after: Optional[str] = None, action: Optional[str] = None,
        last: Optional[int] = None, before: Optional[str] = None,
    ) -> AuditEventConnection:
        ctx = info.context
        ctx.require(Role.ADMIN, "reading audit events")
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: queries.audit_page(s, ctx.tenant_id, ctx.cursors, page, action, total))

    @strawberry.field(description="This tenant's API keys (never their secrets). Admins only.")
    async def api_keys(self, info: strawberry.Info) -> list[ApiKey]:
        from engine.services.keys import list_keys

        ctx = info.context
        ctx.require(Role.ADMIN, "listing API keys")
        return await ctx.read(lambda s: list_keys(s, ctx.tenant_id))


@strawberry.type
class Query(CoreQuery, jobs.JobsQuery, *QUERY_MIXINS):
    pass


# -- Mutation ------------------------------------------------------------------------


@strawberry.type
class CoreMutation:
    @strawberry.mutation
    async def create_customer(self, info: strawberry.Info, input: CreateCustomerInput) -> CustomerPayload:
        info.context.require(Role.AGENT, "creating customers")
        return CustomerPayload(**await mutations.create_customer(info.context, input))

    @strawberry.mutation
    async def update_customer(self, info: strawberry.Info, input: UpdateCustomerInput) -> CustomerPayload:
        info.context.require(Role.AGENT, "updating customers")
        return CustomerPayload(**await mutations.update_customer(info.context, input))

    @strawberry.mutation(description="Remove a customer's personal data everywhere (admins only); purchase facts stay, anonymous.")
    async def erase_customer(self, info: strawberry.Info, input: IdInput) -> CustomerPayload:
        info.context.require(Role.ADMIN, "erasing customers")
        return CustomerPayload(**await mutations.erase_customer(info.context, input))

    @strawberry.mutation(description="Merge two records of one person: `merge` is folded into `keep` and deleted "
                                     "(its id then leads to `keep`). Rules in docs/customers.md.")
    async def merge_customers(self, info: strawberry.Info, input: MergeCustomersInput) -> CustomerPayload:
        info.context.require(Role.AGENT, "merging customers")
        return CustomerPayload(**await mutations.merge_customers(info.context, input))

    @strawberry.mutation
    async def record_interaction(self, info: strawberry.Info, input: InteractionInput) -> InteractionPayload:
        info.context.require(Role.AGENT, "recording interactions")
        return InteractionPayload(**await mutations.record_interaction(info.context, input))

    @strawberry.mutation(description="Up to 1,000 interactions: valid items are stored, the others listed in itemErrors.")
    async def record_interactions(self, info: strawberry.Info, input: RecordInteractionsInput) -> RecordInteractionsPayload:
        info.context.require(Role.AGENT, "recording interactions")
        return RecordInteractionsPayload(**await mutations.record_interactions(info.context, input))

    @strawberry.mutation
    async def enable_module(self, info: strawberry.Info, input: ModuleNameInput) -> ModulePayload:
        info.context.require(Role.ADMIN, "enabling modules")
        return ModulePayload(**await mutations.set_module(info.context, input.name, True, module_views))

    @strawberry.mutation
    async def disable_module(self, info: strawberry.Info, input: ModuleNameInput) -> ModulePayload:
        info.context.require(Role.ADMIN, "disabling modules")
        return ModulePayload(**await mutations.set_module(info.context, input.name, False, module_views))

    @strawberry.mutation(description="Replace a module's settings (snake_case keys); errors name the key as sent (e.g. settings.window_days).")
    async def configure_module(self, info: strawberry.Info, input: ConfigureModuleInput) -> ModulePayload:
        info.context.require(Role.ADMIN, "configuring modules")
        return ModulePayload(**await mutations.configure_module(info.context, input.name, input.settings, module_views))

    @strawberry.mutation
    async def create_api_key(self, info: strawberry.Info, input: CreateApiKeyInput) -> ApiKeyPayload:
        info.context.require(Role.ADMIN, "creating API keys")
        return ApiKeyPayload(**await mutations.create_api_key(info.context, input))

    @strawberry.mutation
    async def revoke_api_key(self, info: strawberry.Info, input: IdInput) -> ApiKeyPayload:
        info.context.require(Role.ADMIN, "revoking API keys")
        return ApiKeyPayload(**await mutations.revoke_api_key(info.context, input))


@strawberry.type
class Mutation(CoreMutation, jobs.JobsMutation, *MUTATION_MIXINS):
    pass


TYPES = [Customer, Interaction, AuditEvent, jobs.JobRun]
