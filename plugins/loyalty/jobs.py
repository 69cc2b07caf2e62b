"""The loyalty periodic jobs: points expiry and tier evaluation over all members.

Both read columnar arrays in one ordered query each (times converted to epoch
by the database), run the numba kernels of ``kernels.py`` and write back
set-based. Both are safe to run twice: the second run finds nothing to
expire (the watermark has moved past those lots) and no tier to change (a downgrade resets
``tier_achieved_at``, so the next step down waits another
``tier_min_months``; with ``tier_min_months = 0`` every run may step one
tier further down, by design one tier per evaluation).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import sqlalchemy as sa

from engine.context import TenantContext
from engine.types import UtcDateTime, utcnow
from plugins.loyalty import kernels
from plugins.loyalty.service import (E, EPOCH, H, S, add_months, is_postgres, raw_executemany, raw_insert,
                                     require_enabled, swept_through)

Progress = Callable[[str, int, int], None]
FETCH = 200_000


def _epoch_us(ctx: TenantContext, column: str) -> str:
    if is_postgres(ctx):
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER) * 1000000"


def _fetch(ctx: TenantContext, sql: str, params: dict, columns: int) -> np.ndarray:
    stmt = sa.text(sql)
    if "as_of" in params:
        stmt = stmt.bindparams(sa.bindparam("as_of", type_=UtcDateTime()))
    if "since" in params:
        stmt = stmt.bindparams(sa.bindparam("since", type_=UtcDateTime()))
    if "start" in params:
        stmt = stmt.bindparams(sa.bindparam("start", type_=UtcDateTime()))
    # The DB-API cursor's plain tuples: numpy on SQLAlchemy Row objects probes each row (10x slower).
    cursor = ctx.session.execute(stmt, params).cursor
    parts = []
    while rows := cursor.fetchmany(FETCH):
        parts.append(np.array(rows, dtype=np.float64 if columns < 0 else np.int64))
    width = abs(columns)
    return np.concatenate(parts) if parts else np.empty((0, width))


def lock_members_in_customer_order(ctx: TenantContext, ids: np.ndarray) -> None:
    """Lock members (PostgreSQL) in the order the ingest hook locks them.

    Before the job's first write to them: its ledger inserts take key-share
    locks (foreign key checks) and its updates row locks, in whatever order
    they come; a purchase recorded meanwhile that holds one member and waits
    for another would deadlock with the job.
    """
    if ids.size and is_postgres(ctx):
        ctx.session.execute(sa.text("SELECT id FROM loyalty_members WHERE id = ANY(CAST(:ids AS bigint[])) "
                                    "ORDER BY customer_id FOR NO KEY UPDATE"), {"ids": ids.tolist()})


def _add_to_balances(ctx: TenantContext, ids: np.ndarray, amounts: np.ndarray) -> None:
    """``balance += amount`` per member id: one statement on PostgreSQL (unnest), executemany on SQLite."""
    if ids.size == 0:
        return
    if is_postgres(ctx):
        ctx.session.execute(
            sa.text("UPDATE loyalty_members AS t SET balance = t.balance + v.x "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:xs AS bigint[])) AS v(id, x) WHERE t.id = v.id"),
            {"ids": ids.tolist(), "xs": amounts.tolist()},
        )
    else:
        raw_executemany(ctx, "UPDATE loyalty_members SET balance = balance + ? WHERE id = ?",
                        list(zip(amounts.tolist(), ids.tolist())))


def expire_points(ctx: TenantContext, as_of: datetime | None = None, on_progress: Progress | None = None) -> dict:
    """Write one EXPIRE entry per member for the lots that expired since the last sweep; returns counts.

    Lots are never rewritten: a lot past ``expires_at`` is unspendable anyway
    (ledger_math), so the job only has to write what expired in the window
    (swept_through, as_of] and move the tenant's watermark (LoyaltyExpirySweep).
    """
    require_enabled(ctx)
    as_of = as_of or utcnow()
    t = ctx.tenant_id
    step = on_progress or (lambda *_: None)
    step("locking", 0, 4)
    if is_postgres(ctx):
        # Serialises with earnings that add back-dated lots (they hold the tenant row FOR SHARE).
        ctx.session.execute(sa.text("SELECT id FROM tenants WHERE id = :t FOR NO KEY UPDATE"), {"t": t})
    since = swept_through(ctx)
    if since is not None and as_of <= since:
        step("done", 4, 4)
        return {"members": 0, "lots": 0, "points": 0}
    step("reading lots", 1, 4)
    window = "" if since is None else "AND expires_at > :since "
    params = {"t": t, "as_of": as_of} | ({} if since is None else {"since": since})
    data = _fetch(ctx, f"SELECT member_id, {_epoch_us(ctx, 'expires_at')}, remaining FROM loyalty_lots "
                       f"WHERE tenant_id = :t AND remaining > 0 AND expires_at <= :as_of {window}"
                       "ORDER BY member_id", params, 3)
    member_of_lot = data[:, 0].astype(np.int64)
    members, starts = np.unique(member_of_lot, return_index=True)
    offsets = np.append(starts, member_of_lot.size).astype(np.int64)
    step("expiring", 2, 4)
    result = kernels.expire_lots(offsets, data[:, 1].astype(np.int64), data[:, 2].astype(np.int64), as_of)
    hit = result.per_member > 0
    step("writing", 3, 4)
    ids, points = members[hit], result.per_member[hit]
    lots_per_member = np.diff(offsets)[hit]
    as_of_us = kernels.to_epoch_us(as_of)
    now = utcnow()
    lock_members_in_customer_order(ctx, ids)
    raw_insert(ctx, E, [
        {"tenant_id": t, "member_id": mid, "kind": "EXPIRE", "rule": None, "points": -x,
         "idempotency_key": f"expire:{mid}:{as_of_us}", "interaction_id": None, "lot_id": None, "actor": ctx.actor,
         "reason": f"{x} points expired", "details": f'{{"lots": {n}}}', "at": as_of, "recorded_at": now}
        for mid, x, n in zip(ids.tolist(), points.tolist(), lots_per_member.tolist())
    ])
    _add_to_balances(ctx, ids, -points)
    if since is None:
        ctx.session.execute(sa.insert(S).values(tenant_id=t, swept_through=as_of, updated_at=now))
    else:
        ctx.session.execute(sa.update(S).where(S.c.tenant_id == t).values(swept_through=as_of, updated_at=now))
    step("done", 4, 4)
    return {"members": int(ids.size), "lots": int(lots_per_member.sum()), "points": int(points.sum())}


def _ts(ctx: TenantContext, t: datetime):
    return t if is_postgres(ctx) else t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _metric_sql(ctx: TenantContext, metric: str) -> str:
    if metric == "POINTS_12M":
        return ("SELECT m.customer_id, CAST(SUM(e.points) AS DOUBLE PRECISION) FROM loyalty_ledger e "
                "JOIN loyalty_members m ON m.id = e.member_id WHERE e.tenant_id = :t AND e.kind IN ('EARN', 'REVERSE') "
                "AND e.at > :start AND e.at <= :as_of GROUP BY m.customer_id")
    value = "CASE WHEN kind = 'PURCHASE' THEN 1 ELSE 0 END" if metric == "PURCHASES_12M" else \
        "CASE WHEN kind = 'PURCHASE' THEN amount ELSE -amount END"
    return (f"SELECT customer_id, CAST(SUM({value}) AS DOUBLE PRECISION) FROM interactions WHERE tenant_id = :t "
            "AND kind IN ('PURCHASE', 'REFUND') AND occurred_at > :start AND occurred_at <= :as_of GROUP BY customer_id")


def evaluate_tiers(ctx: TenantContext, as_of: datetime | None = None, on_progress: Progress | None = None) -> dict:
    """Upgrade or (after ``tier_min_months``) step down one tier, for every active member."""
    s = require_enabled(ctx)
    as_of = as_of or utcnow()
    t = ctx.tenant_id
    step = on_progress or (lambda *_: None)
    step("reading members", 0, 4)
    cursor = ctx.session.execute(sa.text(
        f"SELECT id, customer_id, tier_code, {_epoch_us(ctx, 'tier_achieved_at')}, tier_achieved_at "
        "FROM loyalty_members WHERE tenant_id = :t AND status = 'ACTIVE' ORDER BY id"), {"t": t}).cursor
    members = cursor.fetchall()
    if not members:
        step("done", 4, 4)
        return {"members": 0, "upgraded": 0, "downgraded": 0}
    codes = list(s.tier_codes)
    index = {c: i for i, c in enumerate(codes)}
    ids = np.fromiter((m[0] for m in members), np.int64, len(members))
    customers = np.fromiter((m[1] for m in members), np.int64, len(members))
    current = np.fromiter((index.get(m[2], 0) for m in members), np.int64, len(members))
    achieved = np.fromiter((m[3] for m in members), np.int64, len(members))
    step("reading the qualifying metric", 1, 4)
    rows = _fetch(ctx, _metric_sql(ctx, s.qualifying_metric),
                  {"t": t, "start": add_months(as_of, -12), "as_of": as_of}, -2)
    metric = np.zeros(len(members))
    if rows.size:
        order = np.argsort(customers)
        pos = np.searchsorted(customers, rows[:, 0].astype(np.int64), sorter=order)
        pos = np.clip(pos, 0, len(order) - 1)
        found = customers[order[pos]] == rows[:, 0].astype(np.int64)
        metric[order[pos[found]]] = np.round(rows[found, 1], 2)
    step("evaluating", 2, 4)
    result = kernels.evaluate_tiers(current, achieved, metric, kernels.thresholds_from_settings(s), s.tier_min_months,
                                    as_of)
    changed = np.flatnonzero(result.changed | (current != np.fromiter(
        (index.get(m[2], -1) for m in members), np.int64, len(members))))
    step("writing", 3, 4)
    up = down = 0
    params, history = [], []
    for k in changed.tolist():
        old, new = members[k][2], codes[int(result.tier[k])]
        if old == new:
            continue
        moved_up = index.get(old, -1) < int(result.tier[k])
        up += moved_up
        down += not moved_up
        new_at = EPOCH + np.timedelta64(int(result.achieved_at[k]), "us").item()
        params.append({"b_id": int(ids[k]), "t": new, "a": new_at, "old_t": old})
        why = (f"{'upgrade' if moved_up else 'downgrade'}: rolling 12-month {s.qualifying_metric} {metric[k]:.2f}"
               + ("" if moved_up else f", {old} held {s.tier_min_months} months"))
        history.append({"tenant_id": t, "member_id": int(ids[k]), "from_tier": old, "to_tier": new, "why": why,
                        "at": new_at, "actor": ctx.actor})
    if params:
        lock_members_in_customer_order(ctx, np.array([p["b_id"] for p in params], np.int64))
        # Conditional on the tier read: a member upgraded by a purchase meanwhile keeps that upgrade.
        raw_executemany(ctx, "UPDATE loyalty_members SET tier_code = ?, tier_achieved_at = ? WHERE id = ? AND tier_code = ?",
                        [(p["t"], _ts(ctx, p["a"]), p["b_id"], p["old_t"]) for p in params])
        raw_insert(ctx, H, history)
    step("done", 4, 4)
    return {"members": len(members), "upgraded": up, "downgraded": down}
