"""Merging two customers in the loyalty tables (the plugin's ``guanxi_customers_merged``).

One person, one membership (docs/customers.md):
- only the merged customer is a member: the membership moves to the kept one;
- both are: the kept customer's membership (its number, enrolment, status)
  takes the other's lots, ledger entries, tier history and coupons, so the
  balance is the sum of both ledgers and points expire as they would have;
  the higher tier of the two is kept (with the date it was reached), and a
  tier change records it; the merged membership row is then deleted;
- referral links to the merged customer lead to the kept one.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.context import TenantContext
from engine.types import utcnow
from plugins.loyalty.models import LoyaltyCoupon, LoyaltyLedgerEntry, LoyaltyLot, LoyaltyMember, LoyaltyTierChange

M = LoyaltyMember.__table__
MEMBER_TABLES = (LoyaltyLot.__table__, LoyaltyLedgerEntry.__table__, LoyaltyTierChange.__table__, LoyaltyCoupon.__table__)


def merge_members(ctx: TenantContext, kept_id: int, merged_id: int) -> None:
    session, t = ctx.session, ctx.tenant_id
    session.execute(sa.update(M).where(M.c.tenant_id == t, M.c.referrer_customer_id == merged_id)
                    .values(referrer_customer_id=kept_id))
    members = {row.customer_id: row for row in session.execute(
        sa.select(M).where(M.c.tenant_id == t, M.c.customer_id.in_([kept_id, merged_id])).with_for_update()
    ).all()}
    kept, merged = members.get(kept_id), members.get(merged_id)
    if merged is None:
        pass
    elif kept is None:
        session.execute(sa.update(M).where(M.c.id == merged.id).values(customer_id=kept_id))
    else:
        _combine(ctx, kept, merged)
    # Nobody refers themselves.
    session.execute(sa.update(M).where(M.c.tenant_id == t, M.c.customer_id == kept_id, M.c.referrer_customer_id == kept_id)
                    .values(referrer_customer_id=None))


def _combine(ctx: TenantContext, kept, merged) -> None:
    session, t = ctx.session, ctx.tenant_id
    for table in MEMBER_TABLES:
        session.execute(sa.update(table).where(table.c.tenant_id == t, table.c.member_id == merged.id).values(member_id=kept.id))
    values = {"balance": M.c.balance + merged.balance}  # relative: the ledger sums of both
    firsts = [at for at in (kept.first_purchase_at, merged.first_purchase_at) if at is not None]
    if firsts:
        values["first_purchase_at"] = min(firsts)
    if kept.referrer_customer_id is None and merged.referrer_customer_id is not None:
        values["referrer_customer_id"] = merged.referrer_customer_id
    rank = _tier_rank(ctx)
    if rank(merged.tier_code) > rank(kept.tier_code):
        values.update(tier_code=merged.tier_code, tier_achieved_at=merged.tier_achieved_at)
        session.add(LoyaltyTierChange(tenant_id=t, member_id=kept.id, from_tier=kept.tier_code, to_tier=merged.tier_code,
                                      why=f"merged with member {merged.number}", at=utcnow(), actor=ctx.actor))
    session.execute(sa.update(M).where(M.c.id == kept.id).values(**values))
    session.execute(sa.delete(M).where(M.c.id == merged.id))


def _tier_rank(ctx: TenantContext):
    codes = ctx.module_settings("loyalty").tier_codes
    return lambda code: codes.index(code) if code in codes else -1
