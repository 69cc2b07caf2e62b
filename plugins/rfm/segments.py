"""Named RFM segments of the three schemes (DOMAIN.md §3).

Each scheme is an ordered tuple of ``Segment``; the kernels return an int8
index into that tuple (-1 = not scored). The order is part of the stored
contract: append, never reorder. Codes are stable English SCREAMING_SNAKE
(GraphQL enum values); the zh labels are the terms of the literature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Segment:
    code: str
    label_zh: str
    label_en: str
    action_zh: str
    action_en: str


# --- RF_GRID_10 -------------------------------------------------------------

RF_GRID_10: tuple[Segment, ...] = (
    Segment("CHAMPIONS", "冠军客户", "Champions",
            "给予专属回馈与新品优先体验，邀请推荐新客户",
            "Reward them: exclusive perks and early access to new products; ask for referrals"),
    Segment("LOYAL", "忠诚客户", "Loyal",
            "推荐会员升级和高价值商品，保持定期关怀",
            "Upsell higher-value products and membership upgrades; keep in regular touch"),
    Segment("POTENTIAL_LOYALIST", "潜力客户", "Potential loyalists",
            "推送会员计划和个性化推荐，促成再次购买",
            "Offer the loyalty programme and personal recommendations to build the buying habit"),
    Segment("NEW", "新客户", "New",
            "做好首购后的回访与使用指导，建立关系",
            "Onboard them: a follow-up call after the first purchase and product guidance"),
    Segment("PROMISING", "有望客户", "Promising",
            "发放限时优惠，提升品牌认知，争取第二次购买",
            "Build brand awareness and send a time-limited offer for a second purchase"),
    Segment("NEED_ATTENTION", "需关注", "Need attention",
            "有针对性地推荐和限时活动，重新激发兴趣",
            "Re-engage with targeted recommendations and limited-time offers"),
    Segment("ABOUT_TO_SLEEP", "将沉睡", "About to sleep",
            "分享热门商品并给予折扣，防止客户沉睡",
            "Share popular products and a discount before they lapse"),
    Segment("AT_RISK", "有流失风险", "At risk",
            "专人回访了解原因，并给予个性化挽回优惠",
            "Win them back: a personal call to learn why, and a personalised offer"),
    Segment("CANT_LOSE", "不能失去", "Can't lose",
            "由专属客服或店长主动联系，提供高价值挽回方案",
            "Have their dedicated staff member call; make a high-value win-back offer"),
    Segment("HIBERNATING", "沉睡客户", "Hibernating",
            "低成本唤醒（短信、微信群发），无回应则减少投入",
            "Low-cost reactivation (SMS, WeChat broadcast); spend less if they do not respond"),
)

# The grid as DOMAIN.md gives it: (code, R scores, F scores) on the 1-5 scale.
# Checked by hand and by _build_grid below: the ten rules cover each of the 25
# (R, F) cells exactly once (R3 F3 is NEED_ATTENTION, R3 F4-5 LOYAL, R4 F1
# PROMISING, R5 F2-3 POTENTIAL_LOYALIST), so no cell needed a judgement call.
RF_GRID_RULES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("CHAMPIONS", (5,), (4, 5)),
    ("LOYAL", (3, 4), (4, 5)),
    ("POTENTIAL_LOYALIST", (4, 5), (2, 3)),
    ("NEW", (5,), (1,)),
    ("PROMISING", (4,), (1,)),
    ("NEED_ATTENTION", (3,), (3,)),
    ("ABOUT_TO_SLEEP", (3,), (1, 2)),
    ("AT_RISK", (1, 2), (3, 4)),
    ("CANT_LOSE", (1, 2), (5,)),
    ("HIBERNATING", (1, 2), (1, 2)),
)


def _build_grid() -> np.ndarray:
    """5x5 int8 table: grid[r-1, f-1] = index into RF_GRID_10."""
    index = {s.code: i for i, s in enumerate(RF_GRID_10)}
    grid = np.full((5, 5), -1, dtype=np.int8)
    for code, rs, fs in RF_GRID_RULES:
        for r in rs:
            for f in fs:
                if grid[r - 1, f - 1] != -1:
                    raise AssertionError(f"RF grid cell R{r} F{f} is claimed twice")
                grid[r - 1, f - 1] = index[code]
    if (grid == -1).any():
        raise AssertionError("RF grid leaves a cell without a segment")
    return grid


RF_GRID: np.ndarray = _build_grid()
RF_GRID.setflags(write=False)


def grid_bucket(score: int, k: int) -> int:
    """Map a 1..k score onto the grid's 1..5 scale.

    The grid is defined for k = 5. For other k we map 1..k linearly onto 1..5
    and round half up, so the worst score stays 1 and the best stays 5 (a
    tenant on k = 10 still has Champions). kernels.rf_grid_table applies it.
    """
    return 1 + ((score - 1) * 8 + (k - 1)) // (2 * (k - 1))


def rf_grid_segment(r_score: int, f_score: int, k: int = 5) -> Segment:
    return RF_GRID_10[RF_GRID[grid_bucket(r_score, k) - 1, grid_bucket(f_score, k) - 1]]


# --- RFM_MEAN_8 -------------------------------------------------------------

# Index = 4 * (M low) + 2 * (R low) + (F low); "high" means better than the
# mean of the scored customers (R: more recent). Equal to the mean is low.
RFM_MEAN_8: tuple[Segment, ...] = (
    Segment("IMPORTANT_VALUE", "重要价值客户", "Important value",
            "重点维护：VIP专属服务和礼遇，保持满意度",
            "Keep them: VIP service and privileges; protect their satisfaction"),
    Segment("IMPORTANT_DEVELOP", "重要发展客户", "Important to develop",
            "提高购买频次：会员积分、组合推荐和复购提醒",
            "Raise purchase frequency: points, bundles and repurchase reminders"),
    Segment("IMPORTANT_RETAIN", "重要保持客户", "Important to retain",
            "近期未购买的高价值客户，主动联系提醒回购",
            "High-value but not recent: contact them proactively with a reason to come back"),
    Segment("IMPORTANT_WINBACK", "重要挽留客户", "Important to win back",
            "高价值但即将流失：专人回访，了解原因并重点挽留",
            "High value about to be lost: a personal call to learn why, and a strong retention offer"),
    Segment("GENERAL_VALUE", "一般价值客户", "General value",
            "活跃但客单价低：推荐更高价值商品，提升客单价",
            "Active but low spend: recommend higher-value products to raise basket size"),
    Segment("GENERAL_DEVELOP", "一般发展客户", "General to develop",
            "新近但低频低额：用入门优惠培养购买习惯",
            "Recent, low frequency and spend: build the habit with entry-level offers"),
    Segment("GENERAL_RETAIN", "一般保持客户", "General to retain",
            "常来但近期未购且消费低：定期推送促销信息",
            "Frequent before, not recent, low spend: keep them informed with regular promotions"),
    Segment("GENERAL_WINBACK", "一般挽留客户", "General to win back",
            "价值低且将流失：低成本群发唤醒，控制投入",
            "Low value and lapsing: low-cost broadcast reactivation only"),
)


def mean8_index(r_high: bool, f_high: bool, m_high: bool) -> int:
    return 4 * (not m_high) + 2 * (not r_high) + (not f_high)


# --- ABC ----------------------------------------------------------------------

# Sort scored customers by M descending and take the spend of customers with a
# strictly larger M as the spend "before" a customer (ties share it, so equal
# M always gets the same class). A: before < a_cut * total; B: before <
# b_cut * total; else C. A customer straddling a cut therefore takes the
# better class (it helps make up the first 75%). "total" is the spend of
# customers with M > 0; customers with M <= 0 (refunds ate their purchases)
# bring no spend and are C.
ABC: tuple[Segment, ...] = (
    Segment("A", "A类客户", "A (top spenders)",
            "重点客户：专属客服、优先服务和高规格礼遇",
            "Key accounts: dedicated staff, priority service and premium treatment"),
    Segment("B", "B类客户", "B (mid spenders)",
            "常规维护并挖掘潜力，推动升级为A类",
            "Regular care; look for the potential to move them up to A"),
    Segment("C", "C类客户", "C (low spenders)",
            "标准化、低成本服务，避免过度投入",
            "Standard low-cost service; avoid over-investing"),
)


SCHEME_SEGMENTS: dict[str, tuple[Segment, ...]] = {
    "RF_GRID_10": RF_GRID_10,
    "RFM_MEAN_8": RFM_MEAN_8,
    "ABC": ABC,
}


def segments_for(scheme: str) -> tuple[Segment, ...]:
    try:
        return SCHEME_SEGMENTS[scheme]
    except KeyError:
        raise ValueError(f"unknown RFM scheme {scheme!r}; expected one of {sorted(SCHEME_SEGMENTS)}") from None
