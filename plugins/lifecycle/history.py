"""Stage runs: classify every customer, store the stages, record each change as history.

``run_stages`` is the periodic job's and ``guanxi score --module lifecycle``'s
body: it derives the tenant's thresholds from its gaps, computes every live
customer's stage as of ``as_of`` (stages.py), compares with the stored stages
and, for each customer whose stage moved, writes the transitions in between
(active -> at_risk -> lapsed when a week passed over both thresholds), each
at the moment it happened. The stored rows are then replaced whole, with the
risk scores when plugins/lifecycle/risk.py provides them. Running it twice at
the same ``as_of`` changes nothing the second time.

``refresh_customers`` is the purchase hook's: the same rules with the last
run's thresholds, for a few customers, so that a purchase moves an at-risk
customer back to active at once instead of at the next run.

Changes are announced (``guanxi_lifecycle_stage_changed`` and a
``lifecycle.stage_changed`` domain event each) except on the tenant's first
run, which classifies everyone at once and changes nothing anyone saw.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import sqlalchemy as sa

from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed
from engine.events import DomainEvent, emit
from engine.scoring import SCORING_LOCK, _epoch_sql, _fetch_floats, _time_param, load_purchase_batch
from engine.types import utcnow
from plugins.lifecycle import stages as st
from plugins.lifecycle.hookspecs import StageChange
from plugins.lifecycle.models import LifecycleCustomer, LifecycleRun, LifecycleTransition

MODULE = "lifecycle"
C, T = LifecycleCustomer.__table__, LifecycleTransition.__table__


@dataclass
class StageReport:
    as_of: datetime
    customers: int
    changed: int  # customers whose stage changed
    transitions: int  # history rows written (a customer may pass several stages between runs)
    counts: dict[str, int] = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    risk_source: str | None = None

    def __str__(self) -> str:
        stages = ", ".join(f"{code} {self.counts.get(code, 0)}" for code in st.STAGES)
        return f"{self.customers} customers staged ({stages}); {self.changed} changed stage"


def _clock(ctx: TenantContext, times: np.ndarray, as_of: int) -> st.ZoneClock:
    """The tenant zone's clock from the first purchase to a year past ``as_of`` (when customers will be at risk)."""
    return st.ZoneClock.of(ctx.tenant.timezone, times, as_of, as_of + 400 * st.DAY)


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def _dialect(ctx: TenantContext) -> str:
    return ctx.session.get_bind().dialect.name


def _customers(ctx: TenantContext, as_of: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Live customers created by ``as_of``: (ids ascending, created_at epoch seconds)."""
    sql = (f"SELECT CAST(id AS BIGINT), {_epoch_sql(_dialect(ctx), 'created_at')} FROM customers "
           "WHERE tenant_id = ? AND deleted_at IS NULL AND created_at <= ? ORDER BY id")
    rows = _fetch_floats(ctx.session, sql, (ctx.tenant_id, _time_param(ctx.session, as_of)), 2)
    return rows[:, 0].astype(np.int64), rows[:, 1]


def _stored(ctx: TenantContext, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored (customer ids ascending, stage index, stage_since epoch) of the tenant, or of ``ids``."""
    codes = " ".join(f"WHEN '{code}' THEN {i}" for i, code in enumerate(st.STAGES))
    where = ""
    params: tuple = (ctx.tenant_id,)
    if ids is not None:
        if ids.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        where = f" AND customer_id IN ({', '.join(str(int(i)) for i in ids)})"
    sql = (f"SELECT CAST(customer_id AS BIGINT), CASE stage {codes} ELSE -1 END, {_epoch_sql(_dialect(ctx), 'stage_since')} "
           f"FROM lifecycle_customers WHERE tenant_id = ?{where} ORDER BY customer_id")
    rows = _fetch_floats(ctx.session, sql, params, 3)
    return rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]


def _lookup(keys: np.ndarray, table_ids: np.ndarray, values: np.ndarray, missing) -> np.ndarray:
    """values[table_ids == key] per key (table_ids ascending), ``missing`` where absent."""
    out = np.full(keys.shape, missing, dtype=np.asarray(values).dtype if values.size else type(missing))
    if table_ids.size == 0 or keys.size == 0:
        return out
    pos = np.clip(np.searchsorted(table_ids, keys), 0, table_ids.size - 1)
    found = table_ids[pos] == keys
    out[found] = values[pos[found]]
    return out


@dataclass
class _Merged:
    stage: np.ndarray  # int64 per customer
    since: np.ndarray  # float64 epoch seconds
    # One entry per transition: customer id, from stage index (-1: none), to stage index, at (epoch seconds).
    customer: np.ndarray
    from_stage: np.ndarray
    to_stage: np.ndarray
    at: np.ndarray

    @property
    def transitions(self) -> list[tuple[int, int, int, float]]:
        return list(zip(self.customer.tolist(), self.from_stage.tolist(), self.to_stage.tolist(), self.at.tolist()))


_GONE = {st.STAGE_INDEX[code] for code in st.GONE}
_ACTIVE, _WON_BACK = st.STAGE_INDEX[st.ACTIVE], st.STAGE_INDEX[st.WON_BACK]


def _path(paths: st.StagePaths, i: int, last: float, as_of: int, won_back: bool) -> list[tuple[int, float]]:
    """Customer i's stages since the last purchase day, as (stage index, since); ``won_back``: the
    purchase brought back a customer stored as lapsed or churned (the stored stage is what they were,
    even when this run's re-derived thresholds would not call the gap a lapse)."""
    path = [(int(s), float(t)) for s, t in zip(paths.steps[i], paths.step_times[i]) if not math.isnan(t)]
    if won_back and path and path[0][0] == _ACTIVE:
        back_to_active = last + paths.won_back_days * st.DAY
        rest = [p for p in path[1:] if p[0] != _ACTIVE]
        middle = [(_ACTIVE, back_to_active)] if back_to_active <= as_of and back_to_active < paths.at_risk_at[i] else []
        path = [(_WON_BACK, path[0][1])] + middle + rest
    return path


def _merge(ids: np.ndarray, created: np.ndarray, days: st.PurchaseDays, paths: st.StagePaths,
           old_stage: np.ndarray, old_since: np.ndarray, as_of: int) -> _Merged:
    """New stages and since-times against the stored ones, and the transitions between them.

    ``days``/``paths`` are aligned with ``ids``. Unchanged customers keep the
    stored since-time. A customer whose stage moved gets one transition per
    stage passed since the stored stage began, each at its own time.
    """
    bought = days.n_days > 0
    stage = paths.stage.copy()
    since = np.where(bought, paths.since, created)
    known = old_stage >= 0
    purchased_since = bought & known & (days.last_time > old_since)
    candidates = np.flatnonzero(known & ((old_stage != stage) | purchased_since))
    transitions: list[tuple[int, int, int, float]] = []
    keep = known & (old_stage == stage) & ~purchased_since
    since[keep] = old_since[keep]
    for i in candidates.tolist():
        old, old_at = int(old_stage[i]), float(old_since[i])
        if bought[i]:
            came_back = old in _GONE if purchased_since[i] else old == _WON_BACK
            path = _path(paths, i, float(days.last_time[i]), as_of, came_back)
            if not purchased_since[i]:
                # Only what happened after the stored stage began; what this run thinks the stage
                # was by then (thresholds are re-derived every run) first, if it differs.
                before = [p for p in path if p[1] <= old_at]
                path = ([(before[-1][0], old_at)] if before else []) + [p for p in path if p[1] > old_at]
        else:
            path = [(st.STAGE_INDEX[st.PROSPECT], float(created[i]))]
        current, at = old, old_at
        for s, t in path:
            if s != current:
                at = min(max(t, at), as_of)
                transitions.append((int(ids[i]), current, s, at))
                current = s
        stage[i] = current
        since[i] = at
    moved = np.array(transitions, dtype=np.float64).reshape(-1, 4)
    first = ~known  # a customer's first stage (every customer on the tenant's first run): no loop
    since = np.floor(np.minimum(since, as_of))
    return _Merged(stage, since,
                   np.concatenate([moved[:, 0].astype(np.int64), ids[first]]),
                   np.concatenate([moved[:, 1].astype(np.int64), np.full(int(first.sum()), -1, np.int64)]),
                   np.concatenate([moved[:, 2].astype(np.int64), stage[first]]),
                   np.concatenate([moved[:, 3], since[first]]))


def _write_transitions(ctx: TenantContext, merged: _Merged, announce: bool) -> int:
    if merged.customer.size == 0:
        return 0
    from engine.bulk import RawCursor

    now = utcnow()
    cursor = RawCursor(ctx.session)
    names = np.array([None, *st.STAGES], dtype=object)  # index -1 + 1 = None
    cursor.insert_columns("lifecycle_transitions", {"tenant_id": ctx.tenant_id, "recorded_at": now}, {
        "customer_id": merged.customer.tolist(),
        "from_stage": names[merged.from_stage + 1].tolist(),
        "to_stage": names[merged.to_stage + 1].tolist(),
        "at": _times_text(cursor, merged.at),
    })
    if announce:
        _announce(ctx, merged.transitions)
    return int(merged.customer.size)


def _times_text(cursor, epochs: np.ndarray) -> list[str]:
    """Whole epoch seconds as insert_columns takes times: SQLite's stored text
    (naive UTC, microseconds), PostgreSQL's ISO 8601 with the offset; for a
    million rows at once, without a datetime object each."""
    text = np.datetime_as_string(np.asarray(epochs, dtype=np.int64).astype("datetime64[s]").astype("datetime64[us]"), unit="us")
    if cursor.postgres:
        return [t + "+00:00" for t in text.tolist()]
    return [t.replace("T", " ") for t in text.tolist()]


def _announce(ctx: TenantContext, transitions: list[tuple[int, int, int, float]]) -> None:
    """One hook call with every change, and a domain event per change."""
    from api.ids import to_global_id

    changes = [StageChange(customer_id=c, from_stage=None if f < 0 else st.STAGES[f], to_stage=st.STAGES[t], at=_when(at))
               for c, f, t, at in transitions]
    ctx.hooks.guanxi_lifecycle_stage_changed(ctx=ctx, changes=changes)
    emit(ctx, [DomainEvent("lifecycle.stage_changed",
                           {"customerId": to_global_id("Customer", c.customer_id), "fromStage": c.from_stage,
                            "toStage": c.to_stage, "at": c.at.isoformat()},
                           customer_id=c.customer_id, occurred_at=c.at) for c in changes])


def _risk(ctx: TenantContext, as_of: datetime, batch):
    """The analytics' risk scores (plugins/lifecycle/risk.py) for the same batch."""
    from plugins.lifecycle.risk import risk_scores

    return risk_scores(ctx, as_of, batch)


def last_run(ctx: TenantContext) -> LifecycleRun | None:
    return ctx.session.execute(sa.select(LifecycleRun).where(LifecycleRun.tenant_id == ctx.tenant_id)).scalars().first()


def run_stages(ctx: TenantContext, as_of: datetime | None = None, batch=None, announce: bool = True) -> StageReport:
    """Classify every live customer as of ``as_of`` (default now) and store it (see the module docstring).

    ``announce=False`` records the history without the hook and events (a
    rebuilt past, as the demo does)."""
    as_of = (as_of or utcnow()).astimezone(timezone.utc)
    previous = last_run(ctx)
    if previous is not None and as_of < previous.as_of:
        raise ValidationFailed([FieldError("as_of", f"{as_of.isoformat()} is before the last stage run's "
                                                    f"({previous.as_of.isoformat()}); stages only move forward")])
    if _dialect(ctx) == "postgresql":  # one run per tenant at a time, as scoring runs
        ctx.session.execute(sa.text("SELECT pg_advisory_xact_lock(:kind, :tenant)"),
                            {"kind": SCORING_LOCK, "tenant": ctx.tenant_id})
    settings = ctx.module_settings(MODULE)
    if batch is None:
        batch = load_purchase_batch(ctx.session, ctx.tenant_id, as_of, (MODULE,))
    epoch = int(as_of.timestamp())
    all_days = st.purchase_days(batch.customer_ids, batch.offsets, batch.times, batch.local_days)
    thresholds = st.derive_thresholds(all_days, settings)

    live, created = _customers(ctx, as_of)
    ids = np.union1d(live, batch.customer_ids.astype(np.int64))  # back-dated history of customers created later
    created = _lookup(ids, live, created, float(epoch))
    days = _align(all_days, ids)
    paths = st.stage_paths(days, thresholds, epoch, _clock(ctx, batch.times.min() if batch.times.size else epoch, epoch))
    old_ids, old_stage, old_since = _stored(ctx)
    merged = _merge(ids, created, days, paths, _lookup(ids, old_ids, old_stage, -1),
                    _lookup(ids, old_ids, old_since, np.nan), epoch)
    written = _write_transitions(ctx, merged, announce=announce and previous is not None)

    risk = _risk(ctx, as_of, batch)
    now = utcnow()
    from engine.bulk import RawCursor

    cursor = RawCursor(ctx.session)
    columns = {
        "customer_id": ids.tolist(),
        "stage": [st.STAGES[s] for s in merged.stage.tolist()],
        "stage_since": _times_text(cursor, merged.since),
        "expected_gap_days": _nullable(np.round(paths.expected_gap, 3)),
    }
    risk_source = None
    if risk is not None and risk.customer_ids.size:
        risk_source = risk.source
        columns["risk"] = _nullable(_lookup(ids, risk.customer_ids, risk.risk, np.nan))
        columns["value_at_risk"] = _nullable(np.round(_lookup(ids, risk.customer_ids, risk.value_at_risk, np.nan), 2))
        columns["risk_source"] = [None if r is None else risk.source for r in columns["risk"]]
    ctx.session.execute(sa.delete(C).where(C.c.tenant_id == ctx.tenant_id))
    cursor.insert_columns("lifecycle_customers", {"tenant_id": ctx.tenant_id, "updated_at": now}, columns)

    counts = Counter(columns["stage"])
    changed = int(np.unique(merged.customer if previous is None else merged.customer[merged.from_stage >= 0]).size)
    run = previous or LifecycleRun(tenant_id=ctx.tenant_id, as_of=as_of)  # one row per tenant: the latest run
    run.as_of, run.computed_at, run.thresholds = as_of, now, thresholds.as_dict()
    run.counts, run.changed, run.risk_source = dict(counts), changed, risk_source
    ctx.session.add(run)
    ctx.session.flush()
    return StageReport(as_of=as_of, customers=int(ids.size), changed=changed, transitions=written, counts=dict(counts),
                       thresholds=thresholds.as_dict(), risk_source=risk_source)


def _nullable(values: np.ndarray) -> list:
    """A float column as a list, NaN as None (NULL)."""
    return [None if v != v else v for v in values.tolist()]


def _align(days: st.PurchaseDays, ids: np.ndarray) -> st.PurchaseDays:
    """``days`` re-indexed onto ``ids`` (customers without a purchase: zero days)."""
    n = ids.size
    pos = np.clip(np.searchsorted(days.customer_ids, ids), 0, max(days.customer_ids.size - 1, 0))
    found = (days.customer_ids[pos] == ids) if days.customer_ids.size else np.zeros(n, bool)

    def take(values, empty):
        out = np.full(n, empty, dtype=values.dtype)
        out[found] = values[pos[found]]
        return out

    return st.PurchaseDays(ids, take(days.n_days, 0), take(days.first_time, np.nan), take(days.last_time, np.nan),
                           take(days.span_days, 0.0), take(days.prev_span_days, np.nan), take(days.last_gap_days, np.nan),
                           days.gaps, days.gap_customer)


def refresh_customers(ctx: TenantContext, customer_ids, as_of: datetime | None = None) -> int:
    """Re-stage ``customer_ids`` with the last run's thresholds (after their purchases); returns the changes.

    Nothing happens before the tenant's first run: that run stages everyone.
    """
    previous = last_run(ctx)
    if previous is None:
        return 0
    as_of = (as_of or utcnow()).astimezone(timezone.utc)
    as_of = max(as_of, previous.as_of)
    ids = np.unique(np.asarray(list(customer_ids), dtype=np.int64))
    if ids.size == 0:
        return 0
    thresholds = st.Thresholds.from_dict(previous.thresholds)
    epoch = int(as_of.timestamp())
    dialect = _dialect(ctx)
    listed = ", ".join(str(int(i)) for i in ids)
    rows = _fetch_floats(ctx.session, (
        f"SELECT CAST(customer_id AS BIGINT), {_epoch_sql(dialect, 'occurred_at')}, local_day FROM interactions "
        f"WHERE tenant_id = ? AND kind = 'PURCHASE' AND occurred_at <= ? AND customer_id IN ({listed}) "
        "ORDER BY customer_id, occurred_at, id"), (ctx.tenant_id, _time_param(ctx.session, as_of)), 3)
    who, times, local_days = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2].astype(np.int64)
    live = _fetch_floats(ctx.session, (
        f"SELECT CAST(id AS BIGINT), {_epoch_sql(dialect, 'created_at')} FROM customers "
        f"WHERE tenant_id = ? AND deleted_at IS NULL AND id IN ({listed}) ORDER BY id"), (ctx.tenant_id,), 2)
    ids, created = live[:, 0].astype(np.int64), live[:, 1]
    if ids.size == 0:
        return 0
    mine = np.isin(who, ids)
    who, times, local_days = who[mine], times[mine], local_days[mine]
    offsets = np.append(np.searchsorted(who, ids, side="left"), who.size).astype(np.int64)
    days = st.purchase_days(ids, offsets, times, local_days)
    paths = st.stage_paths(days, thresholds, epoch, _clock(ctx, times.min() if times.size else epoch, epoch))
    old_ids, old_stage, old_since = _stored(ctx, ids)
    merged = _merge(ids, created, days, paths, _lookup(ids, old_ids, old_stage, -1),
                    _lookup(ids, old_ids, old_since, np.nan), epoch)
    if merged.customer.size == 0:
        return 0
    moved = sorted(set(merged.customer.tolist()))
    index = {int(c): k for k, c in enumerate(ids.tolist())}
    stored = set(old_ids.tolist())
    now = utcnow()
    rows = [{"c": c, "stage": st.STAGES[int(merged.stage[index[c]])], "stage_since": _when(merged.since[index[c]]),
             "expected_gap_days": _nullable(np.round(paths.expected_gap[[index[c]]], 3))[0], "updated_at": now}
            for c in moved]
    # Executemany, one statement per kind: an import's chunk may move thousands of customers.
    updates = [row for row in rows if row["c"] in stored]
    if updates:
        ctx.session.execute(sa.update(C).where(C.c.tenant_id == ctx.tenant_id, C.c.customer_id == sa.bindparam("c"))
                            .values(stage=sa.bindparam("stage"), stage_since=sa.bindparam("stage_since"),
                                    expected_gap_days=sa.bindparam("expected_gap_days"),
                                    updated_at=sa.bindparam("updated_at")), updates)
    inserts = [{"tenant_id": ctx.tenant_id, "customer_id": row["c"], **{k: v for k, v in row.items() if k != "c"}}
               for row in rows if row["c"] not in stored]
    if inserts:
        ctx.session.execute(sa.insert(C), inserts)
    _write_transitions(ctx, merged, announce=True)
    return len(moved)


def _zone_name(ctx: TenantContext) -> str:
    """The tenant's zone as the database may be given it (UTC when Python does not know it either)."""
    name = ctx.tenant.timezone or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name if re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) else "UTC"


def monthly_transitions(ctx: TenantContext, since: datetime | None = None, until: datetime | None = None,
                        include_first: bool = False) -> list[tuple[str, str | None, str, int]]:
    """(month, from stage, to stage, moves) of transitions in [since, until), counted by the database.

    A transition's month is the tenant's local month at its own instant (the
    zone's offset then, not now). PostgreSQL converts with the zone itself;
    SQLite, which has no zones, counts per UTC minute and the minutes are
    put in local months here."""
    if since and until and since >= until:
        raise ValidationFailed([FieldError("from", "must be before to")])
    postgres = _dialect(ctx) == "postgresql"
    if postgres:
        bucket = sa.func.to_char(sa.func.timezone(_zone_name(ctx), T.c.at), "YYYY-MM")
    else:
        bucket = sa.func.strftime("%s", T.c.at) / 60  # UTC minute: every zone's offset is whole minutes
    bucket = bucket.label("bucket")
    conditions = [T.c.tenant_id == ctx.tenant_id]
    if since:
        conditions.append(T.c.at >= since)
    if until:
        conditions.append(T.c.at < until)
    if not include_first:
        conditions.append(T.c.from_stage.is_not(None))
    rows = ctx.session.execute(sa.select(bucket, T.c.from_stage, T.c.to_stage, sa.func.count()).select_from(T)
                               .where(*conditions).group_by(bucket, T.c.from_stage, T.c.to_stage)).all()
    if not postgres and rows:
        minutes = np.array([int(r[0]) for r in rows], dtype=np.int64) * 60
        clock = st.ZoneClock.of(_zone_name(ctx), minutes)
        local = clock.to_local(minutes).astype(np.int64).astype("datetime64[s]").astype("datetime64[M]")
        counts = Counter()
        for month, (_, f, to, n) in zip(np.datetime_as_string(local, unit="M").tolist(), rows):
            counts[(month, f, to)] += int(n)
        rows = [(m, f, to, n) for (m, f, to), n in counts.items()]
    return sorted(((m, f, to, int(n)) for m, f, to, n in rows), key=lambda r: (r[0], r[1] or "", r[2]))
