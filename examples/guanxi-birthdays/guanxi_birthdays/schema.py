"""The birthdays module's GraphQL (shown only to tenants that enabled it).

- ``Customer.birthdayNext``: the coming birthday, in the tenant's time zone.
- ``Customer.birthdayGreeting``: the greeting for the latest birthday greeted,
  declared in ``customer_batches``: a page of customers reads it in the
  page's own transaction (one statement), and any other way in goes through
  a per-request DataLoader.
- ``birthdaysUpcoming(days)``: who has a birthday soon, and their greeting
  (a Relay connection like every list of the API).
- ``markBirthdayGreetingSent(input)``: staff sent it; bad input comes back
  in the payload's ``errors``, naming the field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Optional

import strawberry

from api.errors import BAD_USER_INPUT, api_error
from api.ids import decode_id, to_global_id
from api.mutations import guarded
from api.enums import ChannelCode, code_of, labeled_enum, value_type
from api.pagination import list_page, page_slice, wants_total
from api.references import CURRENT_CORE, load_customer
from api.types import ERRORS, INPUT, After, Before, Error, First, Lang, LangArg, Last, PageInfo
from engine.enums import Channel, Role
from engine.errors import not_found
from guanxi_birthdays import service
from guanxi_birthdays.models import BirthdayGreeting, GreetingStatus

MAX_DAYS = 366

# Every schema contribution is documented: the schema-lint test fails on a
# type, field, argument or enum value without a description.
BirthdayGreetingStatus = labeled_enum(GreetingStatus, "BirthdayGreetingStatus", "Where a birthday greeting stands.")


@strawberry.type(name="BirthdayGreeting", description="A birthday greeting (生日祝福), queued by the daily job, then sent by staff.")
class BirthdayGreetingType:
    row: strawberry.Private[BirthdayGreeting]

    @strawberry.field(description="The greeting's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("BirthdayGreeting", self.row.id))

    @strawberry.field(description="The Customer greeted.")
    def customer_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Customer", self.row.customer_id))

    @strawberry.field(description="The customer greeted; null once deleted.")
    async def customer(self, info: strawberry.Info) -> Optional[Annotated["Customer", strawberry.lazy(CURRENT_CORE)]]:
        return await load_customer(info, self.row.customer_id)

    @strawberry.field(description="The year of the birthday greeted.")
    def year(self) -> int:
        return self.row.year

    @strawberry.field(description="The birthday greeted; null after the customer was erased.")
    def birthday(self) -> Optional[date]:
        return self.row.birthday_on

    @strawberry.field(description="The channel: queued on the first the customer consented to, or as sent.")
    def channel(self) -> value_type(Channel):
        return Channel.parse(self.row.channel)

    @strawberry.field(description="The text to send; null after the customer was erased.")
    def message(self) -> Optional[str]:
        return self.row.message

    @strawberry.field(description="Where the greeting stands.")
    def status(self) -> BirthdayGreetingStatus:
        return BirthdayGreetingStatus[self.row.status]

    @strawberry.field(description="The status's label for people: 待发送 / 已发送, or Queued / Sent.")
    def status_label(self, lang: LangArg = Lang.ZH) -> str:
        return GreetingStatus[self.row.status].label(lang.value)

    @strawberry.field(description="When the daily job queued it (UTC).")
    def queued_at(self) -> datetime:
        return self.row.queued_at

    @strawberry.field(description="When staff sent it; null while queued.")
    def sent_at(self) -> Optional[datetime]:
        return self.row.sent_at

    @strawberry.field(description="Who marked it sent (an API key).")
    def sent_by(self) -> Optional[str]:
        return self.row.sent_by

    @strawberry.field(description=f"The customer's first visit or purchase within {service.RESPONSE_DAYS} days of the greeting.")
    def responded_at(self) -> Optional[datetime]:
        return self.row.responded_at


def _greeting(row: BirthdayGreeting | None) -> Optional[BirthdayGreetingType]:
    return None if row is None else BirthdayGreetingType(row=row)


def greeting_batch(ctx):
    """Customer.birthdayGreeting for many customers at once: (loader key, batch).

    Declared in the contribution's ``customer_batches``, so a page of customers
    answers the field without an awaitable per customer (about 50 µs each)."""
    return ("birthdays", "latest_greeting"), lambda session, ids: {
        customer_id: _greeting(row) for customer_id, row in service.latest_greetings(session, ids).items()}


@strawberry.type(description="The birthdays module's Customer fields.")
class BirthdayCustomerFields:
    @strawberry.field(description="The customer's coming birthday (today counts), in the tenant's time zone; null without a birthday.")
    def birthday_next(self, info: strawberry.Info) -> Optional[date]:
        if self.birthday is None:
            return None
        return service.next_birthday(self.birthday, service.local_today(info.context.principal.tenant.timezone))

    @strawberry.field(description="The greeting for the customer's latest birthday greeted; null before the first.")
    def birthday_greeting(self, info: strawberry.Info) -> Optional[BirthdayGreetingType]:
        return info.context.customer_value(greeting_batch, self.id)


@strawberry.type(name="BirthdayUpcoming", description="A customer whose birthday is near.")
class BirthdayUpcoming:
    customer_id: strawberry.ID = strawberry.field(description="The Customer.")
    name: Optional[str] = strawberry.field(description="The customer's name.")
    birthday: date = strawberry.field(description="The coming birthday (this year's or next).")
    days_until: int = strawberry.field(description="0 on the day.")
    greeting: Optional[BirthdayGreetingType] = strawberry.field(description="The greeting for this birthday, once queued.")
    customer_pk: strawberry.Private[int] = 0

    @strawberry.field(description="The customer whose birthday it is.")
    async def customer(self, info: strawberry.Info) -> Optional[Annotated["Customer", strawberry.lazy(CURRENT_CORE)]]:
        return await load_customer(info, self.customer_pk)


@strawberry.type(name="BirthdayUpcomingEdge", description="A coming birthday in a page, with its cursor.")
class BirthdayUpcomingEdge:
    cursor: str = strawberry.field(description="The position of this birthday, for `after` and `before`.")
    node: BirthdayUpcoming = strawberry.field(description="The customer and the birthday.")


@strawberry.type(name="BirthdayUpcomingConnection", description="A page of coming birthdays, soonest first.")
class BirthdayUpcomingConnection:
    edges: list[BirthdayUpcomingEdge] = strawberry.field(description="The birthdays of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page lies in the whole list.")
    total_count: int = strawberry.field(default=0, description="Birthdays within the window.")


@strawberry.type(description="The birthdays module's queries.")
class BirthdaysQuery:
    @strawberry.field(description="Customers whose birthday is within `days` (default: the days_ahead setting), soonest first.")
    async def birthdays_upcoming(
        self, info: strawberry.Info,
        days: Annotated[Optional[int], strawberry.argument(
            description=f"The window in days, 0 to {MAX_DAYS} (default: the days_ahead setting).")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> BirthdayUpcomingConnection:
        if days is not None and not 0 <= days <= MAX_DAYS:
            raise api_error(f"days: must be between 0 and {MAX_DAYS}, got {days}", BAD_USER_INPUT)
        page, with_total = page_slice(first, after, last, before), wants_total(info)
        timezone = info.context.principal.tenant.timezone
        gx, tenant_id, cursors = info.context.gx, info.context.tenant_id, info.context.cursors

        def work(session):
            window = days if days is not None else gx.context(session, tenant_id).module_settings(service.MODULE).days_ahead
            soon = service.upcoming(session, service.local_today(timezone), window)
            greetings = service.greetings_of_years(session, {person.birthday.year for person in soon})
            found = list_page(sorted(soon, key=_upcoming_key), page, cursors, "BIRTHDAYS", _upcoming_key, with_total)
            edges = [BirthdayUpcomingEdge(cursor=edge.cursor, node=BirthdayUpcoming(
                customer_id=strawberry.ID(to_global_id("Customer", person.customer_id)), name=person.name,
                birthday=person.birthday, days_until=person.days_until, customer_pk=person.customer_id,
                greeting=_greeting(greetings.get((person.customer_id, person.birthday.year)))))
                for edge in found.edges for person in (edge.node,)]
            return BirthdayUpcomingConnection(edges=edges, page_info=found.page_info, total_count=found.total_count)

        return await info.context.read(work)


def _upcoming_key(person) -> list:
    return [person.days_until, person.customer_id]


@strawberry.input(name="MarkBirthdayGreetingSentInput", description="A queued greeting that staff sent.")
class MarkBirthdayGreetingSentInput:
    greeting_id: strawberry.ID = strawberry.field(description="The greeting (a BirthdayGreeting id).")
    channel: Optional[ChannelCode] = strawberry.field(default=None, description="The channel used, if not the queued one.")
    sent_at: Optional[datetime] = strawberry.field(default=None, description="Default: now.")


@strawberry.type(name="MarkBirthdayGreetingSentPayload", description="The result of markBirthdayGreetingSent.")
class MarkBirthdayGreetingSentPayload:
    greeting: Optional[BirthdayGreetingType] = strawberry.field(default=None, description="The greeting, now SENT.")
    errors: list[Error] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The birthdays module's mutations.")
class BirthdaysMutation:
    @strawberry.mutation(description="Record that a queued birthday greeting was sent (agents and admins).")
    async def mark_birthday_greeting_sent(self, info: strawberry.Info,
                                          input: Annotated[MarkBirthdayGreetingSentInput, INPUT]) -> MarkBirthdayGreetingSentPayload:
        info.context.require(Role.AGENT, "marking birthday greetings sent")

        def work(ctx):
            pk = decode_id(input.greeting_id, "BirthdayGreeting")
            if pk is None:
                raise not_found("greeting_id", "not a BirthdayGreeting id")
            return {"greeting": _greeting(service.mark_sent(ctx, pk, code_of(input.channel), input.sent_at))}

        return MarkBirthdayGreetingSentPayload(**await guarded(info.context, work))
