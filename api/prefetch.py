"""Plugin Customer fields loaded together with a page of customers.

Resolved through a DataLoader, a plugin's Customer field costs about 50 µs
of asyncio machinery per customer (a future, a shield, a task and
graphql-core's gather for each), more than the field itself: four plugin
fields on a page of 100 took longer than the rest of the page. A plugin that
declares a field in ``GraphQLContribution.customer_batches`` has its values
read in the page's own transaction; its resolver then returns them at once
through ``ctx.customer_value``. The same field reached any other way
(``customer(id)``, ``node(id)``, a referrer, or selected with arguments)
goes through the DataLoader as before, so a resolver never has to know.

A batch spec is ``spec(ctx) -> (loader key, batch(session, ids) -> {id: value})``,
the pair a resolver would give ``ctx.loader``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

BatchSpec = Callable[[Any], tuple[Any, Callable]]


def _fields(selections) -> list[SelectedField]:
    """The fields of a selection set, fragments flattened."""
    out = []
    for item in selections:
        if isinstance(item, (FragmentSpread, InlineFragment)):
            out += _fields(item.selections)
        else:
            out.append(item)
    return out


def selected_batches(info, batches: dict[str, BatchSpec]) -> list[BatchSpec]:
    """Specs of the batched Customer fields selected on ``edges { node }`` without arguments."""
    if not batches:
        return []
    wanted = []
    for connection in info.selected_fields:
        for edges in _fields(connection.selections):
            if edges.name != "edges":
                continue
            for node in _fields(edges.selections):
                if node.name != "node":
                    continue
                for f in _fields(node.selections):
                    spec = batches.get(f.name)
                    if spec is not None and not f.arguments and spec not in wanted:
                        wanted.append(spec)
    return wanted


def load_batches(session, pairs: list[tuple[Any, Callable]], ids: list[int]) -> dict[Any, dict]:
    """``{loader key: {id: value or None}}`` for every id (runs in the page's read)."""
    out = {}
    for key, batch in pairs:
        found = batch(session, ids) if ids else {}
        out[key] = {i: found.get(i) for i in ids}
    return out
