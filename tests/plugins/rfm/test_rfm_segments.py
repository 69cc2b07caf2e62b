import re

import pytest

from plugins.rfm import segments
from plugins.rfm.segments import (
    ABC,
    RF_GRID,
    RF_GRID_10,
    RFM_MEAN_8,
    SCHEME_SEGMENTS,
    grid_bucket,
    mean8_index,
    rf_grid_segment,
    segments_for,
)
from plugins.rfm.settings import SCHEMES

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_scheme_has_its_segments():
    assert set(SCHEME_SEGMENTS) == set(SCHEMES)
    assert [s.code for s in RF_GRID_10] == [
        "CHAMPIONS", "LOYAL", "POTENTIAL_LOYALIST", "NEW", "PROMISING",
        "NEED_ATTENTION", "ABOUT_TO_SLEEP", "AT_RISK", "CANT_LOSE", "HIBERNATING",
    ]
    assert [s.code for s in RFM_MEAN_8] == [
        "IMPORTANT_VALUE", "IMPORTANT_DEVELOP", "IMPORTANT_RETAIN", "IMPORTANT_WINBACK",
        "GENERAL_VALUE", "GENERAL_DEVELOP", "GENERAL_RETAIN", "GENERAL_WINBACK",
    ]
    assert [s.code for s in ABC] == ["A", "B", "C"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_codes_labels_and_actions(scheme):
    segs = segments_for(scheme)
    assert len({s.code for s in segs}) == len(segs)
    for s in segs:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", s.code)
        assert CJK.search(s.label_zh) and CJK.search(s.action_zh)
        assert s.label_en and not CJK.search(s.label_en)
        assert s.action_en and not CJK.search(s.action_en)


def test_zh_labels_are_the_domain_terms():
    zh = {s.code: s.label_zh for s in RF_GRID_10 + RFM_MEAN_8}
    assert zh["CHAMPIONS"] == "冠军客户"
    assert zh["AT_RISK"] == "有流失风险"
    assert zh["CANT_LOSE"] == "不能失去"
    assert zh["HIBERNATING"] == "沉睡客户"
    assert zh["IMPORTANT_VALUE"] == "重要价值客户"
    assert zh["GENERAL_WINBACK"] == "一般挽留客户"


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown RFM scheme"):
        segments_for("NOPE")


# The grid exactly as DOMAIN.md words it, written independently of the rules.
def domain_grid(r: int, f: int) -> str:
    if r == 5 and f >= 4:
        return "CHAMPIONS"
    if r in (3, 4) and f >= 4:
        return "LOYAL"
    if r >= 4 and f in (2, 3):
        return "POTENTIAL_LOYALIST"
    if r == 5 and f == 1:
        return "NEW"
    if r == 4 and f == 1:
        return "PROMISING"
    if r == 3 and f == 3:
        return "NEED_ATTENTION"
    if r == 3 and f <= 2:
        return "ABOUT_TO_SLEEP"
    if r <= 2 and f in (3, 4):
        return "AT_RISK"
    if r <= 2 and f == 5:
        return "CANT_LOSE"
    if r <= 2 and f <= 2:
        return "HIBERNATING"
    raise AssertionError(f"R{r} F{f} uncovered")


def test_rf_grid_rules_cover_every_cell_exactly_once():
    claims = {(r, f): [] for r in range(1, 6) for f in range(1, 6)}
    for code, rs, fs in segments.RF_GRID_RULES:
        for r in rs:
            for f in fs:
                claims[(r, f)].append(code)
    assert all(len(c) == 1 for c in claims.values()), {k: v for k, v in claims.items() if len(v) != 1}
    # every segment is reachable
    assert {c[0] for c in claims.values()} == {s.code for s in RF_GRID_10}


@pytest.mark.parametrize("r", range(1, 6))
@pytest.mark.parametrize("f", range(1, 6))
def test_rf_grid_matches_domain(r, f):
    assert RF_GRID_10[RF_GRID[r - 1, f - 1]].code == domain_grid(r, f)
    assert rf_grid_segment(r, f).code == domain_grid(r, f)


def test_rf_grid_table_is_read_only():
    with pytest.raises(ValueError):
        RF_GRID[0, 0] = 0


def test_grid_bucket_identity_for_k5():
    assert [grid_bucket(s, 5) for s in range(1, 6)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("k", range(2, 11))
def test_grid_bucket_keeps_ends_and_order(k):
    buckets = [grid_bucket(s, k) for s in range(1, k + 1)]
    assert buckets[0] == 1 and buckets[-1] == 5
    assert buckets == sorted(buckets)
    assert all(1 <= b <= 5 for b in buckets)


def test_grid_bucket_examples():
    assert [grid_bucket(s, 2) for s in (1, 2)] == [1, 5]
    assert [grid_bucket(s, 3) for s in (1, 2, 3)] == [1, 3, 5]
    assert [grid_bucket(s, 10) for s in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rf_grid_segment(10, 10, k=10).code == "CHAMPIONS"
    assert rf_grid_segment(1, 1, k=2).code == "HIBERNATING"


def test_mean8_index():
    code = lambda r, f, m: RFM_MEAN_8[mean8_index(r, f, m)].code  # noqa: E731
    assert code(True, True, True) == "IMPORTANT_VALUE"
    assert code(True, False, True) == "IMPORTANT_DEVELOP"
    assert code(False, True, True) == "IMPORTANT_RETAIN"
    assert code(False, False, True) == "IMPORTANT_WINBACK"
    assert code(True, True, False) == "GENERAL_VALUE"
    assert code(True, False, False) == "GENERAL_DEVELOP"
    assert code(False, True, False) == "GENERAL_RETAIN"
    assert code(False, False, False) == "GENERAL_WINBACK"
