"""The RFM grid: customers of the latest run per (R score, F score) cell.

What a heat map of recency against frequency draws, with each cell's
revenue and averages; for the RF_GRID_10 scheme each cell also names the
segment it belongs to. A cell's customers are
``customers(where: {rfm: {rScore: {eq: R}, fScore: {eq: F}}})``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Optional

import strawberry
from sqlalchemy import func, select

from engine.types import CENT
from plugins.rfm.models import RfmRun, RfmScore
from plugins.rfm.schema import _ALL_SEGMENTS, RfmSegment
from plugins.rfm.segments import rf_grid_segment


@dataclass(frozen=True)
class GridCell:
    r_score: int
    f_score: int
    customers: int
    revenue: Decimal
    avg_recency_days: float | None
    avg_frequency: float | None
    avg_monetary: Decimal | None
    share_of_customers: float
    share_of_revenue: float
    segment_code: str | None  # RF_GRID_10 only


@dataclass(frozen=True)
class Grid:
    scheme: str | None
    k: int | None
    computed_at: datetime | None
    scored: int
    unscored: int
    cells: list[GridCell]


def rfm_grid(session, tenant_id: int) -> Grid:
    """Every (R, F) cell of the latest run, empty cells included, R then F ascending."""
    run = session.execute(select(RfmRun).where(RfmRun.tenant_id == tenant_id)).scalars().first()
    if run is None:
        return Grid(None, None, None, 0, 0, [])
    k = int(run.settings.get("k", 5))
    scheme = run.settings.get("scheme", "RF_GRID_10")
    rows = session.execute(
        select(RfmScore.r_score, RfmScore.f_score, func.count(), func.sum(RfmScore.monetary),
               func.avg(RfmScore.recency_days), func.avg(RfmScore.frequency))
        .where(RfmScore.tenant_id == tenant_id)
        .group_by(RfmScore.r_score, RfmScore.f_score)
    ).all()
    by_cell = {(int(r), int(f)): (int(n), Decimal(total or 0).quantize(CENT), recency, frequency)
               for r, f, n, total, recency, frequency in rows}
    population = run.scored + run.unscored
    total_revenue = sum((cell[1] for cell in by_cell.values()), Decimal(0))
    cells = []
    for r in range(1, k + 1):
        for f in range(1, k + 1):
            count, revenue, recency, frequency = by_cell.get((r, f), (0, Decimal("0.00"), None, None))
            cells.append(GridCell(
                r_score=r, f_score=f, customers=count, revenue=revenue,
                avg_recency_days=float(recency) if count else None,
                avg_frequency=float(frequency) if count else None,
                # From the cell's exact sum: SQLite's avg of a REAL column is a float mean.
                avg_monetary=(revenue / count).quantize(CENT) if count else None,
                share_of_customers=count / population if population else 0.0,
                share_of_revenue=float(revenue / total_revenue) if total_revenue > 0 else 0.0,
                segment_code=rf_grid_segment(r, f, k).code if scheme == "RF_GRID_10" else None,
            ))
    return Grid(scheme, k, run.computed_at, run.scored, run.unscored, cells)


@strawberry.type(name="RfmGridCell", description="The customers of one (R score, F score) cell of the latest run.")
class RfmGridCell:
    r_score: int = strawberry.field(description="The recency score, 1 (longest ago) to k (most recent).")
    f_score: int = strawberry.field(description="The frequency score, 1 (fewest purchases) to k (most).")
    customers: int = strawberry.field(description="How many scored customers have these two scores.")
    share_of_customers: float = strawberry.field(
        description="Of the tenant's live customers at the run, scored or not (as in rfmSegments).")
    revenue: Decimal = strawberry.field(description="Their net spend in the window (money).")
    share_of_revenue: float = strawberry.field(description="Of the scored customers' net spend: the cells add up to 1.")
    avg_recency_days: Optional[float] = strawberry.field(description="Mean days since the last purchase; null for an empty cell.")
    avg_frequency: Optional[float] = strawberry.field(description="Mean purchases in the window; null for an empty cell.")
    avg_monetary: Optional[Decimal] = strawberry.field(description="Mean net spend in the window (money); null for an empty cell.")
    cell: strawberry.Private[GridCell]

    @strawberry.field(description="The RF_GRID_10 segment the cell belongs to; null under the other schemes, whose segments are not cells of this grid.")
    def segment(self) -> Optional[RfmSegment]:
        if self.cell.segment_code is None:
            return None
        return RfmSegment(segment=_ALL_SEGMENTS[self.cell.segment_code])


@strawberry.type(name="RfmGrid", description="The latest run as a grid of recency score × frequency score.")
class RfmGrid:
    scheme: Optional[str] = strawberry.field(description="The scheme of the run; null before the first run.")
    k: Optional[int] = strawberry.field(description="Scores run 1..k in the run; null before the first run.")
    computed_at: Optional[datetime] = strawberry.field(description="When the run finished (UTC); null before the first run.")
    scored: int = strawberry.field(description="Customers given a score: the cells' customers add up to it.")
    unscored: int = strawberry.field(description="Customers with no purchase in the window: in no cell.")
    cells: list[RfmGridCell] = strawberry.field(
        description="All k × k cells, empty ones included, by R score then F score, both ascending; empty before the first run.")


@strawberry.type(description="The rfm module's grid query.")
class RfmGridQuery:
    @strawberry.field(description="Customers of the latest RFM run per (R score, F score) cell, with revenue and averages: the RFM heat map.")
    async def rfm_grid(self, info: strawberry.Info) -> RfmGrid:
        ctx = info.context
        tenant_id = ctx.tenant_id
        grid = await ctx.read(lambda session: rfm_grid(session, tenant_id))
        return RfmGrid(
            scheme=grid.scheme, k=grid.k, computed_at=grid.computed_at, scored=grid.scored, unscored=grid.unscored,
            cells=[RfmGridCell(
                r_score=c.r_score, f_score=c.f_score, customers=c.customers, share_of_customers=c.share_of_customers,
                revenue=c.revenue, share_of_revenue=c.share_of_revenue, avg_recency_days=c.avg_recency_days,
                avg_frequency=c.avg_frequency, avg_monetary=c.avg_monetary, cell=c,
            ) for c in grid.cells],
        )
