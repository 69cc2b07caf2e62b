"""The rfm module's GraphQL: ``Customer.rfm`` and the ``rfmSegments`` summary.

``Customer.rfm`` goes through a per-request DataLoader: one statement per
page of customers, whatever its size. Customers without a purchase in the
window have no score: ``rfm`` is null for them, never zeros.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
import strawberry
from sqlalchemy import select
from strawberry.scalars import JSON

from api.contrib import CustomerFilter, CustomerOrder
from api.filters import compare_condition
from api.types import IntFilter, Lang, LangArg
from engine.models import Customer
from engine.types import CENT
from plugins.rfm.models import RfmScore
from plugins.rfm.segments import SCHEME_SEGMENTS, Segment
from plugins.rfm.summary import rfm_overview

_ALL_SEGMENTS: dict[str, Segment] = {s.code: s for segments in SCHEME_SEGMENTS.values() for s in segments}
RfmSegmentCode = strawberry.enum(
    enum.Enum("RfmSegmentCode", {code: strawberry.enum_value(code, description=f"{s.label_en} ({s.label_zh}).")
                                 for code, s in _ALL_SEGMENTS.items()}),
    description="Segment codes of every scheme (RF_GRID_10, RFM_MEAN_8, ABC).",
)


@strawberry.type(name="RfmSegment", description="A named segment with its labels and the recommended action.")
class RfmSegment:
    segment: strawberry.Private[Segment]

    @strawberry.field(description="The segment's stable code: what `where: {rfm: {segment: ...}}` takes.")
    def code(self) -> RfmSegmentCode:
        return RfmSegmentCode[self.segment.code]

    @strawberry.field(description="The segment's name for people, in Chinese (the default) or English.")
    def label(self, lang: LangArg = Lang.ZH) -> str:
        return self.segment.label_zh if lang is Lang.ZH else self.segment.label_en

    @strawberry.field(description="What to do with these customers.")
    def action(self, lang: LangArg = Lang.ZH) -> str:
        return self.segment.action_zh if lang is Lang.ZH else self.segment.action_en


@strawberry.type(name="CustomerRfm", description="The customer's scores from the tenant's latest RFM run.")
class CustomerRfm:
    row: strawberry.Private[RfmScore]

    @strawberry.field(description="Days since the last purchase in the window.")
    def recency(self) -> float:
        return self.row.recency_days

    @strawberry.field(description="Purchases in the window.")
    def frequency(self) -> int:
        return self.row.frequency

    @strawberry.field(description="Spend in the window, net of refunds (money).")
    def monetary(self) -> Decimal:
        return Decimal(self.row.monetary).quantize(CENT)

    @strawberry.field(description="Recency score, 1 (longest ago) to the scheme's score count (most recent).")
    def r_score(self) -> int:
        return self.row.r_score

    @strawberry.field(description="Frequency score, 1 (fewest purchases) to the scheme's score count (most).")
    def f_score(self) -> int:
        return self.row.f_score

    @strawberry.field(description="Monetary score, 1 (least spend) to the scheme's score count (most).")
    def m_score(self) -> int:
        return self.row.m_score

    @strawberry.field(description="The segment the scores put the customer in.")
    def segment(self) -> RfmSegment:
        return RfmSegment(segment=_ALL_SEGMENTS[self.row.segment])

    @strawberry.field(description="When the run that scored the customer finished (UTC).")
    def computed_at(self) -> datetime:
        return self.row.computed_at


def _scores(session, tenant_id: int, ids: list[int]) -> dict[int, CustomerRfm]:
    # Plain rows (attribute access like the model's): a page's worth without ORM identity-map work.
    table = RfmScore.__table__
    rows = session.execute(select(*table.c).where(table.c.tenant_id == tenant_id, table.c.customer_id.in_(ids)))
    return {row.customer_id: CustomerRfm(row=row) for row in rows}


def rfm_batch(ctx):
    """Customer.rfm for many customers at once (api/prefetch.py)."""
    tenant_id = ctx.tenant_id
    return "rfm.scores", lambda session, ids: _scores(session, tenant_id, ids)


@strawberry.type(description="The rfm module's Customer fields.")
class RfmCustomerFields:
    @strawberry.field(description="RFM scores and segment; null when the customer has no purchase in the window or no run yet.")
    def rfm(self, info: strawberry.Info) -> Optional[CustomerRfm]:
        return info.context.customer_value(rfm_batch, self.id)


@strawberry.type(name="RfmSegmentSummary", description="One segment of the latest run: its customers, revenue and averages.")
class RfmSegmentSummary:
    segment: RfmSegment = strawberry.field(description="The segment.")
    customers: int = strawberry.field(description="How many customers are in it.")
    share_of_customers: float = strawberry.field(
        description="Of the tenant's live customers at the run, scored or not: the shares add up to scored / (scored + unscored)."
    )
    revenue: Decimal = strawberry.field(description="Net spend in the window (money).")
    share_of_revenue: float = strawberry.field(description="Of the scored customers' net spend.")
    avg_recency_days: Optional[float] = strawberry.field(description="Mean days since the last purchase; null for an empty segment.")
    avg_frequency: Optional[float] = strawberry.field(description="Mean purchases in the window; null for an empty segment.")
    avg_monetary: Optional[Decimal] = strawberry.field(description="Mean net spend in the window (money); null for an empty segment.")


@strawberry.type(name="RfmSegments", description="The latest run, segment by segment (empty segments included).")
class RfmSegments:
    scheme: Optional[str] = strawberry.field(description="The scheme of the run: RF_GRID_10, RFM_MEAN_8 or ABC; null before the first run.")
    computed_at: Optional[datetime] = strawberry.field(description="When the run finished (UTC); null before the first run.")
    as_of: Optional[datetime] = strawberry.field(description="The time the run scored as of (the window ends there).")
    settings: Optional[JSON] = strawberry.field(description="The settings the run used, as configureModule takes them.")
    scored: int = strawberry.field(description="Customers given a score.")
    unscored: int = strawberry.field(description="Customers with no purchase in the window: no score.")
    segments: list[RfmSegmentSummary] = strawberry.field(description="Every segment of the scheme, in the scheme's order.")


@strawberry.type(description="The rfm module's queries.")
class RfmQuery:
    @strawberry.field(description="Segment summary of the latest RFM run: counts, shares, averages, recommended actions.")
    async def rfm_segments(self, info: strawberry.Info) -> RfmSegments:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id
        overview = await ctx.read(lambda session: rfm_overview(gx.context(session, tenant_id)))
        return RfmSegments(
            scheme=overview.scheme, computed_at=overview.computed_at, as_of=overview.as_of, settings=overview.settings,
            scored=overview.scored, unscored=overview.unscored,
            segments=[
                RfmSegmentSummary(
                    segment=RfmSegment(segment=s.segment), customers=s.customers, share_of_customers=s.share_of_customers,
                    revenue=s.revenue, share_of_revenue=s.share_of_revenue, avg_recency_days=s.avg_recency_days,
                    avg_frequency=s.avg_frequency, avg_monetary=s.avg_monetary,
                )
                for s in overview.segments
            ],
        )


# -- customers(where: {rfm: ...}, orderBy: {field: RFM_...}) ------------------------


@strawberry.input(name="RfmSegmentFilter", description="Customers by RFM segment.")
class RfmSegmentFilter:
    eq: Optional[RfmSegmentCode] = strawberry.field(default=None, description="In this segment.")
    in_: Optional[list[RfmSegmentCode]] = strawberry.field(name="in", default=None, description="In any of these segments.")


@strawberry.input(name="RfmWhere", description="Customers by their latest RFM scores; unscored customers never match.")
class RfmWhere:
    segment: Optional[RfmSegmentFilter] = strawberry.field(default=None, description="The segment.")
    r_score: Optional[IntFilter] = strawberry.field(default=None, description="The recency score.")
    f_score: Optional[IntFilter] = strawberry.field(default=None, description="The frequency score.")
    m_score: Optional[IntFilter] = strawberry.field(default=None, description="The monetary score.")


def _rfm_condition(where: RfmWhere, tenant_id: int):
    conditions = [RfmScore.tenant_id == tenant_id]
    if where.segment is not None:
        if where.segment.eq is not None:
            conditions.append(RfmScore.segment == where.segment.eq.value)
        if where.segment.in_ is not None:
            conditions.append(RfmScore.segment.in_([code.value for code in where.segment.in_]))
    for name in ("r_score", "f_score", "m_score"):
        value = getattr(where, name)
        if value is not None:
            conditions.extend(compare_condition(getattr(RfmScore, name), value))
    return Customer.id.in_(select(RfmScore.customer_id).where(*conditions))


def _score_of(column):
    def expression(tenant_id: int):
        return (
            select(column)
            .where(RfmScore.tenant_id == tenant_id, RfmScore.customer_id == Customer.id)
            .correlate(Customer)
            .scalar_subquery()
        )

    return expression


CUSTOMER_FILTERS = [CustomerFilter("rfm", RfmWhere, _rfm_condition, "The latest RFM scores and segment (rfm module).")]
# Unscored customers sort as the worst value: never bought → longest ago.
CUSTOMER_ORDERS = [
    CustomerOrder("RFM_RECENCY", _score_of(RfmScore.recency_days), floor=1e9, parse=float,
                  description="Days since the last purchase, as of the latest RFM run; unscored customers as the longest ago."),
    CustomerOrder("RFM_FREQUENCY", _score_of(RfmScore.frequency), floor=-1, parse=int,
                  description="Purchases in the RFM window; unscored customers as the fewest."),
    CustomerOrder("RFM_MONETARY", _score_of(sa.cast(RfmScore.monetary, sa.Float)), floor=-1e18, parse=float,
                  description="Net spend in the RFM window; unscored customers as the least."),
]
