"""The distribution of predicted customer value in the latest CLV run.

Predicted values are very skewed (many small, a few large), so the
histogram's buckets are log-spaced on the 1-2-5 series of money amounts
(…, 10, 20, 50, 100, 200, 500, …) that people read at a glance: the first
bucket starts at 0 and ends at the largest such amount not above the 5th
percentile of the positive values, the last one ends at the first amount
above the largest value, and the lowest bounds are dropped (merged into the
first bucket) until there are at most ``MAX_BUCKETS``. Each bucket has its
customers and its share of the total predicted value; the deciles (the
stored ``value_decile``) say what the top 10 % hold.

Everything is counted in whole cents (integers): a value equal to a bound
falls in the bucket that starts there, and sums are exact on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

import numpy as np
import sqlalchemy as sa
import strawberry
from sqlalchemy import select

from plugins.clv.models import ClvRun, ClvScore

MAX_BUCKETS = 12
LOW_QUANTILE = 0.05
_SERIES = (1, 2, 5)


def _money(cents: int) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def nice_at_or_below(cents: int) -> int:
    """The largest 1-2-5 amount (in cents, at least 1) not above ``cents``."""
    best, scale = 1, 1
    while scale <= cents:
        for step in _SERIES:
            if step * scale <= cents:
                best = step * scale
        scale *= 10
    return best


def nice_above(cents: int) -> int:
    """The smallest 1-2-5 amount (in cents) strictly above ``cents``."""
    scale = 1
    while True:
        for step in _SERIES:
            if step * scale > cents:
                return step * scale
        scale *= 10


def bucket_edges(values: np.ndarray) -> list[int]:
    """Bounds in cents: buckets are [edges[i], edges[i+1]); ``values`` are cents."""
    if len(values) == 0:
        return []
    top = nice_above(int(values.max()))
    positive = values[values > 0]
    low = nice_at_or_below(int(np.quantile(positive, LOW_QUANTILE, method="lower"))) if len(positive) else top
    inner = []
    edge = low
    while edge < top:
        inner.append(edge)
        edge = nice_above(edge)
    inner = inner[max(0, len(inner) - (MAX_BUCKETS - 1)):]  # drop the lowest bounds: the first bucket takes them
    start = min(0, int(values.min()))  # values are never negative (margin > 0), but a bound must hold them all
    return [start, *[e for e in inner if e > start], top]


@dataclass(frozen=True)
class Bucket:
    lower: int
    upper: int
    customers: int
    value: int  # cents


@dataclass(frozen=True)
class Decile:
    decile: int
    customers: int
    min_value: int
    max_value: int
    value: int


@dataclass(frozen=True)
class Distribution:
    customers: int
    total: int
    median: Decimal | None  # money, rounded to cents
    horizon_months: int | None
    margin: float | None
    buckets: list[Bucket]
    deciles: list[Decile]


def _median(cents: np.ndarray) -> Decimal | None:
    if len(cents) == 0:
        return None
    ordered = np.sort(cents)
    middle = len(ordered) // 2
    twice = int(ordered[middle]) * 2 if len(ordered) % 2 else int(ordered[middle - 1]) + int(ordered[middle])
    return (Decimal(twice) / 200).quantize(Decimal("0.01"))


def clv_distribution(session, tenant_id: int) -> Distribution | None:
    run = session.execute(select(ClvRun).where(ClvRun.tenant_id == tenant_id)).scalars().first()
    if run is None:
        return None
    # Whole cents from the database: exact on PostgreSQL's numeric, and on SQLite's
    # REAL the nearest float of a whole-cents amount rounds back to it.
    cents = sa.cast(sa.func.round(ClvScore.predicted_value * 100), sa.BigInteger)
    # Core rows (no ORM loading): 20,000 customers' worth.
    rows = session.connection().execute(select(cents, ClvScore.value_decile).where(ClvScore.tenant_id == tenant_id)).all()
    values = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    deciles = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
    edges = bucket_edges(values)
    buckets = []
    if edges:
        index = np.searchsorted(np.asarray(edges, dtype=np.int64), values, side="right") - 1
        counts = np.bincount(index, minlength=len(edges) - 1)
        sums = np.zeros(len(edges) - 1, dtype=np.int64)
        np.add.at(sums, index, values)  # integer cents: exact
        buckets = [Bucket(edges[i], edges[i + 1], int(counts[i]), int(sums[i])) for i in range(len(edges) - 1)]
    by_decile = []
    for d in range(1, 11):
        chosen = values[deciles == d]
        if len(chosen):
            by_decile.append(Decile(d, len(chosen), int(chosen.min()), int(chosen.max()), int(chosen.sum())))
        else:
            by_decile.append(Decile(d, 0, 0, 0, 0))
    return Distribution(
        customers=len(values), total=int(values.sum()),
        median=_median(values),
        horizon_months=run.settings.get("horizon_months"), margin=run.settings.get("margin"),
        buckets=buckets, deciles=by_decile,
    )


@strawberry.type(name="ClvValueBucket", description="Customers whose predicted value is in [lower, upper).")
class ClvValueBucket:
    lower: Decimal = strawberry.field(description="The bucket's lower bound, included (money).")
    upper: Decimal = strawberry.field(description="The bucket's upper bound, excluded (money).")
    customers: int = strawberry.field(description="How many scored customers have a predicted value in the bucket.")
    share_of_customers: float = strawberry.field(description="Of the scored customers: the buckets add up to 1.")
    value: Decimal = strawberry.field(description="Their predicted value, summed (money).")
    share_of_value: float = strawberry.field(description="Of the total predicted value: the buckets add up to 1 (all 0 when it is 0).")


@strawberry.type(name="ClvValueDecile", description="The customers of one value decile (`Customer.clv.valueDecile`).")
class ClvValueDecile:
    decile: int = strawberry.field(description="1 (lowest predicted value) to 10 (highest).")
    customers: int = strawberry.field(description="How many customers are in it (ties share a decile, so not always a tenth).")
    min_value: Optional[Decimal] = strawberry.field(description="The lowest predicted value in it (money); null when empty.")
    max_value: Optional[Decimal] = strawberry.field(description="The highest predicted value in it (money); null when empty.")
    value: Decimal = strawberry.field(description="Their predicted value, summed (money).")
    share_of_value: float = strawberry.field(description="Of the total predicted value (all 0 when it is 0).")


@strawberry.type(name="ClvDistribution", description="How predicted customer value is spread in the latest CLV run.")
class ClvDistribution:
    customers: int = strawberry.field(description="Customers with a CLV score.")
    total_predicted_value: Decimal = strawberry.field(description="Their predicted value, summed (money).")
    mean_predicted_value: Optional[Decimal] = strawberry.field(description="The mean predicted value (money); null without scores.")
    median_predicted_value: Optional[Decimal] = strawberry.field(
        description="The median predicted value (money, the mean of the middle two for an even count, rounded to cents); null without scores.")
    horizon_months: Optional[int] = strawberry.field(description="The months ahead the run's predicted value covers (its horizon_months setting).")
    margin: Optional[float] = strawberry.field(description="The share of revenue counted as value in the run (its margin setting).")
    buckets: list[ClvValueBucket] = strawberry.field(
        description="Log-spaced buckets on 1-2-5 amounts, lowest first, at most 12: the histogram (docs/clv.md).")
    deciles: list[ClvValueDecile] = strawberry.field(description="Deciles 1 to 10 by predicted value, empty ones included.")


def _share(part: int, whole: int) -> float:
    return part / whole if whole > 0 else 0.0


@strawberry.type(description="The clv module's distribution query.")
class ClvDistributionQuery:
    @strawberry.field(description="The distribution of predicted value in the latest CLV run: histogram buckets, deciles and totals; null before the first run.")
    async def clv_distribution(self, info: strawberry.Info) -> Optional[ClvDistribution]:
        ctx = info.context
        tenant_id = ctx.tenant_id
        found = await ctx.read(lambda session: clv_distribution(session, tenant_id))
        if found is None:
            return None
        n, total = found.customers, found.total
        return ClvDistribution(
            customers=n, total_predicted_value=_money(total),
            mean_predicted_value=(Decimal(total) / n / 100).quantize(Decimal("0.01")) if n else None,
            median_predicted_value=found.median,
            horizon_months=found.horizon_months, margin=found.margin,
            buckets=[ClvValueBucket(lower=_money(b.lower), upper=_money(b.upper), customers=b.customers,
                                    share_of_customers=_share(b.customers, n), value=_money(b.value),
                                    share_of_value=_share(b.value, total)) for b in found.buckets],
            deciles=[ClvValueDecile(decile=d.decile, customers=d.customers,
                                    min_value=_money(d.min_value) if d.customers else None,
                                    max_value=_money(d.max_value) if d.customers else None,
                                    value=_money(d.value), share_of_value=_share(d.value, total)) for d in found.deciles],
        )
