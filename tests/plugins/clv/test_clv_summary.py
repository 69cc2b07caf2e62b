"""summary.py on small hand-checkable batches and against a plain-Python reference."""

import datetime as dt

import numpy as np
import pytest

from plugins.clv.summary import SummaryInputError, collapse, span_in_units, summarise

DAY = 86400
HOUR = 3600


def epoch(y, m, d, hour=0):
    return int(dt.datetime(y, m, d, hour, tzinfo=dt.timezone.utc).timestamp())


def batch(*customers):
    """Columnar arrays from per-customer lists of (epoch seconds, amount)."""
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in customers])]).astype(np.int64)
    times = np.array([t for c in customers for t, _ in c], dtype=np.int64)
    amounts = np.array([a for c in customers for _, a in c], dtype=np.float64)
    return offsets, times, amounts


def test_daily_summary_by_hand():
    d0 = epoch(2024, 3, 6)  # a Wednesday
    offsets, times, amounts = batch(
        [(d0 + 10 * HOUR, 10.0), (d0 + 15 * HOUR, 5.0), (d0 + 3 * DAY, 20.0), (d0 + 10 * DAY, 30.0), (d0 + 40 * DAY, 99.0)],
        [],  # never bought
        [(d0 + 2 * DAY + HOUR, 7.5)],  # one purchase
        [(d0 + 30 * DAY, 5.0)],  # only after as_of
    )
    s = summarise(offsets, times, amounts, as_of=d0 + 20 * DAY, unit="day")
    np.testing.assert_array_equal(s.observed, [True, False, True, False])
    np.testing.assert_array_equal(s.frequency, [2, 0, 0, 0])  # two purchases on day 0 are one period
    np.testing.assert_array_equal(s.recency, [10.0, 0, 0, 0])
    np.testing.assert_array_equal(s.T, [20.0, 0, 18.0, 0])  # from the start of the first day
    np.testing.assert_array_equal(s.monetary_value, [25.0, 0, 0, 0])  # (20 + 30) / 2 repeat periods
    np.testing.assert_array_equal(s.historical_value, [65.0, 0, 7.5, 0])
    np.testing.assert_array_equal(s.n_purchases, [4, 0, 1, 0])


def test_weekly_periods_start_on_monday_and_time_is_in_weeks():
    wed = epoch(2024, 3, 6)
    sun = epoch(2024, 3, 10, 23)
    mon = epoch(2024, 3, 11)
    offsets, times, amounts = batch([(wed, 1.0), (sun, 2.0), (mon, 4.0)])
    as_of = epoch(2024, 3, 25, 12)
    s = summarise(offsets, times, amounts, as_of, unit="week")
    assert s.frequency[0] == 1  # Wed and Sun share a week, Monday starts the next
    assert s.recency[0] == 1.0
    assert s.T[0] == pytest.approx((as_of - epoch(2024, 3, 4)) / (7 * DAY))  # from Monday 4 March
    assert s.monetary_value[0] == 4.0
    # days merged, time in weeks: the CDNOW convention
    s = summarise(offsets, times, amounts, as_of, unit="week", period="day")
    assert s.frequency[0] == 2
    assert s.recency[0] == pytest.approx((epoch(2024, 3, 11) - wed) / (7 * DAY))


def test_monthly_periods_are_calendar_months():
    offsets, times, amounts = batch([(epoch(2024, 1, 31, 20), 10.0), (epoch(2024, 2, 1, 1), 30.0), (epoch(2024, 2, 20), 5.0)])
    as_of = epoch(2024, 3, 16)
    s = summarise(offsets, times, amounts, as_of, unit="month")
    assert s.frequency[0] == 1  # January, then February (twice)
    assert s.recency[0] == 1.0
    assert s.T[0] == pytest.approx(2 + 15 / 31)  # Jan 1 -> Mar 16: two months and 15 of March's 31 days
    assert s.monetary_value[0] == 35.0
    assert span_in_units(epoch(2024, 2, 1), epoch(2024, 3, 1), "month") == 1.0
    assert span_in_units(epoch(2024, 2, 1), epoch(2024, 2, 8), "week") == 1.0


def test_local_days_set_the_calendar_days():
    late = epoch(2024, 5, 1, 23)  # 07:00 on 2 May in UTC+8
    early = epoch(2024, 5, 2, 1)  # 09:00 on 2 May in UTC+8
    offsets, times, amounts = batch([(late, 1.0), (early, 1.0)])
    as_of = epoch(2024, 5, 10)
    assert summarise(offsets, times, amounts, as_of).frequency[0] == 1
    local = np.array([late // DAY + 1, early // DAY])  # both on 2 May in Shanghai
    s = summarise(offsets, times, amounts, as_of, local_days=local, as_of_local=as_of + 8 * HOUR)
    assert s.frequency[0] == 0
    assert s.T[0] == pytest.approx(8 + 8 / 24)  # 2 May 00:00 -> 10 May 08:00, local


def test_local_days_across_a_daylight_saving_change():
    """New York: a purchase at 23:30 local in January (04:30 UTC next day) and
    one at 23:30 local in July (03:30 UTC next day), as of 1998-01-01 00:00 local.
    One offset for the whole history (the as-of date's, -5 h) put the July
    purchase on the next day; the stored local days do not."""
    jan = epoch(1997, 1, 2, 4) + 30 * 60  # 1997-01-01 23:30 EST
    jul = epoch(1997, 7, 2, 3) + 30 * 60  # 1997-07-01 23:30 EDT
    as_of = epoch(1998, 1, 1, 5)  # 1998-01-01 00:00 EST
    offsets, times, amounts = batch([(jan, 1.0), (jul, 1.0)])
    local = np.array([epoch(1997, 1, 1) // DAY, epoch(1997, 7, 1) // DAY])
    s = summarise(offsets, times, amounts, as_of, local_days=local, as_of_local=as_of - 5 * HOUR)
    assert (s.frequency[0], s.recency[0], s.T[0]) == (1, 181.0, 365.0)


def test_local_days_must_match_the_purchases():
    offsets, times, amounts = batch([(epoch(2024, 5, 1), 1.0), (epoch(2024, 5, 3), 1.0)])
    with pytest.raises(SummaryInputError, match="local_days"):
        summarise(offsets, times, amounts, epoch(2024, 6, 1), local_days=np.array([1]))
    with pytest.raises(SummaryInputError, match="local_days"):
        summarise(offsets, times, amounts, epoch(2024, 6, 1), local_days=np.array([0, 0]))


def test_start_bounds_the_window():
    d0 = epoch(2024, 1, 1)
    offsets, times, amounts = batch([(d0, 1.0), (d0 + 5 * DAY, 2.0), (d0 + 9 * DAY, 3.0)])
    s = summarise(offsets, times, amounts, d0 + 10 * DAY, start=d0 + DAY)
    assert (s.frequency[0], s.recency[0], s.T[0], s.historical_value[0]) == (1, 4.0, 5.0, 5.0)


def reference_summary(customers, as_of, unit_days):
    """lifetimes' definitions, purchases merged by UTC day, written out plainly."""
    rows = []
    for purchases in customers:
        by_day = {}
        for t, a in purchases:
            if t <= as_of:
                by_day[t // DAY] = by_day.get(t // DAY, 0.0) + a
        if not by_day:
            rows.append(None)
            continue
        days = sorted(by_day)
        repeat = [by_day[d] for d in days[1:]]
        rows.append(
            (
                len(days) - 1,
                (days[-1] - days[0]) / unit_days,
                (as_of / DAY - days[0]) / unit_days,
                sum(repeat) / len(repeat) if repeat else 0.0,
            )
        )
    return rows


@pytest.mark.parametrize("seed", range(5))
def test_matches_plain_python_reference_on_random_batches(seed):
    rng = np.random.default_rng(seed)
    t0 = epoch(2023, 1, 1)
    customers = []
    for _ in range(60):
        k = rng.integers(0, 8)
        times = np.sort(t0 + rng.integers(0, 200 * DAY, k))
        customers.append([(int(t), float(rng.integers(1, 400)) / 4) for t in times])
    offsets, times, amounts = batch(*customers)
    as_of = t0 + 150 * DAY + 7 * HOUR
    s = summarise(offsets, times, amounts, as_of, unit="week", period="day")
    for i, expected in enumerate(reference_summary(customers, as_of, 7.0)):
        if expected is None:
            assert not s.observed[i]
            continue
        assert s.observed[i]
        assert (s.frequency[i], s.recency[i], s.T[i], s.monetary_value[i]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "arrays, field",
    [
        (([1, 2], [0, 1], [1.0, 1.0]), "offsets"),  # does not start at 0
        (([0, 3], [0, 1], [1.0, 1.0]), "offsets"),  # does not end at len(times)
        (([0, 2], [5, 1], [1.0, 1.0]), "times"),  # descending within a customer
        (([0, 2], [0, 1], [1.0]), "amounts"),
        (([0, 2], [0, 1], [1.0, np.nan]), "amounts"),
    ],
)
def test_bad_batches_name_the_field(arrays, field):
    with pytest.raises(SummaryInputError, match=f"^{field}:"):
        summarise(*arrays, as_of=10)


def test_descending_times_across_customers_are_fine():
    s = summarise([0, 1, 2], [5 * DAY, 1 * DAY], [1.0, 1.0], as_of=10 * DAY)
    np.testing.assert_array_equal(s.T, [5.0, 9.0])


def test_unknown_unit():
    with pytest.raises(SummaryInputError, match="^unit:"):
        summarise([0], [], [], as_of=0, unit="year")
    with pytest.raises(SummaryInputError, match="^period:"):
        summarise([0], [], [], as_of=0, period="hour")


def test_collapse_counts_identical_rows_and_maps_back():
    rng = np.random.default_rng(3)
    f = rng.integers(0, 3, 500).astype(float)
    r = np.where(f > 0, rng.integers(0, 4, 500), 0).astype(float)
    T = rng.integers(4, 6, 500).astype(float)
    rows = collapse(f, r, T)
    assert rows.weights.sum() == 500
    assert rows.weights.size == len(set(zip(f, r, T)))
    np.testing.assert_array_equal(rows.frequency[rows.inverse], f)
    np.testing.assert_array_equal(rows.recency[rows.inverse], r)
    np.testing.assert_array_equal(rows.T[rows.inverse], T)
    np.testing.assert_array_equal(np.bincount(rows.inverse), rows.weights)
    # Collapsing unique rows again (what a fit does with a caller's collapsed rows) keeps them as they are.
    again = collapse(rows.frequency, rows.recency, rows.T)
    np.testing.assert_array_equal(again.frequency, rows.frequency)
    np.testing.assert_array_equal(again.T, rows.T)
    np.testing.assert_array_equal(again.weights, np.ones(rows.weights.size))
    np.testing.assert_array_equal(again.inverse, np.arange(rows.weights.size))
    # Rows out of order, even unique ones, are sorted and counted as before.
    shuffled = collapse(rows.frequency[::-1], rows.recency[::-1], rows.T[::-1])
    np.testing.assert_array_equal(shuffled.frequency, rows.frequency)
    np.testing.assert_array_equal(shuffled.inverse, np.arange(rows.weights.size)[::-1])
