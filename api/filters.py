"""Typed filter inputs turned into SQL conditions (always inside one tenant)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from api.errors import BAD_USER_INPUT, api_error
import enum
from typing import Optional

import strawberry

from api.types import CustomerOrder, CustomerOrderField, CustomerWhere, DateTimeFilter, Direction, StringFilter, TagsFilter
from engine.models import Customer
from engine.services.customers import escape_like
from engine.services.search import has_tag
from engine.types import UtcDateTime

MAX_NESTING = 5
NET_SPENT = Customer.total_spent - Customer.refunded_amount  # what RFM and CLV score; the stored total is gross
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise api_error("date-times in filters need an offset, e.g. 2025-01-01T00:00:00Z", BAD_USER_INPUT)
    return value


def string_condition(column, f: StringFilter) -> list[sa.ColumnElement]:
    out = []
    if f.eq is not None:
        out.append(column == f.eq)
    if f.contains is not None:
        out.append(column.ilike(f"%{escape_like(f.contains)}%", escape="\\"))
    if f.starts_with is not None:
        out.append(column.ilike(f"{escape_like(f.starts_with)}%", escape="\\"))
    if f.in_ is not None:
        out.append(column.in_(f.in_))
    return out


def compare_condition(column, f: Any, convert=lambda v: v) -> list[sa.ColumnElement]:
    ops = {"eq": column.__eq__, "gt": column.__gt__, "gte": column.__ge__, "lt": column.__lt__, "lte": column.__le__}
    return [op(convert(getattr(f, name))) for name, op in ops.items() if getattr(f, name, None) is not None]


def tags_condition(tenant_id: int, f: TagsFilter) -> list[sa.ColumnElement]:
    """Exact tags, through the customer_tags index (engine/services/search.py)."""
    out = []
    if f.has is not None:
        out.append(has_tag(tenant_id, f.has))
    if f.has_any:
        out.append(sa.or_(*(has_tag(tenant_id, t) for t in f.has_any)))
    if f.has_all:
        out.extend(has_tag(tenant_id, t) for t in f.has_all)
    return out


def customer_condition(
    where: CustomerWhere | None, dialect: str, depth: int = 0, tenant_id: int | None = None, plugin_filters=()
) -> sa.ColumnElement:
    if where is None:
        return sa.true()
    if depth > MAX_NESTING:
        raise api_error(f"filters nest at most {MAX_NESTING} levels of AND/OR", BAD_USER_INPUT)
    parts: list[sa.ColumnElement] = []
    for name in ("name", "phone", "email", "code", "store", "owner"):
        f = getattr(where, name)
        if f is not None:
            parts.extend(string_condition(getattr(Customer, name), f))
    if where.tags is not None:
        parts.extend(tags_condition(tenant_id, where.tags))
    for name in ("created_at", "last_purchase_at"):
        f: DateTimeFilter | None = getattr(where, name)
        if f is not None:
            parts.extend(compare_condition(getattr(Customer, name), f, _utc))
    for spent in (where.total_spent, where.gross_spent):
        if spent is not None:
            parts.extend(compare_condition(Customer.total_spent, spent))
    if where.net_spent is not None:
        parts.extend(compare_condition(NET_SPENT, where.net_spent))
    if where.purchase_count is not None:
        parts.extend(compare_condition(Customer.purchase_count, where.purchase_count))
    for plugin_filter in plugin_filters:
        value = getattr(where, plugin_filter.name, None)
        if value is not None:
            parts.append(plugin_filter.condition(value, tenant_id))
    nested = dict(dialect=dialect, depth=depth + 1, tenant_id=tenant_id, plugin_filters=plugin_filters)
    if where.and_:
        parts.extend(customer_condition(w, **nested) for w in where.and_)
    if where.or_:
        parts.append(sa.or_(*(customer_condition(w, **nested) for w in where.or_)))
    return sa.and_(sa.true(), *parts)


def extended_customer_inputs(plugin_filters, plugin_orders):
    """CustomerWhere and CustomerOrder with the enabled plugins' filters and sort keys.

    Built once per schema (per set of enabled modules); the names stay
    ``CustomerWhere`` / ``CustomerOrderField`` so clients see one vocabulary.
    """
    annotations = {f.name: Optional[f.input_type] for f in plugin_filters}
    fields = {f.name: strawberry.field(default=None, description=f.description) for f in plugin_filters}
    where = type("CustomerWhere", (CustomerWhere,), {"__annotations__": annotations, **fields})
    # AND / OR take the extended type too.
    where.__annotations__["and_"] = Optional[list[where]]
    where.__annotations__["or_"] = Optional[list[where]]
    where.and_ = strawberry.field(name="AND", default=None, description="Every one of these must hold.")
    where.or_ = strawberry.field(name="OR", default=None, description="At least one of these must hold.")
    # The core input's own description (a dataclass's __doc__ is its signature).
    where = strawberry.input(where, name="CustomerWhere", description=CustomerWhere.__strawberry_definition__.description)

    core = {v.name: strawberry.enum_value(v.value, description=v.description, deprecation_reason=v.deprecation_reason)
            for v in CustomerOrderField.__strawberry_definition__.values}
    members = core | {o.name: strawberry.enum_value(o.name.lower(), description=o.description) for o in plugin_orders}
    field_enum = strawberry.enum(enum.Enum("CustomerOrderField", members), name="CustomerOrderField",
                                 description=CustomerOrderField.__strawberry_definition__.description)
    direction = CustomerOrder.__dataclass_fields__["direction"]  # same default and description as the core input
    order = strawberry.input(
        type("CustomerOrder", (), {
            "__annotations__": {"field": field_enum, "direction": Optional[Direction]},
            "field": strawberry.field(default=field_enum.CREATED_AT, description="The sort key (default CREATED_AT)."),
            "direction": strawberry.field(default=None, description=direction.description),
        }),
        name="CustomerOrder", description="How to sort customers.",
    )
    return where, order


# -- ordering -------------------------------------------------------------------
# Each order key is (SQL expression, python value of a row, value from a cursor).
# NULLs sort as a floor value so keyset comparisons stay simple and total.


def order_key(field, tenant_id: int | None = None, plugin_orders=()):
    """(SQL expression, python value of a row, parser of a cursor value) for an orderBy field.

    ``field`` is a member of the (possibly extended) CustomerOrderField enum;
    it is matched by name. The row passed to the value function is
    ``(customer, sort value)``.
    """
    name = field.name
    if name == "NAME":
        return sa.func.coalesce(Customer.name, ""), lambda c: c.name or "", str
    if name == "LAST_PURCHASE_AT":
        expr = sa.func.coalesce(Customer.last_purchase_at, sa.literal(EPOCH, UtcDateTime()), type_=UtcDateTime())
        return expr, lambda c: (c.last_purchase_at or EPOCH).isoformat(), datetime.fromisoformat
    if name == "CREATED_AT":
        return Customer.created_at, lambda c: c.created_at.isoformat(), datetime.fromisoformat
    if name in ("TOTAL_SPENT", "GROSS_SPENT"):
        return Customer.total_spent, lambda c: str(c.total_spent), Decimal
    if name == "NET_SPENT":
        return NET_SPENT, lambda c: str(c.total_spent - c.refunded_amount), Decimal
    if name == "PURCHASE_COUNT":
        return Customer.purchase_count, lambda c: c.purchase_count, int
    plugin_order = next(o for o in plugin_orders if o.name == name)
    expr = sa.func.coalesce(plugin_order.expression(tenant_id), plugin_order.floor)
    return expr, None, plugin_order.parse
