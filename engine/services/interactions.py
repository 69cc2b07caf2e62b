"""Recording interactions, one at a time or in bulk (DOMAIN.md §2).

Interactions are facts: recorded once, never edited. An ``external_id`` makes
a retried submission harmless: an item whose external id is already stored
(or appears earlier in the same submission) is reported as a duplicate and
not stored again.

Bulk rule (documented in docs/api.md): valid items are stored, invalid items
are listed with their index and reasons; nothing about an invalid item is
written. Customer statistics are updated in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine import input_bounds
from engine.bulk import RawCursor, allocate_ids, probe_sql, refresh_stale_statistics
from engine.context import TenantContext
from engine.enums import Channel, InteractionKind
from engine.errors import FieldError, ValidationFailed, not_found
from engine.models import Interaction
from engine.types import CENT, utcnow

CHUNK_SIZE = 5_000
BULK_STATISTICS_CHECK = 1_000  # items in a call that has the planner's row counts checked first
MAX_AMOUNT = input_bounds.MAX_AMOUNT
MAX_FUTURE = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ALLOWED_KEYS = frozenset(
    {
        "customer_id", "customer_code", "kind", "occurred_at", "channel", "store", "staff",
        "amount", "quantity", "external_id", "reverses_id", "reverses_external_id", "payload",
    }
)
PURCHASE, REFUND = InteractionKind.PURCHASE.code, InteractionKind.REFUND.code
MONEY_KINDS = (PURCHASE, REFUND)


@dataclass(frozen=True)
class RecordedInteraction:
    """An interaction as stored; what plugins receive in ``guanxi_interactions_recorded``."""

    id: int
    customer_id: int
    kind: str
    occurred_at: datetime
    local_day: int
    amount: Decimal | None
    quantity: int | None
    channel: str | None
    store: str | None
    staff: str | None
    external_id: str | None
    reverses_id: int | None
    payload: dict


@dataclass(frozen=True)
class Duplicate:
    index: int
    external_id: str
    existing_id: int | None  # None when the earlier copy is in the same submission


@dataclass
class BulkResult:
    recorded: list[RecordedInteraction] = field(default_factory=list)
    # Index in the submission of each recorded item, parallel to ``recorded``.
    recorded_indexes: list[int] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    errors: dict[int, list[FieldError]] = field(default_factory=dict)


# -- validation ---------------------------------------------------------------


EARLIEST = input_bounds.EARLIEST  # before this a date is a typo or a placeholder (0001-01-01)


def parse_time(value: Any, tz: ZoneInfo) -> datetime:
    """An ISO 8601 text or datetime as an aware UTC datetime; ValueError saying what is wrong."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise ValueError(f"{shown!r} is not an ISO 8601 date-time (or not a real date)") from None
    if not isinstance(value, datetime):
        raise ValueError("must be an ISO 8601 date-time")
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)  # a time without offset is the tenant's local time
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-12:00 is past the last representable instant
        raise ValueError(f"{value.isoformat()} is out of range") from None
    if value < EARLIEST:
        raise ValueError(f"{value.isoformat()} is before {EARLIEST.year}")
    problem = input_bounds.time_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _parse_amount(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(CENT):
        raise ValueError(f"{value} has more than 2 decimal places")
    if amount < 0:
        raise ValueError("must not be negative")
    if amount >= MAX_AMOUNT:
        raise ValueError(f"is too large: at most {MAX_AMOUNT - CENT:,}")
    return amount.quantize(CENT)


def _parse_int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError("must be an integer")
    if isinstance(value, str):
        value = value.strip()
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not an integer") from None
    if isinstance(value, float) and value != number:
        raise ValueError(f"{value!r} is not an integer")
    return number


def _int_parser(low: int, high: int):
    """_parse_int limited to what the column holds, so no database rejects it later."""

    def parse(value: Any) -> int:
        number = _parse_int(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range ({low} to {high})")
        return number

    return parse


_parse_id = _int_parser(1, 2**63 - 1)


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return text or None


def _code_parser(enum_class):
    """A parser for enum codes: a dict lookup on the hot path, the enum's error otherwise."""
    known = {member.code: member.code for member in enum_class}
    known.update({code.lower(): code for code in list(known)})

    def parse(value: Any) -> str:
        code = known.get(value) if isinstance(value, str) else None
        return code if code is not None else enum_class.parse(value).code

    return parse


def _text_parser(limit: int):
    return lambda value: _text(value, limit)


def _strip(value: Any) -> str:
    return str(value).strip()


_parse_kind = _code_parser(InteractionKind)
# Field name -> parser raising ValueError with the problem; a field whose
# value is None or "" is simply unset.
_PARSERS = {
    "kind": _parse_kind,
    "channel": _code_parser(Channel),
    "customer_id": _parse_id,
    "customer_code": _strip,
    "amount": _parse_amount,
    "quantity": _int_parser(-(2**31), 2**31 - 1),  # negatives get their own message below
    "store": _text_parser(64),
    "staff": _text_parser(64),
    "external_id": _text_parser(128),
    "reverses_id": _parse_id,
    "reverses_external_id": _strip,
}


def _validate(raw: Any, tz: ZoneInfo, now: datetime) -> tuple[dict | None, list[FieldError]]:
    """Normalise one submitted item, or list what is wrong with it."""
    if not isinstance(raw, dict):
        return None, [FieldError("", "each item must be an object")]
    errors: list[FieldError] = []
    item: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or value == "":
            continue
        parser = _PARSERS.get(key)
        try:
            problem = input_bounds.json_problem(value)  # PostgreSQL stores no NUL in text or JSON; surrogates are not text
            if problem:
                raise ValueError(problem)
            if parser is not None:
                item[key] = parser(value)
            elif key == "occurred_at":
                item[key] = parse_time(value, tz)
            elif key == "payload":
                if not isinstance(value, dict):
                    raise ValueError("must be a JSON object")
                item[key] = value
            else:
                raise ValueError("unknown field")
        except ValueError as error:
            errors.append(FieldError(key, str(error)))

    kind = item.get("kind")
    for required in ("kind", "occurred_at"):
        if required not in item and not any(e.field == required for e in errors):
            errors.append(FieldError(required, "is required"))
    occurred = item.get("occurred_at")
    if occurred is not None and occurred > now + MAX_FUTURE:
        errors.append(FieldError("occurred_at", f"{occurred.isoformat()} is in the future"))
    if "customer_id" in item:
        item.pop("customer_code", None)
    elif "customer_code" not in item and kind != REFUND and not any(e.field == "customer_id" for e in errors):
        errors.append(FieldError("customer_id", "is required (or customer_code)"))
    if kind in MONEY_KINDS and "amount" not in item and not any(e.field == "amount" for e in errors):
        errors.append(FieldError("amount", f"is required for a {kind.lower()}"))
    if kind == REFUND and item.get("amount") == 0:
        errors.append(FieldError("amount", "a refund must be greater than 0"))
    if item.get("quantity") is not None and item["quantity"] < 0:
        errors.append(FieldError("quantity", "must not be negative"))
    if kind == REFUND:
        if "reverses_id" in item:
            item.pop("reverses_external_id", None)
        elif "reverses_external_id" not in item and not any(e.field.startswith("reverses") for e in errors):
            errors.append(FieldError("reverses_id", "a refund must reference the purchase it reverses (reverses_id or reverses_external_id)"))
    elif kind is not None and ("reverses_id" in item or "reverses_external_id" in item):
        errors.append(FieldError("reverses_id", "only a refund reverses a purchase"))
    item.setdefault("payload", {})
    return (None, errors) if errors else (item, [])


def _local_day(occurred_at: datetime, tz: ZoneInfo) -> int:
    local = occurred_at.astimezone(tz)
    return local.toordinal() - 719163  # date(1970, 1, 1).toordinal()


# -- recording ----------------------------------------------------------------


def record_interaction(ctx: TenantContext, data: dict[str, Any]) -> tuple[RecordedInteraction, bool]:
    """Record one interaction. Returns it and whether it was already stored.

    Raises ValidationFailed naming the field when the item is invalid.
    """
    result = record_interactions(ctx, [data])
    if result.errors:
        raise ValidationFailed(result.errors[0])
    if result.duplicates:
        duplicate = result.duplicates[0]
        return get_interaction(ctx, duplicate.existing_id), True
    return result.recorded[0], False


def record_interactions(ctx: TenantContext, items: Sequence[Any], chunk_size: int = CHUNK_SIZE) -> BulkResult:
    """Record many interactions in ``ctx.session``'s transaction (see module doc)."""
    result = BulkResult()
    tz = ZoneInfo(ctx.tenant.timezone)
    now = utcnow()
    if len(items) >= BULK_STATISTICS_CHECK:
        refresh_stale_statistics(ctx.session, ("customers", "interactions"))
    if len(items) > chunk_size:
        _lock_customers_up_front(ctx, items)
    for start in range(0, len(items), chunk_size):
        chunk = items[start : start + chunk_size]
        for attempt in range(3):
            savepoint = ctx.session.begin_nested()
            try:
                partial = _record_chunk(ctx, chunk, start, tz, now)
                savepoint.commit()
                break
            except IntegrityError:
                # A concurrent writer stored one of our external ids first;
                # the retry sees it and reports it as a duplicate.
                savepoint.rollback()
                if attempt == 2:
                    raise
        result.recorded.extend(partial.recorded)
        result.recorded_indexes.extend(partial.recorded_indexes)
        result.duplicates.extend(partial.duplicates)
        result.errors.update(partial.errors)
    return result


def _lock_customers_up_front(ctx: TenantContext, items: Sequence[Any]) -> None:
    """PostgreSQL: lock the submission's customers, in id order, before its first chunk.

    Each chunk locks its own customers when it folds in their statistics. A
    submission of several chunks would then hold the first chunk's while
    waiting for the next chunk's, and two such submissions in opposite
    orders deadlock. Taken all at once and sorted, the locks queue instead.
    A refund that names only its purchase locks the purchase's customer.
    """
    raw = RawCursor(ctx.session)
    if not raw.postgres:
        return  # SQLite write transactions are serial already
    ids: set[int] = set()
    codes: set[str] = set()
    purchases: set[int] = set()
    purchase_refs: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            if item.get("customer_id") not in (None, ""):
                ids.add(_parse_id(item["customer_id"]))
            elif item.get("customer_code") not in (None, ""):
                codes.add(_strip(item["customer_code"]))
            elif item.get("reverses_id") not in (None, ""):
                purchases.add(_parse_id(item["reverses_id"]))
            elif item.get("reverses_external_id") not in (None, ""):
                purchase_refs.add(_strip(item["reverses_external_id"]))
        except ValueError:
            continue  # reported when its chunk is validated
    tenant_id = ctx.tenant_id
    ids.update(row[0] for row in raw.select_in("id", "customers", "code", sorted(codes), tenant_id))
    ids.update(row[0] for row in raw.select_in("customer_id", "interactions", "id", sorted(purchases), tenant_id))
    ids.update(row[0] for row in raw.select_in("customer_id", "interactions", "external_id", sorted(purchase_refs),
                                               tenant_id))
    raw.select_in("id", "customers", "id", sorted(ids), tenant_id, lock="FOR NO KEY UPDATE")


def _record_chunk(ctx: TenantContext, chunk: Sequence[Any], offset: int, tz: ZoneInfo, now: datetime) -> BulkResult:
    out = BulkResult()
    valid: list[tuple[int, dict]] = []
    for i, raw in enumerate(chunk):
        item, errors = _validate(raw, tz, now)
        if errors:
            out.errors[offset + i] = errors
        else:
            valid.append((offset + i, item))

    _resolve_customers(ctx, valid, out)
    valid = _drop_duplicates(ctx, valid, out)
    _plugin_validation(ctx, valid, out)
    # Refunds go second so they can reverse purchases of this same submission.
    refunds = [(i, item) for i, item in valid if item["kind"] == REFUND]
    _insert(ctx, [(i, item) for i, item in valid if item["kind"] != REFUND], tz, now, out)
    _resolve_refunds(ctx, refunds, out)
    _insert(ctx, refunds, tz, now, out)
    if not out.recorded:
        return out
    update_stats(ctx, out.recorded)
    ctx.hooks.guanxi_interactions_recorded(ctx=ctx, interactions=out.recorded)
    return out


def _plugin_validation(ctx: TenantContext, valid: list[tuple[int, dict]], out: BulkResult) -> None:
    """Items the tenant's plugins refuse (``guanxi_validate_interactions``) are
    invalid items like any other: listed by index, nothing of them stored."""
    if not valid:
        return
    items = [item for _, item in valid]
    refused: dict[int, list[FieldError]] = {}
    for answer in ctx.hooks.guanxi_validate_interactions(ctx=ctx, items=items):
        for position, errors in (answer or {}).items():
            refused.setdefault(position, []).extend(errors)
    if not refused:
        return
    for position, errors in refused.items():
        out.errors[valid[position][0]] = errors
    valid[:] = [pair for position, pair in enumerate(valid) if position not in refused]


INSERT_COLUMNS = (
    "id", "tenant_id", "customer_id", "kind", "occurred_at", "local_day", "channel", "store", "staff",
    "amount", "quantity", "external_id", "reverses_id", "payload", "recorded_at",
)


def _insert(ctx: TenantContext, valid: list[tuple[int, dict]], tz: ZoneInfo, now: datetime, out: BulkResult) -> None:
    if not valid:
        return
    raw = RawCursor(ctx.session)
    ids = allocate_ids(ctx.session, Interaction.__table__, len(valid))
    recorded_at = raw.time(now)
    rows = []
    for (index, item), new_id in zip(valid, ids):
        recorded = RecordedInteraction(
            id=new_id, customer_id=item["customer_id"], kind=item["kind"], occurred_at=item["occurred_at"],
            local_day=_local_day(item["occurred_at"], tz), amount=item.get("amount"), quantity=item.get("quantity"),
            channel=item.get("channel"), store=item.get("store"), staff=item.get("staff"),
            external_id=item.get("external_id"), reverses_id=item.get("reverses_id"), payload=item["payload"],
        )
        out.recorded_indexes.append(index)
        out.recorded.append(recorded)
        rows.append((
            new_id, ctx.tenant_id, recorded.customer_id, recorded.kind, raw.time(recorded.occurred_at),
            recorded.local_day, recorded.channel, recorded.store, recorded.staff, raw.money(recorded.amount),
            recorded.quantity, recorded.external_id, recorded.reverses_id, raw.json(recorded.payload), recorded_at,
        ))
    raw.insert("interactions", INSERT_COLUMNS, rows)


def _in_chunks(values: list, size: int = 900) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _resolve_customers(ctx: TenantContext, valid: list[tuple[int, dict]], out: BulkResult) -> None:
    """Turn customer ids/codes into ids of live customers of this tenant."""
    ids = sorted({item["customer_id"] for _, item in valid if item.get("customer_id") is not None})
    codes = sorted({item["customer_code"] for _, item in valid if "customer_code" in item})
    raw = RawCursor(ctx.session)
    live_ids = {row[0] for row in raw.select_in("id", "customers", "id", ids, ctx.tenant_id, where="AND deleted_at IS NULL")}
    by_code = dict(raw.select_in("code, id", "customers", "code", codes, ctx.tenant_id, where="AND deleted_at IS NULL"))
    keep = []
    for index, item in valid:
        if "customer_code" in item:
            customer_id = by_code.get(item.pop("customer_code"))
            if customer_id is None:
                out.errors[index] = [FieldError("customer_code", "no customer with this code in this tenant", "NOT_FOUND")]
                continue
            item["customer_id"] = customer_id
        elif item.get("customer_id") is not None and item["customer_id"] not in live_ids:
            out.errors[index] = [FieldError("customer_id", f"no customer {item['customer_id']} in this tenant", "NOT_FOUND")]
            continue
        keep.append((index, item))
    valid[:] = keep


def refunds_of(ctx: TenantContext, purchase_ids: Sequence[int]) -> list[tuple[int, int, Decimal]]:
    """(refund id, purchase id, amount) of every stored refund of ``purchase_ids``.

    One probe of ix_interactions_tenant_reverses per purchase: the cost of a
    refund must not grow with the tenant's history (docs/operations.md,
    "Refunds"). The IS NOT NULL lets both planners match the partial index.
    """
    rows = RawCursor(ctx.session).select_in("id, reverses_id, amount", "interactions", "reverses_id",
                                            sorted(set(purchase_ids)), ctx.tenant_id, where="AND reverses_id IS NOT NULL")
    return [(refund_id, purchase_id, Decimal(amount or 0).quantize(CENT)) for refund_id, purchase_id, amount in rows]


def _resolve_refunds(ctx: TenantContext, valid: list[tuple[int, dict]], out: BulkResult) -> None:
    """Check each refund against the purchase it reverses (unknown, other
    customer, dated before it, over-refund)."""
    refunds = [(i, item) for i, item in valid if item["kind"] == InteractionKind.REFUND.code]
    if not refunds:
        return
    ids = sorted({item["reverses_id"] for _, item in refunds if "reverses_id" in item})
    ext = sorted({item["reverses_external_id"] for _, item in refunds if "reverses_external_id" in item})
    purchases: dict[int, tuple] = {}
    by_ext: dict[str, int] = {}
    columns = (Interaction.id, Interaction.customer_id, Interaction.kind, Interaction.amount, Interaction.external_id,
               Interaction.occurred_at)
    for part in _in_chunks(ids):
        for row in ctx.session.execute(select(*columns).where(Interaction.tenant_id == ctx.tenant_id, Interaction.id.in_(part))):
            purchases[row.id] = row
    for part in _in_chunks(ext):
        for row in ctx.session.execute(select(*columns).where(Interaction.tenant_id == ctx.tenant_id, Interaction.external_id.in_(part))):
            purchases[row.id] = row
            by_ext[row.external_id] = row.id
    _lock_chunk_customers(ctx, valid, purchases.values())
    refunded: dict[int, Decimal] = defaultdict(Decimal)
    for _, purchase_id, amount in refunds_of(ctx, list(purchases)):
        refunded[purchase_id] += amount
    bad: set[int] = set()
    for index, item in refunds:
        field_name = "reverses_id" if "reverses_id" in item else "reverses_external_id"
        purchase_id = item.get("reverses_id") if field_name == "reverses_id" else by_ext.get(item.pop("reverses_external_id"))
        purchase = purchases.get(purchase_id) if purchase_id is not None else None
        if purchase is None or purchase.kind != InteractionKind.PURCHASE.code:
            out.errors[index] = [FieldError(field_name, "no purchase with this reference in this tenant", "NOT_FOUND")]
            bad.add(index)
            continue
        if item.get("customer_id") is None:
            item["customer_id"] = purchase.customer_id
        elif item["customer_id"] != purchase.customer_id:
            out.errors[index] = [FieldError(field_name, "the purchase belongs to another customer")]
            bad.add(index)
            continue
        if item["occurred_at"] < purchase.occurred_at:
            out.errors[index] = [FieldError("occurred_at", f"the refund ({item['occurred_at'].isoformat()}) is dated "
                                                           f"before its purchase ({purchase.occurred_at.isoformat()})")]
            bad.add(index)
            continue
        already = refunded[purchase.id]
        remaining = Decimal(purchase.amount or 0).quantize(CENT) - already
        if item["amount"] > remaining:
            out.errors[index] = [FieldError("amount", f"refund {item['amount']} exceeds what is left to refund on the purchase ({remaining})")]
            bad.add(index)
            continue
        item["reverses_id"] = purchase.id
        refunded[purchase.id] = already + item["amount"]  # later refunds in this batch see this one
    if bad:
        valid[:] = [(i, item) for i, item in valid if i not in bad]


def _lock_chunk_customers(ctx: TenantContext, valid: list[tuple[int, dict]], purchases: Iterable) -> None:
    """PostgreSQL: lock the chunk's customers before reading what their purchases had refunded.

    Two concurrent refunds of one purchase would otherwise both read the
    same sum and together refund more than was paid. Every refund of a
    purchase locks its customer (here, and update_stats before it commits),
    so the second waits for the first and then reads its refund. The set
    covers every customer update_stats locks later, taken in id order, so
    the locks queue rather than deadlock (as in _lock_customers_up_front).
    """
    raw = RawCursor(ctx.session)
    if not raw.postgres:
        return  # SQLite write transactions are serial already
    ids = {item["customer_id"] for _, item in valid if item.get("customer_id") is not None}
    ids.update(purchase.customer_id for purchase in purchases)
    raw.select_in("id", "customers", "id", sorted(ids), ctx.tenant_id, lock="FOR NO KEY UPDATE")


def _drop_duplicates(ctx: TenantContext, valid: list[tuple[int, dict]], out: BulkResult) -> list[tuple[int, dict]]:
    external_ids = [item["external_id"] for _, item in valid if item.get("external_id")]
    raw = RawCursor(ctx.session)
    stored = dict(raw.select_in("external_id, id", "interactions", "external_id", sorted(set(external_ids)), ctx.tenant_id))
    seen: set[str] = set()
    keep = []
    for index, item in valid:
        external_id = item.get("external_id")
        if external_id:
            if external_id in stored:
                out.duplicates.append(Duplicate(index, external_id, stored[external_id]))
                continue
            if external_id in seen:
                out.duplicates.append(Duplicate(index, external_id, None))
                continue
            seen.add(external_id)
        keep.append((index, item))
    return keep


_BATCH_COLUMNS = "customer_id, kind, amount, occurred_at, local_day"  # what the fold reads of a new row

# The statistics of the customers in the batch, folded in by one UPDATE that
# joins them to the aggregate of the batch's new rows (_BATCH_AGGREGATE). SET
# expressions see the row as it was. Times compare as stored (SQLite:
# fixed-width ISO text). Purchase days: new days all after the last known
# one are all new (history appended); otherwise (back-filled history)
# recount them exactly. {plain} is SQLite's unary +: it keeps the recount
# on the customer's own rows, not the tenant's whole kind index.
_FOLD_STATS = """
UPDATE customers AS c SET
  first_purchase_at = CASE WHEN v.first_at < c.first_purchase_at OR c.first_purchase_at IS NULL
                           THEN coalesce(v.first_at, c.first_purchase_at) ELSE c.first_purchase_at END,
  last_purchase_at = CASE WHEN v.last_at > c.last_purchase_at OR c.last_purchase_at IS NULL
                          THEN coalesce(v.last_at, c.last_purchase_at) ELSE c.last_purchase_at END,
  purchase_days = CASE
    WHEN v.purchases = 0 THEN c.purchase_days
    WHEN c.last_purchase_day IS NULL OR v.first_day > c.last_purchase_day THEN c.purchase_days + v.days
    ELSE (SELECT count(DISTINCT p.local_day) FROM interactions AS p
          WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id AND {plain}p.kind = 'PURCHASE') END,
  last_purchase_day = CASE WHEN v.last_day > c.last_purchase_day OR c.last_purchase_day IS NULL
                           THEN coalesce(v.last_day, c.last_purchase_day) ELSE c.last_purchase_day END,
  purchase_count = c.purchase_count + v.purchases,
  total_spent = round(coalesce(c.total_spent, 0) + v.spent, 2),
  refunded_amount = round(coalesce(c.refunded_amount, 0) + v.refunded, 2),
  role = CASE WHEN v.purchases > 0 AND c.role = 'POTENTIAL' THEN 'EXISTING' ELSE c.role END
FROM {aggregate}
WHERE c.tenant_id = {mark} AND c.id = v.customer_id
"""
_BATCH_AGGREGATE = """
  SELECT customer_id,
         sum(CASE WHEN kind = 'PURCHASE' THEN 1 ELSE 0 END) AS purchases,
         coalesce(sum(CASE WHEN kind = 'PURCHASE' THEN amount END), 0) AS spent,
         coalesce(sum(CASE WHEN kind = 'REFUND' THEN amount END), 0) AS refunded,
         min(CASE WHEN kind = 'PURCHASE' THEN occurred_at END) AS first_at,
         max(CASE WHEN kind = 'PURCHASE' THEN occurred_at END) AS last_at,
         min(CASE WHEN kind = 'PURCHASE' THEN local_day END) AS first_day,
         max(CASE WHEN kind = 'PURCHASE' THEN local_day END) AS last_day,
         count(DISTINCT CASE WHEN kind = 'PURCHASE' THEN local_day END) AS days
  FROM {batch_rows} AS i
  WHERE kind IN ('PURCHASE', 'REFUND')
  GROUP BY customer_id
"""
# PostgreSQL gets the aggregate back as arrays: joined as a subquery, its
# row estimate (1) made the planner rerun it once per customer of the tenant.
_AGGREGATE_ARRAYS = ("unnest(%s::bigint[], %s::bigint[], %s::numeric[], %s::numeric[], %s::timestamptz[], "
                     "%s::timestamptz[], %s::int[], %s::int[], %s::bigint[]) "
                     "AS v(customer_id, purchases, spent, refunded, first_at, last_at, first_day, last_day, days)")


def update_stats(ctx: TenantContext, recorded: Sequence[RecordedInteraction]) -> None:
    """Fold newly recorded purchases and refunds into the customers' statistics.

    The database does the arithmetic (_BATCH_AGGREGATE, _FOLD_STATS) over
    the rows just inserted: in Python it cost more than inserting them.
    """
    new = [i for i in recorded if i.kind in (PURCHASE, REFUND)]
    if not new:
        return
    raw = RawCursor(ctx.session)
    ids = sorted(i.id for i in new)
    if raw.postgres:
        # PostgreSQL lets other writers in: lock the rows first, in id order
        # (no deadlock between two batches), so no other batch's addition is
        # overwritten. NO KEY UPDATE, the lock the UPDATE itself takes, does
        # not wait for the key-share locks that inserting interactions
        # (foreign keys) holds. SQLite writers are serial.
        raw.select_in("id", "customers", "id", sorted({i.customer_id for i in new}), ctx.tenant_id,
                      lock="FOR NO KEY UPDATE")
        # One primary-key probe per new row, whatever the planner believes
        # of the table's size.
        batch_rows = f"({probe_sql(_BATCH_COLUMNS, 'interactions', 'id', 'bigint[]')})"
        aggregate = raw.fetchall(_BATCH_AGGREGATE.format(batch_rows=batch_rows), [ids, ctx.tenant_id])
        if aggregate:
            raw.execute(_FOLD_STATS.format(mark="%s", plain="", aggregate=_AGGREGATE_ARRAYS),
                        [*map(list, zip(*aggregate)), ctx.tenant_id])
        return
    # SQLite: the ids come in a few runs (allocated as a block per insert);
    # writers are serial, so each run holds only this batch's rows. The
    # unary + keeps the planner on those runs rather than the tenant's
    # customer index (which it liked for the GROUP BY).
    runs = _runs(ids)
    for start in range(0, len(runs), 400):  # at most 999 parameters a statement
        part = runs[start : start + 400]
        batch_rows = (f"(SELECT {_BATCH_COLUMNS} FROM interactions "
                      f"WHERE +tenant_id = ? AND ({' OR '.join(['id BETWEEN ? AND ?'] * len(part))}))")
        aggregate = f"({_BATCH_AGGREGATE.format(batch_rows=batch_rows)}) AS v"
        raw.execute(_FOLD_STATS.format(mark="?", plain="+", aggregate=aggregate),
                    [ctx.tenant_id, *(bound for run in part for bound in run), ctx.tenant_id])
    _check_totals_fit(raw, ctx.tenant_id, sorted({i.customer_id for i in new}))


MAX_TOTAL = Decimal("1000000000000")  # customers.total_spent and refunded_amount: NUMERIC(14, 2)


def _check_totals_fit(raw: RawCursor, tenant_id: int, customer_ids: list[int]) -> None:
    """SQLite stores a total past NUMERIC(14, 2) (as REAL) where PostgreSQL
    refuses the UPDATE (engine/integrity.py names ``amount``): refuse it here
    too, in the same words, so both databases keep the same totals."""
    for start in range(0, len(customer_ids), 900):
        part = customer_ids[start : start + 900]
        over = raw.fetchall(f"SELECT 1 FROM customers WHERE tenant_id = ? AND id IN ({raw.placeholders(len(part))}) "
                            "AND (total_spent >= ? OR refunded_amount >= ?) LIMIT 1",
                            [tenant_id, *part, float(MAX_TOTAL), float(MAX_TOTAL)])
        if over:
            raise ValidationFailed([FieldError("amount", f"would take a stored total past what it can hold "
                                                         f"({MAX_TOTAL - CENT:,})")])


def _runs(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    first = last = ids[0]
    for value in ids[1:]:
        if value != last + 1:
            runs.append((first, last))
            first = value
        last = value
    runs.append((first, last))
    return runs


def get_interaction(ctx: TenantContext, interaction_id: int) -> RecordedInteraction:
    row = ctx.session.get(Interaction, interaction_id)
    if row is None or row.tenant_id != ctx.tenant_id:
        raise not_found("id", f"no interaction {interaction_id} in this tenant")
    return to_recorded(row)


def to_recorded(row: Interaction) -> RecordedInteraction:
    return RecordedInteraction(
        id=row.id, customer_id=row.customer_id, kind=row.kind, occurred_at=row.occurred_at,
        local_day=row.local_day, amount=None if row.amount is None else Decimal(row.amount).quantize(CENT),
        quantity=row.quantity, channel=row.channel, store=row.store, staff=row.staff,
        external_id=row.external_id, reverses_id=row.reverses_id, payload=row.payload or {},
    )
