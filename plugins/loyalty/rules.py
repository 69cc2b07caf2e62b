"""Earning rules as data (DOMAIN.md §5, Open Loyalty's earning-rule types).

A purchase earns through three kinds of rule:

- the base, ``PURCHASE``: amount × ``points_per_currency_unit`` × the member's
  tier multiplier;
- MULTIPLIER rules (``BIRTHDAY_MONTH``, ``BONUS_WINDOW``, and any an
  integrator registers): each returns a factor > 0, or None when it does not
  apply;
- BONUS rules (``REFERRAL``, and any an integrator registers): each returns
  flat ``Earning`` entries of its own, untouched by the multipliers.

How multipliers combine: multiplicatively, in exact ``Decimal``, and the
product is rounded once, at the end (``settings.earn_rounding``, FLOOR by
default)::

    points = floor(amount × points_per_unit × tier × birthday × bonus window × ...)

so 100.50 spent by a GOLD member (×1.5) in their birthday month (×2) inside a
×3 window earns floor(100.50 × 1 × 1.5 × 2 × 3) = floor(904.5) = 904, not the
900 that rounding after every step would give. When several bonus windows cover
the same day, only the largest window multiplier applies: overlapping
promotions do not stack by accident.

Dates are read from ``occurred_at`` as given: the caller passes it in the
tenant's local time if "birthday month" and window days should follow local
midnight rather than UTC's.

``EVENT`` participation is not a purchase: ``points_for_event`` earns it.

Extension point: a plugin's hook returns ``RuleType`` objects; the plugin
wiring calls ``registry.register(rule)`` for each. ``apply`` receives one
``PurchaseContext``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Callable, Iterable, Literal, Union

from plugins.loyalty.settings import LoyaltySettings

Beneficiary = Literal["member", "referrer"]
RuleKind = Literal["BASE", "MULTIPLIER", "BONUS", "EVENT"]

_ROUNDING = {"FLOOR": ROUND_FLOOR, "HALF_UP": ROUND_HALF_UP, "CEILING": ROUND_CEILING}
_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Earning:
    """Points one rule grants for one interaction.

    ``factors`` records the multipliers that went into a PURCHASE earning as
    (rule code, factor), so the ledger entry can explain itself.
    """

    rule: str
    points: int
    reason: str
    beneficiary: Beneficiary = "member"
    factors: tuple[tuple[str, Decimal], ...] = ()


@dataclasses.dataclass(frozen=True)
class PurchaseContext:
    """Everything a rule may look at when a purchase is recorded."""

    settings: LoyaltySettings
    amount: Decimal
    tier_code: str
    occurred_at: dt.datetime
    birthday: dt.date | None
    is_first_purchase: bool
    has_referrer: bool


# A MULTIPLIER rule returns a factor > 0 or None; a BONUS rule returns earnings.
MultiplierFn = Callable[[PurchaseContext], Union[Decimal, None]]
BonusFn = Callable[[PurchaseContext], Iterable[Earning]]


@dataclasses.dataclass(frozen=True)
class RuleType:
    """A kind of earning rule, with labels for admin screens.

    ``apply`` is None for the rules computed elsewhere (BASE, EVENT).
    """

    code: str
    name_zh: str
    name_en: str
    kind: RuleKind
    apply: Callable[[PurchaseContext], object] | None = None


class RuleRegistry:
    """The rule types a tenant's purchases go through, in registration order."""

    def __init__(self, rules: Iterable[RuleType] = ()):
        self._rules: dict[str, RuleType] = {}
        for rule in rules:
            self._add(rule)

    def _add(self, rule: RuleType) -> None:
        if not _CODE.match(rule.code):
            raise ValueError(f"rule code must be SCREAMING_SNAKE, got {rule.code!r}")
        if rule.code in self._rules:
            raise ValueError(f"rule {rule.code} is already registered")
        if rule.kind in ("MULTIPLIER", "BONUS") and not callable(rule.apply):
            raise ValueError(f"rule {rule.code}: a {rule.kind} rule needs a callable apply")
        self._rules[rule.code] = rule

    def register(self, rule: RuleType) -> None:
        """Add an integrator's rule. Only MULTIPLIER and BONUS rules can be added."""
        if rule.kind not in ("MULTIPLIER", "BONUS"):
            raise ValueError(f"rule {rule.code}: plugins may add MULTIPLIER or BONUS rules, not {rule.kind}")
        self._add(rule)

    def copy(self) -> RuleRegistry:
        return RuleRegistry(self._rules.values())

    def __iter__(self):
        return iter(self._rules.values())

    def __contains__(self, code: str) -> bool:
        return code in self._rules

    def __getitem__(self, code: str) -> RuleType:
        return self._rules[code]

    def of_kind(self, kind: RuleKind) -> list[RuleType]:
        return [r for r in self._rules.values() if r.kind == kind]


# -- built-in rules --------------------------------------------------------------


def birthday_month_factor(ctx: PurchaseContext) -> Decimal | None:
    if ctx.birthday is not None and ctx.birthday.month == ctx.occurred_at.month:
        return ctx.settings.birthday_multiplier
    return None


def bonus_window_factor(ctx: PurchaseContext) -> Decimal | None:
    day = ctx.occurred_at.date()
    factors = [w.multiplier for w in ctx.settings.bonus_windows if w.covers(day)]
    return max(factors) if factors else None


def referral_bonus(ctx: PurchaseContext) -> list[Earning]:
    # Both sides, once, when the invited member makes a first (paid) purchase.
    if not (ctx.is_first_purchase and ctx.has_referrer):
        return []
    s = ctx.settings
    earnings = [
        Earning("REFERRAL", s.referral_bonus_referee, "first purchase of a referred member", "member"),
        Earning("REFERRAL", s.referral_bonus_referrer, "referred member made a first purchase", "referrer"),
    ]
    return [e for e in earnings if e.points > 0]


BUILTIN_RULES: tuple[RuleType, ...] = (
    RuleType("PURCHASE", "消费积分", "Purchase points", "BASE"),
    RuleType("BIRTHDAY_MONTH", "生日月加倍", "Birthday month multiplier", "MULTIPLIER", birthday_month_factor),
    RuleType("BONUS_WINDOW", "节日加倍", "Holiday bonus window", "MULTIPLIER", bonus_window_factor),
    RuleType("REFERRAL", "推荐奖励", "Referral bonus", "BONUS", referral_bonus),
    RuleType("EVENT", "活动参与", "Event participation", "EVENT"),
)


def default_registry() -> RuleRegistry:
    """A fresh registry with the built-in rules; add plugin rules to it."""
    return RuleRegistry(BUILTIN_RULES)


DEFAULT_REGISTRY = default_registry()


# -- computing points -------------------------------------------------------------


def round_points(value: Decimal, settings: LoyaltySettings) -> int:
    return int(value.to_integral_value(rounding=_ROUNDING[settings.earn_rounding]))


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _check_points(rule: str, e: object) -> Earning:
    if not isinstance(e, Earning):
        raise TypeError(f"rule {rule} returned {e!r}; BONUS rules return Earning objects")
    if isinstance(e.points, bool) or not isinstance(e.points, int) or e.points < 0:
        raise ValueError(f"rule {rule} returned {e.points!r} points; points are whole numbers >= 0")
    return e


def points_for_purchase(
    settings: LoyaltySettings,
    amount: Decimal,
    tier_code: str,
    occurred_at: dt.datetime,
    birthday: dt.date | None,
    is_first_purchase: bool,
    has_referrer: bool,
    *,
    registry: RuleRegistry = DEFAULT_REGISTRY,
) -> list[Earning]:
    """The earnings a purchase produces: the PURCHASE earning, then bonuses.

    Zero-point earnings are left out, so a zero-amount order earns nothing
    (not even the referral bonus: a free order is not a first purchase).
    Refunds go through ``ledger_math.reverse_earning``, never a negative amount.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"amount must be a finite Decimal, got {amount!r}")
    if amount < 0:
        raise ValueError(f"amount must be >= 0 (refunds reverse the earning), got {amount}")
    tier = settings.tier(tier_code)
    if amount == 0:
        return []

    ctx = PurchaseContext(settings, amount, tier_code, occurred_at, birthday, is_first_purchase, has_referrer)
    factors: list[tuple[str, Decimal]] = [(f"TIER_{tier.code}", tier.multiplier)]
    for rule in registry.of_kind("MULTIPLIER"):
        f = rule.apply(ctx)
        if f is None:
            continue
        if not isinstance(f, Decimal) or not f.is_finite() or f <= 0:
            raise ValueError(f"rule {rule.code} returned multiplier {f!r}; multipliers are Decimals > 0")
        factors.append((rule.code, f))

    raw = amount * settings.points_per_currency_unit
    for _, f in factors:
        raw *= f
    points = round_points(raw, settings)

    earnings: list[Earning] = []
    if points > 0:
        reason = f"{_fmt(amount)} × {_fmt(settings.points_per_currency_unit)}/unit" + "".join(
            f" × {_fmt(f)} {code}" for code, f in factors
        )
        earnings.append(Earning("PURCHASE", points, reason, "member", tuple(factors)))
    for rule in registry.of_kind("BONUS"):
        for e in rule.apply(ctx):
            e = _check_points(rule.code, e)
            if e.points > 0:
                earnings.append(e)
    return earnings


def points_for_event(settings: LoyaltySettings, event_name: str = "") -> Earning | None:
    """The EVENT earning for taking part in an event (讲座, 体验活动), or None when set to 0."""
    if settings.event_points == 0:
        return None
    reason = f"took part in {event_name}" if event_name else "took part in an event"
    return Earning("EVENT", settings.event_points, reason, "member")
