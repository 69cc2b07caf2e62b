"""Depth and alias limits as validation rules that read each fragment once.

strawberry's depth and alias limiters walk a fragment again at every spread
of it: twelve fragments each spreading the next eight times (about 200
tokens) made them walk 8^12 selections, on the event loop, for as long as
the worker lived. These rules give the same answers (the same messages) but
measure each fragment once and reuse the figure wherever it is spread.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)


class _Measure:
    """Per document: a figure per selection set, fragments measured once."""

    def __init__(self, context: ValidationContext, of_field):
        self.fragments = {d.name.value: d for d in context.document.definitions
                          if isinstance(d, FragmentDefinitionNode)}
        self.of_field = of_field
        self._known: dict[str, int] = {}
        self._open: set[str] = set()

    def fragment(self, name: str, combine) -> int:
        if name in self._known:
            return self._known[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open:  # unknown or cyclic: other rules report it
            return 0
        self._open.add(name)
        try:
            value = self._known[name] = combine(self, fragment.selection_set)
        finally:
            self._open.discard(name)
        return value


def _height(measure: _Measure, selection_set: SelectionSetNode | None) -> int:
    """Fields on the longest path down (introspection fields not counted)."""
    best = 0
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):  # GraphiQL's introspection is deep by nature
                continue
            best = max(best, 1 + _height(measure, selection.selection_set))
        elif isinstance(selection, InlineFragmentNode):
            best = max(best, _height(measure, selection.selection_set))
        elif isinstance(selection, FragmentSpreadNode):
            best = max(best, measure.fragment(selection.name.value, _height))
    return best


def _aliases(measure: _Measure, selection_set: SelectionSetNode | None) -> int:
    """Aliased fields, each spread of a fragment counting its own again."""
    total = 0
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            total += (selection.alias is not None) + _aliases(measure, selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            total += _aliases(measure, selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            total += measure.fragment(selection.name.value, _aliases)
    return total


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    """Fields nested more than ``max_depth`` levels below the operation's own are refused."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext):
            super().__init__(context)
            measure = _Measure(context, _height)
            for definition in context.document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    if _height(measure, definition.selection_set) - 1 > max_depth:
                        name = definition.name.value if definition.name else "anonymous"
                        context.report_error(GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}", definition))

    return DepthLimit


def alias_limit_rule(max_aliases: int) -> type[ValidationRule]:
    """More than ``max_aliases`` aliases in the document's operations are refused."""

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext):
            super().__init__(context)
            measure = _Measure(context, _aliases)
            total = sum(_aliases(measure, d.selection_set) for d in context.document.definitions
                        if isinstance(d, OperationDefinitionNode))
            if total > max_aliases:
                context.report_error(GraphQLError(f"{total} aliases found. Allowed: {max_aliases}"))

    return AliasLimit
