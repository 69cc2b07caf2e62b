"""The coupon wallet: a member's issued coupons, listed, used at checkout, voided.

A coupon's status is not stored; it is derived from the row and a time ``at``
(default now), the same way in Python (``status_of``) and in SQL
(``status_clause``, for the status filter and ``totalCount``):

- ``USED``    ``used_at <= at``
- ``VOIDED``  ``voided_at <= at``
- ``EXPIRED`` neither, and ``valid_until <= at``
- ``ISSUED``  neither, and ``at < valid_until`` (possibly not valid yet: ``at < valid_from``)

Using and voiding lock the coupon row (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite write transactions are ``BEGIN IMMEDIATE``, already serial) and then
change it with a conditional ``UPDATE ... WHERE used_at IS NULL AND voided_at
IS NULL`` whose row count is checked: of two tills using one code at once,
exactly one wins and the other gets ``COUPON_USED``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Sequence

import sqlalchemy as sa

from engine.context import TenantContext
from engine.errors import invalid, not_found
from engine.services import audit
from engine.types import utcnow
from plugins.loyalty import service
from plugins.loyalty.models import COUPON_STATUSES, LoyaltyCoupon, LoyaltyReward

C = LoyaltyCoupon.__table__
R = LoyaltyReward.__table__

MAX_ORDER_REF = 128
MAX_REASON = 500


@dataclasses.dataclass
class Coupon:
    """A coupon as the wallet shows it: the row, its reward and its status at ``at``."""

    id: int
    code: str
    status: str
    reward_code: str
    reward_name_zh: str
    reward_name_en: str
    reward_kind: str
    value: Decimal | None
    valid_from: datetime
    valid_until: datetime
    used_at: datetime | None
    order_ref: str | None
    voided_at: datetime | None
    void_reason: str | None
    replayed: bool = False  # use_coupon: a retry with the same order_ref, nothing applied again


def status_of(used_at: datetime | None, voided_at: datetime | None, valid_until: datetime, at: datetime) -> str:
    if used_at is not None and used_at <= at:
        return "USED"
    if voided_at is not None and voided_at <= at:
        return "VOIDED"
    return "EXPIRED" if valid_until <= at else "ISSUED"


def status_clause(status: str, at: datetime) -> sa.ColumnElement:
    """SQL for ``status_of(...) == status`` (no NULL leaks: every branch is TRUE or FALSE)."""
    used = sa.and_(C.c.used_at.is_not(None), C.c.used_at <= at)
    voided = sa.and_(C.c.voided_at.is_not(None), C.c.voided_at <= at)
    if status == "USED":
        return used
    if status == "VOIDED":
        return sa.and_(voided, sa.not_(used))
    still_open = sa.not_(sa.or_(used, voided))
    if status == "EXPIRED":
        return sa.and_(still_open, C.c.valid_until <= at)
    return sa.and_(still_open, C.c.valid_until > at)


def _statuses(values: Iterable[str] | None) -> list[str]:
    wanted = sorted({str(v).upper() for v in values or ()})
    unknown = [v for v in wanted if v not in COUPON_STATUSES]
    if unknown:
        raise invalid("status", f"unknown status {', '.join(unknown)}; expected one of {', '.join(COUPON_STATUSES)}")
    return wanted


_COLUMNS = (C.c.id, C.c.code, C.c.valid_from, C.c.valid_until, C.c.used_at, C.c.order_ref, C.c.voided_at,
            C.c.void_reason, R.c.code.label("reward_code"), R.c.name_zh, R.c.name_en, R.c.kind, R.c.value)


def _view(row, at: datetime, replayed: bool = False) -> Coupon:
    return Coupon(
        id=row.id, code=row.code, status=status_of(row.used_at, row.voided_at, row.valid_until, at),
        reward_code=row.reward_code, reward_name_zh=row.name_zh, reward_name_en=row.name_en, reward_kind=row.kind,
        value=row.value, valid_from=row.valid_from, valid_until=row.valid_until, used_at=row.used_at,
        order_ref=row.order_ref, voided_at=row.voided_at, void_reason=row.void_reason, replayed=replayed,
    )


def _of_member(ctx: TenantContext, member_id: int, statuses: Sequence[str], at: datetime):
    where = [C.c.tenant_id == ctx.tenant_id, C.c.member_id == member_id]
    if statuses:
        where.append(sa.or_(*(status_clause(s, at) for s in statuses)))
    return where


def list_coupons(ctx: TenantContext, member_id: int, statuses: Iterable[str] | None = None, first: int = 20,
                 after: int | None = None, at: datetime | None = None, before: int | None = None,
                 oldest_first: bool = False) -> list[Coupon]:
    """The member's coupons, newest first, with status among ``statuses`` (all when empty) at ``at``.
    Keyset: ``after`` is the id of the last coupon of the previous page (older ones follow);
    ``before`` keeps newer ones; ``oldest_first`` reads from the other end (a page backwards)."""
    at = at or utcnow()
    where = _of_member(ctx, member_id, _statuses(statuses), at)
    if after is not None:
        where.append(C.c.id < after)
    if before is not None:
        where.append(C.c.id > before)
    stmt = (sa.select(*_COLUMNS).select_from(C.join(R, R.c.id == C.c.reward_id)).where(*where)
            .order_by(C.c.id.asc() if oldest_first else C.c.id.desc()).limit(first))
    return [_view(row, at) for row in ctx.session.execute(stmt)]


def count_coupons(ctx: TenantContext, member_id: int, statuses: Iterable[str] | None = None,
                  at: datetime | None = None) -> int:
    at = at or utcnow()
    where = _of_member(ctx, member_id, _statuses(statuses), at)
    return int(ctx.session.execute(sa.select(sa.func.count()).select_from(C).where(*where)).scalar_one())


def get_coupon(ctx: TenantContext, coupon_id: int, at: datetime | None = None, replayed: bool = False) -> Coupon:
    stmt = (sa.select(*_COLUMNS).select_from(C.join(R, R.c.id == C.c.reward_id))
            .where(C.c.tenant_id == ctx.tenant_id, C.c.id == coupon_id))
    return _view(ctx.session.execute(stmt).one(), at or utcnow(), replayed)


def _locked(ctx: TenantContext, code) -> sa.Row:
    """The coupon ``code`` of this tenant, locked for the rest of the transaction on PostgreSQL."""
    stmt = sa.select(C).where(C.c.tenant_id == ctx.tenant_id, C.c.code == str(code or "").strip().upper())
    if service.is_postgres(ctx):
        stmt = stmt.with_for_update()
    row = ctx.session.execute(stmt).first()
    if row is None:
        raise not_found("code", f"no coupon {code!r}")
    return row


def _text(value, field: str, limit: int) -> str | None:
    text = str(value or "").strip()
    if len(text) > limit:
        raise invalid(field, f"must be at most {limit} characters")
    return text or None


def _still_open(ctx: TenantContext, row, **values) -> None:
    """Set ``values`` on the coupon unless it was used or voided meanwhile (then: COUPON_USED / COUPON_VOIDED)."""
    done = ctx.session.execute(sa.update(C).where(C.c.id == row.id, C.c.used_at.is_(None), C.c.voided_at.is_(None))
                               .values(**values)).rowcount
    if done != 1:  # not reachable with the row locked; kept as the guarantee
        raise invalid("code", f"coupon {row.code} was already used or voided", "COUPON_USED")


@audit.audited("loyalty.use_coupon", "LoyaltyCoupon")
def use_coupon(ctx: TenantContext, code: str, order_ref: str | None = None, at: datetime | None = None) -> Coupon:
    """Mark an issued coupon used for ``order_ref`` at checkout.

    A retry with the same (non-empty) ``order_ref`` of a coupon already used
    for it returns the coupon with ``replayed=True`` and changes nothing. Any
    other use of a used coupon is ``COUPON_USED``; voided, expired and not yet
    valid coupons are ``COUPON_VOIDED``, ``COUPON_EXPIRED``,
    ``COUPON_NOT_YET_VALID``; an unknown code ``NOT_FOUND``; all on ``code``.
    """
    service.require_enabled(ctx)
    at = at or utcnow()
    order_ref = _text(order_ref, "order_ref", MAX_ORDER_REF)
    row = _locked(ctx, code)
    if row.used_at is not None:
        if order_ref is not None and row.order_ref == order_ref:
            return get_coupon(ctx, row.id, at, replayed=True)
        raise invalid("code", f"coupon {row.code} was already used", "COUPON_USED")
    if row.voided_at is not None:
        raise invalid("code", f"coupon {row.code} was voided", "COUPON_VOIDED")
    if at < row.valid_from:
        raise invalid("code", f"coupon {row.code} is not valid before {row.valid_from:%Y-%m-%d %H:%M} UTC",
                      "COUPON_NOT_YET_VALID")
    if at >= row.valid_until:
        raise invalid("code", f"coupon {row.code} expired on {row.valid_until:%Y-%m-%d %H:%M} UTC", "COUPON_EXPIRED")
    _still_open(ctx, row, used_at=at, order_ref=order_ref)
    return get_coupon(ctx, row.id, at)


@audit.audited("loyalty.void_coupon", "LoyaltyCoupon")
def void_coupon(ctx: TenantContext, code: str, reason: str, at: datetime | None = None) -> Coupon:
    """Withdraw an unused coupon (issued in error, leaked, fraud): it can no longer be used.

    The points paid for it are not given back and the reward's stock is not
    restored (docs/loyalty.md): compensation is an explicit ``adjust_points``.
    """
    service.require_enabled(ctx)
    at = at or utcnow()
    reason = _text(reason, "reason", MAX_REASON)
    if reason is None:
        raise invalid("reason", "a reason is required to void a coupon")
    row = _locked(ctx, code)
    if row.used_at is not None:
        raise invalid("code", f"coupon {row.code} was already used; a used coupon cannot be voided", "COUPON_USED")
    if row.voided_at is not None:
        raise invalid("code", f"coupon {row.code} was already voided", "COUPON_VOIDED")
    _still_open(ctx, row, voided_at=at, void_reason=reason)
    return get_coupon(ctx, row.id, at)
