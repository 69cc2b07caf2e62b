"""The query cost rule: how many objects a query may ask for, checked before it runs.

Depth, token and alias limits let through a 49-token query (customers ->
interactions -> customer -> interactions, ``first: 100`` each) that asks
for about a million objects. The cost counts them: every object field costs
one per parent; a list or connection multiplies what is under it by its
``first``/``last`` (variables resolved; the field's default, else the default
page size, when absent) when its rows (``edges``, ``nodes``) are selected;
a plain list without a size counts as ``LIST_SIZE``; a connection also
costs one for its own query (its ``totalCount`` alone costs just that);
scalars cost nothing. A selection written twice counts twice. A query over its role's budget is refused with
``QUERY_TOO_COSTLY`` before any resolver runs, its cost and the budget in
the error; an accepted one reports its cost in ``extensions.cost``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from strawberry.extensions import SchemaExtension

from api.errors import QUERY_TOO_COSTLY
from api.pagination import DEFAULT_PAGE_SIZE
from engine.enums import Role

# A plain list of objects (a complaint's timeline, a group's customers) has no
# size argument: counted as this many.
LIST_SIZE = 20
PAGE_ARGUMENTS = ("first", "last")

# Objects one query may ask for, per role: a 100-customer page with 20
# interactions each costs about 2,100; analysts and admins read wider pages.
DEFAULT_BUDGETS: dict[Role, int] = {
    Role.VIEWER: 10_000,
    Role.AGENT: 10_000,
    Role.ANALYST: 20_000,
    Role.ADMIN: 20_000,
    Role.PLATFORM: 5_000,
}


def parse_budgets(text: str | None, setting: str = "GUANXI_QUERY_COST_BUDGETS") -> dict[Role, int]:
    """``"viewer=5000,admin=50000"`` over the defaults; a ValueError naming the setting otherwise."""
    return parse_role_numbers(text, DEFAULT_BUDGETS, setting)


def parse_role_numbers(text: str | None, defaults: Mapping[Role, int], setting: str) -> dict[Role, int]:
    values = dict(defaults)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, number = part.partition("=")
        try:
            role = Role.parse(name)
            if not sep or not number.strip().isdigit():
                raise ValueError(f"expected role=number, got {part.strip()!r}")
        except ValueError as error:
            raise ValueError(f"{setting}: {error}") from None
        values[role] = int(number)
    return values


# -- the cost of a document -----------------------------------------------------------------


def query_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
               variables: Mapping[str, Any] | None) -> int:
    """Objects the operation may fetch; 0 when it cannot be chosen (execution reports why)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _Walk(schema, document, operation, variables or {}).total(root, operation.selection_set)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class _Walk:
    """Every cost is linear in the number of parents, so each selection set is
    costed once per parent type, for one parent, and multiplied: a fragment
    spread a thousand times (a "fragment bomb") is walked once."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
                 variables: Mapping[str, Any]):
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and isinstance(definition.default_value, IntValueNode):
                self.variables[name] = int(definition.default_value.value)
        self._known: dict[tuple, int] = {}
        self._open: set[tuple] = set()

    def total(self, root, selection_set: SelectionSetNode) -> int:
        return self.unit(root, selection_set)

    def _once(self, key: tuple, compute) -> int:
        known = self._known.get(key)
        if known is not None:
            return known
        if key in self._open:  # a fragment cycle: the validator refuses it before anything runs
            return 0
        self._open.add(key)
        try:
            cost = self._known[key] = compute()
        finally:
            self._open.discard(key)
        return cost

    def _parts(self, parent, selection_set: SelectionSetNode | None):
        """(type, field node) or (type, nested selection set) for each selection: fragments narrow the type."""
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                yield parent, selection
            elif isinstance(selection, InlineFragmentNode):
                yield self.narrowed(parent, selection), selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    yield self.narrowed(parent, fragment), fragment.selection_set

    def narrowed(self, parent, fragment):
        """The fragment's type condition (``... on Customer`` under ``node``), else the parent."""
        condition = fragment.type_condition
        return parent if condition is None else (self.schema.get_type(condition.name.value) or parent)

    def unit(self, parent, selection_set: SelectionSetNode | None) -> int:
        """The cost of a selection set for one parent object."""
        def compute() -> int:
            total = 0
            for owner, part in self._parts(parent, selection_set):
                total += self.field(owner, part, 1) if isinstance(part, FieldNode) else self.unit(owner, part)
            return total

        return self._once(("object", getattr(parent, "name", None), id(selection_set)), compute)

    def field(self, parent, node: FieldNode, multiplier: int) -> int:
        name = node.name.value
        if name.startswith("__"):  # introspection and __typename: schema data, not the tenant's
            return 0
        definition = getattr(parent, "fields", {}).get(name)
        if definition is None:
            return 0  # unknown field, or one on a fragment of a narrower type: validated elsewhere
        target = get_named_type(definition.type)
        if is_leaf_type(target):
            return 0
        size = self.page_size(definition, node)
        if _is_connection(target):
            size = DEFAULT_PAGE_SIZE if size is None else size
            rows = size if self.reads_rows(target, node.selection_set) else 0  # totalCount alone reads none
            return multiplier * (1 + rows + self.connection(target, node.selection_set, size))
        if _is_list(definition.type):
            rows = multiplier * (LIST_SIZE if size is None else size)
            return rows * (1 + self.unit(target, node.selection_set))
        return multiplier * (1 + self.unit(target, node.selection_set))

    def connection(self, connection, selection_set: SelectionSetNode | None, size: int) -> int:
        """A connection's fields, for one connection of ``size`` rows (counted already):
        edges and nodes only walk into the rows."""
        def compute() -> int:
            total = 0
            for owner, part in self._parts(connection, selection_set):
                if not isinstance(part, FieldNode):
                    total += self.connection(owner, part, size)
                    continue
                definition = getattr(owner, "fields", {}).get(part.name.value)
                if definition is not None and part.name.value in ("edges", "nodes"):
                    item = get_named_type(definition.type)
                    row = self.unit(item, part.selection_set) if part.name.value == "nodes" else self.edge(item, part.selection_set)
                    total += size * row
                else:
                    total += self.field(owner, part, 1)
            return total

        return self._once(("connection", getattr(connection, "name", None), id(selection_set), size), compute)

    def reads_rows(self, connection, selection_set: SelectionSetNode | None) -> bool:
        """Whether the connection's rows are asked for (``edges`` or ``nodes``), not only its count or pageInfo."""
        def compute() -> int:
            for owner, part in self._parts(connection, selection_set):
                if isinstance(part, FieldNode):
                    if part.name.value in ("edges", "nodes"):
                        return 1
                elif self.reads_rows(owner, part):
                    return 1
            return 0

        return bool(self._once(("rows", getattr(connection, "name", None), id(selection_set)), compute))

    def edge(self, edge, selection_set: SelectionSetNode | None) -> int:
        """One edge: its ``node`` is the row itself (counted), what is selected in it is not."""
        def compute() -> int:
            total = 0
            for owner, part in self._parts(edge, selection_set):
                if not isinstance(part, FieldNode):
                    total += self.edge(owner, part)
                elif part.name.value == "node" and "node" in getattr(owner, "fields", {}):
                    total += self.unit(get_named_type(owner.fields["node"].type), part.selection_set)
                else:
                    total += self.field(owner, part, 1)
            return total

        return self._once(("edge", getattr(edge, "name", None), id(selection_set)), compute)

    def page_size(self, definition, node: FieldNode) -> int | None:
        """The largest of ``first``/``last`` asked for (or defaulted); None when the field takes neither."""
        sizes = []
        for name in PAGE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is None:
                continue
            value = self.argument(node, name)
            if value is None:
                default = argument.default_value
                value = default if isinstance(default, int) else None
            if value is not None:
                sizes.append(value)
            elif name == "first":
                sizes.append(DEFAULT_PAGE_SIZE)
        if not sizes:
            return None
        return max(0, max(sizes))

    def argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                return _integer(self.variables.get(value.name.value))
        return None


def _integer(value) -> int | None:
    """A variable's value as GraphQL's Int takes it (``100`` or ``100.0``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _unwrap_non_null(type_):
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _is_list(type_) -> bool:
    return isinstance(_unwrap_non_null(type_), GraphQLList)


def _is_connection(type_) -> bool:
    return isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection") and "edges" in type_.fields


# -- the rule, run before execution ---------------------------------------------------------


def too_costly(cost: int, budget: int, role: Role) -> GraphQLError:
    return GraphQLError(
        f"query cost {cost:,} is over the {role.code.lower()} role's budget of {budget:,} objects: "
        "ask for smaller pages (first/last) or fewer nested lists",
        extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "budget": budget},
    )


# Front-ends send a few fixed queries: their costs are remembered (a page of
# 100 customers with 30 fields took 0.1-0.3 ms to cost), keyed by the schema,
# the text, the operation and the integer variables (only they can size a page).
COST_CACHE_SIZE = 1024
_costs: dict[tuple, int] = {}


def cached_cost(context) -> int:
    variables = context.variables or {}
    sizes = tuple(sorted((k, v) for k, v in variables.items() if _integer(v) is not None))
    key = (context.schema, context.query, context.operation_name, sizes)
    cost = _costs.get(key)
    if cost is None:
        cost = query_cost(context.schema._schema, context.graphql_document, context.operation_name, variables)
        if len(_costs) >= COST_CACHE_SIZE:
            _costs.clear()  # arbitrary texts must not grow memory; the few fixed ones come back at once
        _costs[key] = cost
    return cost


class QueryCost(SchemaExtension):
    """Computes the cost once the document is parsed and validated; refuses
    it over the caller's budget (``context.cost_budget``), else reports it."""

    def __init__(self, *, execution_context=None):
        super().__init__(execution_context=execution_context)
        self.cost: int | None = None
        self.budget: int | None = None

    def on_execute(self):
        context = self.execution_context
        request = context.context
        principal = getattr(request, "principal", None)
        budget = getattr(request, "cost_budget", None)
        if principal is not None and budget is None:
            budget = DEFAULT_BUDGETS.get(principal.role)
        if context.graphql_document is not None and budget is not None:
            self.cost = cached_cost(context)
            self.budget = budget
            if self.cost > budget:
                context.result = ExecutionResult(data=None, errors=[too_costly(self.cost, budget, principal.role)])
        yield

    def get_results(self) -> dict:
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "budget": self.budget}}
