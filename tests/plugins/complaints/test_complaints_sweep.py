"""The SLA sweep job, duplicates and linking, the report, erasure and the CLI,
on the real engine (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from engine import hookimpl
from engine.errors import ValidationFailed
from engine.jobs import run_jobs
from engine.plugins import GlobalPlugin
from engine.services.customers import create_customer, erase_customer
from engine.types import utcnow
from plugins.complaints import service
from plugins.complaints.jobs import sweep_tenant
from plugins.complaints.models import ComplaintCase, ComplaintEvent
from plugins.complaints.stats import complaint_stats


def _customer(gx, slug, code="C1"):
    with gx.tenant(slug) as ctx:
        return create_customer(ctx, {"code": code, "name": "李先生"}).id


def _open(gx, slug, customer_id, **data):
    now = data.pop("now", None)
    with gx.tenant(slug, actor="agent") as ctx:
        result = service.open_case(ctx, {"customer_id": customer_id, "category": "SERVICE", **data}, now=now)
        return result.case.id, [d.id for d in result.duplicates]


def _case(gx, slug, case_id) -> ComplaintCase:
    with gx.tenant(slug, write=False) as ctx:
        return service.get_case(ctx, case_id)


class Listener:
    """A global plugin (no module) that hears every escalation."""

    def __init__(self):
        self.heard = []
        self.moves = []

    @hookimpl
    def guanxi_module(self):
        return GlobalPlugin(name="escalation-listener")

    @hookimpl
    def guanxi_complaint_escalated(self, ctx, escalation):
        self.heard.append((ctx.tenant.slug, escalation.case_id, escalation.level, escalation.clock))

    @hookimpl
    def guanxi_complaint_status_changed(self, ctx, change):
        self.moves.append((change.case_id, change.from_status, change.to_status, change.satisfaction))


@pytest.fixture
def listener(gx):
    # The hookspec came with the complaints module's registration: an integrator's
    # plugin registers and passes the start-up check like any other.
    plugin = Listener()
    gx.plugins.register_module(plugin, name=f"listener-{id(plugin)}")
    gx.plugins.check()
    yield plugin
    gx.plugins.unregister(plugin)


def test_a_case_left_past_its_target_escalates_on_the_next_sweep(gx, make_tenant, listener):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    t0 = utcnow() - timedelta(hours=6)
    urgent, _ = _open(gx, slug, customer_id, priority="urgent", opened_at=t0, now=t0)  # 1 h / 24 h
    answered, _ = _open(gx, slug, customer_id, priority="urgent", opened_at=t0, now=t0)
    calm, _ = _open(gx, slug, customer_id, priority="low", opened_at=t0, now=t0)  # 72 h / 14 d
    with gx.tenant(slug) as ctx:
        service.add_update(ctx, answered, "处理中", now=t0 + timedelta(minutes=20))

    def sweep(at):
        with gx.tenant(slug, actor="scheduler") as ctx:
            return sweep_tenant(ctx, now=at)

    assert sweep(t0 + timedelta(minutes=59)).escalated == 0
    report = sweep(t0 + timedelta(minutes=61))
    assert (report.checked, report.breached, report.escalated, report.level_1, report.level_2) == (3, 1, 1, 1, 0)
    case = _case(gx, slug, urgent)
    assert (case.escalation_level, case.first_response_breached, case.resolution_breached) == (1, True, False)
    assert listener.heard == [(slug, urgent, 1, "first_response")]
    # Twice-run: nothing changes.
    again = sweep(t0 + timedelta(minutes=61))
    assert (again.breached, again.escalated) == (0, 0)
    assert _case(gx, slug, urgent).model_dump() == case.model_dump()
    # Level 2 once the breach reaches another full target.
    assert sweep(t0 + timedelta(minutes=119)).escalated == 0
    report = sweep(t0 + timedelta(minutes=121))
    assert (report.escalated, report.level_2) == (1, 1)
    assert listener.heard[-1] == (slug, urgent, 2, "first_response")
    assert sweep(t0 + timedelta(hours=5)).escalated == 0  # level 2 is the top
    with gx.tenant(slug, write=False) as ctx:
        events = service.timeline(ctx, urgent)
    escalations = [e for e in events if e.kind == "ESCALATION"]
    assert [e.data["level"] for e in escalations] == [1, 2] and escalations[0].actor == "scheduler"
    assert "company level" in escalations[1].note
    assert (_case(gx, slug, answered).escalation_level, _case(gx, slug, calm).escalation_level) == (0, 0)

    # The registered job runs the same sweep (at the real now: nothing new).
    results = run_jobs(gx, slug, ["complaints.sla_sweep"])
    assert results["complaints.sla_sweep"].escalated == 0


def test_paused_cases_do_not_escalate_while_waiting(gx, make_tenant, listener):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    t0 = utcnow() - timedelta(days=3)
    case_id, _ = _open(gx, slug, customer_id, priority="urgent", opened_at=t0, now=t0)
    with gx.tenant(slug) as ctx:
        service.route_case(ctx, case_id, assignee="a", now=t0)
        service.add_update(ctx, case_id, "请补充信息", now=t0 + timedelta(minutes=30))
        service.wait_on_customer(ctx, case_id, now=t0 + timedelta(hours=1))
    with gx.tenant(slug) as ctx:
        assert sweep_tenant(ctx, now=t0 + timedelta(hours=30)).escalated == 0
    with gx.tenant(slug) as ctx:
        service.resume_case(ctx, case_id, now=t0 + timedelta(hours=30))
    with gx.tenant(slug) as ctx:
        assert sweep_tenant(ctx, now=t0 + timedelta(hours=30, minutes=30)).escalated == 0
        report = sweep_tenant(ctx, now=t0 + timedelta(hours=54))  # 1 + 24 h running: 25 h > 24 h
    assert (report.escalated, report.level_1) == (1, 1)
    assert listener.heard == [(slug, case_id, 1, "resolution")]


def test_promises_are_tracked_kept_or_broken(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    now = utcnow()
    kept, _ = _open(gx, slug, customer_id, promised_reply_at=now + timedelta(hours=1), now=now)
    broken, _ = _open(gx, slug, customer_id, promised_reply_at=now + timedelta(hours=1), now=now)
    pending, _ = _open(gx, slug, customer_id, promised_reply_at=now + timedelta(hours=3), now=now)
    with gx.tenant(slug) as ctx:
        service.add_update(ctx, kept, "已联系仓库", now=now + timedelta(minutes=30))
        report = sweep_tenant(ctx, now=now + timedelta(hours=2))
    assert report.promises_broken == 1
    assert [_case(gx, slug, c).promise_kept for c in (kept, broken, pending)] == [True, False, None]
    with gx.tenant(slug) as ctx:
        assert sweep_tenant(ctx, now=now + timedelta(hours=2)).promises_broken == 0


def test_duplicates_are_suggested_and_linked_children_resolve_with_the_parent(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    first, second, other = (_customer(gx, slug, code) for code in ("A", "B", "C"))
    t0 = utcnow() - timedelta(hours=10)
    parent, dupes = _open(gx, slug, first, store="SH-01", opened_at=t0, now=t0)
    assert dupes == []
    same_store, dupes = _open(gx, slug, second, store="SH-01", opened_at=t0 + timedelta(hours=1))
    assert dupes == [parent]
    same_customer, dupes = _open(gx, slug, first, store="BJ-09", opened_at=t0 + timedelta(hours=2))
    assert dupes == [parent]  # same customer, other store
    unrelated, dupes = _open(gx, slug, other, store="GZ-03", opened_at=t0 + timedelta(hours=2))
    assert dupes == []  # other customer, other store
    _, dupes = _open(gx, slug, first, store="SH-01", category="PRICE", opened_at=t0 + timedelta(hours=2))
    assert dupes == []  # other category
    cancelled, dupes = _open(gx, slug, second, store="SH-01", opened_at=t0 + timedelta(hours=3))
    assert set(dupes) == {parent, same_store}

    with gx.tenant(slug) as ctx:
        service.route_case(ctx, same_store, department="门店", now=t0 + timedelta(hours=4))
        service.link_case(ctx, same_store, parent)
        service.link_case(ctx, same_customer, parent)
        service.link_case(ctx, cancelled, parent, cancel=True)
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed, match="cycle") as caught:
        service.link_case(ctx, parent, same_store)
    assert [e.field for e in caught.value.errors] == ["parent_id"]
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed, match="cancelled"):
        service.link_case(ctx, unrelated, cancelled)
    assert _case(gx, slug, parent).parent_id is None
    assert _case(gx, slug, cancelled).status == "cancelled"

    with gx.tenant(slug) as ctx:
        service.resolve_case(ctx, parent, "批次召回", "BATCH_DEFECT")
    for child in (same_store, same_customer):
        case = _case(gx, slug, child)
        assert (case.status, case.resolution, case.root_cause, case.parent_id) == ("resolved", "批次召回", "BATCH_DEFECT", parent)
    assert _case(gx, slug, cancelled).status == "cancelled"
    with gx.tenant(slug, write=False) as ctx:
        routed_child = [(e.from_status, e.to_status) for e in service.timeline(ctx, same_store) if e.kind == "TRANSITION"]
    assert routed_child[-2:] == [("routed", "in_progress"), ("in_progress", "resolved")]


def test_stats_add_up_on_a_small_hand_made_set(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    t0 = utcnow() - timedelta(days=2)
    minutes = lambda m: t0 + timedelta(minutes=m)  # noqa: E731
    a, _ = _open(gx, slug, customer_id, category="PRODUCT_QUALITY", store="S1", opened_at=t0, now=t0,
                 promised_reply_at=minutes(60))
    b, _ = _open(gx, slug, customer_id, category="PRODUCT_QUALITY", store="S2", priority="urgent", opened_at=t0, now=t0)
    c, _ = _open(gx, slug, customer_id, category="LOGISTICS", store="S1", opened_at=t0, now=t0,
                 promised_reply_at=minutes(30))
    d, _ = _open(gx, slug, customer_id, category="PRICE", opened_at=t0, now=t0)
    _open(gx, slug, customer_id, category="PRICE", opened_at=t0 - timedelta(days=30), now=t0)  # outside the range
    with gx.tenant(slug) as ctx:
        # a: answered at 10 min, resolved at 100, satisfied (5), closed.
        service.route_case(ctx, a, assignee="x", now=minutes(1))
        service.add_update(ctx, a, "查看中", now=minutes(10))
        service.resolve_case(ctx, a, "换货", "DEFECT", now=minutes(100))
        service.record_follow_up(ctx, a, 5, now=minutes(200))
        service.close_case(ctx, a, now=minutes(201))
        # b: urgent, first answered at 120 min (breached 60), resolved at 300, unsatisfied (1): reopened.
        service.route_case(ctx, b, assignee="y", now=minutes(1))
        service.add_update(ctx, b, "稍等", now=minutes(120))
        service.resolve_case(ctx, b, "退款", "DEFECT", now=minutes(300))
        service.record_follow_up(ctx, b, 1, now=minutes(400))
        # c: solved on the spot at 20 min; satisfaction 4.
        service.resolve_case(ctx, c, "补发", "CARRIER_DAMAGE", now=minutes(20))
        service.record_follow_up(ctx, c, 4, now=minutes(40))
        # d: left alone; its promise-free case stays received.
        report = sweep_tenant(ctx, now=minutes(90))  # a's promise (60) was kept at 10
    assert report.promises_broken == 0
    with gx.tenant(slug, write=False) as ctx:
        stats = complaint_stats(ctx, t0 - timedelta(hours=1), t0 + timedelta(days=1))
        by_category = complaint_stats(ctx, t0 - timedelta(hours=1), t0 + timedelta(days=1), group_by="category")
    totals = stats.totals
    assert totals.count == 4
    assert stats.by_category == {"PRODUCT_QUALITY": 2, "LOGISTICS": 1, "PRICE": 1}
    assert stats.by_status == {"closed": 1, "follow_up": 1, "in_progress": 1, "received": 1}
    assert stats.by_store == {"S1": 2, None: 1, "S2": 1}
    # First responses: a 10, b 120, c 20 → median 20, p90 120.
    assert (totals.first_response.count, totals.first_response.median_minutes, totals.first_response.p90_minutes) == (3, 20, 120)
    # Resolutions still standing: a 100, c 20 (b was reopened) → median 20, p90 100.
    assert (totals.resolution.count, totals.resolution.median_minutes, totals.resolution.p90_minutes) == (2, 20, 100)
    # SLA: a and c met; b breached (first response 120 > 60).
    assert (totals.sla_met, totals.sla_breached, totals.sla_compliance) == (2, 1, pytest.approx(2 / 3))
    assert (totals.promises_made, totals.promises_kept, totals.promises_broken, totals.promises_kept_rate) == (2, 2, 0, 1.0)
    assert (totals.satisfaction_count, totals.satisfaction_average) == (3, pytest.approx(10 / 3))
    assert totals.satisfaction_distribution == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}
    assert (totals.resolved_ever, totals.reopened, totals.reopen_rate) == (3, 1, pytest.approx(1 / 3))
    assert stats.top_root_causes == [("DEFECT", 2), ("CARRIER_DAMAGE", 1)]
    groups = {g.key: g for g in by_category.groups}
    assert set(groups) == {"PRODUCT_QUALITY", "LOGISTICS", "PRICE"}
    assert sum(g.count for g in groups.values()) == 4
    assert (groups["PRODUCT_QUALITY"].first_response.median_minutes, groups["PRODUCT_QUALITY"].sla_breached) == (10, 1)
    assert groups["PRICE"].first_response.count == 0 and groups["PRICE"].sla_compliance is None
    with gx.tenant(slug, write=False) as ctx, pytest.raises(ValidationFailed) as caught:
        complaint_stats(ctx, t0, t0 - timedelta(days=1), group_by="colour")
    assert sorted(e.field for e in caught.value.errors) == ["group_by", "to"]


def test_erasing_a_customer_clears_complaint_free_text(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    erased, kept = _customer(gx, slug, "E"), _customer(gx, slug, "K")
    mine, _ = _open(gx, slug, erased, description="电话 138xxxx, 住址 …", note="客户来电")
    theirs, _ = _open(gx, slug, kept, description="保留")
    with gx.tenant(slug) as ctx:
        service.add_update(ctx, mine, "已回电 138xxxx")
        erase_customer(ctx, erased)
    case = _case(gx, slug, mine)
    assert case.description is None and case.status == "received" and case.category == "SERVICE"
    with gx.tenant(slug, write=False) as ctx:
        notes = ctx.session.execute(
            select(ComplaintEvent.note).where(ComplaintEvent.tenant_id == ctx.tenant_id, ComplaintEvent.case_id == mine)
        ).scalars().all()
    assert notes and all(note is None for note in notes)
    assert _case(gx, slug, theirs).description == "保留"
    assert gx.plugins.module("complaints").personal_fields == {"complaint_cases": ("description", "resolution"),
                                                               "complaint_events": ("note",)}


def test_cli_sweep_runs_for_a_tenant(gx, make_tenant, database_url, monkeypatch):
    from plugins.complaints.cli import complaints_app

    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    _open(gx, slug, customer_id, priority="urgent", opened_at=utcnow() - timedelta(hours=3))
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    result = CliRunner().invoke(complaints_app, ["sweep", "--tenant", slug])
    assert result.exit_code == 0, result.output
    assert "1 open cases checked" in result.output and "escalated (level 1: 0, level 2: 1)" in result.output
    again = CliRunner().invoke(complaints_app, ["sweep", "--tenant", slug])
    assert "0 escalated" in again.output
    stats = CliRunner().invoke(complaints_app, ["stats", "--tenant", slug])
    assert stats.exit_code == 0 and '"count": 1' in stats.output
    assert json.loads(stats.output)["by_status"] == {"RECEIVED": 1}, stats.output  # codes, as the API names them
    refused = CliRunner().invoke(complaints_app, ["sweep", "--tenant", make_tenant()])
    assert refused.exit_code == 1 and "not enabled" in refused.output


def test_every_status_change_is_heard_with_the_follow_up_score(gx, make_tenant, listener):
    slug = make_tenant(modules=("complaints",))
    case_id, _ = _open(gx, slug, _customer(gx, slug))
    with gx.tenant(slug, actor="agent") as ctx:
        service.resolve_case(ctx, case_id, "换货", "PRODUCT")
        service.record_follow_up(ctx, case_id, 2)
    statuses = [(frm, to) for _, frm, to, _ in listener.moves]
    assert statuses == [("received", "resolved"), ("resolved", "follow_up"), ("follow_up", "in_progress")]  # 2: reopened
    assert all(case == case_id for case, *_ in listener.moves)
    assert listener.moves[-1][3] == 2
