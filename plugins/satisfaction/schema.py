"""The satisfaction module's GraphQL: index models, surveys, invitations, answers
taken by agents, ``Customer.satisfaction`` and ``customers(where: {satisfaction: ...})``.

The analytics (index, NPS, drivers, IPA, trend) are ``SatisfactionAnalyticsQuery``
in schema_analytics.py, mounted here when present. Mutations take one
``input`` and return a payload with ``errors`` (answers at fault are named
``answers.<QUESTION_CODE>``).
"""

from __future__ import annotations

import importlib.util
from datetime import datetime
from typing import Annotated, Any, Optional

import strawberry
from sqlalchemy import case, func, select
from strawberry.scalars import JSON

from api.contrib import CustomerFilter, GraphQLContribution
from api.enums import coded_enum
from api.filters import compare_condition
from api.ids import decode_id, to_global_id
from api.mutations import guarded
from api.pagination import Keyset, fetch_page, page_slice, wants_total
from api.types import ERRORS, INPUT, After, Before, DateTimeFilter, Error, First, Last, Node, PageInfo
from engine.enums import Role
from engine.errors import FieldError, ValidationFailed
from engine.models import Customer
from plugins.satisfaction import answers as answer_service
from plugins.satisfaction import invitations as invitation_service
from plugins.satisfaction import surveys as survey_service
from engine.types import utcnow
from plugins.satisfaction.models import SatisfactionInvitation, SatisfactionLatest, SatisfactionResponse, SatisfactionSurvey
from plugins.satisfaction.templates import TEMPLATES, IndexModel

SatisfactionQuestionKind = coded_enum("SatisfactionQuestionKind", "What kind of answer a question takes.", {
    "SCALE": "1–5, 非常不满 (1) … 非常满意 (5).",
    "NPS": "0–10, how likely to recommend (net promoter score).",
    "RECOMMEND": "Would you recommend us: YES, NO or DONT_KNOW (会/不会/不知道).",
    "CHOICE": "One option (several when `multiple`).",
    "TEXT": "Free text.",
})
SatisfactionScaleTarget = coded_enum("SatisfactionScaleTarget", "What a SCALE question measures.", {
    "INDICATOR": "An indicator of the survey's index model (named by dimension and indicator).",
    "OVERALL": "Overall satisfaction.",
    "REPURCHASE": "Repurchase intention.",
})
SatisfactionSource = coded_enum("SatisfactionSource", "What led to the survey.", {
    "COMPLAINT": "A complaint case was resolved.",
    "PURCHASE": "A purchase (sampled).",
    "CAMPAIGN": "A campaign.",
    "WAVE": "A periodic wave to a segment.",
    "MANUAL": "An agent recorded it without an invitation.",
})
SatisfactionInviteSource = coded_enum("SatisfactionInviteSource", "Why customers are invited by inviteToSatisfactionSurvey.", {
    "CAMPAIGN": "A campaign (no quiet period).",
    "WAVE": "A wave (customers invited within the quiet period are skipped).",
})
SatisfactionAnswerChannel = coded_enum("SatisfactionAnswerChannel", "How an answer was given.", {
    "LINK": "By the customer through the invitation link.",
    "PHONE": "By phone, recorded by an agent.",
    "STORE": "In store, recorded by staff.",
    "WECHAT": "In a WeChat conversation, recorded by an agent.",
    "APP": "In the app, recorded by an agent.",
    "OTHER": "Another way.",
})
SatisfactionNpsClass = coded_enum("SatisfactionNpsClass", "Where an NPS answer puts the customer.", {
    "PROMOTER": "Answered 9 or 10.",
    "PASSIVE": "Answered 7 or 8.",
    "DETRACTOR": "Answered 0 to 6.",
})
SatisfactionSurveyStatus = coded_enum("SatisfactionSurveyStatus", "Whether a survey sends invitations.", {
    "ACTIVE": "Invitations can be sent.",
    "ARCHIVED": "No new invitations; links already sent can still be answered until they expire.",
})


# -- index models ----------------------------------------------------------------------


@strawberry.type(description="An indicator of a dimension: one SCALE question measures it.")
class SatisfactionIndicator:
    code: str = strawberry.field(description="The indicator's code, unique in its dimension.")
    zh: str = strawberry.field(description="Chinese name.")
    en: str = strawberry.field(description="English name.")


@strawberry.type(description="A dimension of an index model, with its indicators.")
class SatisfactionDimension:
    code: str = strawberry.field(description="The dimension's code, unique in its model.")
    zh: str = strawberry.field(description="Chinese name.")
    en: str = strawberry.field(description="English name.")
    indicators: list[SatisfactionIndicator] = strawberry.field(description="Its indicators, in order.")


@strawberry.type(description="An index model: dimensions and their indicators (a shipped template or the tenant's own).")
class SatisfactionIndexModel:
    code: str = strawberry.field(description="The model's code (VIPSHOP_5X19, FOUR_DIMENSION or the tenant's).")
    zh: str = strawberry.field(description="Chinese name.")
    en: str = strawberry.field(description="English name.")
    template: bool = strawberry.field(description="True for a model shipped with Guanxi.")
    dimensions: list[SatisfactionDimension] = strawberry.field(description="Its dimensions, in order.")


def _model_type(model: IndexModel, template: bool | None = None) -> SatisfactionIndexModel:
    return SatisfactionIndexModel(code=model.code, zh=model.zh, en=model.en,
                                  template=model.code in TEMPLATES if template is None else template,
                                  dimensions=[SatisfactionDimension(code=d.code, zh=d.zh, en=d.en, indicators=[
                                      SatisfactionIndicator(code=i.code, zh=i.zh, en=i.en) for i in d.indicators])
                                      for d in model.dimensions])


# -- surveys -----------------------------------------------------------------------------


@strawberry.type(description="An option of a CHOICE question.")
class SatisfactionOption:
    code: str = strawberry.field(description="The option's code (what an answer sends).")
    zh: str = strawberry.field(description="Chinese label.")
    en: str = strawberry.field(description="English label.")


@strawberry.type(description="A question of a survey.")
class SatisfactionQuestion:
    code: str = strawberry.field(description="The question's code: the key of its answer.")
    kind: SatisfactionQuestionKind = strawberry.field(description="What kind of answer it takes.")
    target: Optional[SatisfactionScaleTarget] = strawberry.field(description="For SCALE: what it measures; null otherwise.")
    dimension: Optional[str] = strawberry.field(description="For an INDICATOR question: the dimension code.")
    indicator: Optional[str] = strawberry.field(description="For an INDICATOR question: the indicator code.")
    zh: str = strawberry.field(description="The question in Chinese.")
    en: str = strawberry.field(description="The question in English.")
    required: bool = strawberry.field(description="Whether an answer must include it.")
    options: list[SatisfactionOption] = strawberry.field(description="For CHOICE: the options; empty otherwise.")
    multiple: bool = strawberry.field(description="For CHOICE: several options may be chosen.")


def _question(q: dict) -> SatisfactionQuestion:
    return SatisfactionQuestion(
        code=q["code"], kind=SatisfactionQuestionKind[q["kind"]],
        target=SatisfactionScaleTarget[q["target"]] if q.get("target") else None,
        dimension=q.get("dimension"), indicator=q.get("indicator"), zh=q["zh"], en=q["en"], required=q.get("required", False),
        options=[SatisfactionOption(**o) for o in q.get("options", [])], multiple=q.get("multiple", False))


@strawberry.type(name="SatisfactionSurvey", description="A survey: its questions and the index model they measure.")
class SatisfactionSurveyType(Node):
    row: strawberry.Private[SatisfactionSurvey]

    @strawberry.field(description="The survey's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("SatisfactionSurvey", self.row.id))

    @strawberry.field(description="The survey's code, unique in the tenant.")
    def code(self) -> str:
        return self.row.code

    @strawberry.field(description="Title in Chinese.")
    def title_zh(self) -> str:
        return self.row.title_zh

    @strawberry.field(description="Title in English.")
    def title_en(self) -> str:
        return self.row.title_en

    @strawberry.field(description="Whether it sends invitations.")
    def status(self) -> SatisfactionSurveyStatus:
        return SatisfactionSurveyStatus[self.row.status]

    @strawberry.field(description="The index model, as copied when the survey was created.")
    def index_model(self) -> SatisfactionIndexModel:
        return _model_type(IndexModel.from_dict(self.row.model))

    @strawberry.field(description="The questions, in order.")
    def questions(self) -> list[SatisfactionQuestion]:
        return [_question(q) for q in self.row.questions]

    @strawberry.field(description="When it was created (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="Invitations sent, answered and expired, and the response rate.")
    async def invitations(self, info: strawberry.Info) -> SatisfactionInvitationStats:
        tenant_id, survey_id = info.context.tenant_id, self.row.id
        return await info.context.read(lambda s: invitation_stats(s, tenant_id, survey_id))

    @strawberry.field(description="How many responses it has.")
    async def response_count(self, info: strawberry.Info) -> int:
        tenant_id, survey_id = info.context.tenant_id, self.row.id
        return await info.context.read(lambda s: s.execute(select(func.count()).select_from(SatisfactionResponse).where(
            SatisfactionResponse.tenant_id == tenant_id, SatisfactionResponse.survey_id == survey_id)).scalar_one())


@strawberry.type(description="How a survey's invitations fared.")
class SatisfactionInvitationStats:
    sent: int = strawberry.field(description="Invitations sent.")
    answered: int = strawberry.field(description="Invitations answered (by link, or by phone for a complaint case).")
    expired: int = strawberry.field(description="Invitations past their expiry, unanswered.")
    response_rate: Optional[float] = strawberry.field(description="answered / sent, 0–1; null before any invitation.")


def invitation_stats(session, tenant_id: int, survey_id: int) -> SatisfactionInvitationStats:
    invitations = SatisfactionInvitation
    sent, answered, expired = session.execute(select(
        func.count(), func.count(invitations.used_at),
        func.sum(case((invitations.used_at.is_(None) & (invitations.expires_at <= utcnow()), 1), else_=0)),
    ).where(invitations.tenant_id == tenant_id, invitations.survey_id == survey_id)).one()
    return SatisfactionInvitationStats(sent=sent, answered=answered, expired=expired or 0,
                                       response_rate=answered / sent if sent else None)


async def load_survey(info: strawberry.Info, pk: int) -> Optional[SatisfactionSurveyType]:
    ctx = info.context
    row = await ctx.read(lambda s: s.get(SatisfactionSurvey, pk))
    return SatisfactionSurveyType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


async def load_response(info: strawberry.Info, pk: int) -> Optional["SatisfactionResponseType"]:
    ctx = info.context
    row = await ctx.read(lambda s: s.get(SatisfactionResponse, pk))
    return SatisfactionResponseType(row=row) if row is not None and row.tenant_id == ctx.tenant_id else None


@strawberry.type(name="SatisfactionResponse", description="One answered questionnaire.")
class SatisfactionResponseType(Node):
    row: strawberry.Private[SatisfactionResponse]

    @strawberry.field(description="The response's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("SatisfactionResponse", self.row.id))

    @strawberry.field(description="The Customer who answered.")
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Customer", self.row.customer_id))

    @strawberry.field(description="What led to the survey.")
    def source(self) -> SatisfactionSource:
        return SatisfactionSource[self.row.source]

    @strawberry.field(description="How it was answered.")
    def channel(self) -> SatisfactionAnswerChannel:
        return SatisfactionAnswerChannel[self.row.channel] if self.row.channel in SatisfactionAnswerChannel.__members__ \
            else SatisfactionAnswerChannel.OTHER

    @strawberry.field(description="The store it is about; null when none.")
    def store(self) -> Optional[str]:
        return self.row.store

    @strawberry.field(description="The staff member it is about (or who took it by phone); null when none.")
    def staff(self) -> Optional[str]:
        return self.row.staff

    @strawberry.field(description="The complaint case it follows up (a Complaint id); null when none.")
    def case_id(self) -> Optional[strawberry.ID]:
        return None if self.row.case_id is None else strawberry.ID(to_global_id("Complaint", self.row.case_id))

    @strawberry.field(description="When it was answered (UTC).")
    def answered_at(self) -> datetime:
        return self.row.answered_at

    @strawberry.field(description="The indicator answers 1–5 in the survey's question order; null = not answered.")
    def scores(self) -> list[Optional[int]]:
        return [b or None for b in self.row.scores]

    @strawberry.field(description="Overall satisfaction 1–5; null when not answered.")
    def overall(self) -> Optional[int]:
        return self.row.overall

    @strawberry.field(description="NPS answer 0–10; null when not answered.")
    def nps(self) -> Optional[int]:
        return self.row.nps

    @strawberry.field(description="Repurchase intention 1–5; null when not answered.")
    def repurchase(self) -> Optional[int]:
        return self.row.repurchase

    @strawberry.field(description="Would recommend: YES, NO or DONT_KNOW; null when not answered.")
    def recommend(self) -> Optional[str]:
        return {1: "YES", 2: "NO", 3: "DONT_KNOW"}.get(self.row.recommend)

    @strawberry.field(description="CHOICE and TEXT answers by question code (emptied when the customer is erased).")
    def extra(self) -> JSON:
        return self.row.extra or {}


RESPONSES = Keyset("SATISFACTION_RESPONSE:ID:DESC", SatisfactionResponse.id, True)


@strawberry.type(description="A response in a page, with its cursor.")
class SatisfactionResponseEdge:
    cursor: str = strawberry.field(description="The position of this response, for `after`.")
    node: SatisfactionResponseType = strawberry.field(description="The response.")


@strawberry.type(description="A page of responses, most recently recorded first.")
class SatisfactionResponseConnection:
    edges: list[SatisfactionResponseEdge] = strawberry.field(description="The responses of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(default=0, description="All responses matching (counted only when selected).")


# -- the Customer field and filter ---------------------------------------------------------


@strawberry.type(description="A customer's latest satisfaction answer.")
class SatisfactionCustomerSummary:
    latest_score: Optional[float] = strawberry.field(description="The latest overall answer (1–5), else the mean of its "
                                                                "indicator answers; null when neither was answered.")
    latest_nps: Optional[int] = strawberry.field(description="The latest NPS answer (0–10); null when never answered.")
    nps_class: Optional[SatisfactionNpsClass] = strawberry.field(description="Where latestNps puts the customer.")
    answered_at: datetime = strawberry.field(description="When the latest response was given (UTC).")


def latest_of(session, tenant_id: int, ids: list[int]) -> dict[int, SatisfactionCustomerSummary]:
    # Plain rows (attribute access like the model's): a page's worth without ORM identity-map work.
    t = SatisfactionLatest.__table__
    rows = session.execute(select(t.c.customer_id, t.c.score, t.c.nps, t.c.answered_at, t.c.nps_class).where(
        t.c.tenant_id == tenant_id, t.c.customer_id.in_(ids)))
    return {row.customer_id: SatisfactionCustomerSummary(
        latest_score=row.score, latest_nps=row.nps, answered_at=row.answered_at,
        nps_class=SatisfactionNpsClass[row.nps_class] if row.nps_class else None) for row in rows}


def satisfaction_batch(ctx):
    tenant_id = ctx.tenant_id
    return "satisfaction.latest", lambda session, ids: latest_of(session, tenant_id, ids)


@strawberry.type(description="The satisfaction module's Customer fields.")
class SatisfactionCustomerFields:
    @strawberry.field(description="The customer's latest satisfaction and NPS class; null before any answer.")
    def satisfaction(self, info: strawberry.Info) -> Optional[SatisfactionCustomerSummary]:
        return info.context.customer_value(satisfaction_batch, self.id)


@strawberry.input(description="NPS class comparison.")
class SatisfactionNpsClassFilter:
    eq: Optional[SatisfactionNpsClass] = strawberry.field(default=None, description="In this class.")
    in_: Optional[list[SatisfactionNpsClass]] = strawberry.field(name="in", default=None, description="In any of these classes.")


@strawberry.input(description="Score comparison (1–5, fractions allowed); conditions given together must all hold.")
class SatisfactionScoreFilter:
    eq: Optional[float] = strawberry.field(default=None, description="Equal to.")
    gt: Optional[float] = strawberry.field(default=None, description="Greater than.")
    gte: Optional[float] = strawberry.field(default=None, description="Greater than or equal to.")
    lt: Optional[float] = strawberry.field(default=None, description="Less than.")
    lte: Optional[float] = strawberry.field(default=None, description="Less than or equal to.")


@strawberry.input(description="Customers by their latest satisfaction answer; customers who never answered never match.")
class SatisfactionWhere:
    nps_class: Optional[SatisfactionNpsClassFilter] = strawberry.field(default=None, description="The latest NPS class.")
    latest_score: Optional[SatisfactionScoreFilter] = strawberry.field(default=None, description="The latest score.")
    answered_at: Optional[DateTimeFilter] = strawberry.field(default=None, description="When the latest response was given.")


def _satisfaction_condition(where: SatisfactionWhere, tenant_id: int):
    conditions = [SatisfactionLatest.tenant_id == tenant_id]
    if where.nps_class is not None:
        if where.nps_class.eq is not None:
            conditions.append(SatisfactionLatest.nps_class == where.nps_class.eq.value)
        if where.nps_class.in_ is not None:
            conditions.append(SatisfactionLatest.nps_class.in_([c.value for c in where.nps_class.in_]))
    if where.latest_score is not None:
        conditions.extend(compare_condition(SatisfactionLatest.score, where.latest_score))
    if where.answered_at is not None:
        conditions.extend(compare_condition(SatisfactionLatest.answered_at, where.answered_at))
    return Customer.id.in_(select(SatisfactionLatest.customer_id).where(*conditions))


CUSTOMER_FILTERS = [CustomerFilter("satisfaction", SatisfactionWhere, _satisfaction_condition,
                                   "The latest satisfaction answer and NPS class (satisfaction module).")]


# -- queries ------------------------------------------------------------------------------


@strawberry.type(description="The satisfaction module's queries (analytics: see satisfactionIndex and friends).")
class SatisfactionQuery:
    @strawberry.field(description="The index models: the shipped templates, then the tenant's own.")
    async def satisfaction_index_models(self, info: strawberry.Info) -> list[SatisfactionIndexModel]:
        ctx = info.context
        gx, tenant_id = ctx.gx, ctx.tenant_id
        models = await ctx.read(lambda s: survey_service.index_models(gx.context(s, tenant_id)))
        return [_model_type(m) for m in models]

    @strawberry.field(description="The tenant's surveys, by code.")
    async def satisfaction_surveys(self, info: strawberry.Info) -> list[SatisfactionSurveyType]:
        tenant_id = info.context.tenant_id
        rows = await info.context.read(lambda s: list(s.execute(select(SatisfactionSurvey).where(
            SatisfactionSurvey.tenant_id == tenant_id).order_by(SatisfactionSurvey.code)).scalars()))
        return [SatisfactionSurveyType(row=r) for r in rows]

    @strawberry.field(description="One survey by its code; null when there is none.")
    async def satisfaction_survey(self, info: strawberry.Info,
                                  code: Annotated[str, strawberry.argument(description="The survey's code.")]) -> Optional[SatisfactionSurveyType]:
        tenant_id = info.context.tenant_id
        row = await info.context.read(lambda s: s.execute(select(SatisfactionSurvey).where(
            SatisfactionSurvey.tenant_id == tenant_id, SatisfactionSurvey.code == code)).scalar_one_or_none())
        return None if row is None else SatisfactionSurveyType(row=row)

    @strawberry.field(description="Responses, most recently recorded first (Relay cursors); filter by customer and survey.")
    async def satisfaction_responses(
        self, info: strawberry.Info,
        customer_id: Annotated[Optional[strawberry.ID], strawberry.argument(description="Only this Customer's.")] = None,
        survey: Annotated[Optional[str], strawberry.argument(description="Only this survey's (its code).")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> SatisfactionResponseConnection:
        ctx = info.context
        page, with_total = page_slice(first, after, last, before), wants_total(info)
        tenant_id, cursors = ctx.tenant_id, ctx.cursors
        conditions = [SatisfactionResponse.tenant_id == tenant_id]
        if customer_id is not None:
            conditions.append(SatisfactionResponse.customer_id == (decode_id(customer_id, "Customer") or 0))
        if survey is not None:
            conditions.append(SatisfactionResponse.survey_id.in_(select(SatisfactionSurvey.id).where(
                SatisfactionSurvey.tenant_id == tenant_id, SatisfactionSurvey.code == survey)))

        def read(session):
            count = (lambda: session.execute(select(func.count()).select_from(SatisfactionResponse).where(*conditions))
                     .scalar_one()) if with_total else None
            return fetch_page(session, select(SatisfactionResponse).where(*conditions), RESPONSES, cursors, page, count)

        found = await ctx.read(read)
        return SatisfactionResponseConnection(
            edges=[SatisfactionResponseEdge(cursor=e.cursor, node=SatisfactionResponseType(row=e.node)) for e in found.edges],
            page_info=found.page_info, total_count=found.total_count or 0)


# -- mutations ----------------------------------------------------------------------------


@strawberry.input(description="A new index model of the tenant.")
class CreateSatisfactionIndexModelInput:
    code: str = strawberry.field(description="UPPER_SNAKE_CASE code, not a template's.")
    zh: str = strawberry.field(description="Chinese name.")
    en: str = strawberry.field(description="English name.")
    dimensions: JSON = strawberry.field(description="[{code, zh, en, indicators: [{code, zh, en}]}], in order.")


@strawberry.type(description="The result of createSatisfactionIndexModel.")
class SatisfactionIndexModelPayload:
    index_model: Optional[SatisfactionIndexModel] = strawberry.field(default=None, description="The model; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A new survey.")
class CreateSatisfactionSurveyInput:
    code: str = strawberry.field(description="UPPER_SNAKE_CASE code, unique in the tenant.")
    title_zh: str = strawberry.field(description="Title in Chinese.")
    title_en: str = strawberry.field(description="Title in English.")
    index_model: str = strawberry.field(default="VIPSHOP_5X19", description="The index model's code (a template or the tenant's).")
    questions: Optional[JSON] = strawberry.field(
        default=None, description="[{code, kind, target?, dimension?, indicator?, zh, en, required?, options?, multiple?}]; "
                                  "omit for the model's standard questionnaire (one question per indicator, overall, "
                                  "repurchase, recommend, NPS, comment).")


@strawberry.type(description="The result of a survey mutation.")
class SatisfactionSurveyPayload:
    survey: Optional[SatisfactionSurveyType] = strawberry.field(default=None, description="The survey; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A survey to archive.")
class ArchiveSatisfactionSurveyInput:
    code: str = strawberry.field(description="The survey's code.")


@strawberry.input(description="Customers to invite to a survey.")
class InviteToSatisfactionSurveyInput:
    survey: str = strawberry.field(description="The survey's code.")
    customer_ids: list[strawberry.ID] = strawberry.field(description="The Customers (at most 10,000).")
    source: SatisfactionInviteSource = strawberry.field(default=SatisfactionInviteSource.CAMPAIGN, description="Why (default CAMPAIGN).")
    source_ref: Optional[str] = strawberry.field(default=None, description="The campaign's code or another reference (≤ 64 characters).")


@strawberry.type(description="An invitation as handed out: its path holds the token, shown this once and stored nowhere.")
class SatisfactionInvitationLink:
    invitation_id: int = strawberry.field(description="The invitation's number.")
    customer_id: strawberry.ID = strawberry.field(description="The Customer invited.")
    channel: str = strawberry.field(description="The consented channel to send it on (WECHAT, SMS, EMAIL, APP).")
    expires_at: datetime = strawberry.field(description="When the link stops working (UTC).")
    path: str = strawberry.field(description="The answer link's path; prefix the public URL of this installation. "
                                             "Append /form for the HTML form.")


@strawberry.type(description="The result of inviteToSatisfactionSurvey.")
class InviteToSatisfactionSurveyPayload:
    invitations: list[SatisfactionInvitationLink] = strawberry.field(default_factory=list, description="The links, one per invited customer.")
    skipped_no_consent: int = strawberry.field(default=0, description="Customers skipped: no consent on any invitation channel.")
    skipped_quiet: int = strawberry.field(default=0, description="Customers skipped: invited within the quiet period.")
    skipped_unknown: int = strawberry.field(default=0, description="Ids skipped: not a live customer of this tenant.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="An answer taken by an agent (phone, in store).")
class RecordSatisfactionAnswerInput:
    survey: str = strawberry.field(description="The survey's code.")
    customer_id: strawberry.ID = strawberry.field(description="The Customer who answered.")
    answers: JSON = strawberry.field(description="Question code → answer (SCALE 1–5, NPS 0–10, RECOMMEND YES/NO/DONT_KNOW, "
                                                 "CHOICE option code(s), TEXT).")
    channel: SatisfactionAnswerChannel = strawberry.field(default=SatisfactionAnswerChannel.PHONE, description="How (not LINK).")
    store: Optional[str] = strawberry.field(default=None, description="The store it is about.")
    case_id: Optional[strawberry.ID] = strawberry.field(default=None, description="The complaint case it follows up (a Complaint id).")
    answered_at: Optional[datetime] = strawberry.field(default=None, description="When it was answered (default now).")


@strawberry.type(description="The result of recordSatisfactionAnswer.")
class SatisfactionResponsePayload:
    response: Optional[SatisfactionResponseType] = strawberry.field(default=None, description="The response; null on failure.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


def _pk(value: Any, field: str, type_name: str) -> int:
    pk = decode_id(value, type_name)
    if pk is None:
        raise ValidationFailed([FieldError(field, f"not a {type_name} id", "NOT_FOUND")])
    return pk


@strawberry.type(description="The satisfaction module's mutations.")
class SatisfactionMutation:
    @strawberry.mutation(description="Define an index model of the tenant (dimensions and indicators).")
    async def create_satisfaction_index_model(
        self, info: strawberry.Info, input: Annotated[CreateSatisfactionIndexModelInput, INPUT]) -> SatisfactionIndexModelPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "defining satisfaction index models")

        def work(tc):
            row = survey_service.create_index_model(tc, {"code": input.code, "zh": input.zh, "en": input.en,
                                                         "dimensions": input.dimensions})
            return {"index_model": _model_type(IndexModel.from_dict(
                {"code": row.code, "zh": row.name_zh, "en": row.name_en, "dimensions": row.dimensions}), template=False)}

        return SatisfactionIndexModelPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Create a survey from an index model (its standard questionnaire, or your questions).")
    async def create_satisfaction_survey(
        self, info: strawberry.Info, input: Annotated[CreateSatisfactionSurveyInput, INPUT]) -> SatisfactionSurveyPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "creating satisfaction surveys")

        def work(tc):
            data = {"code": input.code, "title_zh": input.title_zh, "title_en": input.title_en, "model": input.index_model}
            if input.questions is not None:
                data["questions"] = input.questions
            return {"survey": SatisfactionSurveyType(row=survey_service.create_survey(tc, data))}

        return SatisfactionSurveyPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Archive a survey: no new invitations.")
    async def archive_satisfaction_survey(
        self, info: strawberry.Info, input: Annotated[ArchiveSatisfactionSurveyInput, INPUT]) -> SatisfactionSurveyPayload:
        ctx = info.context
        ctx.require(Role.ADMIN, "archiving satisfaction surveys")

        def work(tc):
            survey = survey_service.survey_by_code(tc, input.code, "code")
            return {"survey": SatisfactionSurveyType(row=survey_service.archive_survey(tc, survey.id))}

        return SatisfactionSurveyPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Invite customers to a survey on a channel each consented to; returns the links once.")
    async def invite_to_satisfaction_survey(
        self, info: strawberry.Info, input: Annotated[InviteToSatisfactionSurveyInput, INPUT]) -> InviteToSatisfactionSurveyPayload:
        ctx = info.context
        ctx.require(Role.AGENT, "inviting customers to surveys")

        def work(tc):
            survey = survey_service.survey_by_code(tc, input.survey)
            ids = [_pk(value, f"customerIds[{n}]", "Customer") for n, value in enumerate(input.customer_ids)]
            result = invitation_service.invite(tc, survey.id, ids, input.source.value, input.source_ref)
            return {"invitations": [SatisfactionInvitationLink(
                invitation_id=link.invitation_id, customer_id=strawberry.ID(to_global_id("Customer", link.customer_id)),
                channel=link.channel, expires_at=link.expires_at, path=link.path) for link in result.links],
                "skipped_no_consent": len(result.no_consent), "skipped_quiet": len(result.quiet),
                "skipped_unknown": len(result.unknown)}

        return InviteToSatisfactionSurveyPayload(**await guarded(ctx, work))

    @strawberry.mutation(description="Record an answer taken by phone or in store; a low one loops back into complaints.")
    async def record_satisfaction_answer(
        self, info: strawberry.Info, input: Annotated[RecordSatisfactionAnswerInput, INPUT]) -> SatisfactionResponsePayload:
        ctx = info.context
        ctx.require(Role.AGENT, "recording satisfaction answers")

        def work(tc):
            survey = survey_service.survey_by_code(tc, input.survey)
            case_id = None if input.case_id is None else _pk(input.case_id, "caseId", "Complaint")
            response = answer_service.record_by_agent(
                tc, survey.id, _pk(input.customer_id, "customerId", "Customer"), input.answers, channel=input.channel.value,
                store=input.store, case_id=case_id, answered_at=input.answered_at)
            return {"response": SatisfactionResponseType(row=response)}

        return SatisfactionResponsePayload(**await guarded(ctx, work))


def contribution() -> GraphQLContribution:
    query: list[type] = [SatisfactionQuery]
    if importlib.util.find_spec("plugins.satisfaction.schema_analytics") is not None:  # the analytics' queries
        from plugins.satisfaction.schema_analytics import SatisfactionAnalyticsQuery

        query.append(SatisfactionAnalyticsQuery)
    from plugins.satisfaction.schema_overview import SatisfactionOverviewQuery  # the console's home page

    query.append(SatisfactionOverviewQuery)
    return GraphQLContribution(
        query=query, mutation=[SatisfactionMutation], customer_filters=CUSTOMER_FILTERS,
        nodes={"SatisfactionSurvey": load_survey, "SatisfactionResponse": load_response},
        customer_batches={"satisfaction": satisfaction_batch},
    )
