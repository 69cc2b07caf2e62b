"""Loyalty: what earning costs at ingest, and the periodic jobs at scale (SQLite).

1. Bulk-record 200,000 purchases for 20,000 customers through the engine's
   bulk path for a tenant with loyalty enabled (auto-enrolment, earning, lots,
   tier upgrades) and for one without, same run, separate database files:
   ``ingest_overhead_ratio`` = with / without - 1 (goal <= 0.5).
   ``ledger_writes_floor_ratio``: the writes any earning at ingest must make
   (an EARN entry and its lot per purchase, one balance update per member
   per engine chunk), rows built beforehand and written through the plugin's
   own raw writers, as a share of the ingest without loyalty: the floor of
   the overhead ratio before reading members, applying rules or upgrading.
2. Points expiry plus tier evaluation for 100,000 members holding 1,000,000
   lots (about half past their date) and 300,000 purchases in the window:
   ``expiry_and_tiers_s`` (goal <= 5 s), each job in its own transaction,
   commit included.

    .venv/bin/python -m bench.loyalty [--purchases 200000] [--customers 20000]
                                      [--members 100000] [--lots 1000000]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from bench.ingest import make_items, open_engine, tenant_with_customers
from engine.bulk import allocate_ids, insert_rows
from engine.services.interactions import CHUNK_SIZE, record_interactions
from plugins.loyalty import kernels
from plugins.loyalty.jobs import evaluate_tiers, expire_points
from plugins.loyalty.models import LoyaltyLedgerEntry, LoyaltyLot, LoyaltyMember
from plugins.loyalty.service import raw_executemany, raw_insert

BATCH = 50_000


def ingest(url: str, modules: tuple[str, ...], customers: int, purchases: int) -> float:
    gx = open_engine(url)
    tenant_id, ids = tenant_with_customers(gx, customers, modules)
    items = make_items(ids, purchases)
    for k, item in enumerate(items):
        item["customer_id"] = ids[k % len(ids)]
    started = time.perf_counter()
    for offset in range(0, len(items), BATCH):
        with gx.tenant(tenant_id, actor="bench") as ctx:
            result = record_interactions(ctx, items[offset : offset + BATCH])
            assert not result.errors and not result.duplicates
    elapsed = time.perf_counter() - started
    gx.engine.dispose()
    return elapsed


def ledger_writes_floor(url: str, customers: int, purchases: int) -> float:
    """The ledger writes of earning on every purchase of ``ingest``, and nothing else."""
    gx = open_engine(url)
    tenant_id, ids = tenant_with_customers(gx, customers, ("loyalty",))
    items = make_items(ids, purchases)
    now = datetime.now(timezone.utc)
    with gx.system() as session:
        member_ids = insert_rows(session, LoyaltyMember.__table__, [
            {"tenant_id": tenant_id, "customer_id": cid, "number": f"B{cid:09d}", "status": "ACTIVE",
             "tier_code": "MEMBER", "tier_achieved_at": now, "enrolled_via": "PURCHASE", "enrolled_at": now,
             "referrer_customer_id": None, "first_purchase_at": now, "balance": 0}
            for cid in ids
        ])
    entries = [
        {"tenant_id": tenant_id, "member_id": member_ids[k % len(ids)], "kind": "EARN", "rule": "PURCHASE",
         "points": int(float(item["amount"])), "idempotency_key": f"earn:{k}:PURCHASE:member", "interaction_id": k,
         "lot_id": None, "actor": "bench", "reason": f"{item['amount']} × 1/unit × 1 TIER_MEMBER", "details": "{}",
         "at": item["occurred_at"], "recorded_at": now}
        for k, item in enumerate(items)
    ]
    E, L = LoyaltyLedgerEntry.__table__, LoyaltyLot.__table__
    started = time.perf_counter()
    for offset in range(0, purchases, BATCH):
        with gx.tenant(tenant_id, actor="bench") as ctx:
            for start in range(offset, min(offset + BATCH, purchases), CHUNK_SIZE):  # the hook runs per chunk
                part = entries[start : start + CHUNK_SIZE]
                lots = []
                for row, entry_id, lot_id in zip(part, allocate_ids(ctx.session, E, len(part)),
                                                 allocate_ids(ctx.session, L, len(part))):
                    row.update(id=entry_id, lot_id=lot_id)
                    lots.append({"id": lot_id, "tenant_id": tenant_id, "member_id": row["member_id"],
                                 "entry_id": entry_id, "earned_at": row["at"], "expires_at": row["at"] + timedelta(days=365),
                                 "points": row["points"], "remaining": row["points"], "expired": 0})
                raw_insert(ctx, E, part)
                raw_insert(ctx, L, lots)
                deltas: dict[int, int] = {}
                for row in part:
                    deltas[row["member_id"]] = deltas.get(row["member_id"], 0) + row["points"]
                raw_executemany(ctx, "UPDATE loyalty_members SET balance = balance + ? WHERE id = ?",
                                [(points, member_id) for member_id, points in deltas.items()])
    elapsed = time.perf_counter() - started
    gx.engine.dispose()
    return elapsed


def jobs(url: str, members: int, lots: int, seed: int = 3) -> dict:
    """Build members, lots and purchases straight into the tables, then time both jobs."""
    gx = open_engine(url)
    tenant_id, ids = tenant_with_customers(gx, members, ("loyalty",))
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=730)
    tiers = np.array(["MEMBER", "SILVER", "GOLD", "DIAMOND"])
    member_tier = rng.choice(4, size=members, p=[0.6, 0.25, 0.12, 0.03])
    per_member = np.full(members, lots // members)
    per_member[: lots - per_member.sum()] += 1
    with gx.system() as session:
        member_rows = [
            {"tenant_id": tenant_id, "customer_id": cid, "number": f"B{cid:09d}", "status": "ACTIVE",
             "tier_code": str(tiers[member_tier[k]]), "tier_achieved_at": start + timedelta(days=int(rng.integers(0, 700))),
             "enrolled_via": "PURCHASE", "enrolled_at": start, "referrer_customer_id": None,
             "first_purchase_at": start, "balance": 0}
            for k, cid in enumerate(ids)
        ]
        from engine.models import Interaction

        member_ids = insert_rows(session, LoyaltyMember.__table__, member_rows)
        earned_days = rng.integers(0, 730, size=lots)
        points = rng.integers(1, 500, size=lots)
        owner = np.repeat(np.arange(members), per_member)
        balances = np.bincount(owner, weights=points, minlength=members).astype(np.int64)
        for offset in range(0, lots, 200_000):
            rows = []
            for j in range(offset, min(lots, offset + 200_000)):
                earned = start + timedelta(days=int(earned_days[j]))
                rows.append({"tenant_id": tenant_id, "member_id": member_ids[owner[j]], "entry_id": None,
                             "earned_at": earned, "expires_at": earned + timedelta(days=365),
                             "points": int(points[j]), "remaining": int(points[j]), "expired": 0})
            insert_rows(session, LoyaltyLot.__table__, rows)
        from sqlalchemy import bindparam, update

        table = LoyaltyMember.__table__
        session.execute(update(table).where(table.c.id == bindparam("b_id")).values(balance=bindparam("b")),
                        [{"b_id": m, "b": int(b)} for m, b in zip(member_ids, balances)])
        n_purchases = members * 3
        buyers = rng.integers(0, members, size=n_purchases)
        days = rng.integers(0, 400, size=n_purchases)
        amounts = rng.integers(1_000, 600_000, size=n_purchases) / 100
        for offset in range(0, n_purchases, 200_000):
            insert_rows(session, Interaction.__table__, [
                {"tenant_id": tenant_id, "customer_id": ids[buyers[j]], "kind": "PURCHASE",
                 "occurred_at": now - timedelta(days=int(days[j])), "local_day": 0, "amount": f"{amounts[j]:.2f}",
                 "payload": {}, "recorded_at": now}
                for j in range(offset, min(n_purchases, offset + 200_000))
            ])
    kernels.warm_up()
    started = time.perf_counter()
    with gx.tenant(tenant_id, actor="bench") as ctx:
        expired = expire_points(ctx, as_of=now)
    mid = time.perf_counter()
    with gx.tenant(tenant_id, actor="bench") as ctx:
        evaluated = evaluate_tiers(ctx, as_of=now)
    done = time.perf_counter()
    with gx.tenant(tenant_id, actor="bench") as ctx:
        again = expire_points(ctx, as_of=now)
    with gx.tenant(tenant_id, actor="bench") as ctx:
        again_tiers = evaluate_tiers(ctx, as_of=now)
    gx.engine.dispose()
    assert again["points"] == 0 and again_tiers["upgraded"] == again_tiers["downgraded"] == 0
    return {"expiry_s": round(mid - started, 3), "tiers_s": round(done - mid, 3),
            "expiry_and_tiers_s": round(done - started, 3), "expired_lots": expired["lots"],
            "expired_points": expired["points"], "tier_upgrades": evaluated["upgraded"],
            "tier_downgrades": evaluated["downgraded"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--purchases", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--lots", type=int, default=1_000_000)
    args = parser.parse_args()
    random.seed(1)
    out: dict = {"bench": "loyalty", "purchases": args.purchases, "customers": args.customers,
                 "members": args.members, "lots": args.lots}
    with tempfile.TemporaryDirectory() as tmp:
        without = ingest(f"sqlite:///{Path(tmp) / 'without.db'}", (), args.customers, args.purchases)
        with_ = ingest(f"sqlite:///{Path(tmp) / 'with.db'}", ("loyalty",), args.customers, args.purchases)
        out["ingest_without_s"] = round(without, 3)
        out["ingest_with_loyalty_s"] = round(with_, 3)
        out["ingest_overhead_ratio"] = round(with_ / without - 1, 3)
        floor = ledger_writes_floor(f"sqlite:///{Path(tmp) / 'floor.db'}", args.customers, args.purchases)
        out["ledger_writes_floor_s"] = round(floor, 3)
        out["ledger_writes_floor_ratio"] = round(floor / without, 3)
        out.update(jobs(f"sqlite:///{Path(tmp) / 'jobs.db'}", args.members, args.lots))
    out["goals"] = {"ingest_overhead_ratio": 0.5, "expiry_and_tiers_s": 5.0}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
