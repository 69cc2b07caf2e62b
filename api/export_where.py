"""A ``CustomerWhere`` given as JSON (the CLI's ``--where``, the export
endpoint's ``?where=``) turned into the SQL condition the GraphQL
``customers`` query uses.

The JSON is checked against the tenant's own schema, so it takes exactly
the filters the tenant's ``customers(where:)`` takes, its modules' included,
and a mistake comes back as an error naming the field
(``where.totalSpent.gte: Value cannot represent a Decimal: "abc".``).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from graphql import GraphQLError
from graphql.utilities import coerce_input_value, validate_input_value
from strawberry.types.arguments import convert_argument

from api.filters import customer_condition
from api.schema import SchemaCache, contributions
from engine.errors import FieldError, ValidationFailed
from engine.plugins.manager import PluginManager


def parse_json(text: str | None, field: str = "where") -> dict | None:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValidationFailed([FieldError(field, f"is not valid JSON ({error})")]) from None
    if not isinstance(value, dict):
        raise ValidationFailed([FieldError(field, "must be a JSON object in the shape of CustomerWhere, "
                                                  'e.g. {"totalSpent": {"gte": "1000"}}')])
    return value


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    """The filter's field paths (``rfm.segment.eq``), never its values: what
    the audit trail keeps of a filter, since values may be names or phones."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaf_paths(item, f"{prefix}{key}.")]
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return [p for item in value for p in leaf_paths(item, prefix)]
    return [prefix.rstrip(".")]


class CustomerWhereParser:
    """Checks and converts CustomerWhere JSON against a set of enabled modules' schema."""

    def __init__(self, plugins: PluginManager, schemas: SchemaCache | None = None):
        self.plugins = plugins
        self.schemas = schemas or SchemaCache(plugins)

    def _check(self, schema, value: dict, field: str) -> None:
        problems: list[FieldError] = []

        def on_error(error: GraphQLError, path: list) -> None:
            name = ".".join([field, *(str(p) for p in path)])
            problems.append(FieldError(name, error.message))

        validate_input_value(value, schema._schema.get_type("CustomerWhere"), on_error, True)
        if problems:
            raise ValidationFailed(problems)

    def condition(self, modules: frozenset[str], where: dict | None, dialect: str, tenant_id: int,
                  segment: str | None = None) -> sa.ColumnElement:
        """The SQL condition on ``customers`` for ``where`` (and an RFM ``segment`` code)."""
        schema = self.schemas.for_modules(modules)
        if where is not None:
            self._check(schema, where, "where")
        if segment is not None:
            where = self._with_segment(schema, modules, where, segment)
        if where is None:
            return sa.true()
        converted = self._convert(schema, where)
        try:
            return customer_condition(converted, dialect, tenant_id=tenant_id, plugin_filters=self.plugin_filters(modules))
        except GraphQLError as error:  # e.g. a date-time without an offset, nesting too deep
            raise ValidationFailed([FieldError("where", error.message)]) from None

    def parse(self, modules: frozenset[str], where: dict | None, field: str = "where"):
        """``where`` checked against the modules' schema (errors name ``field``...) and
        converted to the ``CustomerWhere`` input object the ``customers`` query gets
        (None for None): what a saved filter is stored as, used as a live query takes it."""
        if where is None:
            return None
        schema = self.schemas.for_modules(modules)
        self._check(schema, where, field)
        return self._convert(schema, where)

    def plugin_filters(self, modules: frozenset[str]) -> list:
        """The enabled modules' customer filters, to pass with a parsed ``where``."""
        return contributions(self.plugins, modules)[1].customer_filters

    @staticmethod
    def _convert(schema, where: dict):
        coerced = coerce_input_value(where, schema._schema.get_type("CustomerWhere"))
        definition = schema.get_type_by_name("CustomerWhere")
        return convert_argument(coerced, definition.origin, schema.schema_converter.scalar_registry, schema.config)

    def _with_segment(self, schema, modules: frozenset[str], where: dict | None, segment: str) -> dict:
        if "rfm" not in modules:
            raise ValidationFailed([FieldError("segment", "segments come from RFM scores, and the rfm module is not "
                                                          "enabled for this tenant (guanxi module enable rfm)")])
        codes = list(schema._schema.get_type("RfmSegmentCode").values)
        code = segment.strip().upper()
        if code not in codes:
            raise ValidationFailed([FieldError("segment", f"{segment!r} is not an RFM segment code; "
                                                          f"one of: {', '.join(codes)}")])
        by_segment = {"rfm": {"segment": {"eq": code}}}
        return by_segment if where is None else {"AND": [where, by_segment]}
