"""Points about to expire, programme-wide (``loyaltyProgram { expiringPoints }``).

What the open lots (``remaining > 0``) expiring in ``(now, now + within_days]``
hold: the points, how many members hold them, their money value at the
redemption rate (the same ``points_value`` as ``liability``), and the same per
7-day period from now (the last period ends at the window's end). Lots already
past their date are not counted (they are unspendable, and the expiry job takes
them); this is the window ``pointsExpiring30Days`` and
``Customer.loyalty.pointsExpiringSoon`` use.

Two set-based statements over the partial index ``ix_loyalty_lots_open_expiry``
(tenant, expires_at, member, remaining): the window's totals, and the periods
(a ``CASE`` on the period bounds, grouped in an outer query so that
PostgreSQL sees one grouping column rather than a repeated expression with
bound parameters).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from engine.context import TenantContext
from engine.types import utcnow
from plugins.loyalty.ledger_math import points_value
from plugins.loyalty.models import LoyaltyLot
from plugins.loyalty.service import settings_of

L = LoyaltyLot.__table__
PERIOD_DAYS = 7
MAX_WITHIN_DAYS = 366  # a year ahead, at most 53 weekly periods


@dataclasses.dataclass(frozen=True)
class ExpiryPeriod:
    start: datetime  # exclusive
    end: datetime  # inclusive: a lot expiring exactly at `end` falls in this period
    points: int
    members: int


@dataclasses.dataclass(frozen=True)
class ExpiringPoints:
    within_days: int
    start: datetime
    end: datetime
    points: int
    members: int
    liability: Decimal
    periods: list[ExpiryPeriod]


def period_bounds(now: datetime, within_days: int) -> list[datetime]:
    """The end of each 7-day period from ``now``; the last is ``now + within_days``."""
    count = math.ceil(within_days / PERIOD_DAYS)
    end = now + timedelta(days=within_days)
    return [min(end, now + timedelta(days=PERIOD_DAYS * (k + 1))) for k in range(count)]


def expiring_points(ctx: TenantContext, within_days: int, now: datetime | None = None) -> ExpiringPoints:
    if isinstance(within_days, bool) or not isinstance(within_days, int) or not 1 <= within_days <= MAX_WITHIN_DAYS:
        raise ValueError(f"within_days must be between 1 and {MAX_WITHIN_DAYS}, got {within_days}")
    s = settings_of(ctx)
    now = now or utcnow()
    end = now + timedelta(days=within_days)
    window = (L.c.tenant_id == ctx.tenant_id, L.c.remaining > 0, L.c.expires_at > now, L.c.expires_at <= end)
    points, members = ctx.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(L.c.remaining), 0), sa.func.count(sa.distinct(L.c.member_id)))
        .where(*window)).one()

    bounds = period_bounds(now, within_days)
    period = sa.case(*[(L.c.expires_at <= bound, index) for index, bound in enumerate(bounds)],
                     else_=len(bounds) - 1).label("period")
    lots = sa.select(period, L.c.member_id, L.c.remaining).where(*window).subquery()
    found = {int(row.period): (int(row.points), int(row.members)) for row in ctx.session.execute(
        sa.select(lots.c.period, sa.func.sum(lots.c.remaining).label("points"),
                  sa.func.count(sa.distinct(lots.c.member_id)).label("members"))
        .group_by(lots.c.period))}
    periods, start = [], now
    for index, bound in enumerate(bounds):
        p, m = found.get(index, (0, 0))
        periods.append(ExpiryPeriod(start=start, end=bound, points=p, members=m))
        start = bound
    return ExpiringPoints(within_days=within_days, start=now, end=end, points=int(points), members=int(members),
                          liability=points_value(int(points), s), periods=periods)
