"""The demo tenant's complaint cases have a history: worked through the
workflow at past times, some late and escalated, recent ones still open."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.demo import DEMO_SLUG, generate_demo
from engine.testing import engine_on
from engine.types import utcnow
from plugins.complaints.models import ComplaintCase, ComplaintEvent
from plugins.complaints.stats import complaint_stats
from plugins.complaints.workflow import OPEN_STATUSES, Status

OPEN = {status.value for status in OPEN_STATUSES}


@pytest.fixture
def demo(fresh_database_url):
    gx = engine_on(fresh_database_url)
    # A shorter history than the real demo's two years: a small tenant still has recent, open cases.
    result = generate_demo(gx, customers=500, days=120)
    return gx, result


def _cases(ctx):
    return ctx.session.execute(sa.select(ComplaintCase).order_by(ComplaintCase.id)).scalars().all()


def test_the_demo_cases_move_through_the_workflow(demo):
    gx, result = demo
    assert any(note.startswith("complaints: ") for note in result.notes), result.notes
    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        cases = _cases(ctx)
        stats = complaint_stats(ctx, utcnow() - timedelta(days=400), utcnow() + timedelta(hours=1))
    statuses = {case.status for case in cases}
    assert Status.CLOSED.value in statuses and statuses & OPEN and len(statuses) >= 3, statuses
    # The board has more than one column: the open cases are the recent ones.
    open_cases = [case.opened_at for case in cases if case.status in OPEN]
    closed = [case.opened_at for case in cases if case.status == Status.CLOSED.value]
    assert sorted(open_cases)[len(open_cases) // 2] > sorted(closed)[len(closed) // 2]
    totals = stats.totals
    assert 0 < totals.sla_compliance < 1
    assert totals.resolution.count > 0 and totals.resolution.median_minutes > 0
    assert totals.first_response.count > 0 and totals.satisfaction_count > 0
    assert stats.top_root_causes
    for case in cases:
        if case.resolved_at is not None or case.status in ("resolved", "follow_up", "closed"):
            assert case.root_cause and case.resolution, case.id


def test_the_escalated_cases_are_the_late_ones(demo):
    gx, _ = demo
    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        cases = _cases(ctx)
    late = {case.id for case in cases if case.first_response_breached or case.resolution_breached}
    escalated = {case.id for case in cases if case.escalation_level > 0}
    assert late and len(late) < len(cases)
    assert escalated == late


def test_every_case_timeline_runs_forward_from_its_opening(demo):
    gx, _ = demo
    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        opened = dict(ctx.session.execute(sa.select(ComplaintCase.id, ComplaintCase.opened_at)).all())
        events = ctx.session.execute(sa.select(ComplaintEvent.case_id, ComplaintEvent.at, ComplaintEvent.kind)
                                     .order_by(ComplaintEvent.id)).all()
    now = utcnow()
    last: dict[int, object] = {}
    kinds = set()
    for case_id, at, kind in events:
        assert opened[case_id] <= at <= now, (case_id, at)
        assert last.get(case_id, at) <= at, (case_id, last[case_id], at)
        last[case_id] = at
        kinds.add(kind)
    assert {"TRANSITION", "UPDATE", "ESCALATION"} <= kinds
    assert set(last) == set(opened)  # every case has its timeline
