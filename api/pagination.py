"""Keyset pagination: signed opaque cursors and page-size rules.

A cursor holds the sort key and id of the last row seen, plus the ordering
it was made for, signed with HMAC so a client cannot forge positions; any
change gives BAD_CURSOR rather than a confusing page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.errors import BAD_CURSOR, BAD_PAGE_SIZE, api_error
from engine.config import Settings

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def cursor_secret(settings: Settings) -> bytes:
    """The HMAC key of cursors, from GUANXI_SECRET_KEY (Settings.cursor_key:
    refused on PostgreSQL without one)."""
    return hashlib.sha256(("guanxi-cursor:" + settings.cursor_key()).encode()).digest()


@dataclass(frozen=True)
class Cursors:
    secret: bytes

    def encode(self, order: str, value: Any, pk: int) -> str:
        body = base64.urlsafe_b64encode(json.dumps([order, value, pk], separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def decode(self, cursor: str, order: str) -> tuple[Any, int]:
        body, _, signature = (cursor or "").partition(".")
        # bytes: compare_digest refuses str with non-ASCII characters (a TypeError, found by bench/fuzz.py)
        if not body or not hmac.compare_digest(signature.encode("utf-8", "surrogatepass"), self._sign(body).encode()):
            raise api_error("the cursor is not one this API issued (changed or truncated)", BAD_CURSOR)
        made_for, value, pk = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if made_for != order:
            raise api_error(f"the cursor was made for ordering {made_for}, not {order}", BAD_CURSOR)
        return value, pk

    def _sign(self, body: str) -> str:
        return hmac.new(self.secret, body.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:22]


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0 or size > MAX_PAGE_SIZE:
        raise api_error(f"first must be between 0 and {MAX_PAGE_SIZE}, got {size}", BAD_PAGE_SIZE)
    return size


def after_clause(key: sa.ColumnElement, pk: sa.ColumnElement, value: Any, last_pk: int, descending: bool) -> sa.ColumnElement:
    """Rows strictly after (value, last_pk) in (key, pk) order."""
    if descending:
        return sa.or_(key < value, sa.and_(key == value, pk < last_pk))
    return sa.or_(key > value, sa.and_(key == value, pk > last_pk))


@dataclass
class Edge:
    cursor: str
    node: Any


@dataclass
class PageInfoData:
    has_next_page: bool
    end_cursor: str | None


@dataclass
class Page:
    """What a connection field returns; the GraphQL connection types read its attributes."""

    edges: list[Edge]
    page_info: PageInfoData
    total_count: int


def make_page(rows: list, size: int, total: int, cursor_of) -> Page:
    has_next = len(rows) > size
    edges = [Edge(cursor_of(row), row) for row in rows[:size]]
    return Page(edges, PageInfoData(has_next, edges[-1].cursor if edges else None), total)
