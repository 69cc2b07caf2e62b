"""Hypothesis strategies for requests generated from the schema, with hostile
argument values; shared by test_security_fuzz.py (bounded, in CI) and
bench/fuzz.py (long runs)."""

from __future__ import annotations

import json
import math

from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from graphql.pyutils import Undefined
from hypothesis import strategies as st

from tests.security import gqlgen

HOSTILE = [
    "' OR 1=1 --", "\" OR \"\"=\"", "'; DROP TABLE customers; --", "%", "_", "\\", "%_\\", "\\%", "%%%%", "*",
    "NaN", "Infinity", "-Infinity", "nan", "1e309", "-0", "0x1F", "null", "undefined", "true", "[]", "{}",
    "\u0000", "a\u0000b", "\u202e\u202d", "😀👍🏽", "王小明", "ｆｕｌｌｗｉｄｔｈ", "\ufeff", "\r\n", "\t",
    "<script>alert(1)</script>", "../../etc/passwd", "${7*7}", "{{7*7}}", "$where", "SELECT 1", "--",
    "9" * 400, "a" * 10_000, "%" * 5_000, " ", "",
    # issue #20: lone surrogates, one character past common column lengths, in CJK too
    "\ud800", "a\udfffb", "\udbff\udc00\ud800", "x" * 65, "长" * 201, "y" * 2001, "z" * 129,
]
BIG_INTS = [0, -1, 1, 2**31 - 1, -(2**31), 2**31, 2**53, 2**63, -(2**63) - 1, 10**30]


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.text(alphabet="%_\\'\"", max_size=12))


def scalar_strategy(name: str, values: gqlgen.Values) -> st.SearchStrategy:
    real_ids = [i for pool in values.ids.values() for i in pool]
    hostile = hostile_text()
    if name == "Int":
        return st.one_of(st.sampled_from(BIG_INTS), st.integers(-(2**31), 2**31 - 1), st.integers(0, 120), hostile)
    if name == "Float":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["NaN", "Infinity", 1e308]), hostile)
    if name == "Boolean":
        return st.one_of(st.booleans(), st.sampled_from(["true", 0, None]))
    if name == "ID":
        forged = [gqlgen_id(t, p) for t in ("Customer", "Interaction", "ApiKey", "AuditEvent")
                  for p in ("' OR 1=1 --", "-1", "0", "99999999999999999999", "1.5", "%")]
        return st.one_of(st.sampled_from(real_ids or ["eA"]), st.sampled_from(forged), hostile)
    if name == "Decimal":
        return st.one_of(st.sampled_from(["12.50", "0", "-0", "1e309", "NaN", "sNaN", "Infinity", "-1", "1" * 60, "0.001", "1e-400",
                                          "999999999999.99", "999999999.99", "1000000000", "99999999999999.99"]),
                         st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str), hostile)
    if name in ("DateTime", "Date"):
        return st.one_of(st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(lambda d: d.isoformat()),
                         st.sampled_from(["2025-01-01T00:00:00", "9999-12-31T23:59:59Z", "0001-01-01", "2025-02-30", "1990-05-17",
                                          "0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                          "9999-12-31T23:59:59", "1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z"]), hostile)
    if name == "JSON":
        leaf = st.one_of(st.none(), st.booleans(), st.integers(), hostile)
        return st.recursive(leaf, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(hostile, c, max_size=3)), max_leaves=8)
    return st.one_of(st.sampled_from([s for pool in values.strings.values() for s in pool] or ["x"]), hostile)


def gqlgen_id(type_name: str, pk: str) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def _args(data, f, values: gqlgen.Values) -> dict:
    filler = gqlgen.Filler(values, scalar=lambda name, path: data.draw(scalar_strategy(name, values)))
    out = {}
    for n, a in f.args.items():
        required = isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
        if required or data.draw(st.booleans()):
            out[n] = (a.type, filler.value(a.type, (n,), everything=data.draw(st.booleans())))
    return out


@st.composite
def requests(draw, schema: GraphQLSchema, values: gqlgen.Values) -> gqlgen.Op:
    """One generated query or mutation with fuzzed arguments (a Customer field, a Query or a Mutation field)."""

    class Data:
        def draw(self, strategy):
            return draw(strategy)

    data = Data()
    kinds = ["query", "customer-field"] + (["mutation"] if schema.mutation_type else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "customer-field":
        customer = schema.get_type("Customer")
        assert isinstance(customer, GraphQLObjectType)
        fname = draw(st.sampled_from(sorted(customer.fields)))
        f = customer.fields[fname]
        args = _args(data, f, values)
        sel = gqlgen.selection(schema, f.type, ("Customer",), max_depth=2)
        call, defs = gqlgen._call("", fname, args, sel, var_prefix="f_")
        page = _args(data, schema.query_type.fields["customers"], values) if "customers" in schema.query_type.fields else {}
        pcall, pdefs = gqlgen._call("", "customers", page, f"{{ edges {{ node {{ id {call} }} }} }}")
        all_defs = ", ".join(d for d in (defs, pdefs) if d)
        variables = {**{f"f_{a}": v for a, (_, v) in args.items()}, **{a: v for a, (_, v) in page.items()}}
        return gqlgen.Op(kind, fname, f"query{'(' + all_defs + ')' if all_defs else ''} {{ {pcall} }}", variables)
    root_type = schema.query_type if kind == "query" else schema.mutation_type
    fname = draw(st.sampled_from(sorted(root_type.fields)))
    f = root_type.fields[fname]
    args = _args(data, f, values)
    sel = gqlgen.selection(schema, f.type, max_depth=3)
    return gqlgen._op(kind, kind, fname, args, sel, "fuzz")


def problems(status: int, text: str, new_error_logs: list[str]) -> list[str]:
    """What is wrong with one fuzzed exchange (empty when all is well)."""
    out = []
    if status >= 500:
        out.append(f"status {status}")
    try:
        body = json.loads(text)
    except ValueError:
        return out + ["response is not JSON"]
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    if "INTERNAL_SERVER_ERROR" in codes:
        out.append("INTERNAL_SERVER_ERROR")
    if any(c is None for c in codes):
        out.append("an error without extensions.code")
    if status == 400 and not codes:
        out.append("a 400 without a GraphQL error")
    out += [f"error log: {line[:500]}" for line in new_error_logs]
    return out


def safe_json(variables: dict) -> dict:
    """Variables as JSON can carry them (no NaN/inf floats)."""

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return clean(variables)
