"""Text a request may carry: no lone surrogates anywhere (they are not
characters: UTF-8 cannot encode them, so the databases and the logs cannot
either), and no NUL in what a query reads with (PostgreSQL refuses NUL in a
parameter, SQLite would take it: refused here, both answer the same).

Mutations may carry a NUL: what they store is checked field by field
(engine/bounds.py), so the payload names the field, and a bulk names the item.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, StringValueNode, parse, visit
from graphql.language import Visitor

from engine.bounds import text_problem

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r"\\u|\x00")  # an escape in a GraphQL string literal, or a raw NUL


def bad_text_in_request(query: str, variables: dict | None, operation_name: str | None = None) -> str | None:
    """What is wrong with the request's text, naming where; None when it is clean."""
    if _LONE_SURROGATE.search(query):
        return "the query holds a lone surrogate (U+D800..U+DFFF), which is not text"
    surrogate, nul = _scan(variables, "variables")
    if surrogate:
        return f"{surrogate}: holds a lone surrogate (U+D800..U+DFFF), which is not text"
    literal = None
    if _ESCAPE.search(query):
        literal = _literal_problem(query)
        if literal and "surrogate" in literal[1]:
            return f"{literal[0]}: {literal[1]}"
    if (nul or literal) and not _is_mutation(query, operation_name):
        where, what = (nul, "holds a NUL character (U+0000)") if nul else literal
        return f"{where}: {what}, which a query cannot search for"
    return None


def _scan(value: Any, path: str) -> tuple[str | None, str | None]:
    """(path of the first lone surrogate, path of the first NUL) in a JSON value."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is None:
            return None, None
        return (path, None) if "surrogate" in problem else (None, path)
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    nul = None
    for key, item in items:
        if isinstance(key, str) and text_problem(key):
            inner = (f"{path} (a key)", None) if "surrogate" in text_problem(key) else (None, f"{path} (a key)")
        else:
            inner = _scan(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if inner[0]:
            return inner[0], None
        nul = nul or inner[1]
    return None, nul


def _literal_problem(query: str) -> tuple[str, str] | None:
    try:
        document = parse(query, max_tokens=5_000)
    except GraphQLError:
        return None  # reported as a syntax error by the endpoint
    found: list[tuple[str, str]] = []

    class Strings(Visitor):
        def enter_string_value(self, node: StringValueNode, *_):
            problem = text_problem(node.value)
            if problem and not found:
                line = node.loc.source.get_location(node.loc.start).line if node.loc else "?"
                found.append((f"a string on line {line} of the query", problem))

    visit(document, Strings())
    return found[0] if found else None


def _is_mutation(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query, max_tokens=5_000)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name and d.name.value == operation_name]
    return bool(operations) and operations[0].operation == OperationType.MUTATION
