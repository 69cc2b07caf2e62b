"""Hooks the loyalty module offers integrators (declared through ModuleInfo.hookspecs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.plugins.hookspecs import hookspec


@dataclass(frozen=True)
class TierChange:
    """One member moving from one tier to another (up or down)."""

    customer_id: int
    member_id: int
    from_tier: str | None  # None at enrolment is not reported: only moves between tiers
    to_tier: str
    why: str
    at: datetime


@hookspec
def guanxi_loyalty_earning_rules():
    """Return extra earning rule types: a list of ``plugins.loyalty.rules.RuleType``.

    A ``MULTIPLIER`` rule's ``apply(ctx)`` returns a Decimal > 0 (or None when
    it does not apply) and multiplies the purchase's points; a ``BONUS`` rule
    returns ``Earning`` objects. Called for tenants with the loyalty module
    enabled, on the plugins enabled for them (global plugins always).
    """


@hookspec
def guanxi_loyalty_tier_changed(ctx, changes):
    """Members changed tier (an upgrade on purchase, a downgrade at the yearly
    review, a manual change), inside the same transaction, after the new tiers
    are written.

    ``ctx`` is the tenant's ``TenantContext``; ``changes`` a list of
    ``plugins.loyalty.hookspecs.TierChange`` (one call per batch written).
    Called only on plugins enabled for the tenant (global plugins always).
    Write through ``ctx.session``; raising aborts the change. Return value ignored.
    """
