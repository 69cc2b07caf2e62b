"""Relay cursor connections over keyset pagination: signed opaque cursors,
the page arguments (``first/after`` forwards, ``last/before`` backwards) and
one way to cut a page out of an ordered query.

A cursor holds the sort key and id of a row, plus the ordering it was made
for, signed with HMAC so a client cannot forge positions; any change gives
BAD_CURSOR rather than a confusing page. Paging backwards reverses the
ordering, fetches ``last + 1`` rows and reverses them back, so both
directions cost one indexed range scan. ``totalCount`` is counted only when
the client selects it (``wants_total``): a COUNT over a large tenant costs
more than the page itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from strawberry.types.nodes import FragmentSpread, InlineFragment

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


def page_size(first: int | None, name: str = "first") -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0 or size > MAX_PAGE_SIZE:
        raise api_error(f"{name} must be between 0 and {MAX_PAGE_SIZE}, got {size}", BAD_PAGE_SIZE)
    return size


@dataclass(frozen=True)
class Slice:
    """The validated page arguments of one connection field."""

    size: int
    after: str | None = None
    before: str | None = None
    backwards: bool = False  # `last` was given: the page ends at `before` (or the end of the list)

    @property
    def key(self) -> tuple:
        """What identifies the page for a DataLoader key."""
        return (self.size, self.after, self.before, self.backwards)


def page_slice(first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None) -> Slice:
    """``first`` (default 20) or ``last``, each 0..100; ``after`` and ``before`` may both narrow the range."""
    if first is not None and last is not None:
        raise api_error("give first or last, not both", BAD_PAGE_SIZE)
    if last is not None:
        return Slice(page_size(last, "last"), after or None, before or None, backwards=True)
    return Slice(page_size(first), after or None, before or None)


FORWARD = Slice(DEFAULT_PAGE_SIZE)


def _fields(selections) -> list:
    """The fields of a selection set, fragments flattened."""
    out = []
    for item in selections:
        if isinstance(item, (FragmentSpread, InlineFragment)):
            out += _fields(item.selections)
        else:
            out.append(item)
    return out


def wants_total(info) -> bool:
    """True when the connection field being resolved selects ``totalCount``."""
    return any(f.name == "totalCount" for field in info.selected_fields for f in _fields(field.selections))


def after_clause(key: sa.ColumnElement, pk: sa.ColumnElement, value: Any, last_pk: int, descending: bool) -> sa.ColumnElement:
    """Rows strictly after (value, last_pk) in (key, pk) order."""
    if descending:
        return sa.or_(key < value, sa.and_(key == value, pk < last_pk))
    return sa.or_(key > value, sa.and_(key == value, pk > last_pk))


@dataclass(frozen=True)
class Keyset:
    """An ordering of a list by (key, pk), or by pk alone when ``key`` is None.

    ``name`` is what cursors are made for; ``parse`` turns a cursor's JSON
    value back into one the key column compares with, ``value_of`` reads it
    from a row."""

    name: str
    pk: Any
    descending: bool
    key: Any = None
    parse: Callable[[Any], Any] = lambda value: value
    value_of: Callable[[Any], Any] = lambda row: None

    def cursor(self, cursors: Cursors, row) -> str:
        return cursors.encode(self.name, self.value_of(row), row.id)

    def position(self, cursors: Cursors, cursor: str) -> tuple[Any, int]:
        value, pk = cursors.decode(cursor, self.name)
        if not isinstance(pk, int) or isinstance(pk, bool):
            raise api_error("the cursor is malformed", BAD_CURSOR)
        if self.key is None:
            return None, pk
        try:
            return self.parse(value), pk
        except (TypeError, ValueError, ArithmeticError):
            raise api_error("the cursor is malformed", BAD_CURSOR) from None

    def beyond(self, cursors: Cursors, cursor: str, backwards: bool) -> sa.ColumnElement:
        """Rows after the cursor in this order (before it when ``backwards``)."""
        value, pk = self.position(cursors, cursor)
        descending = self.descending != backwards
        if self.key is None:
            return self.pk < pk if descending else self.pk > pk
        return after_clause(self.key, self.pk, value, pk, descending)

    def conditions(self, cursors: Cursors, page: Slice) -> list:
        out = []
        if page.after:
            out.append(self.beyond(cursors, page.after, backwards=False))
        if page.before:
            out.append(self.beyond(cursors, page.before, backwards=True))
        return out

    def order_by(self, backwards: bool = False) -> list:
        descending = self.descending != backwards
        columns = [self.pk] if self.key is None else [self.key, self.pk]
        return [c.desc() if descending else c.asc() for c in columns]


@dataclass
class Edge:
    cursor: str
    node: Any


@dataclass
class PageInfoData:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@dataclass
class Page:
    """What a connection field returns; the GraphQL connection types read its attributes.

    ``total_count`` is None when the client did not select it (never read then)."""

    edges: list[Edge]
    page_info: PageInfoData
    total_count: Any = None


def slice_page(rows: list, page: Slice, cursor_of: Callable[[Any], str], total: Any = None) -> Page:
    """The page out of up to ``size + 1`` rows fetched in the slice's direction
    (reversed order when paging backwards): the extra row says whether more follow.

    Per the Relay spec, the far side of a page is only known when it is cheap:
    forwards, ``hasPreviousPage`` is true when paging after a cursor; backwards,
    ``hasNextPage`` is true when paging before one."""
    more = len(rows) > page.size
    rows = list(rows[:page.size])
    if page.backwards:
        rows.reverse()
    edges = [Edge(cursor_of(row), row) for row in rows]
    info = PageInfoData(
        has_next_page=bool(page.before) if page.backwards else more,
        end_cursor=edges[-1].cursor if edges else None,
        has_previous_page=more if page.backwards else bool(page.after),
        start_cursor=edges[0].cursor if edges else None,
    )
    return Page(edges, info, total)


def fetch_page(session, query, keyset: Keyset, cursors: Cursors, page: Slice,
               count: Callable[[], int] | None = None, cursor_of: Callable[[Any], str] | None = None) -> Page:
    """Run ``query`` (a select of one entity) as a page in ``keyset`` order;
    ``count`` is called, in the same read, only when given (totalCount selected)."""
    total = None if count is None else count()
    query = query.where(*keyset.conditions(cursors, page)).order_by(*keyset.order_by(page.backwards)).limit(page.size + 1)
    rows = session.execute(query).scalars().all()
    return slice_page(rows, page, cursor_of or (lambda row: keyset.cursor(cursors, row)), total)


def list_page(items: list, page: Slice, cursors: Cursors, order: str, key_of: Callable[[Any], list],
              with_total: bool = True) -> Page:
    """A page of a list computed in memory, sorted ascending by ``key_of(item)``
    (unique, JSON values: e.g. ``[days_until, customer_id]``), as the same Relay
    connection a keyset query gives. For lists a query cannot order itself."""
    keys = [list(key_of(item)) for item in items]
    low, high = 0, len(items)
    if page.after:
        after, _ = cursors.decode(page.after, order)
        low = next((i for i, key in enumerate(keys) if _later(key, after)), len(items))
    if page.before:
        before, _ = cursors.decode(page.before, order)
        high = next((i for i, key in enumerate(keys) if not _later(before, key)), len(items))
    window = items[low:max(low, high)]
    rows = window[::-1][:page.size + 1] if page.backwards else window[:page.size + 1]
    return slice_page(rows, page, lambda item: cursors.encode(order, list(key_of(item)), 0), len(items) if with_total else None)


def _later(key: list, than: Any) -> bool:
    try:
        return key > than
    except TypeError:
        raise api_error("the cursor is malformed", BAD_CURSOR) from None
