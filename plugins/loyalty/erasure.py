"""Erasing a customer from the loyalty tables (the plugin's ``guanxi_customer_erased``).

Loyalty keeps no names, contacts or birthdays, but some of its text comes from
people and may identify the customer: the reasons staff type on adjustments,
the order reference a redemption or a used coupon records (in the entry's
reason, its details and the coupon's ``order_ref``), the reason staff gave
for voiding a coupon, and the idempotency keys callers send, often the shop's
own order number. That text goes. Points, tiers, dates and the membership
number stay: anonymous facts once the customer row is erased, and the
programme's totals stay right. Unused coupons are voided: nobody may spend
them once their holder is gone.

Runs whether or not the tenant has loyalty switched on now: the engine calls
the hook on every installed plugin, so nothing here reads the module's settings.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.context import TenantContext
from engine.types import utcnow
from plugins.loyalty.models import LoyaltyCoupon, LoyaltyLedgerEntry, LoyaltyMember

ERASED = "(erased)"
# Keys service.py builds as "<prefix><the caller's key>" (or a random one when none is sent).
CALLER_KEY_PREFIXES = ("redeem:", "reward:", "adjust:")

M, E, C = LoyaltyMember.__table__, LoyaltyLedgerEntry.__table__, LoyaltyCoupon.__table__


def erase_member(ctx: TenantContext, customer_id: int) -> None:
    """Close the membership, drop referral links to and from the customer and
    blank the free text their entries and coupons carry."""
    session, t = ctx.session, ctx.tenant_id
    session.execute(sa.update(M).where(M.c.tenant_id == t, M.c.referrer_customer_id == customer_id)
                    .values(referrer_customer_id=None))
    member_id = session.execute(sa.select(M.c.id).where(M.c.tenant_id == t, M.c.customer_id == customer_id)).scalar()
    if member_id is None:
        return
    session.execute(sa.update(M).where(M.c.id == member_id).values(status="CLOSED", referrer_customer_id=None))
    mine = sa.and_(E.c.tenant_id == t, E.c.member_id == member_id)
    order_redemption = sa.and_(E.c.kind == "REDEEM", E.c.rule == "ORDER")
    # Typed by staff (adjustments) or naming the order ("... of order SO-1").
    session.execute(sa.update(E).where(mine, sa.or_(E.c.kind == "ADJUST", order_redemption)).values(reason=ERASED))
    for entry_id, details in session.execute(sa.select(E.c.id, E.c.details).where(mine, order_redemption)).all():
        if (details or {}).get("order_ref") is not None:
            session.execute(sa.update(E).where(E.c.id == entry_id).values(details={**details, "order_ref": None}))
    # A caller's key becomes one unique to the entry (a retry after the erasure
    # no longer replays the original; spending is refused on a closed membership).
    session.execute(
        sa.update(E)
        .where(mine, sa.or_(*(E.c.idempotency_key.startswith(prefix, autoescape=True) for prefix in CALLER_KEY_PREFIXES)))
        .values(idempotency_key=sa.literal("erased:") + sa.cast(E.c.id, sa.String))
    )
    # A coupon is a bearer voucher: once its holder is erased nobody can
    # legitimately present it, so the unused ones are voided.
    session.execute(sa.update(C).where(C.c.tenant_id == t, C.c.member_id == member_id, C.c.used_at.is_(None),
                                       C.c.voided_at.is_(None)).values(voided_at=utcnow(), void_reason=ERASED))
    # The order a coupon paid for, and why staff voided one.
    session.execute(sa.update(C).where(C.c.tenant_id == t, C.c.member_id == member_id).values(
        order_ref=None, void_reason=sa.case((C.c.void_reason.is_(None), None), else_=sa.literal(ERASED))))
