"""The cohort and monthly-rate kernels against a plain-Python reference on random histories."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
import pytest

from plugins.lifecycle.kernels import LifecycleInputError, cohort_matrix, month_index, monthly_counts

DAY = 86400
START = int(datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp())
OFFSET = 8 * 3600  # months in China Standard Time


def random_history(n, seed):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(3.0, n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    times = np.concatenate([np.sort(START + rng.integers(0, 700 * DAY, c)) for c in counts]).astype(np.int64)
    amounts = rng.integers(1, 500, times.size).astype(np.float64)
    groups = rng.integers(0, 3, n)
    return offsets, times, amounts, groups


def local_month(t):
    d = datetime.fromtimestamp(int(t) + OFFSET, timezone.utc)  # calendar by the datetime module, not the kernel's arithmetic
    return d.year * 12 + d.month - 1


def reference(offsets, times, amounts, groups, as_of, first_month, n_months):
    customers = defaultdict(int)
    revenue = defaultdict(float)
    rates = defaultdict(int)
    for i in range(len(offsets) - 1):
        purchases = [(local_month(t), a) for t, a in zip(times[offsets[i]:offsets[i + 1]], amounts[offsets[i]:offsets[i + 1]]) if t <= as_of]
        if not purchases:
            continue
        g = groups[i]
        cohort = purchases[0][0]
        per_month = defaultdict(int)
        for m, a in purchases:
            per_month[m] += 1
            if first_month <= cohort < first_month + n_months and m - first_month < n_months:
                revenue[g, cohort - first_month, m - cohort] += a
        for m in per_month:
            if first_month <= cohort < first_month + n_months and m - first_month < n_months:
                customers[g, cohort - first_month, m - cohort] += 1
        for k in range(n_months):
            m = first_month + k
            if m in per_month:
                rates["buyers", g, k] += 1
                rates["repeat", g, k] += per_month[m] >= 2
                rates["retained", g, k] += (m - 1) in per_month
                rates["new", g, k] += cohort == m
            rates["existing", g, k] += cohort < m
            rates["previous", g, k] += (m - 1) in per_month
    return customers, revenue, rates


@pytest.mark.parametrize("seed", [1, 2])
def test_kernels_match_plain_python(seed):
    offsets, times, amounts, groups = random_history(3000, seed)
    as_of = START + 600 * DAY + 12345
    first = month_index(START + 200 * DAY, OFFSET)
    n_months = 14
    customers, revenue, rates = reference(offsets, times, amounts, groups, as_of, first, n_months)
    matrix = cohort_matrix(offsets, times, amounts, groups, 3, as_of, first, n_months, OFFSET)
    got = {k: int(v) for k, v in np.ndenumerate(matrix.customers) if v}
    assert got == dict(customers)
    for key, value in revenue.items():
        assert matrix.revenue[key] == pytest.approx(value)
    assert matrix.revenue.sum() == pytest.approx(sum(revenue.values()))
    counts = monthly_counts(offsets, times, groups, 3, as_of, first, n_months, OFFSET)
    for name, array in (("buyers", counts.buyers), ("repeat", counts.repeat_buyers), ("retained", counts.retained),
                        ("new", counts.new), ("existing", counts.existing), ("previous", counts.previous_buyers)):
        want = np.zeros((3, n_months), np.int64)
        for (kind, g, k), v in rates.items():
            if kind == name:
                want[g, k] = v
        np.testing.assert_array_equal(array, want, err_msg=name)


def test_customers_left_out_and_purchases_after_as_of_ignored():
    offsets = np.array([0, 2, 4], np.int64)
    jan, feb, mar = (int(datetime(2024, m, 10, tzinfo=timezone.utc).timestamp()) for m in (1, 2, 3))
    times = np.array([jan, mar, jan, feb], np.int64)
    groups = np.array([0, -1])  # the second customer is in no slice
    m = cohort_matrix(offsets, times, np.array([10.0, 20, 30, 40]), groups, 1, feb + DAY, month_index(jan), 3)
    assert m.customers[0].tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]  # March is after as_of
    assert m.revenue[0, 0, 0] == 10.0


def test_month_boundaries_follow_the_offset():
    # 2024-01-31 20:00 UTC is already February in UTC+8
    t = int(datetime(2024, 1, 31, 20, tzinfo=timezone.utc).timestamp())
    assert month_index(t) == 2024 * 12 and month_index(t, OFFSET) == 2024 * 12 + 1


def test_bad_input_names_the_field():
    with pytest.raises(LifecycleInputError, match="times"):
        cohort_matrix(np.array([0, 2]), np.array([5, 1]), np.ones(2), np.zeros(1), 1, 10, 0, 2)
    with pytest.raises(LifecycleInputError, match="groups"):
        cohort_matrix(np.array([0, 1]), np.array([5]), np.ones(1), np.array([3]), 1, 10, 0, 2)
    with pytest.raises(LifecycleInputError, match="offsets"):
        monthly_counts(np.array([0, 3]), np.array([5]), np.zeros(1), 1, 10, 0, 2)
