"""SLA policy matching, due times, breach/escalation (scalar and vectorised), promises."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.complaints.settings import WEEKDAYS, BusinessCalendar, ComplaintsSettings, SlaPolicy
from plugins.complaints.sla import (
    PromiseOutcome,
    SweepInput,
    evaluate_case,
    match_policy,
    promise_outcome,
    promise_outcomes,
    sla_due_times,
    sweep,
    to_epoch_seconds,
)
from plugins.complaints.workflow import Priority

T0 = datetime(2024, 9, 23, 1, tzinfo=UTC)  # Monday 09:00 in Shanghai
SHANGHAI = BusinessCalendar(
    timezone="Asia/Shanghai",
    hours={d: [("09:00", "12:00"), ("13:00", "18:00")] for d in WEEKDAYS[:5]})
NEW_YORK = BusinessCalendar(
    timezone="America/New_York", hours={d: [("08:00", "20:00")] for d in WEEKDAYS[:6]})
CALENDARS = [SHANGHAI, NEW_YORK]
URGENT = ComplaintsSettings().policy_for("SERVICE", Priority.URGENT)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def _dt64(values):
    """Aware UTC datetimes (None = missing) as a datetime64[us] column."""
    return np.array([np.datetime64("NaT") if v is None else np.datetime64(v.replace(tzinfo=None), "us")
                     for v in values], dtype="datetime64[us]")


# ------------------------------------------------------------ policy matching

def test_first_matching_policy_wins():
    policies = [
        SlaPolicy(name="vip-phone", condition={"channels": ["phone"], "priorities": ["urgent"]},
                  first_response_minutes=10, resolution_minutes=100),
        SlaPolicy(name="quality", condition={"categories": ["PRODUCT_QUALITY"]},
                  first_response_minutes=20, resolution_minutes=200),
        SlaPolicy(name="any", first_response_minutes=30, resolution_minutes=300),
    ]
    assert match_policy(policies, "PRODUCT_QUALITY", "urgent", "phone").name == "vip-phone"
    assert match_policy(policies, "PRODUCT_QUALITY", Priority.URGENT, "web").name == "quality"
    assert match_policy(policies, "PRICE", Priority.LOW, None).name == "any"
    assert match_policy(policies[:2], "PRICE", Priority.LOW, "phone") is None
    assert match_policy([], "PRICE", Priority.LOW) is None


# ------------------------------------------------------------------ due times

def test_default_due_times_on_the_24_7_clock():
    due = sla_due_times(URGENT, T0)
    assert (due.first_response_due, due.resolution_due) == (T0 + timedelta(hours=1), T0 + timedelta(hours=24))


def test_due_times_on_a_business_calendar_and_pauses_push_resolution_out():
    policy = SlaPolicy(name="p", first_response_minutes=240, resolution_minutes=960)
    due = sla_due_times(policy, T0, calendar=SHANGHAI)
    assert due.first_response_due == T0 + timedelta(hours=5)  # 09:00 + 3 h, lunch, + 1 h = 14:00
    assert due.resolution_due == T0 + timedelta(days=1, hours=9)  # two full days: Tue 18:00
    paused = sla_due_times(policy, T0, calendar=SHANGHAI, paused_minutes=60)
    assert paused.resolution_due == T0 + timedelta(days=2, hours=1)  # Wed 10:00
    waiting = sla_due_times(policy, T0, calendar=SHANGHAI, paused_since=T0 + timedelta(hours=2))
    assert waiting.resolution_due is None and waiting.first_response_due == due.first_response_due


# ------------------------------------------------------- scalar evaluation

@pytest.mark.parametrize("after, breached, level", [
    (59, False, 0), (60, False, 0), (61, True, 1), (119, True, 1), (120, True, 2), (500, True, 2)])
def test_unanswered_case_escalates_on_first_response(after, breached, level):
    state = evaluate_case(opened_at=T0, now=T0 + minutes(after), first_response_minutes=60,
                          resolution_minutes=1440)
    assert state.first_response_breached is breached
    assert state.escalation_level == level
    assert state.breach_targets == (after // 60 if breached else 0)


def test_a_timely_first_response_stops_that_clock():
    state = evaluate_case(opened_at=T0, now=T0 + timedelta(hours=10), first_response_minutes=60,
                          resolution_minutes=1440, first_response_at=T0 + minutes(45))
    assert state.first_response_elapsed == 45 and not state.breached
    assert state.escalation_level == 0 and state.resolution_elapsed == 600


def test_a_late_first_response_stays_breached():
    state = evaluate_case(opened_at=T0, now=T0 + timedelta(hours=3), first_response_minutes=60,
                          resolution_minutes=1440, first_response_at=T0 + minutes(90))
    assert state.first_response_breached and state.escalation_level == 1


def test_resolution_escalates_to_company_level_at_twice_the_target():
    kw = dict(opened_at=T0, first_response_minutes=60, resolution_minutes=1440,
              first_response_at=T0 + minutes(5))
    assert evaluate_case(now=T0 + timedelta(hours=25), **kw).escalation_level == 1
    late = evaluate_case(now=T0 + timedelta(hours=48), **kw)
    assert late.resolution_breached and late.breach_targets == 2 and late.escalation_level == 2
    # Capped at level 2 however late.
    assert evaluate_case(now=T0 + timedelta(days=30), **kw).escalation_level == 2


def test_paused_minutes_and_a_running_pause_hold_the_resolution_clock():
    kw = dict(opened_at=T0, now=T0 + timedelta(hours=30), first_response_minutes=60,
              resolution_minutes=1440, first_response_at=T0 + minutes(5))
    assert evaluate_case(paused_minutes=6 * 60 + 1, **kw).resolution_breached is False
    waiting = evaluate_case(paused_since=T0 + timedelta(hours=20), **kw)
    assert waiting.resolution_elapsed == 20 * 60 and not waiting.resolution_breached


def test_escalation_never_goes_down():
    state = evaluate_case(opened_at=T0, now=T0 + minutes(1), first_response_minutes=60,
                          resolution_minutes=1440, escalation_level=2)
    assert state.escalation_level == 2 and not state.breached


def test_business_calendar_clocks_skip_closed_time():
    # Opened Fri 17:00 Shanghai; now Mon 09:30 → 90 business minutes.
    opened = datetime(2024, 9, 20, 9, tzinfo=UTC)
    state = evaluate_case(opened_at=opened, now=datetime(2024, 9, 23, 1, 30, tzinfo=UTC),
                          first_response_minutes=60, resolution_minutes=480, calendar=SHANGHAI)
    assert state.first_response_elapsed == 90 and state.escalation_level == 1


# ------------------------------------------------------------ vectorised sweep

def test_sweep_reports_breaches_and_escalations():
    opened = _dt64([T0 - minutes(m) for m in (30, 90, 150, 3000)])
    result = sweep(SweepInput(
        opened_at=opened,
        first_response_minutes=np.full(4, 60.0),
        resolution_minutes=np.full(4, 1440.0),
        first_response_at=_dt64([None, None, None, T0 - minutes(2990)]),
        escalation_level=np.array([0, 0, 1, 2]),
    ), T0)
    assert result.first_response_breached.tolist() == [False, True, True, False]
    assert result.resolution_breached.tolist() == [False, False, False, True]
    assert result.breach_targets.tolist() == [0, 1, 2, 2]
    assert result.escalation_level.tolist() == [0, 1, 2, 2]
    assert result.escalated.tolist() == [False, True, True, False]


def test_sweep_accepts_epoch_seconds_and_rejects_bad_targets():
    opened = _dt64([T0 - minutes(90)])
    as_dt = sweep(SweepInput(opened, np.array([60.0]), np.array([600.0])), T0)
    as_s = sweep(SweepInput(to_epoch_seconds(opened), [60], [600]), T0)
    assert as_dt.first_response_elapsed.tolist() == as_s.first_response_elapsed.tolist() == [90.0]
    with pytest.raises(ValueError, match="positive"):
        sweep(SweepInput(opened, np.array([0.0]), np.array([600.0])), T0)


def test_empty_sweep():
    result = sweep(SweepInput(np.array([], dtype="datetime64[us]"), np.array([]), np.array([])), T0)
    assert result.escalation_level.size == 0


def test_sweep_of_many_cases_on_calendars():
    rng = np.random.default_rng(7)
    n = 20_000
    opened = np.datetime64("2024-09-23T01:00") - rng.integers(0, 60 * 24 * 60, n).astype("timedelta64[m]")
    cases = SweepInput(opened_at=opened, first_response_minutes=np.full(n, 240.0),
                       resolution_minutes=np.full(n, 4320.0), calendar=rng.integers(-1, 2, n))
    result = sweep(cases, T0, CALENDARS)
    # Elapsed business time can never exceed wall-clock time.
    wall = (np.datetime64("2024-09-23T01:00") - opened).astype(float)
    assert np.all(result.first_response_elapsed <= wall + 1e-9)
    assert np.all(result.first_response_elapsed[cases.calendar == -1] == wall[cases.calendar == -1])
    assert set(np.unique(result.escalation_level)) <= {0, 1, 2}


@st.composite
def open_cases(draw):
    n = draw(st.integers(1, 12))
    offsets = st.integers(0, 60 * 24 * 20)
    rows = []
    for _ in range(n):
        opened = T0 - minutes(draw(offsets))
        age = (T0 - opened) / timedelta(minutes=1)
        first = draw(st.none() | st.floats(0, age))
        paused = draw(st.none() | st.floats(0, age))
        rows.append(dict(
            opened_at=opened,
            first_response_at=None if first is None else opened + minutes(first),
            paused_since=None if paused is None else opened + minutes(paused),
            paused_minutes=draw(st.floats(0, 3000)),
            first_response_minutes=draw(st.integers(1, 3000)),
            resolution_minutes=draw(st.integers(1, 20_000)),
            escalation_level=draw(st.integers(0, 2)),
            calendar=draw(st.integers(-1, len(CALENDARS) - 1)),
        ))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(open_cases())
def test_sweep_equals_the_scalar_rules(rows):
    column = lambda key: [r[key] for r in rows]  # noqa: E731
    result = sweep(SweepInput(
        opened_at=_dt64(column("opened_at")),
        first_response_minutes=np.array(column("first_response_minutes"), dtype=float),
        resolution_minutes=np.array(column("resolution_minutes"), dtype=float),
        paused_minutes=np.array(column("paused_minutes")),
        paused_since=_dt64(column("paused_since")),
        first_response_at=_dt64(column("first_response_at")),
        escalation_level=np.array(column("escalation_level")),
        calendar=np.array(column("calendar")),
    ), T0, CALENDARS)
    for i, row in enumerate(rows):
        state = evaluate_case(now=T0, **{**row, "calendar": None if row["calendar"] < 0
                                         else CALENDARS[row["calendar"]]})
        assert result.first_response_elapsed[i] == pytest.approx(state.first_response_elapsed, abs=1e-6)
        assert result.resolution_elapsed[i] == pytest.approx(state.resolution_elapsed, abs=1e-6)
        on_edge = any(
            abs(elapsed - k * target) < 1e-6
            for elapsed, target in ((state.first_response_elapsed, row["first_response_minutes"]),
                                    (state.resolution_elapsed, row["resolution_minutes"]))
            for k in (1, 2, state.breach_targets, state.breach_targets + 1))
        if on_edge:  # float rounding may legitimately fall either side of a boundary
            continue
        assert bool(result.first_response_breached[i]) is state.first_response_breached
        assert bool(result.resolution_breached[i]) is state.resolution_breached
        assert result.breach_targets[i] == state.breach_targets
        assert result.escalation_level[i] == state.escalation_level
        assert result.escalation_level[i] >= row["escalation_level"]


# ------------------------------------------------------------------- promises

def test_promise_kept_by_an_update_or_the_resolution():
    made, promised = T0, T0 + timedelta(hours=4)
    later = T0 + timedelta(days=1)
    assert promise_outcome(promised, later, made_at=made, updates=[T0 + timedelta(hours=3)]) is PromiseOutcome.KEPT
    assert promise_outcome(promised, later, made_at=made, resolved_at=promised) is PromiseOutcome.KEPT
    assert promise_outcome(promised, later, made_at=made,
                           updates=[T0 - minutes(5), T0 + timedelta(hours=5)]) is PromiseOutcome.BROKEN
    assert promise_outcome(promised, T0 + timedelta(hours=1), made_at=made) is PromiseOutcome.PENDING
    assert promise_outcome(promised, promised, made_at=made) is PromiseOutcome.PENDING


def test_vectorised_promises_match():
    promised = _dt64([T0 + timedelta(hours=h) for h in (1, 1, 5, 5)])
    fulfilled = _dt64([T0, None, None, T0 + timedelta(hours=6)])
    kept, broken = promise_outcomes(promised, fulfilled, T0 + timedelta(hours=2))
    assert kept.tolist() == [True, False, False, False]
    assert broken.tolist() == [False, True, False, False]
