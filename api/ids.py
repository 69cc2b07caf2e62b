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


def decode_id(value: str, expected: str) -> int | None:
    """The integer pk of a global id of type ``expected``, or None if it is not one."""
    parsed = parse_global_id(value or "")
    if parsed is None or parsed[0] != expected or not parsed[1].isdigit():
        return None
    return int(parsed[1])
