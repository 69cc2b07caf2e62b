"""Scalars past what GraphQL's own can hold.

GraphQL's ``Int`` is 32-bit: a sum of points over a whole programme passes
2,147,483,647 in a large tenant, and the non-null ``Int`` then nulled the
object holding it for every reader. ``BigInt`` carries such sums as JSON
numbers (exact in JavaScript up to 2^53).
"""

from __future__ import annotations

import warnings
from typing import NewType

import strawberry

MAX_SAFE = 2**53 - 1


def _parse(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("BigInt takes a whole number")
    number = int(value)
    if abs(number) > MAX_SAFE:
        raise ValueError(f"BigInt takes at most {MAX_SAFE:,} in absolute value")
    return number


# The class form works on every schema without a scalar_map in each one's config
# (core, platform, per-tenant); strawberry merely prefers the other form.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    BigInt = strawberry.scalar(
        NewType("BigInt", int),
        serialize=int,
        parse_value=_parse,
        description="A whole number past 32 bits (up to 2^53 - 1, exact in JavaScript), sent as a JSON number.",
    )
