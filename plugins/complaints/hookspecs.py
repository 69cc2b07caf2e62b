"""Hooks the complaints plugin offers to integrators (documented in docs/complaints.md).

Declared through ``ModuleInfo.hookspecs``: the plugin manager adds them when
the complaints plugin registers, before any plugin is checked, so an
integrator implements them like any other hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.plugins.hookspecs import hookspec


@dataclass(frozen=True)
class ComplaintEscalation:
    """One escalation of one case (level 1: department head; level 2: company level)."""

    case_id: int
    customer_id: int
    level: int
    previous_level: int
    clock: str  # "first_response" or "resolution": the clock that drove the level
    category: str
    priority: str
    status: str
    store: str | None
    department: str | None
    assignee: str | None
    at: datetime


@dataclass(frozen=True)
class ComplaintStatusChange:
    """One case moving from one status to another (``workflow.Status`` values, e.g. "resolved")."""

    case_id: int
    customer_id: int
    from_status: str
    to_status: str
    category: str
    store: str | None
    assignee: str | None
    satisfaction: int | None  # the follow-up score, once recorded
    at: datetime


@hookspec
def guanxi_complaint_escalated(ctx, escalation):
    """A complaint case was escalated by the SLA sweep (same transaction).

    ``ctx`` is the tenant's ``TenantContext``; ``escalation`` a
    ``plugins.complaints.hookspecs.ComplaintEscalation``. Called once per
    escalation, only on plugins enabled for the tenant (global plugins
    always). Notify here (mail, WeChat work, paging); raising aborts the
    sweep's transaction. Return value ignored.
    """


@hookspec
def guanxi_complaint_status_changed(ctx, change):
    """A complaint case changed status (routed, resolved, followed up, closed,
    reopened, ...), inside the same transaction, after the change is written.

    ``ctx`` is the tenant's ``TenantContext``; ``change`` a
    ``plugins.complaints.hookspecs.ComplaintStatusChange``. Called once per
    transition, only on plugins enabled for the tenant (global plugins
    always). Write through ``ctx.session``; raising aborts the transition.
    Return value ignored.
    """
