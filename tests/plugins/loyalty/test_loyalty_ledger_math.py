"""FIFO lots, refunds and redemption value (DOMAIN.md §5)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from plugins.loyalty.ledger_math import (
    InsufficientPoints,
    Lot,
    Reversal,
    allocate_redemption,
    max_redeemable_points,
    points_to_reverse,
    points_value,
    reverse_earning,
    settle_debt,
    spendable_balance,
)
from plugins.loyalty.settings import LoyaltySettings

UTC = dt.timezone.utc
S = LoyaltySettings()
T0 = dt.datetime(2025, 1, 1, tzinfo=UTC)


def lot(day: int, remaining: int, life_days: int = 365) -> Lot:
    earned = T0 + dt.timedelta(days=day)
    return Lot(earned, earned + dt.timedelta(days=life_days), remaining)


LOTS = [lot(0, 100), lot(10, 0), lot(20, 250), lot(30, 50)]


# -- redemption -----------------------------------------------------------------


def test_redemption_takes_the_oldest_lots_first():
    assert allocate_redemption(LOTS, 80) == [(0, 80)]
    assert allocate_redemption(LOTS, 100) == [(0, 100)]
    assert allocate_redemption(LOTS, 120) == [(0, 100), (2, 20)]
    assert allocate_redemption(LOTS, 400) == [(0, 100), (2, 250), (3, 50)]


def test_redemption_beyond_the_balance_names_balance_and_request():
    with pytest.raises(InsufficientPoints, match="balance is 400, requested 401") as info:
        allocate_redemption(LOTS, 401)
    assert (info.value.balance, info.value.requested) == (400, 401)
    with pytest.raises(InsufficientPoints):
        allocate_redemption([], 1)


def test_lots_past_their_date_are_not_spent_even_before_the_expiry_job():
    as_of = LOTS[0].expires_at  # the boundary: expires_at <= as_of is expired
    assert spendable_balance(LOTS, as_of) == 300
    assert allocate_redemption(LOTS, 120, as_of=as_of) == [(2, 120)]
    with pytest.raises(InsufficientPoints, match="balance is 300, requested 301"):
        allocate_redemption(LOTS, 301, as_of=as_of)
    just_before = as_of - dt.timedelta(microseconds=1)
    assert allocate_redemption(LOTS, 120, as_of=just_before) == [(0, 100), (2, 20)]


@pytest.mark.parametrize("bad", [0, -5, 1.5, Decimal("2"), True, "10"])
def test_redemption_points_must_be_positive_whole_numbers(bad):
    with pytest.raises(ValueError, match="points must be"):
        allocate_redemption(LOTS, bad)


def test_bad_lots_are_refused():
    with pytest.raises(ValueError, match="sorted oldest first"):
        allocate_redemption([lot(5, 10), lot(1, 10)], 5)
    with pytest.raises(ValueError, match=r"lots\[1\].remaining must be >= 0"):
        allocate_redemption([lot(1, 10), lot(2, -3)], 5)


lots_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 500), st.integers(1, 400)), max_size=12
).map(lambda rows: [lot(d, r, life) for d, r, life in sorted(rows)])


@hsettings(max_examples=200, deadline=None)
@given(lots=lots_strategy, points=st.integers(1, 4000), as_of_day=st.none() | st.integers(0, 450))
def test_fifo_properties(lots, points, as_of_day):
    as_of = None if as_of_day is None else T0 + dt.timedelta(days=as_of_day)
    usable = [i for i, x in enumerate(lots) if x.remaining > 0 and (as_of is None or x.expires_at > as_of)]
    balance = sum(lots[i].remaining for i in usable)
    if points > balance:
        with pytest.raises(InsufficientPoints) as info:
            allocate_redemption(lots, points, as_of=as_of)
        assert (info.value.balance, info.value.requested) == (balance, points)
        return
    takes = allocate_redemption(lots, points, as_of=as_of)
    assert sum(t for _, t in takes) == points
    assert all(0 < t <= lots[i].remaining for i, t in takes)
    assert all(i in usable for i, _ in takes)
    indexes = [i for i, _ in takes]
    assert indexes == sorted(set(indexes))
    # Oldest first: every usable lot before the last one touched is drained.
    last = indexes[-1]
    taken = dict(takes)
    assert all(taken.get(i) == lots[i].remaining for i in usable if i < last)


# -- refunds --------------------------------------------------------------------


def test_refund_takes_the_points_back_from_their_own_lot():
    assert reverse_earning(LOTS, 2, 200) == Reversal(takes=[(2, 200)], forgiven=0, debt=0)


def test_refund_of_spent_points_takes_other_lots_oldest_first_then_goes_negative():
    # Lot 3 earned 300 but only 50 are left: 250 were spent.
    assert reverse_earning(LOTS, 3, 300) == Reversal(takes=[(3, 50), (0, 100), (2, 150)], forgiven=0, debt=0)
    assert reverse_earning(LOTS, 3, 500) == Reversal(takes=[(3, 50), (0, 100), (2, 250)], forgiven=0, debt=100)
    only = [lot(0, 0)]
    assert reverse_earning(only, 0, 120) == Reversal(takes=[], forgiven=0, debt=120)


def test_refund_does_not_take_expired_points_twice():
    # Lot 1 earned 300: 200 expired, 100 were spent, none left.
    r = reverse_earning(LOTS, 1, 300, expired_from_lot=200)
    assert r == Reversal(takes=[(0, 100)], forgiven=200, debt=0)
    # A lot past its date but not swept yet counts as expired.
    as_of = LOTS[0].expires_at
    assert reverse_earning(LOTS, 0, 100, as_of=as_of) == Reversal(takes=[], forgiven=100, debt=0)


@hsettings(max_examples=200, deadline=None)
@given(lots=lots_strategy.filter(bool), data=st.data())
def test_refund_accounting_adds_up(lots, data):
    index = data.draw(st.integers(0, len(lots) - 1))
    points = data.draw(st.integers(1, 2000))
    expired = data.draw(st.integers(0, 500))
    r = reverse_earning(lots, index, points, expired_from_lot=expired)
    assert sum(t for _, t in r.takes) + r.forgiven + r.debt == points
    assert all(0 < t <= lots[i].remaining for i, t in r.takes)
    assert r.forgiven <= expired
    if r.debt:  # negative only once every open lot is empty
        assert sum(t for _, t in r.takes) == spendable_balance(lots)


def test_refund_input_checks():
    with pytest.raises(ValueError, match="lot_index 9 is out of range"):
        reverse_earning(LOTS, 9, 10)
    with pytest.raises(ValueError, match="points must be"):
        reverse_earning(LOTS, 0, -10)
    with pytest.raises(ValueError, match="expired_from_lot must be"):
        reverse_earning(LOTS, 0, 10, expired_from_lot=-1)


def test_partial_refunds_take_back_proportional_points_and_add_up():
    amount = Decimal("300.00")
    assert points_to_reverse(301, amount, Decimal(0), Decimal("300.00")) == 301
    parts = [Decimal("100.00"), Decimal("100.00"), Decimal("100.00")]
    before, taken = Decimal(0), []
    for part in parts:
        taken.append(points_to_reverse(301, amount, before, part))
        before += part
    assert taken == [100, 100, 101]
    with pytest.raises(ValueError, match="more than the purchase amount"):
        points_to_reverse(301, amount, Decimal("200"), Decimal("100.01"))


def test_new_earnings_repay_debt_first():
    assert settle_debt(120, 100) == (100, 0)
    assert settle_debt(120, 500) == (120, 380)
    assert settle_debt(0, 50) == (0, 50)


# -- redemption value -----------------------------------------------------------


@pytest.mark.parametrize(
    "order, balance, expected",
    [
        ("100", 10_000, 5_000),  # capped at 50% of the order: 50 units = 5000 points
        ("100", 300, 300),  # the balance is the limit
        ("99.99", 10_000, 4_999),  # 49.995 units -> 4999 points, never over half
        ("0", 10_000, 0),
        ("100", 0, 0),
        ("100", -120, 0),  # a member in debt redeems nothing
    ],
)
def test_max_redeemable_points(order, balance, expected):
    assert max_redeemable_points(Decimal(order), balance, S) == expected


def test_max_redeemable_points_follows_the_settings():
    s = LoyaltySettings(redemption={"points_per_currency_unit_redeemed": 10, "max_order_share": "1"})
    assert max_redeemable_points(Decimal("100"), 10_000, s) == 1_000


def test_points_value():
    assert points_value(100, S) == Decimal("1.00")
    assert points_value(4_999, S) == Decimal("49.99")
    assert points_value(0, S) == 0
    assert points_value(max_redeemable_points(Decimal("99.99"), 10**6, S), S) <= Decimal("99.99") / 2


@pytest.mark.parametrize("order", [Decimal("-1"), Decimal("NaN"), 100.0])
def test_max_redeemable_refuses_bad_orders(order):
    with pytest.raises(ValueError, match="order_amount"):
        max_redeemable_points(order, 100, S)


@hsettings(max_examples=200, deadline=None)
@given(order=st.decimals(min_value=0, max_value=10**6, places=2), balance=st.integers(-1000, 10**8))
def test_redeemed_value_never_exceeds_half_the_order_or_the_balance(order, balance):
    p = max_redeemable_points(order, balance, S)
    assert 0 <= p <= max(balance, 0)
    assert Decimal(p) / 100 <= order / 2
    assert p == max(balance, 0) or Decimal(p + 1) / 100 > order / 2  # as large as allowed
