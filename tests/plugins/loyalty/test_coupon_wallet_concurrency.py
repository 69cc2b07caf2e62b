"""Two tills using one coupon at once: exactly one wins, the other gets
COUPON_USED; each till in its own thread, connection and transaction
(SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from engine.errors import GuanxiError
from engine.services.customers import create_customer
from engine.types import utcnow
from plugins.loyalty import coupons, service
from plugins.loyalty.models import LoyaltyCoupon
from tests.concurrency import run_in_threads

ROUNDS = 10  # coupons raced for, one after another: a lost race has many chances to show


def _coupons(gx, tenant, count: int) -> list[str]:
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "busy"}).id
        service.enroll(ctx, cid)
        service.adjust_points(ctx, cid, 100 * count, "opening balance", at=utcnow() - timedelta(days=1))
        service.create_reward(ctx, "MASK", "面膜", "Face mask", "COUPON", 100, value="20", valid_days=30)
    with gx.tenant(tenant) as ctx:
        return [service.redeem_reward(ctx, cid, "MASK").coupon_code for _ in range(count)]


def _race(gx, tenant, code: str, calls) -> list:
    """Run each of ``calls`` (ctx -> result) on its own thread, released together; a refusal is returned."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def till(n: int) -> None:
        barrier.wait()
        try:
            with gx.tenant(tenant, actor=f"till-{n}") as ctx:
                results[n] = calls[n](ctx)
        except GuanxiError as error:
            results[n] = error.errors[0].code

    assert run_in_threads(till, len(calls)) == []
    return results


def _row(gx, tenant, code: str):
    with gx.tenant(tenant, write=False) as ctx:
        return ctx.session.execute(sa.select(LoyaltyCoupon.used_at, LoyaltyCoupon.order_ref, LoyaltyCoupon.voided_at)
                                   .where(LoyaltyCoupon.tenant_id == ctx.tenant_id, LoyaltyCoupon.code == code)).one()


def test_two_tills_using_one_coupon_exactly_one_wins(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    for code in _coupons(gx, tenant, ROUNDS):
        results = _race(gx, tenant, code, [lambda ctx, c=code, n=n: coupons.use_coupon(ctx, c, f"till-{n}")
                                           for n in range(2)])
        won = [r for r in results if isinstance(r, coupons.Coupon)]
        assert len(won) == 1 and results.count("COUPON_USED") == 1, results
        assert _row(gx, tenant, code).order_ref == won[0].order_ref  # the winner's order, written once


def test_one_till_retrying_at_once_is_replayed_not_refused(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    for code in _coupons(gx, tenant, ROUNDS):
        results = _race(gx, tenant, code, [lambda ctx, c=code: coupons.use_coupon(ctx, c, "SO-1")] * 2)
        assert all(isinstance(r, coupons.Coupon) for r in results), results
        assert sorted(r.replayed for r in results) == [False, True]
        assert results[0].used_at == results[1].used_at


def test_using_and_voiding_at_once_never_both(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    for code in _coupons(gx, tenant, ROUNDS):
        used, voided = _race(gx, tenant, code, [lambda ctx, c=code: coupons.use_coupon(ctx, c, "SO-1"),
                                                lambda ctx, c=code: coupons.void_coupon(ctx, c, "leaked")])
        row = _row(gx, tenant, code)
        if isinstance(used, coupons.Coupon):
            assert voided == "COUPON_USED" and row.voided_at is None and row.used_at is not None
        else:
            assert used == "COUPON_VOIDED" and isinstance(voided, coupons.Coupon)
            assert row.used_at is None and row.voided_at is not None
