"""Reads behind the connection fields: plain synchronous functions over a
session, run in a worker thread by the resolvers. Each costs a fixed number
of statements (the page, and its count when totalCount is selected)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session

from api.enums import code_of
from api.errors import BAD_USER_INPUT, api_error
from api.filters import compare_condition, customer_condition, order_key, string_condition
from api.ids import decode_id
from api.pagination import Cursors, Keyset, Page, Slice, fetch_page, slice_page
from api.types import CustomerOrder, InteractionWhere, order_direction
from engine.enums import Channel, InteractionKind
from engine.models import AuditEvent, Customer, Interaction
from engine.services.search import SearchText, match_condition


def _count(session: Session, model, conditions) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(model).where(*conditions)).scalar_one()


def _counter(session: Session, model, conditions, with_total: bool):
    """The count, for ``fetch_page`` to run only when totalCount is selected."""
    return (lambda: _count(session, model, conditions)) if with_total else None


def customers_page(
    session: Session, tenant_id: int, cursors: Cursors, page: Slice, with_total: bool = True,
    where=None, order: CustomerOrder | None = None, search: str | None = None, plugin_filters=(), plugin_orders=(),
) -> Page:
    order = order or CustomerOrder()
    direction = order_direction(order)
    order_name = f"{order.field.name}:{direction.name}"
    key, value_of, parse = order_key(order.field, tenant_id, plugin_orders)
    keyset = Keyset(order_name, Customer.id, direction.name == "DESC", key, parse, value_of or (lambda c: None))
    conditions = [
        Customer.tenant_id == tenant_id,
        Customer.deleted_at.is_(None),
        customer_condition(where, session.get_bind().dialect.name, tenant_id=tenant_id, plugin_filters=plugin_filters),
    ]
    if search and search.strip():
        conditions.append(match_condition(tenant_id, SearchText.parse(search)))
    total = _counter(session, Customer, conditions, with_total)
    query = sa.select(Customer).where(*conditions)
    if value_of is not None:
        return fetch_page(session, query, keyset, cursors, page, total)
    # A plugin's sort key is not on the customer row: select it alongside.
    total = None if total is None else total()
    query = query.where(*keyset.conditions(cursors, page)).order_by(*keyset.order_by(page.backwards)).limit(page.size + 1)
    pairs = session.execute(query.add_columns(key)).all()
    values = {customer.id: value for customer, value in pairs}
    return slice_page([customer for customer, _ in pairs], page,
                      lambda c: cursors.encode(order_name, _cursor_text(values[c.id]), c.id), total)


def _cursor_text(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _codes(enum_type, values: list[str], field: str) -> list[str]:
    try:
        return [enum_type.parse(code_of(v)).code for v in values]
    except ValueError as error:
        raise api_error(f"{field}: {error}", BAD_USER_INPUT) from None


def interaction_conditions(tenant_id: int, where: InteractionWhere | None) -> list:
    conditions = [Interaction.tenant_id == tenant_id]
    if where is None:
        return conditions
    if where.customer_id is not None:
        customer_id = decode_id(where.customer_id, "Customer")
        conditions.append(Interaction.customer_id == (customer_id if customer_id is not None else -1))
    if where.kind:
        conditions.append(Interaction.kind.in_(_codes(InteractionKind, where.kind, "kind")))
    if where.channel:
        conditions.append(Interaction.channel.in_(_codes(Channel, where.channel, "channel")))
    if where.store is not None:
        conditions.extend(string_condition(Interaction.store, where.store))
    if where.occurred_at is not None:
        conditions.extend(compare_condition(Interaction.occurred_at, where.occurred_at))
    return conditions


INTERACTIONS = Keyset("OCCURRED_AT:DESC", Interaction.id, True, Interaction.occurred_at,
                      datetime.fromisoformat, lambda row: row.occurred_at.isoformat())


def interaction_cursor(cursors: Cursors, row: Interaction) -> str:
    return INTERACTIONS.cursor(cursors, row)


def interactions_page(session: Session, tenant_id: int, cursors: Cursors, page: Slice, where=None, with_total: bool = True) -> Page:
    conditions = interaction_conditions(tenant_id, where)
    query = sa.select(Interaction).where(*conditions)
    return fetch_page(session, query, INTERACTIONS, cursors, page, _counter(session, Interaction, conditions, with_total))


def interactions_of_customers(
    session: Session, tenant_id: int, cursors: Cursors, customer_ids: list[int], page: Slice
) -> dict[int, list[Interaction]]:
    """Up to size+1 interactions of each customer in the slice's direction, in one statement (a window)."""
    conditions = [Interaction.tenant_id == tenant_id, Interaction.customer_id.in_(customer_ids),
                  *INTERACTIONS.conditions(cursors, page)]
    order = INTERACTIONS.order_by(page.backwards)
    rank = sa.func.row_number().over(partition_by=Interaction.customer_id, order_by=order).label("rank")
    inner = sa.select(Interaction.id.label("iid"), rank).where(*conditions).subquery()
    query = (
        sa.select(Interaction)
        .join(inner, inner.c.iid == Interaction.id)
        .where(inner.c.rank <= page.size + 1)
        .order_by(Interaction.customer_id, *order)
    )
    out: dict[int, list[Interaction]] = {cid: [] for cid in customer_ids}
    for row in session.execute(query).scalars():
        out[row.customer_id].append(row)
    return out


def interaction_counts(session: Session, tenant_id: int, customer_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        sa.select(Interaction.customer_id, sa.func.count())
        .where(Interaction.tenant_id == tenant_id, Interaction.customer_id.in_(customer_ids))
        .group_by(Interaction.customer_id)
    ).all()
    return dict(rows)


AUDIT = Keyset("ID:DESC", AuditEvent.id, True)


def audit_page(session: Session, tenant_id: int, cursors: Cursors, page: Slice, action: str | None = None,
               with_total: bool = True) -> Page:
    conditions = [AuditEvent.tenant_id == tenant_id]
    if action:
        conditions.append(AuditEvent.action == action)
    query = sa.select(AuditEvent).where(*conditions)
    return fetch_page(session, query, AUDIT, cursors, page, _counter(session, AuditEvent, conditions, with_total))


def customers_by_ids(session: Session, tenant_id: int, ids: list[int]) -> dict[int, Customer]:
    rows = session.execute(
        sa.select(Customer).where(Customer.tenant_id == tenant_id, Customer.id.in_(ids), Customer.deleted_at.is_(None))
    ).scalars()
    return {row.id: row for row in rows}


def interactions_by_ids(session: Session, tenant_id: int, ids: list[int]) -> dict[int, Interaction]:
    rows = session.execute(sa.select(Interaction).where(Interaction.tenant_id == tenant_id, Interaction.id.in_(ids))).scalars()
    return {row.id: row for row in rows}


# -- duplicate candidates (docs/customers.md) -------------------------------------------

DUPLICATE_ORDER = "DUPLICATES"


def _name_birthday(name_col, birthday_col):
    return name_col + "|" + sa.cast(birthday_col, sa.String)


def duplicate_groups_page(session: Session, tenant_id: int, cursors: Cursors, page: Slice, with_total: bool = True) -> Page:
    """Groups of live customers sharing a phone (``duplicate_phone`` included),
    an email, or a name and birthday, ordered by reason then the shared value.
    Each page costs two statements (the groups, their members), three with totalCount."""
    live = (Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None))
    phones = sa.union_all(
        sa.select(Customer.phone.label("value"), Customer.id).where(*live, Customer.phone.is_not(None)),
        sa.select(Customer.duplicate_phone.label("value"), Customer.id).where(*live, Customer.duplicate_phone.is_not(None)),
    ).subquery()
    name_birthday = _name_birthday(Customer.name, Customer.birthday)
    groups = sa.union_all(
        sa.select(sa.literal("PHONE").label("reason"), phones.c.value).group_by(phones.c.value)
        .having(sa.func.count(sa.distinct(phones.c.id)) > 1),
        sa.select(sa.literal("EMAIL").label("reason"), Customer.email.label("value"))
        .where(*live, Customer.email.is_not(None)).group_by(Customer.email).having(sa.func.count() > 1),
        sa.select(sa.literal("NAME_BIRTHDAY").label("reason"), name_birthday.label("value"))
        .where(*live, Customer.name.is_not(None), Customer.birthday.is_not(None))
        .group_by(Customer.name, Customer.birthday).having(sa.func.count() > 1),
    ).subquery()
    total = session.execute(sa.select(sa.func.count()).select_from(groups)).scalar_one() if with_total else None
    query = sa.select(groups.c.reason, groups.c.value)
    for cursor, beyond in ((page.after, _after_group), (page.before, _before_group)):
        if cursor:
            (reason, value), _ = cursors.decode(cursor, DUPLICATE_ORDER)
            query = query.where(beyond(groups, reason, value))
    order = (groups.c.reason.desc(), groups.c.value.desc()) if page.backwards else (groups.c.reason, groups.c.value)
    rows = session.execute(query.order_by(*order).limit(page.size + 1)).all()
    members = _duplicate_members(session, live, rows[:page.size])
    found = [DuplicateGroupRow(reason, value, members.get((reason, value), [])) for reason, value in rows]
    return slice_page(found, page, lambda g: cursors.encode(DUPLICATE_ORDER, [g.reason, g.value], 0), total)


def _after_group(groups, reason, value):
    return sa.or_(groups.c.reason > reason, sa.and_(groups.c.reason == reason, groups.c.value > value))


def _before_group(groups, reason, value):
    return sa.or_(groups.c.reason < reason, sa.and_(groups.c.reason == reason, groups.c.value < value))


@dataclass
class DuplicateGroupRow:
    reason: str
    value: str
    customers: list


def _duplicate_members(session: Session, live, groups) -> dict[tuple[str, str], list[Customer]]:
    by_reason: dict[str, list[str]] = {}
    for reason, value in groups:
        by_reason.setdefault(reason, []).append(value)
    if not by_reason:
        return {}
    matches = []
    if "PHONE" in by_reason:
        matches += [Customer.phone.in_(by_reason["PHONE"]), Customer.duplicate_phone.in_(by_reason["PHONE"])]
    if "EMAIL" in by_reason:
        matches.append(Customer.email.in_(by_reason["EMAIL"]))
    if "NAME_BIRTHDAY" in by_reason:
        matches.append(_name_birthday(Customer.name, Customer.birthday).in_(by_reason["NAME_BIRTHDAY"]))
    out: dict[tuple[str, str], list[Customer]] = {}
    for customer in session.execute(sa.select(Customer).where(*live, sa.or_(*matches)).order_by(Customer.id)).scalars():
        keys = [("PHONE", customer.phone), ("PHONE", customer.duplicate_phone), ("EMAIL", customer.email)]
        if customer.name is not None and customer.birthday is not None:
            keys.append(("NAME_BIRTHDAY", f"{customer.name}|{customer.birthday.isoformat()}"))
        for key in set(keys):  # a customer may hold one value twice (phone and duplicate_phone)
            if key[1] is not None and key[1] in by_reason.get(key[0], ()):
                out.setdefault(key, []).append(customer)
    return out
