import pytest
from pydantic import ValidationError

from plugins.rfm.settings import RfmSettings


def error_of(**kwargs) -> tuple[str, str]:
    """(loc, message) of the single validation error."""
    with pytest.raises(ValidationError) as info:
        RfmSettings(**kwargs)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return ".".join(str(p) for p in errors[0]["loc"]), errors[0]["msg"]


def test_defaults_match_domain():
    s = RfmSettings()
    assert s.scheme == "RF_GRID_10"
    assert s.k == 5
    assert s.window_days is None  # all history
    assert s.thresholds is None  # quantile scores
    assert s.abc_cuts == (0.75, 0.95)
    assert s.schedule_minutes is None


def test_full_settings_from_json():
    s = RfmSettings.model_validate_json(
        '{"scheme": "ABC", "k": 3, "window_days": 365, "abc_cuts": [0.8, 0.95],'
        ' "schedule_minutes": 1440,'
        ' "thresholds": {"recency": [30, 90], "monetary": [100.5, 1000]}}'
    )
    assert s.scheme == "ABC" and s.k == 3 and s.window_days == 365
    assert s.thresholds.recency == [30, 90]
    assert s.thresholds.frequency is None  # that dimension keeps quantile scores
    assert s.abc_cuts == (0.8, 0.95)


def test_unknown_scheme_names_the_choices():
    loc, msg = error_of(scheme="RFM_27")
    assert loc == "scheme"
    assert "RF_GRID_10" in msg and "RFM_MEAN_8" in msg and "ABC" in msg


@pytest.mark.parametrize("k", [0, 1, 11, 100, -5])
def test_k_outside_2_to_10(k):
    loc, msg = error_of(k=k)
    assert loc == "k"
    assert "between 2 and 10" in msg and str(k) in msg


@pytest.mark.parametrize("k", [2, 10])
def test_k_bounds_are_inclusive(k):
    assert RfmSettings(k=k).k == k


@pytest.mark.parametrize("k", [True, 5.5, "five"])
def test_k_must_be_an_integer(k):
    loc, _ = error_of(k=k)
    assert loc == "k"


@pytest.mark.parametrize("days", [0, -1, -365])
def test_window_zero_or_negative(days):
    loc, msg = error_of(window_days=days)
    assert loc == "window_days"
    assert "positive number of days" in msg


@pytest.mark.parametrize("minutes", [0, -10])
def test_schedule_must_be_positive(minutes):
    loc, msg = error_of(schedule_minutes=minutes)
    assert loc == "schedule_minutes"
    assert "positive number of minutes" in msg


@pytest.mark.parametrize(
    "cuts",
    [[10, 10, 20, 30], [30, 20, 10, 5], [1, 2, 4, 3]],
)
@pytest.mark.parametrize("dimension", ["recency", "frequency", "monetary"])
def test_thresholds_not_strictly_increasing(dimension, cuts):
    loc, msg = error_of(thresholds={dimension: cuts})
    assert loc == f"thresholds.{dimension}"
    assert "strictly increasing" in msg


def test_thresholds_must_have_k_minus_1_cut_points():
    loc, msg = error_of(k=4, thresholds={"frequency": [1, 2, 3, 4]})
    assert loc == "thresholds"
    assert "thresholds.frequency has 4 cut points but k=4 needs exactly 3" in msg
    # the default k=5 needs four
    loc, msg = error_of(thresholds={"monetary": [10, 100]})
    assert "needs exactly 4" in msg


def test_negative_recency_threshold():
    loc, msg = error_of(thresholds={"recency": [-7, 30, 90, 180]})
    assert loc == "thresholds.recency"
    assert "cannot be negative" in msg


def test_non_finite_threshold():
    loc, msg = error_of(thresholds={"monetary": [1, 2, 3, float("inf")]})
    assert loc == "thresholds.monetary" and "finite" in msg


def test_unknown_threshold_dimension():
    loc, _ = error_of(thresholds={"loyalty": [1, 2, 3, 4]})
    assert loc == "thresholds.loyalty"


def test_bad_k_reported_once_not_as_threshold_mismatch():
    with pytest.raises(ValidationError) as info:
        RfmSettings(k=1, thresholds={"frequency": [1, 2, 3, 4]})
    assert [e["loc"] for e in info.value.errors()] == [("k",)]


@pytest.mark.parametrize("cuts", [(0.95, 0.75), (0.0, 0.5), (0.5, 1.0), (0.5, 0.5), (-0.1, 0.5)])
def test_abc_cuts(cuts):
    loc, msg = error_of(abc_cuts=cuts)
    assert loc == "abc_cuts"
    assert "0 < A cut < B cut < 1" in msg


def test_unknown_setting_is_rejected():
    loc, msg = error_of(windowdays=30)
    assert loc == "windowdays"


def test_settings_are_immutable():
    s = RfmSettings()
    with pytest.raises(ValidationError):
        s.k = 3
