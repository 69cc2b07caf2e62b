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
from typing import Annotated, Any, Optional

import strawberry
from strawberry.scalars import JSON

from api import jobs, module_settings, mutations, queries
from api.enums import value_type
from api.filters import extended_customer_inputs
from api.ids import decode_id, parse_global_id, parse_pk, to_global_id
from api.overview import OverviewQuery
from api.inputs import (
    ConfigureModuleInput, CreateApiKeyInput, CreateCustomerInput, IdInput, InteractionInput,
    MergeCustomersInput, ModuleNameInput, RecordInteractionsInput, UpdateCustomerInput,
)
from api.pagination import page_slice, slice_page, wants_total
from api.prefetch import load_batches, selected_batches
from api.references import load_customer, load_interaction
from api.types import (
    ERRORS, INPUT,
    After, ApiKey, AuditEvent, AuditEventConnection, Before, CustomerOrder, CustomerWhere, DuplicateItem, DuplicateReason, Error,
    First, Last,
    InteractionWhere, ItemError, Lang, LangArg, Node, PageInfo, Tenant,
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
    @strawberry.field(description="The customer's global id.")
    def id(self: CustomerRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("Customer", self.id))

    code: Optional[str] = strawberry.field(description="The tenant's own customer number.")
    name: Optional[str] = strawberry.field(description="The customer's name; null after erasure.")
    birthday: Optional[date] = strawberry.field(description="The date of birth.")
    phone: Optional[str] = strawberry.field(description="The phone number in E.164 (+8613800138000).")
    email: Optional[str] = strawberry.field(description="The email address, lower-cased.")
    wechat_id: Optional[str] = strawberry.field(description="The WeChat id.")
    region: Optional[str] = strawberry.field(description="Province or region.")
    city: Optional[str] = strawberry.field(description="City.")
    occupation: Optional[str] = strawberry.field(description="Occupation, free text.")
    income_band: Optional[str] = strawberry.field(description="Income band, in the tenant's own bands.")
    skin_type: Optional[str] = strawberry.field(description="Skin type (beauty retail), free text.")
    preferences: Optional[str] = strawberry.field(description="Preferences, free text.")
    owner: Optional[str] = strawberry.field(description="The staff member who owns the relationship.")
    store: Optional[str] = strawberry.field(description="The customer's home store.")
    tags: list[str] = strawberry.field(description="Tags, such as VIP.")
    attributes: JSON = strawberry.field(description="The tenant's own fields, a JSON object.")
    consent: JSON = strawberry.field(description="Consent per channel, a JSON object such as {\"SMS\": true}.")
    created_at: datetime = strawberry.field(description="When the customer was created (UTC).")
    updated_at: datetime = strawberry.field(description="When the customer was last changed (UTC).")
    erased_at: Optional[datetime] = strawberry.field(description="When the personal data was erased; null while it is kept.")
    first_purchase_at: Optional[datetime] = strawberry.field(description="The first purchase; null before any.")
    last_purchase_at: Optional[datetime] = strawberry.field(description="The latest purchase; null before any.")
    purchase_count: int = strawberry.field(description="How many purchases.")
    purchase_days: int = strawberry.field(description="On how many distinct days (in the tenant's time zone) the customer bought.")

    @strawberry.field(description="The customer's gender.")
    def gender(self: CustomerRow) -> Optional[value_type(Gender)]:
        return _enum(Gender, self.gender)

    @strawberry.field(description="How the customer first came to the business.")
    def acquisition_channel(self: CustomerRow) -> Optional[value_type(AcquisitionChannel)]:
        return _enum(AcquisitionChannel, self.acquisition_channel)

    @strawberry.field(description="How the customer likes to be reached.")
    def preferred_channel(self: CustomerRow) -> Optional[value_type(Channel)]:
        return _enum(Channel, self.preferred_channel)

    @strawberry.field(description="How much price decides the customer's purchases.")
    def price_sensitivity(self: CustomerRow) -> Optional[value_type(PriceSensitivity)]:
        return _enum(PriceSensitivity, self.price_sensitivity)

    @strawberry.field(description="The customer's standing: potential, existing or churned.")
    def role(self: CustomerRow) -> Optional[value_type(CustomerRole)]:
        return _enum(CustomerRole, self.role)

    @strawberry.field(description="The customer's stage in the relationship.")
    def lifecycle_stage(self: CustomerRow) -> Optional[value_type(LifecycleStage)]:
        return _enum(LifecycleStage, self.lifecycle_stage)

    @strawberry.field(description="Purchases before refunds (as grossSpent; money as a decimal string).",
                      deprecation_reason="Use grossSpent (the same value) or netSpent.")
    def total_spent(self: CustomerRow) -> Decimal:
        return _money(self.total_spent)

    @strawberry.field(description="Purchases before refunds: the sum of purchase amounts (money as a decimal string).")
    def gross_spent(self: CustomerRow) -> Decimal:
        return _money(self.total_spent)

    @strawberry.field(description="Purchases minus refunds: what RFM and CLV score (money as a decimal string).")
    def net_spent(self: CustomerRow) -> Decimal:
        return _money(self.total_spent - self.refunded_amount)

    @strawberry.field(description="The sum of refunds (money as a decimal string).")
    def refunded_amount(self: CustomerRow) -> Decimal:
        return _money(self.refunded_amount)

    @strawberry.field(description="The customer who referred this one.")
    async def referrer(self: CustomerRow, info: strawberry.Info) -> Optional[Customer]:
        return None if self.referrer_id is None else await load_customer(info, self.referrer_id)

    @strawberry.field(description="This customer's interactions, newest first.")
    async def interactions(
        self: CustomerRow, info: strawberry.Info, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
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


@strawberry.type(description="A customer in a page, with its cursor.")
class CustomerEdge:
    cursor: str = strawberry.field(description="The position of this customer, for `after`.")
    node: Customer = strawberry.field(description="The customer.")


@strawberry.type(description="A page of customers.")
class CustomerConnection:
    edges: list[CustomerEdge] = strawberry.field(description="The customers of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(description="Customers matching the filter and search (counted only when selected).")


@strawberry.type(description="Live customers who may be one person: they share a phone, an email, or a name and birthday.")
class DuplicateGroup:
    @strawberry.field(description="What the customers share.")
    def reason(self) -> DuplicateReason:
        return DuplicateReason[self.reason]

    @strawberry.field(description="The customers sharing it, oldest first.")
    def customers(self) -> list[Customer]:
        return self.customers


@strawberry.type(description="A group of possible duplicates in a page, with its cursor.")
class DuplicateGroupEdge:
    cursor: str = strawberry.field(description="The position of this group, for `after`.")
    node: DuplicateGroup = strawberry.field(description="The group.")


@strawberry.type(description="A page of groups of possible duplicates.")
class DuplicateGroupConnection:
    edges: list[DuplicateGroupEdge] = strawberry.field(description="The groups of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(description="Groups in all (counted only when selected).")


# -- Interaction --------------------------------------------------------------------


@strawberry.type(description="A fact between a customer and the business: recorded once, never edited.")
class Interaction(Node):
    @strawberry.field(description="The interaction's global id.")
    def id(self: InteractionRow) -> strawberry.ID:
        return strawberry.ID(to_global_id("Interaction", self.id))

    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    store: Optional[str] = strawberry.field(description="The store it happened in.")
    staff: Optional[str] = strawberry.field(description="The staff member involved.")
    quantity: Optional[int] = strawberry.field(description="Number of items, for purchases and refunds.")
    external_id: Optional[str] = strawberry.field(description="The sender's id for it (an order number), unique in the tenant.")
    payload: JSON = strawberry.field(description="Anything else recorded with it, a JSON object.")

    @strawberry.field(description="What happened.")
    def kind(self: InteractionRow) -> value_type(InteractionKind):
        return _enum(InteractionKind, self.kind)

    @strawberry.field(description="Where it happened.")
    def channel(self: InteractionRow) -> Optional[value_type(Channel)]:
        return _enum(Channel, self.channel)

    @strawberry.field(description="Money, for purchases and refunds (a decimal string).")
    def amount(self: InteractionRow) -> Optional[Decimal]:
        return _money(self.amount)

    @strawberry.field(description="For a refund: the purchase it reverses (an Interaction id).")
    def reverses_id(self: InteractionRow) -> Optional[strawberry.ID]:
        return None if self.reverses_id is None else strawberry.ID(to_global_id("Interaction", self.reverses_id))

    @strawberry.field(description="The purchase this refund reverses; null for other kinds.")
    async def reverses(self: InteractionRow, info: strawberry.Info) -> Optional[Interaction]:
        return await load_interaction(info, self.reverses_id)

    @strawberry.field(description="The customer it happened with.")
    async def customer(self: InteractionRow, info: strawberry.Info) -> Optional[Customer]:
        return await load_customer(info, self.customer_id)

    @classmethod
    def is_type_of(cls, obj, _info) -> bool:
        return isinstance(obj, (InteractionRow, RecordedInteraction))


@strawberry.type(description="An interaction in a page, with its cursor.")
class InteractionEdge:
    cursor: str = strawberry.field(description="The position of this interaction, for `after`.")
    node: Interaction = strawberry.field(description="The interaction.")


@strawberry.type(description="A page of interactions, newest first.")
class InteractionConnection:
    edges: list[InteractionEdge] = strawberry.field(description="The interactions of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")

    @strawberry.field(description="Interactions in the list (counted only when selected).")
    async def total_count(self) -> int:
        # An int for root pages; a loader call for pages nested under customers.
        value = self.total_count
        return await value() if callable(value) else value


# -- me, modules ---------------------------------------------------------------------


@strawberry.type(description="The caller: the API key's tenant, role and modules.")
class Me:
    tenant: Tenant = strawberry.field(description="The key's tenant.")
    role: value_type(Role) = strawberry.field(description="The key's role.")
    enabled_modules: list[str] = strawberry.field(description="The names of the modules on for the tenant, sorted.")


@dataclass
class ModuleView:
    info: Any
    enabled: bool
    settings_value: dict


@strawberry.type(description="An installed module and whether this tenant has it on.")
class Module:
    @strawberry.field(description="The module's name, as enableModule takes it (rfm, clv, loyalty, complaints...).")
    def name(self: ModuleView) -> str:
        return self.info.name

    @strawberry.field(description="The module's title for people.")
    def title(self: ModuleView, lang: LangArg = Lang.ZH) -> str:
        return self.info.title(lang.value)

    @strawberry.field(description="What the module does (English).")
    def description(self: ModuleView) -> str:
        return self.info.description

    @strawberry.field(description="The modules it needs on too.")
    def depends_on(self: ModuleView) -> list[str]:
        return list(self.info.depends_on)

    enabled: bool = strawberry.field(description="Whether the module is on for this tenant.")

    @strawberry.field(description="Effective settings (defaults filled in). Admins only.")
    def settings(self: ModuleView, info: strawberry.Info) -> JSON:
        info.context.require(Role.ADMIN, "reading module settings")
        return self.settings_value

    @strawberry.field(description="What each setting is (key, kind, default, description, bounds), as the module declares it, "
                                  "for a settings form; the same for every tenant. configureModule stays the authority.")
    def setting_fields(self: ModuleView) -> list[module_settings.SettingField]:
        return [module_settings.as_graphql(view) for view in module_settings.setting_fields(self.info.settings_model)]


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


@strawberry.type(description="The result of a customer mutation.")
class CustomerPayload:
    customer: Optional[Customer] = strawberry.field(default=None, description="The customer as it now is; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of recordInteraction.")
class InteractionPayload:
    interaction: Optional[Interaction] = strawberry.field(default=None, description="The interaction recorded (or the one recorded before, for a duplicate).")
    duplicate: bool = strawberry.field(default=False, description="True when externalId was already recorded (nothing stored).")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of recordInteractions.")
class RecordInteractionsPayload:
    recorded_count: int = strawberry.field(default=0, description="How many interactions were stored.")
    interactions: list[Interaction] = strawberry.field(default_factory=list, description="The interactions stored, in input order.")
    duplicates: list[DuplicateItem] = strawberry.field(default_factory=list, description="Items whose externalId was already recorded (not stored again).")
    item_errors: list[ItemError] = strawberry.field(default_factory=list, description="Items not stored, by index.")
    errors: list[Error] = strawberry.field(default_factory=list, description="Failures of the whole request.")


@strawberry.type(description="The result of a module mutation.")
class ModulePayload:
    module: Optional[Module] = strawberry.field(default=None, description="The module as it now is for this tenant.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of an API key mutation.")
class ApiKeyPayload:
    api_key: Optional[ApiKey] = strawberry.field(default=None, description="The key.")
    secret: Optional[str] = strawberry.field(default=None, description="The key itself: shown only once, on creation.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


# -- Query ---------------------------------------------------------------------------


IdArg = Annotated[strawberry.ID, strawberry.argument(description="The object's global id.")]


@strawberry.type
class CoreQuery:
    @strawberry.field(description="Any object by its global id (null when it is not in this tenant).")
    async def node(self, info: strawberry.Info, id: IdArg) -> Optional[Node]:
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
    async def customer(self, info: strawberry.Info, id: IdArg) -> Optional[Customer]:
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
        self, info: strawberry.Info, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> DuplicateGroupConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: queries.duplicate_groups_page(s, ctx.tenant_id, ctx.cursors, page, total))

    @strawberry.field(description="Customers, filtered and ordered; keyset-paginated (first ≤ 100).")
    async def customers(
        self, info: strawberry.Info, first: First = None, after: After = None,
        where: Annotated[Optional[CustomerWhere], strawberry.argument(description="Conditions the customers must meet.")] = None,
        order_by: Annotated[Optional[CustomerOrder], strawberry.argument(
            description="The order (default: newest first).")] = None,
        search: Annotated[Optional[str], strawberry.argument(
            description="Prefix search on names (characters, pinyin, initials), phones (the last four digits or the whole number), "
                        "and exact codes, tags, WeChat ids and emails.")] = None,
        last: Last = None, before: Before = None,
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
        self, info: strawberry.Info, first: First = None, after: After = None,
        where: Annotated[Optional[InteractionWhere], strawberry.argument(description="Conditions the interactions must meet.")] = None,
        last: Last = None, before: Before = None,
    ) -> InteractionConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        return await ctx.read(lambda s: queries.interactions_page(s, ctx.tenant_id, ctx.cursors, page, where, total))

    @strawberry.field(description="Who did what, newest first. Admins only.")
    async def audit_events(
        self, info: strawberry.Info, first: First = None, after: After = None,
        action: Annotated[Optional[str], strawberry.argument(description="Only this action, such as customer.create.")] = None,
        last: Last = None, before: Before = None,
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


@strawberry.type(description="What a tenant's key can read: the core's queries and those of the tenant's enabled modules.")
class Query(CoreQuery, jobs.JobsQuery, OverviewQuery, *QUERY_MIXINS):
    pass


# -- Mutation ------------------------------------------------------------------------


@strawberry.type
class CoreMutation:
    @strawberry.mutation(description="Create a customer (agents and admins).")
    async def create_customer(self, info: strawberry.Info, input: Annotated[CreateCustomerInput, INPUT]) -> CustomerPayload:
        info.context.require(Role.AGENT, "creating customers")
        return CustomerPayload(**await mutations.create_customer(info.context, input))

    @strawberry.mutation(description="Change a customer's fields; fields left out are not changed (agents and admins).")
    async def update_customer(self, info: strawberry.Info, input: Annotated[UpdateCustomerInput, INPUT]) -> CustomerPayload:
        info.context.require(Role.AGENT, "updating customers")
        return CustomerPayload(**await mutations.update_customer(info.context, input))

    @strawberry.mutation(description="Remove a customer's personal data everywhere (admins only); purchase facts stay, anonymous.")
    async def erase_customer(self, info: strawberry.Info, input: Annotated[IdInput, INPUT]) -> CustomerPayload:
        info.context.require(Role.ADMIN, "erasing customers")
        return CustomerPayload(**await mutations.erase_customer(info.context, input))

    @strawberry.mutation(description="Merge two records of one person: `merge` is folded into `keep` and deleted "
                                     "(its id then leads to `keep`). Rules in docs/customers.md.")
    async def merge_customers(self, info: strawberry.Info, input: Annotated[MergeCustomersInput, INPUT]) -> CustomerPayload:
        info.context.require(Role.AGENT, "merging customers")
        return CustomerPayload(**await mutations.merge_customers(info.context, input))

    @strawberry.mutation(description="Record one interaction; an externalId already recorded is reported as a duplicate (agents and admins).")
    async def record_interaction(self, info: strawberry.Info, input: Annotated[InteractionInput, INPUT]) -> InteractionPayload:
        info.context.require(Role.AGENT, "recording interactions")
        return InteractionPayload(**await mutations.record_interaction(info.context, input))

    @strawberry.mutation(description="Up to 1,000 interactions: valid items are stored, the others listed in itemErrors.")
    async def record_interactions(self, info: strawberry.Info, input: Annotated[RecordInteractionsInput, INPUT]) -> RecordInteractionsPayload:
        info.context.require(Role.AGENT, "recording interactions")
        return RecordInteractionsPayload(**await mutations.record_interactions(info.context, input))

    @strawberry.mutation(description="Switch a module on for this tenant (admins).")
    async def enable_module(self, info: strawberry.Info, input: Annotated[ModuleNameInput, INPUT]) -> ModulePayload:
        info.context.require(Role.ADMIN, "enabling modules")
        return ModulePayload(**await mutations.set_module(info.context, input.name, True, module_views))

    @strawberry.mutation(description="Switch a module off for this tenant; its data is kept (admins).")
    async def disable_module(self, info: strawberry.Info, input: Annotated[ModuleNameInput, INPUT]) -> ModulePayload:
        info.context.require(Role.ADMIN, "disabling modules")
        return ModulePayload(**await mutations.set_module(info.context, input.name, False, module_views))

    @strawberry.mutation(description="Replace a module's settings (snake_case keys); errors name the key as sent (e.g. settings.window_days).")
    async def configure_module(self, info: strawberry.Info, input: Annotated[ConfigureModuleInput, INPUT]) -> ModulePayload:
        info.context.require(Role.ADMIN, "configuring modules")
        return ModulePayload(**await mutations.configure_module(info.context, input.name, input.settings, module_views))

    @strawberry.mutation(description="Create an API key for this tenant; the secret is in the payload, once (admins).")
    async def create_api_key(self, info: strawberry.Info, input: Annotated[CreateApiKeyInput, INPUT]) -> ApiKeyPayload:
        info.context.require(Role.ADMIN, "creating API keys")
        return ApiKeyPayload(**await mutations.create_api_key(info.context, input))

    @strawberry.mutation(description="Revoke an API key: it stops working at once (admins).")
    async def revoke_api_key(self, info: strawberry.Info, input: Annotated[IdInput, INPUT]) -> ApiKeyPayload:
        info.context.require(Role.ADMIN, "revoking API keys")
        return ApiKeyPayload(**await mutations.revoke_api_key(info.context, input))


@strawberry.type(description="What a tenant's key can change; each mutation takes one `input` and returns a payload with `errors`.")
class Mutation(CoreMutation, jobs.JobsMutation, *MUTATION_MIXINS):
    pass


TYPES = [Customer, Interaction, AuditEvent, jobs.JobRun]
