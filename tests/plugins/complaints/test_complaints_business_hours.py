"""Business-time arithmetic: examples, DST, and agreement with a per-minute reference."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from plugins.complaints.business_hours import (
    BusinessTable,
    add_business_minutes,
    business_minutes_between,
    business_table,
    elapsed_with_pauses,
    open_spans,
    utc_seconds,
)
from plugins.complaints.settings import WEEKDAYS, BusinessCalendar

WORKDAYS = WEEKDAYS[:5]
# Shanghai office: 09:00–12:00 and 13:00–18:00 on weekdays, National Day off.
SHANGHAI = BusinessCalendar(
    timezone="Asia/Shanghai",
    hours={d: [("09:00", "12:00"), ("13:00", "18:00")] for d in WORKDAYS},
    holidays=[date(2024, 10, 1), date(2024, 10, 2)],
)
NEW_YORK_ALL_DAY = BusinessCalendar(
    timezone="America/New_York", hours={d: [("00:00", "24:00")] for d in WEEKDAYS})


def sh(*args) -> datetime:
    """A Shanghai wall time as a UTC-aware datetime."""
    return datetime(*args, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def ny(*args, fold=0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("America/New_York"), fold=fold).astimezone(UTC)


# ---------------------------------------------------------------- examples

def test_24_7_is_plain_arithmetic():
    start = datetime(2024, 3, 9, 12, tzinfo=UTC)
    assert add_business_minutes(None, start, 90) == start + timedelta(minutes=90)
    assert business_minutes_between(None, start, start + timedelta(days=2)) == 2880
    assert open_spans(None, start, start + timedelta(hours=1)) == [(start, start + timedelta(hours=1))]


def test_friday_evening_rolls_over_the_weekend():
    # Fri 17:00 → one hour left on Friday, the second hour is Monday 09:00–10:00.
    assert add_business_minutes(SHANGHAI, sh(2024, 9, 20, 17), 120) == sh(2024, 9, 23, 10)
    assert business_minutes_between(SHANGHAI, sh(2024, 9, 20, 17), sh(2024, 9, 23, 10)) == 120


def test_lunch_break_and_closed_start():
    assert add_business_minutes(SHANGHAI, sh(2024, 9, 23, 11, 30), 60) == sh(2024, 9, 23, 13, 30)
    # Starting at night: the clock starts at the next opening.
    assert add_business_minutes(SHANGHAI, sh(2024, 9, 23, 22), 30) == sh(2024, 9, 24, 9, 30)


def test_due_time_is_the_end_of_a_span_not_the_next_opening():
    assert add_business_minutes(SHANGHAI, sh(2024, 9, 23, 9), 180) == sh(2024, 9, 23, 12)
    assert add_business_minutes(SHANGHAI, sh(2024, 9, 23, 9), 8 * 60) == sh(2024, 9, 23, 18)


def test_holidays_are_skipped():
    # Mon 30 Sep 17:00 + 2 h: Tue 1 and Wed 2 Oct are holidays → Thu 3 Oct 10:00.
    assert add_business_minutes(SHANGHAI, sh(2024, 9, 30, 17), 120) == sh(2024, 10, 3, 10)
    assert business_minutes_between(SHANGHAI, sh(2024, 9, 30, 0), sh(2024, 10, 4, 0)) == 2 * 480


def test_a_five_day_target_over_a_weekend_and_holidays():
    # 5 business days (2,400 min) from Fri 27 Sep 09:00: 27, 30 Sep, 3, 4, 7 Oct.
    due = add_business_minutes(SHANGHAI, sh(2024, 9, 27, 9), 5 * 480)
    assert due == sh(2024, 10, 7, 18)


def test_between_is_antisymmetric_and_zero_minutes_is_the_start():
    a, b = sh(2024, 9, 20, 10), sh(2024, 9, 24, 15)
    assert business_minutes_between(SHANGHAI, b, a) == -business_minutes_between(SHANGHAI, a, b)
    night = sh(2024, 9, 21, 3)
    assert add_business_minutes(SHANGHAI, night, 0) == night


def test_spring_forward_day_has_the_hours_that_exist():
    cal = BusinessCalendar(timezone="America/New_York", hours={"sun": [("00:00", "04:00"),
                                                                      ("09:00", "17:00")]})
    # 10 Mar 2024: 02:00–03:00 does not exist, so 00:00–04:00 holds three hours.
    spans = open_spans(cal, datetime(2024, 3, 10, tzinfo=UTC), datetime(2024, 3, 12, tzinfo=UTC))
    assert spans == [(ny(2024, 3, 10, 0), ny(2024, 3, 10, 4)), (ny(2024, 3, 10, 9), ny(2024, 3, 10, 17))]
    assert business_minutes_between(cal, ny(2024, 3, 10, 0), ny(2024, 3, 10, 23)) == 11 * 60
    # A boundary inside the gap starts when the clock jumps (03:00 EDT).
    gap = BusinessCalendar(timezone="America/New_York", hours={"sun": [("02:30", "04:00")]})
    assert open_spans(gap, datetime(2024, 3, 10, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC)) == [
        (ny(2024, 3, 10, 3), ny(2024, 3, 10, 4))]


def test_fall_back_day_counts_the_repeated_hour_twice():
    start = ny(2024, 11, 3, 0)
    assert business_minutes_between(NEW_YORK_ALL_DAY, start, ny(2024, 11, 4, 0)) == 25 * 60
    cal = BusinessCalendar(timezone="America/New_York", hours={"sun": [("00:00", "01:30")]})
    # 01:00–01:30 happens in EDT and again in EST: two separate spans, 120 minutes.
    spans = open_spans(cal, datetime(2024, 11, 3, tzinfo=UTC), datetime(2024, 11, 4, tzinfo=UTC))
    assert spans == [(ny(2024, 11, 3, 0), ny(2024, 11, 3, 1, 30)),
                     (ny(2024, 11, 3, 1, fold=1), ny(2024, 11, 3, 1, 30, fold=1))]
    assert add_business_minutes(cal, start, 100) == ny(2024, 11, 3, 1, 10, fold=1)


def test_dst_shifts_utc_opening_times():
    london = BusinessCalendar(timezone="Europe/London", hours={d: [("09:00", "17:00")] for d in WORKDAYS})
    # Fri 29 Mar 16:00 GMT + 2 h → Mon 1 Apr 10:00 BST = 09:00 UTC.
    assert add_business_minutes(london, datetime(2024, 3, 29, 16, tzinfo=UTC), 120) == datetime(
        2024, 4, 1, 9, tzinfo=UTC)


def test_quarter_hour_offsets():
    kathmandu = BusinessCalendar(timezone="Asia/Kathmandu", hours={"mon": [("10:00", "11:00")]})
    assert add_business_minutes(kathmandu, datetime(2024, 1, 1, tzinfo=UTC), 30) == datetime(
        2024, 1, 1, 4, 45, tzinfo=UTC)


def test_elapsed_with_pauses():
    start, now = sh(2024, 9, 23, 9), sh(2024, 9, 24, 18)  # two full days: 960 minutes
    assert elapsed_with_pauses(SHANGHAI, start, now) == 960
    pauses = [
        (sh(2024, 9, 23, 10), sh(2024, 9, 23, 11)),  # 60
        (sh(2024, 9, 23, 10, 30), sh(2024, 9, 23, 14)),  # overlaps: extends to 14:00 → +120
        (sh(2024, 9, 20, 9), sh(2024, 9, 23, 9, 30)),  # starts before the case: 30 count
        (sh(2024, 9, 24, 17), None),  # still running: the last hour
    ]
    assert elapsed_with_pauses(SHANGHAI, start, now, pauses) == 960 - 60 - 120 - 30 - 60
    assert elapsed_with_pauses(None, start, now, [(start, None)]) == 0
    assert elapsed_with_pauses(SHANGHAI, now, start) == 0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="naive"):
        add_business_minutes(SHANGHAI, datetime(2024, 1, 1), 5)
    with pytest.raises(ValueError, match=">= 0"):
        add_business_minutes(SHANGHAI, sh(2024, 1, 1), -1)


def test_a_calendar_closed_for_decades_fails_instead_of_looping():
    mondays = [date(2024, 1, 1) + timedelta(weeks=w) for w in range(52 * 31)]
    cal = BusinessCalendar(hours={"mon": [("09:00", "10:00")]}, holidays=mondays)
    with pytest.raises(ValueError, match="no open time"):
        add_business_minutes(cal, datetime(2024, 1, 1, tzinfo=UTC), 1)


def test_table_answers_like_the_scalar_functions():
    table = BusinessTable(SHANGHAI, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    starts = [sh(2024, 9, 20, 17), sh(2024, 9, 30, 17), sh(2024, 9, 21, 3), sh(2024, 9, 23, 11, 30)]
    ends = [sh(2024, 9, 23, 10), sh(2024, 10, 8, 12), sh(2024, 9, 21, 4), sh(2024, 12, 1)]
    a = np.array([utc_seconds(t) for t in starts])
    b = np.array([utc_seconds(t) for t in ends])
    expected = [business_minutes_between(SHANGHAI, s, e) for s, e in zip(starts, ends)]
    np.testing.assert_allclose(table.minutes_between(a, b), expected)
    minutes = np.array([120, 0, 0, 5000])
    due = table.add_minutes(a, minutes)
    assert [datetime.fromtimestamp(x, UTC) for x in due] == [
        add_business_minutes(SHANGHAI, s, m) for s, m in zip(starts, minutes)]
    with pytest.raises(ValueError, match="horizon"):
        table.cumulative(np.array([utc_seconds(datetime(2026, 1, 1, tzinfo=UTC))]))


def test_cached_tables_grow_to_cover_new_ranges():
    early = business_table(SHANGHAI, utc_seconds(sh(2023, 5, 1)), utc_seconds(sh(2023, 6, 1)))
    later = business_table(SHANGHAI, utc_seconds(sh(2023, 5, 1)), utc_seconds(sh(2031, 6, 1)))
    assert later.covers(early.start, early.end) and later.end > early.end
    assert business_table(SHANGHAI, early.start, early.end) is later


# ------------------------------------------------------ properties and reference

ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kathmandu",
         "Australia/Lord_Howe", "America/Santiago", "America/Havana"]
# Days around DST changes of those zones (and a quiet one).
PIVOTS = [date(2024, 3, 10), date(2024, 11, 3), date(2024, 3, 31), date(2024, 10, 27),
          date(2024, 4, 7), date(2024, 9, 8), date(2024, 10, 6), date(2024, 3, 17),
          date(2024, 6, 12)]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def calendars(draw, step=st.sampled_from([1, 15, 30, 60])):
    grid = draw(step)
    hours = {}
    for day in WEEKDAYS:
        points = sorted(draw(st.sets(st.integers(0, 1440 // grid), max_size=6)))
        points = points[: len(points) // 2 * 2]
        if points:
            hours[day] = [(_hhmm(a * grid), _hhmm(b * grid)) for a, b in zip(points[::2], points[1::2])]
    open_minutes = sum(
        (int(e[:2]) * 60 + int(e[3:])) - (int(s[:2]) * 60 + int(s[3:]))
        for ivs in hours.values() for s, e in ivs)
    assume(open_minutes >= 120)
    pivot = draw(st.sampled_from(PIVOTS))
    holidays = draw(st.lists(st.integers(-3, 3).map(lambda k: pivot + timedelta(days=k)), max_size=3))
    cal = BusinessCalendar(timezone=draw(st.sampled_from(ZONES)), hours=hours, holidays=holidays)
    start = datetime.combine(pivot, datetime.min.time(), UTC) + timedelta(
        minutes=draw(st.integers(-3 * 1440, 2 * 1440)))
    return cal, start


def brute_force_minutes(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Count whole UTC minutes whose local wall time is open (test reference only)."""
    zone, weekly, holidays = cal.zone, cal.minutes_by_weekday(), set(cal.holidays)
    count, t = 0, start
    while t < end:
        local = t.astimezone(zone)
        minute = local.hour * 60 + local.minute
        if local.date() not in holidays and any(a <= minute < b for a, b in weekly[local.weekday()]):
            count += 1
        t += timedelta(minutes=1)
    return count


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars(), st.integers(0, 3 * 1440))
def test_agrees_with_a_per_minute_reference(cal_start, length):
    cal, start = cal_start
    end = start + timedelta(minutes=length)
    assert business_minutes_between(cal, start, end) == brute_force_minutes(cal, start, end)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars(), st.floats(0, 5000, allow_nan=False))
def test_add_then_between_round_trips_and_due_is_earliest(cal_start, minutes):
    cal, start = cal_start
    due = add_business_minutes(cal, start, minutes)
    assert business_minutes_between(cal, start, due) == pytest.approx(minutes, abs=1e-6)
    if minutes > 0:
        assert business_minutes_between(cal, start, due - timedelta(seconds=1)) < minutes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendars(), st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 20_000)),
                             min_size=1, max_size=8))
def test_table_agrees_with_the_span_walk(cal_start, offsets):
    cal, start = cal_start
    base = utc_seconds(start)
    table = BusinessTable(cal, start - timedelta(days=2), start + timedelta(days=30))
    a = np.array([base + 60 * x for x, _ in offsets])
    b = np.array([base + 60 * y for _, y in offsets])
    expected = [business_minutes_between(cal, datetime.fromtimestamp(x, UTC),
                                         datetime.fromtimestamp(y, UTC)) for x, y in zip(a, b)]
    np.testing.assert_allclose(table.minutes_between(a, b), expected, atol=1e-9)
    due = table.add_minutes(a, np.full(a.size, 90.0))
    for x, d in zip(a, due):
        assert d == pytest.approx(
            utc_seconds(add_business_minutes(cal, datetime.fromtimestamp(x, UTC), 90)), abs=1e-5)
