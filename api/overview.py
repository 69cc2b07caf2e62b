"""``overview``: the console's home page figures in one field (docs/api.md, "The overview").

The period's customers, buyers, purchases, revenue and trend, the same for
the period it is compared with, and revenue by store and by channel; each
part is read (engine/services/overview.py) only when selected, in its own
read transaction, the parts concurrently.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import strawberry

from api.enums import ChannelCode, Lang, LangArg, code_of
from api.errors import api_error
from engine import input_bounds
from engine.enums import Channel
from engine.errors import FieldError, ValidationFailed
from engine.services import overview as service


@strawberry.enum(name="OverviewBucket", description="How long one point of the trend is, in the tenant's time zone.")
class OverviewBucket(enum.Enum):
    DAY = strawberry.enum_value("DAY", description="A local day.")
    WEEK = strawberry.enum_value("WEEK", description="A week from Monday.")
    MONTH = strawberry.enum_value("MONTH", description="A calendar month.")


@strawberry.type(name="OverviewPoint", description="One point of the revenue trend.")
class OverviewPoint:
    day: date = strawberry.field(description="The bucket's first local day (a day, the Monday of a week, the 1st of a month).")
    purchases: int = strawberry.field(description="Purchases in the bucket.")
    gross_revenue: Decimal = strawberry.field(description="The sum of those purchases (money).")
    refunds: Decimal = strawberry.field(description="Refunds made in the bucket (money).")
    net_revenue: Decimal = strawberry.field(description="grossRevenue − refunds (money).")


@strawberry.type(name="OverviewPeriod", description="The figures of one period [from, to) (definitions in docs/api.md).")
class OverviewPeriod:
    from_: datetime = strawberry.field(name="from", description="The period's start (inclusive).")
    to: datetime = strawberry.field(description="The period's end (exclusive).")
    customers: int = strawberry.field(description="Live customers created before `to` (of the store's, when filtered by store).")
    created_customers: int = strawberry.field(description="Of them, customers created (entered) in the period.")
    active_customers: int = strawberry.field(description="Customers with a purchase in the period.")
    new_customers: int = strawberry.field(description="Active customers whose first purchase ever is in the period (first-time buyers).")
    returning_customers: int = strawberry.field(description="Active customers who had bought before the period.")
    purchases: int = strawberry.field(description="Purchases in the period.")
    gross_revenue: Decimal = strawberry.field(description="The sum of the period's purchases (money).")
    refund_count: int = strawberry.field(description="Refunds made in the period.")
    refunds: Decimal = strawberry.field(description="The sum of refunds made in the period, whenever the purchase was (money).")
    net_revenue: Decimal = strawberry.field(description="grossRevenue − refunds (money).")
    average_order_value: Optional[Decimal] = strawberry.field(description="grossRevenue / purchases (money); null without purchases.")
    trend: list[OverviewPoint] = strawberry.field(description="Revenue per bucket, oldest first, every bucket of the period (zeros included).")


@strawberry.type(name="OverviewSlice", description="Purchases and revenue of one store or channel in the period.")
class OverviewSlice:
    key: Optional[str] = strawberry.field(description="The store's name or the Channel code; null for purchases without one.")
    purchases: int = strawberry.field(description="Purchases.")
    gross_revenue: Decimal = strawberry.field(description="Their sum (money).")
    refunds: Decimal = strawberry.field(description="Refunds made in the period (money).")
    net_revenue: Decimal = strawberry.field(description="grossRevenue − refunds (money).")
    kind: strawberry.Private[str]

    @strawberry.field(description="The store's name, or the channel's label in Chinese (the default) or English; null without a key.")
    def label(self, lang: LangArg = Lang.ZH) -> Optional[str]:
        if self.key is None or self.kind == "store":
            return self.key
        try:
            member = Channel.parse(self.key)
        except ValueError:
            return self.key
        return member.zh if lang is Lang.ZH else member.en


def _period(f: service.Figures) -> OverviewPeriod:
    return OverviewPeriod(
        from_=f.period.start, to=f.period.end, customers=f.customers, created_customers=f.created_customers,
        active_customers=f.active_customers, new_customers=f.new_customers, returning_customers=f.returning_customers,
        purchases=f.purchases, gross_revenue=f.gross_revenue, refund_count=f.refund_count, refunds=f.refunds,
        net_revenue=f.net_revenue, average_order_value=f.average_order_value,
        trend=[OverviewPoint(day=p.day, purchases=p.purchases, gross_revenue=p.gross_revenue, refunds=p.refunds,
                             net_revenue=p.net_revenue) for p in f.trend],
    )


def _slice(s: service.Slice, kind: str) -> OverviewSlice:
    return OverviewSlice(key=s.key, purchases=s.purchases, gross_revenue=s.gross_revenue, refunds=s.refunds,
                         net_revenue=s.net_revenue, kind=kind)


@strawberry.type(name="Overview", description="A period's figures next to those of the period it is compared with; each part is computed only when selected.")
class Overview:
    bucket: OverviewBucket = strawberry.field(description="The trend's bucket (both periods use it).")
    store: Optional[str] = strawberry.field(description="The store filtered on; null for all stores.")
    channel: Optional[ChannelCode] = strawberry.field(description="The channel filtered on; null for all channels.")  # type: ignore[valid-type]
    _current: strawberry.Private[service.Period]
    _previous: strawberry.Private[service.Period]
    _tz: strawberry.Private[ZoneInfo]
    _slices_read: strawberry.Private[Optional[asyncio.Future]] = None

    def _filters(self) -> tuple[Optional[str], Optional[str]]:
        return self.store, code_of(self.channel)

    async def _figures(self, info: strawberry.Info, period: service.Period) -> OverviewPeriod:
        ctx = info.context
        store, channel = self._filters()
        found = await ctx.read(lambda s: service.figures(s, ctx.tenant_id, self._tz, period, self.bucket.value, store, channel))
        return _period(found)

    @strawberry.field(description="The period asked for.")
    async def current(self, info: strawberry.Info) -> OverviewPeriod:
        return await self._figures(info, self._current)

    @strawberry.field(description="The period compared with: compareFrom..compareTo, by default the one of equal length just before.")
    async def previous(self, info: strawberry.Info) -> OverviewPeriod:
        return await self._figures(info, self._previous)

    async def _slices(self, info: strawberry.Info, by: str) -> list[OverviewSlice]:
        # byStore and byChannel come from one read: the first to ask starts it, the other awaits it.
        if self._slices_read is None:
            ctx = info.context
            store, channel = self._filters()
            self._slices_read = asyncio.ensure_future(
                ctx.read(lambda s: service.slices(s, ctx.tenant_id, self._current, store, channel)))
        found = await asyncio.shield(self._slices_read)
        return [_slice(s, by) for s in found[by]]

    @strawberry.field(description="The current period per store (where purchased), most net revenue first; filtered by channel only.")
    async def by_store(self, info: strawberry.Info) -> list[OverviewSlice]:
        return await self._slices(info, "store")

    @strawberry.field(description="The current period per channel, most net revenue first; filtered by store only.")
    async def by_channel(self, info: strawberry.Info) -> list[OverviewSlice]:
        return await self._slices(info, "channel")


@strawberry.type(description="The overview query.")
class OverviewQuery:
    @strawberry.field(description="The home page's figures for [from, to): customers, buyers, purchases, revenue and its trend "
                                  "by the tenant's local day (week or month for long periods), with the previous period "
                                  "for comparison; optionally one store or channel. Definitions in docs/api.md.")
    async def overview(
        self, info: strawberry.Info,
        from_: Annotated[datetime, strawberry.argument(name="from", description="The period's start (inclusive), with a UTC offset.")],
        to: Annotated[datetime, strawberry.argument(description="The period's end (exclusive); at most 3,660 days after from.")],
        compare_from: Annotated[Optional[datetime], strawberry.argument(
            description="Start of the period to compare with (with compareTo); default: from − (to − from).")] = None,
        compare_to: Annotated[Optional[datetime], strawberry.argument(
            description="End of the period to compare with (with compareFrom); default: from.")] = None,
        store: Annotated[Optional[str], strawberry.argument(
            description="Only this store: purchases and refunds made there, customers whose home store it is.")] = None,
        channel: Annotated[Optional[ChannelCode], strawberry.argument(  # type: ignore[valid-type]
            description="Only purchases and refunds on this channel.")] = None,
        bucket: Annotated[Optional[OverviewBucket], strawberry.argument(
            description="The trend's bucket; default DAY up to 92 days, WEEK up to 731, MONTH beyond (at most 400 points).")] = None,
    ) -> Overview:
        ctx = info.context
        tz = ZoneInfo(ctx.principal.tenant.timezone)
        try:
            if store is not None and (not store.strip() or len(store) > 64 or input_bounds.json_problem(store)):
                raise ValidationFailed(FieldError("store", "must be a store name of 1 to 64 characters"))
            current, previous = service.periods(from_, to, compare_from, compare_to)
            chosen = service.choose_bucket(current, tz, bucket.value if bucket else None)
            service.choose_bucket(previous, tz, chosen)  # the compared period must fit the same bucket
        except ValidationFailed as error:
            raise api_error(str(error).replace("compare_from", "compareFrom").replace("compare_to", "compareTo"), "INVALID") from None
        return Overview(bucket=OverviewBucket(chosen), store=store, channel=channel,
                        _current=current, _previous=previous, _tz=tz)
