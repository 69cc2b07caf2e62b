"""Storing a chunk of imported customers: insert new codes, upsert or skip known ones.

New customers go in with one multi-row insert. A code already stored is,
in ``upsert`` mode, updated through the customer service's update path
(its validation and normalisation apply) with the row's non-empty cells,
and counted as updated when something changed; in ``insert`` mode, or when
nothing changed, it is a duplicate. A code repeated later in the file
updates the customer its first row created (upsert) or is a duplicate.
"""

from __future__ import annotations

import json

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from engine.bulk import insert_rows, refresh_stale_statistics
from engine.errors import FieldError, GuanxiError, ValidationFailed
from engine.models import Customer
from engine.services.customers import CustomerInput, customers_created_events, parse_customer_input, phone_region, update_customer
from engine.services.import_rejects import REJECT_COLUMNS
from engine.services.import_results import StoreResult
from engine.services.search import index_tags, with_search_columns
from engine.types import utcnow

CUSTOMER_COLUMNS = frozenset(CustomerInput.model_fields) | {"referrer_code"}
LIST_SEPARATOR = "|"
# Text columns' sizes, so an over-long value is a row's error, not the database's.
COLUMN_LIMITS = {column.name: column.type.length for column in Customer.__table__.columns
                 if getattr(column.type, "length", None)}


def customer_from_row(row: dict[str, str]) -> dict:
    """Cells to service input: empty cells are unset, lists use '|'."""
    data: dict = {}
    for key, value in row.items():
        if value is None or value == "" or key in REJECT_COLUMNS:
            continue
        if key == "tags":
            data[key] = [tag for tag in value.split(LIST_SEPARATOR) if tag.strip()]
        elif key == "consent":
            data[key] = {channel.strip(): True for channel in value.split(LIST_SEPARATOR) if channel.strip()}
        elif key == "attributes":
            try:
                data[key] = json.loads(value)
            except ValueError:
                raise ValidationFailed([FieldError("attributes", "is not valid JSON")]) from None
            if not isinstance(data[key], dict) or "\\u0000" in value:
                raise ValidationFailed([FieldError("attributes", "must be a JSON object without NUL characters")])
        else:
            data[key] = value
    return data


def _parse(data: dict, region: str) -> dict:
    """The service's validation (phones read in the tenant's ``region``), then the columns' sizes."""
    values = parse_customer_input(data, region).model_dump(exclude_none=True)
    too_long = [FieldError(key, f"must be at most {COLUMN_LIMITS[key]} characters")
                for key, value in values.items() if isinstance(value, str) and len(value) > COLUMN_LIMITS.get(key, len(value))]
    if too_long:
        raise ValidationFailed(too_long)
    return values


def store_customers(ctx, parsed: list[tuple[int, dict]], mode: str) -> StoreResult:
    session: Session = ctx.session
    refresh_stale_statistics(session, ("customers",))
    out = StoreResult()
    rows = []
    region = phone_region(ctx)
    for line, data in parsed:
        data = dict(data)
        referrer_code = data.pop("referrer_code", None)
        if referrer_code is not None and len(referrer_code) > COLUMN_LIMITS["code"]:
            out.invalid.append((line, [FieldError("referrer_code", f"must be at most {COLUMN_LIMITS['code']} characters")]))
            continue
        try:
            rows.append((line, _parse(data, region), referrer_code))
        except ValidationFailed as error:
            out.invalid.append((line, error.errors))

    codes = {values["code"] for _, values, _ in rows if values.get("code")}
    stored = _by_code(ctx, codes | {referrer for _, _, referrer in rows if referrer})
    phones_used = _live_phones(session, ctx.tenant_id, [values["phone"] for _, values, _ in rows if values.get("phone")])
    fresh, later, seen = [], [], set()
    for line, values, referrer in rows:
        code = values.get("code")
        if code and (code in stored or code in seen):
            later.append((line, values, referrer))  # updates go through the service, which checks the phone
            continue
        if referrer and referrer not in stored and referrer not in seen:
            out.invalid.append((line, [FieldError("referrer_code", f"no customer with code {referrer!r} in this tenant", "NOT_FOUND")]))
            continue
        phone = values.get("phone")
        if phone and phone in phones_used:  # one live customer per phone (docs/customers.md)
            out.invalid.append((line, [FieldError("phone", f"phone {phone} is already used by {phones_used[phone]}", "CONFLICT")]))
            continue
        if code:
            seen.add(code)
        if phone:
            phones_used[phone] = f"line {line} of this file"
        fresh.append((values, referrer))
    _insert(ctx, fresh)
    out.stored = len(fresh)
    if later and mode == "upsert":
        stored = _by_code(ctx, {values["code"] for _, values, _ in later} | {r for _, _, r in later if r})
        for line, values, referrer in later:
            _update(ctx, stored, line, values, referrer, out)
    else:
        out.duplicates += len(later)
    return out


def _by_code(ctx, codes: set[str]) -> dict[str, Customer]:
    found: dict[str, Customer] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), 900):
        found.update((c.code, c) for c in ctx.session.execute(
            select(Customer).where(Customer.tenant_id == ctx.tenant_id, Customer.code.in_(ordered[start:start + 900]))
        ).scalars())
    return found


def _live_phones(session: Session, tenant_id: int, phones: list[str]) -> dict[str, str]:
    """Phones already held by a live customer of the tenant -> who holds them."""
    used: dict[str, str] = {}
    ordered = sorted(set(phones))
    for start in range(0, len(ordered), 900):
        for phone, code, pk in session.execute(
            select(Customer.phone, Customer.code, Customer.id).where(
                Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None), Customer.phone.in_(ordered[start:start + 900]))
        ).all():
            used[phone] = f"customer {code!r}" if code else f"customer {pk} (no code)"
    return used


def _insert(ctx, fresh: list[tuple[dict, str | None]]) -> None:
    if not fresh:
        return
    session, now = ctx.session, utcnow()
    new_ids = insert_rows(session, Customer.__table__, [
        with_search_columns(Customer(tenant_id=ctx.tenant_id, created_at=now, updated_at=now, **values).model_dump(exclude={"id"}))
        for values, _ in fresh
    ])
    index_tags(session, ctx.tenant_id, [(new_id, values.get("tags")) for new_id, (values, _) in zip(new_ids, fresh)])
    # One set-based write for the chunk when a module takes events; nothing built otherwise.
    customers_created_events(ctx, [(new_id, values.get("code"), sorted(values) + (["referrer_id"] if referrer else []))
                                   for new_id, (values, referrer) in zip(new_ids, fresh)])
    # Referrers may be rows of this very chunk: link them once all exist.
    links = [(new_id, referrer) for new_id, (_, referrer) in zip(new_ids, fresh) if referrer]
    if links:
        ids = dict(session.execute(
            select(Customer.code, Customer.id).where(Customer.tenant_id == ctx.tenant_id, Customer.code.in_({r for _, r in links}))
        ).all())
        session.execute(
            update(Customer.__table__).where(Customer.__table__.c.id == bindparam("b_id")).values(referrer_id=bindparam("b_referrer")),
            [{"b_id": new_id, "b_referrer": ids[referrer]} for new_id, referrer in links],
            execution_options={"synchronize_session": False},
        )


def _update(ctx, stored: dict[str, Customer], line: int, values: dict, referrer: str | None, out: StoreResult) -> None:
    customer = stored[values["code"]]
    if referrer:
        if referrer not in stored:
            out.invalid.append((line, [FieldError("referrer_code", f"no customer with code {referrer!r} in this tenant", "NOT_FOUND")]))
            return
        values = {**values, "referrer_id": stored[referrer].id}
    before = {key: getattr(customer, key) for key in values}
    savepoint = ctx.session.begin_nested()
    try:
        update_customer(ctx, customer.id, values)
        savepoint.commit()
    except GuanxiError as error:
        savepoint.rollback()
        out.invalid.append((line, error.errors))
        return
    # Compared after the service normalised the values: the same phone written another way is no change.
    if any(getattr(customer, key) != value for key, value in before.items()):
        out.updated += 1
    else:
        out.duplicates += 1
