"""RFM kernels against a plain-Python reference on random batches.

Amounts, refunds and ABC cuts in the property tests are multiples of 1/4 or
1/16, so every float sum is exact and the reference can use exact fractions
without arguing about summation order.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from scipy.stats import rankdata

from plugins.rfm.kernels import RfmInputError, RfmScores, score_rfm, score_rfm_totals, warm_up
from plugins.rfm.settings import RfmSettings

DAY = 86400
T0 = 1_700_000_000  # an epoch-seconds origin, so values look like real data


# --- the reference ----------------------------------------------------------


def ref_grid(r, f):
    if r == 5 and f >= 4:
        return "CHAMPIONS"
    if r in (3, 4) and f >= 4:
        return "LOYAL"
    if r >= 4 and f in (2, 3):
        return "POTENTIAL_LOYALIST"
    if r == 5:
        return "NEW"
    if r == 4:
        return "PROMISING"
    if r == 3:
        return "NEED_ATTENTION" if f == 3 else "ABOUT_TO_SLEEP"
    if f == 5:
        return "CANT_LOSE"
    return "AT_RISK" if f >= 3 else "HIBERNATING"


def ref_bucket(score, k):
    """1..k onto 1..5 linearly, rounding half up."""
    x = 1 + Fraction(score - 1) * 4 / (k - 1)
    return math.floor(x + Fraction(1, 2))


def reference(purchases, refunds, as_of, settings, window_start=None):
    """purchases: per customer a list of (time, amount). Returns a dict of lists."""
    k = settings.k
    if window_start is None and settings.window_days is not None:
        window_start = as_of - settings.window_days * DAY
    rec, freq, mon, scored = [], [], [], []
    for ps, refund in zip(purchases, refunds):
        inside = [(t, a) for t, a in ps if t <= as_of and (window_start is None or t >= window_start)]
        freq.append(len(inside))
        spend = 0.0
        for _, a in inside:
            spend += a
        mon.append(spend - refund)
        scored.append(bool(inside))
        rec.append((as_of - max(t for t, _ in inside)) / DAY if inside else None)
    who = [i for i in range(len(purchases)) if scored[i]]
    n = len(who)

    def quantile(values, i, better):
        worse = sum(1 for j in who if better(values[i], values[j]))
        return 1 + (k * worse) // n

    cuts = settings.thresholds

    def score(name, values, i, higher_is_better):
        fixed = getattr(cuts, name) if cuts else None
        if fixed is None:
            if higher_is_better:
                return quantile(values, i, lambda mine, other: other < mine)
            return quantile(values, i, lambda mine, other: other > mine)
        if higher_is_better:
            return 1 + sum(1 for c in fixed if c <= values[i])
        return k - sum(1 for c in fixed if c < values[i])

    r_s = [score("recency", rec, i, False) if scored[i] else 0 for i in range(len(purchases))]
    f_s = [score("frequency", freq, i, True) if scored[i] else 0 for i in range(len(purchases))]
    m_s = [score("monetary", mon, i, True) if scored[i] else 0 for i in range(len(purchases))]

    seg = [None] * len(purchases)
    if not who:
        pass
    elif settings.scheme == "RF_GRID_10":
        for i in who:
            seg[i] = ref_grid(ref_bucket(r_s[i], k), ref_bucket(f_s[i], k))
    elif settings.scheme == "RFM_MEAN_8":
        # exact means; recency in integer seconds
        secs = {i: as_of - max(t for t, _ in purchases[i] if t <= as_of and (window_start is None or t >= window_start)) for i in who}
        mean_r = Fraction(sum(secs.values()), n)
        mean_f = Fraction(sum(freq[i] for i in who), n)
        mean_m = sum(Fraction(mon[i]) for i in who) / n
        for i in who:
            r_hi = secs[i] < mean_r
            f_hi = freq[i] > mean_f
            m_hi = Fraction(mon[i]) > mean_m
            seg[i] = ("IMPORTANT_" if m_hi else "GENERAL_") + {
                (True, True): "VALUE", (True, False): "DEVELOP",
                (False, True): "RETAIN", (False, False): "WINBACK",
            }[(r_hi, f_hi)]
    else:
        a_cut, b_cut = (Fraction(c) for c in settings.abc_cuts)
        spenders = [i for i in who if mon[i] > 0]
        total = sum(Fraction(mon[i]) for i in spenders)
        for i in who:
            if mon[i] <= 0:
                seg[i] = "C"
                continue
            before = sum(Fraction(mon[j]) for j in spenders if mon[j] > mon[i])
            seg[i] = "A" if before < a_cut * total else ("B" if before < b_cut * total else "C")
    return dict(recency_days=rec, frequency=freq, monetary=mon, r_score=r_s, f_score=f_s,
                m_score=m_s, segment=seg, scored=scored)


def to_arrays(purchases):
    offsets = np.zeros(len(purchases) + 1, np.int64)
    offsets[1:] = np.cumsum([len(p) for p in purchases])
    times = np.array([t for p in purchases for t, _ in p], np.int64)
    amounts = np.array([a for p in purchases for _, a in p], np.float64)
    return offsets, times, amounts


def run(purchases, refunds, as_of, settings, window_start=None) -> RfmScores:
    offsets, times, amounts = to_arrays(purchases)
    return score_rfm(offsets, times, amounts, np.array(refunds, np.float64), as_of, settings, window_start)


def assert_matches(purchases, refunds, as_of, settings, window_start=None):
    got = run(purchases, refunds, as_of, settings, window_start)
    want = reference(purchases, refunds, as_of, settings, window_start)
    assert got.scored.tolist() == want["scored"]
    assert got.frequency.tolist() == want["frequency"]
    assert got.monetary.tolist() == want["monetary"]  # bit-identical: same summation order
    assert [None if math.isnan(x) else x for x in got.recency_days.tolist()] == want["recency_days"]
    assert got.r_score.tolist() == want["r_score"]
    assert got.f_score.tolist() == want["f_score"]
    assert got.m_score.tolist() == want["m_score"]
    assert got.segment_codes() == want["segment"]
    assert got.segment.dtype == np.int8 and got.r_score.dtype == np.int8
    return got


# --- random batches ---------------------------------------------------------

quarters = st.integers(1, 40).map(lambda q: q / 4)  # few distinct values: many ties
day_times = st.integers(0, 30).map(lambda d: T0 + d * DAY) | st.integers(0, 30 * DAY).map(lambda s: T0 + s)


@st.composite
def batches(draw, max_customers=25):
    n = draw(st.integers(1, max_customers))
    # Mostly small customers; some batches also have customers of 5-20
    # purchases, which the kernel reads through fixed lanes.
    most = draw(st.sampled_from([6, 6, 20]))
    purchases = []
    for _ in range(n):
        times = sorted(draw(st.lists(day_times, max_size=most)))
        purchases.append([(t, draw(quarters)) for t in times])
    # refunds: mostly none, sometimes more than the customer ever spent
    refunds = [draw(st.sampled_from([0.0, 0.0, 0.25, 5.0, 50.0])) for _ in range(n)]
    all_times = [t for p in purchases for t, _ in p]
    lo = min(all_times, default=T0)
    as_of = draw(st.integers(lo, T0 + 35 * DAY))
    window_start = draw(st.none() | st.integers(T0 - DAY, as_of))
    return purchases, refunds, as_of, window_start


@st.composite
def rfm_settings(draw):
    k = draw(st.integers(2, 10))
    scheme = draw(st.sampled_from(["RF_GRID_10", "RFM_MEAN_8", "ABC"]))
    thresholds = {}
    for name, values in [("recency", st.integers(0, 40).map(float)), ("frequency", st.integers(0, 8).map(float)),
                         ("monetary", st.integers(-40, 200).map(lambda q: q / 4))]:
        if draw(st.booleans()):
            thresholds[name] = sorted(draw(st.sets(values, min_size=k - 1, max_size=k - 1)))
    a = draw(st.integers(1, 14))
    b = draw(st.integers(a + 1, 15))
    return RfmSettings(
        scheme=scheme, k=k, thresholds=thresholds or None,
        window_days=draw(st.none() | st.integers(1, 40)), abc_cuts=(a / 16, b / 16),
    )


@pytest.fixture(scope="module", autouse=True)
def compiled():
    warm_up()


@hsettings(max_examples=200, deadline=None)
@given(batches(), rfm_settings(), st.booleans())
def test_matches_reference(batch, settings, explicit_window):
    purchases, refunds, as_of, window_start = batch
    if not explicit_window:
        window_start = None  # then settings.window_days decides
    assert_matches(purchases, refunds, as_of, settings, window_start)


@hsettings(max_examples=60, deadline=None)
@given(batches(), st.integers(2, 10))
def test_equal_values_get_equal_scores_and_worst_gets_1(batch, k):
    purchases, refunds, as_of, _ = batch
    got = run(purchases, refunds, as_of, RfmSettings(k=k))
    s = got.scored
    for values, scores in [(-got.recency_days[s], got.r_score[s]), (got.frequency[s], got.f_score[s]),
                           (got.monetary[s], got.m_score[s])]:
        for v in np.unique(values):
            assert len(set(scores[values == v])) == 1
        if values.size:
            assert set(scores[values == values.min()]) == {1}
            assert scores.min() == 1 and scores.max() <= k


@hsettings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(["RF_GRID_10", "RFM_MEAN_8", "ABC"]))
def test_one_purchase_per_customer(batch, scheme):
    purchases, refunds, as_of, window_start = batch
    purchases = [p[:1] for p in purchases]
    got = assert_matches(purchases, refunds, as_of, RfmSettings(scheme=scheme), window_start)
    assert set(got.frequency[got.scored].tolist()) <= {1}


# --- named cases ------------------------------------------------------------


def test_hand_worked_example():
    purchases = [
        [(T0, 10.0), (T0 + 10 * DAY, 20.0), (T0 + 20 * DAY, 30.0)],  # R 20d, F 3, M 60
        [(T0 + 5 * DAY, 5.0)],  # R 35d, F 1, M 5 - 10 = -5
        [],  # never bought
        [(T0 + 30 * DAY, 100.0), (T0 + 31 * DAY, 1.0)],  # R 9d, F 2, M 101 - 200 = -99
    ]
    got = run(purchases, [0.0, 10.0, 0.0, 200.0], T0 + 40 * DAY, RfmSettings())
    assert got.recency_days[[0, 1, 3]].tolist() == [20.0, 35.0, 9.0]
    assert math.isnan(got.recency_days[2])
    assert got.frequency.tolist() == [3, 1, 0, 2]
    assert got.monetary.tolist() == [60.0, -5.0, 0.0, -99.0]
    # n = 3 scored; score = 1 + floor(5 * worse / 3): worse 0, 1, 2 -> 1, 2, 4
    assert got.r_score.tolist() == [2, 1, 0, 4]
    assert got.f_score.tolist() == [4, 1, 0, 2]
    assert got.m_score.tolist() == [4, 2, 0, 1]
    assert got.segment_codes() == ["AT_RISK", "HIBERNATING", None, "POTENTIAL_LOYALIST"]
    assert got.scored.tolist() == [True, True, False, True]


def test_single_customer_scores_1_everywhere():
    # score(v) = 1 + floor(k * 0 / 1): a lone customer is the worst value too
    got = run([[(T0, 10.0), (T0 + DAY, 5.0)]], [0.0], T0 + 2 * DAY, RfmSettings())
    assert (got.r_score.tolist(), got.f_score.tolist(), got.m_score.tolist()) == ([1], [1], [1])
    assert got.segment_codes() == ["HIBERNATING"]
    assert run([[(T0, 1.0)]], [0.0], T0, RfmSettings(scheme="ABC")).segment_codes() == ["A"]
    assert run([[(T0, 1.0)]], [0.0], T0, RfmSettings(scheme="RFM_MEAN_8")).segment_codes() == ["GENERAL_WINBACK"]


def test_purchases_outside_the_window_are_not_scored_not_zero():
    purchases = [
        [(T0, 50.0)],  # before the window
        [(T0 + 100 * DAY, 20.0)],  # after as_of
        [(T0 + 40 * DAY, 10.0)],  # inside
        [(T0 + 5 * DAY, 7.0), (T0 + 40 * DAY, 3.0)],  # one of two inside
    ]
    got = run(purchases, [0.0, 0.0, 0.0, 0.0], T0 + 60 * DAY, RfmSettings(window_days=30))
    assert got.scored.tolist() == [False, False, True, True]
    assert got.r_score.tolist()[:2] == [0, 0] and got.m_score.tolist()[:2] == [0, 0]
    assert got.segment.tolist()[:2] == [-1, -1]
    assert np.isnan(got.recency_days[:2]).all()
    assert got.frequency.tolist() == [0, 0, 1, 1]
    assert got.monetary.tolist() == [0.0, 0.0, 10.0, 3.0]


def test_window_bounds_are_inclusive_and_explicit_start_overrides_days():
    as_of = T0 + 30 * DAY
    purchases = [[(T0, 1.0)], [(as_of, 1.0)]]
    assert run(purchases, [0, 0], as_of, RfmSettings(window_days=30)).scored.tolist() == [True, True]
    assert run(purchases, [0, 0], as_of, RfmSettings(window_days=29)).scored.tolist() == [False, True]
    got = run(purchases, [0, 0], as_of, RfmSettings(window_days=29), window_start=T0)
    assert got.scored.tolist() == [True, True]


def test_nobody_in_window():
    got = run([[(T0, 1.0)], []], [0.0, 0.0], T0 + 10 * DAY, RfmSettings(scheme="ABC", window_days=1))
    assert not got.scored.any()
    assert got.segment.tolist() == [-1, -1]
    assert got.r_score.tolist() == [0, 0]


def test_refunds_larger_than_purchases():
    purchases = [[(T0, 10.0)], [(T0, 30.0)], [(T0, 60.0)]]
    for scheme in ("RF_GRID_10", "RFM_MEAN_8", "ABC"):
        got = assert_matches(purchases, [25.0, 0.0, 0.0], T0 + DAY, RfmSettings(scheme=scheme))
        assert got.monetary.tolist() == [-15.0, 30.0, 60.0]
        assert got.scored.all()  # a negative net is still a score, not a gap
        assert got.m_score.tolist() == [1, 2, 4]
    assert got.segment_codes() == ["C", "A", "A"]


def test_abc_cuts_straddling_and_ties():
    def abc(ms, cuts=(0.75, 0.95)):
        purchases = [[(T0, m)] for m in ms]
        return run(purchases, [0.0] * len(ms), T0, RfmSettings(scheme="ABC", abc_cuts=cuts)).segment_codes()

    # cumulative spend before each: 0, 50, 80, 95 (of 100)
    assert abc([50, 30, 15, 5]) == ["A", "A", "B", "C"]  # 30 straddles 75% -> A; 5 starts at 95% -> C
    assert abc([5, 15, 30, 50]) == ["C", "B", "A", "A"]  # order of customers does not matter
    assert abc([40, 40, 20]) == ["A", "A", "B"]  # ties share the spend before them
    assert abc([10, 10, 10, 10]) == ["A"] * 4
    assert abc([80, 20], cuts=(0.8, 0.95)) == ["A", "B"]  # exactly at the cut starts the next class
    assert abc([81, 19], cuts=(0.8, 0.95)) == ["A", "B"]
    assert abc([96, 4]) == ["A", "C"]  # the last customer starts past 95%


def test_mean8_all_equal_values_are_low_despite_rounding():
    # three customers with M = 0.1 each: the float mean is not exactly 0.1
    purchases = [[(T0, 0.1)], [(T0, 0.1)], [(T0, 0.1)]]
    got = run(purchases, [0.0] * 3, T0 + DAY, RfmSettings(scheme="RFM_MEAN_8"))
    assert got.segment_codes() == ["GENERAL_WINBACK"] * 3
    purchases = [[(T0 + DAY, 0.7), (T0 + DAY, 0.1)], [(T0, 0.1)], [(T0, 0.1)]]
    got = run(purchases, [0.0] * 3, T0 + DAY, RfmSettings(scheme="RFM_MEAN_8"))
    assert got.segment_codes() == ["IMPORTANT_VALUE", "GENERAL_WINBACK", "GENERAL_WINBACK"]


def test_fixed_thresholds():
    # recency 0, 5, 10, 40 days; frequency 1..4; monetary 5, 10, 99.75, 100
    as_of = T0 + 40 * DAY
    purchases = [
        [(as_of, 5.0)],
        [(T0, 1.0), (as_of - 5 * DAY, 9.0)],
        [(T0, 1.0), (T0, 1.0), (as_of - 10 * DAY, 97.75)],
        [(T0, 25.0)] * 4,
    ]
    cuts = {"recency": [5, 10, 30], "frequency": [2, 3, 4], "monetary": [10, 50, 100]}
    got = run(purchases, [0.0] * 4, as_of, RfmSettings(k=4, thresholds=cuts))
    assert got.r_score.tolist() == [4, 4, 3, 1]  # <= 5 days is best; exactly at a cut stays above it
    assert got.f_score.tolist() == [1, 2, 3, 4]  # >= cut moves up
    assert got.m_score.tolist() == [1, 2, 3, 4]


def test_thresholds_on_one_dimension_only():
    purchases = [[(T0, 1.0)], [(T0, 1.0), (T0 + DAY, 1.0)], [(T0 + DAY, 500.0)]]
    settings = RfmSettings(k=2, thresholds={"monetary": [100]})
    got = assert_matches(purchases, [0.0] * 3, T0 + DAY, settings)
    assert got.m_score.tolist() == [1, 1, 2]
    assert got.f_score.tolist() == [1, 2, 1]  # quantile: 2 of 3 are strictly worse than F=2


@pytest.mark.parametrize("k", [2, 3, 10])
def test_best_customer_is_champion_for_any_k(k):
    purchases = [[(T0 + d * DAY, 1.0)] * (d + 1) for d in range(20)]
    got = run(purchases, [0.0] * 20, T0 + 20 * DAY, RfmSettings(k=k))
    assert got.r_score[-1] == k and got.f_score[-1] == k
    assert got.segment_codes()[-1] == "CHAMPIONS"
    assert got.segment_codes()[0] == "HIBERNATING"


def test_large_batch_matches_rank_min():
    # 300k customers: an O(n^2) count of "strictly worse" would not finish
    rng = np.random.default_rng(7)
    n = 300_000
    counts = rng.integers(0, 6, n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    times = np.sort(rng.integers(T0, T0 + 400 * DAY, offsets[-1]))  # any sorted run is sorted per customer
    amounts = rng.integers(1, 400, offsets[-1]) / 4
    refunds = np.zeros(n)
    as_of = T0 + 400 * DAY
    got = score_rfm(offsets, times, amounts, refunds, as_of, RfmSettings(k=7))
    s = got.scored
    assert s.sum() == (counts > 0).sum()
    for values, scores in [(-got.recency_days[s], got.r_score[s]), (got.frequency[s], got.f_score[s]),
                           (got.monetary[s], got.m_score[s])]:
        worse = rankdata(values, method="min") - 1
        np.testing.assert_array_equal(scores, 1 + (7 * worse) // s.sum())


@pytest.mark.parametrize("k", [2, 5, 10])
def test_clustered_values_with_outliers_match_rank_min(k):
    # Scores come from order statistics found by radix selection: a tight
    # cluster next to a huge and a negative outlier puts tens of thousands
    # of values in one top-level bucket, so the selection must refine it.
    rng = np.random.default_rng(11)
    n = 60_000
    offsets = np.arange(n + 1)
    times = T0 + rng.integers(0, 3, n) * DAY + rng.integers(0, 4, n)  # heavy ties in R too
    amounts = 100 + rng.integers(0, 4096, n) / 1024
    amounts[0] = 1e12
    refunds = np.zeros(n)
    refunds[1:200] = 500.0  # negative net spend for some
    got = score_rfm(offsets, times, amounts, refunds, T0 + 10 * DAY, RfmSettings(k=k))
    for values, scores in [(times, got.r_score), (got.monetary, got.m_score)]:
        worse = rankdata(values, method="min") - 1
        np.testing.assert_array_equal(scores, 1 + (k * worse) // n)


@pytest.mark.parametrize("window", [None, 12])
def test_every_customer_size_around_the_lane_limits_matches_reference(window):
    # The kernel reads customers of 5 to 16 purchases through fixed lanes
    # and the others with loops, and falls back to loops near the end of
    # the arrays: every size from 0 to 20, in mixed order, the last ones
    # too, with the window edge and as_of cutting into them.
    rng = np.random.default_rng(3)
    sizes = np.tile(np.arange(21), 4)
    rng.shuffle(sizes)
    purchases = [
        [(int(t), float(a)) for t, a in zip(np.sort(T0 + rng.integers(0, 30 * DAY, size)), rng.integers(1, 80, size) / 4)]
        for size in sizes
    ] + [[(T0 + d * DAY, 1.0) for d in range(size)] for size in (20, 9, 5)]
    refunds = (rng.integers(0, 3, len(purchases)) * 2.5).tolist()
    assert_matches(purchases, refunds, T0 + 20 * DAY, RfmSettings(window_days=window))


@pytest.mark.parametrize("size, position", [(6, 1), (10, 5), (16, 15), (17, 16)])
def test_unsorted_and_bad_amounts_are_found_inside_long_customers(size, position):
    # a customer of ``size`` purchases between two long ones, its purchase
    # ``position`` out of order, or with a bad amount outside the window
    def batch():
        return [[(T0 + j, 1.0) for j in range(20)], [(T0 + j * DAY, 1.0) for j in range(size)],
                [(T0 + j, 1.0) for j in range(20)]]

    purchases = batch()
    t, a = purchases[1][position]
    purchases[1][position] = (t - 2 * DAY, a)
    with pytest.raises(RfmInputError, match=r"customer 1 is not sorted"):
        run(purchases, [0.0] * 3, T0 + 30 * DAY, RfmSettings())
    for value in (float("nan"), -1.0, float("inf")):
        purchases = batch()
        purchases[1][position] = (purchases[1][position][0], value)
        with pytest.raises(RfmInputError, match=rf"amounts\[{20 + position}\] = {value}"):
            run(purchases, [0.0] * 3, T0 + 30 * DAY, RfmSettings(window_days=1))


def test_empty_batch():
    got = score_rfm(np.array([0]), np.array([], np.int64), np.array([]), np.array([]), T0, RfmSettings())
    assert got.segment.size == 0 and got.scored.size == 0


def test_accepts_other_integer_dtypes_and_non_contiguous_arrays():
    offsets = np.array([0, 1, 2], np.int32)
    times = np.array([T0, 0, T0 + DAY, 0], np.int64)[::2]
    got = score_rfm(offsets, times, [1.0, 2.0], [0, 0], np.int64(T0 + DAY), RfmSettings())
    assert got.r_score.tolist() == [1, 3]


# --- bad input ----------------------------------------------------------------


def bad(match, offsets=(0, 2, 3), times=(T0, T0 + 1, T0), amounts=(1.0, 2.0, 3.0), refunds=(0.0, 0.0),
        as_of=T0 + DAY, window_start=None, settings=None):
    with pytest.raises(RfmInputError, match=match):
        score_rfm(np.asarray(offsets), np.asarray(times), np.asarray(amounts), np.asarray(refunds),
                  as_of, settings or RfmSettings(), window_start)


def test_good_default_of_bad_helper_is_valid():
    score_rfm(np.array([0, 2, 3]), np.array([T0, T0 + 1, T0]), np.array([1.0, 2.0, 3.0]),
              np.zeros(2), T0 + DAY, RfmSettings())


def test_input_errors_name_the_field():
    bad(r"refunds must have one entry per customer", refunds=(0.0,))
    bad(r"amounts must have one entry per purchase", amounts=(1.0, 2.0))
    bad(r"offsets\[-1\] must equal len\(times\)", offsets=(0, 2, 2))
    bad(r"offsets must be non-decreasing; offsets\[2\] < offsets\[1\]", offsets=(0, 3, 2, 3), refunds=(0, 0, 0))
    bad(r"offsets must start at 0", offsets=(1, 2, 3))
    bad(r"offsets must have n\+1 entries", offsets=())
    bad(r"times must be ascending within each customer; customer 0", times=(T0 + 1, T0, T0))
    bad(r"as_of .* is before the earliest purchase", as_of=T0 - 1)
    bad(r"amounts must be positive finite numbers; amounts\[1\] = -2", amounts=(1.0, -2.0, 3.0))
    bad(r"amounts must be positive finite numbers; amounts\[2\] = nan", amounts=(1.0, 2.0, float("nan")))
    bad(r"amounts must be positive finite numbers; amounts\[0\] = 0", amounts=(0.0, 2.0, 3.0))
    bad(r"refunds must be non-negative finite amounts; refunds\[1\] = -1", refunds=(0.0, -1.0))
    bad(r"window_start .* is after as_of", window_start=T0 + 2 * DAY)
    bad(r"times must hold int64 values, got dtype float64", times=(1.0, 2.0, 3.0))
    bad(r"offsets must be a 1-D array", offsets=((0, 2, 3),))
    bad(r"as_of must be an integer number of epoch seconds", as_of=float(T0))
    bad(r"window_start must be an integer", window_start="yesterday")
    bad(r"settings must be an RfmSettings", settings={"k": 5})


def test_times_may_decrease_across_customers():
    # sorting is per customer: customer 1 may start earlier than customer 0 ended
    got = run([[(T0 + 5, 1.0)], [(T0, 1.0)]], [0.0, 0.0], T0 + 5, RfmSettings())
    assert got.scored.all()


@pytest.mark.parametrize("unsorted", [0, 2, 3, 5])
def test_the_unsorted_customer_is_named_among_many(unsorted):
    # Every customer starts earlier than the one before ended, customer 1 has
    # no purchase; only one customer's own times go backwards.
    purchases = [[(T0 + 10 * DAY - c * DAY + j, 1.0) for j in range(3)] if c != 1 else [] for c in range(6)]
    purchases[unsorted].reverse()
    with pytest.raises(RfmInputError, match=rf"customer {unsorted} is not sorted"):
        run(purchases, [0.0] * 6, T0 + 20 * DAY, RfmSettings())


def test_input_error_is_a_value_error():
    assert issubclass(RfmInputError, ValueError)


def test_small_batches_run_single_threaded_and_restore_the_thread_count():
    import numba

    before = numba.get_num_threads()
    run([[(T0, 1.0)]], [0.0], T0, RfmSettings())
    assert numba.get_num_threads() == before


def test_segments_table_matches_scheme():
    got = run([[(T0, 1.0)]], [0.0], T0, RfmSettings(scheme="ABC"))
    assert [s.code for s in got.segments()] == ["A", "B", "C"]


# --- scoring customers already totalled (the engine's database aggregate) ----


@hsettings(max_examples=150, deadline=None)
@given(batches(), rfm_settings())
def test_totals_score_as_the_purchases_they_sum(batch, settings):
    purchases, refunds, as_of, window_start = batch
    want = reference(purchases, refunds, as_of, settings, window_start)
    who = [i for i, s in enumerate(want["scored"]) if s]
    start = window_start if window_start is not None else (
        None if settings.window_days is None else as_of - settings.window_days * DAY)
    last = [max(t for t, _ in purchases[i] if t <= as_of and (start is None or t >= start)) for i in who]
    got = score_rfm_totals(np.array(last, np.int64), np.array([want["frequency"][i] for i in who], np.int64),
                           np.array([want["monetary"][i] for i in who]), as_of, settings)
    for name in ("recency_days", "r_score", "f_score", "m_score"):
        assert getattr(got, name).tolist() == [want[name][i] for i in who], name
    assert got.segment_codes() == [want["segment"][i] for i in who]
    assert got.scored.all()


def test_totals_with_nobody_in_the_window_score_nobody():
    got = score_rfm_totals(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), T0, RfmSettings(scheme="ABC"))
    assert got.segment_codes() == [] and got.r_score.size == 0


def test_totals_input_errors_name_the_field():
    def refused(match, last=(T0, T0 + 5), frequency=(1, 2), monetary=(1.0, 2.0), as_of=T0 + DAY, settings=RfmSettings()):
        with pytest.raises(RfmInputError, match=match):
            score_rfm_totals(np.array(last), np.array(frequency), np.array(monetary), as_of, settings)

    refused(r"frequency must have one entry per customer: len\(frequency\)=1, customers=2", frequency=(1,))
    refused(r"monetary must have one entry per customer", monetary=(1.0, 2.0, 3.0))
    refused(r"frequency must be at least 1 .*; frequency\[1\] = 0", frequency=(1, 0))
    refused(r"last_purchase must not be after as_of .*; last_purchase\[1\] = ", as_of=T0 + 1)
    refused(r"monetary must be finite amounts; monetary\[0\] = nan", monetary=(float("nan"), 1.0))
    refused(r"last_purchase must hold int64 values", last=(1.5, 2.5))
    refused(r"as_of must be an integer number of epoch seconds", as_of="today")
    refused(r"settings must be an RfmSettings", settings=None)
