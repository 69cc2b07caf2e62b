"""Concurrent redemptions at one member never overdraw and never apply twice,
each thread in its own transaction (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from engine.errors import ValidationFailed
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.types import utcnow
from plugins.loyalty import service
from plugins.loyalty.jobs import evaluate_tiers, expire_points
from plugins.loyalty.models import LoyaltyLedgerEntry, LoyaltyLot
from tests.concurrency import run_in_threads


def _setup(gx, tenant, points):
    with gx.tenant(tenant) as ctx:
        cid = create_customer(ctx, {"name": "busy"}).id
        service.enroll(ctx, cid)
        service.adjust_points(ctx, cid, points, "opening balance", at=utcnow() - timedelta(days=1))
    return cid


def _fire(gx, tenant, n, call):
    barrier = threading.Barrier(n)

    def one(k):
        barrier.wait()
        try:
            with gx.tenant(tenant, actor=f"worker-{k}") as ctx:
                return call(ctx, k)
        except ValidationFailed as error:
            return error

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def _ledger(gx, tenant, cid):
    with gx.tenant(tenant, write=False) as ctx:
        m = service.get_member(ctx, cid)
        entries = ctx.session.execute(sa.select(LoyaltyLedgerEntry.kind, LoyaltyLedgerEntry.points).where(
            LoyaltyLedgerEntry.tenant_id == ctx.tenant_id, LoyaltyLedgerEntry.member_id == m.id)).all()
        lots = ctx.session.execute(sa.select(sa.func.sum(LoyaltyLot.remaining)).where(
            LoyaltyLot.tenant_id == ctx.tenant_id, LoyaltyLot.member_id == m.id)).scalar_one()
    return m.balance, entries, lots


def test_fifty_concurrent_redemptions_never_overdraw(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _setup(gx, tenant, 1000)
    results = _fire(gx, tenant, 50, lambda ctx, k: service.redeem_points(ctx, cid, 30, "100", order_ref=f"SO-{k}"))
    ok = [r for r in results if isinstance(r, service.Redemption)]
    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert (len(ok), len(refused)) == (33, 17)
    assert all(r.errors[0].field == "points" and r.errors[0].code == "INSUFFICIENT_POINTS" for r in refused)
    balance, entries, lots = _ledger(gx, tenant, cid)
    assert balance == 10 and lots == 10
    assert sum(p for _, p in entries) == 10
    assert sorted(k for k, _ in entries).count("REDEEM") == 33


def test_concurrent_retries_of_one_request_apply_once(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _setup(gx, tenant, 1000)
    results = _fire(gx, tenant, 20, lambda ctx, k: service.redeem_points(ctx, cid, 100, "100", idempotency_key="order-7"))
    assert all(isinstance(r, service.Redemption) for r in results), results
    assert len({r.entry_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    balance, entries, _ = _ledger(gx, tenant, cid)
    assert balance == 900 and len(entries) == 2


def test_concurrent_reward_redemptions_respect_stock(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cids = [_setup(gx, tenant, 500) for _ in range(12)]
    with gx.tenant(tenant) as ctx:
        service.create_reward(ctx, "TOTE", "帆布袋", "Tote bag", "GIFT", 200, stock=5)
    results = _fire(gx, tenant, 12, lambda ctx, k: service.redeem_reward(ctx, cids[k], "TOTE"))
    ok = [r for r in results if isinstance(r, service.Redemption)]
    assert len(ok) == 5
    assert all(r.errors[0].code == "OUT_OF_STOCK" for r in results if isinstance(r, ValidationFailed))
    assert sorted(_ledger(gx, tenant, c)[0] for c in cids) == [300] * 5 + [500] * 7


def _gold_members_enrolled_in_reverse_customer_order(gx, tenant):
    """Two customers whose member ids run the other way round, GOLD since
    430 days ago with no spend since, so tier evaluation moves both down."""
    with gx.tenant(tenant) as ctx:
        first, second = (create_customer(ctx, {"name": name}).id for name in ("a", "b"))
    long_ago = utcnow() - timedelta(days=430)
    for k, cid in enumerate((second, first)):
        with gx.tenant(tenant) as ctx:
            record_interaction(ctx, {"customer_id": cid, "kind": "PURCHASE", "amount": "12000",
                                     "occurred_at": long_ago + timedelta(minutes=k)})
    return first, second


def _job_while_a_purchase_holds_the_first_member(gx, tenant, first, second, job) -> list[BaseException]:
    """The ingest hook locks a batch's members in customer order; here one at
    a time, with ``job`` started in between. Returns what either raised."""
    first_locked = threading.Event()

    def purchase() -> None:
        with gx.tenant(tenant) as ctx:
            service.members_by_customer(ctx, [first], lock=True)
            first_locked.set()
            time.sleep(1.0)  # the job starts meanwhile
            service.members_by_customer(ctx, [second], lock=True)

    def run_job() -> None:
        first_locked.wait()
        with gx.tenant(tenant) as ctx:
            job(ctx)

    return run_in_threads(lambda n: (purchase, run_job)[n](), 2)


def test_tier_evaluation_and_a_purchase_lock_members_in_the_same_order(gx, make_tenant):
    """The job writes its tier changes in customer order too: in member id
    order it held one member while waiting for the other, and the purchase's
    transaction held that one while waiting for the first (PostgreSQL
    aborted one)."""
    tenant = make_tenant(modules=("loyalty",))
    first, second = _gold_members_enrolled_in_reverse_customer_order(gx, tenant)
    assert _job_while_a_purchase_holds_the_first_member(gx, tenant, first, second, evaluate_tiers) == []
    with gx.tenant(tenant, write=False) as ctx:
        assert {service.get_member(ctx, c).tier_code for c in (first, second)} == {"SILVER"}


def test_points_expiry_and_a_purchase_lock_members_in_the_same_order(gx, make_tenant):
    """As above, for the expiry job's ledger inserts and balance updates."""
    tenant = make_tenant(modules=("loyalty",))
    first, second = _gold_members_enrolled_in_reverse_customer_order(gx, tenant)
    assert _job_while_a_purchase_holds_the_first_member(gx, tenant, first, second, expire_points) == []
    with gx.tenant(tenant, write=False) as ctx:
        assert {service.get_member(ctx, c).balance for c in (first, second)} == {0}
