"""Win-back lists: lapsed and churned customers split by value, and the outcome measured.

A list is a snapshot taken when it is made: every customer whose stage is
lapsed or churned then, with their net spend (purchases less refunds) as
their value. At or above the value threshold a customer is worth winning
back (segment ``win_back``); below it, let go (``let_go``). The threshold is
the one given, else the setting ``winback_value_threshold``, else the median
value of the list's own customers (half on each side).

The outcome is read from the purchases, never stored: a listed customer is
won back when they buy within ``window_days`` after the list was made. Both
segments are measured, so the let-go group is the comparison that tells
what the win-back effort added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from engine import input_bounds
from engine.context import TenantContext
from engine.services import audit
from engine.errors import FieldError, ValidationFailed, not_found
from engine.models import Customer, Interaction
from engine.types import CENT, utcnow
from plugins.lifecycle.models import LifecycleCustomer, LifecycleWinbackList, LifecycleWinbackMember
from plugins.lifecycle.settings import LifecycleSettings
from plugins.lifecycle.stages import GONE

MODULE = "lifecycle"
WIN_BACK, LET_GO = "win_back", "let_go"
SEGMENTS = (WIN_BACK, LET_GO)
L, M = LifecycleWinbackList.__table__, LifecycleWinbackMember.__table__


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    mid = len(ordered) // 2
    value = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@audit.audited("lifecycle.create_winback_list", "LifecycleWinbackList")
def create_list(ctx: TenantContext, name: str, value_threshold: Decimal | None = None,
                window_days: int | None = None, now: datetime | None = None) -> LifecycleWinbackList:
    """Snapshot the lapsed and churned customers into a new list; fields named on bad input.
    ``now``: the snapshot's time (the demo back-dates a list to show a finished outcome)."""
    settings: LifecycleSettings = ctx.module_settings(MODULE)
    errors: list[FieldError] = []
    name = (name or "").strip()
    if not name:
        errors.append(FieldError("name", "is required"))
    errors += input_bounds.check_text("name", name, 200)
    if value_threshold is not None and (not Decimal(value_threshold).is_finite() or value_threshold < 0):
        errors.append(FieldError("value_threshold", "must be zero or more"))
    errors += input_bounds.check_int("window_days", window_days, 1, 3650)
    if errors:
        raise ValidationFailed(errors)
    net = sa.cast(Customer.total_spent - Customer.refunded_amount, Customer.total_spent.type)
    rows = ctx.session.execute(
        sa.select(LifecycleCustomer.customer_id, LifecycleCustomer.stage, net)
        .join(Customer, Customer.id == LifecycleCustomer.customer_id)
        .where(LifecycleCustomer.tenant_id == ctx.tenant_id, LifecycleCustomer.stage.in_(GONE),
               Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None))).all()
    values = [Decimal(str(v or 0)).quantize(CENT) for _, _, v in rows]
    if value_threshold is None:
        value_threshold = settings.winback_value_threshold
    if value_threshold is None:
        value_threshold = _median(values) if values else Decimal("0.00")
    threshold = Decimal(value_threshold).quantize(CENT, rounding=ROUND_HALF_UP)
    made = LifecycleWinbackList(tenant_id=ctx.tenant_id, name=name, value_threshold=threshold,
                                window_days=window_days or settings.winback_window_days, created_at=now or utcnow(),
                                created_by=ctx.actor[:64])
    ctx.session.add(made)
    ctx.session.flush()
    if rows:
        ctx.session.execute(sa.insert(M), [
            {"tenant_id": ctx.tenant_id, "list_id": made.id, "customer_id": cid, "stage": stage, "value": value,
             "segment": WIN_BACK if value >= threshold else LET_GO}
            for (cid, stage, _), value in zip(rows, values)])
    return made


def get_list(ctx: TenantContext, list_id: int, field_name: str = "id") -> LifecycleWinbackList:
    found = ctx.session.get(LifecycleWinbackList, list_id)
    if found is None or found.tenant_id != ctx.tenant_id:
        raise not_found(field_name, f"no win-back list {list_id} in this tenant")
    return found


@dataclass(frozen=True)
class SegmentOutcome:
    segment: str
    customers: int
    value: Decimal  # their net spend when listed
    won_back: int  # bought within the window
    won_back_share: float | None  # won_back / customers; None for an empty segment
    revenue: Decimal  # what they bought within the window


@dataclass(frozen=True)
class WinbackOutcome:
    list_id: int
    created_at: datetime
    window_days: int
    measured_until: datetime  # the window's end, or now while it is still open
    complete: bool  # the window has ended: the figures are final
    segments: tuple[SegmentOutcome, ...]

    def as_dict(self) -> dict:
        return {"list_id": self.list_id, "created_at": self.created_at.isoformat(), "window_days": self.window_days,
                "measured_until": self.measured_until.isoformat(), "complete": self.complete,
                "segments": [{"segment": s.segment, "customers": s.customers, "value": str(s.value),
                              "won_back": s.won_back, "won_back_share": s.won_back_share, "revenue": str(s.revenue)}
                             for s in self.segments]}


def outcomes(ctx: TenantContext, lists: list[LifecycleWinbackList], now: datetime | None = None) -> dict[int, WinbackOutcome]:
    """Each list's outcome per segment, from the purchases in its window (two grouped statements in all)."""
    now = now or utcnow()
    if not lists:
        return {}
    ids = [w.id for w in lists]
    sizes = {(lid, seg): (n, Decimal(str(v or 0))) for lid, seg, n, v in ctx.session.execute(
        sa.select(M.c.list_id, M.c.segment, sa.func.count(), sa.func.sum(M.c.value))
        .where(M.c.tenant_id == ctx.tenant_id, M.c.list_id.in_(ids)).group_by(M.c.list_id, M.c.segment)).all()}
    won: dict[tuple[int, str], tuple[int, Decimal]] = {}
    for w in lists:
        end = min(w.created_at + timedelta(days=w.window_days), now)
        i = Interaction
        bought = (sa.select(i.customer_id, sa.func.sum(i.amount).label("spent"))
                  .where(i.tenant_id == ctx.tenant_id, i.kind == "PURCHASE", i.occurred_at > w.created_at,
                         i.occurred_at <= end).group_by(i.customer_id).subquery())
        for seg, n, spent in ctx.session.execute(
                sa.select(M.c.segment, sa.func.count(), sa.func.sum(bought.c.spent))
                .join(bought, bought.c.customer_id == M.c.customer_id)
                .where(M.c.tenant_id == ctx.tenant_id, M.c.list_id == w.id).group_by(M.c.segment)).all():
            won[(w.id, seg)] = (n, Decimal(str(spent or 0)))
    out = {}
    for w in lists:
        end = w.created_at + timedelta(days=w.window_days)
        segments = []
        for seg in SEGMENTS:
            n, value = sizes.get((w.id, seg), (0, Decimal(0)))
            back, revenue = won.get((w.id, seg), (0, Decimal(0)))
            segments.append(SegmentOutcome(seg, n, value.quantize(CENT), back, back / n if n else None, revenue.quantize(CENT)))
        out[w.id] = WinbackOutcome(w.id, w.created_at, w.window_days, min(end, now), now >= end, tuple(segments))
    return out
