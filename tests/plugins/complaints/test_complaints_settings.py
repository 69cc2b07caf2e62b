"""ComplaintsSettings: defaults, tenant additions and validation messages."""

import pytest
from pydantic import ValidationError

from plugins.complaints.settings import (
    DEFAULT_CATEGORIES,
    BusinessCalendar,
    Category,
    ComplaintsSettings,
    SlaPolicy,
)
from plugins.complaints.workflow import Priority

OFFICE = {"timezone": "Asia/Shanghai", "hours": {"mon": [["09:00", "18:00"]]}}


def test_defaults_follow_the_domain():
    s = ComplaintsSettings()
    assert [c.code for c in s.categories] == [
        "PRODUCT_QUALITY", "SERVICE", "PRICE", "LOGISTICS", "AFTER_SALES", "PAYMENT", "OTHER"]
    assert s.category("AFTER_SALES").zh == "售后"
    assert s.category("NOPE") is None
    targets = {p.name: (p.first_response_minutes, p.resolution_minutes) for p in s.sla_policies}
    assert targets == {"urgent": (60, 1440), "high": (240, 4320),
                       "normal": (1440, 10080), "low": (4320, 20160)}
    assert s.calendars == {} and all(p.calendar is None for p in s.sla_policies)
    assert (s.duplicate_window_hours, s.auto_open_from_interaction, s.sweep_minutes) == (72, True, 5)


def test_default_policy_per_priority():
    s = ComplaintsSettings()
    for priority in Priority:
        assert s.policy_for("SERVICE", priority).name == priority.value
        assert s.calendar_for(s.policy_for("SERVICE", priority)) is None


def test_settings_round_trip_through_json():
    s = ComplaintsSettings(calendars={"office": OFFICE}, sla_policies=[
        {"name": "vip", "condition": {"channels": ["Phone"]}, "first_response_minutes": 30,
         "resolution_minutes": 600, "calendar": "office"}])
    again = ComplaintsSettings.model_validate_json(s.model_dump_json())
    assert again == s
    assert again.sla_policies[0].condition.channels == ["phone"]


def test_a_tenant_adds_its_own_category_and_policy_first_match_wins():
    s = ComplaintsSettings(
        categories=[*DEFAULT_CATEGORIES, Category(code="FOOD_SAFETY", zh="食品安全", en="Food safety")],
        calendars={"office": OFFICE},
        sla_policies=[
            SlaPolicy(name="food", condition={"categories": ["FOOD_SAFETY"]},
                      first_response_minutes=15, resolution_minutes=240),
            SlaPolicy(name="office-phone", condition={"channels": ["phone"], "priorities": ["HIGH"]},
                      first_response_minutes=30, resolution_minutes=480, calendar="office"),
            SlaPolicy(name="rest", first_response_minutes=600, resolution_minutes=6000),
        ],
    )
    assert s.policy_for("FOOD_SAFETY", Priority.LOW, "web").name == "food"
    assert s.policy_for("FOOD_SAFETY", Priority.HIGH, "PHONE").name == "food"
    assert s.policy_for("PRICE", "high", " Phone ").name == "office-phone"
    assert s.policy_for("PRICE", Priority.URGENT, "phone").name == "rest"
    assert s.calendar_for(s.policy_for("PRICE", "high", "phone")).timezone == "Asia/Shanghai"


def test_no_policy_matches_means_no_sla():
    s = ComplaintsSettings(sla_policies=[
        {"name": "web", "condition": {"channels": ["web"]},
         "first_response_minutes": 5, "resolution_minutes": 50}])
    assert s.policy_for("PRICE", "low", "phone") is None
    assert s.policy_for("PRICE", "low", None) is None


def test_calendar_hours_are_normalised_and_touching_intervals_allowed():
    cal = BusinessCalendar(hours={"Monday": [["13:00", "24:00"], ["09:00", "13:00"]]})
    assert cal.hours == {"mon": [("09:00", "13:00"), ("13:00", "24:00")]}
    assert cal.minutes_by_weekday()[0] == [(540, 780), (780, 1440)]
    assert cal.minutes_by_weekday()[6] == []


def _error(**kwargs) -> str:
    with pytest.raises(ValidationError) as err:
        ComplaintsSettings(**kwargs)
    return str(err.value)


def test_unknown_timezone_is_named():
    message = _error(calendars={"office": {**OFFICE, "timezone": "Asia/Beijing"}})
    assert "calendars.office.timezone" in message and "unknown timezone 'Asia/Beijing'" in message


@pytest.mark.parametrize("intervals, words", [
    ([["18:00", "09:00"]], "inverted"),
    ([["22:00", "02:00"]], "span midnight"),
    ([["09:00", "09:00"]], "empty"),
    ([["09:00", "12:30"], ["12:00", "18:00"]], "overlap"),
    ([["9:00", "12:00"]], "HH:MM"),
    ([["09:00", "24:30"]], "HH:MM"),
    ([["24:00", "24:00"]], "empty"),
])
def test_bad_opening_hours_are_named(intervals, words):
    message = _error(calendars={"office": {"hours": {"tue": intervals}}})
    assert "calendars.office.hours" in message and "hours.tue" in message and words in message


def test_unknown_weekday_and_closed_calendar_are_rejected():
    assert "unknown or repeated weekday 'funday'" in _error(
        calendars={"x": {"hours": {"funday": [["09:00", "10:00"]]}}})
    assert "weekday 'month'" in _error(calendars={"x": {"hours": {"month": [["09:00", "10:00"]]}}})
    assert "unknown or repeated weekday 'Mon'" in _error(calendars={"x": {"hours": {
        "mon": [["09:00", "10:00"]], "Mon": [["11:00", "12:00"]]}}})
    assert "at least one opening interval" in _error(calendars={"x": {"hours": {"mon": []}}})
    assert "at least one opening interval" in _error(calendars={"x": {}})


@pytest.mark.parametrize("field", ["first_response_minutes", "resolution_minutes"])
@pytest.mark.parametrize("value", [0, -5])
def test_non_positive_targets_are_named(field, value):
    policy = {"name": "p", "first_response_minutes": 10, "resolution_minutes": 100, field: value}
    message = _error(sla_policies=[policy])
    assert f"sla_policies.0.{field}" in message and "greater than 0" in message


@pytest.mark.parametrize("field", ["duplicate_window_hours", "sweep_minutes"])
def test_non_positive_module_numbers_are_named(field):
    assert field in _error(**{field: 0})


def test_policy_referencing_unknown_calendar_is_named():
    message = _error(sla_policies=[{"name": "p", "first_response_minutes": 1,
                                    "resolution_minutes": 2, "calendar": "office"}])
    assert "sla_policies[0] ('p').calendar" in message and "unknown calendar 'office'" in message


def test_policy_referencing_unknown_category_is_named():
    message = _error(sla_policies=[{"name": "p", "condition": {"categories": ["PRICE", "FOOD"]},
                                    "first_response_minutes": 1, "resolution_minutes": 2}])
    assert "sla_policies[0] ('p').condition.categories" in message and "FOOD" in message


def test_unknown_priority_and_misspelt_keys_are_rejected():
    assert "sla_policies.0.condition.priorities.0" in _error(sla_policies=[
        {"name": "p", "condition": {"priorities": ["critical"]},
         "first_response_minutes": 1, "resolution_minutes": 2}])
    assert "sweep_minute" in _error(sweep_minute=5)


def test_category_codes_are_unique_upper_snake_case():
    assert "duplicate codes PRICE" in _error(categories=[
        {"code": "PRICE", "zh": "价格", "en": "Price"}, {"code": "PRICE", "zh": "价", "en": "P"}])
    assert "categories.0.code" in _error(categories=[{"code": "price", "zh": "价格", "en": "Price"}])


def test_policy_names_are_unique():
    p = {"name": "same", "first_response_minutes": 1, "resolution_minutes": 2}
    assert "duplicate names same" in _error(sla_policies=[p, p])
