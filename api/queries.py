"""Reads behind the connection fields: plain synchronous functions over a
session, run in a worker thread by the resolvers. Each costs a fixed number
of statements (the page and its count)."""

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
from api.pagination import Cursors, Page, after_clause, make_page
from api.types import CustomerOrder, InteractionWhere
from engine.enums import Channel, InteractionKind
from engine.models import AuditEvent, Customer, Interaction
from engine.services.search import SearchText, match_condition


def _count(session: Session, model, conditions) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(model).where(*conditions)).scalar_one()


def customers_page(
    session: Session, tenant_id: int, cursors: Cursors, first: int, after: str | None,
    where=None, order: CustomerOrder | None = None, search: str | None = None, plugin_filters=(), plugin_orders=(),
) -> Page:
    order = order or CustomerOrder()
    order_name = f"{order.field.name}:{order.direction.name}"
    key, value_of, parse = order_key(order.field, tenant_id, plugin_orders)
    descending = order.direction.name == "DESC"
    conditions = [
        Customer.tenant_id == tenant_id,
        Customer.deleted_at.is_(None),
        customer_condition(where, session.get_bind().dialect.name, tenant_id=tenant_id, plugin_filters=plugin_filters),
    ]
    if search and search.strip():
        conditions.append(match_condition(tenant_id, SearchText.parse(search)))
    total = _count(session, Customer, conditions)
    query = sa.select(Customer).where(*conditions)
    if after:
        value, last_id = cursors.decode(after, order_name)
        try:
            value = parse(value)
        except (TypeError, ValueError, ArithmeticError):
            raise api_error("the cursor is malformed", "BAD_CURSOR") from None
        query = query.where(after_clause(key, Customer.id, value, last_id, descending))
    direction = (lambda c: c.desc()) if descending else (lambda c: c.asc())
    query = query.order_by(direction(key), direction(Customer.id)).limit(first + 1)
    if value_of is not None:
        rows = session.execute(query).scalars().all()
        return make_page(rows, first, total, lambda c: cursors.encode(order_name, value_of(c), c.id))
    # A plugin's sort key is not on the customer row: select it alongside.
    pairs = session.execute(query.add_columns(key)).all()
    values = {customer.id: value for customer, value in pairs}
    return make_page([customer for customer, _ in pairs], first, total,
                     lambda c: cursors.encode(order_name, _cursor_text(values[c.id]), c.id))


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


ORDER_INTERACTIONS = "OCCURRED_AT:DESC"


def _interaction_after(cursors: Cursors, after: str):
    value, last_id = cursors.decode(after, ORDER_INTERACTIONS)
    try:
        value = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise api_error("the cursor is malformed", "BAD_CURSOR") from None
    return after_clause(Interaction.occurred_at, Interaction.id, value, last_id, descending=True)


def interaction_cursor(cursors: Cursors, row: Interaction) -> str:
    return cursors.encode(ORDER_INTERACTIONS, row.occurred_at.isoformat(), row.id)


def interactions_page(session: Session, tenant_id: int, cursors: Cursors, first: int, after: str | None, where=None) -> Page:
    conditions = interaction_conditions(tenant_id, where)
    total = _count(session, Interaction, conditions)
    query = sa.select(Interaction).where(*conditions)
    if after:
        query = query.where(_interaction_after(cursors, after))
    query = query.order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(first + 1)
    rows = session.execute(query).scalars().all()
    return make_page(rows, first, total, lambda r: interaction_cursor(cursors, r))


def interactions_of_customers(
    session: Session, tenant_id: int, cursors: Cursors, customer_ids: list[int], first: int, after: str | None
) -> dict[int, list[Interaction]]:
    """Up to first+1 newest interactions of each customer, in one statement (a window)."""
    conditions = [Interaction.tenant_id == tenant_id, Interaction.customer_id.in_(customer_ids)]
    if after:
        conditions.append(_interaction_after(cursors, after))
    rank = sa.func.row_number().over(
        partition_by=Interaction.customer_id, order_by=(Interaction.occurred_at.desc(), Interaction.id.desc())
    ).label("rank")
    inner = sa.select(Interaction.id.label("iid"), rank).where(*conditions).subquery()
    query = (
        sa.select(Interaction)
        .join(inner, inner.c.iid == Interaction.id)
        .where(inner.c.rank <= first + 1)
        .order_by(Interaction.customer_id, Interaction.occurred_at.desc(), Interaction.id.desc())
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


def audit_page(session: Session, tenant_id: int, cursors: Cursors, first: int, after: str | None, action: str | None = None) -> Page:
    conditions = [AuditEvent.tenant_id == tenant_id]
    if action:
        conditions.append(AuditEvent.action == action)
    total = _count(session, AuditEvent, conditions)
    query = sa.select(AuditEvent).where(*conditions)
    if after:
        _, last_id = cursors.decode(after, "ID:DESC")
        if not isinstance(last_id, int):
            raise api_error("the cursor is malformed", "BAD_CURSOR")
        query = query.where(AuditEvent.id < last_id)
    rows = session.execute(query.order_by(AuditEvent.id.desc()).limit(first + 1)).scalars().all()
    return make_page(rows, first, total, lambda r: cursors.encode("ID:DESC", None, r.id))


def customers_by_ids(session: Session, tenant_id: int, ids: list[int]) -> dict[int, Customer]:
    rows = session.execute(
        sa.select(Customer).where(Customer.tenant_id == tenant_id, Customer.id.in_(ids), Customer.deleted_at.is_(None))
    ).scalars()
    return {row.id: row for row in rows}


# -- duplicate candidates (docs/customers.md) -------------------------------------------

DUPLICATE_ORDER = "DUPLICATES"


def _name_birthday(name_col, birthday_col):
    return name_col + "|" + sa.cast(birthday_col, sa.String)


def duplicate_groups_page(session: Session, tenant_id: int, cursors: Cursors, first: int, after: str | None) -> Page:
    """Groups of live customers sharing a phone (``duplicate_phone`` included),
    an email, or a name and birthday, ordered by reason then the shared value.
    Each page costs three statements: the groups, their count, their members."""
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
    total = session.execute(sa.select(sa.func.count()).select_from(groups)).scalar_one()
    query = sa.select(groups.c.reason, groups.c.value)
    if after:
        (reason, value), _ = cursors.decode(after, DUPLICATE_ORDER)
        query = query.where(sa.or_(groups.c.reason > reason, sa.and_(groups.c.reason == reason, groups.c.value > value)))
    rows = session.execute(query.order_by(groups.c.reason, groups.c.value).limit(first + 1)).all()
    members = _duplicate_members(session, live, rows[:first])
    found = [DuplicateGroupRow(reason, value, members.get((reason, value), [])) for reason, value in rows]
    return make_page(found, first, total, lambda g: cursors.encode(DUPLICATE_ORDER, [g.reason, g.value], 0))


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
