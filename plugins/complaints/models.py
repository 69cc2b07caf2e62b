"""The complaints plugin's tables: cases and their timeline.

Every table carries ``tenant_id``; every query of the plugin filters on it.
Status, priority and category columns hold the lower-case status/priority
values of ``workflow`` and the tenant's category codes.

SLA targets are copied onto the case when it is opened (the policy that
matched then keeps applying if the tenant edits its policies later), so the
sweep reads one table and needs no policy matching.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, UtcDateTime, utcnow


# Bits of ComplaintCase.stat_code; satisfaction (0 = none, 1–5) is stat_code >> 7.
STAT_BITS = {
    "sla_met": 1,  # an SLA applied, resolved, never breached
    "sla_breached": 2,  # an SLA applied and a clock breached (open or not)
    "promise_made": 4,
    "promise_kept": 8,
    "promise_broken": 16,
    "resolved_ever": 32,  # resolved now, or reopened after a resolution
    "reopened": 64,
}
STAT_CODE_SQL = (
    "(CASE WHEN sla_policy IS NOT NULL AND resolved_at IS NOT NULL"
    " AND NOT (first_response_breached OR resolution_breached) THEN 1 ELSE 0 END)"
    " + (CASE WHEN sla_policy IS NOT NULL AND (first_response_breached OR resolution_breached) THEN 2 ELSE 0 END)"
    " + (CASE WHEN promised_reply_at IS NOT NULL THEN 4 ELSE 0 END)"
    " + (CASE WHEN promise_kept IS NULL THEN 0 WHEN promise_kept THEN 8 ELSE 16 END)"
    " + (CASE WHEN resolved_at IS NOT NULL OR reopen_count > 0 THEN 32 ELSE 0 END)"
    " + (CASE WHEN reopen_count > 0 THEN 64 ELSE 0 END)"
    " + COALESCE(satisfaction, 0) * 128"
)

OPEN_STATUS_SQL = "('received', 'routed', 'in_progress', 'waiting_on_customer')"
SWEEP_WHERE = f"status IN {OPEN_STATUS_SQL} AND sla_policy IS NOT NULL"
PROMISE_WHERE = "promised_reply_at IS NOT NULL AND promise_kept IS NULL AND promise_fulfilled_at IS NULL"


class ComplaintCase(SQLModel, table=True):
    __tablename__ = "complaint_cases"
    __table_args__ = (
        # The queue: open cases of a tenant by status, newest first.
        sa.Index("ix_complaint_cases_queue", "tenant_id", "status", "id"),
        sa.Index("ix_complaint_cases_customer", "tenant_id", "customer_id", "opened_at"),
        sa.Index("ix_complaint_cases_category", "tenant_id", "category", "opened_at"),
        sa.Index("ix_complaint_cases_store", "tenant_id", "store", "opened_at"),
        sa.Index("ix_complaint_cases_opened", "tenant_id", "opened_at"),
        sa.Index("ix_complaint_cases_parent", "tenant_id", "parent_id"),
        sa.Index("ix_complaint_cases_assignee", "tenant_id", "assignee", "status"),
        # Covering indexes of the report (stats.py): each of its GROUP BYs is
        # an index-only scan in group order, no sort and no table access.
        sa.Index("ix_complaint_cases_stats", "tenant_id", "category", "status", "stat_code", "opened_at"),
        sa.Index("ix_complaint_cases_first_minute", "tenant_id", "first_response_minute", "opened_at"),
        sa.Index("ix_complaint_cases_resolution_minute", "tenant_id", "resolution_minute", "opened_at"),
        sa.Index("ix_complaint_cases_root_cause", "tenant_id", "root_cause", "opened_at"),
        # The SLA sweep (jobs.py) reads only open cases under an SLA, and only
        # these columns: a partial covering index makes that an index-only scan.
        sa.Index(
            "ix_complaint_cases_sweep", "tenant_id", "id", "opened_at", "first_response_target", "resolution_target",
            "paused_minutes", "paused_since", "first_response_at", "escalation_level", "sla_calendar",
            "first_response_breached", "resolution_breached",
            sqlite_where=sa.text(SWEEP_WHERE), postgresql_where=sa.text(SWEEP_WHERE),
        ),
        sa.Index(
            "ix_complaint_cases_promises", "tenant_id", "promised_reply_at",
            sqlite_where=sa.text(PROMISE_WHERE), postgresql_where=sa.text(PROMISE_WHERE),
        ),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    interaction_id: Optional[int] = Field(default=None, foreign_key="interactions.id")
    parent_id: Optional[int] = Field(default=None, foreign_key="complaint_cases.id")

    category: str = Field(max_length=32)
    priority: str = Field(default="normal", max_length=16)
    channel: Optional[str] = Field(default=None, max_length=16)
    store: Optional[str] = Field(default=None, max_length=64)
    description: Optional[str] = Field(default=None, max_length=4000)
    department: Optional[str] = Field(default=None, max_length=64)
    assignee: Optional[str] = Field(default=None, max_length=64)
    status: str = Field(default="received", max_length=24)

    # Promise of a reply time made to the customer (承诺答复时间).
    promised_reply_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    promise_made_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    promise_fulfilled_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    promise_kept: Optional[bool] = None  # None = pending or no promise

    resolution: Optional[str] = Field(default=None, max_length=4000)
    root_cause: Optional[str] = Field(default=None, max_length=64)
    satisfaction: Optional[int] = None
    reopen_count: int = 0

    opened_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    first_response_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    resolved_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    closed_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    paused_since: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    paused_minutes: float = 0.0  # business minutes of finished pauses and reopened spans

    # SLA (copied from the matching policy at opening; None = no SLA applies).
    sla_policy: Optional[str] = Field(default=None, max_length=64)
    sla_calendar: Optional[str] = Field(default=None, max_length=64)
    first_response_target: Optional[int] = None  # business minutes
    resolution_target: Optional[int] = None
    first_response_due: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    resolution_due: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)  # None while paused
    first_response_minutes: Optional[float] = None  # business minutes it took (set at first response)
    resolution_minutes: Optional[float] = None  # business minutes net of pauses (set at resolution)
    first_response_breached: bool = False
    resolution_breached: bool = False
    escalation_level: int = 0
    escalated_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    # Whole minutes (floored) of the two durations: the report's histogram keys.
    first_response_minute: Optional[int] = None
    resolution_minute: Optional[int] = None
    # The report's per-case indicators packed into one generated integer (see STAT_BITS).
    stat_code: Optional[int] = Field(default=None, sa_column=sa.Column(sa.Integer, sa.Computed(STAT_CODE_SQL, persisted=True)))

    created_by: Optional[str] = Field(default=None, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ComplaintEvent(SQLModel, table=True):
    """One timeline entry: a transition, a progress update, an escalation or a note."""

    __tablename__ = "complaint_events"
    __table_args__ = (sa.Index("ix_complaint_events_case", "tenant_id", "case_id", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    case_id: int = Field(foreign_key="complaint_cases.id")
    kind: str = Field(max_length=16)  # TRANSITION / UPDATE / ESCALATION / NOTE
    from_status: Optional[str] = Field(default=None, max_length=24)
    to_status: Optional[str] = Field(default=None, max_length=24)
    actor: str = Field(default="system", max_length=64)
    note: Optional[str] = Field(default=None, max_length=4000)
    data: dict = Field(default_factory=dict, sa_type=Json)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


EVENT_KINDS = ("TRANSITION", "UPDATE", "ESCALATION", "NOTE")
