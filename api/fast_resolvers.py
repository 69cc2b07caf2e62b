"""Direct calls for the simple computed fields of a schema.

strawberry sends every field that has a resolver through argument
conversion, an Info object and its extension chain: about 15 µs a field. A
page of 100 customers has thousands of fields whose resolver only formats
the row (global ids, money, enum values) or hands back what the page
already loaded (plugin Customer fields, api/prefetch.py). A resolver that is
synchronous, takes nothing but ``self`` and perhaps ``info``, and has no
field extensions (permissions are extensions) gets called directly by
graphql-core instead, with the same ``strawberry.Info`` strawberry would
build; what it returns and raises is unchanged.

A synchronous resolver with arguments (``Customer.complaints(first, after,
where, ...)``) is called directly when every argument the request gives is
null, as it is when none is written (strawberry declares them ``= null``):
converting five null arguments cost strawberry about 100 µs a customer,
a tenth of a page. Any non-null argument takes strawberry's own path.
"""

from __future__ import annotations

import strawberry
from graphql import GraphQLObjectType
from strawberry.schema.schema_converter import GraphQLCoreConverter


def _is_plain(field) -> bool:
    """A synchronous resolver without field extensions that takes no root or parent."""
    resolver = getattr(field, "base_resolver", None)
    return (
        resolver is not None
        and not field.extensions
        and not field.is_async
        and resolver.root_parameter is None
        and resolver.parent_parameter is None
    )


def _is_simple(field) -> bool:
    return _is_plain(field) and not field.arguments


def _direct(field, info_class):
    resolver = field.base_resolver
    func = resolver.wrapped_func
    if resolver.info_parameter is not None:
        name = resolver.info_parameter.name
        if resolver.self_parameter is not None:
            return lambda source, info: func(source, **{name: info_class(_raw_info=info, _field=field)})
        return lambda _source, info: func(**{name: info_class(_raw_info=info, _field=field)})
    if resolver.self_parameter is not None:
        return lambda source, _info: func(source)
    return lambda _source, _info: func()


def _direct_when_null(field, info_class, python_names: dict[str, str], strawberry_path):
    """Direct call when every argument given is null (passed on as None under its
    Python name, as strawberry would); strawberry's path otherwise."""
    resolver = field.base_resolver
    func = resolver.wrapped_func
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    takes_self = resolver.self_parameter is not None

    def resolve(source, info, **arguments):
        for value in arguments.values():
            if value is not None:
                return strawberry_path(source, info, **arguments)
        kwargs = {python_names[name]: None for name in arguments}
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return func(source, **kwargs) if takes_self else func(**kwargs)

    return resolve


def install_direct_resolvers(schema: strawberry.Schema) -> int:
    """Route the schema's simple resolvers straight to their functions; how many."""
    count = 0
    name_of = schema.config.name_converter
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for graphql_field in graphql_type.fields.values():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if _is_simple(field):
                graphql_field.resolve = _direct(field, schema.config.info_class)
                count += 1
            elif _is_plain(field):
                python_names = {name_of.from_argument(a): a.python_name for a in field.arguments}
                graphql_field.resolve = _direct_when_null(field, schema.config.info_class, python_names,
                                                          graphql_field.resolve)
                count += 1
    return count
