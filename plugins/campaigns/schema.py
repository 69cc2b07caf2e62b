"""The campaigns module's GraphQL: saved segments (with their live count and a
preview page through the ``customers`` connection), campaigns with their plan,
life cycle, launch and report.

Mutations take one ``input`` and return ``{campaignSegment | campaign, errors}``:
expected failures (a filter field of a module the tenant has not enabled,
an unknown channel, an offer without loyalty, an illegal transition, a
launch without a segment) come back as ``errors { field message code }``.
A segment's filter is ``where``: the JSON of a ``CustomerWhere``, exactly
the variables a ``customers(where:)`` query takes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Optional

import strawberry
from sqlalchemy import func, select
from strawberry.scalars import JSON

from api import queries
from api.errors import BAD_USER_INPUT, api_error
from api.ids import decode_id, to_global_id
from api.enums import coded_enum
from api.mutations import guarded
from api.pagination import Keyset, page_slice, slice_page, wants_total
from api.references import CURRENT_CORE
from api.types import ERRORS, INPUT, After, Before, Error, First, Last, Node, PageInfo
from engine.enums import Role
from engine.errors import FieldError, GuanxiError, ValidationFailed
from plugins.campaigns import evaluation, segments, service
from plugins.campaigns.lifecycle import State
from plugins.campaigns.models import Campaign, CampaignSegment, CampaignTransition
from plugins.campaigns.uplift import Estimate

CampaignGoal = coded_enum("CampaignGoal", "What a campaign is for (the texts' three goals).", {
    "AWARENESS": "Make the brand or an offer known (知名度).",
    "SALES": "Sell: purchases in the attribution window are its measure.",
    "SATISFACTION": "Care for customers: satisfaction is its measure.",
})
CampaignChannel = coded_enum("CampaignChannel", "A channel messages go out on (through the tenant's own provider).", {
    "SMS": "Text message to the customer's phone (consent key SMS).",
    "EMAIL": "Email (consent key EMAIL).",
    "WECHAT": "WeChat message (consent key WECHAT).",
    "APP_PUSH": "Push notification of the tenant's app (consent key APP).",
    "PHONE": "A call by staff (consent key PHONE).",
})
CampaignState = coded_enum("CampaignState", "Where a campaign is in its life cycle (docs/campaigns.md).", {
    s.name: f"{s.en} ({s.zh})." for s in State
})
CampaignOfferKind = coded_enum("CampaignOfferKind", "What a campaign offers (loyalty module).", {
    "REWARD": "A reward of the loyalty catalogue, exchanged for points.",
    "COUPON": "A coupon reward of the loyalty catalogue.",
    "POINTS_BONUS": "Bonus points, credited when the provider reports the offer redeemed.",
})
CampaignExclusionReason = coded_enum("CampaignExclusionReason", "Why a segment member got no message at launch.", {
    "NO_CONSENT": "No consent on any of the campaign's channels.",
    "FREQUENCY_CAP": "Already sent the tenant's frequency cap of messages in its frequency window.",
})


def _gid(type_name: str, pk: int | None) -> Optional[strawberry.ID]:
    return None if pk is None else strawberry.ID(to_global_id(type_name, pk))


def _invalid(error: GuanxiError):
    return api_error(str(error), BAD_USER_INPUT)


# -- segments -------------------------------------------------------------------------


@strawberry.type(name="CampaignSegment", description="A saved, dynamic segment: a customers(where:) filter with a name.")
class CampaignSegmentType(Node):
    row: strawberry.Private[CampaignSegment]

    @strawberry.field(description="The segment's global id.")
    def id(self) -> strawberry.ID:
        return _gid("CampaignSegment", self.row.id)

    @strawberry.field(description="Its name, unique in the tenant.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="What it is for.")
    def description(self) -> Optional[str]:
        return self.row.description

    @strawberry.field(description="The filter: a CustomerWhere as JSON, as customers(where:) takes it.")
    def where(self) -> JSON:
        return self.row.where or {}

    @strawberry.field(description="Live customers matching it now.")
    async def member_count(self, info: strawberry.Info) -> int:
        ctx, where = info.context, self.row.where

        def count(session):
            try:
                return segments.count_members(ctx.gx.context(session, ctx.tenant_id), where)
            except ValidationFailed as error:
                raise _invalid(error) from None

        return await ctx.read(count)

    @strawberry.field(description="A preview: the matching customers, newest first (first ≤ 100), as customers(where:) pages them.")
    async def customers(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                        before: Before = None) -> Annotated["CustomerConnection", strawberry.lazy(CURRENT_CORE)]:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        parser, modules = segments.parser_for(ctx.gx.plugins), ctx.principal.modules
        try:
            where = parser.parse(modules, self.row.where or None)
        except ValidationFailed as error:
            raise _invalid(error) from None
        filters = parser.plugin_filters(modules)
        return await ctx.read(lambda s: queries.customers_page(s, ctx.tenant_id, ctx.cursors, page, total, where,
                                                               None, None, filters))

    @strawberry.field(description="When it was saved first (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When it was last changed (UTC).")
    def updated_at(self) -> datetime:
        return self.row.updated_at


async def load_segment(info: strawberry.Info, pk: int) -> Optional[CampaignSegmentType]:
    ctx = info.context
    row = await ctx.read(lambda s: s.get(CampaignSegment, pk))
    return CampaignSegmentType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.type(name="CampaignSegmentEdge", description="A segment in a page, with its cursor.")
class CampaignSegmentEdge:
    cursor: str = strawberry.field(description="The position of this segment, for `after`.")
    node: CampaignSegmentType = strawberry.field(description="The segment.")


@strawberry.type(name="CampaignSegmentConnection", description="A page of saved segments, newest first.")
class CampaignSegmentConnection:
    edges: list[CampaignSegmentEdge] = strawberry.field(description="The segments of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: Optional[int] = strawberry.field(description="Segments in all (counted only when selected).")


# -- campaigns ------------------------------------------------------------------------


@strawberry.type(name="CampaignExclusion", description="Members of the snapshot who got no message, by reason.")
class CampaignExclusion:
    reason: CampaignExclusionReason = strawberry.field(description="Why.")
    count: int = strawberry.field(description="How many customers (held out or not).")


@strawberry.type(name="CampaignOffer", description="What the campaign offers its targeted customers.")
class CampaignOffer:
    kind: CampaignOfferKind = strawberry.field(description="Reward, coupon or points bonus.")
    reward_code: Optional[str] = strawberry.field(description="The loyalty reward's code (REWARD, COUPON).")
    points: Optional[int] = strawberry.field(description="The bonus points (POINTS_BONUS).")


@strawberry.type(name="CampaignTransition", description="A move of a campaign from one state to another.")
class CampaignTransitionType:
    row: strawberry.Private[CampaignTransition]

    @strawberry.field(description="The state before.")
    def from_state(self) -> CampaignState:
        return CampaignState[State(self.row.from_state).name]

    @strawberry.field(description="The state after.")
    def to_state(self) -> CampaignState:
        return CampaignState[State(self.row.to_state).name]

    @strawberry.field(description="Who moved it (an actor, as in audit events).")
    def actor(self) -> str:
        return self.row.actor

    @strawberry.field(description="The note given with it.")
    def note(self) -> Optional[str]:
        return self.row.note

    @strawberry.field(description="When (UTC).")
    def at(self) -> datetime:
        return self.row.at


@strawberry.type(name="CampaignGroupResult", description="One group's results in the attribution window.")
class CampaignGroupResult:
    customers: int = strawberry.field(description="Eligible members in the group (exclusions left out).")
    converted: int = strawberry.field(description="Those with at least one purchase in the window.")
    conversion_rate: Optional[float] = strawberry.field(description="converted / customers; null without customers.")
    revenue: float = strawberry.field(description="Their purchases' amounts in the window.")
    revenue_per_customer: Optional[float] = strawberry.field(description="revenue / customers (non-buyers count as 0).")


@strawberry.type(name="CampaignUplift", description="Targeted minus holdout, with a 95% interval and a two-sided test.")
class CampaignUplift:
    estimate: Optional[float] = strawberry.field(description="The difference; null when a group has fewer than 30 customers.")
    low: Optional[float] = strawberry.field(description="The 95% interval's lower end.")
    high: Optional[float] = strawberry.field(description="The 95% interval's upper end.")
    p_value: Optional[float] = strawberry.field(description="The test's two-sided p-value (no difference as the null).")
    test: str = strawberry.field(description="Which test and interval (docs/campaigns.md).")


@strawberry.type(name="CampaignParticipation", description="Messages sent and what providers reported back.")
class CampaignParticipation:
    sent: int = strawberry.field(description="Messages sent.")
    delivered: int = strawberry.field(description="Reported delivered (or opened, or redeemed).")
    opened: int = strawberry.field(description="Reported opened.")
    redeemed: int = strawberry.field(description="Reported redeemed (the offer used).")
    failed: int = strawberry.field(description="Reported failed.")


@strawberry.type(name="CampaignSatisfaction", description="A group's overall-satisfaction answers (1–5) in the attribution window.")
class CampaignSatisfaction:
    responses: int = strawberry.field(description="Answers with an overall score from the group's members in the window.")
    mean_score: Optional[float] = strawberry.field(description="Their mean overall score, 1 to 5; null without answers.")
    satisfied_share: Optional[float] = strawberry.field(description="Share scoring 4 or 5 (top-2-box); null without answers.")


@strawberry.type(name="CampaignReport", description="A campaign's evaluation: participation, conversion and revenue, uplift over the holdout.")
class CampaignReport:
    launched: bool = strawberry.field(description="false before launch: every figure is then empty.")
    window_start: Optional[datetime] = strawberry.field(description="The attribution window's start: the launch (UTC).")
    window_end: Optional[datetime] = strawberry.field(description="Its end, exclusive: launch + attributionDays.")
    participation: CampaignParticipation = strawberry.field(description="Messages and receipts.")
    targeted: CampaignGroupResult = strawberry.field(description="The members who got the message.")
    holdout: CampaignGroupResult = strawberry.field(description="The control group, held out at random.")
    conversion_uplift: CampaignUplift = strawberry.field(description="Conversion rate, targeted minus holdout.")
    revenue_uplift: CampaignUplift = strawberry.field(description="Revenue per customer, targeted minus holdout.")
    targeted_satisfaction: Optional[CampaignSatisfaction] = strawberry.field(
        description="The targeted members' satisfaction answers in the window; null when the satisfaction module is off.")
    holdout_satisfaction: Optional[CampaignSatisfaction] = strawberry.field(
        description="The holdout's satisfaction answers in the window; null when the satisfaction module is off.")


def _group(g: evaluation.Group) -> CampaignGroupResult:
    return CampaignGroupResult(customers=g.customers, converted=g.converted, conversion_rate=g.conversion_rate,
                               revenue=round(g.revenue, 2), revenue_per_customer=g.revenue_per_customer)


def _uplift(e: Estimate) -> CampaignUplift:
    return CampaignUplift(estimate=e.estimate, low=e.low, high=e.high, p_value=e.p_value, test=e.test)


def report_type(r: evaluation.Report) -> CampaignReport:
    return CampaignReport(launched=r.launched, window_start=r.window_start, window_end=r.window_end,
                          participation=CampaignParticipation(**r.participation.__dict__),
                          targeted=_group(r.targeted), holdout=_group(r.holdout),
                          conversion_uplift=_uplift(r.conversion_uplift), revenue_uplift=_uplift(r.revenue_uplift),
                          targeted_satisfaction=None if r.satisfaction is None else CampaignSatisfaction(**r.satisfaction[False].__dict__),
                          holdout_satisfaction=None if r.satisfaction is None else CampaignSatisfaction(**r.satisfaction[True].__dict__))


@strawberry.type(name="Campaign", description="A marketing campaign (营销活动): plan, target segment, life cycle and results.")
class CampaignType(Node):
    row: strawberry.Private[Campaign]

    @strawberry.field(description="The campaign's global id.")
    def id(self) -> strawberry.ID:
        return _gid("Campaign", self.row.id)

    @strawberry.field(description="Its name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="What it is for.")
    def goal(self) -> CampaignGoal:
        return CampaignGoal[self.row.goal]

    @strawberry.field(description="Where it is in its life cycle.")
    def state(self) -> CampaignState:
        return CampaignState[State(self.row.state).name]

    @strawberry.field(description="The plan's theme (主题).")
    def theme(self) -> Optional[str]:
        return self.row.theme

    @strawberry.field(description="The plan's content: the message text.")
    def content(self) -> Optional[str]:
        return self.row.content

    @strawberry.field(description="The plan's format (形式): a sale, a tasting, a member day...")
    def format(self) -> Optional[str]:
        return self.row.format

    @strawberry.field(description="The plan's place (地点): stores, online...")
    def place(self) -> Optional[str]:
        return self.row.place

    @strawberry.field(description="The plan's time window: start (UTC).")
    def starts_at(self) -> Optional[datetime]:
        return self.row.starts_at

    @strawberry.field(description="The plan's time window: end (UTC).")
    def ends_at(self) -> Optional[datetime]:
        return self.row.ends_at

    @strawberry.field(description="Who is responsible for it.")
    def owner(self) -> Optional[str]:
        return self.row.owner

    @strawberry.field(description="Its budget, in the tenant's currency.")
    def budget(self) -> Optional[Decimal]:
        return None if self.row.budget is None else Decimal(str(self.row.budget)).quantize(Decimal("0.01"))

    @strawberry.field(description="Its channels, in order of preference: each customer gets the first they consented to.")
    def channels(self) -> list[CampaignChannel]:
        return [CampaignChannel[c] for c in self.row.channels or []]

    @strawberry.field(description="What it offers; null for none.")
    def offer(self) -> Optional[CampaignOffer]:
        offer = self.row.offer or {}
        if not offer:
            return None
        return CampaignOffer(kind=CampaignOfferKind[offer["kind"]], reward_code=offer.get("reward_code"), points=offer.get("points"))

    @strawberry.field(description="The target segment; null when none is chosen yet or it was deleted.")
    async def segment(self, info: strawberry.Info) -> Optional[CampaignSegmentType]:
        return None if self.row.segment_id is None else await load_segment(info, self.row.segment_id)

    @strawberry.field(description="Share of the segment held out as the control group (0–0.5).")
    def holdout_share(self) -> float:
        return self.row.holdout_share

    @strawberry.field(description="The seed of the holdout draw: the same seed and members give the same group.")
    def holdout_seed(self) -> int:
        return self.row.holdout_seed

    @strawberry.field(description="Days from launch whose purchases count for it.")
    def attribution_days(self) -> int:
        return self.row.attribution_days

    @strawberry.field(description="When it was launched (UTC); null before.")
    def launched_at(self) -> Optional[datetime]:
        return self.row.launched_at

    @strawberry.field(description="Customers in the segment's snapshot at launch.")
    def member_count(self) -> int:
        return self.row.members

    @strawberry.field(description="Of them, held out (the control group, exclusions included).")
    def held_out_count(self) -> int:
        return self.row.held_out

    @strawberry.field(description="Messages sent at launch.")
    def sent_count(self) -> int:
        return self.row.targeted

    @strawberry.field(description="Members who got no message, by reason.")
    def exclusions(self) -> list[CampaignExclusion]:
        return [CampaignExclusion(reason=CampaignExclusionReason[k], count=v) for k, v in sorted((self.row.exclusions or {}).items())]

    @strawberry.field(description="Every move between states, oldest first.")
    async def transitions(self, info: strawberry.Info) -> list[CampaignTransitionType]:
        ctx, cid = info.context, self.row.id
        rows = await ctx.read(lambda s: s.execute(select(CampaignTransition).where(
            CampaignTransition.tenant_id == ctx.tenant_id, CampaignTransition.campaign_id == cid)
            .order_by(CampaignTransition.id)).scalars().all())
        return [CampaignTransitionType(row=r) for r in rows]

    @strawberry.field(description="The evaluation: participation, conversion and revenue in the window, uplift over the holdout.")
    async def report(self, info: strawberry.Info) -> CampaignReport:
        ctx, row = info.context, self.row
        result = await ctx.read(lambda s: evaluation.campaign_report(ctx.gx.context(s, ctx.tenant_id), row))
        return report_type(result)

    @strawberry.field(description="When it was created (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at


async def load_campaign(info: strawberry.Info, pk: int) -> Optional[CampaignType]:
    ctx = info.context
    row = await ctx.read(lambda s: s.get(Campaign, pk))
    return CampaignType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.type(name="CampaignEdge", description="A campaign in a page, with its cursor.")
class CampaignEdge:
    cursor: str = strawberry.field(description="The position of this campaign, for `after`.")
    node: CampaignType = strawberry.field(description="The campaign.")


@strawberry.type(name="CampaignConnection", description="A page of campaigns, newest first.")
class CampaignConnection:
    edges: list[CampaignEdge] = strawberry.field(description="The campaigns of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: Optional[int] = strawberry.field(description="Campaigns matching (counted only when selected).")


SEGMENTS = Keyset("CAMPAIGN_SEGMENT:ID:DESC", CampaignSegment.id, True)
CAMPAIGNS = Keyset("CAMPAIGN:ID:DESC", Campaign.id, True)


def _list(session, model, keyset: Keyset, conditions: list, cursors, page, with_total: bool):
    total = session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one() if with_total else None
    rows = session.execute(select(model).where(*conditions, *keyset.conditions(cursors, page))
                           .order_by(*keyset.order_by(page.backwards)).limit(page.size + 1)).scalars().all()
    return slice_page(rows, page, lambda r: keyset.cursor(cursors, r), total)


def _pk(value: Any, type_name: str, field: str = "id") -> int:
    pk = decode_id(value, type_name)
    if pk is None:
        raise ValidationFailed([FieldError(field, f"not a {type_name} id", "NOT_FOUND")])
    return pk


ID_ARG = Annotated[strawberry.ID, strawberry.argument(description="The global id.")]


@strawberry.type(description="The campaigns module's queries.")
class CampaignsQuery:
    @strawberry.field(description="Saved segments, newest first (first ≤ 100).")
    async def campaign_segments(self, info: strawberry.Info, first: First = None, after: After = None,
                                last: Last = None, before: Before = None) -> CampaignSegmentConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        found = await ctx.read(lambda s: _list(s, CampaignSegment, SEGMENTS, [CampaignSegment.tenant_id == ctx.tenant_id],
                                               ctx.cursors, page, total))
        return CampaignSegmentConnection(edges=[CampaignSegmentEdge(cursor=e.cursor, node=CampaignSegmentType(row=e.node))
                                                for e in found.edges], page_info=found.page_info, total_count=found.total_count)

    @strawberry.field(description="One saved segment; null when not in this tenant.")
    async def campaign_segment(self, info: strawberry.Info, id: ID_ARG) -> Optional[CampaignSegmentType]:
        pk = decode_id(id, "CampaignSegment")
        return None if pk is None else await load_segment(info, pk)

    @strawberry.field(description="Campaigns, newest first (first ≤ 100).")
    async def campaigns(self, info: strawberry.Info, first: First = None, after: After = None,
                        state: Annotated[Optional[list[CampaignState]], strawberry.argument(
                            description="Only campaigns in these states.")] = None,
                        last: Last = None, before: Before = None) -> CampaignConnection:
        ctx = info.context
        page, total = page_slice(first, after, last, before), wants_total(info)
        conditions = [Campaign.tenant_id == ctx.tenant_id]
        if state:
            conditions.append(Campaign.state.in_([State[s.name].value for s in state]))
        found = await ctx.read(lambda s: _list(s, Campaign, CAMPAIGNS, conditions, ctx.cursors, page, total))
        return CampaignConnection(edges=[CampaignEdge(cursor=e.cursor, node=CampaignType(row=e.node)) for e in found.edges],
                                  page_info=found.page_info, total_count=found.total_count)

    @strawberry.field(description="One campaign; null when not in this tenant.")
    async def campaign(self, info: strawberry.Info, id: ID_ARG) -> Optional[CampaignType]:
        pk = decode_id(id, "Campaign")
        return None if pk is None else await load_campaign(info, pk)


# -- mutations --------------------------------------------------------------------------


@strawberry.input(name="SaveCampaignSegmentInput", description="A segment to create, or (with id) to replace.")
class SaveCampaignSegmentInput:
    id: Optional[strawberry.ID] = strawberry.field(default=None, description="The segment to replace; omit to create one.")
    name: str = strawberry.field(description="Its name, unique in the tenant.")
    where: JSON = strawberry.field(description="The filter: a CustomerWhere as JSON, e.g. {\"rfm\": {\"segment\": {\"eq\": \"CHAMPIONS\"}}}; "
                                               "{} matches every customer.")
    description: Optional[str] = strawberry.field(default=None, description="What it is for.")


@strawberry.type(name="CampaignSegmentPayload", description="The result of saveCampaignSegment.")
class CampaignSegmentPayload:
    campaign_segment: Optional[CampaignSegmentType] = strawberry.field(default=None, description="The segment; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(name="CampaignOfferInput", description="What a campaign offers (the loyalty module must be on).")
class CampaignOfferInput:
    kind: CampaignOfferKind = strawberry.field(description="Reward, coupon or points bonus.")
    reward_code: Optional[str] = strawberry.field(default=None, description="REWARD and COUPON: the loyalty reward's code.")
    points: Optional[int] = strawberry.field(default=None, description="POINTS_BONUS: the points.")


PLAN = {
    "theme": "The theme (主题).", "content": "The message text.", "format": "The format (形式).",
    "place": "The place (地点).", "owner": "Who is responsible.",
}


@strawberry.input(name="CreateCampaignInput", description="A new campaign, in PREPARATION.")
class CreateCampaignInput:
    name: str = strawberry.field(description="Its name.")
    goal: CampaignGoal = strawberry.field(description="What it is for.")
    channels: list[CampaignChannel] = strawberry.field(description="Channels in order of preference (at least one).")
    segment_id: Optional[strawberry.ID] = strawberry.field(default=None, description="The target CampaignSegment (needed to launch).")
    theme: Optional[str] = strawberry.field(default=None, description=PLAN["theme"])
    content: Optional[str] = strawberry.field(default=None, description=PLAN["content"])
    format: Optional[str] = strawberry.field(default=None, description=PLAN["format"])
    place: Optional[str] = strawberry.field(default=None, description=PLAN["place"])
    starts_at: Optional[datetime] = strawberry.field(default=None, description="The time window's start.")
    ends_at: Optional[datetime] = strawberry.field(default=None, description="The time window's end.")
    owner: Optional[str] = strawberry.field(default=None, description=PLAN["owner"])
    budget: Optional[Decimal] = strawberry.field(default=None, description="The budget (≥ 0).")
    offer: Optional[CampaignOfferInput] = strawberry.field(default=None, description="What it offers; omit for none.")
    holdout_share: Optional[float] = strawberry.field(default=None, description="Share held out, 0–0.5 (default: the tenant's setting, 0.1).")
    holdout_seed: Optional[int] = strawberry.field(default=None, description="The holdout draw's seed (default: random).")
    attribution_days: Optional[int] = strawberry.field(default=None, description="The attribution window in days (default: the tenant's setting).")


@strawberry.input(name="UpdateCampaignInput", description="Changes to a campaign's plan before launch; omitted fields stay.")
class UpdateCampaignInput:
    id: strawberry.ID = strawberry.field(description="The campaign.")
    name: Optional[str] = strawberry.field(default=None, description="Its name.")
    goal: Optional[CampaignGoal] = strawberry.field(default=None, description="What it is for.")
    channels: Optional[list[CampaignChannel]] = strawberry.field(default=None, description="Channels in order of preference.")
    segment_id: Optional[strawberry.ID] = strawberry.field(default=None, description="The target CampaignSegment.")
    theme: Optional[str] = strawberry.field(default=None, description=PLAN["theme"])
    content: Optional[str] = strawberry.field(default=None, description=PLAN["content"])
    format: Optional[str] = strawberry.field(default=None, description=PLAN["format"])
    place: Optional[str] = strawberry.field(default=None, description=PLAN["place"])
    starts_at: Optional[datetime] = strawberry.field(default=None, description="The time window's start.")
    ends_at: Optional[datetime] = strawberry.field(default=None, description="The time window's end.")
    owner: Optional[str] = strawberry.field(default=None, description=PLAN["owner"])
    budget: Optional[Decimal] = strawberry.field(default=None, description="The budget (≥ 0).")
    offer: Optional[CampaignOfferInput] = strawberry.field(default=None, description="What it offers.")
    holdout_share: Optional[float] = strawberry.field(default=None, description="Share held out, 0–0.5.")
    attribution_days: Optional[int] = strawberry.field(default=None, description="The attribution window in days.")


@strawberry.input(name="LaunchCampaignInput", description="A campaign to launch.")
class LaunchCampaignInput:
    id: strawberry.ID = strawberry.field(description="The campaign (in PREPARATION or PROMOTION, with a segment).")


@strawberry.input(name="TransitionCampaignInput", description="A campaign to move to another state.")
class TransitionCampaignInput:
    id: strawberry.ID = strawberry.field(description="The campaign.")
    to: CampaignState = strawberry.field(description="The new state (EXECUTION only by launchCampaign).")
    note: Optional[str] = strawberry.field(default=None, description="A note for the timeline.")


@strawberry.type(name="CampaignPayload", description="The result of a campaign mutation.")
class CampaignPayload:
    campaign: Optional[CampaignType] = strawberry.field(default=None, description="The campaign after the change; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


def _plan(input: Any, tc) -> dict:
    data: dict[str, Any] = {}
    for name in ("name", "theme", "content", "format", "place", "owner", "starts_at", "ends_at", "budget",
                 "holdout_share", "attribution_days", "holdout_seed"):
        value = getattr(input, name, None)
        if value is not None:
            data[name] = value
    if getattr(input, "goal", None) is not None:
        data["goal"] = input.goal.value
    if getattr(input, "channels", None) is not None:
        data["channels"] = [c.value for c in input.channels]
    if getattr(input, "segment_id", None) is not None:
        data["segment_id"] = _pk(input.segment_id, "CampaignSegment", "segment_id")
    if getattr(input, "offer", None) is not None:
        data["offer"] = {"kind": input.offer.kind.value, "reward_code": input.offer.reward_code, "points": input.offer.points}
    return data


@strawberry.type(description="The campaigns module's mutations.")
class CampaignsMutation:
    @strawberry.mutation(description="Save a segment (the filter is checked against the tenant's modules).")
    async def save_campaign_segment(self, info: strawberry.Info,
                                    input: Annotated[SaveCampaignSegmentInput, INPUT]) -> CampaignSegmentPayload:
        ctx = info.context
        ctx.require(Role.ANALYST, "saving segments")

        def work(tc):
            segment_id = None if input.id is None else _pk(input.id, "CampaignSegment")
            row = segments.save_segment(tc, input.name, input.where, input.description, segment_id)
            return {"campaign_segment": CampaignSegmentType(row=row)}

        return CampaignSegmentPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Create a campaign in PREPARATION.")
    async def create_campaign(self, info: strawberry.Info, input: Annotated[CreateCampaignInput, INPUT]) -> CampaignPayload:
        ctx = info.context
        ctx.require(Role.AGENT, "creating campaigns")
        return CampaignPayload(**await guarded(
            ctx, lambda tc: {"campaign": CampaignType(row=service.create_campaign(tc, _plan(input, tc)))}))

    @strawberry.mutation(description="Change a campaign's plan (before launch).")
    async def update_campaign(self, info: strawberry.Info, input: Annotated[UpdateCampaignInput, INPUT]) -> CampaignPayload:
        ctx = info.context
        ctx.require(Role.AGENT, "changing campaigns")
        return CampaignPayload(**await guarded(ctx, lambda tc: {"campaign": CampaignType(
            row=service.update_campaign(tc, _pk(input.id, "Campaign"), _plan(input, tc)))}))

    @strawberry.mutation(description="Launch: snapshot the segment, hold out the control group, apply consent and the "
                                     "frequency cap, send; the campaign moves to EXECUTION.")
    async def launch_campaign(self, info: strawberry.Info, input: Annotated[LaunchCampaignInput, INPUT]) -> CampaignPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "launching campaigns")
        return CampaignPayload(**await guarded(
            ctx, lambda tc: {"campaign": CampaignType(row=service.launch(tc, _pk(input.id, "Campaign")))}))

    @strawberry.mutation(description="Move a campaign along its life cycle (checked), or cancel it.")
    async def transition_campaign(self, info: strawberry.Info,
                                  input: Annotated[TransitionCampaignInput, INPUT]) -> CampaignPayload:
        ctx = info.context
        ctx.require(Role.AGENT, "moving campaigns")
        return CampaignPayload(**await guarded(ctx, lambda tc: {"campaign": CampaignType(
            row=service.transition(tc, _pk(input.id, "Campaign"), State[input.to.value].value, input.note))}))
