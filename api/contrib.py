"""What a plugin's ``guanxi_graphql`` hook returns.

Either this dataclass or a plain dict ``{"query": T | [T...], "mutation": T | [T...],
"customer_filters": [CustomerFilter...], "customer_orders": [CustomerOrder...],
"nodes": {"TypeName": async resolve(info, pk) -> object | None},
"customer_batches": {"customerField": spec}}`` (see api/prefetch.py);
each T is a strawberry type whose fields are merged into the tenant's Query or
Mutation. Resolvers get the request context as ``info.context`` (see
api/context.py: ``await info.context.read(fn)``, ``info.context.loader(...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CustomerFilter:
    """``customers(where: {<name>: <input_type>})``: a plugin's filter on customers.

    ``condition(value, tenant_id)`` returns a SQL condition on ``customers``
    (typically ``Customer.id.in_(select(...).where(table.tenant_id == tenant_id, ...))``).
    """

    name: str
    input_type: type
    condition: Callable[[Any, int], Any]
    # What front-end developers read in GraphiQL for ``where: {<name>: ...}``.
    description: str | None = None


@dataclass(frozen=True)
class CustomerOrder:
    """``customers(orderBy: {field: <NAME>})``: a plugin's sort key.

    ``expression(tenant_id)`` is a scalar SQL expression per customer row (a
    correlated subquery; NULL for customers without a value, which sort as
    ``floor``); ``parse`` turns a cursor's text back into a value.
    """

    name: str
    expression: Callable[[int], Any]
    floor: Any = 0
    parse: Callable[[str], Any] = float
    # What front-end developers read in GraphiQL for the CustomerOrderField value.
    description: str | None = None


@dataclass
class GraphQLContribution:
    query: list[type] = field(default_factory=list)
    mutation: list[type] = field(default_factory=list)
    types: list[type] = field(default_factory=list)  # extra types not reachable from fields
    customer_filters: list[CustomerFilter] = field(default_factory=list)
    customer_orders: list[CustomerOrder] = field(default_factory=list)
    # node(id) for the plugin's own types (which implement api.types.Node):
    # global-id type name -> ``async resolve(info, pk)`` returning the object, or
    # None when it does not exist in the caller's tenant.
    nodes: dict[str, Callable[[Any, int], Any]] = field(default_factory=dict)
    # Customer fields read together with a page of customers (api/prefetch.py):
    # GraphQL field name -> ``spec(ctx) -> (loader key, batch(session, ids))``,
    # the spec the field's resolver passes to ``info.context.customer_value``.
    customer_batches: dict[str, Callable[[Any], tuple]] = field(default_factory=dict)


def as_list(value: Any) -> list[type]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def normalise(result: Any) -> GraphQLContribution:
    if isinstance(result, GraphQLContribution):
        return GraphQLContribution(as_list(result.query), as_list(result.mutation), as_list(result.types),
                                   as_list(result.customer_filters), as_list(result.customer_orders), dict(result.nodes),
                                   dict(result.customer_batches))
    if isinstance(result, dict):
        return GraphQLContribution(as_list(result.get("query")), as_list(result.get("mutation")), as_list(result.get("types")),
                                   as_list(result.get("customer_filters")), as_list(result.get("customer_orders")),
                                   dict(result.get("nodes") or {}), dict(result.get("customer_batches") or {}))
    raise TypeError(f"guanxi_graphql() must return a dict or GraphQLContribution, not {type(result).__name__}")
