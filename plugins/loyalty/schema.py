"""The loyalty module's GraphQL: ``Customer.loyalty`` (with the coupon wallet,
``coupons``), ``loyaltyProgram`` and the member mutations (``enrollMember``,
``redeemPoints``, ``redeemReward``, ``useCoupon``, ``adjustPoints`` (admin),
``voidCoupon`` (admin), ``createReward`` (admin)).

``Customer.loyalty`` goes through a per-request DataLoader (one statement per
page of customers); its detail fields (``pointsExpiringSoon``, ``nextTier``,
``ledger``, ``tierHistory``) cost one statement each per member asked for, so
ask for them on one customer, not on a list page. Mutations take one
``input`` and return the result or ``errors`` (field, message, code).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Optional

import strawberry

from api.context import RequestContext
from api.errors import BAD_USER_INPUT, api_error
from api.scalars import BigInt
from api.ids import decode_id, to_global_id
from api.mutations import guarded
from api.enums import coded_enum
from api.pagination import Keyset, page_slice, slice_page, wants_total
from api.references import CURRENT_CORE, load_interaction
from api.types import ERRORS, INPUT, After, Before, Error, First, Lang, LangArg, Last, Node, PageInfo
from engine.enums import Role
from engine.errors import FieldError, ValidationFailed
from plugins.loyalty import coupons, service
from plugins.loyalty.expiring import MAX_WITHIN_DAYS, expiring_points
from plugins.loyalty.models import LoyaltyLedgerEntry, LoyaltyMember, LoyaltyReward
from plugins.loyalty.settings import LoyaltySettings, Tier

# Ledger entries and coupons are listed newest first, by id; cursors are signed (api/pagination.py).
LEDGER = Keyset("LEDGER:ID:DESC", None, True)
COUPONS = Keyset("COUPON:ID:DESC", None, True)


def _id_bounds(cursors, keyset: Keyset, page) -> tuple[Optional[int], Optional[int]]:
    """(older than, newer than): the ids the page's after/before cursors name."""
    older = keyset.position(cursors, page.after)[1] if page.after else None
    newer = keyset.position(cursors, page.before)[1] if page.before else None
    return older, newer

LoyaltyMemberStatus = coded_enum("LoyaltyMemberStatus", "Where a membership stands.", {
    "ACTIVE": "A member who earns and redeems points.",
    "SUSPENDED": "Membership suspended.",
    "CLOSED": "Membership ended.",
})
LoyaltyEnrolmentVia = coded_enum("LoyaltyEnrolmentVia", "How a customer became a member.", {
    "APPLICATION": "The customer applied.",
    "INVITATION": "Invited, by a referrer or staff.",
    "PURCHASE": "Enrolled by a first purchase (the auto_enroll_on_first_purchase setting).",
})
LoyaltyEntryKind = coded_enum("LoyaltyEntryKind", "What a points ledger entry records.", {
    "EARN": "Points earned (a purchase, a bonus rule).",
    "REDEEM": "Points spent on an order or a reward.",
    "EXPIRE": "Points expired.",
    "REVERSE": "Points taken back after a refund.",
    "ADJUST": "An admin's correction.",
})
LoyaltyRewardKind = coded_enum("LoyaltyRewardKind", "What a catalogue reward gives.", {
    "COUPON": "A coupon worth `value` off a purchase.",
    "GIFT": "A gift.",
    "ORDER_DISCOUNT": "A discount of `value` on an order.",
})



@strawberry.type(name="LoyaltyTierBenefits", description="What a tier gives its members.")
class LoyaltyTierBenefits:
    discount_percent: Decimal = strawberry.field(description="Member discount, in percent (10 = 10 % off).")
    free_shipping: bool = strawberry.field(description="Free shipping.")
    birthday_gift: bool = strawberry.field(description="A birthday gift.")
    dedicated_service: bool = strawberry.field(description="A dedicated service contact.")
    priority_purchase: bool = strawberry.field(description="Priority on new and limited products.")
    member_days: bool = strawberry.field(description="Member-day offers.")


@strawberry.type(name="LoyaltyTier", description="A membership level of the tenant's programme.")
class LoyaltyTier:
    tier: strawberry.Private[Tier]

    @strawberry.field(description="The tier's code, as the tenant's settings name it (such as GOLD).")
    def code(self) -> str:
        return self.tier.code

    @strawberry.field(description="The tier's name for people, in Chinese (the default) or English.")
    def label(self, lang: LangArg = Lang.ZH) -> str:
        return self.tier.name_zh if lang is Lang.ZH else self.tier.name_en

    @strawberry.field(description="Qualifying metric value (rolling 12 months) that reaches this tier.")
    def threshold(self) -> Decimal:
        return self.tier.threshold

    @strawberry.field(description="Points multiplier on purchases.")
    def multiplier(self) -> Decimal:
        return self.tier.multiplier

    @strawberry.field(description="What the tier gives.")
    def benefits(self) -> LoyaltyTierBenefits:
        b = self.tier.benefits
        return LoyaltyTierBenefits(discount_percent=b.discount_percent, free_shipping=b.free_shipping,
                                   birthday_gift=b.birthday_gift, dedicated_service=b.dedicated_service,
                                   priority_purchase=b.priority_purchase, member_days=b.member_days)


@strawberry.type(name="LoyaltyNextTier", description="The next tier up, and what is missing to reach it.")
class LoyaltyNextTier:
    code: str = strawberry.field(description="The next tier's code.")
    remaining_to_qualify: Decimal = strawberry.field(description="Qualifying metric still missing (rolling 12 months).")


@strawberry.type(name="LoyaltyLedgerEntry", description="One append-only points entry; points are signed.")
class LoyaltyLedgerEntryType(Node):
    id: strawberry.ID = strawberry.field(description="The entry's global id.")
    kind: LoyaltyEntryKind = strawberry.field(description="What the entry records.")
    rule: Optional[str] = strawberry.field(description="The rule that gave or took the points, such as PURCHASE, EVENT or REFUND; null when none applies.")
    points: int = strawberry.field(description="Points added (positive) or taken (negative).")
    reason: str = strawberry.field(description="Why, for people.")
    actor: str = strawberry.field(description="Who made it (an actor, as in audit events).")
    at: datetime = strawberry.field(description="When (UTC).")
    interaction_id: Optional[strawberry.ID] = strawberry.field(description="The id of `interaction` (an Interaction id), if any.")
    interaction_pk: strawberry.Private[Optional[int]] = None

    @strawberry.field(description="The purchase or refund that earned or took back the points; null for other entries.")
    async def interaction(self, info: strawberry.Info) -> Optional[Annotated["Interaction", strawberry.lazy(CURRENT_CORE)]]:
        return None if self.interaction_pk is None else await load_interaction(info, self.interaction_pk)


@strawberry.type(name="LoyaltyLedgerEdge", description="A ledger entry in a page, with its cursor.")
class LoyaltyLedgerEdge:
    cursor: str = strawberry.field(description="The position of this entry, for `after`.")
    node: LoyaltyLedgerEntryType = strawberry.field(description="The entry.")


@strawberry.type(name="LoyaltyLedgerConnection", description="A page of ledger entries, newest entry first.")
class LoyaltyLedgerConnection:
    edges: list[LoyaltyLedgerEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(default=0, description="The member's entries (counted only when selected).")


@strawberry.type(name="LoyaltyTierChange", description="A change of the member's tier.")
class LoyaltyTierChange:
    from_tier: Optional[str] = strawberry.field(description="The tier before; null on enrolment.")
    to_tier: str = strawberry.field(description="The tier after.")
    why: str = strawberry.field(description="Why it changed, for people.")
    at: datetime = strawberry.field(description="When (UTC).")


def _tier(settings: LoyaltySettings, code: str) -> LoyaltyTier:
    known = {t.code: t for t in settings.tiers}
    return LoyaltyTier(tier=known.get(code, settings.tiers[0]))


def _entry(row) -> LoyaltyLedgerEntryType:
    return LoyaltyLedgerEntryType(
        id=strawberry.ID(to_global_id("LoyaltyLedgerEntry", row.id)), kind=row.kind, rule=row.rule, points=row.points,
        reason=row.reason, actor=row.actor, at=row.at, interaction_pk=row.interaction_id,
        interaction_id=None if row.interaction_id is None else strawberry.ID(to_global_id("Interaction", row.interaction_id)))


async def load_ledger_entry(info: strawberry.Info, pk: int) -> Optional[LoyaltyLedgerEntryType]:
    """The caller's tenant's ledger entry ``pk`` (``node(id)``)."""
    ctx = info.context
    row = await ctx.read(lambda s: s.get(LoyaltyLedgerEntry, pk))
    return _entry(row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.enum(name="LoyaltyCouponStatus",
                 description="Derived from the coupon and the time: USED, VOIDED, EXPIRED (past validUntil), else ISSUED.")
class LoyaltyCouponStatus(enum.Enum):
    ISSUED = strawberry.enum_value("ISSUED", description="Issued and usable (from validFrom).")
    USED = strawberry.enum_value("USED", description="Used at checkout (useCoupon).")
    EXPIRED = strawberry.enum_value("EXPIRED", description="Not used before validUntil.")
    VOIDED = strawberry.enum_value("VOIDED", description="Withdrawn by an admin (voidCoupon).")


@strawberry.type(name="LoyaltyCoupon", description="A coupon issued for a reward (redeemReward).")
class LoyaltyCouponType:
    coupon: strawberry.Private[coupons.Coupon]

    @strawberry.field(description="The coupon's code, as the customer shows it.")
    def code(self) -> str:
        return self.coupon.code

    @strawberry.field(description="Where the coupon stands now.")
    def status(self) -> LoyaltyCouponStatus:
        return LoyaltyCouponStatus(self.coupon.status)

    @strawberry.field(description="The reward's code.")
    def reward_code(self) -> str:
        return self.coupon.reward_code

    @strawberry.field(description="The reward's name.")
    def reward_name(self, lang: LangArg = Lang.ZH) -> str:
        return self.coupon.reward_name_zh if lang is Lang.ZH else self.coupon.reward_name_en

    @strawberry.field(description="What the reward gives.")
    def reward_kind(self) -> LoyaltyRewardKind:
        return LoyaltyRewardKind[self.coupon.reward_kind]

    @strawberry.field(description="The reward's value (money); null for rewards without one.")
    def value(self) -> Optional[Decimal]:
        return self.coupon.value

    @strawberry.field(description="Usable from this moment.")
    def valid_from(self) -> datetime:
        return self.coupon.valid_from

    @strawberry.field(description="Usable before this moment.")
    def valid_until(self) -> datetime:
        return self.coupon.valid_until

    @strawberry.field(description="When it was used; null before.")
    def used_at(self) -> Optional[datetime]:
        return self.coupon.used_at

    @strawberry.field(description="The order it was used for.")
    def order_ref(self) -> Optional[str]:
        return self.coupon.order_ref

    @strawberry.field(description="When it was voided; null unless VOIDED.")
    def voided_at(self) -> Optional[datetime]:
        return self.coupon.voided_at

    @strawberry.field(description="Why it was voided, as given to voidCoupon.")
    def void_reason(self) -> Optional[str]:
        return self.coupon.void_reason


@strawberry.type(name="LoyaltyCouponEdge", description="A coupon in a page, with its cursor.")
class LoyaltyCouponEdge:
    cursor: str = strawberry.field(description="The position of this coupon, for `after`.")
    node: LoyaltyCouponType = strawberry.field(description="The coupon.")


@strawberry.type(name="LoyaltyCouponConnection", description="A page of coupons, newest coupon first.")
class LoyaltyCouponConnection:
    edges: list[LoyaltyCouponEdge] = strawberry.field(description="The coupons of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    count: strawberry.Private[Any]

    @strawberry.field(description="Coupons matching the status filter (one more statement, only when asked for).")
    async def total_count(self) -> int:
        return await self.count()


def _statuses(values: Optional[list[LoyaltyCouponStatus]]) -> list[str]:
    return [v.value for v in values or ()]


@strawberry.type(name="CustomerLoyalty", description="The customer's membership: number, tier, points.")
class CustomerLoyalty:
    row: strawberry.Private[LoyaltyMember]
    settings: strawberry.Private[LoyaltySettings]

    @strawberry.field(description="The membership number.")
    def member_number(self) -> str:
        return self.row.number

    @strawberry.field(description="Where the membership stands.")
    def status(self) -> LoyaltyMemberStatus:
        return LoyaltyMemberStatus[self.row.status]

    @strawberry.field(description="How the customer became a member.")
    def enrolled_via(self) -> LoyaltyEnrolmentVia:
        return LoyaltyEnrolmentVia[self.row.enrolled_via]

    @strawberry.field(description="When the customer became a member (UTC).")
    def enrolled_at(self) -> datetime:
        return self.row.enrolled_at

    @strawberry.field(description="The member's tier now.")
    def tier(self) -> LoyaltyTier:
        return _tier(self.settings, self.row.tier_code)

    @strawberry.field(description="When the member reached the tier (UTC).")
    def tier_achieved_at(self) -> datetime:
        return self.row.tier_achieved_at

    @strawberry.field(description="Balance; negative while the member owes points after a refund (redemption blocked).")
    def points(self) -> int:
        return self.row.balance

    @strawberry.field(description="Points that expire within `days` days (default 30).")
    async def points_expiring_soon(
        self, info: strawberry.Info,
        days: Annotated[int, strawberry.argument(description="The window in days, 0 to 3650 (default 30).")] = 30,
    ) -> Optional[int]:
        # Optional: a refused `days` is an error on this field alone, not a null loyalty object.
        ctx: RequestContext = info.context
        if days < 0 or days > 3650:
            raise api_error(f"days: must be between 0 and 3650, got {days}", BAD_USER_INPUT)
        gx, tenant_id, member_id = ctx.gx, ctx.tenant_id, self.row.id
        return await ctx.read(lambda s: service.points_expiring(gx.context(s, tenant_id), member_id, days))

    @strawberry.field(description="The next tier up and what is still missing; null at the top tier.")
    async def next_tier(self, info: strawberry.Info) -> Optional[LoyaltyNextTier]:
        ctx: RequestContext = info.context
        gx, tenant_id, row = ctx.gx, ctx.tenant_id, self.row
        found = await ctx.read(lambda s: service.next_tier(gx.context(s, tenant_id), row))
        return None if found is None else LoyaltyNextTier(code=found[0], remaining_to_qualify=found[1])

    @strawberry.field(description="Ledger entries, newest first (Relay cursors).")
    async def ledger(self, info: strawberry.Info, first: First = None, after: After = None,
                     last: Last = None, before: Before = None) -> LoyaltyLedgerConnection:
        ctx: RequestContext = info.context
        page, with_total = page_slice(first, after, last, before), wants_total(info)
        older, newer = _id_bounds(ctx.cursors, LEDGER, page)
        gx, tenant_id, member_id = ctx.gx, ctx.tenant_id, self.row.id

        def read(s):
            tc = gx.context(s, tenant_id)
            total = service.count_ledger(tc, member_id) if with_total else None
            return service.ledger(tc, member_id, page.size + 1, older, newer, page.backwards), total

        rows, total = await ctx.read(read)
        found = slice_page(rows, page, lambda r: LEDGER.cursor(ctx.cursors, r), total)
        return LoyaltyLedgerConnection(edges=[LoyaltyLedgerEdge(cursor=e.cursor, node=_entry(e.node)) for e in found.edges],
                                       page_info=found.page_info, total_count=total)

    @strawberry.field(description="The member's coupons, newest first, with their status now; "
                                  "`status` keeps those in any of the given statuses.")
    async def coupons(
        self, info: strawberry.Info, first: First = None, after: After = None,
        status: Annotated[Optional[list[LoyaltyCouponStatus]], strawberry.argument(
            description="Only coupons in any of these statuses (default: all).")] = None,
        last: Last = None, before: Before = None,
    ) -> LoyaltyCouponConnection:
        ctx: RequestContext = info.context
        page = page_slice(first, after, last, before)
        older, newer = _id_bounds(ctx.cursors, COUPONS, page)
        gx, tenant_id, member_id, statuses = ctx.gx, ctx.tenant_id, self.row.id, _statuses(status)
        rows = await ctx.read(lambda s: coupons.list_coupons(gx.context(s, tenant_id), member_id, statuses,
                                                             page.size + 1, older, before=newer, oldest_first=page.backwards))
        found = slice_page(rows, page, lambda c: COUPONS.cursor(ctx.cursors, c))
        edges = [LoyaltyCouponEdge(cursor=e.cursor, node=LoyaltyCouponType(coupon=e.node)) for e in found.edges]

        async def count() -> int:
            return await ctx.read(lambda s: coupons.count_coupons(gx.context(s, tenant_id), member_id, statuses))

        return LoyaltyCouponConnection(edges=edges, count=count, page_info=found.page_info)

    @strawberry.field(description="The member's tier changes, oldest first.")
    async def tier_history(self, info: strawberry.Info) -> list[LoyaltyTierChange]:
        ctx: RequestContext = info.context
        gx, tenant_id, member_id = ctx.gx, ctx.tenant_id, self.row.id
        rows = await ctx.read(lambda s: service.tier_history(gx.context(s, tenant_id), member_id))
        return [LoyaltyTierChange(from_tier=r.from_tier, to_tier=r.to_tier, why=r.why, at=r.at) for r in rows]


def _members(gx, session, tenant, ids: list[int]) -> dict[int, CustomerLoyalty]:
    from sqlalchemy import select

    settings = gx.context(session, tenant).module_settings("loyalty")
    # Plain rows (attribute access like the model's): a page's worth without ORM identity-map work.
    table = LoyaltyMember.__table__
    rows = session.execute(select(*table.c).where(table.c.tenant_id == tenant.id, table.c.customer_id.in_(ids)))
    return {row.customer_id: CustomerLoyalty(row=row, settings=settings) for row in rows}


def loyalty_batch(ctx):
    """Customer.loyalty for many customers at once (api/prefetch.py)."""
    gx, tenant = ctx.gx, ctx.principal.tenant  # the key's tenant, already loaded
    return "loyalty.members", lambda session, ids: _members(gx, session, tenant, ids)


@strawberry.type(description="The loyalty module's Customer fields.")
class LoyaltyCustomerFields:
    @strawberry.field(description="Loyalty membership; null when the customer is not a member.")
    def loyalty(self, info: strawberry.Info) -> Optional[CustomerLoyalty]:
        return info.context.customer_value(loyalty_batch, self.id)


# -- programme summary ----------------------------------------------------------------


@strawberry.type(name="LoyaltyTierCount", description="How many members a tier has.")
class LoyaltyTierCount:
    tier: LoyaltyTier = strawberry.field(description="The tier.")
    members: int = strawberry.field(description="Its members.")


LoyaltyQualifyingMetric = coded_enum("LoyaltyQualifyingMetric", "What tier thresholds measure, over the rolling 12 months.", {
    "SPEND_12M": "Net spend (purchases minus refunds), in the tenant's currency.",
    "POINTS_12M": "Points earned.",
    "PURCHASES_12M": "Number of purchases.",
})


@strawberry.type(name="LoyaltyExpiryPeriod", description="Points expiring in one period of the window.")
class LoyaltyExpiryPeriod:
    start: datetime = strawberry.field(description="The period starts after this moment (UTC).")
    end: datetime = strawberry.field(description="The period ends at this moment, included (UTC).")
    points: BigInt = strawberry.field(description="Points of open lots expiring in the period.")
    members: int = strawberry.field(description="Members holding them.")


@strawberry.type(name="LoyaltyExpiringPoints", description="Points that expire soon unless spent: how many, who holds them, "
                                                           "what they are worth, and when.")
class LoyaltyExpiringPoints:
    within_days: int = strawberry.field(description="The window, in days from now.")
    start: datetime = strawberry.field(description="Now: the window starts after this moment (UTC).")
    end: datetime = strawberry.field(description="The window ends at this moment, included (UTC).")
    points: BigInt = strawberry.field(description="Points of open lots expiring in the window.")
    members: int = strawberry.field(description="Members holding them.")
    liability: Decimal = strawberry.field(description="Those points at the redemption rate (money), as `liability`.")
    weeks: list[LoyaltyExpiryPeriod] = strawberry.field(description="The window in 7-day periods from now, earliest first; "
                                                                    "the last ends at the window's end.")


@strawberry.type(name="LoyaltyProgram", description="The programme at a glance.")
class LoyaltyProgram:
    tiers: list[LoyaltyTier] = strawberry.field(description="The programme's tiers, lowest first.")
    qualifying_metric: LoyaltyQualifyingMetric = strawberry.field(description="What the tiers' thresholds measure.")
    members_per_tier: list[LoyaltyTierCount] = strawberry.field(description="Members of each tier, lowest first.")
    points_outstanding: BigInt = strawberry.field(description="Sum of positive balances (past 32 bits in a large programme).")
    liability: Decimal = strawberry.field(description="Outstanding points at the redemption rate (money).")
    points_expiring_30_days: BigInt = strawberry.field(name="pointsExpiring30Days", description="Points that expire within 30 days.")
    redemption_rate: float = strawberry.field(description="Points redeemed / points earned.")

    @strawberry.field(description="Points of open lots expiring within `withinDays` days, the members holding them, "
                                  "their money value and the 7-day periods they expire in (two statements).")
    async def expiring_points(
        self, info: strawberry.Info,
        within_days: Annotated[int, strawberry.argument(description="The window in days from now, 1 to 366 (default 90).")] = 90,
    ) -> Optional[LoyaltyExpiringPoints]:
        # Optional: a refused window is an error on this field alone, not a null programme.
        if within_days < 1 or within_days > MAX_WITHIN_DAYS:
            raise api_error(f"withinDays: must be between 1 and {MAX_WITHIN_DAYS}, got {within_days}", BAD_USER_INPUT)
        ctx: RequestContext = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id
        found = await ctx.read(lambda s: expiring_points(gx.context(s, tenant_id), within_days))
        return LoyaltyExpiringPoints(
            within_days=found.within_days, start=found.start, end=found.end, points=found.points, members=found.members,
            liability=found.liability,
            weeks=[LoyaltyExpiryPeriod(start=p.start, end=p.end, points=p.points, members=p.members) for p in found.periods])


@strawberry.type(name="LoyaltyReward", description="A reward of the catalogue, exchanged for points (redeemReward).")
class LoyaltyRewardType:
    code: str = strawberry.field(description="The reward's code, as redeemReward takes it.")
    name_zh: str = strawberry.field(description="The reward's name in Chinese.")
    name_en: str = strawberry.field(description="The reward's name in English.")
    kind: LoyaltyRewardKind = strawberry.field(description="What the reward gives.")
    points_price: int = strawberry.field(description="Its price in points.")
    stock: Optional[int] = strawberry.field(description="How many are left; null: unlimited.")
    value: Optional[Decimal] = strawberry.field(description="What it is worth (money); null for rewards without one.")
    valid_days: int = strawberry.field(description="Days a coupon issued for it stays usable.")


def _reward(row: LoyaltyReward) -> LoyaltyRewardType:
    return LoyaltyRewardType(code=row.code, name_zh=row.name_zh, name_en=row.name_en, kind=LoyaltyRewardKind[row.kind],
                             points_price=row.points_price, stock=row.stock, value=row.value, valid_days=row.valid_days)


@strawberry.type(description="The loyalty module's queries.")
class LoyaltyQuery:
    @strawberry.field(description="Members per tier, points outstanding, liability, points expiring in 30 days, redemption rate.")
    async def loyalty_program(self, info: strawberry.Info) -> LoyaltyProgram:
        ctx: RequestContext = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id

        def work(session):
            tc = gx.context(session, tenant_id)
            return tc.module_settings("loyalty"), service.program_summary(tc)

        settings, summary = await ctx.read(work)
        return LoyaltyProgram(
            tiers=[LoyaltyTier(tier=t) for t in settings.tiers],
            qualifying_metric=LoyaltyQualifyingMetric[settings.qualifying_metric],
            members_per_tier=[LoyaltyTierCount(tier=LoyaltyTier(tier=t), members=summary["members_per_tier"][t.code])
                              for t in settings.tiers],
            points_outstanding=summary["points_outstanding"], liability=summary["liability"],
            points_expiring_30_days=summary["points_expiring_30d"], redemption_rate=summary["redemption_rate"],
        )

    @strawberry.field(description="The rewards catalogue (active rewards).")
    async def loyalty_rewards(self, info: strawberry.Info) -> list[LoyaltyRewardType]:
        ctx: RequestContext = info.context
        tenant_id = ctx.tenant_id

        def work(session):
            from sqlalchemy import select

            return [_reward(r) for r in session.execute(select(LoyaltyReward).where(
                LoyaltyReward.tenant_id == tenant_id, LoyaltyReward.active == True)  # noqa: E712
                .order_by(LoyaltyReward.code)).scalars()]

        return await ctx.read(work)


# -- mutations --------------------------------------------------------------------------


@strawberry.input(name="EnrollMemberInput", description="A customer to enrol in the loyalty programme.")
class EnrollMemberInput:
    customer_id: strawberry.ID = strawberry.field(description="The Customer to enrol.")
    via: LoyaltyEnrolmentVia = strawberry.field(default=LoyaltyEnrolmentVia.APPLICATION, description="How (default APPLICATION).")
    referrer_id: Optional[strawberry.ID] = strawberry.field(default=None, description="The member (a Customer id) who invited them.")


@strawberry.input(name="RedeemPointsInput", description="Points to pay part of an order with.")
class RedeemPointsInput:
    customer_id: strawberry.ID = strawberry.field(description="The member (a Customer id).")
    points: int = strawberry.field(description="Points to spend, positive.")
    order_amount: Decimal = strawberry.field(description="The order's amount (money): points pay at most half of it.")
    order_ref: Optional[str] = strawberry.field(default=None, description="Your reference of the order.")
    idempotency_key: Optional[str] = strawberry.field(default=None, description="Retries with the same key apply once.")


@strawberry.input(name="RedeemRewardInput", description="A catalogue reward to exchange points for.")
class RedeemRewardInput:
    customer_id: strawberry.ID = strawberry.field(description="The member (a Customer id).")
    reward_code: str = strawberry.field(description="The reward's code (see loyaltyRewards).")
    idempotency_key: Optional[str] = strawberry.field(default=None, description="Retries with the same key apply once.")


@strawberry.input(name="AdjustPointsInput", description="An admin's correction of a member's balance.")
class AdjustPointsInput:
    customer_id: strawberry.ID = strawberry.field(description="The member (a Customer id).")
    points: int = strawberry.field(description="Positive adds a lot, negative spends (never below zero).")
    reason: str = strawberry.field(description="Why, required; kept in the ledger with the actor.")
    idempotency_key: Optional[str] = strawberry.field(default=None, description="Retries with the same key apply once.")


@strawberry.input(name="CreateRewardInput", description="A new reward for the catalogue.")
class CreateRewardInput:
    code: str = strawberry.field(description="The reward's code, unique in the tenant.")
    name_zh: str = strawberry.field(description="Its name in Chinese.")
    name_en: str = strawberry.field(description="Its name in English.")
    kind: LoyaltyRewardKind = strawberry.field(description="What it gives.")
    points_price: int = strawberry.field(description="Its price in points, positive.")
    stock: Optional[int] = strawberry.field(default=None, description="How many there are; null: unlimited.")
    value: Optional[Decimal] = strawberry.field(default=None, description="What it is worth (money), for COUPON and ORDER_DISCOUNT.")
    valid_days: int = strawberry.field(default=90, description="Days a coupon issued for it stays usable (default 90).")


@strawberry.input(name="UseCouponInput", description="A coupon used at checkout.")
class UseCouponInput:
    code: str = strawberry.field(description="The coupon's code.")
    order_ref: Optional[str] = strawberry.field(
        default=None, description="The order it pays for; a retry with the same orderRef is replayed, not refused.")


@strawberry.input(name="VoidCouponInput", description="An unused coupon to withdraw.")
class VoidCouponInput:
    code: str = strawberry.field(description="The coupon's code.")
    reason: str = strawberry.field(description="Required; kept on the coupon.")


@strawberry.type(name="UseCouponPayload", description="The result of useCoupon.")
class UseCouponPayload:
    coupon: Optional[LoyaltyCouponType] = strawberry.field(default=None, description="The coupon, now USED.")
    replayed: bool = strawberry.field(default=False, description="The coupon was already used for this orderRef: "
                                                                 "nothing was applied again.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="VoidCouponPayload", description="The result of voidCoupon.")
class VoidCouponPayload:
    coupon: Optional[LoyaltyCouponType] = strawberry.field(default=None, description="The coupon, now VOIDED.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="LoyaltyRedemption", description="What a redemption or adjustment did to the balance.")
class LoyaltyRedemption:
    entry_id: strawberry.ID = strawberry.field(description="The ledger entry written (a LoyaltyLedgerEntry id).")
    points: int = strawberry.field(description="Points taken (negative: added).")
    balance: int = strawberry.field(description="The balance after it.")
    value: Decimal = strawberry.field(description="Money the points paid for.")
    coupon_code: Optional[str] = strawberry.field(description="The coupon issued, for a reward; null otherwise.")
    replayed: bool = strawberry.field(description="The idempotency key had been used: nothing was applied again.")
    entry_pk: strawberry.Private[int] = 0

    @strawberry.field(description="The ledger entry written (the first one, for a replayed request).")
    async def entry(self, info: strawberry.Info) -> Optional[LoyaltyLedgerEntryType]:
        return await load_ledger_entry(info, self.entry_pk)


@strawberry.type(name="EnrollMemberPayload", description="The result of enrollMember.")
class EnrollMemberPayload:
    loyalty: Optional[CustomerLoyalty] = strawberry.field(default=None, description="The new membership.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="LoyaltyRedemptionPayload", description="The result of a points mutation.")
class LoyaltyRedemptionPayload:
    redemption: Optional[LoyaltyRedemption] = strawberry.field(default=None, description="What was done.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(name="CreateRewardPayload", description="The result of createReward.")
class CreateRewardPayload:
    reward: Optional[LoyaltyRewardType] = strawberry.field(default=None, description="The reward created.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


def _customer(value: Any, field: str = "customer_id") -> int:
    pk = decode_id(value, "Customer")
    if pk is None:
        raise ValidationFailed([FieldError(field, "not a Customer id", "NOT_FOUND")])
    return pk


def _redemption(r: service.Redemption) -> dict:
    return {"redemption": LoyaltyRedemption(
        entry_id=strawberry.ID(to_global_id("LoyaltyLedgerEntry", r.entry_id)), points=r.points, balance=r.balance,
        value=r.value, coupon_code=r.coupon_code, replayed=r.replayed, entry_pk=r.entry_id)}


@strawberry.type(description="The loyalty module's mutations.")
class LoyaltyMutation:
    @strawberry.mutation(description="Enrol a customer (APPLICATION or INVITATION, with the referrer).")
    async def enroll_member(self, info: strawberry.Info, input: Annotated[EnrollMemberInput, INPUT]) -> EnrollMemberPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.AGENT, "enrolling members")

        def work(tc):
            cid = _customer(input.customer_id)
            referrer = _customer(input.referrer_id, "referrer_id") if input.referrer_id else None
            row = service.enroll(tc, cid, input.via.value, referrer)
            return {"loyalty": CustomerLoyalty(row=row, settings=service.settings_of(tc))}

        return EnrollMemberPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Pay part of an order with points (100 points = 1 unit, at most 50 % of it).")
    async def redeem_points(self, info: strawberry.Info, input: Annotated[RedeemPointsInput, INPUT]) -> LoyaltyRedemptionPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.AGENT, "redeeming points")
        return LoyaltyRedemptionPayload(**await guarded(ctx, lambda tc: _redemption(service.redeem_points(
            tc, _customer(input.customer_id), input.points, input.order_amount, input.order_ref, input.idempotency_key))))

    @strawberry.mutation(description="Exchange points for a catalogue reward; issues a coupon code.")
    async def redeem_reward(self, info: strawberry.Info, input: Annotated[RedeemRewardInput, INPUT]) -> LoyaltyRedemptionPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.AGENT, "redeeming rewards")
        return LoyaltyRedemptionPayload(**await guarded(ctx, lambda tc: _redemption(service.redeem_reward(
            tc, _customer(input.customer_id), input.reward_code, input.idempotency_key))))

    @strawberry.mutation(description="Use a coupon at checkout. Errors on `code`: NOT_FOUND, COUPON_USED, "
                                     "COUPON_VOIDED, COUPON_EXPIRED, COUPON_NOT_YET_VALID.")
    async def use_coupon(self, info: strawberry.Info, input: Annotated[UseCouponInput, INPUT]) -> UseCouponPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.AGENT, "using coupons")

        def work(tc):
            used = coupons.use_coupon(tc, input.code, input.order_ref)
            return {"coupon": LoyaltyCouponType(coupon=used), "replayed": used.replayed}

        return UseCouponPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Withdraw an unused coupon (reason required); the points are not given back.")
    async def void_coupon(self, info: strawberry.Info, input: Annotated[VoidCouponInput, INPUT]) -> VoidCouponPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.ADMIN, "voiding coupons")
        return VoidCouponPayload(**await guarded(ctx, lambda tc: {"coupon": LoyaltyCouponType(
            coupon=coupons.void_coupon(tc, input.code, input.reason))}))

    @strawberry.mutation(description="Admin correction of a balance; a reason is required and logged with the actor.")
    async def adjust_points(self, info: strawberry.Info, input: Annotated[AdjustPointsInput, INPUT]) -> LoyaltyRedemptionPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.ADMIN, "adjusting points")
        return LoyaltyRedemptionPayload(**await guarded(ctx, lambda tc: _redemption(service.adjust_points(
            tc, _customer(input.customer_id), input.points, input.reason, input.idempotency_key))))

    @strawberry.mutation(description="Add a reward to the catalogue.")
    async def create_reward(self, info: strawberry.Info, input: Annotated[CreateRewardInput, INPUT]) -> CreateRewardPayload:
        ctx: RequestContext = info.context
        ctx.require(Role.ADMIN, "creating rewards")
        return CreateRewardPayload(**await guarded(ctx, lambda tc: {"reward": _reward(service.create_reward(
            tc, input.code, input.name_zh, input.name_en, input.kind.value, input.points_price, input.stock, input.value,
            input.valid_days))}))
