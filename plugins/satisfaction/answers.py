"""Answers: validated per question, stored as one response row, each customer's
latest kept for the Customer field, then handed to the loop back (loop.py).

``answers`` is a dict question code → value: SCALE 1–5, NPS 0–10, RECOMMEND
YES / NO / DONT_KNOW, CHOICE an option code (a list when ``multiple``),
TEXT a string. Errors name the question (``answers.PRODUCT__PRICE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import select

from engine.context import TenantContext
from engine.errors import FieldError, GuanxiError, ValidationFailed, not_found
from api.ids import to_global_id
from engine.events import DomainEvent, emit
from engine.input_bounds import text_problem
from engine.models import Customer
from engine.types import utcnow
from plugins.satisfaction.models import ANSWER_CHANNELS, SatisfactionInvitation, SatisfactionLatest, SatisfactionResponse, SatisfactionSurvey
from plugins.satisfaction.surveys import TEXT_LIMIT, get_survey
from plugins.satisfaction.templates import RECOMMEND_CODES
from plugins.satisfaction.tokens import token_hash

MAX_CLOCK_SKEW = timedelta(minutes=5)


def nps_class(nps: int | None) -> str | None:
    """Promoters answer 9–10, passives 7–8, detractors 0–6."""
    if nps is None:
        return None
    return "PROMOTER" if nps >= 9 else "PASSIVE" if nps >= 7 else "DETRACTOR"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


@dataclass
class ParsedAnswers:
    scores: bytes
    overall: int | None
    nps: int | None
    recommend: int | None
    repurchase: int | None
    extra: dict

    def score(self) -> float | None:
        """The customer's satisfaction in one number: the overall answer, else the mean scale answer."""
        if self.overall is not None:
            return float(self.overall)
        answered = [b for b in self.scores if b]
        return sum(answered) / len(answered) if answered else None


def parse_answers(survey: SatisfactionSurvey, answers: Any) -> ParsedAnswers:
    if not isinstance(answers, dict):
        raise ValidationFailed([FieldError("answers", "must be an object: question code → answer")])
    errors: list[FieldError] = []
    known = {q["code"] for q in survey.questions}
    for code in sorted(set(answers) - known, key=str):
        errors.append(FieldError(f"answers.{code}", f"no question {code!r} in survey {survey.code}"))
    scores = bytearray()
    singles: dict[str, int | None] = {"OVERALL": None, "REPURCHASE": None, "NPS": None, "RECOMMEND": None}
    extra: dict[str, Any] = {}
    answered = 0
    for q in survey.questions:
        code, kind, where = q["code"], q["kind"], f"answers.{q['code']}"
        value = answers.get(code)
        if value is None or (isinstance(value, (str, list)) and not value):
            if q.get("required"):
                errors.append(FieldError(where, "is required"))
            if kind == "SCALE" and q.get("target") == "INDICATOR":
                scores.append(0)
            continue
        answered += 1
        if kind == "SCALE":
            number = _int(value)
            if number is None or not 1 <= number <= 5:
                errors.append(FieldError(where, f"must be a whole number from 1 (非常不满) to 5 (非常满意), got {value!r}"))
                number = 0
            if q.get("target") == "INDICATOR":
                scores.append(number)
            elif number:
                singles[q["target"]] = number
        elif kind == "NPS":
            number = _int(value)
            if number is None or not 0 <= number <= 10:
                errors.append(FieldError(where, f"must be a whole number from 0 to 10, got {value!r}"))
            else:
                singles["NPS"] = number
        elif kind == "RECOMMEND":
            number = RECOMMEND_CODES.get(value.strip().upper()) if isinstance(value, str) else None
            if number is None:
                errors.append(FieldError(where, f"must be YES, NO or DONT_KNOW (会/不会/不知道), got {value!r}"))
            else:
                singles["RECOMMEND"] = number
        elif kind == "CHOICE":
            options = [o["code"] for o in q["options"]]
            chosen = value if isinstance(value, list) else [value]
            if not q.get("multiple") and len(chosen) > 1:
                errors.append(FieldError(where, "takes one option"))
            elif any(c not in options for c in chosen):
                errors.append(FieldError(where, f"{value!r} is not among the options ({', '.join(options)})"))
            else:
                extra[code] = list(dict.fromkeys(chosen)) if q.get("multiple") else chosen[0]
        elif kind == "TEXT":
            if not isinstance(value, str):
                errors.append(FieldError(where, "must be text"))
                continue
            text = value.strip()
            problem = text_problem(text) or (f"is {len(text)} characters long; at most {TEXT_LIMIT}" if len(text) > TEXT_LIMIT else None)
            if problem:
                errors.append(FieldError(where, problem))
            elif text:
                extra[code] = text
    if not errors and answered == 0:
        errors.append(FieldError("answers", "answer at least one question"))
    if errors:
        raise ValidationFailed(errors)
    return ParsedAnswers(bytes(scores), singles["OVERALL"], singles["NPS"], singles["RECOMMEND"], singles["REPURCHASE"], extra)


def local_month(moment: datetime, tz: str) -> int:
    local = moment.astimezone(ZoneInfo(tz))
    return local.year * 100 + local.month


def record_response(ctx: TenantContext, survey: SatisfactionSurvey, customer_id: int, answers: Any, *, source: str,
                    channel: str, invitation: SatisfactionInvitation | None = None, case_id: int | None = None,
                    store: str | None = None, staff: str | None = None, answered_at: datetime | None = None,
                    loop: bool = True) -> SatisfactionResponse:
    parsed = parse_answers(survey, answers)
    answered_at = answered_at or utcnow()
    response = SatisfactionResponse(
        tenant_id=ctx.tenant_id, survey_id=survey.id, invitation_id=invitation.id if invitation else None,
        customer_id=customer_id, source=source, channel=channel, store=store, staff=staff, case_id=case_id,
        answered_at=answered_at, local_month=local_month(answered_at, ctx.tenant.timezone), scores=parsed.scores,
        overall=parsed.overall, nps=parsed.nps, recommend=parsed.recommend, repurchase=parsed.repurchase, extra=parsed.extra)
    ctx.session.add(response)
    ctx.session.flush()
    refresh_latest(ctx, [customer_id])
    emit(ctx, [DomainEvent("satisfaction.answered", {
        "customerId": to_global_id("Customer", customer_id), "survey": survey.code, "source": source,
        "channel": channel, "score": parsed.score(), "nps": parsed.nps, "npsClass": nps_class(parsed.nps)}, customer_id=customer_id, occurred_at=answered_at)])
    if loop:
        from plugins.satisfaction.loop import after_answer

        after_answer(ctx, response, parsed.score())
    return response


# -- by token (the public link) --------------------------------------------------------


class TokenRefused(GuanxiError):
    """A link that cannot be answered; ``status`` is the HTTP status the public endpoint answers."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__([FieldError("token", message, code)])
        self.code, self.status = code, status


def open_invitation(ctx: TenantContext, raw: str, now: datetime | None = None) -> SatisfactionInvitation:
    """The invitation behind a token, if it can still be answered (TokenRefused otherwise)."""
    now = now or utcnow()
    invitation = ctx.session.execute(select(SatisfactionInvitation).where(
        SatisfactionInvitation.tenant_id == ctx.tenant_id,
        SatisfactionInvitation.token_hash == token_hash(raw))).scalar_one_or_none()
    if invitation is None:
        raise TokenRefused("TOKEN_UNKNOWN", "this survey link is not valid", 404)
    if invitation.used_at is not None:
        raise TokenRefused("TOKEN_USED", "this survey link was already used: thank you, your answer is recorded", 409)
    if invitation.expires_at <= now:
        raise TokenRefused("TOKEN_EXPIRED", f"this survey link expired on {invitation.expires_at.date().isoformat()}", 410)
    return invitation


def answer_by_token(ctx: TenantContext, raw: str, answers: Any, survey_code: str | None = None,
                    now: datetime | None = None) -> SatisfactionResponse:
    """Record the customer's answer through their link: once, before it expires."""
    now = now or utcnow()
    invitation = open_invitation(ctx, raw, now)
    survey = get_survey(ctx, invitation.survey_id)
    if survey_code is not None and survey_code != survey.code:
        raise TokenRefused("TOKEN_WRONG_SURVEY", f"this link is for survey {survey.code}, not {survey_code}", 409)
    parse_answers(survey, answers)  # refuse bad answers before the token is spent
    # Spend the token atomically: of two concurrent answers only one updates the row.
    spent = ctx.session.execute(sa.update(SatisfactionInvitation).where(
        SatisfactionInvitation.tenant_id == ctx.tenant_id, SatisfactionInvitation.id == invitation.id,
        SatisfactionInvitation.used_at.is_(None)).values(used_at=now).execution_options(synchronize_session=False))
    if spent.rowcount != 1:
        raise TokenRefused("TOKEN_USED", "this survey link was already used: thank you, your answer is recorded", 409)
    response = record_response(ctx, survey, invitation.customer_id, answers, source=invitation.source, channel="LINK",
                               invitation=invitation, case_id=invitation.case_id, store=invitation.store,
                               staff=invitation.staff, answered_at=now)
    ctx.session.execute(sa.update(SatisfactionInvitation).where(
        SatisfactionInvitation.tenant_id == ctx.tenant_id, SatisfactionInvitation.id == invitation.id)
        .values(response_id=response.id).execution_options(synchronize_session=False))
    return response


# -- by an agent (phone, in store) ---------------------------------------------------------


def record_by_agent(ctx: TenantContext, survey_id: int, customer_id: int, answers: Any, *, channel: str = "PHONE",
                    store: str | None = None, case_id: int | None = None, answered_at: datetime | None = None,
                    now: datetime | None = None) -> SatisfactionResponse:
    """An answer an agent took by phone or in store (source MANUAL, or COMPLAINT with a case)."""
    now = now or utcnow()
    errors: list[FieldError] = []
    if channel not in ANSWER_CHANNELS or channel == "LINK":
        errors.append(FieldError("channel", f"{channel!r} is not an agent channel "
                                            f"({', '.join(c for c in ANSWER_CHANNELS if c != 'LINK')})"))
    if store is not None and (not isinstance(store, str) or len(store) > 64 or text_problem(store)):
        errors.append(FieldError("store", "must be text of at most 64 characters"))
    if answered_at is not None and answered_at > now + MAX_CLOCK_SKEW:
        errors.append(FieldError("answered_at", f"{answered_at.isoformat()} is in the future"))
    if case_id is not None and "complaints" not in ctx.enabled_modules:
        errors.append(FieldError("case_id", "the complaints module is off for this tenant", "MODULE_DISABLED"))
    if errors:
        raise ValidationFailed(errors)
    if case_id is not None:
        from plugins.complaints.service import get_case

        if get_case(ctx, case_id, "case_id").customer_id != customer_id:
            raise ValidationFailed([FieldError("case_id", f"case {case_id} is another customer's")])
    survey = get_survey(ctx, survey_id)
    exists = ctx.session.execute(select(Customer.id).where(
        Customer.tenant_id == ctx.tenant_id, Customer.id == customer_id, Customer.deleted_at.is_(None))).first()
    if exists is None:
        raise not_found("customer_id", f"no customer {customer_id} in this tenant")
    return record_response(ctx, survey, customer_id, answers, source="COMPLAINT" if case_id else "MANUAL",
                           channel=channel, case_id=case_id, store=store, staff=ctx.actor[:64],
                           answered_at=answered_at or now)


# -- each customer's latest answer -----------------------------------------------------------


def refresh_latest(ctx: TenantContext, customer_ids: Sequence[int]) -> None:
    """Recompute satisfaction_latest for these customers from their responses."""
    responses = SatisfactionResponse
    for start in range(0, len(customer_ids), 500):
        chunk = list(customer_ids[start:start + 500])
        rows = ctx.session.execute(select(
            responses.id, responses.customer_id, responses.answered_at, responses.overall, responses.scores, responses.nps,
        ).where(responses.tenant_id == ctx.tenant_id, responses.customer_id.in_(chunk))
            .order_by(responses.customer_id, responses.answered_at, responses.id)).all()
        latest: dict[int, dict] = {}
        for row in rows:  # ascending: later answers overwrite
            current = latest.setdefault(row.customer_id, {"nps": None})
            parsed = ParsedAnswers(row.scores, row.overall, row.nps, None, None, {})
            current.update(response_id=row.id, answered_at=row.answered_at, score=parsed.score())
            if row.nps is not None:
                current["nps"] = row.nps
        ctx.session.execute(sa.delete(SatisfactionLatest).where(
            SatisfactionLatest.tenant_id == ctx.tenant_id, SatisfactionLatest.customer_id.in_(chunk)))
        for customer_id, value in latest.items():
            ctx.session.add(SatisfactionLatest(tenant_id=ctx.tenant_id, customer_id=customer_id,
                                               response_id=value["response_id"], score=value["score"], nps=value["nps"],
                                               nps_class=nps_class(value["nps"]), answered_at=value["answered_at"]))
        ctx.session.flush()


# -- erasure and merging ---------------------------------------------------------------------


def erase_customer_answers(ctx: TenantContext, customer_id: int) -> None:
    """Free text the customer typed goes; the scores stay, as anonymous figures of the index.
    Open links die (the person asked to be forgotten is not asked again)."""
    ctx.session.execute(sa.update(SatisfactionResponse).where(
        SatisfactionResponse.tenant_id == ctx.tenant_id, SatisfactionResponse.customer_id == customer_id)
        .values(extra={}).execution_options(synchronize_session=False))
    ctx.session.execute(sa.update(SatisfactionInvitation).where(
        SatisfactionInvitation.tenant_id == ctx.tenant_id, SatisfactionInvitation.customer_id == customer_id,
        SatisfactionInvitation.used_at.is_(None)).values(used_at=utcnow()).execution_options(synchronize_session=False))


def merge_customer_answers(ctx: TenantContext, kept_id: int, merged_id: int) -> None:
    """Every answer and invitation of the merged record is the kept customer's; the latest is recomputed."""
    for table in (SatisfactionResponse, SatisfactionInvitation):
        ctx.session.execute(sa.update(table).where(table.tenant_id == ctx.tenant_id, table.customer_id == merged_id)
                            .values(customer_id=kept_id).execution_options(synchronize_session=False))
    ctx.session.execute(sa.delete(SatisfactionLatest).where(
        SatisfactionLatest.tenant_id == ctx.tenant_id, SatisfactionLatest.customer_id == merged_id))
    ctx.session.flush()
    refresh_latest(ctx, [kept_id])
