"""Retention and repurchase over any period, for the console's home page
(``lifecycleOverview``; definitions in docs/api.md,
"The overview"): the monthly rates' definitions applied to [from, to) and
the period of equal length just before it, in one statement (one range scan
of purchases over both periods, grouped by customer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import sqlalchemy as sa

from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed
from engine.models import Interaction
from engine.services.overview import check_period


@dataclass
class PeriodRates:
    base_start: datetime  # the period before: [base_start, start)
    start: datetime
    end: datetime
    buyers: int  # customers with a purchase in the period
    repeat_buyers: int  # of them, with two or more
    previous_buyers: int  # customers with a purchase in the period before
    retained: int  # of them, those who bought in the period too

    @property
    def retention_rate(self) -> Optional[float]:
        return None if not self.previous_buyers else self.retained / self.previous_buyers

    @property
    def churn_rate(self) -> Optional[float]:
        rate = self.retention_rate
        return None if rate is None else 1.0 - rate

    @property
    def repurchase_rate(self) -> Optional[float]:
        return None if not self.buyers else self.repeat_buyers / self.buyers


def period_rates(ctx: TenantContext, start: datetime, end: datetime, store: Optional[str] = None) -> PeriodRates:
    errors = check_period(start, end)
    if store is not None and (not store.strip() or len(store) > 64):
        errors.append(FieldError("store", "must be a store name of 1 to 64 characters"))
    if errors:
        raise ValidationFailed(errors)
    base = start - (end - start)
    i = Interaction.__table__.c
    conditions = [i.tenant_id == ctx.tenant_id, i.kind == "PURCHASE", i.occurred_at >= base, i.occurred_at < end]
    if store is not None:
        conditions.append(i.store == store)
    now = sa.func.count(sa.case((i.occurred_at >= start, 1)))
    before = sa.func.count(sa.case((i.occurred_at < start, 1)))
    per_customer = sa.select(now.label("now"), before.label("before")).where(*conditions).group_by(i.customer_id).subquery()
    count = lambda condition: sa.func.count(sa.case((condition, 1)))  # noqa: E731
    p = per_customer.c
    buyers, repeat, previous, retained = ctx.session.execute(sa.select(
        count(p.now > 0), count(p.now >= 2), count(p.before > 0), count(sa.and_(p.now > 0, p.before > 0)))).one()
    return PeriodRates(base_start=base, start=start, end=end, buyers=buyers, repeat_buyers=repeat,
                       previous_buyers=previous, retained=retained)
