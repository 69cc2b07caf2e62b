"""Hooks the lifecycle plugin offers to other plugins (documented in docs/plugin-hooks.md).

Declared through ``ModuleInfo.hookspecs``: the plugin manager adds them when
the lifecycle plugin registers, so loyalty, campaigns or surveys implement
them like any other hook (with ``optionalhook=True`` when lifecycle may be
absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.plugins.hookspecs import hookspec

STAGES = ("prospect", "new", "active", "at_risk", "lapsed", "churned", "won_back")


@dataclass(frozen=True)
class StageChange:
    """One customer moving from one retention stage to another (codes of ``STAGES``).

    ``from_stage`` is None when the customer had no stage yet (a customer
    created since the last run). ``at`` is when the new stage began: the
    purchase that made a customer new, active or won back, or the moment the
    time since the last purchase crossed the customer's threshold (at risk,
    lapsed, churned), which may be before the run that noticed it.
    """

    customer_id: int
    from_stage: str | None
    to_stage: str
    at: datetime


@hookspec
def guanxi_lifecycle_stage_changed(ctx, changes):
    """Customers changed retention stage (same transaction, after the new
    stages and their history rows are written).

    ``ctx`` is the tenant's ``TenantContext``; ``changes`` a list of
    ``plugins.lifecycle.hookspecs.StageChange``, one per stage passed (a
    customer may pass two between runs: active -> at_risk -> lapsed). Called
    once per stage run with every change, and once per recorded batch of
    purchases that moved customers; only on plugins enabled for the tenant
    (global plugins always); not called for the tenant's first run, which
    classifies every customer at once. The
    same changes go out as ``lifecycle.stage_changed`` domain events. Write
    through ``ctx.session``; raising aborts the run. Return value ignored.
    """
