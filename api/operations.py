"""Which operation of a document a request runs: graphql-core runs the first
of several operations when no ``operationName`` is given, where the spec says
the request is ambiguous."""

from __future__ import annotations

import re

from graphql import GraphQLError, OperationDefinitionNode, parse

# Two operation keywords followed by a name or a variable list: only then can a
# document hold several operations (two anonymous ones fail validation already).
_NAMED_OPERATION = re.compile(r"\b(?:query|mutation|subscription)\s*[A-Za-z_(]")


def ambiguous_operations(query: str) -> bool:
    """True when ``query`` defines more than one operation (parsed only when the text suggests it)."""
    if len(_NAMED_OPERATION.findall(query, 0, 100_000)) < 2:
        return False
    try:
        document = parse(query, max_tokens=5_000)
    except GraphQLError:
        return False  # the endpoint reports the syntax error as usual
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions) > 1
