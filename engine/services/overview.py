"""The overview's figures (docs/api.md, "The overview"): customers, buyers,
purchases, revenue and its trend over a period [start, end), optionally for
one store or channel.

Every figure is a set-based aggregate over indexed rows, a fixed number of
statements per period whatever its length (never a loop over interactions):

* purchases by the tenant-local day stored with each interaction
  (``interactions.local_day``), read from ``ix_interactions_tenant_kind_time`` alone
  (it carries the columns summed and grouped by: core_0009);
* the distinct buyers, then one primary-key look-up each for their first
  purchase ever (``customers.first_purchase_at``): the first-time buyers;
* refunds by local day (joined to the purchase they reverse only to find
  their store or channel when they have none of their own);
* customers as of the end (``ix_customers_tenant_live_newest``).

Day buckets are the local days interactions were recorded with (as the
lifecycle and clv modules count days), so a purchase at 00:00 local time is
in that local day whatever its UTC date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Optional
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from engine import input_bounds
from engine.errors import FieldError, ValidationFailed
from engine.models import Customer, Interaction
from engine.types import CENT

PURCHASE, REFUND = "PURCHASE", "REFUND"
MAX_DAYS = 3_660  # ten years: a longer period is a typo (the year 20025), not a question
MAX_BUCKETS = 400
BUCKETS = ("DAY", "WEEK", "MONTH")
DAY_BUCKETS_UP_TO = 92  # local days; up to a quarter by day, up to two years by week, then by month
WEEK_BUCKETS_UP_TO = 731
_ORDINAL_1970 = 719_163  # date(1970, 1, 1).toordinal(): local_day 0


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


@dataclass
class Point:
    """One bucket of the trend: ``day`` is its first local day."""

    day: date
    purchases: int = 0
    gross_revenue: Decimal = Decimal("0.00")
    refunds: Decimal = Decimal("0.00")

    @property
    def net_revenue(self) -> Decimal:
        return self.gross_revenue - self.refunds


@dataclass
class Figures:
    period: Period
    customers: int  # live customers created before the end (of the store when filtered)
    created_customers: int  # of them, created in the period
    active_customers: int  # customers with a purchase in the period
    new_customers: int  # of them, those whose first purchase ever is in the period
    purchases: int
    gross_revenue: Decimal
    refund_count: int
    refunds: Decimal
    trend: list[Point] = field(default_factory=list)

    @property
    def returning_customers(self) -> int:
        return self.active_customers - self.new_customers

    @property
    def net_revenue(self) -> Decimal:
        return self.gross_revenue - self.refunds

    @property
    def average_order_value(self) -> Optional[Decimal]:
        return None if not self.purchases else (self.gross_revenue / self.purchases).quantize(CENT)


@dataclass
class Slice:
    key: Optional[str]
    purchases: int = 0
    gross_revenue: Decimal = Decimal("0.00")
    refunds: Decimal = Decimal("0.00")

    @property
    def net_revenue(self) -> Decimal:
        return self.gross_revenue - self.refunds


# -- arguments -------------------------------------------------------------------


def _aware(errors: list[FieldError], name: str, value) -> None:
    if value is None or value.tzinfo is None:
        errors.append(FieldError(name, "a date-time with a UTC offset is required"))
        return
    problem = input_bounds.time_problem(value)
    if problem:
        errors.append(FieldError(name, problem))


def check_period(start: datetime, end: datetime, names: tuple[str, str] = ("from", "to"), errors=None) -> list[FieldError]:
    """What is wrong with [start, end), naming the arguments."""
    errors = [] if errors is None else errors
    before = len(errors)
    _aware(errors, names[0], start)
    _aware(errors, names[1], end)
    if len(errors) == before:
        if end <= start:
            errors.append(FieldError(names[1], f"must be after {names[0]} ({end.isoformat()} is not after {start.isoformat()})"))
        elif end - start > timedelta(days=MAX_DAYS):
            errors.append(FieldError(names[1], f"the period is {(end - start).days} days long; at most {MAX_DAYS} days"))
    return errors


def periods(start: datetime, end: datetime, compare_start: Optional[datetime] = None,
            compare_end: Optional[datetime] = None) -> tuple[Period, Period]:
    """The period and the one it is compared with: by default the one of equal
    length just before it. ValidationFailed naming the argument at fault."""
    errors = check_period(start, end)
    if (compare_start is None) != (compare_end is None):
        missing = "compare_to" if compare_end is None else "compare_from"
        errors.append(FieldError(missing, "compareFrom and compareTo go together: give both or neither"))
    elif compare_start is not None:
        check_period(compare_start, compare_end, ("compare_from", "compare_to"), errors)
    if errors:
        raise ValidationFailed(errors)
    if compare_start is None:
        compare_start, compare_end = start - (end - start), start
    return Period(start, end), Period(compare_start, compare_end)


def _local_day(when: datetime, tz: ZoneInfo) -> int:
    return when.astimezone(tz).toordinal() - _ORDINAL_1970


def day_range(period: Period, tz: ZoneInfo) -> tuple[int, int]:
    """The first and last local day the period touches."""
    return _local_day(period.start, tz), _local_day(period.end - timedelta(microseconds=1), tz)


def choose_bucket(period: Period, tz: ZoneInfo, bucket: Optional[str] = None) -> str:
    first, last = day_range(period, tz)
    days = last - first + 1
    if bucket is None:
        return "DAY" if days <= DAY_BUCKETS_UP_TO else "WEEK" if days <= WEEK_BUCKETS_UP_TO else "MONTH"
    if bucket not in BUCKETS:
        raise ValidationFailed(FieldError("bucket", f"unknown bucket {bucket!r}; one of {', '.join(BUCKETS)}"))
    count = len(_bucket_starts(first, last, bucket))
    if count > MAX_BUCKETS:
        raise ValidationFailed(FieldError("bucket", f"{bucket} buckets would make {count} points; at most {MAX_BUCKETS} (use a longer bucket)"))
    return bucket


def _day_date(day: int) -> date:
    return date.fromordinal(day + _ORDINAL_1970)


def _bucket_of(day: int, bucket: str) -> date:
    if bucket == "DAY":
        return _day_date(day)
    if bucket == "WEEK":  # weeks start on Monday; local day 0 (1970-01-01) was a Thursday
        return _day_date(day - (day + 3) % 7)
    return _day_date(day).replace(day=1)


def _bucket_starts(first: int, last: int, bucket: str) -> list[date]:
    starts: list[date] = []
    for day in range(first, last + 1):  # at most MAX_DAYS + 1 days
        start = _bucket_of(day, bucket)
        if not starts or starts[-1] != start:
            starts.append(start)
    return starts


# -- the figures -------------------------------------------------------------------------


def _money(value) -> Decimal:
    # SQLite sums REAL: round the sum (not each row) to cents.
    return Decimal("0.00") if value is None else Decimal(str(value)).quantize(CENT)


def _purchase_conditions(tenant_id: int, period: Period, store: Optional[str], channel: Optional[str]) -> list:
    i = Interaction.__table__.c
    conditions = [i.tenant_id == tenant_id, i.kind == PURCHASE, i.occurred_at >= period.start, i.occurred_at < period.end]
    if store is not None:
        conditions.append(i.store == store)
    if channel is not None:
        conditions.append(i.channel == channel)
    return conditions


def _refunds(tenant_id: int, period: Period, store: Optional[str], channel: Optional[str]):
    """(refunds, the purchases they reverse, conditions): a refund is the store's or
    channel's by its own store or channel, else by the purchase's it reverses."""
    refund = Interaction.__table__.alias("refund")
    purchase = Interaction.__table__.alias("purchase")
    r, p = refund.c, purchase.c
    conditions = [r.tenant_id == tenant_id, r.kind == REFUND, r.occurred_at >= period.start, r.occurred_at < period.end]
    store_of = sa.func.coalesce(r.store, p.store)
    channel_of = sa.func.coalesce(r.channel, p.channel)
    if store is not None:
        conditions.append(store_of == store)
    if channel is not None:
        conditions.append(channel_of == channel)
    joined = refund.outerjoin(purchase, sa.and_(p.id == r.reverses_id, p.tenant_id == tenant_id))
    return joined, r, store_of, channel_of, conditions


def figures(session: Session, tenant_id: int, tz: ZoneInfo, period: Period, bucket: str,
            store: Optional[str] = None, channel: Optional[str] = None) -> Figures:
    """The period's figures and trend: four statements."""
    i, c = Interaction.__table__.c, Customer.__table__.c
    purchases = _purchase_conditions(tenant_id, period, store, channel)
    by_day = session.execute(
        sa.select(i.local_day, sa.func.count(), sa.func.sum(i.amount)).where(*purchases).group_by(i.local_day)).all()
    # The buyers (distinct, then one primary-key lookup each for their first purchase ever).
    buyers = sa.select(i.customer_id).where(*purchases)
    active, new = session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((c.first_purchase_at >= period.start, 1))))
        .where(c.id.in_(buyers), c.tenant_id == tenant_id)).one()
    joined, r, _, _, refund_conditions = _refunds(tenant_id, period, store, channel)
    refunds_by_day = session.execute(
        sa.select(r.local_day, sa.func.count(), sa.func.sum(r.amount)).select_from(joined)
        .where(*refund_conditions).group_by(r.local_day)).all()
    live = [c.tenant_id == tenant_id, c.deleted_at.is_(None), c.created_at < period.end]
    if store is not None:
        live.append(c.store == store)
    customers, created = session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((c.created_at >= period.start, 1)))).where(*live)).one()

    first, last = day_range(period, tz)
    points = {start: Point(start) for start in _bucket_starts(first, last, bucket)}
    for day, count, amount in by_day:
        point = points.get(_bucket_of(day, bucket))
        if point is not None:  # a local day outside the range: the tenant changed time zone since
            point.purchases += count
            point.gross_revenue += _money(amount)
    for day, _, amount in refunds_by_day:
        point = points.get(_bucket_of(day, bucket))
        if point is not None:
            point.refunds += _money(amount)
    return Figures(
        period=period, customers=customers, created_customers=created, active_customers=active, new_customers=new,
        purchases=sum(n for _, n, _ in by_day), gross_revenue=sum((_money(a) for _, _, a in by_day), Decimal("0.00")),
        refund_count=sum(n for _, n, _ in refunds_by_day),
        refunds=sum((_money(a) for _, _, a in refunds_by_day), Decimal("0.00")),
        trend=list(points.values()),
    )


def slices(session: Session, tenant_id: int, period: Period,
           store: Optional[str] = None, channel: Optional[str] = None) -> dict[str, list[Slice]]:
    """Purchases and revenue per store and per channel, most net revenue first:
    ``{"store": [...], "channel": [...]}`` from one pass over the purchases
    (grouped by store and channel) and one over the refunds. Each list leaves
    out the filter on its own dimension: every store is listed when one is chosen."""
    i = Interaction.__table__.c
    bought = session.execute(
        sa.select(i.store, i.channel, sa.func.count(), sa.func.sum(i.amount))
        .where(*_purchase_conditions(tenant_id, period, None, None)).group_by(i.store, i.channel)).all()
    joined, r, store_of, channel_of, conditions = _refunds(tenant_id, period, None, None)
    refunded = session.execute(
        sa.select(store_of, channel_of, sa.func.sum(r.amount)).select_from(joined).where(*conditions)
        .group_by(store_of, channel_of)).all()
    out: dict[str, dict[Optional[str], Slice]] = {"store": {}, "channel": {}}
    for row_store, row_channel, count, amount in bought:
        for by, key, other, wanted in (("store", row_store, row_channel, channel), ("channel", row_channel, row_store, store)):
            if wanted is None or other == wanted:
                found = out[by].setdefault(key, Slice(key))
                found.purchases += count
                found.gross_revenue += _money(amount)
    for row_store, row_channel, amount in refunded:
        for by, key, other, wanted in (("store", row_store, row_channel, channel), ("channel", row_channel, row_store, store)):
            if wanted is None or other == wanted:
                out[by].setdefault(key, Slice(key)).refunds += _money(amount)
    return {by: sorted(found.values(), key=lambda s: (-s.net_revenue, s.key is None, s.key or "")) for by, found in out.items()}
