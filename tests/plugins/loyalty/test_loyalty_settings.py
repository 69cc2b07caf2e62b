"""LoyaltySettings: DOMAIN.md §5 defaults and the validation admins see."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from plugins.loyalty.settings import LoyaltySettings


def _tiers(**changes):
    """The default tiers as plain dicts, with per-index changes."""
    tiers = LoyaltySettings().model_dump(mode="json")["tiers"]
    for index, change in changes.items():
        tiers[int(index[1:])].update(change)
    return tiers


def _error(**kwargs) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as info:
        LoyaltySettings.model_validate(kwargs)
    err = info.value.errors()[0]
    return err["loc"], err["msg"]


def test_defaults_are_the_domain_defaults():
    s = LoyaltySettings()
    assert [(t.code, t.name_zh, t.threshold, t.multiplier) for t in s.tiers] == [
        ("MEMBER", "普通会员", 0, Decimal("1.0")),
        ("SILVER", "银卡", 2000, Decimal("1.2")),
        ("GOLD", "金卡", 10000, Decimal("1.5")),
        ("DIAMOND", "钻石", 50000, Decimal("2.0")),
    ]
    assert s.qualifying_metric == "SPEND_12M"
    assert s.tier_min_months == 12
    assert s.points_per_currency_unit == 1
    assert s.birthday_multiplier == 2
    assert (s.referral_bonus_referrer, s.referral_bonus_referee, s.event_points) == (500, 200, 50)
    assert s.bonus_windows == []
    assert s.points_expiry_days == 365
    assert s.redemption.points_per_currency_unit_redeemed == 100
    assert s.redemption.max_order_share == Decimal("0.5")
    assert s.auto_enroll_on_first_purchase is True
    assert s.invite_spend_threshold is None
    assert s.earn_rounding == "FLOOR"


def test_round_trips_through_json():
    s = LoyaltySettings(
        qualifying_metric="PURCHASES_12M",
        bonus_windows=[{"name": "双十一", "start": "2025-11-01", "end": "2025-11-11", "multiplier": "3"}],
        invite_spend_threshold="5000",
    )
    assert LoyaltySettings.model_validate_json(s.model_dump_json()) == s


def test_json_floats_become_exact_decimals():
    assert LoyaltySettings.model_validate({"birthday_multiplier": 1.1}).birthday_multiplier == Decimal("1.1")


def test_three_and_five_tiers_are_allowed():
    three = _tiers()[:3]
    five = _tiers() + [{"code": "BLACK", "name_zh": "黑卡", "name_en": "Black", "threshold": "100000",
                        "multiplier": "3"}]
    assert len(LoyaltySettings(tiers=three).tiers) == 3
    assert LoyaltySettings(tiers=five).tier("BLACK").multiplier == 3


def test_tier_lookup():
    s = LoyaltySettings()
    assert s.tier_index("GOLD") == 2
    assert s.tier("SILVER").name_en == "Silver"
    with pytest.raises(ValueError, match="unknown tier 'PLATINUM'.*MEMBER, SILVER, GOLD, DIAMOND"):
        s.tier_index("PLATINUM")


@pytest.mark.parametrize(
    "kwargs, loc, message",
    [
        ({"tiers": _tiers()[:2]}, ("tiers",), "3 to 5 tiers, got 2"),
        ({"tiers": _tiers() * 2}, ("tiers",), "3 to 5 tiers, got 8"),
        ({"tiers": _tiers(t2={"threshold": "1000"})}, ("tiers",), "strictly increasing"),
        ({"tiers": _tiers(t2={"threshold": "2000"})}, ("tiers",), "strictly increasing"),
        ({"tiers": _tiers(t0={"threshold": "1"})}, ("tiers",), "first tier (MEMBER) must have threshold 0"),
        ({"tiers": _tiers(t3={"code": "GOLD"})}, ("tiers",), "codes must be unique"),
        ({"tiers": _tiers(t1={"code": "silver"})}, ("tiers", 1, "code"), "SCREAMING_SNAKE"),
        ({"tiers": _tiers(t1={"multiplier": "0"})}, ("tiers", 1, "multiplier"), "greater than 0"),
        ({"tiers": _tiers(t1={"multiplier": "-1.2"})}, ("tiers", 1, "multiplier"), "greater than 0"),
        ({"tiers": _tiers(t1={"threshold": "-5"})}, ("tiers", 1, "threshold"), ">= 0"),
        ({"tiers": _tiers(t1={"name_zh": " "})}, ("tiers", 1, "name_zh"), "cannot be empty"),
        ({"tiers": _tiers(t1={"benefits": {"discount_percent": "101"}})},
         ("tiers", 1, "benefits", "discount_percent"), "between 0 and 100"),
        ({"birthday_multiplier": 0}, ("birthday_multiplier",), "birthday_multiplier must be greater than 0"),
        ({"points_per_currency_unit": "-1"}, ("points_per_currency_unit",), "greater than 0"),
        ({"referral_bonus_referrer": -500}, ("referral_bonus_referrer",), "referral_bonus_referrer must be"),
        ({"event_points": 1.5}, ("event_points",), "valid integer"),
        ({"points_expiry_days": 0}, ("points_expiry_days",), "positive number of days"),
        ({"tier_min_months": -1}, ("tier_min_months",), ">= 0"),
        ({"qualifying_metric": "LIFETIME_SPEND"}, ("qualifying_metric",), "SPEND_12M"),
        ({"bonus_windows": [{"name": "春节", "start": "2025-02-10", "end": "2025-01-28", "multiplier": 2}]},
         ("bonus_windows", 0), "'春节' ends (2025-01-28) before it starts (2025-02-10)"),
        ({"bonus_windows": [{"name": "x", "start": "2025-01-01", "end": "2025-01-02", "multiplier": 0}]},
         ("bonus_windows", 0, "multiplier"), "greater than 0"),
        ({"redemption": {"max_order_share": "0"}}, ("redemption", "max_order_share"), "(0, 1]"),
        ({"redemption": {"max_order_share": "1.5"}}, ("redemption", "max_order_share"), "(0, 1]"),
        ({"redemption": {"points_per_currency_unit_redeemed": 0}},
         ("redemption", "points_per_currency_unit_redeemed"), "positive whole number"),
        ({"invite_spend_threshold": "0"}, ("invite_spend_threshold",), "positive amount"),
        ({"tiers_count": 4}, ("tiers_count",), "Extra inputs"),
    ],
)
def test_bad_settings_name_the_setting_and_the_problem(kwargs, loc, message):
    got_loc, got_msg = _error(**kwargs)
    assert got_loc == loc
    assert message in got_msg


def test_a_one_day_window_is_fine_and_covers_its_day():
    import datetime as dt

    s = LoyaltySettings(bonus_windows=[{"name": "会员日", "start": "2025-08-08", "end": "2025-08-08",
                                        "multiplier": "1.5"}])
    w = s.bonus_windows[0]
    assert w.covers(dt.date(2025, 8, 8))
    assert not w.covers(dt.date(2025, 8, 9))


def test_settings_are_immutable():
    s = LoyaltySettings()
    with pytest.raises(ValidationError):
        s.event_points = 10
