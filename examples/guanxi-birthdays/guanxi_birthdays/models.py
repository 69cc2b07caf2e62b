"""The birthdays module's table: one greeting per customer per birthday.

The unique key (tenant, customer, year) is what makes the daily job safe to
run twice: a birthday already greeted is never queued again.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from engine.enums import LabeledEnum
from engine.types import UtcDateTime, utcnow


class GreetingStatus(LabeledEnum):
    QUEUED = ("待发送", "Queued")
    SENT = ("已发送", "Sent")


class BirthdayGreeting(SQLModel, table=True):
    __tablename__ = "birthday_greetings"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "customer_id", "year", name="uq_birthday_greetings_customer_year"),
        sa.Index("ix_birthday_greetings_status", "tenant_id", "status", "birthday_on"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    customer_id: int = Field(foreign_key="customers.id")
    year: int  # the year of the birthday greeted
    birthday_on: Optional[date] = None  # that birthday's date; personal data, cleared on erasure
    channel: str = Field(max_length=16)  # a channel code the customer consented to: WECHAT, SMS, ...
    message: Optional[str] = Field(default=None, max_length=1000)  # holds the customer's name: cleared on erasure
    status: str = Field(default=GreetingStatus.QUEUED.code, max_length=8)
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
    sent_by: Optional[str] = Field(default=None, max_length=64)
    # The customer's first visit or purchase within RESPONSE_DAYS of the greeting: did it bring them in?
    responded_at: Optional[datetime] = Field(default=None, sa_type=UtcDateTime)
