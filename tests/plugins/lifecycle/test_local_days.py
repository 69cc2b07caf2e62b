"""Local days across daylight-saving changes: the same purchases at the same
local wall-clock times give the same stages, cohorts and rates in a UTC
tenant and in an Australia/Sydney tenant (AEST +10, AEDT +11 from
2024-10-06 to 2025-04-06), whichever offset the as-of instant has."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from plugins.lifecycle.cohorts import cohort_retention, monthly_rates
from plugins.lifecycle.history import monthly_transitions, run_stages
from plugins.lifecycle.models import LifecycleCustomer

SETTINGS = {"at_risk_days": 30, "lapsed_days": 60, "churned_days": 120, "new_days": 5, "won_back_days": 8,
            "gap_prior_weight": 0}  # expected gap = the customer's own mean gap

# customer: local wall-clock purchase times (the same numbers in both tenants)
HISTORY = {
    # last purchase in winter time, exactly 30 local days before AS_OF_SPRING (summer time):
    # at risk at that instant; counted in elapsed seconds it would be an hour short
    "P": ["2024-09-10 10:00", "2024-09-20 10:00"],
    # 23:50 and 00:30 in summer time are two days; read with the winter offset (+10) both are 30 Nov
    "Q": ["2024-11-30 23:50", "2024-12-01 00:30", "2025-05-20 09:00"],
    # just after midnight on the first of each month in summer time: with +10 every one is the month before
    "R": ["2024-11-01 00:30", "2024-12-01 00:15", "2025-01-01 00:20", "2025-03-01 00:10"],
    "S": ["2024-10-31 23:30", "2024-11-01 00:40", "2025-02-28 23:55", "2025-06-01 00:30"],
    "T": ["2025-04-30 23:45", "2025-05-01 00:05", "2025-06-14 18:00"],
    "U": ["2024-08-15 12:00"],
}
AS_OF_SPRING = "2024-10-20 10:00"
AS_OF_WINTER = "2025-06-15 12:00"


def _instant(local: str, zone: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))


def _wall(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def _shop(gx, make_tenant, zone: str) -> tuple[str, dict[int, str]]:
    slug = make_tenant(modules=("lifecycle",), timezone=zone)
    codes = {}
    with gx.tenant(slug, actor="test") as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "lifecycle", dict(SETTINGS))
        for code, times in HISTORY.items():
            customer_id = create_customer(ctx, {"code": code, "name": code}).id
            codes[customer_id] = code
            result = record_interactions(ctx, [
                {"customer_id": customer_id, "kind": "PURCHASE", "amount": "10", "external_id": f"{code}-{k}",
                 "occurred_at": _instant(t, zone)} for k, t in enumerate(times)])
            assert not result.errors, result.errors
    return slug, codes


def _stages(gx, slug, zone, codes, as_of: str) -> dict[str, tuple]:
    """Each customer's (stage, local wall-clock time it began, expected gap) after a run at local ``as_of``."""
    with gx.tenant(slug, actor="test") as ctx:
        run_stages(ctx, _instant(as_of, zone), announce=False)
    with gx.tenant(slug, write=False) as ctx:
        rows = ctx.session.execute(sa.select(LifecycleCustomer).where(LifecycleCustomer.tenant_id == ctx.tenant_id)
                                   ).scalars().all()
        return {codes[r.customer_id]: (r.stage, _wall(r.stage_since, zone), r.expected_gap_days) for r in rows}


def _analytics(gx, slug, zone, as_of: str):
    with gx.tenant(slug, write=False) as ctx:
        at = _instant(as_of, zone)
        cohorts = [(c.month, c.customers, c.active, c.revenue) for s in cohort_retention(ctx, at, 12) for c in s.cohorts]
        rates = [(m.month, m.buyers, m.new, m.existing, m.returning, m.repeat_buyers, m.previous_buyers, m.retained)
                 for s in monthly_rates(ctx, at, 12) for m in s.months]
        moves = monthly_transitions(ctx, include_first=True)
    return cohorts, rates, moves


@pytest.fixture
def twins(gx, make_tenant):
    return {zone: _shop(gx, make_tenant, zone) for zone in ("UTC", "Australia/Sydney")}


def test_stages_count_local_days_across_daylight_saving(gx, twins):
    spring = {zone: _stages(gx, slug, zone, codes, AS_OF_SPRING) for zone, (slug, codes) in twins.items()}
    assert spring["Australia/Sydney"] == spring["UTC"]
    # 30 local days of silence reached at the as-of instant itself, on the wall clock
    assert spring["UTC"]["P"][:2] == ("at_risk", "2024-10-20 10:00:00")

    winter = {zone: _stages(gx, slug, zone, codes, AS_OF_WINTER) for zone, (slug, codes) in twins.items()}
    assert winter["Australia/Sydney"] == winter["UTC"]
    # Q's first two purchases are two purchase days (gaps 1 and 170, expected gap 85.5), not one
    assert winter["UTC"]["Q"][2] == pytest.approx(85.5)


def test_cohorts_rates_and_transition_months_count_local_days(gx, twins):
    for zone, (slug, codes) in twins.items():
        _stages(gx, slug, zone, codes, AS_OF_WINTER)
    utc = _analytics(gx, *twins["UTC"][:1], "UTC", AS_OF_WINTER)
    sydney = _analytics(gx, *twins["Australia/Sydney"][:1], "Australia/Sydney", AS_OF_WINTER)
    assert sydney == utc
    cohorts, rates, _ = utc
    by_month = {month: (size, active) for month, size, active, _ in cohorts}
    # S (31 Oct 23:30) is October's: Oct, Nov, Feb, Jun; R (1 Nov 00:30) and Q (30 Nov) November's:
    # R in Nov, Dec, Jan, Mar, Q in Nov, Dec (1 Dec 00:30) and May
    assert by_month["2024-10"] == (1, [1, 1, 0, 0, 1, 0, 0, 0, 1])
    assert by_month["2024-11"][0] == 2 and by_month["2024-11"][1][:7] == [2, 2, 1, 0, 1, 0, 1]
    months = {r[0]: r for r in rates}
    # May 2025: Q (20 May) and T (30 Apr 23:45 is April's; 1 May 00:05 May's) bought; T was new in April
    assert months["2025-05"][1:3] == (2, 0)
    assert months["2025-04"][1:3] == (1, 1)


@pytest.mark.parametrize("zone", ["Australia/Sydney", "America/New_York", "Asia/Kathmandu", "UTC"])
def test_zone_clock_matches_zoneinfo_instant_by_instant(zone):
    from datetime import timezone

    import numpy as np

    from plugins.lifecycle.stages import ZoneClock

    rng = np.random.default_rng(7)
    lo, hi = 1_600_000_000, 1_760_000_000  # 2020 to 2025: ten changes in the DST zones
    instants = np.sort(rng.integers(lo, hi, 2000))
    clock = ZoneClock.of(zone, lo, hi)
    expected = [datetime.fromtimestamp(int(t), timezone.utc).astimezone(ZoneInfo(zone)).utcoffset().total_seconds()
                for t in instants]
    assert clock.offset(instants).tolist() == expected
    # round trip through the wall clock, away from the repeated hour of a change back
    back = clock.to_utc(clock.to_local(instants))
    folded = np.abs(clock.offset(instants - 3600) - clock.offset(instants + 3600)) > 0
    assert np.array_equal(back[~folded], instants[~folded].astype(float))
