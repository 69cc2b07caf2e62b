"""Hooks the loyalty module offers integrators (declared through ModuleInfo.hookspecs)."""

from __future__ import annotations

from engine.plugins.hookspecs import hookspec


@hookspec
def guanxi_loyalty_earning_rules():
    """Return extra earning rule types: a list of ``plugins.loyalty.rules.RuleType``.

    A ``MULTIPLIER`` rule's ``apply(ctx)`` returns a Decimal > 0 (or None when
    it does not apply) and multiplies the purchase's points; a ``BONUS`` rule
    returns ``Earning`` objects. Called for tenants with the loyalty module
    enabled, on the plugins enabled for them (global plugins always).
    """
