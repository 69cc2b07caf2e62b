"""The complaint report (step 6, 汇总分析) over cases opened in [from, to).

Computed by SQL aggregation plus numpy, never by loading cases:

* one GROUP BY (category, status, stat_code) counting
  cases, where ``stat_code`` is a generated column packing the per-case
  indicators (SLA met/breached, promise made/kept/broken, resolved, reopened,
  satisfaction); numpy decodes the bits and folds the rows into the totals
  and the requested grouping (store or priority join the GROUP BY only
  when grouping by them); one GROUP BY store for the counts by store;
* one GROUP BY whole minutes per clock gives a histogram of first-response
  and resolution times (business minutes net of pauses); medians and p90s
  are nearest-rank percentiles of that histogram, exact to the minute
  (durations are floored to whole minutes);
* one GROUP BY root cause for the top root causes.

Each GROUP BY has a covering index in group order (models.py), so on a wide
range it is an index-only scan with no sort; on SQLite, whose planner cannot
tell a wide range from a narrow one, the index is named (``INDEXED BY``)
when the range holds more than ``WIDE_RANGE`` cases. Grouped percentiles
(``group_by``) group by (group, minute) and sort.

Definitions: SLA compliance = cases with an SLA resolved without a breach ÷
(those + cases with an SLA breached, open or not). Promises: kept when an
update or the resolution came by the promised time, broken once it passed
without one (the sweep marks those), pending otherwise. Satisfaction is the
follow-up score (1–5). Reopen rate = cases reopened at least once ÷ cases
resolved at least once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import func, select

from engine.context import TenantContext
from engine.errors import FieldError, ValidationFailed
from engine.types import UtcDateTime
from plugins.complaints.models import STAT_BITS, ComplaintCase

GROUP_BY = ("category", "status", "store", "priority")
_DIMS = GROUP_BY
_MEASURES = ("count", "sla_met", "sla_breached", "promises_made", "promises_kept", "promises_broken",
             "satisfaction_sum", "satisfaction_count", "sat1", "sat2", "sat3", "sat4", "sat5",
             "resolved_ever", "reopened")
_BIT_MEASURES = {"sla_met": "sla_met", "sla_breached": "sla_breached", "promises_made": "promise_made",
                 "promises_kept": "promise_kept", "promises_broken": "promise_broken",
                 "resolved_ever": "resolved_ever", "reopened": "reopened"}
WIDE_RANGE = 20_000


def _measures(codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Decode (stat_code, count) rows into the _MEASURES columns, one row each."""
    out = np.zeros((codes.size, len(_MEASURES)), dtype=np.int64)
    satisfaction = codes >> 7
    for i, name in enumerate(_MEASURES):
        if name == "count":
            out[:, i] = counts
        elif name in _BIT_MEASURES:
            out[:, i] = np.where(codes & STAT_BITS[_BIT_MEASURES[name]], counts, 0)
        elif name == "satisfaction_sum":
            out[:, i] = satisfaction * counts
        elif name == "satisfaction_count":
            out[:, i] = np.where(satisfaction > 0, counts, 0)
        else:  # sat1..sat5
            out[:, i] = np.where(satisfaction == int(name[3:]), counts, 0)
    return out


@dataclass
class TimeStats:
    count: int = 0
    median_minutes: float | None = None
    p90_minutes: float | None = None


@dataclass
class StatsGroup:
    key: str | None
    count: int = 0
    first_response: TimeStats = field(default_factory=TimeStats)
    resolution: TimeStats = field(default_factory=TimeStats)
    sla_met: int = 0
    sla_breached: int = 0
    sla_compliance: float | None = None
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    promises_kept_rate: float | None = None
    satisfaction_count: int = 0
    satisfaction_average: float | None = None
    satisfaction_distribution: dict[int, int] = field(default_factory=dict)
    resolved_ever: int = 0
    reopened: int = 0
    reopen_rate: float | None = None


@dataclass
class ComplaintStats:
    since: datetime
    until: datetime
    totals: StatsGroup
    by_category: dict[str, int]
    by_status: dict[str, int]
    by_store: dict[str | None, int]
    top_root_causes: list[tuple[str, int]]
    group_by: str | None = None
    groups: list[StatsGroup] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as the CLI prints it: statuses by their codes, as the API names them."""
        report = asdict(self)
        report["by_status"] = {status.upper(): count for status, count in self.by_status.items()}
        if self.group_by in ("status", "priority"):
            for group in report["groups"]:
                group["key"] = None if group.get("key") is None else str(group["key"]).upper()
        return report


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _percentiles(values: np.ndarray, counts: np.ndarray) -> TimeStats:
    total = int(counts.sum())
    if total == 0:
        return TimeStats()
    order = np.argsort(values, kind="stable")
    values, cumulative = values[order], np.cumsum(counts[order])

    def rank(q: float) -> float:
        k = max(1, int(np.ceil(q * total)))  # nearest rank
        return float(values[np.searchsorted(cumulative, k, side="left")])

    return TimeStats(count=total, median_minutes=rank(0.5), p90_minutes=rank(0.9))


def _fill(group: StatsGroup, sums: np.ndarray) -> StatsGroup:
    m = dict(zip(_MEASURES, (int(x) for x in sums)))
    group.count = m["count"]
    group.sla_met, group.sla_breached = m["sla_met"], m["sla_breached"]
    group.sla_compliance = _ratio(m["sla_met"], m["sla_met"] + m["sla_breached"])
    group.promises_made, group.promises_kept, group.promises_broken = m["promises_made"], m["promises_kept"], m["promises_broken"]
    group.promises_kept_rate = _ratio(m["promises_kept"], m["promises_kept"] + m["promises_broken"])
    group.satisfaction_count = m["satisfaction_count"]
    group.satisfaction_average = _ratio(m["satisfaction_sum"], m["satisfaction_count"])
    group.satisfaction_distribution = {score: m[f"sat{score}"] for score in range(1, 6)}
    group.resolved_ever, group.reopened = m["resolved_ever"], m["reopened"]
    group.reopen_rate = _ratio(m["reopened"], m["resolved_ever"])
    return group


def _ordered(counts: dict) -> dict:
    return dict(sorted(((k, int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], str(kv[0]))))


def complaint_stats(ctx: TenantContext, since: datetime, until: datetime, group_by: str | None = None,
                    top: int = 10) -> ComplaintStats:
    errors = []
    if since is None or since.tzinfo is None:
        errors.append(FieldError("from", "a timezone-aware start is required"))
    if until is None or until.tzinfo is None:
        errors.append(FieldError("to", "a timezone-aware end is required"))
    if not errors and until <= since:
        errors.append(FieldError("to", "must be after from"))
    if group_by is not None:
        group_by = group_by.lower()
        if group_by not in GROUP_BY:
            errors.append(FieldError("group_by", f"unknown grouping {group_by!r}; one of {', '.join(GROUP_BY)}"))
    if errors:
        raise ValidationFailed(errors)

    c = ComplaintCase.__table__.c
    table = ComplaintCase.__table__
    where = (c.tenant_id == ctx.tenant_id, c.opened_at >= since, c.opened_at < until)
    session = ctx.session
    sqlite = session.get_bind().dialect.name == "sqlite"
    # SQLite's planner cannot tell a wide date range from a narrow one: over
    # many cases, scan the covering indexes in group order (no sort, no table
    # access); over few, let it seek by opening time.
    wide = sqlite and session.execute(select(func.count()).select_from(table).where(*where)).scalar_one() > WIDE_RANGE

    params = {"tenant": ctx.tenant_id, "since": since, "until": until}
    binds = (sa.bindparam("tenant", type_=sa.Integer), sa.bindparam("since", type_=UtcDateTime),
             sa.bindparam("until", type_=UtcDateTime))

    def grouped(columns: str, group: str, index: str, extra: str = "") -> list:
        """SELECT columns, count(*) ... GROUP BY group, over the range.

        Written as SQL text because SQLAlchemy renders no table hints on
        SQLite, and ``INDEXED BY`` is the point on a wide range.
        """
        # index None: no covering index fits; a plain scan beats a million lookups.
        hint = (f" INDEXED BY {index}" if index else " NOT INDEXED") if wide else ""
        sql = (f"SELECT {columns}, count(*) FROM complaint_cases{hint}"
               f" WHERE tenant_id = :tenant AND opened_at >= :since AND opened_at < :until{extra}"
               f" GROUP BY {group}")
        return session.execute(sa.text(sql).bindparams(*binds), params).all()

    # category and status always; store or priority only when grouping by it.
    dims = ("category", "status") + ((group_by,) if group_by in ("store", "priority") else ())
    columns = ", ".join((*dims, "stat_code"))
    rows = grouped(columns, columns, "ix_complaint_cases_stats" if len(dims) == 2 else None)
    keys = [tuple(row[: len(dims)]) for row in rows]
    sums = _measures(np.array([row[len(dims)] for row in rows], dtype=np.int64),
                     np.array([row[len(dims) + 1] for row in rows], dtype=np.int64))

    def counts_by(position: int) -> dict:
        out: dict = {}
        for key, n in zip(keys, sums[:, 0].tolist()):
            out[key[position]] = out.get(key[position], 0) + n
        return _ordered(out)

    def histogram(column, index: str, group_column=None) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
        if group_column is None:
            data = [(None, value, n) for value, n in grouped(column, column, index, f" AND {column} IS NOT NULL")]
        else:  # grouped percentiles: (group, minute) needs a sort
            data = grouped(f"{group_column}, {column}", f"{group_column}, {column}", None, f" AND {column} IS NOT NULL")
        by_key: dict[Any, tuple[list, list]] = {}
        for key, value, n in data:
            values, counts = by_key.setdefault(key, ([], []))
            values.append(value)
            counts.append(n)
        return {key: (np.array(v, dtype=np.float64), np.array(n, dtype=np.int64)) for key, (v, n) in by_key.items()}

    def merged(hist: dict) -> TimeStats:
        if not hist:
            return TimeStats()
        return _percentiles(np.concatenate([v for v, _ in hist.values()]), np.concatenate([n for _, n in hist.values()]))

    totals = _fill(StatsGroup(key=None), sums.sum(axis=0) if len(rows) else np.zeros(len(_MEASURES), np.int64))
    group_column = group_by  # validated against GROUP_BY above: a plain column name
    first_hist = histogram("first_response_minute", "ix_complaint_cases_first_minute", group_column)
    resolution_hist = histogram("resolution_minute", "ix_complaint_cases_resolution_minute", group_column)
    groups: list[StatsGroup] = []
    if group_by:
        position = dims.index(group_by)
        group_keys = sorted({key[position] for key in keys}, key=lambda k: (k is None, str(k)))
        selector = np.array([key[position] for key in keys], dtype=object)
        for key in group_keys:
            group = _fill(StatsGroup(key=key), sums[selector == key].sum(axis=0))
            group.first_response = merged({key: first_hist[key]} if key in first_hist else {})
            group.resolution = merged({key: resolution_hist[key]} if key in resolution_hist else {})
            groups.append(group)
    totals.first_response = merged(first_hist)
    totals.resolution = merged(resolution_hist)

    causes = grouped("root_cause", "root_cause", "ix_complaint_cases_root_cause", " AND root_cause IS NOT NULL")
    causes = sorted(causes, key=lambda row: (-row[1], row[0]))[:top]
    return ComplaintStats(
        since=since, until=until, totals=totals, by_category=counts_by(0), by_status=counts_by(1),
        by_store=_ordered(dict(grouped("store", "store", "ix_complaint_cases_store"))), top_root_causes=[(cause, int(n)) for cause, n in causes],
        group_by=group_by, groups=groups,
    )
