"""The loop back between satisfaction and complaint handling.

One source of truth: the satisfaction response. The complaint case's
``satisfaction`` (its follow-up score) is a copy of it.

- A case reaching "resolved" invites the customer to the tenant's
  ``complaint_survey`` (source COMPLAINT, the case on the invitation).
- The answer (by link, or taken by an agent with the case named) is stored as
  a response and copied onto the case through the complaints service's
  ``record_follow_up``: a score at or below ``low_score_at_or_below``
  reopens the case, anything else leaves it in follow-up for the agent to
  close. A case already closed is not reopened: a low score opens a new case
  that names it.
- A follow-up score an agent records on the case directly (complaints'
  ``recordComplaintFollowUp``) becomes a response when the case leaves
  follow-up (closed or reopened), unless the case already has an answer since
  its last resolution; the survey's unused links for that case are spent.
- A low answer with no case behind it (purchase, campaign, wave, manual)
  opens a new complaint case of ``loop_category``.

All of it only when the complaints module is enabled for the tenant.
"""

from __future__ import annotations

import contextvars
import logging

import sqlalchemy as sa
from sqlalchemy import func, select

from engine.context import TenantContext
from engine.errors import GuanxiError
from engine.types import utcnow
from plugins.satisfaction.models import SatisfactionInvitation, SatisfactionResponse

log = logging.getLogger(__name__)

# Set while this module writes a follow-up onto a case, so the status change
# it causes is not read back as an agent's score.
_feeding: contextvars.ContextVar[bool] = contextvars.ContextVar("satisfaction_feeding", default=False)

# How a response was answered → the complaint channel of a case it opens.
_CASE_CHANNEL = {"LINK": "WEB", "PHONE": "PHONE", "STORE": "IN_STORE", "WECHAT": "WECHAT", "APP": "APP", "OTHER": "OTHER"}


def _settings(ctx: TenantContext):
    return ctx.module_settings("satisfaction")


def _is_low(ctx: TenantContext, score: float | None) -> bool:
    return score is not None and score <= _settings(ctx).low_score_at_or_below


def _case_score(score: float) -> int:
    return min(5, max(1, int(score + 0.5)))


def after_answer(ctx: TenantContext, response: SatisfactionResponse, score: float | None) -> None:
    """Feed the answer to its complaint case, or open one for a low answer."""
    if "complaints" not in ctx.enabled_modules or score is None:
        return
    from plugins.complaints import service as complaints
    from plugins.complaints.workflow import Status

    low = _is_low(ctx, score)
    if response.case_id is not None:
        case = complaints.get_case(ctx, response.case_id, "case_id")
        status = Status(case.status)
        if status in (Status.RESOLVED, Status.FOLLOW_UP):
            token = _feeding.set(True)
            try:
                complaints.record_follow_up(ctx, case.id, _case_score(score), note=f"satisfaction survey response #{response.id}",
                                            reopen=low)
            finally:
                _feeding.reset(token)
            return
        if not low or status is not Status.CLOSED:
            return  # still being worked on, or a good score for a closed case: nothing to change
        _open_case(ctx, response, score, f"low satisfaction ({score:g}/5) after closed case #{case.id}")
        return
    if low:
        _open_case(ctx, response, score, f"low satisfaction ({score:g}/5) in survey response #{response.id}")


def _open_case(ctx: TenantContext, response: SatisfactionResponse, score: float, description: str) -> None:
    from plugins.complaints import service as complaints

    categories = {c.code for c in ctx.module_settings("complaints").categories}
    category = _settings(ctx).loop_category
    complaints.open_case(ctx, {
        "customer_id": response.customer_id, "category": category if category in categories else "OTHER",
        "channel": _CASE_CHANNEL.get(response.channel), "store": response.store, "description": description,
        "note": "opened by the satisfaction module",
    })


def on_complaint_status_changed(ctx: TenantContext, change) -> None:
    if change.to_status == "resolved":
        _invite_after_resolution(ctx, change)
    elif change.from_status == "follow_up" and change.satisfaction is not None and not _feeding.get():
        _record_agent_follow_up(ctx, change)


def _invite_after_resolution(ctx: TenantContext, change) -> None:
    from plugins.satisfaction.invitations import invite
    from plugins.satisfaction.surveys import survey_by_code

    code = _settings(ctx).complaint_survey
    if code is None:
        return
    try:
        survey = survey_by_code(ctx, code, "complaint_survey")
        invite(ctx, survey.id, [change.customer_id], "COMPLAINT", str(change.case_id), case_id=change.case_id,
               store=change.store, staff=change.assignee, now=change.at)
    except GuanxiError as error:  # a missing or archived survey must not stop the case from resolving
        log.warning("no satisfaction invitation for case %s: %s", change.case_id, error)


def _answered_since_resolution(ctx: TenantContext, case_id: int) -> bool:
    from plugins.complaints.models import ComplaintEvent

    resolved_at = ctx.session.execute(select(func.max(ComplaintEvent.at)).where(
        ComplaintEvent.tenant_id == ctx.tenant_id, ComplaintEvent.case_id == case_id,
        ComplaintEvent.to_status == "resolved")).scalar()
    answered = select(SatisfactionResponse.id).where(
        SatisfactionResponse.tenant_id == ctx.tenant_id, SatisfactionResponse.case_id == case_id)
    if resolved_at is not None:
        answered = answered.where(SatisfactionResponse.answered_at >= resolved_at)
    return ctx.session.execute(answered.limit(1)).first() is not None


def _record_agent_follow_up(ctx: TenantContext, change) -> None:
    from plugins.satisfaction.answers import record_response
    from plugins.satisfaction.surveys import survey_by_code

    code = _settings(ctx).complaint_survey
    if code is None or _answered_since_resolution(ctx, change.case_id):
        return
    try:
        survey = survey_by_code(ctx, code, "complaint_survey")
    except GuanxiError:
        return
    overall = next((q["code"] for q in survey.questions if q.get("target") == "OVERALL"), None)
    if overall is None:
        return
    try:
        record_response(ctx, survey, change.customer_id, {overall: change.satisfaction}, source="COMPLAINT", channel="PHONE",
                        case_id=change.case_id, store=change.store, staff=change.assignee, answered_at=change.at, loop=False)
    except GuanxiError as error:  # e.g. the tenant's survey requires more answers: the case still closes
        log.warning("follow-up of case %s not recorded as a survey answer: %s", change.case_id, error)
        return
    # The customer has answered: the case's open links are spent.
    ctx.session.execute(sa.update(SatisfactionInvitation).where(
        SatisfactionInvitation.tenant_id == ctx.tenant_id, SatisfactionInvitation.case_id == change.case_id,
        SatisfactionInvitation.used_at.is_(None)).values(used_at=utcnow()).execution_options(synchronize_session=False))
