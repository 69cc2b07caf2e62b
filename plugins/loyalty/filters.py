"""``customers(where: {loyalty: ...})``: customers by their membership's tier
and points balance (the console's customer list filters by tier). Reads
``loyalty_members`` through its ``(tenant_id, tier_code)`` index; customers
who are not members never match."""

from __future__ import annotations

from typing import Optional

import strawberry
from sqlalchemy import select

from api.contrib import CustomerFilter
from api.filters import compare_condition
from api.types import IntFilter
from engine.models import Customer
from plugins.loyalty.models import LoyaltyMember


@strawberry.input(name="LoyaltyTierFilter", description="Members by tier code, as the tenant's settings name the tiers (GOLD).")
class LoyaltyTierFilter:
    eq: Optional[str] = strawberry.field(default=None, description="In this tier.")
    in_: Optional[list[str]] = strawberry.field(name="in", default=None, description="In any of these tiers.")


@strawberry.input(name="LoyaltyWhere", description="Customers by their loyalty membership; customers who are not members never match.")
class LoyaltyWhere:
    tier: Optional[LoyaltyTierFilter] = strawberry.field(default=None, description="The member's tier now.")
    points: Optional[IntFilter] = strawberry.field(default=None, description="The points balance.")


def _loyalty_condition(where: LoyaltyWhere, tenant_id: int):
    conditions = [LoyaltyMember.tenant_id == tenant_id]
    if where.tier is not None:
        if where.tier.eq is not None:
            conditions.append(LoyaltyMember.tier_code == where.tier.eq)
        if where.tier.in_ is not None:
            conditions.append(LoyaltyMember.tier_code.in_(list(where.tier.in_)))
    if where.points is not None:
        conditions.extend(compare_condition(LoyaltyMember.balance, where.points))
    return Customer.id.in_(select(LoyaltyMember.customer_id).where(*conditions))


CUSTOMER_FILTERS = [CustomerFilter("loyalty", LoyaltyWhere, _loyalty_condition,
                                   "The loyalty membership's tier and points balance (loyalty module).")]
