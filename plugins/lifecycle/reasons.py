"""Churn reasons: why a lapsed or churned customer left, as an agent recorded it, and the report over them.

A reason is recorded only on a customer whose stage is lapsed or churned
now (the stage the last run or purchase stored); any other stage is a field
error on ``customer_id``. The code must be one of the tenant's reason codes
(settings ``churn_reasons``: the defaults plus the tenant's own). The store
and staff it is filed under default to those of the customer's last purchase
(else the customer's own store and dedicated staff), so the report can say
which stores and which staff members' customers leave, and why.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from engine import input_bounds
from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed, not_found
from engine.models import Customer, Interaction
from engine.types import utcnow
from plugins.lifecycle.models import LifecycleChurnReason, LifecycleCustomer
from plugins.lifecycle.settings import LifecycleSettings
from plugins.lifecycle.stages import GONE

MODULE = "lifecycle"
NOTE_LIMIT = 2000
SHORT_LIMIT = 64


def _text(name: str, value: str | None, limit: int, errors: list[FieldError]) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    found = input_bounds.check_text(name, value, limit)
    errors.extend(found)
    return None if found else value


def _last_purchase_place(ctx: TenantContext, customer_id: int) -> tuple[str | None, str | None]:
    row = ctx.session.execute(
        sa.select(Interaction.store, Interaction.staff)
        .where(Interaction.tenant_id == ctx.tenant_id, Interaction.customer_id == customer_id, Interaction.kind == "PURCHASE")
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(1)).first()
    return (row.store, row.staff) if row else (None, None)


def record_reason(ctx: TenantContext, customer_id: int, code: str, note: str | None = None, store: str | None = None,
                  staff: str | None = None, field_name: str = "customer_id") -> LifecycleChurnReason:
    """Record why the customer left; ``ValidationFailed``/``NotFound`` naming the field, nothing written, otherwise."""
    settings: LifecycleSettings = ctx.module_settings(MODULE)
    errors: list[FieldError] = []
    customer = ctx.session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != ctx.tenant_id or customer.deleted_at is not None:
        raise not_found(field_name, f"no customer {customer_id} in this tenant")
    code = (code or "").strip().upper()
    if settings.churn_reason(code) is None:
        known = ", ".join(r.code for r in settings.churn_reasons)
        errors.append(FieldError("code", f"unknown churn reason {code!r}; known: {known}"))
    note = _text("note", note, NOTE_LIMIT, errors)
    store = _text("store", store, SHORT_LIMIT, errors)
    staff = _text("staff", staff, SHORT_LIMIT, errors)
    stage = ctx.session.execute(sa.select(LifecycleCustomer.stage).where(
        LifecycleCustomer.tenant_id == ctx.tenant_id, LifecycleCustomer.customer_id == customer_id)).scalar()
    if stage not in GONE:
        now = "has no stage yet (no stage run)" if stage is None else f"is {stage}"
        errors.append(FieldError(field_name, f"the customer {now}; churn reasons are recorded on lapsed or churned "
                                             "customers only"))
    if errors:
        raise ValidationFailed(errors)
    if store is None or staff is None:
        last_store, last_staff = _last_purchase_place(ctx, customer_id)
        store = store or last_store or customer.store
        staff = staff or last_staff or customer.owner
    reason = LifecycleChurnReason(tenant_id=ctx.tenant_id, customer_id=customer_id, code=code, stage=stage, store=store,
                                  staff=staff, note=note, recorded_by=ctx.actor[:64], recorded_at=utcnow())
    ctx.session.add(reason)
    ctx.session.flush()
    return reason


def customer_reasons(session, tenant_id: int, ids: list[int]) -> dict[int, list[LifecycleChurnReason]]:
    out: dict[int, list[LifecycleChurnReason]] = {i: [] for i in ids}
    rows = session.execute(sa.select(LifecycleChurnReason).where(
        LifecycleChurnReason.tenant_id == tenant_id, LifecycleChurnReason.customer_id.in_(ids))
        .order_by(LifecycleChurnReason.recorded_at, LifecycleChurnReason.id)).scalars()
    for row in rows:
        out[row.customer_id].append(row)
    return out


@dataclass
class ReasonReport:
    """Reasons recorded in [since, until): counts by code, side, store and staff, most first."""

    since: datetime | None
    until: datetime | None
    total: int
    by_reason: list[tuple[str, int]] = field(default_factory=list)
    by_side: list[tuple[str, int]] = field(default_factory=list)
    by_store: list[tuple[str | None, int]] = field(default_factory=list)
    by_staff: list[tuple[str | None, int]] = field(default_factory=list)
    # (store or staff, code) pairs: which reasons each store's and staff member's customers give
    by_store_reason: list[tuple[str | None, str, int]] = field(default_factory=list)
    by_staff_reason: list[tuple[str | None, str, int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"since": self.since.isoformat() if self.since else None, "until": self.until.isoformat() if self.until else None,
                "total": self.total, "by_reason": dict(self.by_reason), "by_side": dict(self.by_side),
                "by_store": [[k, n] for k, n in self.by_store], "by_staff": [[k, n] for k, n in self.by_staff],
                "by_store_reason": [list(x) for x in self.by_store_reason],
                "by_staff_reason": [list(x) for x in self.by_staff_reason]}


def _ranked(counter: Counter) -> list:
    return sorted(counter.items(), key=lambda kv: (-kv[1], "" if kv[0] is None else str(kv[0])))


def reason_report(ctx: TenantContext, since: datetime | None = None, until: datetime | None = None) -> ReasonReport:
    """Counted by the database per (code, store, staff); the rest is small."""
    if since and until and since >= until:
        raise ValidationFailed([FieldError("from", "must be before to")])
    settings: LifecycleSettings = ctx.module_settings(MODULE)
    r = LifecycleChurnReason
    conditions = [r.tenant_id == ctx.tenant_id]
    if since:
        conditions.append(r.recorded_at >= since)
    if until:
        conditions.append(r.recorded_at < until)
    rows = ctx.session.execute(sa.select(r.code, r.store, r.staff, sa.func.count()).where(*conditions)
                               .group_by(r.code, r.store, r.staff)).all()
    by_reason, by_side, by_store, by_staff = Counter(), Counter(), Counter(), Counter()
    store_reason, staff_reason = Counter(), Counter()
    for code, store, staff, n in rows:
        by_reason[code] += n
        reason = settings.churn_reason(code)
        by_side[reason.side if reason else "UNKNOWN"] += n  # a code the tenant since removed
        by_store[store] += n
        by_staff[staff] += n
        store_reason[(store, code)] += n
        staff_reason[(staff, code)] += n
    pairs = lambda c: [(k[0], k[1], n) for k, n in _ranked(c)]  # noqa: E731
    return ReasonReport(since, until, sum(by_reason.values()), _ranked(by_reason), _ranked(by_side), _ranked(by_store),
                        _ranked(by_staff), pairs(store_reason), pairs(staff_reason))
