"""Points ledger arithmetic: FIFO lots, reversals, redemption value (DOMAIN.md §5).

The ledger IS the balance (Odoo loyalty, 2025): every earning opens a lot
that expires ``points_expiry_days`` after it was earned, and spending takes
from the oldest open lots first. Nothing here touches the database; the
plugin turns these results into ledger entries inside one transaction.

A lot is expired as of ``t`` when ``expires_at <= t`` (the same boundary the
expiry kernel uses), so a lot past its date is never spent even if the
periodic expiry job has not swept it yet.

Negative balance (from refunds): see ``reverse_earning``. While a member owes
points (``debt > 0``) all their open lots are empty, and new earnings repay
the debt before they open a lot (``settle_debt``). Redemption therefore only
ever looks at lots, and can never take the balance below zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Sequence

from plugins.loyalty.settings import LoyaltySettings


class InsufficientPoints(Exception):
    """A redemption asks for more points than the member's open lots hold."""

    def __init__(self, balance: int, requested: int):
        self.balance = balance
        self.requested = requested
        super().__init__(f"insufficient points: balance is {balance}, requested {requested}")


@dataclasses.dataclass(frozen=True)
class Lot:
    """What is left of one earning."""

    earned_at: dt.datetime
    expires_at: dt.datetime
    remaining: int


@dataclasses.dataclass(frozen=True)
class Reversal:
    """How a refund takes back the points its purchase earned.

    ``takes`` are (lot index, points) with the earning's own lot first;
    ``forgiven`` points had already expired from that lot (the member never
    used them, so they are not taken twice); ``debt`` is what no open lot
    could cover: the balance goes negative by that much.
    """

    takes: list[tuple[int, int]]
    forgiven: int
    debt: int


def _check_points(name: str, points: object, *, allow_zero: bool = False) -> int:
    # bool is an int subclass; True points is a bug, not one point.
    if isinstance(points, bool) or not isinstance(points, int):
        raise ValueError(f"{name} must be a whole number of points, got {points!r}")
    if points < 0 or (points == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {points}")
    return points


def _check_lots(lots: Sequence[Lot]) -> None:
    for i, lot in enumerate(lots):
        _check_points(f"lots[{i}].remaining", lot.remaining, allow_zero=True)
        if i and lot.earned_at < lots[i - 1].earned_at:
            raise ValueError(f"lots must be sorted oldest first; lots[{i}] was earned before lots[{i - 1}]")


def _usable(lot: Lot, as_of: dt.datetime | None) -> bool:
    return lot.remaining > 0 and (as_of is None or lot.expires_at > as_of)


def spendable_balance(lots: Sequence[Lot], as_of: dt.datetime | None = None) -> int:
    """Points a member can spend now: the open, unexpired lots."""
    return sum(lot.remaining for lot in lots if _usable(lot, as_of))


def _take_fifo(lots: Sequence[Lot], points: int, as_of: dt.datetime | None, skip: int = -1):
    takes: list[tuple[int, int]] = []
    for i, lot in enumerate(lots):
        if points == 0:
            break
        if i == skip or not _usable(lot, as_of):
            continue
        take = min(lot.remaining, points)
        takes.append((i, take))
        points -= take
    return takes, points


def allocate_redemption(
    lots: Sequence[Lot], points: int, *, as_of: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """Which lots pay for a redemption: (lot index, points taken), oldest first.

    ``lots`` are the member's open lots sorted oldest first; with ``as_of``,
    lots expired by then are skipped. Raises ``InsufficientPoints`` naming the
    spendable balance and the request when the lots cannot cover it; nothing
    is taken in that case.
    """
    _check_points("points", points)
    _check_lots(lots)
    balance = spendable_balance(lots, as_of)
    if points > balance:
        raise InsufficientPoints(balance, points)
    takes, left = _take_fifo(lots, points, as_of)
    assert left == 0
    return takes


def reverse_earning(
    lots: Sequence[Lot],
    lot_index: int,
    points: int,
    *,
    expired_from_lot: int = 0,
    as_of: dt.datetime | None = None,
) -> Reversal:
    """Take back ``points`` a refunded purchase earned into ``lots[lot_index]``.

    In order:
    1. from the earning's own lot, as far as it still holds points;
    2. what had expired from that lot is forgiven (``expired_from_lot``: the
       member lost those points already; taking them again would punish twice);
    3. the rest was spent by the member, so it comes from the other open lots,
       oldest first;
    4. whatever is still missing becomes ``debt``: the balance goes negative
       and later earnings repay it first (``settle_debt``).
    The balance always drops by ``points - forgiven``.
    """
    _check_points("points", points)
    _check_points("expired_from_lot", expired_from_lot, allow_zero=True)
    _check_lots(lots)
    if not 0 <= lot_index < len(lots):
        raise ValueError(f"lot_index {lot_index} is out of range for {len(lots)} lots")

    own = lots[lot_index]
    if _usable(own, as_of):
        from_own, already_expired = min(points, own.remaining), expired_from_lot
    else:
        # Past its date but not swept yet: what it holds counts as expired.
        from_own, already_expired = 0, expired_from_lot + own.remaining
    left = points - from_own
    forgiven = min(left, already_expired)
    left -= forgiven
    others, debt = _take_fifo(lots, left, as_of, skip=lot_index)
    takes = ([(lot_index, from_own)] if from_own else []) + others
    return Reversal(takes=takes, forgiven=forgiven, debt=debt)


def points_to_reverse(
    earned: int, purchase_amount: Decimal, refunded_before: Decimal, refund_amount: Decimal
) -> int:
    """Points a (partial) refund takes back: proportional to the money returned.

    Computed on the cumulative refund so the parts add up exactly: refunding
    a purchase in several pieces takes back exactly ``earned`` in total.
    """
    _check_points("earned", earned, allow_zero=True)
    for name, v in (("purchase_amount", purchase_amount), ("refunded_before", refunded_before),
                    ("refund_amount", refund_amount)):
        if not isinstance(v, Decimal) or not v.is_finite() or v < 0:
            raise ValueError(f"{name} must be a finite Decimal >= 0, got {v!r}")
    if purchase_amount == 0:
        return 0
    if refunded_before + refund_amount > purchase_amount:
        raise ValueError(
            f"refunds total {refunded_before + refund_amount}, more than the purchase amount {purchase_amount}"
        )

    def share(refunded: Decimal) -> int:
        return int((earned * refunded / purchase_amount).to_integral_value(rounding=ROUND_FLOOR))

    return share(refunded_before + refund_amount) - share(refunded_before)


def settle_debt(debt: int, earned: int) -> tuple[int, int]:
    """Split a new earning into (repays debt, opens a lot with)."""
    _check_points("debt", debt, allow_zero=True)
    _check_points("earned", earned, allow_zero=True)
    repay = min(debt, earned)
    return repay, earned - repay


# -- redemption value -------------------------------------------------------------


def points_value(points: int, settings: LoyaltySettings) -> Decimal:
    """Money that ``points`` pay for (100 points = 1 unit), rounded down to 0.01."""
    _check_points("points", points, allow_zero=True)
    rate = settings.redemption.points_per_currency_unit_redeemed
    return (Decimal(points) / rate).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def max_redeemable_points(order_amount: Decimal, balance: int, settings: LoyaltySettings) -> int:
    """Most points an order may take: the balance, capped at ``max_order_share`` of the order.

    A negative balance (debt) redeems nothing.
    """
    if not isinstance(order_amount, Decimal) or not order_amount.is_finite() or order_amount < 0:
        raise ValueError(f"order_amount must be a finite Decimal >= 0, got {order_amount!r}")
    if isinstance(balance, bool) or not isinstance(balance, int):
        raise ValueError(f"balance must be a whole number of points, got {balance!r}")
    r = settings.redemption
    cap = order_amount * r.max_order_share * r.points_per_currency_unit_redeemed
    cap_points = int(cap.to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(balance, cap_points))
