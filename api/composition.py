"""Do the enabled plugins compose into one schema? Checked whenever a schema
is built, so the API fails at start rather than serving a surprise.

Every name a plugin adds (Customer, Query and Mutation fields, GraphQL types,
customer filters and sort keys, node types, customer batches) must belong to
one plugin or to the core, and ``guanxi_graphql()`` may use only the known
keys. Without these checks one of two same-named fields silently wins (by
install order), a misspelled key is silently ignored, and two same-named
types stop every tenant's API with an error that names no plugin. The
naming rules plugins follow to stay clear of each other are in
docs/plugin-hooks.md ("Naming rules").
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryContainer, StrawberryObjectDefinition, get_object_definition
from strawberry.types.enum import StrawberryEnumDefinition
from strawberry.types.lazy_type import LazyType
from strawberry.types.scalar import ScalarDefinition
from strawberry.types.union import StrawberryUnion

from api.contrib import GraphQLContribution
from api.references import CURRENT_CORE
from api.types import CustomerOrderField
from engine.plugins.manager import PluginConflict, PluginError

KNOWN_KEYS = tuple(f.name for f in fields(GraphQLContribution))
NAMES = NameConverter()  # the schema's own naming (snake_case fields become camelCase)
CORE = None  # the owner of the core's names
HINT = "see 'Naming rules' in docs/plugin-hooks.md"


@dataclass
class PluginParts:
    """What one plugin's hook returned for a schema (one hook's result per part)."""

    plugin: str
    customer_types: list[type] = field(default_factory=list)
    graphql: GraphQLContribution = field(default_factory=GraphQLContribution)


@dataclass(frozen=True)
class CoreNames:
    """The names the core schema takes, before any plugin."""

    customer_fields: frozenset[str]
    query_fields: frozenset[str]
    mutation_fields: frozenset[str]
    customer_filters: frozenset[str]
    customer_orders: frozenset[str]
    node_types: frozenset[str]
    types: dict[str, Any]  # GraphQL type name -> its definition

    @classmethod
    def of(cls, core, node_types: Iterable[str]) -> CoreNames:
        """From a copy of api/core_schema.py loaded without plugins."""
        return cls(
            customer_fields=frozenset(field_names(core.Customer)),
            query_fields=frozenset(field_names(core.Query)),
            mutation_fields=frozenset(field_names(core.Mutation)),
            customer_filters=frozenset(field_names(core.CustomerWhere)),
            customer_orders=frozenset(member.name for member in CustomerOrderField),
            node_types=frozenset(node_types),
            types=dict(named_types([core.Query, core.Mutation, *core.TYPES])),
        )


def check_keys(plugin: str, result: Any) -> None:
    """A ``guanxi_graphql()`` dict uses only GraphQLContribution's keys."""
    if not isinstance(result, dict):
        return
    for key in sorted(set(result) - set(KNOWN_KEYS), key=str):
        close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        raise PluginError(f"guanxi_graphql() of plugin {plugin!r} returns unknown key {key!r}{guess}; "
                          f"the keys are {', '.join(KNOWN_KEYS)}")


def check_names(core: CoreNames, parts: list[PluginParts]) -> None:
    """Raise PluginConflict at the first name two contributors share."""
    taken_by_core = {
        "Customer field": core.customer_fields,
        "Query field": core.query_fields,
        "Mutation field": core.mutation_fields,
        "customer filter": core.customer_filters,
        "customer order field": core.customer_orders,
        "node type": core.node_types,
        "customer batch": (),
    }
    claims = {kind: Claims(kind, names) for kind, names in taken_by_core.items()}
    type_claims = Claims("GraphQL type", ())
    for name, definition in core.types.items():
        type_claims.claim(name, CORE, definition)
    for part in parts:
        contribution = part.graphql
        named = {
            "Customer field": [name for t in part.customer_types for name in field_names(t)],
            "Query field": [name for t in contribution.query for name in field_names(t)],
            "Mutation field": [name for t in contribution.mutation for name in field_names(t)],
            "customer filter": [NAMES.apply_naming_config(f.name) for f in contribution.customer_filters],
            "customer order field": [o.name for o in contribution.customer_orders],
            "node type": list(contribution.nodes),
            "customer batch": list(contribution.customer_batches),
        }
        for kind, names in named.items():
            for name in names:
                claims[kind].claim(name, part.plugin)
        for name, definition in named_types(_roots(part)):
            type_claims.claim(name, part.plugin, definition)


class Claims:
    """Who took each name of one kind."""

    def __init__(self, kind: str, core: Iterable[str]):
        self.kind = kind
        self.owners: dict[str, tuple[str | None, Any]] = {name: (CORE, None) for name in core}

    def claim(self, name: str, owner: str | None, definition: Any = None) -> None:
        """Take ``name`` for ``owner``; a type shared by identity (e.g. api.types.PageInfo) is no clash."""
        previous = self.owners.get(name)
        if previous is None:
            self.owners[name] = (owner, definition)
            return
        if definition is not None and previous[1] is definition:
            return
        raise PluginConflict(f"{self.kind} {name!r} is contributed {_by(previous[0], owner)}; {HINT}")


def _by(first: str | None, second: str | None) -> str:
    if first == second:
        return f"twice by plugin {first!r}"
    if CORE in (first, second):
        plugin = first if second is CORE else second
        return f"by plugin {plugin!r} and the core"
    a, b = sorted((first, second))
    return f"by both plugins {a!r} and {b!r}"


def field_names(strawberry_type: type) -> list[str]:
    """The GraphQL names of a strawberry type's fields."""
    return [NAMES.from_field(f) for f in get_object_definition(strawberry_type, strict=True).fields]


# -- GraphQL types a contribution brings ---------------------------------------------


def _roots(part: PluginParts) -> list:
    # Customer / Query / Mutation mixins are not types of their own: their fields' types are.
    mixins = part.customer_types + part.graphql.query + part.graphql.mutation
    referenced = [t for mixin in mixins for t in _referenced(get_object_definition(mixin, strict=True))]
    return referenced + part.graphql.types + [f.input_type for f in part.graphql.customer_filters]


def named_types(roots: Iterable) -> list[tuple[str, Any]]:
    """(GraphQL name, definition) of every named type reachable from ``roots``, each definition once."""
    found, seen, stack = [], set(), list(roots)
    while stack:
        definition = _definition(stack.pop())
        if definition is None or id(definition) in seen:
            continue
        seen.add(id(definition))
        found.append((NAMES.from_type(definition), definition))
        stack.extend(_referenced(definition))
    return found


NAMED_DEFINITIONS = (StrawberryObjectDefinition, StrawberryEnumDefinition, StrawberryUnion, ScalarDefinition)


def _definition(annotation: Any) -> Any:
    """The named type behind a field's type (lists, optionals and lazy types unwrapped)."""
    while True:
        if isinstance(annotation, StrawberryContainer):
            annotation = annotation.of_type
        elif isinstance(annotation, LazyType):
            if annotation.module == CURRENT_CORE:
                return None  # a core type (Customer) a plugin type refers to: the core's own name
            annotation = annotation.resolve_type()
        else:
            break
    if isinstance(annotation, NAMED_DEFINITIONS):
        return annotation
    # None for built-in scalars (str, int, datetime, JSON ...): strawberry names those itself.
    return getattr(annotation, "__strawberry_definition__", None) or getattr(annotation, "_scalar_definition", None)


def _referenced(definition: Any) -> list:
    if isinstance(definition, StrawberryUnion):
        return list(definition.types)
    if not isinstance(definition, StrawberryObjectDefinition):
        return []
    out = list(definition.interfaces)
    for f in definition.fields:
        try:
            out.append(f.type)
            out.extend(argument.type for argument in f.arguments)
        except Exception:  # an unresolvable annotation: strawberry names the field when it builds the schema
            continue
    return out
