"""The loyalty module's share of the demo tenant (``guanxi_demo_data``).

Purchases earned the demo's members their points, but nobody ever spent
any. This adds a small reward catalogue and, through the loyalty service at
historical times, has about one member in eight (of those with 500 points or more) spend points: mostly paying
part of an order at the till with points, sometimes exchanging them for a
reward coupon, some of which were used at a later purchase. A spend only
uses points earned by then and not yet expired (the service's rule for a
back-dated spend), so the ledger reads in time order. Points expire after
this (the catch-up in engine/demo.py runs the expiry job last).
Deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from engine.errors import ValidationFailed
from engine.models import Interaction
from engine.types import utcnow
from plugins.loyalty import coupons, service
from plugins.loyalty.ledger_math import InsufficientPoints, Lot, allocate_redemption, max_redeemable_points
from plugins.loyalty.models import LoyaltyLot, LoyaltyMember

REDEEMERS = 0.12  # share of members with 500 points or more who ever spent some
REWARD_SHARE = 0.25  # of spends: a reward rather than points off an order
COUPON_USED = 0.6  # of reward coupons: used at a later purchase
MIN_POINTS = 500
REWARDS = [  # code, zh, en, kind, points, value, valid days
    ("VOUCHER_50", "50元代金券", "CNY 50 voucher", "COUPON", 5000, "50.00", 90),
    ("SAMPLE_KIT", "明星小样套装", "Best-seller sample kit", "GIFT", 1500, "68.00", 60),
    ("FACIAL", "门店面部护理一次", "One in-store facial", "GIFT", 8000, "198.00", 120),
]


def add_demo_redemptions(ctx, seed: int) -> str:
    if "loyalty" not in ctx.enabled_modules:  # the demo enables every module; a bare tenant gets nothing
        return None
    rnd = random.Random(seed)
    s = service.require_enabled(ctx)
    for code, zh, en, kind, points, value, days in REWARDS:
        service.create_reward(ctx, code, zh, en, kind, points, value=value, valid_days=days)
    t = ctx.tenant_id
    M, L, I = LoyaltyMember.__table__, LoyaltyLot.__table__, Interaction.__table__
    members = ctx.session.execute(sa.select(M.c.id, M.c.customer_id).where(
        M.c.tenant_id == t, M.c.status == "ACTIVE", M.c.balance >= MIN_POINTS).order_by(M.c.id)).all()
    chosen = sorted(rnd.sample(members, int(len(members) * REDEEMERS)))
    lots: dict[int, list[Lot]] = {member_id: [] for member_id, _ in chosen}
    purchases: dict[int, list] = {customer_id: [] for _, customer_id in chosen}
    member_ids, customer_ids = list(lots), list(purchases)
    for start in range(0, len(chosen), 900):
        for row in ctx.session.execute(sa.select(L.c.member_id, L.c.earned_at, L.c.expires_at, L.c.remaining).where(
                L.c.tenant_id == t, L.c.member_id.in_(member_ids[start:start + 900]), L.c.remaining > 0)
                .order_by(L.c.member_id, L.c.earned_at, L.c.id)):
            lots[row.member_id].append(Lot(row.earned_at, row.expires_at, row.remaining))
        for row in ctx.session.execute(sa.select(I.c.customer_id, I.c.occurred_at, I.c.amount).where(
                I.c.tenant_id == t, I.c.customer_id.in_(customer_ids[start:start + 900]), I.c.kind == "PURCHASE")
                .order_by(I.c.customer_id, I.c.occurred_at, I.c.id)):
            purchases[row.customer_id].append(row)
    now = utcnow()
    with ctx.session.no_autoflush:  # the service writes through SQL; only its audit rows wait for the commit
        spends, rewards, used = _spend_history(ctx, s, rnd, chosen, lots, purchases, now)
    return f"{len(chosen)} members spent points: {spends} orders paid in part, {rewards} rewards, {used} coupons used"


def _spend_history(ctx, s, rnd, chosen, lots, purchases, now) -> tuple[int, int, int]:
    spends = rewards = used = 0
    for member_id, customer_id in chosen:
        own = lots[member_id]
        # Later purchases, in time order: some become spends.
        visits = [p for p in purchases[customer_id] if own and p.occurred_at > own[0].earned_at + timedelta(days=30)]
        for purchase in sorted(rnd.sample(visits, min(len(visits), rnd.choice([1, 1, 1, 2, 2, 3]))), key=lambda p: p.occurred_at):
            at = purchase.occurred_at
            if rnd.random() < REWARD_SHARE:
                code, *_, price, _, days = rnd.choice(REWARDS)
                if not _spendable(own, price, at):
                    continue
                try:
                    coupon = service.redeem_reward(ctx, customer_id, code, idempotency_key=f"demo-{member_id}-{at.timestamp():.0f}",
                                                   at=at).coupon_code
                except ValidationFailed:  # the service's rules have the last word (a refund's debt)
                    continue
                rewards += 1
                use_at = at + timedelta(days=rnd.uniform(1, days * 0.9))
                if rnd.random() < COUPON_USED and use_at < now:
                    coupons.use_coupon(ctx, coupon, order_ref=f"demo-order-{member_id}-{use_at.timestamp():.0f}", at=use_at)
                    used += 1
                continue
            amount = Decimal(str(purchase.amount or 0))
            cap = max_redeemable_points(amount, 10**15, s)
            points = min(cap, int(_balance(own, at) * rnd.uniform(0.3, 1.0))) // 100 * 100
            if points < 100 or not _spendable(own, points, at):
                continue
            try:
                service.redeem_points(ctx, customer_id, points, amount, order_ref=f"demo-order-{member_id}-{at.timestamp():.0f}",
                                      idempotency_key=f"demo-{member_id}-{at.timestamp():.0f}", at=at)
            except ValidationFailed:  # the service's rules have the last word (a refund's debt, the order cap)
                continue
            spends += 1
    return spends, rewards, used


def _balance(lots: list[Lot], at) -> int:
    return sum(lot.remaining for lot in lots if lot.earned_at <= at < lot.expires_at)


def _spendable(lots: list[Lot], points: int, at) -> bool:
    """Take ``points`` from the lots as the service will (earned by ``at``, oldest first); False when they cannot."""
    usable = [k for k, lot in enumerate(lots) if lot.earned_at <= at]
    try:
        takes = allocate_redemption([lots[k] for k in usable], points, as_of=at)
    except InsufficientPoints:
        return False
    for k, take in takes:
        lot = lots[usable[k]]
        lots[usable[k]] = Lot(lot.earned_at, lot.expires_at, lot.remaining - take)
    return True
