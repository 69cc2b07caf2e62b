"""Birthday care: which birthdays are near, queueing greetings, marking
them sent, noticing the customer came in, and erasure.

Every session here is bound to one tenant: ORM statements read and write
only its rows (the engine adds ``tenant_id = ...``; on PostgreSQL row-level
security holds too), so no statement below spells the tenant out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from engine.context import TenantContext
from engine.enums import Channel
from engine.errors import Conflict, FieldError, ValidationFailed, not_found
from engine.models import Customer
from engine.services import audit
from engine.types import utcnow
from guanxi_birthdays.models import BirthdayGreeting, GreetingStatus
from guanxi_birthdays.settings import BirthdaysSettings

MODULE = "birthdays"
RESPONSE_DAYS = 30  # a visit or purchase this soon after the greeting counts as its response
NAMELESS = "亲爱的顾客"  # {name} for a customer without one


def local_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def next_birthday(birthday: date, today: date) -> date:
    """The first birthday on or after ``today``; 29 February is kept on the 28th in other years."""
    for year in (today.year, today.year + 1):
        try:
            day = birthday.replace(year=year)
        except ValueError:  # 29 February, not a leap year
            day = date(year, 2, 28)
        if day >= today:
            return day
    raise AssertionError("unreachable: next year's birthday is after today")


@dataclass(frozen=True)
class Upcoming:
    customer_id: int
    name: str | None
    consent: dict  # channel code -> opted in
    birthday: date  # the coming birthday (this year's or next)
    days_until: int


def upcoming(session, today: date, days: int) -> list[Upcoming]:
    """Live customers whose birthday falls within ``days`` of ``today`` (today included), soonest first."""
    rows = session.execute(select(Customer.id, Customer.name, Customer.consent, Customer.birthday).where(
        Customer.birthday.is_not(None), Customer.deleted_at.is_(None), Customer.erased_at.is_(None)))
    found = []
    for customer_id, name, consent, birthday in rows:  # one pass over the customers with a birthday
        day = next_birthday(birthday, today)
        if (day - today).days <= days:
            found.append(Upcoming(customer_id, name, consent or {}, day, (day - today).days))
    return sorted(found, key=lambda u: (u.birthday, u.customer_id))


def queue_greetings(ctx: TenantContext) -> str:
    """The daily job: a greeting for each customer whose birthday is within
    ``days_ahead`` and who consented to a greeting's channel. Safe to run
    twice: a birthday already greeted (queued or sent) is skipped."""
    settings: BirthdaysSettings = ctx.module_settings(MODULE)
    soon = upcoming(ctx.session, local_today(ctx.tenant.timezone), settings.days_ahead)
    greeted = {(row.customer_id, row.year) for row in ctx.session.execute(
        select(BirthdayGreeting.customer_id, BirthdayGreeting.year).where(
            BirthdayGreeting.year.in_({person.birthday.year for person in soon})))}
    queued = 0
    for person in soon:
        greeting = settings.greeting_for(person.consent)
        if greeting is None or (person.customer_id, person.birthday.year) in greeted:
            continue
        ctx.session.add(BirthdayGreeting(
            tenant_id=ctx.tenant_id, customer_id=person.customer_id, year=person.birthday.year,
            birthday_on=person.birthday, channel=greeting.channel,
            message=greeting.render(name=person.name or NAMELESS, shop=ctx.tenant.name)))
        queued += 1
    return f"{queued} greetings queued"


@audit.audited("birthdays.mark_sent", "BirthdayGreeting")  # every change leaves an audit event
def mark_sent(ctx: TenantContext, greeting_id: int, channel: str | None = None, sent_at: datetime | None = None) -> BirthdayGreeting:
    """Record that a queued greeting went out (on ``channel``, default the
    queued one, which the customer must still consent to)."""
    greeting = ctx.session.get(BirthdayGreeting, greeting_id)
    if greeting is None:
        raise not_found("greeting_id", "no birthday greeting with this id in this tenant")
    if greeting.status == GreetingStatus.SENT.code:
        raise Conflict([FieldError("greeting_id", f"already sent at {greeting.sent_at:%Y-%m-%d %H:%M} UTC", "CONFLICT")])
    errors = []
    if channel is not None:
        try:
            channel = Channel.parse(channel).code
        except ValueError as error:
            errors.append(FieldError("channel", str(error)))
    channel = channel or greeting.channel
    customer = ctx.session.get(Customer, greeting.customer_id)
    if not errors and (customer.consent or {}).get(channel) is not True:
        errors.append(FieldError("channel", f"the customer has not consented to {channel} messages"))
    now = utcnow()
    if sent_at is not None and sent_at.tzinfo is None:  # no offset: the tenant's local time, as for interactions
        sent_at = sent_at.replace(tzinfo=ZoneInfo(ctx.tenant.timezone))
    if sent_at is not None and sent_at > now + timedelta(minutes=5):  # a little clock skew is fine
        errors.append(FieldError("sent_at", "is in the future"))
    if errors:
        raise ValidationFailed(errors)
    greeting.channel, greeting.status = channel, GreetingStatus.SENT.code
    greeting.sent_at, greeting.sent_by = sent_at or now, ctx.actor
    ctx.session.add(greeting)
    ctx.session.flush()
    return greeting


def note_responses(ctx: TenantContext, interactions) -> None:
    """The interaction hook: a visit or purchase soon after a sent greeting is its response."""
    visits = {}
    for interaction in interactions:
        if interaction.kind in ("VISIT", "PURCHASE"):
            visits.setdefault(interaction.customer_id, []).append(interaction.occurred_at)
    if not visits:
        return
    waiting = ctx.session.scalars(select(BirthdayGreeting).where(
        BirthdayGreeting.customer_id.in_(list(visits)), BirthdayGreeting.status == GreetingStatus.SENT.code,
        BirthdayGreeting.responded_at.is_(None)))
    for greeting in waiting:
        window_end = greeting.sent_at + timedelta(days=RESPONSE_DAYS)
        answers = [at for at in visits[greeting.customer_id] if greeting.sent_at <= at <= window_end]
        if answers:
            greeting.responded_at = min(answers)
            ctx.session.add(greeting)


def latest_greetings(session, customer_ids: list[int]) -> dict[int, BirthdayGreeting]:
    """Each customer's greeting for their latest birthday greeted (a page of customers in one statement)."""
    rows = session.scalars(select(BirthdayGreeting).where(BirthdayGreeting.customer_id.in_(customer_ids))
                           .order_by(BirthdayGreeting.customer_id, BirthdayGreeting.year))
    return {row.customer_id: row for row in rows}  # the last year wins


def greetings_of_years(session, years: set[int]) -> dict[tuple[int, int], BirthdayGreeting]:
    """The greetings for birthdays in ``years``, by (customer id, year)."""
    rows = session.scalars(select(BirthdayGreeting).where(BirthdayGreeting.year.in_(years)))
    return {(row.customer_id, row.year): row for row in rows}


def erase_customer(ctx: TenantContext, customer_id: int) -> None:
    """Erasure (every installed plugin, module on or off). The engine already
    cleared ``message`` and ``birthday_on``, declared in ``personal_fields``;
    a greeting still queued must never go out to an erased person: it goes."""
    ctx.session.execute(delete(BirthdayGreeting).where(
        BirthdayGreeting.customer_id == customer_id, BirthdayGreeting.status == GreetingStatus.QUEUED.code))
