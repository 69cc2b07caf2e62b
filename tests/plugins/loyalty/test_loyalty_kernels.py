"""Loyalty batch kernels: expiry and tier evaluation against pure-Python references."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from plugins.loyalty.kernels import (
    PARALLEL_MIN_MEMBERS,
    evaluate_tier,
    evaluate_tiers,
    expire_lots,
    thresholds_from_settings,
    to_epoch_us,
    warm_up,
)
from plugins.loyalty.settings import LoyaltySettings

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
THRESHOLDS = thresholds_from_settings(LoyaltySettings())  # 0 / 2000 / 10000 / 50000
MEMBER, SILVER, GOLD, DIAMOND = range(4)


def us(*args) -> int:
    return to_epoch_us(dt.datetime(*args, tzinfo=UTC))


def from_us(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(value))


def setup_module():
    warm_up()


# -- references -------------------------------------------------------------------


def ref_expire(offsets, expires_at, remaining, as_of):
    per_lot = [r if (r > 0 and e <= as_of) else 0 for e, r in zip(expires_at, remaining)]
    per_member = [sum(per_lot[offsets[m]:offsets[m + 1]]) for m in range(len(offsets) - 1)]
    return per_lot, per_member


def ref_add_months(t: dt.datetime, months: int) -> dt.datetime:
    y, m = divmod(t.year * 12 + t.month - 1 + months, 12)
    return t.replace(year=y, month=m + 1, day=min(t.day, calendar.monthrange(y, m + 1)[1]))


def ref_tier(current, achieved_at: dt.datetime, metric, thresholds, min_months, as_of: dt.datetime):
    qualified = max(i for i, t in enumerate(thresholds) if metric >= t)
    if qualified > current:
        return qualified, as_of
    if qualified < current and ref_add_months(achieved_at, min_months) <= as_of:
        return current - 1, as_of
    return current, achieved_at


# -- expiry -----------------------------------------------------------------------


def test_expiry_hand_example():
    as_of = us(2025, 6, 1)
    offsets = [0, 3, 3, 5]  # member 1 has no lots
    expires = [us(2025, 1, 1), us(2025, 6, 1), us(2025, 6, 2), us(2024, 12, 1), us(2026, 1, 1)]
    remaining = [100, 40, 70, 0, 30]
    r = expire_lots(offsets, expires, remaining, as_of)
    assert r.per_lot.tolist() == [100, 40, 0, 0, 0]  # expires_at == as_of counts as expired
    assert r.per_member.tolist() == [140, 0, 0]


def test_expiry_accepts_datetime64_and_aware_datetimes():
    expires = np.array(["2025-01-01T00:00", "2025-09-01T00:00"], dtype="datetime64[s]")
    r = expire_lots([0, 2], expires, [5, 7], dt.datetime(2025, 6, 1, tzinfo=UTC))
    assert r.per_lot.tolist() == [5, 0]
    assert expire_lots([0, 2], expires, [5, 7], np.datetime64("2025-09-01")).per_member.tolist() == [12]


def test_no_members_no_lots():
    r = expire_lots([0], np.array([], dtype=np.int64), np.array([], dtype=np.int64), 0)
    assert r.per_lot.size == 0 and r.per_member.size == 0


lot_rows = st.lists(st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 1000)), max_size=6), max_size=30)


@hsettings(max_examples=120, deadline=None)
@given(members=lot_rows, as_of=st.integers(-60, 60))
def test_expiry_matches_reference_and_is_idempotent(members, as_of):
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in members])]).astype(np.int64)
    expires = np.array([e for m in members for e, _ in m], dtype=np.int64)
    remaining = np.array([r for m in members for _, r in m], dtype=np.int64)
    r = expire_lots(offsets, expires, remaining, as_of)
    per_lot, per_member = ref_expire(offsets.tolist(), expires.tolist(), remaining.tolist(), as_of)
    assert r.per_lot.tolist() == per_lot
    assert r.per_member.tolist() == per_member
    after = remaining - r.per_lot
    again = expire_lots(offsets, expires, after, as_of)
    assert not again.per_lot.any() and not again.per_member.any()


@pytest.mark.parametrize(
    "offsets, expires, remaining, match",
    [
        ([1, 2], [0], [1], "offsets must start at 0"),
        ([0, 2, 1], [0, 0], [1, 1], "never decrease"),
        ([0, 2], [0], [1, 1], "expires_at must be 1-D with 2 entries"),
        ([0, 1], [0], [-1], "remaining must be >= 0"),
        ([0, 1], [0], [1.5], "remaining must hold whole numbers"),
        ([0, 1], [0.5], [1], "expires_at must be datetime64 or int64"),
        ([0, 1], np.array(["NaT"], dtype="datetime64[s]"), [1], "NaT"),
    ],
)
def test_expiry_refuses_bad_input(offsets, expires, remaining, match):
    with pytest.raises(ValueError, match=match):
        expire_lots(offsets, expires, remaining, 0)


def test_naive_as_of_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        expire_lots([0, 1], [0], [1], dt.datetime(2025, 1, 1))


# -- tiers --------------------------------------------------------------------------


def one(current, achieved, metric, as_of, min_months=12):
    tier, when = evaluate_tier(current, achieved, metric, THRESHOLDS, min_months, as_of)
    return tier, when


def test_upgrade_is_immediate_and_to_the_highest_tier_qualified():
    achieved = dt.datetime(2025, 5, 1, tzinfo=UTC)
    now = dt.datetime(2025, 5, 2, tzinfo=UTC)
    assert one(MEMBER, achieved, 2000, now) == (SILVER, now)  # threshold reached counts
    assert one(MEMBER, achieved, 1999.99, now) == (MEMBER, achieved)
    assert one(MEMBER, achieved, 60000, now) == (DIAMOND, now)  # skips tiers upward
    assert one(SILVER, achieved, 12000, now) == (GOLD, now)


def test_downgrade_waits_min_months_then_moves_one_tier():
    achieved = dt.datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
    before = dt.datetime(2025, 3, 10, 8, 59, tzinfo=UTC)
    at = dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    assert one(DIAMOND, achieved, 0, before) == (DIAMOND, achieved)
    assert one(DIAMOND, achieved, 0, at) == (GOLD, at)  # one tier, not straight to MEMBER
    # The achieved date reset: the next step down is 12 months later.
    assert one(GOLD, at, 0, dt.datetime(2026, 3, 10, 8, tzinfo=UTC)) == (GOLD, at)
    assert one(GOLD, at, 0, dt.datetime(2026, 3, 10, 9, tzinfo=UTC))[0] == SILVER


def test_a_member_who_still_qualifies_keeps_the_tier():
    achieved = dt.datetime(2020, 1, 1, tzinfo=UTC)
    now = dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert one(GOLD, achieved, 10000, now) == (GOLD, achieved)
    assert one(GOLD, achieved, 20000, now) == (GOLD, achieved)
    assert one(GOLD, achieved, 9999, now) == (SILVER, now)


def test_month_end_clamps():
    jan31 = dt.datetime(2024, 1, 31, tzinfo=UTC)
    assert one(SILVER, jan31, 0, dt.datetime(2024, 2, 28, 23, tzinfo=UTC), min_months=1)[0] == SILVER
    assert one(SILVER, jan31, 0, dt.datetime(2024, 2, 29, tzinfo=UTC), min_months=1)[0] == MEMBER
    feb29 = dt.datetime(2024, 2, 29, tzinfo=UTC)
    assert one(SILVER, feb29, 0, dt.datetime(2025, 2, 28, tzinfo=UTC))[0] == MEMBER


def test_batch_hand_example_with_datetime64():
    current = [MEMBER, SILVER, DIAMOND, GOLD, DIAMOND]
    achieved = np.array(["2025-01-01", "2024-01-01", "2024-01-01", "2025-01-01", "2023-01-01"],
                        dtype="datetime64[D]")
    metric = [2500.0, 500.0, 0.0, 0.0, 51000.0]
    as_of = dt.datetime(2025, 6, 1, tzinfo=UTC)
    r = evaluate_tiers(current, achieved, metric, THRESHOLDS, 12, as_of)
    assert r.tier.tolist() == [SILVER, MEMBER, GOLD, GOLD, DIAMOND]
    assert r.changed.tolist() == [True, True, True, False, False]
    assert r.achieved_at.dtype == np.dtype("datetime64[us]")
    assert r.achieved_at[0] == np.datetime64("2025-06-01T00:00:00")
    assert r.achieved_at[3] == np.datetime64("2025-01-01")


times = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.just(UTC))


@hsettings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), times, st.floats(0, 80000, allow_nan=False) | st.sampled_from([2000.0, 10000.0])),
        max_size=25,
    ),
    as_of=times,
    min_months=st.integers(0, 36),
)
def test_tier_kernel_matches_reference(rows, as_of, min_months):
    current = np.array([c for c, _, _ in rows], dtype=np.int64)
    achieved = np.array([to_epoch_us(a) for _, a, _ in rows], dtype=np.int64)
    metric = np.array([m for _, _, m in rows], dtype=np.float64)
    r = evaluate_tiers(current, achieved, metric, THRESHOLDS, min_months, as_of)
    expected = [ref_tier(c, a, m, THRESHOLDS.tolist(), min_months, as_of) for c, a, m in rows]
    assert r.tier.tolist() == [t for t, _ in expected]
    assert [from_us(x) for x in r.achieved_at] == [a for _, a in expected]
    assert r.changed.tolist() == [t != c for (t, _), c in zip(expected, current)]


@hsettings(max_examples=100, deadline=None)
@given(current=st.integers(0, 3), achieved=times, metric=st.floats(0, 80000), as_of=times)
def test_a_tier_moves_at_most_one_step_down(current, achieved, metric, as_of):
    tier, _ = one(current, achieved, metric, as_of)
    assert tier >= current - 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"thresholds": [0, 2000, 1000]}, "strictly increasing"),
        ({"thresholds": [100, 2000, 10000]}, "start at 0"),
        ({"current_tier": [4]}, "tier indexes in 0..3"),
        ({"current_tier": [-1]}, "tier indexes in 0..3"),
        ({"metric": [float("nan")]}, "metric must be finite"),
        ({"metric": [1.0, 2.0]}, "metric must be 1-D with 1 entries"),
        ({"min_months": -1}, "min_months must be a whole number"),
        ({"min_months": 1.5}, "min_months must be a whole number"),
    ],
)
def test_tier_evaluation_refuses_bad_input(kwargs, match):
    args = {"current_tier": [0], "tier_achieved_at": [0], "metric": [0.0], "thresholds": THRESHOLDS,
            "min_months": 12, "as_of": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        evaluate_tiers(**args)


def test_thresholds_from_settings():
    assert THRESHOLDS.tolist() == [0.0, 2000.0, 10000.0, 50000.0]


# -- big batches take the parallel kernels ---------------------------------------------


def test_parallel_path_agrees_with_the_references():
    rng = np.random.default_rng(7)
    n = PARALLEL_MIN_MEMBERS * 2
    counts = rng.integers(0, 6, n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    as_of = us(2025, 6, 1)
    day = 86_400_000_000
    expires = as_of + rng.integers(-100, 100, offsets[-1]) * day
    remaining = rng.integers(0, 500, offsets[-1])
    r = expire_lots(offsets, expires, remaining, as_of)
    expected = np.where((remaining > 0) & (expires <= as_of), remaining, 0)
    assert np.array_equal(r.per_lot, expected)
    assert r.per_member.tolist() == [int(expected[a:b].sum()) for a, b in zip(offsets[:-1], offsets[1:])]

    current = rng.integers(0, 4, n)
    achieved = as_of - rng.integers(0, 900, n) * day
    metric = rng.uniform(0, 80000, n)
    big = evaluate_tiers(current, achieved, metric, THRESHOLDS, 12, as_of)
    sample = rng.choice(n, 300, replace=False)
    for i in sample:
        tier, when = ref_tier(int(current[i]), from_us(achieved[i]), metric[i], THRESHOLDS.tolist(), 12,
                              from_us(as_of))
        assert (big.tier[i], from_us(big.achieved_at[i])) == (tier, when)
    # The serial path (small chunks) gives the same answer everywhere.
    chunk = PARALLEL_MIN_MEMBERS // 2
    small = [evaluate_tiers(current[a:a + chunk], achieved[a:a + chunk], metric[a:a + chunk], THRESHOLDS, 12, as_of)
             for a in range(0, n, chunk)]
    assert np.array_equal(big.tier, np.concatenate([s.tier for s in small]))
    assert np.array_equal(big.achieved_at, np.concatenate([s.achieved_at for s in small]))
