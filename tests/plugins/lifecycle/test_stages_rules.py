"""The stage rules (plugins/lifecycle/stages.py) against a plain-Python reference of docs/lifecycle.md's definitions."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest
from pydantic import ValidationError

from plugins.lifecycle import stages as st
from plugins.lifecycle.settings import LifecycleSettings

DAY = 86400
AS_OF = 1_780_000_000  # 2026-05-28


def _percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (statistics' "inclusive" method)."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[round(p) - 1]


def reference(histories: dict[int, list[int]], as_of: int, settings: LifecycleSettings, offset: int = 0) -> dict[int, str]:
    """The stage of each customer, written from the definitions alone, one customer at a time."""
    days = {c: sorted({(t + offset) // DAY for t in times}) for c, times in histories.items()}
    gaps = [b - a for d in days.values() for a, b in zip(d, d[1:])]
    ps = (settings.at_risk_percentile, settings.lapsed_percentile, settings.churned_percentile)
    median = statistics.median(gaps)
    single = [max(settings.min_threshold_days, _percentile(gaps, p)) for p in ps]
    shaped = [c for c, d in days.items() if len(d) >= 3]
    if len(shaped) >= st.MIN_SHAPE_CUSTOMERS:
        normalised = []
        for c in shaped:
            d = days[c]
            mean = (d[-1] - d[0]) / (len(d) - 1)
            normalised += [(b - a) / mean for a, b in zip(d, d[1:])]
        factors = [_percentile(normalised, p) for p in ps]
    else:
        factors = [-math.log(1 - p / 100) for p in ps]
    new_days = single[0]
    w = settings.gap_prior_weight

    def thresholds(d: list[int]) -> list[float]:
        if len(d) < 2:
            return single
        gap = ((d[-1] - d[0]) + w * median) / (len(d) - 1 + w)
        out = [max(settings.min_threshold_days, f * gap) for f in factors]
        return [out[0], max(out[1], out[0]), max(out[2], out[1], out[0])]

    result = {}
    for c, times in histories.items():
        d = days[c]
        if not times:
            result[c] = "prospect"
            continue
        first, last = times[0], times[-1]
        silent = (as_of - last) / DAY
        at_risk, lapsed, churned = thresholds(d)
        returned = len(d) >= 2 and d[-1] - d[-2] > thresholds(d[:-1])[1]
        if silent >= churned:
            result[c] = "churned"
        elif silent >= lapsed:
            result[c] = "lapsed"
        elif silent >= at_risk:
            result[c] = "at_risk"
        elif (last - first) / DAY <= new_days:
            result[c] = "new" if (as_of - first) / DAY < new_days else "active"
        elif returned and (as_of - last) / DAY < new_days:
            result[c] = "won_back"
        else:
            result[c] = "active"
    return result


def _arrays(histories: dict[int, list[int]]):
    ids = np.array(sorted(histories), dtype=np.int64)
    counts = [len(histories[c]) for c in ids.tolist()]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    times = np.array([t for c in ids.tolist() for t in histories[c]], dtype=np.int64)
    return ids, offsets, times


def _stages(histories, settings, as_of=AS_OF, offset=0):
    ids, offsets, times = _arrays(histories)
    days = st.purchase_days(ids, offsets, times, utc_offset=offset)
    th = st.derive_thresholds(days, settings)
    paths = st.stage_paths(days, th, as_of)
    return {int(c): st.STAGES[s] for c, s in zip(ids.tolist(), paths.stage.tolist())}, th, paths


def _population(rnd: random.Random, n: int, mean_gap: float) -> dict[int, list[int]]:
    """Customers buying at their own rate around ``mean_gap`` days, some dropping out, some coming back."""
    histories = {}
    for c in range(1, n + 1):
        rate_gap = mean_gap * rnd.lognormvariate(0, 0.6)
        t = AS_OF - rnd.uniform(10, 900) * DAY
        times = []
        while t <= AS_OF and len(times) < 40:
            times.append(int(t))
            if rnd.random() < 0.08:  # a long pause, then back
                t += rnd.uniform(3, 8) * rate_gap * DAY
            t += rnd.expovariate(1 / rate_gap) * DAY + rnd.uniform(0, 3600)
        if rnd.random() < 0.05:
            times = []  # a prospect
        histories[c] = times
    return histories


@pytest.mark.parametrize("seed,mean_gap", [(1, 20.0), (2, 75.0), (3, 7.0)])
def test_stages_match_the_reference(seed, mean_gap):
    histories = _population(random.Random(seed), 400, mean_gap)
    settings = LifecycleSettings()
    got, th, _ = _stages(histories, settings)
    assert th.shape == "tenant"
    want = reference(histories, AS_OF, settings)
    assert got == want
    assert {"active", "at_risk", "lapsed", "churned", "prospect"} <= set(got.values())


def test_the_reference_agrees_with_few_repeat_buyers_too():
    """Under MIN_SHAPE_CUSTOMERS customers with 3+ purchase days the factors are the exponential gap's."""
    rnd = random.Random(5)
    histories = {c: sorted(int(AS_OF - rnd.uniform(1, 200) * DAY) for _ in range(rnd.choice([1, 1, 2])))
                 for c in range(1, 60)}
    settings = LifecycleSettings(gap_prior_weight=0.5)
    got, th, _ = _stages(histories, settings)
    assert th.shape == "exponential" and th.at_risk_factor == pytest.approx(math.log(5))
    assert got == reference(histories, AS_OF, settings)


def test_thresholds_scale_with_the_tenants_own_rhythm():
    """A weekly business and a quarterly one: the same 40 days of silence mean churned in one and nothing in the other."""
    rnd = random.Random(9)

    def business(gap_days):
        histories = {c: [int(AS_OF - (k * gap_days + rnd.uniform(0, gap_days / 3)) * DAY) for k in range(8, 0, -1)]
                     for c in range(1, 50)}
        histories[100] = [AS_OF - (40 + k * gap_days) * DAY for k in range(6, -1, -1)]  # last bought 40 days ago
        histories[101] = [AS_OF - 40 * DAY]  # one purchase, 40 days ago
        return histories

    weekly, weekly_th, _ = _stages(business(7), LifecycleSettings())
    quarterly, quarterly_th, _ = _stages(business(90), LifecycleSettings())
    assert weekly_th.median_gap_days < 10 < 80 < quarterly_th.median_gap_days
    assert (weekly[100], weekly[101]) == ("churned", "churned")
    # There a first purchase 40 days ago is still new: new lasts as long as a one-time buyer's at-risk threshold.
    assert (quarterly[100], quarterly[101]) == ("active", "new")


def test_fixed_days_replace_the_derived_thresholds():
    histories = {1: [AS_OF - 15 * DAY], 2: [AS_OF - 25 * DAY], 3: [AS_OF - 35 * DAY], 4: [AS_OF - 300 * DAY, AS_OF - 5 * DAY]}
    got, th, paths = _stages(histories, LifecycleSettings(at_risk_days=10, lapsed_days=20, churned_days=30, new_days=3, won_back_days=7))
    assert got == {1: "at_risk", 2: "lapsed", 3: "churned", 4: "won_back"}
    # Each stage began when the silence crossed its threshold, not when it was noticed.
    assert paths.since[1] == AS_OF - 25 * DAY + 20 * DAY


def test_a_new_customer_becomes_active_when_the_new_window_ends():
    histories = {1: [AS_OF - 20 * DAY, AS_OF - 2 * DAY], **{c: [AS_OF - 400 * DAY + k * 30 * DAY for k in range(13)]
                                                              for c in range(2, 40)}}
    settings = LifecycleSettings(new_days=10)
    got, th, paths = _stages(histories, settings)
    assert got[1] == "active"
    assert paths.since[0] == AS_OF - 2 * DAY  # the purchase after the window: active from it
    got, _, paths = _stages({**histories, 1: [AS_OF - 20 * DAY]}, settings)
    assert got[1] == "active" and paths.since[0] == AS_OF - 20 * DAY + 10 * DAY  # active when the window ended
    got, _, _ = _stages(histories, LifecycleSettings(new_days=30))
    assert got[1] == "new"


def test_purchases_on_one_local_day_are_one_purchase_day():
    base = (AS_OF // DAY - 10) * DAY  # midnight UTC
    # 23:00 and 01:00 UTC are one day in UTC+8 (07:00 and 09:00), two days in UTC.
    histories = {1: [base - 3600, base + 3600]}
    ids, offsets, times = _arrays(histories)
    assert st.purchase_days(ids, offsets, times, utc_offset=0).n_days.tolist() == [2]
    assert st.purchase_days(ids, offsets, times, utc_offset=8 * 3600).n_days.tolist() == [1]


@pytest.mark.parametrize("settings,field", [
    ({"at_risk_percentile": 96}, "at_risk_percentile < lapsed_percentile"),
    ({"at_risk_days": 30, "lapsed_days": 20}, "at_risk_days (30.0) must be less than lapsed_days"),
    ({"churn_reasons": [{"code": "X", "zh": "x", "en": "x", "side": "COMPANY"}] * 2}, "duplicate codes X"),
    ({"churn_reasons": [{"code": "bad code", "zh": "x", "en": "x", "side": "COMPANY"}]}, "UPPER_SNAKE_CASE"),
    ({"min_threshold_days": -1}, "min_threshold_days"),
])
def test_bad_settings_name_the_setting(settings, field):
    with pytest.raises(ValidationError) as error:
        LifecycleSettings(**settings)
    assert field in str(error.value)
