"""Loyalty services: enrolment, earning, reversal, redemption, rewards, adjustments.

Everything runs in the caller's transaction (``ctx.session``). Concurrency
(see docs/loyalty.md):

- the member row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
  write transactions are ``BEGIN IMMEDIATE``, so they are already serial)
  before any lot is read for spending or reversing;
- the balance only moves through relative UPDATEs, and a spend through the
  conditional ``UPDATE ... SET balance = balance - :p WHERE id = :id AND
  balance >= :p`` whose row count is checked;
- every ledger entry has an idempotency key, UNIQUE per tenant: a retried or
  concurrent duplicate request replays the first result instead of applying
  twice.

Expected failures raise ``ValidationFailed`` naming the field; the
transaction is then rolled back, so balances and ledger are untouched.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from api.ids import to_global_id  # reasons name the purchase as clients can look it up (node(id:))
from engine import input_bounds
from engine.bulk import COPY_FROM_ROWS, RawCursor, allocate_ids, copy_into, sqlite_time
from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed, invalid, not_found
from engine.models import Customer, Interaction
from engine.types import CENT, UtcDateTime, utcnow
from engine.services import audit
from engine.services.interactions import refunds_of
from plugins.loyalty import kernels
from plugins.loyalty.hookspecs import TierChange
from plugins.loyalty.ledger_math import (
    InsufficientPoints,
    Lot,
    allocate_redemption,
    max_redeemable_points,
    points_to_reverse,
    points_value,
    reverse_earning,
    settle_debt,
)
from plugins.loyalty.models import (
    ENROLMENT_KINDS,
    MEMBER_STATUSES,
    REWARD_KINDS,
    LoyaltyCoupon,
    LoyaltyExpirySweep,
    LoyaltyLedgerEntry,
    LoyaltyLot,
    LoyaltyMember,
    LoyaltyReward,
    LoyaltyTierChange,
)
from plugins.loyalty.rules import (DEFAULT_REGISTRY, Earning, RuleRegistry, _fmt, points_for_event, points_for_purchase,
                                   round_points)
from plugins.loyalty.settings import LoyaltySettings

MODULE = "loyalty"
IN_CHUNK = 900
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

M = LoyaltyMember.__table__
L = LoyaltyLot.__table__
E = LoyaltyLedgerEntry.__table__
H = LoyaltyTierChange.__table__
R = LoyaltyReward.__table__
C = LoyaltyCoupon.__table__
S = LoyaltyExpirySweep.__table__

def registry_for(ctx: TenantContext) -> RuleRegistry:
    """The built-in earning rules plus those integrators add through
    ``guanxi_loyalty_earning_rules`` (for this tenant's enabled plugins)."""
    extra = [rule for rules in ctx.hooks.guanxi_loyalty_earning_rules() for rule in (rules or [])]
    if not extra:
        return DEFAULT_REGISTRY
    registry = DEFAULT_REGISTRY.copy()
    for rule in extra:
        registry.register(rule)
    return registry


# -- small helpers ------------------------------------------------------------------


def settings_of(ctx: TenantContext) -> LoyaltySettings:
    return ctx.module_settings(MODULE)


def require_enabled(ctx: TenantContext) -> LoyaltySettings:
    if MODULE not in ctx.enabled_modules:
        raise invalid("module", "the loyalty module is not enabled for this tenant", "MODULE_DISABLED")
    return settings_of(ctx)


def is_postgres(ctx: TenantContext) -> bool:
    return ctx.session.get_bind().dialect.name == "postgresql"


def _chunks(values: Sequence, size: int = IN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def parse_points(value: Any, field: str = "points", allow_negative: bool = False) -> int:
    """A whole, non-zero number of points (positive unless ``allow_negative``)."""
    if isinstance(value, bool) or value is None:
        raise invalid(field, "must be a whole number of points")
    if isinstance(value, int):
        points = value
    else:
        try:
            number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            raise invalid(field, f"{value!r} is not a whole number of points") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise invalid(field, f"{value} is not a whole number of points (no fractions)")
        points = int(number)
    if points == 0:
        raise invalid(field, "must not be 0")
    if abs(points) > input_bounds.MAX_POINTS:
        raise invalid(field, f"{points} is out of range: at most {input_bounds.MAX_POINTS:,} points at a time")
    if points < 0 and not allow_negative:
        raise invalid(field, f"must be a positive number of points, got {points}")
    return points


MAX_AMOUNT = input_bounds.MAX_AMOUNT  # as for interaction amounts
MAX_VALID_DAYS = 3650  # a coupon valid for ten years; more overflows its dates (3,000,000 days is past year 9999)


def parse_money(value: Any, field: str) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid(field, f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise invalid(field, "must be an amount greater than 0")
    if amount >= MAX_AMOUNT:
        raise invalid(field, f"is too large: at most {MAX_AMOUNT - CENT:,}")
    if amount != amount.quantize(CENT):
        raise invalid(field, "has more than 2 decimal places")
    return amount


def add_months(t: datetime, months: int) -> datetime:
    """Calendar months (day clamped to the month's end), the kernels' rule."""
    us = kernels._add_months(kernels.to_epoch_us(t), months)
    return EPOCH + timedelta(microseconds=int(us))


def _tier_index(s: LoyaltySettings, code: str) -> int:
    # A tier removed from the settings counts as the lowest until re-evaluated.
    for i, t in enumerate(s.tiers):
        if t.code == code:
            return i
    return 0


def qualified_tier(s: LoyaltySettings, metric: Decimal | float) -> int:
    value = metric if isinstance(metric, Decimal) else Decimal(str(metric))
    q = 0
    for i, t in enumerate(s.tiers):
        if value >= t.threshold:
            q = i
    return q


@dataclasses.dataclass
class MemberState:
    id: int
    customer_id: int
    status: str
    tier_code: str
    tier_achieved_at: datetime
    referrer_customer_id: int | None
    first_purchase_at: datetime | None
    balance: int


_MEMBER_COLS = (M.c.id, M.c.customer_id, M.c.status, M.c.tier_code, M.c.tier_achieved_at,
                M.c.referrer_customer_id, M.c.first_purchase_at, M.c.balance)


def _load_members(ctx: TenantContext, where, lock: bool) -> list[MemberState]:
    stmt = sa.select(*_MEMBER_COLS).where(M.c.tenant_id == ctx.tenant_id, where).order_by(M.c.id)
    if lock and is_postgres(ctx):
        stmt = stmt.with_for_update()
    return [MemberState(*row) for row in ctx.session.execute(stmt)]


def members_by_customer(ctx: TenantContext, customer_ids: Sequence[int], lock: bool = False) -> dict[int, MemberState]:
    """The members among ``customer_ids`` (locked FOR UPDATE on PostgreSQL when ``lock``, in customer order).

    Through the driver: the ingest hook loads a member per buyer, and
    SQLAlchemy's per-row result processing cost more than the query.
    """
    raw = RawCursor(ctx.session)
    rows = raw.select_in("id, customer_id, status, tier_code, tier_achieved_at, referrer_customer_id, "
                         "first_purchase_at, balance", "loyalty_members", "customer_id",
                         sorted(set(customer_ids)), ctx.tenant_id, lock="FOR UPDATE" if lock else "")
    read_time = raw.read_time
    return {
        row[1]: MemberState(row[0], row[1], row[2], row[3], read_time(row[4]), row[5], read_time(row[6]), row[7])
        for row in rows
    }


def member_of(ctx: TenantContext, customer_id: int, lock: bool = False) -> MemberState:
    found = _load_members(ctx, M.c.customer_id == customer_id, lock)
    if not found:
        raise not_found("customer_id", f"customer {customer_id} is not a member of the loyalty programme")
    return found[0]


def get_member(ctx: TenantContext, customer_id: int) -> LoyaltyMember | None:
    return ctx.session.execute(
        sa.select(LoyaltyMember).where(LoyaltyMember.tenant_id == ctx.tenant_id, LoyaltyMember.customer_id == customer_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _converter(column: sa.Column, pg: bool):
    if isinstance(column.type, UtcDateTime):
        if pg:
            return lambda v: v
        return lambda v: None if v is None else sqlite_time(v)
    if column.name == "details":
        return lambda v: v if isinstance(v, str) else json.dumps(v or {})  # str: already JSON
    return None


def raw_insert(ctx: TenantContext, table: sa.Table, rows: Sequence[dict], chunk: int = 50_000) -> None:
    """Insert dict rows through the DB-API cursor's executemany, in the session's transaction.

    SQLAlchemy's per-row parameter processing costs ~35 us a row; this path is
    what keeps earning at ingest and the periodic jobs set-based and cheap.
    """
    if not rows:
        return
    pg = is_postgres(ctx)
    columns = list(rows[0])
    convert = [(i, f) for i, f in ((i, _converter(table.c[k], pg)) for i, k in enumerate(columns)) if f is not None]
    mark = "%s" if pg else "?"
    marks = ", ".join(f"CAST({mark} AS jsonb)" if pg and k == "details" else mark for k in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    cursor = ctx.session.connection().connection.cursor()

    def values(row: dict) -> list:
        out = [row[k] for k in columns]
        for i, f in convert:
            out[i] = f(out[i])
        return out

    try:
        if pg and len(rows) >= COPY_FROM_ROWS:  # COPY: several times faster than executemany on PostgreSQL
            with copy_into(ctx.session.connection().connection, table.name, ", ".join(columns)) as copy:
                for row in rows:
                    copy.write_row(values(row))
            return
        for start in range(0, len(rows), chunk):
            cursor.executemany(sql, [values(row) for row in rows[start : start + chunk]])
    finally:
        cursor.close()


def raw_executemany(ctx: TenantContext, sql: str, params: Sequence[tuple]) -> None:
    """``sql`` written with ``?`` placeholders, run through the DB-API executemany."""
    if not params:
        return
    if is_postgres(ctx):
        sql = sql.replace("?", "%s")
    cursor = ctx.session.connection().connection.cursor()
    try:
        cursor.executemany(sql, list(params))
    finally:
        cursor.close()


def swept_through(ctx: TenantContext, share_lock: bool = False) -> datetime | None:
    """The tenant's expiry watermark (see LoyaltyExpirySweep).

    ``share_lock`` (PostgreSQL): hold the tenant row FOR SHARE so a concurrent
    expiry job (which takes it FOR NO KEY UPDATE) cannot move the watermark
    past a back-dated lot this transaction is about to add.
    """
    if share_lock and is_postgres(ctx):
        ctx.session.execute(sa.text("SELECT id FROM tenants WHERE id = :t FOR SHARE"), {"t": ctx.tenant_id})
    return ctx.session.execute(sa.select(S.c.swept_through).where(S.c.tenant_id == ctx.tenant_id)).scalar()


def _existing_entry(ctx: TenantContext, key: str):
    return ctx.session.execute(
        sa.select(E).where(E.c.tenant_id == ctx.tenant_id, E.c.idempotency_key == key)
    ).first()


# -- writes shared by every path ----------------------------------------------------


class Writer:
    """Collects ledger entries, lots, balance deltas and tier changes; writes them set-based."""

    def __init__(self, ctx: TenantContext, s: LoyaltySettings):
        self.ctx = ctx
        self.s = s
        self.entries: list[dict] = []
        self.lots: list[dict] = []
        self.deltas: dict[int, int] = defaultdict(int)
        self.history: list[dict] = []
        self.tier_changes: list[TierChange] = []
        self.now = utcnow()
        self.tenant_id = ctx.tenant_id
        self.actor = ctx.actor
        self.expiry = timedelta(days=s.points_expiry_days)

    def entry(self, member: MemberState, kind: str, points: int, key: str, at: datetime, *, rule: str | None = None,
              interaction_id: int | None = None, reason: str = "", details: dict | None = None) -> dict:
        row = {
            "tenant_id": self.tenant_id, "member_id": member.id, "kind": kind, "rule": rule, "points": points,
            "idempotency_key": key, "interaction_id": interaction_id, "lot_id": None, "actor": self.actor,
            "reason": reason[:500], "details": details or "{}", "at": at, "recorded_at": self.now,
        }
        if member.balance + points > input_bounds.MAX_POINTS:  # checked before anything is written: the balance must stay readable
            raise invalid("points", f"the balance would be {member.balance + points:,} points, past the most a balance "
                                    f"holds ({input_bounds.MAX_POINTS:,})")
        self.entries.append(row)
        self.deltas[member.id] += points
        member.balance += points
        return row

    def earn(self, member: MemberState, kind: str, points: int, key: str, at: datetime, **kw) -> dict | None:
        """An earning: repays any debt first, the rest opens a lot expiring after points_expiry_days.

        An earning by a rule (a purchase, an event) is capped at what the
        balance can still hold (MAX_POINTS), the cap noted in the entry: the
        purchase is a fact and is stored; None when nothing is left to earn.
        A manual ADJUST past it is refused instead (``entry``)."""
        room = input_bounds.MAX_POINTS - member.balance
        capped = None
        if kind == "EARN" and points > room:
            if room <= 0:
                return None
            capped, points = points, room
        repay, into_lot = settle_debt(max(0, -member.balance), points)
        row = self.entry(member, kind, points, key, at, **kw)
        if repay or capped:
            row["details"] = {**({"repaid_debt": repay} if repay else {}),
                              **({"capped_from": capped, "balance_limit": input_bounds.MAX_POINTS} if capped else {})}
        if into_lot:
            lot = {
                "tenant_id": self.tenant_id, "member_id": member.id, "earned_at": at,
                "expires_at": at + self.expiry, "points": into_lot,
                "remaining": into_lot, "expired": 0, "_entry": row,
            }
            self.lots.append(lot)
        return row

    def tier_change(self, member: MemberState, new_code: str, why: str, at: datetime) -> None:
        self.history.append({
            "tenant_id": self.ctx.tenant_id, "member_id": member.id, "from_tier": member.tier_code,
            "to_tier": new_code, "why": why[:300], "at": at, "actor": self.ctx.actor,
        })
        self.tier_changes.append(TierChange(member.customer_id, member.id, member.tier_code, new_code, why[:300], at))
        member.tier_code = new_code
        member.tier_achieved_at = at

    def _expire_backdated(self, lot_rows: list[dict]) -> None:
        """Lots that open already behind the expiry watermark (back-dated history) expire at once."""
        if not lot_rows or min(lot["expires_at"] for lot in lot_rows) > self.now:
            return
        watermark = swept_through(self.ctx, share_lock=True)
        late = [lot for lot in lot_rows if watermark is not None and lot["expires_at"] <= watermark]
        if not late:
            return
        rows = []
        for lot in late:
            rows.append({
                "tenant_id": self.ctx.tenant_id, "member_id": lot["member_id"], "kind": "EXPIRE", "rule": None,
                "points": -lot["remaining"], "idempotency_key": f"expire:lot:{lot['id']}", "interaction_id": None,
                "lot_id": lot["id"], "actor": self.ctx.actor, "reason": f"{lot['remaining']} points expired",
                "details": {"lots": 1, "backdated": True}, "at": lot["expires_at"], "recorded_at": self.now,
            })
            self.deltas[lot["member_id"]] -= lot["remaining"]
        self.entries.extend(rows)

    def flush(self, tier_members: Iterable[MemberState] = ()) -> None:
        session = self.ctx.session
        lot_ids = allocate_ids(session, L, len(self.lots))
        for lot, new_id in zip(self.lots, lot_ids):
            lot["id"] = new_id
            lot["_entry"]["lot_id"] = new_id
        self._expire_backdated(self.lots)
        entry_ids = allocate_ids(session, E, len(self.entries))
        for row, new_id in zip(self.entries, entry_ids):
            row["id"] = new_id
        lot_rows = []
        for lot in self.lots:
            entry = lot.pop("_entry")
            lot_rows.append(dict(lot, entry_id=entry["id"]))
        raw_insert(self.ctx, E, self.entries)
        raw_insert(self.ctx, L, lot_rows)
        raw_executemany(self.ctx, "UPDATE loyalty_members SET balance = balance + ? WHERE id = ?",
                        [(d, mid) for mid, d in self.deltas.items() if d])
        tier_members = list(tier_members)
        if tier_members:
            session.execute(
                sa.update(M).where(M.c.id == sa.bindparam("b_id"))
                .values(tier_code=sa.bindparam("t"), tier_achieved_at=sa.bindparam("a")),
                [{"b_id": m.id, "t": m.tier_code, "a": m.tier_achieved_at} for m in tier_members],
                execution_options={"synchronize_session": False},
            )
        if self.history:
            session.execute(sa.insert(H), self.history)
        if self.tier_changes:
            self.ctx.hooks.guanxi_loyalty_tier_changed(ctx=self.ctx, changes=self.tier_changes)
        self.entries, self.lots, self.deltas, self.history, self.tier_changes = [], [], defaultdict(int), [], []


# -- enrolment ----------------------------------------------------------------------


def _insert_members(ctx: TenantContext, s: LoyaltySettings, rows: list[dict], actor: str) -> list[int]:
    ids = allocate_ids(ctx.session, M, len(rows))
    lowest = s.tiers[0].code
    for row, new_id in zip(rows, ids):
        row.update(id=new_id, tenant_id=ctx.tenant_id, number=f"M{new_id:09d}", status="ACTIVE", tier_code=lowest,
                   balance=0, first_purchase_at=None)
    if rows:
        ctx.session.execute(sa.insert(M), rows)
        ctx.session.execute(sa.insert(H), [
            {"tenant_id": ctx.tenant_id, "member_id": row["id"], "from_tier": None, "to_tier": lowest,
             "why": f"enrolled ({row['enrolled_via'].lower()})", "at": row["enrolled_at"], "actor": actor}
            for row in rows
        ])
    return ids


@audit.audited("loyalty.enroll", "LoyaltyMember")
def enroll(ctx: TenantContext, customer_id: int, via: str = "APPLICATION", referrer_customer_id: int | None = None,
           at: datetime | None = None) -> LoyaltyMember:
    """Enrol a customer; enrolling twice is a ValidationFailed on ``customer_id``."""
    s = require_enabled(ctx)
    via = str(via or "").upper()
    if via not in ENROLMENT_KINDS:
        raise invalid("via", f"unknown enrolment {via!r}; expected one of {', '.join(ENROLMENT_KINDS)}")
    customer = ctx.session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != ctx.tenant_id or customer.deleted_at is not None:
        raise not_found("customer_id", f"no customer {customer_id} in this tenant")
    if customer.erased_at is not None:
        raise invalid("customer_id", "this customer was erased and cannot be enrolled", "ERASED")
    if referrer_customer_id is not None:
        if referrer_customer_id == customer_id:
            raise invalid("referrer_customer_id", "a customer cannot refer themselves")
        ref = ctx.session.get(Customer, referrer_customer_id)
        if ref is None or ref.tenant_id != ctx.tenant_id or ref.deleted_at is not None:
            raise not_found("referrer_customer_id", f"no customer {referrer_customer_id} in this tenant")
    else:
        referrer_customer_id = customer.referrer_id
    existing = get_member(ctx, customer_id)
    if existing is not None:
        raise ValidationFailed([FieldError("customer_id", f"customer {customer_id} is already a member "
                                           f"(number {existing.number})", "ALREADY_ENROLLED")])
    at = at or utcnow()
    savepoint = ctx.session.begin_nested()
    try:
        _insert_members(ctx, s, [{"customer_id": customer_id, "enrolled_via": via, "enrolled_at": at,
                                  "tier_achieved_at": at, "referrer_customer_id": referrer_customer_id}], ctx.actor)
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        raise ValidationFailed([FieldError("customer_id", f"customer {customer_id} is already a member",
                                           "ALREADY_ENROLLED")]) from None
    # Purchases made before enrolling count towards the tier (not towards points).
    members = members_by_customer(ctx, [customer_id], lock=True)
    writer = Writer(ctx, s)
    changed = upgrade_tiers(ctx, s, writer, list(members.values()), at, {customer_id: at})
    writer.flush(changed)
    return get_member(ctx, customer_id)


@audit.audited("loyalty.set_status", "LoyaltyMember")
def set_status(ctx: TenantContext, customer_id: int, status: str, reason: str = "") -> LoyaltyMember:
    require_enabled(ctx)
    status = str(status or "").upper()
    if status not in MEMBER_STATUSES:
        raise invalid("status", f"unknown status {status!r}; expected one of {', '.join(MEMBER_STATUSES)}")
    member = member_of(ctx, customer_id, lock=True)
    ctx.session.execute(sa.update(M).where(M.c.id == member.id).values(status=status))
    return get_member(ctx, customer_id)


# -- earning from recorded interactions ---------------------------------------------


def _rolling_metric(ctx: TenantContext, s: LoyaltySettings, customer_ids: Sequence[int], member_ids: dict[int, int],
                    start: datetime, end: datetime) -> dict[int, Decimal]:
    """The qualifying metric per customer over (start, end]."""
    out: dict[int, Decimal] = {}
    session = ctx.session
    if s.qualifying_metric == "POINTS_12M":
        by_member = {mid: cid for cid, mid in member_ids.items()}
        for part in _chunks(sorted(by_member)):
            rows = session.execute(
                sa.select(E.c.member_id, sa.func.sum(E.c.points))
                .where(E.c.tenant_id == ctx.tenant_id, E.c.member_id.in_(list(part)), E.c.kind.in_(("EARN", "REVERSE")),
                       E.c.at > start, E.c.at <= end)
                .group_by(E.c.member_id)
            )
            for mid, total in rows:
                out[by_member[mid]] = Decimal(int(total or 0))
        return out
    I = Interaction.__table__
    if s.qualifying_metric == "PURCHASES_12M":
        value = sa.func.sum(sa.case((I.c.kind == "PURCHASE", 1), else_=0))
    else:
        value = sa.func.sum(sa.case((I.c.kind == "PURCHASE", I.c.amount), else_=-I.c.amount))
    for part in _chunks(sorted(customer_ids)):
        rows = session.execute(
            sa.select(I.c.customer_id, value)
            .where(I.c.tenant_id == ctx.tenant_id, I.c.customer_id.in_(list(part)), I.c.kind.in_(("PURCHASE", "REFUND")),
                   I.c.occurred_at > start, I.c.occurred_at <= end)
            .group_by(I.c.customer_id)
        )
        for cid, total in rows:
            value = Decimal(str(round(float(total or 0), 2)))
            out[cid] = value.quantize(CENT) if s.qualifying_metric == "SPEND_12M" else value
    return out


def upgrade_tiers(ctx: TenantContext, s: LoyaltySettings, writer: Writer, members: list[MemberState], as_of: datetime,
                  achieved: dict[int, datetime]) -> list[MemberState]:
    """Upgrade at once the members whose rolling-12-month metric reached a higher tier (as of ``as_of``)."""
    members = [m for m in members if m.status == "ACTIVE"]
    if not members:
        return []
    start = add_months(as_of, -12)
    metric = _rolling_metric(ctx, s, [m.customer_id for m in members], {m.customer_id: m.id for m in members}, start, as_of)
    changed = []
    for m in members:
        value = metric.get(m.customer_id, Decimal(0))
        q = qualified_tier(s, value)
        if q > _tier_index(s, m.tier_code):
            tier = s.tiers[q]
            writer.tier_change(m, tier.code, f"upgrade: rolling 12-month {s.qualifying_metric} {value} "
                                             f">= {tier.threshold}", achieved.get(m.customer_id, as_of))
            changed.append(m)
    return changed


class PurchaseEarner:
    """``points_for_purchase`` for a batch, with the factor combinations cached.

    With only the built-in rules, a purchase that is not a first purchase
    earns ``floor(amount × points_per_unit × tier × birthday × window)``: the
    factors depend on (tier, birthday month?, window day) only, so they are
    worked out once per combination; the result is the same Earning that
    ``points_for_purchase`` returns (tests/plugins/loyalty check it). First
    purchases (referral bonus) and tenants with integrator rules take the
    general path.
    """

    def __init__(self, s: LoyaltySettings, registry: RuleRegistry = DEFAULT_REGISTRY):
        self.s = s
        self.registry = registry
        self._combos: dict[tuple, tuple] = {}

    def __call__(self, amount: Decimal, tier_code: str, local: datetime, birthday, is_first: bool,
                 has_referrer: bool) -> list[Earning]:
        s = self.s
        if is_first or self.registry is not DEFAULT_REGISTRY:
            return points_for_purchase(s, amount, tier_code, local, birthday, is_first, has_referrer, registry=self.registry)
        day = local.date()
        key = (tier_code, birthday is not None and birthday.month == local.month, day)
        combo = self._combos.get(key)
        if combo is None:
            tier = s.tier(tier_code)
            factors = [(f"TIER_{tier.code}", tier.multiplier)]
            if key[1]:
                factors.append(("BIRTHDAY_MONTH", s.birthday_multiplier))
            windows = [w.multiplier for w in s.bonus_windows if w.covers(day)]
            if windows:
                factors.append(("BONUS_WINDOW", max(windows)))
            suffix = f" × {_fmt(s.points_per_currency_unit)}/unit" + "".join(f" × {_fmt(f)} {c}" for c, f in factors)
            combo = self._combos[key] = (tuple(factors), suffix)
        factors, suffix = combo
        if amount == 0:
            return []
        raw = amount * s.points_per_currency_unit
        for _, f in factors:
            raw *= f
        points = round_points(raw, s)
        return [Earning("PURCHASE", points, _fmt(amount) + suffix, "member", factors)] if points > 0 else []


def on_interactions_recorded(ctx: TenantContext, interactions: Sequence) -> None:
    """Earn, reverse and upgrade for one recorded batch, with set-based queries."""
    relevant = [i for i in interactions if i.kind in ("PURCHASE", "REFUND", "EVENT")]
    if not relevant:
        return
    s = settings_of(ctx)
    tz = ZoneInfo(ctx.tenant.timezone)
    session = ctx.session
    customer_ids = sorted({i.customer_id for i in relevant})
    members = members_by_customer(ctx, customer_ids, lock=True)
    purchases = sorted((i for i in relevant if i.kind == "PURCHASE" and i.amount), key=lambda i: (i.occurred_at, i.id))

    # Customers' birthdays and referrers (one query per 900 customers).
    buyers = sorted({p.customer_id for p in purchases})
    customers: dict[int, tuple] = {}
    Cu = Customer.__table__
    for part in _chunks(buyers):
        for row in session.execute(sa.select(Cu.c.id, Cu.c.birthday, Cu.c.referrer_id, Cu.c.erased_at, Cu.c.total_spent,
                                             Cu.c.purchase_count)
                                   .where(Cu.c.tenant_id == ctx.tenant_id, Cu.c.id.in_(list(part)))):
            customers[row.id] = row

    if s.auto_enroll_on_first_purchase:
        first: dict[int, datetime] = {}
        for p in purchases:
            first.setdefault(p.customer_id, p.occurred_at)
        new = [cid for cid in first if cid not in members and customers[cid].erased_at is None]
        if new:
            _insert_members(ctx, s, [{"customer_id": cid, "enrolled_via": "PURCHASE", "enrolled_at": first[cid],
                                      "tier_achieved_at": first[cid],
                                      "referrer_customer_id": customers[cid].referrer_id} for cid in new], ctx.actor)
            members.update(members_by_customer(ctx, new, lock=True))

    referrer_ids = {m.referrer_customer_id for m in members.values()
                    if m.referrer_customer_id is not None and m.first_purchase_at is None}
    referrers = members_by_customer(ctx, [r for r in referrer_ids if r not in members], lock=True) if referrer_ids else {}
    referrers.update({cid: members[cid] for cid in referrer_ids if cid in members})

    writer = Writer(ctx, s)
    earner = PurchaseEarner(s, registry_for(ctx))
    tier_codes = set(s.tier_codes)
    first_done: list[MemberState] = []
    touched: dict[int, MemberState] = {}
    latest: dict[int, datetime] = {}
    for p in purchases:
        m = members.get(p.customer_id)
        if m is None or m.status != "ACTIVE":
            continue
        is_first = m.first_purchase_at is None
        local = p.occurred_at.astimezone(tz)
        tier_code = m.tier_code if m.tier_code in tier_codes else s.tiers[0].code
        earnings = earner(p.amount, tier_code, local, customers[p.customer_id].birthday, is_first,
                          m.referrer_customer_id is not None)
        for e in earnings:
            target = m
            if e.beneficiary == "referrer":
                target = referrers.get(m.referrer_customer_id)
                if target is None or target.status != "ACTIVE":
                    continue  # the referrer is not an active member: no bonus (docs/loyalty.md)
            writer.earn(target, "EARN", e.points, f"earn:{p.id}:{e.rule}:{e.beneficiary}", p.occurred_at, rule=e.rule,
                        interaction_id=p.id, reason=e.reason)
        if is_first:
            m.first_purchase_at = p.occurred_at
            first_done.append(m)
        touched[m.id] = m
        latest[m.customer_id] = p.occurred_at

    for i in relevant:
        if i.kind != "EVENT":
            continue
        m = members.get(i.customer_id)
        if m is None or m.status != "ACTIVE":
            continue
        e = points_for_event(s, str((i.payload or {}).get("event") or ""))
        if e is not None:
            writer.earn(m, "EARN", e.points, f"earn:{i.id}:EVENT:member", i.occurred_at, rule="EVENT",
                        interaction_id=i.id, reason=e.reason)
            if s.qualifying_metric == "POINTS_12M":
                touched[m.id] = m
                latest[m.customer_id] = i.occurred_at

    if first_done:
        session.execute(
            sa.update(M).where(M.c.id == sa.bindparam("b_id")).values(first_purchase_at=sa.bindparam("f")),
            [{"b_id": m.id, "f": m.first_purchase_at} for m in first_done],
            execution_options={"synchronize_session": False},
        )
    writer.flush()

    refunds = [i for i in relevant if i.kind == "REFUND" and i.reverses_id is not None and i.amount]
    if refunds:
        _reverse_refunds(ctx, s, writer, members, sorted(refunds, key=lambda r: r.id))

    if touched:
        as_of = max(latest.values())
        candidates = [m for m in touched.values() if _may_upgrade(s, m, customers.get(m.customer_id))]
        changed = upgrade_tiers(ctx, s, writer, candidates, as_of, latest)
        writer.flush(changed)


def _may_upgrade(s: LoyaltySettings, m: MemberState, customer) -> bool:
    """False when lifetime totals (kept by the engine) already rule out reaching the next tier:
    the rolling 12-month spend or count can never exceed them. Saves the metric query."""
    idx = _tier_index(s, m.tier_code)
    if idx + 1 >= len(s.tiers):
        return False
    if customer is None or s.qualifying_metric == "POINTS_12M":
        return True
    bound = customer.total_spent if s.qualifying_metric == "SPEND_12M" else customer.purchase_count
    return Decimal(str(bound or 0)) >= s.tiers[idx + 1].threshold


def _load_lots(ctx: TenantContext, member_ids: Sequence[int], as_of: datetime,
               earned_by: datetime | None = None) -> dict[int, list[dict]]:
    """Spendable lots (remaining > 0, not expired as of ``as_of``) per member, oldest first;
    with ``earned_by``, only lots earned by then (a back-dated spend cannot use later points)."""
    out: dict[int, list[dict]] = defaultdict(list)
    for part in _chunks(sorted(set(member_ids))):
        where = [L.c.tenant_id == ctx.tenant_id, L.c.member_id.in_(list(part)), L.c.remaining > 0, L.c.expires_at > as_of]
        if earned_by is not None:
            where.append(L.c.earned_at <= earned_by)
        rows = ctx.session.execute(
            sa.select(L.c.id, L.c.member_id, L.c.earned_at, L.c.expires_at, L.c.remaining, L.c.expired)
            .where(*where)
            .order_by(L.c.member_id, L.c.earned_at, L.c.id)
        )
        for row in rows:
            out[row.member_id].append(dict(row._mapping))
    return out


def _reverse_refunds(ctx: TenantContext, s: LoyaltySettings, writer: Writer, members: dict[int, MemberState],
                     refunds: list) -> None:
    session = ctx.session
    I = Interaction.__table__
    purchase_ids = sorted({r.reverses_id for r in refunds})
    refund_ids = {r.id for r in refunds}
    earned: dict[int, Any] = {}
    amounts: dict[int, Decimal] = {}
    before: dict[int, Decimal] = defaultdict(Decimal)
    for part in _chunks(purchase_ids):
        # The earning's idempotency key names its purchase: the unique index finds it.
        keys = [f"earn:{pid}:PURCHASE:member" for pid in part]
        for row in session.execute(sa.select(E.c.interaction_id, E.c.member_id, E.c.points, E.c.lot_id).where(
                E.c.tenant_id == ctx.tenant_id, E.c.idempotency_key.in_(keys))):
            earned[row.interaction_id] = row
        for pid, amount in session.execute(sa.select(I.c.id, I.c.amount).where(I.c.tenant_id == ctx.tenant_id,
                                                                              I.c.id.in_(list(part)))):
            amounts[pid] = Decimal(amount or 0).quantize(CENT)
        # Refunds stored before this batch: through the engine's reverses index, not a scan of the tenant.
        for rid, pid, amount in refunds_of(ctx, part):
            if rid not in refund_ids:
                before[pid] += amount
    by_id = {m.id: m for m in members.values()}
    now = utcnow()
    lots = _load_lots(ctx, [earned[r.reverses_id].member_id for r in refunds if r.reverses_id in earned], now)
    own_ids = [row.lot_id for row in earned.values() if row.lot_id is not None]
    own: dict[int, dict] = {}
    for part in _chunks(own_ids):
        for row in session.execute(sa.select(L.c.id, L.c.member_id, L.c.earned_at, L.c.expires_at, L.c.remaining,
                                             L.c.expired).where(L.c.id.in_(list(part)))):
            own[row.id] = dict(row._mapping)
    lot_changes: dict[int, int] = defaultdict(int)
    for r in refunds:
        e = earned.get(r.reverses_id)
        if e is None:
            continue  # the purchase earned nothing (not a member then, or zero points)
        points = points_to_reverse(int(e.points), amounts[r.reverses_id], before[r.reverses_id], r.amount)
        before[r.reverses_id] += r.amount
        if points <= 0:
            continue
        member = by_id.get(e.member_id) or _load_members(ctx, M.c.id == e.member_id, True)[0]
        by_id[member.id] = member
        open_lots = lots[member.id]
        own_lot = own.get(e.lot_id) if e.lot_id is not None else None
        rows = list(open_lots)
        if own_lot is None:
            own_lot = {"id": None, "earned_at": EPOCH, "expires_at": EPOCH, "remaining": 0, "expired": 0}
        if not any(x["id"] == own_lot["id"] for x in rows):
            rows.append(own_lot)
            rows.sort(key=lambda x: (x["earned_at"], x["id"] or 0))
        index = next(k for k, x in enumerate(rows) if x["id"] == own_lot["id"])
        result = reverse_earning([Lot(x["earned_at"], x["expires_at"], x["remaining"]) for x in rows], index, points,
                                 as_of=now)
        takes = []
        for k, take in result.takes:
            rows[k]["remaining"] -= take
            lot_changes[rows[k]["id"]] += take
            takes.append([rows[k]["id"], take])
        lots[member.id] = [x for x in rows if x["remaining"] > 0 and x["id"] is not None]
        taken = points - result.forgiven
        writer.entry(member, "REVERSE", -taken, f"reverse:{r.id}", r.occurred_at, rule="REFUND", interaction_id=r.id,
                     reason=f"refund of {r.amount} on purchase {to_global_id('Interaction', r.reverses_id)}",
                     details={"purchase_id": r.reverses_id, "lots": takes, "forgiven": result.forgiven,
                              "debt": result.debt})
    if lot_changes:
        session.execute(
            sa.update(L).where(L.c.id == sa.bindparam("b_id")).values(remaining=L.c.remaining - sa.bindparam("t")),
            [{"b_id": lid, "t": t} for lid, t in lot_changes.items()], execution_options={"synchronize_session": False},
        )
    writer.flush()


# -- spending ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Redemption:
    entry_id: int
    points: int  # points taken (positive)
    balance: int  # balance after
    value: Decimal  # money the points pay for
    coupon_code: str | None = None
    replayed: bool = False  # the idempotency key had been used: nothing was applied again


def spend_time(at: Any) -> datetime:
    """When a spend happened: now by default, or a given timezone-aware instant (a naive time's
    zone would be a guess). It may be back-dated (history, an offline till); a reward may also
    be issued ahead, its coupon then not valid yet (docs/loyalty.md)."""
    if at is None:
        return utcnow()
    if not isinstance(at, datetime):
        raise invalid("at", f"must be a date-time, got {at!r}")
    if at.tzinfo is None:
        raise invalid("at", "must be timezone-aware")
    return at.astimezone(timezone.utc)


def _spend(ctx: TenantContext, s: LoyaltySettings, member: MemberState, points: int, at: datetime) -> list[list[int]]:
    """Take ``points`` from the member's oldest unexpired lots and the balance; the member row is locked."""
    if member.status != "ACTIVE":
        raise invalid("customer_id", f"the membership is {member.status.lower()}; points cannot be spent", "MEMBER_INACTIVE")
    if member.balance < 0:
        raise invalid("points", f"the member owes {-member.balance} points after a refund; redemption is blocked "
                                "until the balance is back above zero", "NEGATIVE_BALANCE")
    rows = _load_lots(ctx, [member.id], at, earned_by=at)[member.id]
    try:
        takes = allocate_redemption([Lot(x["earned_at"], x["expires_at"], x["remaining"]) for x in rows], points, as_of=at)
    except InsufficientPoints as error:
        raise invalid("points", f"not enough points: the balance is {error.balance}, {points} requested",
                      "INSUFFICIENT_POINTS") from None
    # The conditional update is what guarantees "never below zero", whatever the concurrency.
    done = ctx.session.execute(
        sa.update(M).where(M.c.id == member.id, M.c.balance >= points).values(balance=M.c.balance - points)
    ).rowcount
    if done != 1:
        raise invalid("points", f"not enough points: {points} requested", "INSUFFICIENT_POINTS")
    used = [[rows[k]["id"], take] for k, take in takes]
    updated = ctx.session.execute(
        sa.update(L).where(L.c.id == sa.bindparam("b_id"), L.c.remaining >= sa.bindparam("t"))
        .values(remaining=L.c.remaining - sa.bindparam("t")),
        [{"b_id": lid, "t": t} for lid, t in used], execution_options={"synchronize_session": False},
    ).rowcount
    if ctx.session.get_bind().dialect.supports_sane_multi_rowcount and updated not in (len(used), -1):
        raise RuntimeError("loyalty lots changed under a locked member")  # a bug: roll everything back
    member.balance -= points
    return used


def _idempotent(ctx: TenantContext, key: str, member: MemberState, kind: str):
    row = _existing_entry(ctx, key)
    if row is None:
        return None
    if row.member_id != member.id or row.kind != kind:
        raise invalid("idempotency_key", "this key was already used for another operation", "CONFLICT")
    return row


def _replay(ctx: TenantContext, s: LoyaltySettings, row) -> Redemption:
    balance = ctx.session.execute(sa.select(M.c.balance).where(M.c.id == row.member_id)).scalar_one()
    coupon = ctx.session.execute(sa.select(C.c.code).where(C.c.tenant_id == ctx.tenant_id, C.c.entry_id == row.id)).scalar()
    return Redemption(row.id, -row.points, balance, points_value(-row.points, s) if row.points < 0 else Decimal(0),
                      coupon, replayed=True)


def _insert_entry(ctx: TenantContext, row: dict) -> int:
    [new_id] = allocate_ids(ctx.session, E, 1)
    ctx.session.execute(sa.insert(E), [dict(row, id=new_id)])
    return new_id


def _run_once(ctx: TenantContext, s: LoyaltySettings, key: str, customer_id: int, kind: str, body) -> Redemption:
    """Run ``body(member)`` in a savepoint unless ``key`` was used; a concurrent duplicate replays."""
    member = member_of(ctx, customer_id, lock=True)
    previous = _idempotent(ctx, key, member, kind)
    if previous is not None:
        return _replay(ctx, s, previous)
    savepoint = ctx.session.begin_nested()
    try:
        result = body(member)
        savepoint.commit()
        return result
    except IntegrityError:
        savepoint.rollback()
        previous = _existing_entry(ctx, key)
        if previous is None:
            raise
        return _replay(ctx, s, previous)
    except BaseException:
        savepoint.rollback()
        raise


@audit.audited("loyalty.redeem_points", "LoyaltyMember")
def redeem_points(ctx: TenantContext, customer_id: int, points: Any, order_amount: Any, order_ref: str | None = None,
                  idempotency_key: str | None = None, at: datetime | None = None) -> Redemption:
    """Pay part of an order with points (default 100 points = 1 unit, at most 50 % of the order)."""
    s = require_enabled(ctx)
    points = parse_points(points)
    amount = parse_money(order_amount, "order_amount")
    key = f"redeem:{idempotency_key}" if idempotency_key else f"redeem:{uuid.uuid4().hex}"
    at = spend_time(at)
    cap = max_redeemable_points(amount, 10**15, s)
    if points > cap:
        raise invalid("points", f"at most {cap} points can pay for an order of {amount} "
                                f"({s.redemption.max_order_share * 100:g}% of it)", "OVER_ORDER_LIMIT")

    def body(member: MemberState) -> Redemption:
        used = _spend(ctx, s, member, points, at)
        value = points_value(points, s)
        entry_id = _insert_entry(ctx, {
            "tenant_id": ctx.tenant_id, "member_id": member.id, "kind": "REDEEM", "rule": "ORDER", "points": -points,
            "idempotency_key": key, "interaction_id": None, "lot_id": used[0][0] if len(used) == 1 else None,
            "actor": ctx.actor, "reason": f"{points} points paid {value} of order {order_ref or ''}".strip(),
            "details": {"lots": used, "order_ref": order_ref, "order_amount": str(amount), "value": str(value)},
            "at": at, "recorded_at": utcnow(),
        })
        return Redemption(entry_id, points, member.balance, value)

    return _run_once(ctx, s, key, customer_id, "REDEEM", body)


def _reward(ctx: TenantContext, code: str):
    row = ctx.session.execute(sa.select(R).where(R.c.tenant_id == ctx.tenant_id, R.c.code == str(code))).first()
    if row is None or not row.active:
        raise not_found("reward", f"no active reward {code!r} in the catalogue")
    return row


@audit.audited("loyalty.redeem_reward", "LoyaltyMember")
def redeem_reward(ctx: TenantContext, customer_id: int, reward_code: str, idempotency_key: str | None = None,
                  at: datetime | None = None) -> Redemption:
    """Exchange points for a catalogue reward; stock is decremented atomically and a coupon issued."""
    s = require_enabled(ctx)
    reward = _reward(ctx, reward_code)
    key = f"reward:{idempotency_key}" if idempotency_key else f"reward:{uuid.uuid4().hex}"
    at = spend_time(at)

    def body(member: MemberState) -> Redemption:
        if reward.stock is not None and reward.stock <= 0:
            raise invalid("reward", f"{reward.code} is out of stock", "OUT_OF_STOCK")
        used = _spend(ctx, s, member, reward.points_price, at)
        if reward.stock is not None:
            done = ctx.session.execute(sa.update(R).where(R.c.id == reward.id, R.c.stock >= 1)
                                       .values(stock=R.c.stock - 1)).rowcount
            if done != 1:
                raise invalid("reward", f"{reward.code} is out of stock", "OUT_OF_STOCK")
        entry_id = _insert_entry(ctx, {
            "tenant_id": ctx.tenant_id, "member_id": member.id, "kind": "REDEEM", "rule": "REWARD",
            "points": -reward.points_price, "idempotency_key": key, "interaction_id": None,
            "lot_id": used[0][0] if len(used) == 1 else None, "actor": ctx.actor,
            "reason": f"reward {reward.code} ({reward.name_en})", "details": {"lots": used, "reward": reward.code},
            "at": at, "recorded_at": utcnow(),
        })
        code = secrets.token_hex(5).upper()
        ctx.session.execute(sa.insert(C), [{
            "tenant_id": ctx.tenant_id, "member_id": member.id, "reward_id": reward.id, "entry_id": entry_id,
            "code": code, "valid_from": at, "valid_until": at + timedelta(days=reward.valid_days), "used_at": None,
            "order_ref": None,
        }])
        return Redemption(entry_id, reward.points_price, member.balance, reward.value or Decimal(0), code)

    return _run_once(ctx, s, key, customer_id, "REDEEM", body)


def use_coupon(ctx: TenantContext, code: str, order_ref: str | None = None, at: datetime | None = None):
    """Mark an issued coupon used: the wallet's ``plugins.loyalty.coupons.use_coupon`` (kept here for callers)."""
    from plugins.loyalty import coupons  # coupons.py builds on this module

    return coupons.use_coupon(ctx, code, order_ref, at)


@audit.audited("loyalty.adjust_points", "LoyaltyMember")
def adjust_points(ctx: TenantContext, customer_id: int, points: Any, reason: str,
                  idempotency_key: str | None = None, at: datetime | None = None) -> Redemption:
    """An admin correction: positive opens a lot (repaying debt first), negative spends FIFO. Reason required."""
    s = require_enabled(ctx)
    points = parse_points(points, allow_negative=True)
    reason = (reason or "").strip()
    if not reason:
        raise invalid("reason", "a reason is required for a manual adjustment")
    if len(reason) > 500:
        raise invalid("reason", "must be at most 500 characters")
    key = f"adjust:{idempotency_key}" if idempotency_key else f"adjust:{uuid.uuid4().hex}"
    at = at or utcnow()

    def body(member: MemberState) -> Redemption:
        if points > 0:
            writer = Writer(ctx, s)
            row = writer.earn(member, "ADJUST", points, key, at, rule="MANUAL", reason=reason)
            writer.flush()
            return Redemption(row["id"], -points, member.balance, Decimal(0))
        used = _spend(ctx, s, member, -points, at)
        entry_id = _insert_entry(ctx, {
            "tenant_id": ctx.tenant_id, "member_id": member.id, "kind": "ADJUST", "rule": "MANUAL", "points": points,
            "idempotency_key": key, "interaction_id": None, "lot_id": None, "actor": ctx.actor, "reason": reason,
            "details": {"lots": used}, "at": at, "recorded_at": utcnow(),
        })
        return Redemption(entry_id, -points, member.balance, Decimal(0))

    return _run_once(ctx, s, key, customer_id, "ADJUST", body)


# -- catalogue ----------------------------------------------------------------------------


@audit.audited("loyalty.create_reward", "LoyaltyMember")
def create_reward(ctx: TenantContext, code: str, name_zh: str, name_en: str, kind: str, points_price: Any,
                  stock: int | None = None, value: Any = None, valid_days: int = 90) -> LoyaltyReward:
    require_enabled(ctx)
    errors: list[FieldError] = []
    code = str(code or "").strip()
    if not code or len(code) > 64:
        errors.append(FieldError("code", "is required (at most 64 characters)"))
    for name, text in (("name_zh", name_zh), ("name_en", name_en)):
        if not str(text or "").strip():
            errors.append(FieldError(name, "is required"))
    kind = str(kind or "").upper()
    if kind not in REWARD_KINDS:
        errors.append(FieldError("kind", f"unknown kind {kind!r}; expected one of {', '.join(REWARD_KINDS)}"))
    try:
        price = parse_points(points_price, "points_price")
    except ValidationFailed as error:
        errors.extend(error.errors)
        price = None
    if stock is not None and (isinstance(stock, bool) or not isinstance(stock, int) or stock < 0):
        errors.append(FieldError("stock", "must be a whole number >= 0, or null for unlimited"))
    money = None
    if value is not None:
        try:
            money = parse_money(value, "value")
        except ValidationFailed as error:
            errors.extend(error.errors)
    if isinstance(valid_days, bool) or not isinstance(valid_days, int) or not 0 < valid_days <= MAX_VALID_DAYS:
        errors.append(FieldError("valid_days", f"must be a number of days from 1 to {MAX_VALID_DAYS:,}"))
    if not errors and ctx.session.execute(sa.select(R.c.id).where(R.c.tenant_id == ctx.tenant_id, R.c.code == code)).first():
        errors.append(FieldError("code", f"a reward {code!r} already exists", "CONFLICT"))
    if errors:
        raise ValidationFailed(errors)
    reward = LoyaltyReward(tenant_id=ctx.tenant_id, code=code, name_zh=name_zh.strip(), name_en=name_en.strip(),
                           kind=kind, points_price=price, stock=stock, value=money, valid_days=valid_days)
    ctx.session.add(reward)
    ctx.session.flush()
    return reward


# -- reads --------------------------------------------------------------------------------


def points_expiring(ctx: TenantContext, member_id: int, days: int, now: datetime | None = None) -> int:
    now = now or utcnow()
    total = ctx.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(L.c.remaining), 0)).where(
            L.c.tenant_id == ctx.tenant_id, L.c.member_id == member_id, L.c.remaining > 0,
            L.c.expires_at > now, L.c.expires_at <= now + timedelta(days=days))
    ).scalar_one()
    return int(total)


def next_tier(ctx: TenantContext, member: LoyaltyMember, now: datetime | None = None) -> tuple[str, Decimal] | None:
    """The next tier up and how much of the qualifying metric is still missing, or None at the top."""
    s = settings_of(ctx)
    idx = _tier_index(s, member.tier_code)
    if idx + 1 >= len(s.tiers):
        return None
    now = now or utcnow()
    metric = _rolling_metric(ctx, s, [member.customer_id], {member.customer_id: member.id}, add_months(now, -12), now)
    tier = s.tiers[idx + 1]
    return tier.code, max(Decimal(0), tier.threshold - metric.get(member.customer_id, Decimal(0)))


def ledger(ctx: TenantContext, member_id: int, first: int = 20, after: int | None = None,
           before: int | None = None, oldest_first: bool = False) -> list:
    """The member's entries, newest first: ``after`` an id, those older; ``before`` an id,
    those newer; ``oldest_first`` reads from the other end (a page backwards)."""
    stmt = sa.select(E).where(E.c.tenant_id == ctx.tenant_id, E.c.member_id == member_id)
    if after is not None:
        stmt = stmt.where(E.c.id < after)
    if before is not None:
        stmt = stmt.where(E.c.id > before)
    return list(ctx.session.execute(stmt.order_by(E.c.id.asc() if oldest_first else E.c.id.desc()).limit(first)))


def count_ledger(ctx: TenantContext, member_id: int) -> int:
    return int(ctx.session.execute(sa.select(sa.func.count()).select_from(E)
                                   .where(E.c.tenant_id == ctx.tenant_id, E.c.member_id == member_id)).scalar_one())


def tier_history(ctx: TenantContext, member_id: int) -> list:
    return list(ctx.session.execute(sa.select(H).where(H.c.tenant_id == ctx.tenant_id, H.c.member_id == member_id)
                                    .order_by(H.c.id)))


def program_summary(ctx: TenantContext, now: datetime | None = None) -> dict:
    """Members per tier, points outstanding, liability, points expiring in 30 days, redemption rate."""
    s = settings_of(ctx)
    now = now or utcnow()
    t = ctx.tenant_id
    per_tier = dict(ctx.session.execute(sa.select(M.c.tier_code, sa.func.count()).where(M.c.tenant_id == t)
                                        .group_by(M.c.tier_code)).all())
    outstanding = int(ctx.session.execute(sa.select(sa.func.coalesce(sa.func.sum(M.c.balance), 0))
                                          .where(M.c.tenant_id == t, M.c.balance > 0)).scalar_one())
    expiring = int(ctx.session.execute(sa.select(sa.func.coalesce(sa.func.sum(L.c.remaining), 0)).where(
        L.c.tenant_id == t, L.c.remaining > 0, L.c.expires_at > now,
        L.c.expires_at <= now + timedelta(days=30))).scalar_one())
    sums = dict(ctx.session.execute(sa.select(E.c.kind, sa.func.coalesce(sa.func.sum(E.c.points), 0))
                                    .where(E.c.tenant_id == t).group_by(E.c.kind)).all())
    earned = int(sums.get("EARN", 0)) + max(0, int(sums.get("ADJUST", 0)))
    redeemed = -int(sums.get("REDEEM", 0))
    return {
        "members_per_tier": {tier.code: int(per_tier.get(tier.code, 0)) for tier in s.tiers},
        "points_outstanding": outstanding,
        "liability": points_value(outstanding, s),
        "points_expiring_30d": expiring,
        "redemption_rate": round(redeemed / earned, 4) if earned else 0.0,
    }
