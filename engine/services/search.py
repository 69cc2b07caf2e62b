"""Customer search as Chinese staff search (docs/search.md).

What the search box matches, each through an index on (tenant_id, ...):

- pinyin typed as letters: a prefix of the name's full pinyin or of its
  initials ("wangfang", "wang fang", "WangF", "wf" all find 王芳);
- a phone number: its last four digits, or the whole number (any format);
- a tag, a customer code, a WeChat id or an email: exactly;
- Han characters (or other symbols): a substring of the name, as before.
  This one is not indexed: it reads the tenant's customers.

The search forms (``name_pinyin``, ``name_initials``, ``phone_last4``) and
the tag rows (``customer_tags``) are derived on every ORM write of a
customer by the mapper events below: create, update and erase keep them
current without calling anything. Bulk inserts (import, demo) go around the
ORM and call ``with_search_columns`` and ``index_tags`` themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from engine.models import Customer, CustomerTag
from engine.pinyin import has_han, letters_of, name_keys, phone_last4

PHONE_LIKE = re.compile(r"^\+?[\d\s\-()]+$")
# Text that the indexed forms cover; anything else (Han, %, ...) is also looked for inside names.
INDEXED_ONLY = re.compile(r"^[A-Za-z0-9\s'\-+@._]+$")


def search_columns(name: str | None, phone: str | None) -> dict:
    pinyin, initials = name_keys(name)
    return {"name_pinyin": pinyin, "name_initials": initials, "phone_last4": phone_last4(phone)}


def with_search_columns(row: dict) -> dict:
    """A customer row for a bulk insert, with its search forms."""
    return {**row, **search_columns(row.get("name"), row.get("phone"))}


def index_tags(session_or_connection, tenant_id: int, customers: Iterable[tuple[int, list]]) -> None:
    """Tag rows of freshly inserted customers: (customer id, tags) pairs."""
    rows = [{"tenant_id": tenant_id, "customer_id": cid, "tag": tag} for cid, tags in customers for tag in set(tags or ())]
    if rows:
        session_or_connection.execute(sa.insert(CustomerTag.__table__), rows)


# -- kept current on every ORM write ------------------------------------------------


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _derive_search_columns(mapper, connection, customer: Customer) -> None:
    for key, value in search_columns(customer.name, customer.phone).items():
        if getattr(customer, key) != value:
            setattr(customer, key, value)


@event.listens_for(Customer, "after_insert")
def _index_new_tags(mapper, connection, customer: Customer) -> None:
    index_tags(connection, customer.tenant_id, [(customer.id, customer.tags)])


@event.listens_for(Customer, "after_update")
def _reindex_changed_tags(mapper, connection, customer: Customer) -> None:
    if not sa.inspect(customer).attrs.tags.history.has_changes():
        return
    table = CustomerTag.__table__
    connection.execute(table.delete().where(table.c.tenant_id == customer.tenant_id, table.c.customer_id == customer.id))
    index_tags(connection, customer.tenant_id, [(customer.id, customer.tags)])


# -- matching -----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchText:
    """What was typed, and the forms it is compared in."""

    text: str  # stripped
    letters: str  # in the pinyin alphabet ("Wang Fang" -> "wangfang"); "" for a phone number
    digits: str  # a phone number's digits; "" when the text is not one
    inside_names: bool  # also look for the text inside names (Han characters, symbols)

    @classmethod
    def parse(cls, text: str) -> SearchText:
        text = text.strip()
        phone = PHONE_LIKE.match(text) is not None
        return cls(
            text=text,
            letters="" if phone else letters_of(text),
            digits=re.sub(r"\D", "", text) if phone else "",
            inside_names=has_han(text) or not INDEXED_ONLY.match(text),
        )


def _next_prefix(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def starts_with(column, prefix: str) -> sa.ColumnElement:
    """A prefix as a range the B-tree answers (LIKE 'x%' is not, on SQLite);
    the columns compare bytes on both databases (models.search_key)."""
    return sa.and_(column >= prefix, column < _next_prefix(prefix))


def _tagged(tenant_id: int, tag: str) -> sa.Select:
    return sa.select(CustomerTag.customer_id).where(CustomerTag.tenant_id == tenant_id, CustomerTag.tag == tag)


def has_tag(tenant_id: int, tag: str) -> sa.ColumnElement:
    """The customer has exactly this tag (ix_customer_tags_tenant_tag)."""
    return Customer.id.in_(_tagged(tenant_id, tag))


def _phone_digits() -> sa.ColumnElement:
    digits = Customer.phone
    for mark in (" ", "-", "+", "(", ")"):
        digits = sa.func.replace(digits, mark, "")
    return digits


def match_condition(tenant_id: int, query: SearchText) -> sa.ColumnElement:
    """Customers of the tenant that ``query`` finds (add the live condition yourself).

    One SELECT of ids per way of matching, united: each reads its own index.
    (As one OR, both databases read the tenant's customers through a
    single index on tenant_id, testing every row.)"""
    text = query.text

    def ids(*conditions) -> sa.Select:
        return sa.select(Customer.id).where(Customer.tenant_id == tenant_id, *conditions)

    branches = [
        ids(Customer.code == text), ids(Customer.wechat_id == text), ids(Customer.email == text.lower()),
        _tagged(tenant_id, text),
    ]
    if query.letters:
        branches += [ids(starts_with(Customer.name_pinyin, query.letters)), ids(starts_with(Customer.name_initials, query.letters))]
    if len(query.digits) >= 4:
        last4 = Customer.phone_last4 == query.digits[-4:]
        # More digits: the whole number, or its end (without the country code, say).
        branches.append(ids(last4) if len(query.digits) == 4 else ids(last4, _phone_digits().endswith(query.digits)))
    if query.inside_names:
        branches.append(ids(Customer.name.icontains(text, autoescape=True)))
    return Customer.id.in_(sa.union(*branches))


def exact_first(query: SearchText) -> sa.ColumnElement:
    """0 for a customer the text names exactly (the whole name, pinyin, initials or code), else 1."""
    exact = [Customer.name == query.text, Customer.code == query.text]
    if query.letters:
        exact += [Customer.name_pinyin == query.letters, Customer.name_initials == query.letters]
    return sa.case((sa.or_(*exact), 0), else_=1)


def search_customers(session: Session, tenant_id: int, text: str, limit: int = 20) -> list[Customer]:
    """Live customers ``text`` finds: exact matches first, then in pinyin order (as a phone's contact list)."""
    query = SearchText.parse(text)
    if not query.text:
        return []
    statement = (
        sa.select(Customer)
        .where(Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None), match_condition(tenant_id, query))
        .order_by(exact_first(query), sa.func.coalesce(Customer.name_pinyin, ""), Customer.id)
        .limit(limit)
    )
    return list(session.execute(statement).scalars().all())
