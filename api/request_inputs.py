"""Text a request may carry: no lone surrogates anywhere (they are not
characters: UTF-8 cannot encode them, so the databases and the logs cannot
either), and no NUL in what a query reads with (PostgreSQL refuses NUL in a
parameter, SQLite would take it: refused here, both answer the same). A
query's lists (``in`` filters) hold at most ``MAX_IN_LIST`` values: 70,000
values made one statement past PostgreSQL's 65,535 parameters.

Mutations may carry a NUL: what they store is checked field by field
(engine/input_bounds.py), so the payload names the field, and a bulk names the item.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, StringValueNode, parse, visit
from graphql.language import Visitor

from engine.input_bounds import MAX_IN_LIST, text_problem

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r"\\u|\x00")  # an escape in a GraphQL string literal, or a raw NUL


def request_input_problem(query: str, variables: dict | None, operation_name: str | None = None) -> str | None:
    """What is wrong with the request's text, naming where; None when it is clean."""
    if _LONE_SURROGATE.search(query):
        return "the query holds a lone surrogate (U+D800..U+DFFF), which is not text"
    surrogate, nul, long_list = _scan(variables, "variables")
    if surrogate:
        return f"{surrogate}: holds a lone surrogate (U+D800..U+DFFF), which is not text"
    literal = None
    if _ESCAPE.search(query):
        literal = _literal_problem(query)
        if literal and "surrogate" in literal[1]:
            return f"{literal[0]}: {literal[1]}"
    if (nul or literal or long_list) and not _is_mutation(query, operation_name):
        if long_list:
            return f"{long_list[0]}: {long_list[1]:,} values; a filter's list holds at most {MAX_IN_LIST:,}"
        where, what = (nul, "holds a NUL character (U+0000)") if nul else literal
        return f"{where}: {what}, which a query cannot search for"
    return None


def _scan(value: Any, path: str) -> tuple[str | None, str | None, tuple[str, int] | None]:
    """(path of the first lone surrogate, path of the first NUL, (path, length) of the first list
    longer than MAX_IN_LIST) in a JSON value."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is None:
            return None, None, None
        return (path, None, None) if "surrogate" in problem else (None, path, None)
    if not isinstance(value, (dict, list)):
        return None, None, None
    nul, long_list = None, None
    if isinstance(value, list) and len(value) > MAX_IN_LIST:
        long_list = (path, len(value))
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        if isinstance(key, str) and text_problem(key):
            inner = (f"{path} (a key)", None, None) if "surrogate" in text_problem(key) else (None, f"{path} (a key)", None)
        else:
            inner = _scan(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if inner[0]:
            return inner[0], None, None
        nul, long_list = nul or inner[1], long_list or inner[2]
    return None, nul, long_list


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
