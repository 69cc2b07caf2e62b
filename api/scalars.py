"""Scalars past what GraphQL's own can hold.

GraphQL's ``Int`` is 32-bit: a sum of points over a whole programme passes
2,147,483,647 in a large tenant, and the non-null ``Int`` then nulled the
object holding it for every reader. ``BigInt`` carries such sums as JSON
numbers (exact in JavaScript up to 2^53).
"""

from __future__ import annotations

import dataclasses
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


def _bounded_isoparse(text: str):
    """ISO 8601 as strawberry reads it, within the documented range (engine/input_bounds.py):
    a year-1 or year-9999 time overflowed converting to UTC in any query
    (complaintStats(from: "0001-01-01T00:00:00+14:00") answered INTERNAL_SERVER_ERROR)."""
    import dateutil.parser

    from engine.input_bounds import EARLIEST, LATEST, time_problem

    value = dateutil.parser.isoparse(text)
    if value.tzinfo is None:
        # the tenant's zone is applied later; a day either side keeps every zone's conversion in range
        if not EARLIEST.replace(tzinfo=None) <= value < LATEST.replace(tzinfo=None):
            raise ValueError(f"outside {EARLIEST.date().isoformat()} to {LATEST.date().isoformat()} (exclusive)")
        return value
    problem = time_problem(value)
    if problem:
        raise ValueError(problem.replace(f"{value.isoformat()} is ", ""))
    return value


def bounded_datetime():
    """The DateTime scalar, bounded: for ``scalar_overrides={datetime: bounded_datetime()}``."""
    from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser

    return dataclasses.replace(DateTimeDefinition, parse_value=wrap_parser(_bounded_isoparse, "DateTime"),
                               description="Date with time (ISO 8601), from 1900-01-01 up to 3000-01-01.")
