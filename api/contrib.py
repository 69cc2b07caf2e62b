"""What a plugin's ``guanxi_graphql`` hook returns.

Either this dataclass or a plain dict ``{"query": T | [T...], "mutation": T | [T...]}``;
each T is a strawberry type whose fields are merged into the tenant's Query or
Mutation. Resolvers get the request context as ``info.context`` (see
api/context.py: ``await info.context.read(fn)``, ``info.context.loader(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GraphQLContribution:
    query: list[type] = field(default_factory=list)
    mutation: list[type] = field(default_factory=list)
    types: list[type] = field(default_factory=list)  # extra types not reachable from fields


def as_list(value: Any) -> list[type]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def normalise(result: Any) -> GraphQLContribution:
    if isinstance(result, GraphQLContribution):
        return GraphQLContribution(as_list(result.query), as_list(result.mutation), as_list(result.types))
    if isinstance(result, dict):
        return GraphQLContribution(as_list(result.get("query")), as_list(result.get("mutation")), as_list(result.get("types")))
    raise TypeError(f"guanxi_graphql() must return a dict or GraphQLContribution, not {type(result).__name__}")
