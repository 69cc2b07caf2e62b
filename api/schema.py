"""Schema assembly: the core types plus what the enabled plugins contribute,
built once per distinct set of enabled modules and cached.

A tenant's introspection shows exactly its modules; enabling one changes the
set, so the tenant's next request gets (or builds) the matching schema.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import itertools
import sys
import threading
from datetime import datetime
from pathlib import Path

import strawberry
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from api.composition import CoreNames, PluginParts, check_keys, check_names
from api.contrib import GraphQLContribution, as_list, normalise
from api.cost import QueryCost
from api.query_limits import alias_limit_rule, depth_limit_rule
from api.fast_resolvers import install_direct_resolvers
from api.references import CURRENT_CORE
from api.scalars import bounded_datetime
from engine.plugins.manager import PluginManager

MAX_DEPTH = 10
MAX_TOKENS = 5000
MAX_ALIASES = 30
# Distinct query texts remembered, parsed and validated. Front-ends send a
# handful of fixed queries; the bound keeps arbitrary texts from growing memory.
QUERY_CACHE_SIZE = 512
TEMPLATE = Path(__file__).with_name("core_schema.py")
_copies = itertools.count(1)


class GuanxiSchema(strawberry.Schema):
    def __init__(self, *args, **kwargs):
        # DateTime inputs within the documented range (docs/api.md, "Input bounds")
        kwargs.setdefault("scalar_overrides", {datetime: bounded_datetime()})
        super().__init__(*args, **kwargs)

    def process_errors(self, errors, execution_context=None) -> None:
        # Expected errors are the client's business; api.errors.format_error
        # logs the unexpected ones once, with their traceback.
        return None


def limits() -> list:
    """Factories (strawberry builds a fresh extension per request).

    Validation was a quarter of a worker's CPU under load, and its result
    depends only on the schema, the document and the rules: documents come
    from the parse cache (one object per query text) and the limit rules
    are built once below, so the validation cache hits. The depth and alias
    limiters would build new rule classes per request and never hit.
    """
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(_LIMIT_RULES),
        lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
        QueryCost,  # after validation, before execution: the role's budget of objects (api/cost.py)
    ]


# Ours, not strawberry's: those walk a fragment again at each spread (api/query_limits.py).
_LIMIT_RULES = [depth_limit_rule(MAX_DEPTH), alias_limit_rule(MAX_ALIASES)]


def _as_type(item):
    """A strawberry type as is; a bare ``strawberry.field`` wrapped in a one-field type."""
    if not isinstance(item, StrawberryField):
        return item
    name = item.python_name or (item.base_resolver.name if item.base_resolver else None)
    if not name:
        raise TypeError(f"{item!r}: a customer field needs a name (decorate a named function)")
    # A copy per schema: strawberry binds a field to the class it is declared on.
    return strawberry.type(type(f"CustomerField_{name}", (), {name: copy.copy(item), "__annotations__": {}}))


def contributions(plugins: PluginManager, modules: frozenset[str]) -> tuple[list[type], GraphQLContribution]:
    """The enabled plugins' Customer fields and GraphQL, merged; raises PluginConflict
    (naming both plugins) when two of them, or one and the core, claim the same name."""
    hooks = plugins.for_modules(modules)
    parts = [PluginParts(plugin, customer_types=[_as_type(t) for t in as_list(result)])
             for plugin, result in hooks.results_by_plugin("guanxi_customer_fields")]
    for plugin, result in hooks.results_by_plugin("guanxi_graphql"):
        check_keys(plugin, result)
        parts.append(PluginParts(plugin, graphql=normalise(result)))
    for part in parts:
        for t in part.customer_types + part.graphql.query + part.graphql.mutation:
            if get_object_definition(t) is None:
                raise TypeError(f"{t!r} (plugin {part.plugin!r}) is not a strawberry type; "
                                "plugins contribute @strawberry.type classes")
    check_names(core_names(), parts)
    return [t for part in parts for t in part.customer_types], merged(part.graphql for part in parts)


def merged(contributions) -> GraphQLContribution:
    out = GraphQLContribution()
    for part in contributions:
        out.query += part.query
        out.mutation += part.mutation
        out.types += part.types
        out.customer_filters += part.customer_filters
        out.customer_orders += part.customer_orders
        out.nodes.update(part.nodes)
        out.customer_batches.update(part.customer_batches)
    return out


CORE_NODE_TYPES = frozenset({"Customer", "Interaction", "AuditEvent", "JobRun"})


@functools.cache
def core_names() -> CoreNames:
    """What the core takes: the same for every schema, so read once per process."""
    return CoreNames.of(load_core_types(), CORE_NODE_TYPES)


def load_core_types(customer_mixins=(), query_mixins=(), mutation_mixins=(), customer_filters=(), customer_orders=(),
                    node_resolvers=None, customer_batches=None):
    """A fresh copy of api/core_schema.py with the given plugin types mixed in."""
    name = f"api._core_schema_{next(_copies)}"
    spec = importlib.util.spec_from_file_location(name, TEMPLATE)
    module = importlib.util.module_from_spec(spec)
    module.CUSTOMER_MIXINS = tuple(customer_mixins)
    module.QUERY_MIXINS = tuple(query_mixins)
    module.MUTATION_MIXINS = tuple(mutation_mixins)
    module.CUSTOMER_FILTERS = tuple(customer_filters)
    module.CUSTOMER_ORDERS = tuple(customer_orders)
    module.NODE_RESOLVERS = dict(node_resolvers or {})
    module.CUSTOMER_BATCHES = dict(customer_batches or {})
    sys.modules[name] = module  # strawberry resolves string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


_building = threading.Lock()


def build_schema(plugins: PluginManager, modules: frozenset[str]) -> strawberry.Schema:
    customer_types, extra = contributions(plugins, modules)
    with _building:
        core = load_core_types(customer_types, extra.query, extra.mutation, extra.customer_filters, extra.customer_orders,
                               extra.nodes, extra.customer_batches)
        sys.modules[CURRENT_CORE] = core
        try:
            schema = GuanxiSchema(query=core.Query, mutation=core.Mutation, types=core.TYPES + extra.types, extensions=limits())
        finally:
            sys.modules.pop(CURRENT_CORE, None)
    install_direct_resolvers(schema)
    return schema


class SchemaCache:
    """One schema per distinct set of enabled modules (and the platform schema)."""

    def __init__(self, plugins: PluginManager):
        self.plugins = plugins
        self._schemas: dict[frozenset[str], strawberry.Schema] = {}
        self._lock = threading.Lock()

    def for_modules(self, modules: frozenset[str]) -> strawberry.Schema:
        schema = self._schemas.get(modules)
        if schema is None:
            with self._lock:
                schema = self._schemas.get(modules)
                if schema is None:
                    schema = self._schemas[modules] = build_schema(self.plugins, modules)
        return schema

    def all_modules(self) -> strawberry.Schema:
        return self.for_modules(frozenset(self.plugins.modules))
