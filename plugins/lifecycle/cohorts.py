"""Cohort retention and the monthly repurchase, retention and churn rates of a tenant.

A customer's cohort is the calendar month (tenant's time zone) of their
first purchase. Months are those of each purchase's stored local day (the
day it was recorded in the tenant's zone), so a daylight-saving change moves
nobody's purchase into the neighbouring month. Definitions, per calendar month M (docs/lifecycle-analytics.md):
- buyers: customers with at least one purchase in M;
- retention rate: of the buyers of the month before M, the share who bought
  in M as well (still buying);
- churn rate: 1 - retention rate, the previous month's buyers who did not
  buy in M;
- repurchase rate: of the buyers of M, the share with two or more
  purchases in M;
- returning share: of the customers whose first purchase was before M, the
  share who bought in M.
A slice puts each customer in one group: their home store, the channel of
their first purchase, their loyalty tier now, or their acquisition source.
Revenue is purchases as recorded (refunds are not netted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from engine.errors import FieldError, ValidationFailed

SLICES = ("store", "channel", "tier", "acquisition_source")
MAX_MONTHS = 120


def local_day_of(tz_name: str, at: datetime) -> int:
    """``at``'s day (days since 1970-01-01) in the zone, as purchases store theirs; UTC for an unknown zone."""
    try:
        zone = ZoneInfo(tz_name)
    except Exception:
        zone = timezone.utc
    return (at.astimezone(zone).date() - date(1970, 1, 1)).days


def month_of_day(day: int) -> int:
    """Months since 0000-01 of a day number."""
    return int(np.datetime64(int(day), "D").astype("datetime64[M]").astype(np.int64)) + 1970 * 12


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class CohortRow:
    month: str  # "YYYY-MM" of the first purchases
    customers: int  # the cohort's size
    active: list[int]  # active[p]: of them, bought in their p-th month after the first (0: the first)
    revenue: list[float]  # revenue[p]: what they spent in it

    @property
    def retention(self) -> list[float]:
        return [a / self.customers if self.customers else 0.0 for a in self.active]


@dataclass(frozen=True)
class CohortSlice:
    label: str | None  # the slice's value; None: all customers, or customers without one
    cohorts: list[CohortRow]


@dataclass(frozen=True)
class MonthRates:
    month: str
    buyers: int
    new: int
    existing: int  # first purchase before the month
    returning: int  # existing customers who bought in the month
    repeat_buyers: int
    previous_buyers: int
    retained: int

    @staticmethod
    def _share(a: int, b: int) -> float | None:
        return a / b if b else None

    @property
    def retention_rate(self) -> float | None:
        return self._share(self.retained, self.previous_buyers)

    @property
    def churn_rate(self) -> float | None:
        rate = self.retention_rate
        return None if rate is None else 1.0 - rate

    @property
    def repurchase_rate(self) -> float | None:
        return self._share(self.repeat_buyers, self.buyers)

    @property
    def returning_share(self) -> float | None:
        return self._share(self.returning, self.existing)


@dataclass(frozen=True)
class RateSlice:
    label: str | None
    months: list[MonthRates]


def _check_window(months: int, by: str | None) -> None:
    errors = []
    if not 1 <= months <= MAX_MONTHS:
        errors.append(FieldError("months", f"must be 1 to {MAX_MONTHS}"))
    if by is not None and by not in SLICES:
        errors.append(FieldError("by", f"must be one of {', '.join(SLICES)}"))
    if errors:
        raise ValidationFailed(errors)


def _values_by_customer(ctx, by: str) -> tuple[np.ndarray, list]:
    """(customer ids ascending, the slice value of each)."""
    t = ctx.tenant_id
    if by == "store":
        sql, params = "SELECT id, store FROM customers WHERE tenant_id = :t ORDER BY id", {"t": t}
    elif by == "acquisition_source":
        sql, params = "SELECT id, acquisition_channel FROM customers WHERE tenant_id = :t ORDER BY id", {"t": t}
    elif by == "tier":
        if "loyalty" not in ctx.enabled_modules:
            raise ValidationFailed([FieldError("by", "slicing by tier needs the loyalty module enabled")])
        sql = "SELECT customer_id, tier_code FROM loyalty_members WHERE tenant_id = :t ORDER BY customer_id"
        params = {"t": t}
    else:  # the channel of the first purchase: the purchase at the customer's first_purchase_at
        sql = ("SELECT i.customer_id, i.channel FROM interactions i JOIN customers c "
               "ON c.id = i.customer_id AND c.tenant_id = i.tenant_id "
               "WHERE i.tenant_id = :t AND c.tenant_id = :t AND i.kind = 'PURCHASE' "
               "AND i.occurred_at = c.first_purchase_at ORDER BY i.customer_id, i.id")
        params = {"t": t}
    rows = ctx.session.execute(sa.text(sql), params).all()
    if not rows:
        return np.zeros(0, np.int64), []
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    first = np.concatenate(([True], ids[1:] != ids[:-1]))  # one value per customer (the first purchase's)
    return ids[first], [r[1] for r, keep in zip(rows, first) if keep]


def slice_groups(ctx, customer_ids: np.ndarray, by: str | None) -> tuple[np.ndarray, list[str | None]]:
    """Each batch customer's group index and the groups' labels (sorted, None last)."""
    if by is None:
        return np.zeros(customer_ids.size, np.int64), [None]
    ids, values = _values_by_customer(ctx, by)
    labels = sorted({v for v in values if v is not None}) + [None]
    code = {label: k for k, label in enumerate(labels)}
    value_codes = np.array([code[v] for v in values], np.int64)
    groups = np.full(customer_ids.size, code[None], np.int64)
    at = np.searchsorted(ids, customer_ids)
    found = at < ids.size
    found[found] = ids[at[found]] == customer_ids[found]
    groups[found] = value_codes[at[found]]
    return groups, labels


def _window(ctx, as_of: datetime, months: int) -> tuple[int, int, int]:
    """(as_of's local day, the first month shown, as_of in epoch seconds): months are the tenant's local months."""
    today = local_day_of(ctx.tenant.timezone, as_of)
    return today, month_of_day(today) - months + 1, int(as_of.timestamp())


def _batch(ctx, as_of: datetime, batch):
    if batch is not None:
        return batch
    from engine.scoring import load_purchase_batch

    return load_purchase_batch(ctx.session, ctx.tenant_id, as_of, ("lifecycle",))


def cohort_retention(ctx, as_of: datetime, months: int = 12, by: str | None = None, batch=None) -> list[CohortSlice]:
    """The cohorts of the last ``months`` calendar months up to as_of's month, per slice."""
    from plugins.lifecycle.kernels import cohort_matrix

    _check_window(months, by)
    batch = _batch(ctx, as_of, batch)
    today, first, as_of_epoch = _window(ctx, as_of, months)
    groups, labels = slice_groups(ctx, batch.customer_ids, by)
    matrix = cohort_matrix(batch.offsets, batch.times, batch.amounts, groups, len(labels), as_of_epoch, first, months,
                           local_days=batch.local_days, as_of_day=today)
    out = []
    for g, label in enumerate(labels):
        rows = []
        for c in range(months):
            size = int(matrix.customers[g, c, 0])
            periods = months - c  # months observed so far, the cohort's own included
            rows.append(CohortRow(month_label(first + c), size, matrix.customers[g, c, :periods].tolist(),
                                  np.round(matrix.revenue[g, c, :periods], 2).tolist()))
        if label is None and by is not None and not any(r.customers for r in rows):
            continue  # no customer without a value: no empty "none" slice
        out.append(CohortSlice(label, rows))
    return out


def monthly_rates(ctx, as_of: datetime, months: int = 12, by: str | None = None, batch=None) -> list[RateSlice]:
    """Buyers, retention, churn and repurchase for the last ``months`` calendar months, per slice."""
    from plugins.lifecycle.kernels import monthly_counts

    _check_window(months, by)
    batch = _batch(ctx, as_of, batch)
    today, first, as_of_epoch = _window(ctx, as_of, months)
    groups, labels = slice_groups(ctx, batch.customer_ids, by)
    counts = monthly_counts(batch.offsets, batch.times, groups, len(labels), as_of_epoch, first, months,
                            local_days=batch.local_days, as_of_day=today)
    out = []
    for g, label in enumerate(labels):
        rows = [MonthRates(
            month=month_label(first + k), buyers=int(counts.buyers[g, k]), new=int(counts.new[g, k]),
            existing=int(counts.existing[g, k]), returning=int(counts.buyers[g, k] - counts.new[g, k]),
            repeat_buyers=int(counts.repeat_buyers[g, k]), previous_buyers=int(counts.previous_buyers[g, k]),
            retained=int(counts.retained[g, k]),
        ) for k in range(months)]
        if label is None and by is not None and not any(r.buyers or r.existing for r in rows):
            continue
        out.append(RateSlice(label, rows))
    return out
