"""The index kernels against a plain-Python reference: every count, mean,
share, NPS, interval and regression figure of every slice."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from plugins.satisfaction import drivers, index
from plugins.satisfaction.kernels import MISSING, aggregate

ITEM_DIM = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4]  # the 5×19 layout
LEVEL = 0.95


def make_rows(n: int, seed: int, k: int = 19, missing: float = 0.1):
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        rows.append({
            "slice": rnd.randrange(4),
            "scores": [0 if rnd.random() < missing else rnd.choice([1, 2, 3, 3, 4, 4, 4, 5, 5]) for _ in range(k)],
            "overall": None if rnd.random() < missing else rnd.randint(1, 5),
            "nps": None if rnd.random() < missing else rnd.randint(0, 10),
            "recommend": None if rnd.random() < missing else rnd.randint(1, 3),
            "repurchase": None if rnd.random() < missing else rnd.randint(1, 5),
        })
    return rows


def to_arrays(rows):
    def column(name):
        return np.array([MISSING if r[name] is None else r[name] for r in rows], np.int8)
    return dict(scores=np.array([r["scores"] for r in rows], np.uint8),
                slice_of=np.array([r["slice"] for r in rows]),
                overall=column("overall"), nps=column("nps"), recommend=column("recommend"),
                repurchase=column("repurchase"))


def run(rows, weights, top_box=2, target="OVERALL", n_slices=4):
    a = to_arrays(rows)
    agg = aggregate(a["scores"], a["slice_of"], n_slices, np.array(ITEM_DIM), np.asarray(weights, float),
                    a["overall"], a["nps"], a["recommend"], a["repurchase"], index.satisfied_from(top_box), target)
    return agg, index.figures(agg, LEVEL)


def dimension_scores(row):
    out = {}
    for d in range(5):
        answered = [b for b, dim in zip(row["scores"], ITEM_DIM) if dim == d and b > 0]
        if answered:
            out[d] = sum(answered) / len(answered)
    return out


def t_interval(values):
    m = statistics.fmean(values)
    half = sps.t.ppf(0.5 + LEVEL / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


@pytest.mark.parametrize("n", [1, 7, 500, 30_000])  # 30,000: the parallel path
def test_indicators_match_plain_python(n):
    rows = make_rows(n, seed=n)
    _, f = run(rows, [1] * 5)
    for s in range(4):
        mine = [r for r in rows if r["slice"] == s]
        for j in range(19):
            answers = [r["scores"][j] for r in mine if r["scores"][j] > 0]
            assert f.items["count"][s, j] == len(answers)
            if not answers:
                assert np.isnan(f.items["mean"][s, j])
                continue
            assert f.items["mean"][s, j] == pytest.approx(statistics.fmean(answers), abs=1e-12)
            satisfied = sum(a >= 4 for a in answers)
            assert f.items["satisfied"][s, j] == pytest.approx(satisfied / len(answers), abs=1e-12)
            if len(answers) >= 2:
                _, low, high = t_interval(answers)
                assert (f.items["ci_low"][s, j], f.items["ci_high"][s, j]) == pytest.approx((low, high), abs=1e-9)


def test_top_box_setting_moves_the_satisfied_threshold():
    rows = make_rows(2_000, seed=3)
    _, top1 = run(rows, [1] * 5, top_box=1)
    _, top3 = run(rows, [1] * 5, top_box=3)
    answers = [r["scores"][0] for r in rows if r["slice"] == 0 and r["scores"][0] > 0]
    assert top1.items["satisfied"][0, 0] == pytest.approx(sum(a == 5 for a in answers) / len(answers))
    assert top3.items["satisfied"][0, 0] == pytest.approx(sum(a >= 3 for a in answers) / len(answers))


def test_dimensions_and_weighted_index_match_plain_python():
    rows = make_rows(3_000, seed=11, missing=0.3)
    weights = [0.1, 0.4, 0.1, 0.3, 0.1]
    _, f = run(rows, weights)
    for s in range(4):
        mine = [dimension_scores(r) for r in rows if r["slice"] == s]
        for d in range(5):
            values = [m[d] for m in mine if d in m]
            assert f.dimensions["count"][s, d] == len(values)
            assert f.dimensions["mean"][s, d] == pytest.approx(statistics.fmean(values), abs=1e-12)
            assert f.dimensions["satisfied"][s, d] == pytest.approx(sum(v >= 4 for v in values) / len(values), abs=1e-12)
        indices = []
        for m in mine:
            if m:
                weight = sum(weights[d] for d in m)
                indices.append(sum(weights[d] * (m[d] - 1) * 25 for d in m) / weight)
        mean, low, high = t_interval(indices)
        assert f.index["count"][s] == len(indices)
        assert (f.index["mean"][s], f.index["ci_low"][s], f.index["ci_high"][s]) == pytest.approx((mean, low, high), abs=1e-9)


def test_index_maps_all_fives_to_100_and_all_ones_to_0():
    rows = [{"slice": 0, "scores": [5] * 19, "overall": 5, "nps": 10, "recommend": 1, "repurchase": 5},
            {"slice": 1, "scores": [1] * 19, "overall": 1, "nps": 0, "recommend": 2, "repurchase": 1}]
    _, f = run(rows, [1] * 5, n_slices=2)
    assert list(f.index["mean"]) == [100.0, 0.0]


def test_nps_and_recommend_match_plain_python():
    rows = make_rows(5_000, seed=5)
    _, f = run(rows, [1] * 5)
    z = sps.norm.ppf(0.975)
    for s in range(4):
        answers = [r["nps"] for r in rows if r["slice"] == s and r["nps"] is not None]
        promoters = sum(a >= 9 for a in answers)
        passives = sum(7 <= a <= 8 for a in answers)
        detractors = sum(a <= 6 for a in answers)
        score = 100 * (promoters - detractors) / len(answers)
        # the interval from the per-answer values +100 / 0 / -100
        values = [100 if a >= 9 else -100 if a <= 6 else 0 for a in answers]
        half = z * statistics.pstdev(values) / math.sqrt(len(values))
        assert (f.nps["answers"][s], f.nps["promoters"][s], f.nps["passives"][s], f.nps["detractors"][s]) == (
            len(answers), promoters, passives, detractors)
        assert (f.nps["score"][s], f.nps["ci_low"][s], f.nps["ci_high"][s]) == pytest.approx(
            (score, score - half, score + half), abs=1e-9)
        rec = [r["recommend"] for r in rows if r["slice"] == s and r["recommend"] is not None]
        assert (f.recommend["yes"][s], f.recommend["no"][s], f.recommend["dont_know"][s]) == (
            rec.count(1), rec.count(2), rec.count(3))


def test_overall_and_repurchase_match_plain_python():
    rows = make_rows(2_000, seed=9)
    _, f = run(rows, [1] * 5)
    for name in ("overall", "repurchase"):
        answers = [r[name] for r in rows if r["slice"] == 2 and r[name] is not None]
        fig = getattr(f, name)
        assert fig["count"][2] == len(answers)
        assert fig["mean"][2] == pytest.approx(statistics.fmean(answers))
        assert fig["satisfied"][2] == pytest.approx(sum(a >= 4 for a in answers) / len(answers))


def test_wilson_interval_matches_its_formula():
    share, low, high = index.stats.wilson_interval(83, 100, 0.95)
    z = sps.norm.ppf(0.975)
    p, n = 0.83, 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (share, low, high) == pytest.approx((0.83, centre - half, centre + half))


def test_totals_are_the_sum_of_slices():
    rows = make_rows(1_000, seed=2)
    agg, _ = run(rows, [1] * 5)
    whole = dict(run([dict(r, slice=0) for r in rows], [1] * 5, n_slices=1)[0].__dict__)
    for name, value in agg.total().__dict__.items():
        np.testing.assert_allclose(value, whole[name], err_msg=name)


@pytest.mark.parametrize("target", ["OVERALL", "REPURCHASE"])
def test_driver_regression_matches_least_squares_on_the_rows(target):
    rows = make_rows(4_000, seed=21, missing=0.05)
    agg, _ = run(rows, [1] * 5, target=target)
    x, y = [], []
    for r in rows:
        dims = dimension_scores(r)
        answer = r["overall" if target == "OVERALL" else "repurchase"]
        if len(dims) == 5 and answer is not None:
            x.append([1.0] + [dims[d] for d in range(5)])
            y.append(answer)
    x, y = np.array(x), np.array(y, float)
    beta, rss, *_ = np.linalg.lstsq(x, y, rcond=None)
    sigma2 = rss[0] / (len(y) - 6)
    se = np.sqrt(np.diag(np.linalg.inv(x.T @ x)) * sigma2)
    got = drivers.solve(agg.total().cross[0], LEVEL, target)
    assert got.respondents == len(y)
    assert got.intercept == pytest.approx(beta[0], abs=1e-8)
    assert [w.coefficient for w in got.weights] == pytest.approx(list(beta[1:]), abs=1e-8)
    assert [w.std_error for w in got.weights] == pytest.approx(list(se[1:]), rel=1e-6)
    t = sps.t.ppf(0.975, len(y) - 6)
    assert [w.ci_low for w in got.weights] == pytest.approx(list(beta[1:] - t * se[1:]), abs=1e-7)


def test_driver_regression_refuses_too_few_rows_and_collinear_scores():
    rows = make_rows(5, seed=1, missing=0.0)
    agg, _ = run(rows, [1] * 5)
    assert drivers.solve(agg.total().cross[0], LEVEL).warning
    same = [dict(r, scores=[r["scores"][0]] * 19) for r in make_rows(200, seed=4, missing=0.0)]
    agg, _ = run(same, [1] * 5)
    got = drivers.solve(agg.total().cross[0], LEVEL)
    assert got.weights == [] and "collinear" in got.warning


def test_kernel_refuses_bad_input():
    a = to_arrays(make_rows(10, seed=1))
    args = dict(n_slices=4, item_dim=np.array(ITEM_DIM), weights=np.ones(5), overall=a["overall"], nps=a["nps"],
                recommend=a["recommend"], repurchase=a["repurchase"])
    bad = a["scores"].copy()
    bad[0, 0] = 6
    with pytest.raises(ValueError, match="scores"):
        aggregate(bad, a["slice_of"], **args)
    with pytest.raises(ValueError, match="slice_of"):
        aggregate(a["scores"], a["slice_of"] + 4, **args)
    with pytest.raises(ValueError, match="weights"):
        aggregate(a["scores"], a["slice_of"], **dict(args, weights=-np.ones(5)))
