"""Earning rules: DOMAIN.md §5 defaults, multiplier composition, the extension point."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from plugins.loyalty.rules import (
    DEFAULT_REGISTRY,
    Earning,
    RuleType,
    default_registry,
    points_for_event,
    points_for_purchase,
)
from plugins.loyalty.settings import LoyaltySettings

UTC = dt.timezone.utc
S = LoyaltySettings()
MARCH = dt.datetime(2025, 3, 15, 10, 0, tzinfo=UTC)
MAY_BIRTHDAY = dt.date(1990, 5, 20)


def purchase(amount, tier="MEMBER", at=MARCH, birthday=None, first=False, referrer=False, settings=S, **kw):
    return points_for_purchase(settings, Decimal(amount), tier, at, birthday, first, referrer, **kw)


def points(earnings, rule="PURCHASE", beneficiary="member"):
    return sum(e.points for e in earnings if e.rule == rule and e.beneficiary == beneficiary)


@pytest.mark.parametrize(
    "amount, tier, expected",
    [
        ("1000", "MEMBER", 1000),
        ("1000", "SILVER", 1200),
        ("1000", "GOLD", 1500),
        ("1000", "DIAMOND", 2000),
        ("99.99", "MEMBER", 99),  # floor, never round up
        ("0.99", "MEMBER", 0),
        ("10.83", "SILVER", 12),  # 12.996 -> 12
    ],
)
def test_purchase_points_per_unit_times_tier(amount, tier, expected):
    assert points(purchase(amount, tier)) == expected


def test_birthday_month_doubles_any_day_of_the_month():
    for day in (1, 20, 31):
        at = dt.datetime(2025, 5, day, tzinfo=UTC)
        assert points(purchase("100", "SILVER", at=at, birthday=MAY_BIRTHDAY)) == 240
    assert points(purchase("100", "SILVER", at=dt.datetime(2025, 6, 1, tzinfo=UTC), birthday=MAY_BIRTHDAY)) == 120
    assert points(purchase("100", "SILVER", birthday=None)) == 120


def test_multipliers_compose_multiplicatively_and_round_once():
    s = LoyaltySettings(bonus_windows=[{"name": "国庆", "start": "2025-10-01", "end": "2025-10-07", "multiplier": 3}])
    at = dt.datetime(2025, 10, 3, tzinfo=UTC)
    [e] = purchase("100.50", "GOLD", at=at, birthday=dt.date(1988, 10, 9), settings=s)
    # 100.50 x 1.5 x 2 x 3 = 904.5 -> 904 (rounding each step would give 900)
    assert e.points == 904
    assert dict(e.factors) == {"TIER_GOLD": Decimal("1.5"), "BIRTHDAY_MONTH": 2, "BONUS_WINDOW": 3}
    assert "BIRTHDAY_MONTH" in e.reason and "BONUS_WINDOW" in e.reason


def test_bonus_window_days_are_inclusive_and_overlaps_take_the_largest():
    s = LoyaltySettings(bonus_windows=[
        {"name": "双十一预热", "start": "2025-11-01", "end": "2025-11-11", "multiplier": "1.5"},
        {"name": "双十一", "start": "2025-11-11", "end": "2025-11-11", "multiplier": "3"},
    ])
    def on(day):
        return points(purchase("100", at=dt.datetime(2025, 11, day, 23, 59, tzinfo=UTC), settings=s))
    assert [on(d) for d in (1, 10, 11, 12)] == [150, 150, 300, 100]


def test_referral_pays_both_sides_on_the_first_purchase_only():
    first = purchase("300", first=True, referrer=True)
    assert points(first) == 300
    assert points(first, "REFERRAL", "member") == 200
    assert points(first, "REFERRAL", "referrer") == 500
    assert points(purchase("300", first=False, referrer=True), "REFERRAL", "referrer") == 0
    assert points(purchase("300", first=True, referrer=False), "REFERRAL", "referrer") == 0


def test_referral_bonus_is_flat_not_multiplied():
    e = purchase("100", "DIAMOND", birthday=dt.date(1990, 3, 1), first=True, referrer=True)
    assert points(e) == 400
    assert points(e, "REFERRAL", "member") == 200


def test_zero_settings_and_zero_amounts_earn_nothing():
    s = LoyaltySettings(referral_bonus_referrer=0)
    e = purchase("100", first=True, referrer=True, settings=s)
    assert [x.beneficiary for x in e if x.rule == "REFERRAL"] == ["member"]
    assert purchase("0", first=True, referrer=True) == []


def test_rounding_setting():
    s = LoyaltySettings(earn_rounding="HALF_UP")
    assert points(purchase("10.50", settings=s)) == 11
    assert points(purchase("10.49", settings=s)) == 10
    assert points(purchase("10.01", settings=LoyaltySettings(earn_rounding="CEILING"))) == 11


@pytest.mark.parametrize("amount", [Decimal("-1"), Decimal("NaN"), 100, 99.5])
def test_bad_amounts_are_refused(amount):
    with pytest.raises(ValueError, match="amount"):
        points_for_purchase(S, amount, "MEMBER", MARCH, None, False, False)


def test_unknown_tier_is_refused():
    with pytest.raises(ValueError, match="unknown tier 'PLATINUM'"):
        purchase("100", "PLATINUM")


def test_event_participation():
    assert points_for_event(S, "护肤讲座") == Earning("EVENT", 50, "took part in 护肤讲座", "member")
    assert points_for_event(LoyaltySettings(event_points=0)) is None


def test_registry_lists_the_builtin_rule_types():
    assert [(r.code, r.kind) for r in DEFAULT_REGISTRY] == [
        ("PURCHASE", "BASE"),
        ("BIRTHDAY_MONTH", "MULTIPLIER"),
        ("BONUS_WINDOW", "MULTIPLIER"),
        ("REFERRAL", "BONUS"),
        ("EVENT", "EVENT"),
    ]
    assert DEFAULT_REGISTRY["REFERRAL"].name_zh == "推荐奖励"


def test_a_plugin_can_add_a_multiplier_and_a_bonus_rule():
    registry = default_registry()
    registry.register(RuleType(
        "WECHAT_PAY", "微信支付加成", "WeChat Pay boost", "MULTIPLIER",
        lambda ctx: Decimal("1.1") if ctx.tier_code != "MEMBER" else None,
    ))
    registry.register(RuleType(
        "BIG_ORDER", "大单奖励", "Big order bonus", "BONUS",
        lambda ctx: [Earning("BIG_ORDER", 100, "order over 5000")] if ctx.amount > 5000 else [],
    ))
    e = purchase("6000", "SILVER", registry=registry)
    assert points(e) == 7920  # 6000 x 1.2 x 1.1
    assert points(e, "BIG_ORDER") == 100
    assert points(purchase("100", "MEMBER", registry=registry)) == 100
    # The shared default registry is untouched.
    assert "WECHAT_PAY" not in DEFAULT_REGISTRY
    assert points(purchase("6000", "SILVER")) == 7200


def test_registry_refuses_bad_rules():
    registry = default_registry()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(RuleType("REFERRAL", "x", "x", "BONUS", lambda ctx: []))
    with pytest.raises(ValueError, match="MULTIPLIER or BONUS"):
        registry.register(RuleType("OTHER_BASE", "x", "x", "BASE"))
    with pytest.raises(ValueError, match="callable apply"):
        registry.register(RuleType("NO_FN", "x", "x", "MULTIPLIER"))
    with pytest.raises(ValueError, match="SCREAMING_SNAKE"):
        registry.register(RuleType("lower", "x", "x", "BONUS", lambda ctx: []))


@pytest.mark.parametrize("factor", [Decimal(0), Decimal("-2"), 1.5])
def test_a_plugin_multiplier_must_be_a_positive_decimal(factor):
    registry = default_registry()
    registry.register(RuleType("BAD", "x", "x", "MULTIPLIER", lambda ctx: factor))
    with pytest.raises(ValueError, match="rule BAD returned multiplier"):
        purchase("100", registry=registry)


@pytest.mark.parametrize("bad_points", [-5, 2.5, True])
def test_a_plugin_bonus_must_be_whole_non_negative_points(bad_points):
    registry = default_registry()
    registry.register(RuleType("BAD", "x", "x", "BONUS", lambda ctx: [Earning("BAD", bad_points, "x")]))
    with pytest.raises(ValueError, match="rule BAD returned"):
        purchase("100", registry=registry)


amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
days = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2026, 12, 31))


@hsettings(max_examples=200, deadline=None)
@given(amount=amounts, tier=st.sampled_from(S.tier_codes), day=days,
       birthday=st.none() | st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2010, 12, 31)))
def test_points_equal_exact_product_floored_once(amount, tier, day, birthday):
    s = LoyaltySettings(bonus_windows=[{"name": "w", "start": "2025-06-01", "end": "2025-06-18", "multiplier": "2.5"}])
    at = dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    got = points(points_for_purchase(s, amount, tier, at, birthday, False, False))
    exact = Fraction(amount) * Fraction(s.tier(tier).multiplier)
    if birthday is not None and birthday.month == day.month:
        exact *= 2
    if dt.date(2025, 6, 1) <= day <= dt.date(2025, 6, 18):
        exact *= Fraction(5, 2)
    assert got == floor(exact)


@hsettings(max_examples=100, deadline=None)
@given(a=amounts, b=amounts, tier=st.sampled_from(S.tier_codes))
def test_spending_more_never_earns_less(a, b, tier):
    lo, hi = sorted((a, b))
    assert points(purchase(lo, tier)) <= points(purchase(hi, tier))
