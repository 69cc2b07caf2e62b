"""The real app on the test database, reached through httpx's ASGI transport
(fixtures ``app``, ``client``, ``api``, ``make_key`` from engine/testing.py)."""

from __future__ import annotations

from engine.testing import Api

__all__ = ["Api", "codes"]


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
