"""The segment summary a marketer reads first: how many customers each segment
holds, their share of customers and of revenue, average R/F/M, and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from engine.context import TenantContext
from engine.types import CENT
from plugins.rfm.models import RfmRun, RfmScore
from plugins.rfm.segments import Segment, segments_for


@dataclass(frozen=True)
class SegmentSummary:
    segment: Segment
    customers: int
    share_of_customers: float  # of all the tenant's live customers, scored or not
    revenue: Decimal  # net spend in the scoring window
    share_of_revenue: float  # of the scored customers' total net spend
    avg_recency_days: float | None
    avg_frequency: float | None
    avg_monetary: Decimal | None


@dataclass(frozen=True)
class RfmOverview:
    computed_at: datetime | None
    as_of: datetime | None  # the time the run scored as of
    settings: dict | None  # the settings the run used
    scheme: str | None
    scored: int
    unscored: int
    segments: list[SegmentSummary]


def rfm_overview(ctx: TenantContext) -> RfmOverview:
    """One row per segment of the last run's scheme (empty segments included)."""
    run = ctx.session.execute(select(RfmRun).where(RfmRun.tenant_id == ctx.tenant_id)).scalars().first()
    if run is None:
        return RfmOverview(None, None, None, None, 0, 0, [])
    rows = ctx.session.execute(
        select(
            RfmScore.segment, func.count(), func.sum(RfmScore.monetary), func.avg(RfmScore.recency_days),
            func.avg(RfmScore.frequency), func.avg(RfmScore.monetary),
        )
        .where(RfmScore.tenant_id == ctx.tenant_id)
        .group_by(RfmScore.segment)
    ).all()
    by_code = {row[0]: row for row in rows}
    population = run.scored + run.unscored
    total_revenue = sum((Decimal(row[2] or 0) for row in rows), Decimal(0))
    out = []
    for segment in segments_for(run.settings.get("scheme", "RF_GRID_10")):
        row = by_code.get(segment.code)
        count = int(row[1]) if row else 0
        revenue = Decimal(row[2] or 0).quantize(CENT) if row else Decimal("0.00")
        out.append(
            SegmentSummary(
                segment=segment,
                customers=count,
                share_of_customers=count / population if population else 0.0,
                revenue=revenue,
                share_of_revenue=float(revenue / total_revenue) if total_revenue > 0 else 0.0,
                avg_recency_days=float(row[3]) if row else None,
                avg_frequency=float(row[4]) if row else None,
                avg_monetary=Decimal(row[5]).quantize(CENT) if row else None,
            )
        )
    return RfmOverview(run.computed_at, run.as_of, run.settings, run.settings.get("scheme"), run.scored, run.unscored, out)
