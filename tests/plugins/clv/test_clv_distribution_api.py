"""clvDistribution (the console's CLV histogram) through the API: buckets,
deciles and totals against the stored scores, per tenant, on every database."""

from __future__ import annotations

import statistics
from collections import defaultdict
from decimal import Decimal

import numpy as np
import pytest

from plugins.clv.distribution import bucket_edges
from tests.plugins.clv.test_clv_plugin import load, score, simulate, stored

DISTRIBUTION = """{ clvDistribution { customers totalPredictedValue meanPredictedValue medianPredictedValue
  horizonMonths margin buckets { lower upper customers shareOfCustomers value shareOfValue }
  deciles { decile customers minValue maxValue value shareOfValue } } }"""
CENT = Decimal("0.01")
NICE = {m * 10**e for m in (1, 2, 5) for e in range(-2, 12)}


def _distribution(graphql, tenant: str) -> dict:
    body = graphql(tenant, "VIEWER").execute(DISTRIBUTION)
    assert "errors" not in body, body
    return body["data"]["clvDistribution"]


@pytest.fixture(scope="module")
def scored(gx, tmp_path_factory):
    """Two CLV tenants of different sizes, scored (tests only read them)."""
    from engine.testing import new_tenant

    tenants = []
    for n, seed in ((300, 21), (120, 22)):
        slug = new_tenant(gx, modules=("clv",))
        load(gx, slug, tmp_path_factory.mktemp("dist"), simulate(n, seed=seed, prefix=slug), extra_customers=["never"])
        score(gx, slug, horizon_months=6, margin=0.4)
        tenants.append(slug)
    return tenants


def test_buckets_deciles_and_totals_match_the_stored_scores(gx, graphql, scored):
    tenant = scored[0]
    _, rows = stored(gx, tenant)
    values = sorted(Decimal(row.predicted_value) for row in rows.values())
    dist = _distribution(graphql, tenant)

    assert dist["customers"] == len(values) == 300  # "never" bought nothing: no score
    assert Decimal(dist["totalPredictedValue"]) == sum(values)
    assert Decimal(dist["meanPredictedValue"]) == (sum(values) / 300).quantize(CENT)
    assert Decimal(dist["medianPredictedValue"]) == statistics.median(values).quantize(CENT)
    assert (dist["horizonMonths"], dist["margin"]) == (6, 0.4)

    buckets = dist["buckets"]
    lowers = [Decimal(b["lower"]) for b in buckets]
    uppers = [Decimal(b["upper"]) for b in buckets]
    assert 3 <= len(buckets) <= 12 and lowers[0] == 0 and lowers[1:] == uppers[:-1]
    assert all(edge in NICE for edge in uppers), uppers  # 1-2-5 amounts: ¥20, ¥50, ¥100 ...
    assert uppers[-1] > values[-1] and buckets[-1]["customers"] > 0
    for bucket, lower, upper in zip(buckets, lowers, uppers):
        inside = [v for v in values if lower <= v < upper]
        assert bucket["customers"] == len(inside), (lower, upper)
        assert Decimal(bucket["value"]) == sum(inside, Decimal(0)), (lower, upper)
        assert abs(bucket["shareOfCustomers"] - len(inside) / 300) < 1e-12
        assert abs(bucket["shareOfValue"] - float(sum(inside, Decimal(0)) / sum(values))) < 1e-12
    # The first bound above 0 is no higher than the 5th percentile (or the lowest bounds were merged to keep 12).
    positive = [v for v in values if v > 0]
    assert uppers[0] <= positive[int(0.05 * (len(positive) - 1))] or len(buckets) == 12

    by_decile = defaultdict(list)
    for row in rows.values():
        by_decile[row.value_decile].append(Decimal(row.predicted_value))
    assert [d["decile"] for d in dist["deciles"]] == list(range(1, 11))
    for d in dist["deciles"]:
        mine = by_decile.get(d["decile"], [])
        assert d["customers"] == len(mine)
        assert Decimal(d["value"]) == sum(mine, Decimal(0))
        if mine:
            assert (Decimal(d["minValue"]), Decimal(d["maxValue"])) == (min(mine), max(mine))
    top = dist["deciles"][-1]
    assert top["shareOfValue"] > 0.1  # the top decile holds more than its tenth of the value


def test_each_tenant_gets_its_own_distribution(gx, graphql, scored):
    for tenant, n in zip(scored, (300, 120)):
        _, rows = stored(gx, tenant)
        dist = _distribution(graphql, tenant)
        assert dist["customers"] == n == sum(b["customers"] for b in dist["buckets"])
        assert Decimal(dist["totalPredictedValue"]) == sum(Decimal(r.predicted_value) for r in rows.values())


def test_before_the_first_run_it_is_null_and_without_the_module_it_does_not_exist(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("clv",))
    assert _distribution(graphql, tenant) is None
    response = graphql(make_tenant(), "ADMIN").post(DISTRIBUTION)
    assert response.status_code == 400 and "clvDistribution" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("cents, expected", [
    ([0, 0, 0], [0, 1]),  # everyone worth nothing: one bucket [0, 0.01)
    ([100, 100], [0, 100, 200]),  # a value on a bound starts the bucket there
    ([199, 200, 201, 4_999, 5_000], [0, 100, 200, 500, 1_000, 2_000, 5_000, 10_000]),
    # A wide spread keeps the top 11 bounds; the first bucket takes the rest.
    (list(np.round(np.logspace(0, 9, 200)).astype(int)),
     [0, 500_000, 10**6, 2 * 10**6, 5 * 10**6, 10**7, 2 * 10**7, 5 * 10**7, 10**8, 2 * 10**8, 5 * 10**8, 10**9, 2 * 10**9]),
])
def test_bucket_bounds(cents, expected):
    assert bucket_edges(np.array(cents, dtype=np.int64)) == expected
