"""Requests generated from a tenant's GraphQL introspection, for the
isolation, role and fuzz suites (and bench/fuzz.py).

Nothing here names a field: the generator walks the schema a tenant sees
(core plus every enabled plugin), so a field a plugin adds tomorrow is
requested by the same code. Argument values come from a ``Values`` provider:
for the isolation suite, another tenant's real ids, cursors, codes, emails
and phones; for the fuzz suite, hypothesis-drawn hostile strings.

Helper module (not a test file); shared via ``tests.security.gqlgen``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType,
    GraphQLScalarType, GraphQLSchema, GraphQLUnionType, build_client_schema, get_introspection_query, get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined

INTROSPECTION_QUERY = get_introspection_query(descriptions=False)
MAX_OBJECT_DEPTH = 5  # nested object levels below a root field (the API allows depth 10)
LIGHT_DEPTH = 2  # for the many filter variants: connection -> edges -> node and its own fields


def client_schema(introspection: dict) -> GraphQLSchema:
    """The schema as the tenant sees it, rebuilt from an introspection response body."""
    return build_client_schema(introspection["data"])


# -- operations ------------------------------------------------------------------------------


@dataclass
class Op:
    """One generated request."""

    kind: str  # "query", "customer-field" or "mutation"
    field: str  # the root field (or Customer field) it exercises
    query: str
    variables: dict = field(default_factory=dict)
    label: str = ""  # what varies between the requests for one field

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.field}{'[' + self.label + ']' if self.label else ''}"

    def request_text(self) -> str:
        return json.dumps({"query": self.query, "variables": self.variables}, ensure_ascii=False)


# -- values ----------------------------------------------------------------------------------


def id_type(value: str) -> str | None:
    """The type part of a Relay global id (None when the string is not one)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{4,}", value):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    return type_name if sep and pk and re.fullmatch(r"[A-Z][A-Za-z0-9]*", type_name) else None


@dataclass
class Values:
    """Where argument values come from: pools of ids, cursors and strings.

    ``ids`` maps a type name to global ids of that type; ``strings`` maps a
    hint ("phone", "email", "code", "name", ...) to strings; ``module_names``
    are installed modules. The generator picks by the argument's GraphQL type
    and name, rotating through the pools so every value gets used.
    """

    ids: dict[str, list[str]] = field(default_factory=dict)
    cursors: list[str] = field(default_factory=list)
    strings: dict[str, list[str]] = field(default_factory=dict)
    module_names: list[str] = field(default_factory=list)
    _turn: Iterator[int] = field(default_factory=itertools.count)

    def pick(self, pool: list, fallback: Any) -> Any:
        return pool[next(self._turn) % len(pool)] if pool else fallback

    def id_for(self, name: str, forced_type: str | None) -> str:
        if forced_type and self.ids.get(forced_type):
            return self.pick(self.ids[forced_type], "eA")
        lowered = name.lower()
        for type_name, pool in self.ids.items():
            if type_name.lower() in lowered and pool:
                return self.pick(pool, "eA")
        if "reverses" in lowered and self.ids.get("Interaction"):
            return self.pick(self.ids["Interaction"], "eA")
        return self.pick(self.ids.get("Customer", []), "eA")

    def string_for(self, path: tuple[str, ...]) -> str:
        name = path[-1].lower() if path else ""
        joined = ".".join(path).lower()
        if name in ("after", "before", "cursor"):
            return self.pick(self.cursors, "")
        if name == "kind":
            return "VISIT"  # needs no amount
        if name == "role":
            return "VIEWER"
        if name == "externalid":
            return f"gen-{uuid.uuid4().hex[:12]}"
        if name == "name" and "module" in joined and self.module_names:
            return self.pick(self.module_names, "")
        for hint in ("phone", "email", "wechat", "code", "store", "name", "search"):
            if hint in joined and self.strings.get(hint):
                return self.pick(self.strings[hint], "x")
        every = [s for pool in self.strings.values() for s in pool]
        return self.pick(every, "x")


def _default_scalar(scalar: str, path: tuple[str, ...], values: Values, forced_id_type: str | None) -> Any:
    name = path[-1].lower() if path else ""
    if scalar == "ID":
        return values.id_for(name, forced_id_type)
    if scalar == "String" and path and path[-1].endswith("At"):  # a time taken as text, checked per item (bulk occurredAt)
        return "2025-01-01T10:00:00+00:00"
    if scalar == "String":
        return values.string_for(path)
    if scalar == "Int":
        return 100 if name in ("first", "last", "limit") else 1
    if scalar == "Float":
        return 1.5
    if scalar == "Boolean":
        return True
    if scalar == "Decimal":
        return "12.50"
    if scalar == "DateTime":
        return "2025-01-01T10:00:00+00:00"
    if scalar == "Date":
        return "1990-05-17"
    if scalar == "JSON":
        return {}
    return values.string_for(path)


ScalarFn = Callable[[str, tuple[str, ...]], Any]
ENUM_PREFERENCES = {"kind": "VISIT", "role": "VIEWER"}


class Filler:
    """Values for arguments and input objects, from their GraphQL types."""

    def __init__(self, values: Values, forced_id_type: str | None = None, scalar: ScalarFn | None = None):
        self.values, self.forced_id_type = values, forced_id_type
        self.scalar = scalar or (lambda name, path: _default_scalar(name, path, values, forced_id_type))

    ids_too = False  # fill optional ID fields of input objects as well (the "ids" variant)

    def value(self, gtype, path: tuple[str, ...], everything: bool, depth: int = 0) -> Any:
        if isinstance(gtype, GraphQLNonNull):
            return self.value(gtype.of_type, path, everything, depth)
        if isinstance(gtype, GraphQLList):
            return [self.value(gtype.of_type, path, everything, depth)]
        if isinstance(gtype, GraphQLEnumType):
            # The codes the string filler would pick (a visit needs no amount), when the enum has them.
            preferred = ENUM_PREFERENCES.get(path[-1].lower() if path else "")
            return preferred if preferred in gtype.values else next(iter(gtype.values))
        if isinstance(gtype, GraphQLScalarType):
            return self.scalar(gtype.name, path)
        if isinstance(gtype, GraphQLInputObjectType):
            out = {}
            for fname, f in gtype.fields.items():
                required = isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
                recursive = get_named_type(f.type) is gtype
                is_id = get_named_type(f.type).name == "ID" or (
                    _is_list(f.type) and isinstance(get_named_type(f.type), GraphQLInputObjectType) and self.ids_too)
                is_id = is_id and "reverses" not in fname.lower()  # a visit reverses nothing
                if required or (everything and not recursive and depth < 2) or (self.ids_too and is_id):
                    out[fname] = self.value(f.type, path + ("@" + gtype.name, fname), everything, depth + 1)
            return out
        raise TypeError(f"cannot fill {gtype}")

    def leaf_paths(self, gtype, path: tuple[str, ...] = (), depth: int = 0) -> Iterator[tuple[tuple[str, ...], Any]]:
        """Every optional leaf of an input object (one level of self-nesting), with its type."""
        named = get_named_type(gtype)
        if not isinstance(named, GraphQLInputObjectType):
            yield path, gtype
            return
        for fname, f in named.fields.items():
            if get_named_type(f.type) is named:
                if depth == 0:
                    # AND / OR: one nested condition is enough to reach the same code
                    for sub, t in self.leaf_paths(named, path + (fname,), depth + 1):
                        yield sub, t
                continue
            yield from self.leaf_paths(f.type, path + (fname,), depth)

    def single(self, gtype, leaf_path: tuple[str, ...], leaf_type) -> Any:
        """An input object with only ``leaf_path`` set (plus required fields on the way)."""
        named = get_named_type(gtype)
        wrap_list = _is_list(gtype)
        base = self.value(named, leaf_path[:1], everything=False) if isinstance(named, GraphQLInputObjectType) else {}
        if not leaf_path:
            return self.value(gtype, (), everything=False)
        head, rest = leaf_path[0], leaf_path[1:]
        sub_type = named.fields[head].type
        base[head] = self.single(sub_type, rest, leaf_type) if rest else self.value(leaf_type, leaf_path, everything=False)
        return [base] if wrap_list else base


def _is_list(gtype) -> bool:
    if isinstance(gtype, GraphQLNonNull):
        gtype = gtype.of_type
    return isinstance(gtype, GraphQLList)


# -- selections ------------------------------------------------------------------------------


def type_ref(gtype) -> str:
    return str(gtype)  # graphql-core prints [Foo!]! the SDL way


def selection(schema: GraphQLSchema, gtype, seen: tuple[str, ...] = (), depth: int = 0, max_depth: int = MAX_OBJECT_DEPTH) -> str:
    """Every field of an output type, nested; a type already on the path is not re-entered."""
    named = get_named_type(gtype)
    if is_leaf_type(named):
        return ""
    if isinstance(named, (GraphQLInterfaceType, GraphQLUnionType)):
        parts = ["__typename"]
        if isinstance(named, GraphQLInterfaceType):
            parts += [n for n, f in named.fields.items() if is_leaf_type(get_named_type(f.type)) and not _required_args(f)]
        for possible in schema.get_possible_types(named):
            if possible.name not in seen:
                inner = selection(schema, possible, seen, depth, max_depth)
                if inner:
                    parts.append(f"... on {possible.name} {inner}")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType)
    parts = []
    for fname, f in named.fields.items():
        if _required_args(f):
            continue  # nested fields with required arguments are exercised as their own ops
        sub = get_named_type(f.type)
        if is_leaf_type(sub):
            parts.append(fname)
        elif depth < max_depth and sub.name not in seen:
            inner = selection(schema, f.type, seen + (named.name,), depth + 1, max_depth)
            if inner:
                parts.append(f"{fname} {inner}")
    return "{ " + " ".join(parts or ["__typename"]) + " }"


def _required_args(f) -> bool:
    return any(isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined for a in f.args.values())


# -- generation ------------------------------------------------------------------------------


def _call(root: str, fname: str, args: dict, sel: str, var_prefix: str = "") -> tuple[str, str]:
    """``fname(a: $a ...) sel`` and the variable definitions it needs."""
    defs = ", ".join(f"${var_prefix}{a}: {type_ref(t)}" for a, (t, _) in args.items())
    call = f"({', '.join(f'{a}: ${var_prefix}{a}' for a in args)})" if args else ""
    return f"{fname}{call} {sel}".strip(), defs


def _op(kind: str, root: str, fname: str, args: dict, sel: str, label: str, field_name: str | None = None) -> Op:
    body, defs = _call(root, fname, args, sel)
    text = f"{root}{'(' + defs + ')' if defs else ''} {{ {body} }}"
    return Op(kind, field_name or fname, text, {a: v for a, (_, v) in args.items()}, label)


def argument_variants(args: dict, values: Values, id_types: list[str]) -> Iterator[tuple[str, dict]]:
    """Argument sets for one field: required only; then each optional argument and
    each leaf of an input-object argument on its own; then everything (per id type)."""
    filler = Filler(values)
    required = {n: a for n, a in args.items() if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined}
    optional = {n: a for n, a in args.items() if n not in required}

    def req(filler: Filler) -> dict:
        return {n: (a.type, filler.value(a.type, (n,), everything=False)) for n, a in required.items()}

    yield "required", req(filler)
    with_ids = Filler(values)
    with_ids.ids_too = True
    yield "ids", {n: (a.type, with_ids.value(a.type, (n,), everything=False)) for n, a in required.items()}
    for n, a in optional.items():
        named = get_named_type(a.type)
        if isinstance(named, GraphQLInputObjectType):
            # One request per filter (all its operators set at once: eq, contains, startsWith
            # and in all hold for the same value); nested AND/OR once each.
            groups: dict[tuple, list] = {}
            for path, leaf_type in filler.leaf_paths(a.type):
                groups.setdefault(path[:-1], []).append((path, leaf_type))
            nested_seen: set = set()
            for parent, leaves in groups.items():
                if len(parent) > 1:
                    if parent[0] in nested_seen:
                        continue
                    nested_seen.add(parent[0])
                value: Any = None
                for path, leaf_type in leaves:
                    value = _merge(value, filler.single(a.type, path, leaf_type))
                yield f"{n}.{'.'.join(parent) or leaves[0][0][-1]}", {**req(filler), n: (a.type, value)}
        else:
            yield n, {**req(filler), n: (a.type, filler.value(a.type, (n,), everything=False))}
    has_id = any("ID" in type_ref(_flatten(a.type)) for a in args.values())
    for id_type_name in (id_types if has_id else [None]):
        typed = Filler(values, forced_id_type=id_type_name)
        everything = {n: (a.type, typed.value(a.type, (n,), everything=True)) for n, a in args.items()}
        yield f"all{':' + id_type_name if id_type_name else ''}", everything


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: _merge(a.get(k), v) for k, v in b.items()}}
    if isinstance(a, list) and isinstance(b, list) and a and b:
        return [_merge(a[0], b[0])]
    return b


def _flatten(gtype) -> str:
    """A readable signature of every scalar reachable from an input type (to spot IDs)."""
    named = get_named_type(gtype)
    if isinstance(named, GraphQLInputObjectType):
        return " ".join(_flatten(f.type) for f in named.fields.values() if get_named_type(f.type) is not named)
    return named.name


def generate(schema: GraphQLSchema, values: Values, own_customer_ids: list[str] = ()) -> list[Op]:
    """Every Query field, every Customer field (through customers, customer and node)
    and every Mutation, with arguments from ``values``."""
    ops: list[Op] = []
    id_types = sorted(t for t, pool in values.ids.items() if pool)
    query_type = schema.query_type
    for fname, f in query_type.fields.items():
        full = selection(schema, f.type)
        light = selection(schema, f.type, max_depth=LIGHT_DEPTH)  # the objects' own fields: enough to see a leak
        for label, args in argument_variants(f.args, values, id_types):
            sel = full if label == "required" or label.startswith("all") else light
            ops.append(_op("query", "query", fname, args, sel, label))
    customer = schema.get_type("Customer")
    if isinstance(customer, GraphQLObjectType):
        ops += customer_field_ops(schema, customer, values, list(own_customer_ids), id_types)
    if schema.mutation_type is not None:
        for fname, f in schema.mutation_type.fields.items():
            sel = selection(schema, f.type)
            for label, args in argument_variants(f.args, values, id_types):
                if label not in ("required", "ids") and not label.startswith("all"):
                    continue  # mutations: required-only, required plus ids, everything-filled
                ops.append(_op("mutation", "mutation", fname, args, sel, label))
    return ops


def customer_field_ops(schema, customer: GraphQLObjectType, values: Values, own_ids: list[str], id_types) -> list[Op]:
    """One request per Customer field (and argument variant), reaching it through every
    root at once: customers (a page of the caller's own), customer(id) and node(id) with
    one of the caller's ids and one of the other tenant's."""
    fields = schema.query_type.fields
    own, other = (own_ids[:1] or [None])[0], (values.ids.get("Customer") or [None])[0]
    ops = []
    for fname, f in customer.fields.items():
        inner_sel = selection(schema, f.type, ("Customer",))
        for label, args in argument_variants(f.args, values, id_types) if f.args else [("", {})]:
            call, defs = _call("", fname, args, inner_sel, var_prefix="f_")
            variables = {f"f_{a}": v for a, (_, v) in args.items()}
            fsel = f"{{ id {call} }}"
            parts, var_defs, roots = [], [d for d in [defs] if d], []
            if "customers" in fields:
                parts.append(f"list: customers(first: 100) {{ edges {{ cursor node {fsel} }} }}")
                roots.append("customers")
            for tag, target in (("own", own), ("other", other)):
                if target is None:
                    continue
                var_defs.append(f"${tag}: ID!")
                variables[tag] = target
                if "customer" in fields:
                    parts.append(f"{tag}Customer: customer(id: ${tag}) {fsel}")
                    roots.append("customer")
                if "node" in fields:
                    parts.append(f"{tag}Node: node(id: ${tag}) {{ __typename ... on Customer {fsel} }}")
                    roots.append("node")
            text = f"query{'(' + ', '.join(var_defs) + ')' if var_defs else ''} {{ {' '.join(parts)} }}"
            ops.append(Op("customer-field", fname, text, variables, ",".join(sorted(set(roots))) + (f":{label}" if label else "")))
    return ops


# -- harvesting and checking -------------------------------------------------------------------


def harvest(body: Any, ids: dict[str, set], cursors: set, strings: set | None = None) -> None:
    """Collect global ids, cursors (and optionally every string) from a response body."""
    if isinstance(body, dict):
        for k, v in body.items():
            if k in ("cursor", "endCursor", "startCursor") and isinstance(v, str):
                cursors.add(v)
            harvest(v, ids, cursors, strings)
    elif isinstance(body, list):
        for v in body:
            harvest(v, ids, cursors, strings)
    elif isinstance(body, str):
        t = id_type(body)
        if t is not None:
            ids.setdefault(t, set()).add(body)
        if strings is not None:
            strings.add(body)


def leaked(response_text: str, request_text: str, markers: list[str], quoted: list[str] = ()) -> list[str]:
    """The other tenant's markers present in a response but not sent in its request.

    ``markers`` match as substrings; ``quoted`` (global ids, cursors) only as
    whole JSON strings, so "Customer:12" is not found inside "Customer:123".
    """
    found = [m for m in markers if m in response_text and m not in request_text]
    found += [q for q in quoted if f'"{q}"' in response_text and f'"{q}"' not in request_text]
    return found


def forbidden_refusals(body: dict) -> list[dict]:
    return [e for e in body.get("errors") or [] if (e.get("extensions") or {}).get("code") == "FORBIDDEN"]


def value_at(data: Any, path: list) -> Any:
    for part in path or []:
        if data is None:
            return None
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
