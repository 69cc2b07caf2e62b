"""The satisfaction plugin's tables.

``satisfaction_responses`` keeps one row per answered questionnaire, the
scale answers packed into ``scores`` (one byte per scale question in the
survey's order, 0 = not answered), so a million responses to a 19-indicator
survey are a million rows the analytics read in one pass. The byte order is
the survey's layout (surveys.survey_layout); the survey keeps a copy of the
index model it was built from.

Invitations store only the SHA-256 of their token: the raw token exists in
the link handed out once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.types import Json, UtcDateTime, utcnow

SOURCES = ("COMPLAINT", "PURCHASE", "CAMPAIGN", "WAVE", "MANUAL")
ANSWER_CHANNELS = ("LINK", "PHONE", "STORE", "WECHAT", "APP", "OTHER")
NPS_CLASSES = ("PROMOTER", "PASSIVE", "DETRACTOR")


class SatisfactionIndexModel(SQLModel, table=True):
    """A tenant's own index model (the shipped templates live in templates.py)."""

    __tablename__ = "satisfaction_index_models"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code", name="uq_satisfaction_index_models_code"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    code: str = Field(max_length=32)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    dimensions: list = Field(default_factory=list, sa_type=Json)  # [{code, zh, en, indicators: [{code, zh, en}]}]
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SatisfactionSurvey(SQLModel, table=True):
    __tablename__ = "satisfaction_surveys"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code", name="uq_satisfaction_surveys_code"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    code: str = Field(max_length=32)
    title_zh: str = Field(max_length=200)
    title_en: str = Field(max_length=200)
    model: dict = Field(default_factory=dict, sa_type=Json)  # the index model, copied at creation
    questions: list = Field(default_factory=list, sa_type=Json)  # ordered question dicts (surveys.py)
    status: str = Field(default="ACTIVE", max_length=16)  # ACTIVE / ARCHIVED
    created_by: Optional[str] = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class SatisfactionInvitation(SQLModel, table=True):
    __tablename__ = "satisfaction_invitations"
    __table_args__ = (
        sa.UniqueConstraint("token_hash", name="uq_satisfaction_invitations_token"),
        # The quiet period: a customer's latest invitation.
        sa.Index("ix_satisfaction_invitations_customer", "tenant_id", "customer_id", "created_at"),
        sa.Index("ix_satisfaction_invitations_case", "tenant_id", "case_id"),
        sa.Index("ix_satisfaction_invitations_survey", "tenant_id", "survey_id", "created_at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    survey_id: int = Field(foreign_key="satisfaction_surveys.id")
    customer_id: int = Field(foreign_key="customers.id")
    source: str = Field(max_length=16)  # SOURCES
    source_ref: Optional[str] = Field(default=None, max_length=64)  # campaign code, interaction id, wave date
    case_id: Optional[int] = Field(default=None)  # the complaint case (no FK: complaints may be absent)
    channel: str = Field(max_length=16)  # the consented channel carrying the link
    store: Optional[str] = Field(default=None, max_length=64)  # the purchase's or case's store, copied to the answer
    staff: Optional[str] = Field(default=None, max_length=64)
    token_hash: str = Field(max_length=64)  # hex SHA-256 of the raw token
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    response_id: Optional[int] = None


class SatisfactionResponse(SQLModel, table=True):
    __tablename__ = "satisfaction_responses"
    __table_args__ = (
        sa.Index("ix_satisfaction_responses_survey", "tenant_id", "survey_id", "answered_at"),
        sa.Index("ix_satisfaction_responses_customer", "tenant_id", "customer_id", "answered_at"),
        sa.Index("ix_satisfaction_responses_case", "tenant_id", "case_id"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    survey_id: int = Field(foreign_key="satisfaction_surveys.id")
    invitation_id: Optional[int] = Field(default=None, foreign_key="satisfaction_invitations.id")
    customer_id: int = Field(foreign_key="customers.id")
    source: str = Field(max_length=16)  # SOURCES
    channel: str = Field(max_length=16)  # how it was answered: ANSWER_CHANNELS
    store: Optional[str] = Field(default=None, max_length=64)
    staff: Optional[str] = Field(default=None, max_length=64)
    case_id: Optional[int] = None
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    local_month: int  # yyyymm in the tenant's time zone
    scores: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    overall: Optional[int] = Field(default=None, sa_type=sa.SmallInteger)
    nps: Optional[int] = Field(default=None, sa_type=sa.SmallInteger)
    recommend: Optional[int] = Field(default=None, sa_type=sa.SmallInteger)  # 1 yes, 2 no, 3 don't know
    repurchase: Optional[int] = Field(default=None, sa_type=sa.SmallInteger)
    extra: dict = Field(default_factory=dict, sa_type=Json)  # choice and free-text answers by question code


class SatisfactionLatest(SQLModel, table=True):
    """Each customer's latest answer, kept by answers.py: the Customer field and filter read one row."""

    __tablename__ = "satisfaction_latest"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "customer_id", name="uq_satisfaction_latest_customer"),
        sa.Index("ix_satisfaction_latest_class", "tenant_id", "nps_class"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    response_id: int = Field(foreign_key="satisfaction_responses.id")
    score: Optional[float] = None  # the overall answer, else the mean of the scale answers
    nps: Optional[int] = Field(default=None, sa_type=sa.SmallInteger)
    nps_class: Optional[str] = Field(default=None, max_length=16)
    answered_at: datetime = Field(sa_type=UtcDateTime)


ALL_MODELS = (SatisfactionIndexModel, SatisfactionSurvey, SatisfactionInvitation, SatisfactionResponse, SatisfactionLatest)
