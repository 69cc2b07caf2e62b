"""Complaint cases on the real engine (SQLite, and PostgreSQL when configured):
opening, the six steps, bad input, pauses, duplicates and linking, erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import NotFound, ValidationFailed
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction, record_interactions
from engine.services.modules import configure
from engine.types import utcnow
from plugins.complaints import service
from plugins.complaints.models import ComplaintCase, ComplaintEvent


def _customer(gx, slug, code="C1"):
    with gx.tenant(slug) as ctx:
        return create_customer(ctx, {"code": code, "name": "王女士"}).id


def _case(gx, slug, case_id) -> ComplaintCase:
    with gx.tenant(slug, write=False) as ctx:
        return service.get_case(ctx, case_id)


def _events(gx, slug, case_id) -> list[ComplaintEvent]:
    with gx.tenant(slug, write=False) as ctx:
        return service.timeline(ctx, case_id)


def _open(gx, slug, customer_id, now=None, **data):
    with gx.tenant(slug, actor="agent-li") as ctx:
        result = service.open_case(ctx, {"customer_id": customer_id, "category": "PRODUCT_QUALITY", **data}, now=now)
        return result.case.id, [d.id for d in result.duplicates]


def _configure(gx, slug, settings: dict) -> None:
    with gx.system() as session:
        configure(session, gx.plugins, gx.context(session, slug).tenant_id, "complaints", settings, actor="test")


def _fields(error: ValidationFailed) -> list[str]:
    return [e.field for e in error.errors]


def test_a_complaint_interaction_opens_a_case(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    occurred = utcnow() - timedelta(minutes=5)
    with gx.tenant(slug, actor="pos") as ctx:
        recorded, _ = record_interaction(ctx, {
            "customer_id": customer_id, "kind": "complaint", "occurred_at": occurred, "channel": "WECHAT",
            "store": "SH-01", "payload": {"category": "product_quality", "description": "面霜过敏", "priority": "high"},
        })
    with gx.tenant(slug, write=False) as ctx:
        cases = ctx.session.execute(select(ComplaintCase).where(ComplaintCase.tenant_id == ctx.tenant_id)).scalars().all()
    [case] = cases
    assert (case.customer_id, case.interaction_id, case.category, case.priority) == (customer_id, recorded.id, "PRODUCT_QUALITY", "high")
    assert (case.channel, case.store, case.description, case.status) == ("WECHAT", "SH-01", "面霜过敏", "received")
    assert case.sla_policy == "high" and case.opened_at == occurred
    assert case.first_response_due == occurred + timedelta(hours=4)
    assert case.resolution_due == occurred + timedelta(hours=72)
    [event] = _events(gx, slug, case.id)
    assert (event.kind, event.from_status, event.to_status, event.actor) == ("TRANSITION", None, "received", "pos")

    # A batch opens one case per complaint, set-based; other kinds open nothing.
    with gx.tenant(slug) as ctx:
        result = record_interactions(ctx, [
            {"customer_id": customer_id, "kind": "COMPLAINT", "occurred_at": occurred, "payload": {}},
            {"customer_id": customer_id, "kind": "PURCHASE", "occurred_at": occurred, "amount": "10"},
            {"customer_id": customer_id, "kind": "COMPLAINT", "occurred_at": occurred, "payload": {"category": "LOGISTICS"}},
        ])
    assert len(result.recorded) == 3
    with gx.tenant(slug, write=False) as ctx:
        categories = ctx.session.execute(
            select(ComplaintCase.category).where(ComplaintCase.tenant_id == ctx.tenant_id).order_by(ComplaintCase.id)
        ).scalars().all()
    assert categories == ["PRODUCT_QUALITY", "OTHER", "LOGISTICS"]

    # An unknown category refuses the recording, naming the field.
    with pytest.raises(ValidationFailed) as caught, gx.tenant(slug) as ctx:
        record_interaction(ctx, {"customer_id": customer_id, "kind": "COMPLAINT", "occurred_at": occurred,
                                 "payload": {"category": "WEATHER"}})
    assert _fields(caught.value) == ["payload.category"] and "PRODUCT_QUALITY" in str(caught.value)


def test_auto_open_follows_the_setting_and_the_module(gx, make_tenant):
    off = make_tenant(modules=("complaints",))
    _configure(gx, off, {"auto_open_from_interaction": False})
    disabled = make_tenant()
    for slug in (off, disabled):
        customer_id = _customer(gx, slug)
        with gx.tenant(slug) as ctx:
            record_interaction(ctx, {"customer_id": customer_id, "kind": "COMPLAINT", "occurred_at": utcnow(),
                                     "payload": {"category": "SERVICE"}})
        with gx.tenant(slug, write=False) as ctx:
            assert ctx.session.execute(select(ComplaintCase.id).where(ComplaintCase.tenant_id == ctx.tenant_id)).all() == []


def test_a_case_walks_all_six_steps(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    t0 = utcnow() - timedelta(hours=3)
    promised = utcnow() + timedelta(hours=2)
    case_id, duplicates = _open(gx, slug, customer_id, now=t0, priority="urgent", store="BJ-02",
                                description="收到的商品破损", opened_at=t0, promised_reply_at=promised)
    assert duplicates == []
    with gx.tenant(slug, actor="lead-zhang") as ctx:
        service.route_case(ctx, case_id, department="售后部", assignee="agent-li", note="物流破损", now=t0 + timedelta(minutes=10))
    with gx.tenant(slug, actor="agent-li") as ctx:
        service.add_update(ctx, case_id, "已安排补发", now=t0 + timedelta(minutes=30))
        service.resolve_case(ctx, case_id, "补发新品并致歉", "CARRIER_DAMAGE", now=t0 + timedelta(hours=2))
    with gx.tenant(slug, actor="cs-wu") as ctx:
        service.record_follow_up(ctx, case_id, 5, note="客户满意", now=t0 + timedelta(hours=2, minutes=30))
        service.close_case(ctx, case_id, note="归档", now=t0 + timedelta(hours=3))
    case = _case(gx, slug, case_id)
    assert case.status == "closed" and case.satisfaction == 5
    assert (case.department, case.assignee, case.resolution, case.root_cause) == ("售后部", "agent-li", "补发新品并致歉", "CARRIER_DAMAGE")
    assert case.first_response_at == t0 + timedelta(minutes=30) and case.first_response_minutes == pytest.approx(30)
    assert case.resolution_minutes == pytest.approx(120)
    assert not case.first_response_breached and not case.resolution_breached
    assert case.promise_kept is True and case.closed_at == t0 + timedelta(hours=3)
    events = _events(gx, slug, case_id)
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("TRANSITION", None, "received"),
        ("TRANSITION", "received", "routed"),
        ("UPDATE", None, None),
        ("TRANSITION", "routed", "in_progress"),
        ("TRANSITION", "in_progress", "resolved"),
        ("TRANSITION", "resolved", "follow_up"),
        ("UPDATE", None, None),
        ("TRANSITION", "follow_up", "closed"),
    ]
    assert [e.actor for e in events][1:3] == ["lead-zhang", "agent-li"] and events[-1].note == "归档"
    assert events[-1].at == t0 + timedelta(hours=3)


def test_solved_on_the_spot_and_unsatisfied_customers_reopen(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    t0 = utcnow() - timedelta(hours=5)
    case_id, _ = _open(gx, slug, customer_id, opened_at=t0, now=t0)
    with gx.tenant(slug) as ctx:
        case = service.resolve_case(ctx, case_id, "当场退换", "WRONG_SIZE", now=t0 + timedelta(minutes=10))
        assert case.first_response_at == t0 + timedelta(minutes=10)
        case = service.record_follow_up(ctx, case_id, 2, note="仍不满意", now=t0 + timedelta(hours=1, minutes=10))
        # Reopened: the hour it sat resolved counts as a pause.
        assert (case.status, case.reopen_count, case.satisfaction) == ("in_progress", 1, 2)
        assert case.paused_minutes == pytest.approx(60)
        assert case.resolution_due == t0 + timedelta(hours=24 * 7, minutes=60)
        case = service.resolve_case(ctx, case_id, "换货加补偿券", "WRONG_SIZE", now=t0 + timedelta(hours=2, minutes=10))
        assert case.resolution_minutes == pytest.approx(70)
        service.record_follow_up(ctx, case_id, 4, now=t0 + timedelta(hours=3))
        service.close_case(ctx, case_id, now=t0 + timedelta(hours=3))
    assert [(e.from_status, e.to_status) for e in _events(gx, slug, case_id) if e.kind == "TRANSITION"] == [
        (None, "received"), ("received", "resolved"), ("resolved", "follow_up"), ("follow_up", "in_progress"),
        ("in_progress", "resolved"), ("resolved", "follow_up"), ("follow_up", "closed"),
    ]


def test_bad_input_is_refused_naming_the_field_and_the_case_is_unchanged(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    case_id, _ = _open(gx, slug, customer_id)
    before = _case(gx, slug, case_id).model_dump()
    events_before = len(_events(gx, slug, case_id))

    def refused(call) -> ValidationFailed:
        # The caller catches the error and commits: nothing may have changed.
        with gx.tenant(slug) as ctx:
            with pytest.raises(ValidationFailed) as caught:
                call(ctx)
        return caught.value

    error = refused(lambda ctx: service.close_case(ctx, case_id))
    assert _fields(error) == ["status"] and error.errors[0].code == "ILLEGAL_TRANSITION"
    assert "allowed from RECEIVED: ROUTED, RESOLVED, CANCELLED" in str(error)
    assert _fields(refused(lambda ctx: service.resolve_case(ctx, case_id, "退款", None))) == ["root_cause"]
    assert _fields(refused(lambda ctx: service.resolve_case(ctx, case_id, "  ", "X"))) == ["resolution"]
    assert _fields(refused(lambda ctx: service.record_follow_up(ctx, case_id, 6))) == ["satisfaction"]
    assert _fields(refused(lambda ctx: service.record_follow_up(ctx, case_id, 4))) == ["status"]
    assert _fields(refused(lambda ctx: service.promise_reply(ctx, case_id, utcnow() - timedelta(hours=1)))) == ["promised_reply_at"]
    assert _fields(refused(lambda ctx: service.link_case(ctx, case_id, case_id))) == ["parent_id"]
    assert _fields(refused(lambda ctx: service.route_case(ctx, case_id))) == ["department"]
    assert _fields(refused(lambda ctx: service.wait_on_customer(ctx, case_id))) == ["status"]
    with gx.tenant(slug) as ctx, pytest.raises(NotFound) as missing:
        service.link_case(ctx, case_id, 10**9)
    assert _fields(missing.value) == ["parent_id"]
    assert _case(gx, slug, case_id).model_dump() == before
    assert len(_events(gx, slug, case_id)) == events_before

    # Opening: every bad field is named at once; nothing is stored.
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as caught:
        service.open_case(ctx, {"customer_id": customer_id, "category": "WEATHER", "priority": "asap",
                                "promised_reply_at": "2020-01-01T00:00:00Z", "colour": "red"})
    assert sorted(_fields(caught.value)) == ["category", "colour", "priority", "promised_reply_at"]
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as caught:
        service.open_case(ctx, {"customer_id": 10**9, "category": "SERVICE"})
    assert _fields(caught.value) == ["customer_id"]
    # Closing needs the follow-up result: a follow-up started without a score cannot close.
    with gx.tenant(slug) as ctx:
        service.resolve_case(ctx, case_id, "退款", "PRICE_ERROR")
        service.start_follow_up(ctx, case_id)
    error = refused(lambda ctx: service.close_case(ctx, case_id))
    assert _fields(error) == ["satisfaction"]
    assert _case(gx, slug, case_id).status == "follow_up"


def test_waiting_on_the_customer_pauses_the_resolution_clock(gx, make_tenant):
    slug = make_tenant(modules=("complaints",))
    customer_id = _customer(gx, slug)
    t0 = utcnow() - timedelta(days=2)
    case_id, _ = _open(gx, slug, customer_id, priority="high", opened_at=t0, now=t0)
    assert _case(gx, slug, case_id).resolution_due == t0 + timedelta(hours=72)
    with gx.tenant(slug) as ctx:
        service.route_case(ctx, case_id, assignee="agent-li", now=t0)
        service.add_update(ctx, case_id, "请提供订单照片", now=t0 + timedelta(hours=1))
        case = service.wait_on_customer(ctx, case_id, now=t0 + timedelta(hours=2))
        assert case.resolution_due is None and case.paused_since == t0 + timedelta(hours=2)
        case = service.resume_case(ctx, case_id, note="照片已收到", now=t0 + timedelta(hours=7))
        assert case.paused_minutes == pytest.approx(300) and case.paused_since is None
        assert case.resolution_due == t0 + timedelta(hours=77)
        assert case.first_response_due == t0 + timedelta(hours=4)  # never paused
        case = service.resolve_case(ctx, case_id, "退款", "DEFECT", now=t0 + timedelta(hours=10))
        assert case.resolution_minutes == pytest.approx(5 * 60)


def test_business_hours_set_the_due_times(gx, make_tenant):
    from datetime import datetime, timezone

    slug = make_tenant(modules=("complaints",))
    _configure(gx, slug, {
        "calendars": {"office": {"timezone": "Asia/Shanghai", "hours": {"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]}}},
        "sla_policies": [{"name": "office", "first_response_minutes": 120, "resolution_minutes": 600, "calendar": "office"}],
    })
    customer_id = _customer(gx, slug)
    # Monday 2024-03-04 17:00 Shanghai = 09:00 UTC; 1 h left that day, 9 h on Tuesday.
    opened = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)
    case_id, _ = _open(gx, slug, customer_id, opened_at=opened)
    case = _case(gx, slug, case_id)
    assert case.first_response_due == datetime(2024, 3, 5, 2, 0, tzinfo=timezone.utc)  # Tue 10:00 local
    assert case.resolution_due == datetime(2024, 3, 5, 10, 0, tzinfo=timezone.utc)  # Tue 18:00 local
