"""Customer search as Chinese staff search (docs/search.md).

What the search box matches, each through an index on (tenant_id, ...):

- pinyin typed as letters: a prefix of the name's full pinyin or of its
  initials ("wangfang", "wang fang", "WangF", "wf" all find 王芳);
- a phone number: its last four digits, or the whole number (any format);
- a tag, a customer code, a WeChat id or an email: exactly;
- Han characters (or other symbols): a prefix of the name (王, 王芳 find
  王芳) or of its given name, the name without its family name (芳 finds
  王芳). Not the middle of a given name: 翔 does not find 王飞翔.

The search forms (``name_pinyin``, ``name_initials``, ``name_folded``,
``given_name_folded``, ``phone_last4``) and the tag rows (``customer_tags``)
are derived on every ORM write of a customer by the mapper events below:
create, update and erase keep them current without calling anything. Bulk
inserts (import, demo) go around the ORM and call ``with_search_columns``
and ``index_tags`` themselves.

Results come exact matches first, then in pinyin order. Each way of matching
gives only its first ``limit`` customers in that order: read along its index
where the index is in that order (pinyin prefixes, tags, so a tag a fifth of
the customers have costs what a rare one does), sorted otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from engine.models import Customer, CustomerTag
from engine.pinyin import fold, has_han, letters_of, name_keys, name_prefixes, phone_last4

PHONE_LIKE = re.compile(r"^\+?[\d\s\-()]+$")
# Text in the pinyin/code alphabet; anything else (Han, other scripts, symbols) is also
# looked for at the start of names and given names.
INDEXED_ONLY = re.compile(r"^[A-Za-z0-9\s'\-+@._]+$")


def search_columns(name: str | None, phone: str | None) -> dict:
    pinyin, initials = name_keys(name)
    folded, given = name_prefixes(name)
    return {"name_pinyin": pinyin, "name_initials": initials, "name_folded": folded, "given_name_folded": given,
            "phone_last4": phone_last4(phone)}


def with_search_columns(row: dict) -> dict:
    """A customer row for a bulk insert, with its search forms."""
    return {**row, **search_columns(row.get("name"), row.get("phone"))}


def index_tags(session_or_connection, tenant_id: int, customers: Iterable[tuple[int, list]],
               pinyin: dict[int, str | None] | None = None) -> None:
    """Tag rows of freshly inserted customers: (customer id, tags) pairs.
    Each row carries the customer's pinyin (the search order), read from the
    stored customers unless given as ``pinyin`` (customer id -> pinyin)."""
    wanted = [(cid, set(tags)) for cid, tags in customers if tags]
    if not wanted:
        return
    if pinyin is None:
        pinyin = _stored_pinyin(session_or_connection, tenant_id, [cid for cid, _ in wanted])
    rows = [{"tenant_id": tenant_id, "customer_id": cid, "tag": tag, "name_pinyin": pinyin.get(cid) or ""}
            for cid, tags in wanted for tag in tags]
    session_or_connection.execute(sa.insert(CustomerTag.__table__), rows)


def _stored_pinyin(session_or_connection, tenant_id: int, ids: list[int]) -> dict[int, str | None]:
    # Bulk inserts allocate ids in a run (engine.bulk): one range read, not a long IN list.
    found = session_or_connection.execute(
        sa.select(Customer.id, Customer.name_pinyin)
        .where(Customer.tenant_id == tenant_id, Customer.id.between(min(ids), max(ids)))
    ).all()
    return dict(found)


# -- kept current on every ORM write ------------------------------------------------


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _derive_search_columns(mapper, connection, customer: Customer) -> None:
    for key, value in search_columns(customer.name, customer.phone).items():
        if getattr(customer, key) != value:
            setattr(customer, key, value)


@event.listens_for(Customer, "after_insert")
def _index_new_tags(mapper, connection, customer: Customer) -> None:
    index_tags(connection, customer.tenant_id, [(customer.id, customer.tags)], {customer.id: customer.name_pinyin})


@event.listens_for(Customer, "after_update")
def _reindex_changed_tags(mapper, connection, customer: Customer) -> None:
    state = sa.inspect(customer).attrs
    if not (state.tags.history.has_changes() or state.name_pinyin.history.has_changes()):
        return
    table = CustomerTag.__table__
    connection.execute(table.delete().where(table.c.tenant_id == customer.tenant_id, table.c.customer_id == customer.id))
    index_tags(connection, customer.tenant_id, [(customer.id, customer.tags)], {customer.id: customer.name_pinyin})


# -- matching -----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchText:
    """What was typed, and the forms it is compared in."""

    text: str  # stripped
    letters: str  # in the pinyin alphabet ("Wang Fang" -> "wangfang"); "" for a phone number or Han text
    digits: str  # a phone number's digits; "" when the text is not one
    characters: str  # folded, to find names and given names starting with it; "" for pinyin/codes/phones

    @classmethod
    def parse(cls, text: str) -> SearchText:
        text = text.strip()
        phone = PHONE_LIKE.match(text) is not None
        han = has_han(text)
        characters = fold(text) if han or not INDEXED_ONLY.match(text) else ""
        return cls(
            text=text,
            letters="" if phone or han else letters_of(text),
            digits=re.sub(r"\D", "", text) if phone else "",
            characters=characters if _next_prefix(characters) else "",  # "" also for text of U+10FFFF only
        )

    @property
    def shape(self) -> tuple[int, int, bool]:
        """Which ways of matching apply, what the statement looks like (its values
        aside): how many letters (0, 1, 2 for more), digits (0, 4, 5 for more)
        and whether there are characters."""
        return min(len(self.letters), 2), min(len(self.digits), 5) if len(self.digits) >= 4 else 0, bool(self.characters)

    def values(self, tenant_id: int) -> dict:
        """The statement's parameters (see _Terms)."""
        return {
            "s_tenant": tenant_id, "s_text": self.text, "s_email": self.text.lower(),
            "s_letters": self.letters, "s_letters_end": _next_prefix(self.letters),
            "s_last4": self.digits[-4:], "s_digits": self.digits,
            "s_characters": self.characters, "s_characters_end": _next_prefix(self.characters),
        }


def _next_prefix(prefix: str) -> str | None:
    """The least text after every text starting with ``prefix`` (None: none is)."""
    if not prefix:
        return None
    last = ord(prefix[-1])
    if last == 0x10FFFF:  # the last code point: the range ends where the shorter prefix's does
        return _next_prefix(prefix[:-1])
    following = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1  # surrogates are not text
    return prefix[:-1] + chr(following)


def starts_with(column, prefix, end) -> sa.ColumnElement:
    """A prefix as a range the B-tree answers (LIKE 'x%' is not, on SQLite);
    the columns compare code points on both databases (models.search_key)."""
    return sa.and_(column >= prefix, column < end)


def _tagged(tenant_id, tag) -> sa.Select:
    return sa.select(CustomerTag.customer_id).where(CustomerTag.tenant_id == tenant_id, CustomerTag.tag == tag)


def has_tag(tenant_id: int, tag: str) -> sa.ColumnElement:
    """The customer has exactly this tag (ix_customer_tags_tenant_tag)."""
    return Customer.id.in_(_tagged(tenant_id, tag))


def _phone_digits() -> sa.ColumnElement:
    digits = Customer.phone
    for mark in (" ", "-", "+", "(", ")"):
        digits = sa.func.replace(digits, mark, "")
    return digits


class _Terms:
    """The statement's parameters as SQL: bound to a query's values, or left
    open so one statement per shape serves every search (building and
    caching SQLAlchemy statements costs more than the database's work)."""

    def __init__(self, values: dict | None = None):
        self._values = values

    def __getattr__(self, name: str) -> sa.BindParameter:
        key = f"s_{name}"
        if self._values is None:
            return sa.bindparam(key, type_=sa.Integer if name == "tenant" else sa.String)
        return sa.bindparam(key, self._values[key], type_=sa.Integer if name == "tenant" else sa.String)


def _ways(shape: tuple[int, int, bool], t: _Terms) -> list[tuple[sa.ColumnElement, bool]]:
    """Per way of matching, a condition on customers its own index answers,
    and whether that index reads the matches in pinyin order (tags, which
    live in customer_tags, aside)."""
    letters, digits, characters = shape
    ways = [(Customer.code == t.text, False), (Customer.wechat_id == t.text, False), (Customer.email == t.email, False)]
    if letters:
        ways.append((starts_with(Customer.name_pinyin, t.letters, t.letters_end), True))
    if letters > 1:  # a name's initials start with its pinyin's first letter: one letter is found above
        ways.append((starts_with(Customer.name_initials, t.letters, t.letters_end), False))
    if digits:
        last4 = Customer.phone_last4 == t.last4
        # More digits: the whole number, or its end (without the country code, say).
        ways.append((last4 if digits == 4 else sa.and_(last4, _phone_digits().endswith(t.digits)), False))
    if characters:
        ways += [(starts_with(Customer.name_folded, t.characters, t.characters_end), False),
                 (starts_with(Customer.given_name_folded, t.characters, t.characters_end), False)]
    return ways


def match_condition(tenant_id: int, query: SearchText) -> sa.ColumnElement:
    """Customers of the tenant that ``query`` finds (add the live condition yourself).

    One SELECT of ids per way of matching, united: each reads its own index.
    (As one OR, both databases read the tenant's customers through a
    single index on tenant_id, testing every row.)"""
    t = _Terms(query.values(tenant_id))
    branches = [sa.select(Customer.id).where(Customer.tenant_id == t.tenant, way) for way, _ in _ways(query.shape, t)]
    return Customer.id.in_(sa.union(*branches, _tagged(t.tenant, t.text)))


def _exactly(shape: tuple[int, int, bool], t: _Terms) -> list[sa.ColumnElement]:
    """Ways the text names a customer exactly (the whole name, pinyin, initials
    or code); each is also one of its ways of matching."""
    letters, _, characters = shape
    exact = [Customer.code == t.text]
    if letters:
        exact += [Customer.name_pinyin == t.letters, Customer.name_initials == t.letters]
    if characters:
        exact.append(Customer.name_folded == t.characters)
    return exact


def _firsts(shape: tuple[int, int, bool], t: _Terms, limit: int) -> list[sa.Select]:
    """Per way of matching, its first ``limit`` live customers in search order,
    as rows (id, exact: 0 or 1, pinyin or "")."""
    pinyin = sa.func.coalesce(Customer.name_pinyin, "")

    def first(condition, exact: int, indexed_in_order: bool = False) -> sa.Select:
        # Where the index is in pinyin order, order by the column itself, so the read stops after ``limit``.
        return (sa.select(Customer.id, sa.literal(exact).label("exact"), pinyin.label("pinyin"))
                .where(Customer.tenant_id == t.tenant, Customer.deleted_at.is_(None), condition)
                .order_by(Customer.name_pinyin if indexed_in_order else pinyin, Customer.id).limit(limit))

    return ([first(way, 1, in_order) for way, in_order in _ways(shape, t)] + [first(way, 0) for way in _exactly(shape, t)]
            + [_first_tagged(t, limit)])


def _first_tagged(t: _Terms, limit: int) -> sa.Select:
    """The first ``limit`` live customers with the tag in pinyin order, as
    _firsts rows: read in order from ix_customer_tags_tenant_tag, not sorted."""
    return (
        sa.select(CustomerTag.customer_id.label("id"), sa.literal(1).label("exact"), CustomerTag.name_pinyin.label("pinyin"))
        .join(Customer, sa.and_(Customer.id == CustomerTag.customer_id, Customer.tenant_id == t.tenant))
        .where(CustomerTag.tenant_id == t.tenant, CustomerTag.tag == t.text, Customer.deleted_at.is_(None))
        .order_by(CustomerTag.name_pinyin, CustomerTag.customer_id).limit(limit)
    )


def first_tagged(tenant_id: int, tag: str, limit: int) -> sa.Select:
    return _first_tagged(_Terms(SearchText.parse(tag).values(tenant_id)), limit)


def _search(shape: tuple[int, int, bool], t: _Terms, limit: int) -> sa.Select:
    """The first ``limit`` live customers the text finds, in search order."""
    # Each SELECT wrapped: both databases then keep its ORDER BY and LIMIT inside the UNION ALL.
    found = sa.union_all(*(sa.select(part.subquery()) for part in _firsts(shape, t, limit))).subquery()
    exact, pinyin = sa.func.min(found.c.exact).label("exact"), sa.func.min(found.c.pinyin).label("pinyin")
    best = sa.select(found.c.id, exact, pinyin).group_by(found.c.id).order_by(exact, pinyin, found.c.id).limit(limit).subquery()
    return (sa.select(Customer).join(best, Customer.id == best.c.id).where(Customer.tenant_id == t.tenant)
            .order_by(best.c.exact, best.c.pinyin, Customer.id))


_search_by_shape = lru_cache(maxsize=64)(lambda shape, limit: _search(shape, _Terms(), limit))


def search_statement(tenant_id: int, query: SearchText, limit: int) -> sa.Select:
    """What search_customers runs, with its values (to read its plan)."""
    return _search(query.shape, _Terms(query.values(tenant_id)), limit)


def search_customers(session: Session, tenant_id: int, text: str, limit: int = 20) -> list[Customer]:
    """Live customers ``text`` finds: exact matches first, then in pinyin order (as a phone's contact list)."""
    query = SearchText.parse(text)
    if not query.text:
        return []
    statement = _search_by_shape(query.shape, limit)
    return list(session.execute(statement, query.values(tenant_id)).scalars().all())
