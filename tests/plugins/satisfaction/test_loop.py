"""The loop back between satisfaction and complaints: a resolved case invites
the customer, the answer is the case's follow-up score (one source of truth),
a low answer reopens the case or opens a new one, an agent's follow-up score
becomes a response once, and nothing of it without the complaints module."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.services.customers import create_customer
from engine.services.modules import configure
from plugins.complaints import service as complaints
from plugins.complaints.models import ComplaintCase
from plugins.satisfaction.answers import TokenRefused, answer_by_token, record_by_agent
from plugins.satisfaction.models import SatisfactionInvitation, SatisfactionResponse
from plugins.satisfaction.surveys import create_survey

BOTH = ("satisfaction", "complaints")


def _setup(gx, slug: str, consent: dict | None = None) -> int:
    with gx.tenant(slug) as ctx:
        customer_id = create_customer(ctx, {"code": "C1", "name": "钱先生", "consent": consent or {"WECHAT": True}}).id
        create_survey(ctx, {"code": "FOLLOW_UP", "title_zh": "回访", "title_en": "Follow-up", "model": "FOUR_DIMENSION"})
        configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction", {"complaint_survey": "FOLLOW_UP"})
    return customer_id


def _resolved_case(gx, slug: str, customer_id: int) -> int:
    with gx.tenant(slug) as ctx:
        case = complaints.open_case(ctx, {"customer_id": customer_id, "category": "SERVICE", "store": "SH-01"}).case
        complaints.resolve_case(ctx, case.id, "道歉并退款", "STAFF")
        return case.id


def _invitations(gx, slug):
    with gx.tenant(slug, write=False) as ctx:
        return ctx.session.execute(select(SatisfactionInvitation)).scalars().all()


def _answer_case(gx, slug, case_id, score, monkeypatch_links):
    raw = monkeypatch_links[-1].path.rsplit("/", 1)[1]
    with gx.tenant(slug) as ctx:
        answer_by_token(ctx, raw, {"OVERALL": score, "SERVICE_QUALITY__ATTITUDE": score})


def _capture_links(monkeypatch):
    """The links invite() hands out (the raw tokens exist nowhere else)."""
    links = []
    import plugins.satisfaction.invitations as invitations

    original = invitations.invite

    def spying(*args, **kwargs):
        result = original(*args, **kwargs)
        links.extend(result.links)
        return result

    monkeypatch.setattr(invitations, "invite", spying)
    return links


def test_a_resolved_case_invites_and_a_good_answer_is_its_follow_up_score(gx, make_tenant, monkeypatch):
    links = _capture_links(monkeypatch)
    slug = make_tenant(modules=BOTH)
    customer_id = _setup(gx, slug)
    case_id = _resolved_case(gx, slug, customer_id)
    [invitation] = _invitations(gx, slug)
    assert (invitation.source, invitation.case_id, invitation.channel, invitation.store) == ("COMPLAINT", case_id, "WECHAT", "SH-01")
    _answer_case(gx, slug, case_id, 5, links)
    with gx.tenant(slug) as ctx:
        case = ctx.session.get(ComplaintCase, case_id)
        assert (case.status, case.satisfaction, case.reopen_count) == ("follow_up", 5, 0)
        complaints.close_case(ctx, case_id)  # the agent closes: no second response for the same follow-up
    with gx.tenant(slug, write=False) as ctx:
        responses = ctx.session.execute(select(SatisfactionResponse)).scalars().all()
    assert [(r.case_id, r.overall, r.source, r.channel) for r in responses] == [(case_id, 5, "COMPLAINT", "LINK")]


def test_a_low_answer_reopens_the_case(gx, make_tenant, monkeypatch):
    links = _capture_links(monkeypatch)
    slug = make_tenant(modules=BOTH)
    customer_id = _setup(gx, slug)
    case_id = _resolved_case(gx, slug, customer_id)
    _answer_case(gx, slug, case_id, 2, links)  # low_score_at_or_below = 2
    with gx.tenant(slug, write=False) as ctx:
        case = ctx.session.get(ComplaintCase, case_id)
    assert (case.status, case.satisfaction, case.reopen_count) == ("in_progress", 2, 1)


def test_an_agents_follow_up_score_becomes_one_response_and_spends_the_link(gx, make_tenant, monkeypatch):
    links = _capture_links(monkeypatch)
    slug = make_tenant(modules=BOTH)
    customer_id = _setup(gx, slug)
    case_id = _resolved_case(gx, slug, customer_id)
    with gx.tenant(slug, actor="agent-7") as ctx:
        complaints.record_follow_up(ctx, case_id, 4, reopen=False)
        complaints.close_case(ctx, case_id)
    with gx.tenant(slug, write=False) as ctx:
        [response] = ctx.session.execute(select(SatisfactionResponse)).scalars().all()
        [invitation] = ctx.session.execute(select(SatisfactionInvitation)).scalars().all()
    assert (response.case_id, response.overall, response.channel, response.source) == (case_id, 4, "PHONE", "COMPLAINT")
    assert invitation.used_at is not None  # the customer answered by phone: the link is spent
    with pytest.raises(TokenRefused) as refused, gx.tenant(slug) as ctx:
        answer_by_token(ctx, links[-1].path.rsplit("/", 1)[1], {"OVERALL": 1})
    assert refused.value.code == "TOKEN_USED"


def test_a_low_answer_without_a_case_opens_one(gx, make_tenant):
    slug = make_tenant(modules=BOTH)
    customer_id = _setup(gx, slug)
    with gx.tenant(slug) as ctx:
        from plugins.satisfaction.surveys import survey_by_code

        survey_id = survey_by_code(ctx, "FOLLOW_UP").id
        record_by_agent(ctx, survey_id, customer_id, {"OVERALL": 4}, store="BJ-02")
        assert ctx.session.execute(select(ComplaintCase)).first() is None  # 4 is not low
        record_by_agent(ctx, survey_id, customer_id, {"OVERALL": 1, "COMMENT": "太差了"}, store="BJ-02")
        [case] = ctx.session.execute(select(ComplaintCase)).scalars().all()
    assert (case.customer_id, case.category, case.channel, case.store) == (customer_id, "SERVICE", "PHONE", "BJ-02")
    assert "1/5" in case.description


def test_a_low_answer_on_a_closed_case_opens_a_new_case(gx, make_tenant, monkeypatch):
    links = _capture_links(monkeypatch)
    slug = make_tenant(modules=BOTH)
    customer_id = _setup(gx, slug)
    case_id = _resolved_case(gx, slug, customer_id)
    with gx.tenant(slug) as ctx:
        complaints.record_follow_up(ctx, case_id, 5, reopen=False)
        complaints.close_case(ctx, case_id)
        from plugins.satisfaction.surveys import survey_by_code

        record_by_agent(ctx, survey_by_code(ctx, "FOLLOW_UP").id, customer_id, {"OVERALL": 1}, case_id=case_id)
        cases = ctx.session.execute(select(ComplaintCase).order_by(ComplaintCase.id)).scalars().all()
    assert [c.status for c in cases] == ["closed", "received"] and f"#{case_id}" in cases[1].description


def test_without_the_complaints_module_nothing_loops_back(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    customer_id = _setup(gx, slug)
    with gx.tenant(slug) as ctx:
        from plugins.satisfaction.surveys import survey_by_code

        record_by_agent(ctx, survey_by_code(ctx, "FOLLOW_UP").id, customer_id, {"OVERALL": 1})
        assert ctx.session.execute(select(ComplaintCase)).first() is None


def test_no_consent_no_invitation_after_a_resolution(gx, make_tenant):
    slug = make_tenant(modules=BOTH)
    customer_id = _setup(gx, slug, consent={"WECHAT": False, "SMS": False})
    _resolved_case(gx, slug, customer_id)
    assert _invitations(gx, slug) == []
