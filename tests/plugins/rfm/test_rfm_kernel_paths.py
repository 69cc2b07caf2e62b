"""The per-customer pass's code paths (kernels.KERNEL_PATHS) give the same
results bit for bit, and warm-up keeps the one that runs fastest.

Amounts here are arbitrary floats, not exact multiples: the paths must add
them in the same order, so that their sums match to the last bit.
"""

import time

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from plugins.rfm import kernels
from plugins.rfm.kernels import KERNEL_PATHS, RfmInputError, score_rfm
from plugins.rfm.settings import RfmSettings

DAY = 86400
T0 = 1_700_000_000


@pytest.fixture(autouse=True)
def restore_path():
    before = kernels.kernel_path()
    yield
    kernels.use_kernel_path(before)


def reference(offsets, times, amounts, refunds, as_of, start):
    """Plain Python: per customer (days, count, net spend summed in order, scored),
    and the checks (descents, bad amounts, earliest first time)."""
    days, count, monetary = [], [], []
    descents = sum(1 for i in range(offsets.size - 1) for j in range(offsets[i] + 1, offsets[i + 1])
                   if times[j] < times[j - 1])
    bad = sum(1 for x in amounts.tolist() if not (0.0 < x < float("inf")))
    firsts = [int(times[offsets[i]]) for i in range(offsets.size - 1) if offsets[i] < offsets[i + 1]]
    for i in range(offsets.size - 1):
        inside = [j for j in range(offsets[i], offsets[i + 1]) if start <= times[j] <= as_of]
        spend = 0.0
        for j in inside:
            spend += float(amounts[j])
        count.append(len(inside))
        monetary.append(repr(spend - float(refunds[i])))  # repr: exact, and NaN equals NaN
        days.append((as_of - int(times[inside[-1]])) / DAY if inside else None)
    return days, count, monetary, (descents, bad, min(firsts, default=np.iinfo(np.int64).max))


def aggregates(path, offsets, times, amounts, refunds, as_of, start):
    n = offsets.size - 1
    out = kernels._outputs(n, np.float64, np.int64, np.float64, np.bool_)
    checks = kernels.aggregate(path, offsets, times, amounts, refunds, as_of, start, *out)
    days, frequency, monetary, scored = out
    return ([None if np.isnan(d) else d for d in days.tolist()], frequency.tolist(), [repr(m) for m in monetary.tolist()],
            tuple(int(c) for c in checks), scored.tolist())


def assert_paths_agree(offsets, times, amounts, refunds, as_of, start):
    days, count, monetary, checks = reference(offsets, times, amounts, refunds, as_of, start)
    for path in KERNEL_PATHS:
        got = aggregates(path, offsets, times, amounts, refunds, as_of, start)
        if checks[0]:  # a customer out of order: score_rfm refuses the batch, only the checks count
            assert got[3] == checks, path
            continue
        assert got[0] == days, path
        assert got[1] == count, path
        assert got[2] == monetary, path  # bit for bit: same summation order
        assert got[3] == checks, path
        assert got[4] == [c > 0 for c in count], path


@st.composite
def batches(draw):
    """Customers of 0 to 40 purchases (across the lane limits 4/5 and 16/17),
    float amounts, sometimes a bad amount or an unsorted customer."""
    sizes = draw(st.lists(st.integers(0, 40), min_size=1, max_size=30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offsets = np.zeros(len(sizes) + 1, np.int64)
    offsets[1:] = np.cumsum(sizes)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    times = T0 + rng.integers(0, 60 * DAY, owner.size)
    times = times[np.lexsort((times, owner))]
    amounts = rng.lognormal(4.0, 1.5, owner.size)
    if owner.size and draw(st.booleans()):
        amounts[rng.integers(owner.size)] = draw(st.sampled_from([np.nan, -1.0, 0.0, np.inf]))
    if owner.size > 1 and draw(st.booleans()):
        j = rng.integers(1, owner.size)
        times[j] = times[j - 1] - 1  # a descent (within a customer or across two)
    refunds = np.where(rng.random(len(sizes)) < 0.3, rng.lognormal(3.0, 1.0, len(sizes)), 0.0)
    as_of = T0 + draw(st.integers(0, 70 * DAY))
    # score_rfm refuses a window that starts after as_of: every start here is at most as_of
    start = draw(st.sampled_from([kernels._NO_WINDOW, T0 - DAY, min(T0 + 20 * DAY, as_of), as_of]))
    return offsets, times, amounts, refunds, as_of, start


@hsettings(max_examples=150, deadline=None)
@given(batches())
def test_every_path_gives_the_reference_aggregates_bit_for_bit(batch):
    assert_paths_agree(*batch)


@pytest.mark.parametrize("size", [0, 1, 4, 5, 16, 17, 23, 24, 25])
def test_a_customer_at_the_end_of_the_arrays(size):
    # the lanes read past a customer's purchases, so near the end of the
    # arrays the lanes path falls back to loops: same results there too
    rng = np.random.default_rng(size)
    sizes = [3, 30, size]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    times = np.concatenate([np.sort(T0 + rng.integers(0, 40 * DAY, s)) for s in sizes]).astype(np.int64)
    amounts = rng.random(times.size) * 100 + 0.01
    for start in (kernels._NO_WINDOW, T0 + 10 * DAY):
        assert_paths_agree(offsets, times, amounts, np.zeros(3), T0 + 30 * DAY, start)


def test_empty_batch_on_every_path():
    empty = np.array([], np.int64)
    assert_paths_agree(np.array([0], np.int64), empty, np.array([]), np.array([]), T0, kernels._NO_WINDOW)


def test_score_rfm_gives_the_same_scores_on_every_path():
    offsets, times, amounts, refunds = kernels.timing_batch(customers=20_000, seed=5)
    amounts = amounts + np.random.default_rng(5).random(amounts.size)  # not whole numbers
    as_of = int(times.max())
    results = {}
    for path in KERNEL_PATHS:
        kernels.use_kernel_path(path)
        results[path] = score_rfm(offsets, times, amounts, refunds, as_of, RfmSettings(window_days=365))
    first = results[KERNEL_PATHS[0]]
    assert 0 < first.scored.sum() < first.scored.size  # the window cuts some customers out
    for path, got in results.items():
        for name in ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment", "scored"):
            np.testing.assert_array_equal(getattr(got, name), getattr(first, name), err_msg=f"{path}: {name}")


@pytest.mark.parametrize("path", KERNEL_PATHS)
def test_every_path_finds_the_same_bad_input(path):
    kernels.use_kernel_path(path)
    offsets = np.array([0, 6, 26, 30], np.int64)  # the unsorted one read through lanes, then loops
    times = np.concatenate([np.array([5, 6, 7, 3, 8, 9]), np.arange(20), np.arange(4)]) + T0
    with pytest.raises(RfmInputError, match="customer 0 is not sorted"):
        score_rfm(offsets, times, np.ones(30), np.zeros(3), T0 + 100, RfmSettings())
    amounts = np.ones(30)
    amounts[8] = -2.0
    with pytest.raises(RfmInputError, match=r"amounts\[8\] = -2.0"):
        score_rfm(offsets, np.sort(times), amounts, np.zeros(3), T0 + 100, RfmSettings(window_days=1))


def slowed(monkeypatch, slow_paths, seconds=0.002):
    """kernels.aggregate with ``seconds`` added to each call of ``slow_paths``."""
    real = kernels.aggregate

    def aggregate(path, *args):
        if path in slow_paths:
            time.sleep(seconds)
        return real(path, *args)

    monkeypatch.setattr(kernels, "aggregate", aggregate)


def test_warm_up_chooses_the_fastest_path(monkeypatch):
    slowed(monkeypatch, {"lanes", "one_pass"})
    assert kernels.choose_kernel_path() == "loops"
    assert kernels.kernel_path() == "loops"
    assert set(kernels.kernel_timings) == set(KERNEL_PATHS)
    assert kernels.kernel_timings["lanes"] > kernels.kernel_timings["loops"] + 0.0015


def test_the_default_path_wins_ties(monkeypatch):
    # every path slowed by the same 20 ms: their differences are within the
    # margin, and the default is kept rather than a coin toss
    slowed(monkeypatch, set(KERNEL_PATHS), seconds=0.02)
    assert kernels.choose_kernel_path() == kernels.DEFAULT_KERNEL_PATH


def test_unknown_path_is_refused():
    with pytest.raises(ValueError, match="unknown kernel path 'avx'"):
        kernels.use_kernel_path("avx")
