"""Messages out: one ``campaign_messages`` row and one ``campaign.message``
domain event per message, in the caller's transaction.

The webhooks module turns the event into a signed delivery to the tenant's
own SMS / email / WeChat / push provider; the provider reports back through
``POST /campaigns/receipts`` with the event's id (``message_id``). Each
message has a unique ``occasion``: a campaign's is its id and the customer,
a trigger's its rule, the customer and what happened (the purchase, the
day, the case), so a repeated hook or job run sends nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from api.ids import to_global_id
from engine.events import DomainEvent, emit
from engine.models import Customer
from engine.types import utcnow
from plugins.campaigns.models import CampaignMessage
from plugins.campaigns.settings import CONSENT_KEY

EVENT_TYPE = "campaign.message"
EMIT_CHUNK = 5_000


@dataclass(frozen=True)
class Outgoing:
    customer_id: int
    channel: str
    occasion: str
    theme: str | None = None
    content: str | None = None
    campaign_id: int | None = None
    trigger: str | None = None
    offer: dict | None = None


def consent_sql(channel: str, dialect: str):
    """True when the customer's consent object says yes to the channel."""
    key = CONSENT_KEY[channel]
    if dialect == "postgresql":
        return Customer.consent.op("->")(sa.literal(key, sa.Text)) == sa.literal_column("'true'::jsonb")
    return sa.func.json_extract(Customer.consent, f"$.{key}") == 1


def consents(customer: Customer | None, channel: str) -> bool:
    return bool(customer is not None and (customer.consent or {}).get(CONSENT_KEY[channel]) is True)


def _address(customer: Customer, channel: str) -> str | None:
    if channel in ("SMS", "PHONE"):
        return customer.phone
    if channel == "EMAIL":
        return customer.email
    if channel == "WECHAT":
        return customer.wechat_id
    return None  # app push: the provider finds the device by the customer id


def _event(message: dict, outgoing: Outgoing, customer: Customer | None) -> DomainEvent:
    data = {
        "message_id": message["event_id"],
        "customer_id": to_global_id("Customer", outgoing.customer_id),
        "channel": outgoing.channel,
        "to": None if customer is None else _address(customer, outgoing.channel),
        "name": None if customer is None else customer.name,
        "theme": outgoing.theme,
        "content": outgoing.content,
        "campaign_id": None if outgoing.campaign_id is None else to_global_id("Campaign", outgoing.campaign_id),
        "trigger": outgoing.trigger,
        "offer": outgoing.offer or None,
    }
    return DomainEvent(EVENT_TYPE, data, outgoing.customer_id, occurred_at=message["sent_at"], id=message["event_id"])


def _row(ctx, outgoing: Outgoing, at: datetime) -> dict:
    return {"tenant_id": ctx.tenant_id, "customer_id": outgoing.customer_id, "campaign_id": outgoing.campaign_id,
            "trigger": outgoing.trigger, "occasion": outgoing.occasion, "event_id": uuid.uuid4().hex,
            "channel": outgoing.channel, "theme": outgoing.theme, "content": outgoing.content, "sent_at": at}


def _customers(ctx, ids: Sequence[int]) -> dict[int, Customer]:
    out: dict[int, Customer] = {}
    for start in range(0, len(ids), EMIT_CHUNK):
        chunk = ids[start:start + EMIT_CHUNK]
        out.update((c.id, c) for c in ctx.session.execute(
            sa.select(Customer).where(Customer.tenant_id == ctx.tenant_id, Customer.id.in_(chunk))).scalars())
    return out


def send_batch(ctx, outgoing: Sequence[Outgoing], at: datetime | None = None) -> int:
    """Messages whose occasions are new (a campaign's launch): rows in bulk, events in chunks."""
    at = at or utcnow()
    table = CampaignMessage.__table__
    sent = 0
    for start in range(0, len(outgoing), EMIT_CHUNK):
        chunk = outgoing[start:start + EMIT_CHUNK]
        rows = [_row(ctx, o, at) for o in chunk]
        ctx.session.execute(sa.insert(table), rows)
        people = _customers(ctx, [o.customer_id for o in chunk])
        emit(ctx, [_event(row, o, people.get(o.customer_id)) for row, o in zip(rows, chunk)])
        sent += len(rows)
    return sent


def send_once(ctx, outgoing: Outgoing, at: datetime | None = None) -> bool:
    """One message unless its occasion was already sent (or the customer has not
    consented to the channel); True when sent."""
    customer = ctx.session.get(Customer, outgoing.customer_id)
    if customer is None or customer.tenant_id != ctx.tenant_id or customer.deleted_at is not None:
        return False
    if not consents(customer, outgoing.channel):
        return False
    row = _row(ctx, outgoing, at or utcnow())
    dialect = ctx.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(CampaignMessage.__table__)
    inserted = ctx.session.execute(
        insert.values(**row).on_conflict_do_nothing(index_elements=["tenant_id", "occasion"]).returning(CampaignMessage.id)
    ).first()
    if inserted is None:
        return False
    emit(ctx, [_event(row, outgoing, customer)])
    return True
