"""Relay global ids: an opaque "Type:pk" so one `node(id:)` can fetch anything."""

from __future__ import annotations

import base64
import binascii


def to_global_id(type_name: str, pk: int | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def parse_global_id(value: str) -> tuple[str, str] | None:
    """(type name, pk) for a well-formed id, else None."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    return (type_name, pk) if sep and type_name and pk else None


MAX_PK = 2**63 - 1  # a BIGINT: larger numbers would make PostgreSQL fail the whole statement


def parse_pk(text: str) -> int | None:
    """An ASCII decimal primary key within BIGINT range, else None ("²" is a digit to str.isdigit)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    pk = int(text)
    return pk if pk <= MAX_PK else None


def decode_id(value: str, expected: str) -> int | None:
    """The integer pk of a global id of type ``expected``, or None if it is not one."""
    parsed = parse_global_id(value or "")
    if parsed is None or parsed[0] != expected:
        return None
    return parse_pk(parsed[1])
