"""Refunds against purchases: one ``recordInteraction`` each through the API,
on a tenant with a long history (issue #19 item 1).

    .venv/bin/python -m bench.data --only refunds [--quick]

The tenant has 1,000,000 interactions (``--quick``: 50,000) for one customer
in ten, with loyalty, rfm, clv and complaints enabled: purchases, visits and
refunds over two years, written with the engine's bulk helpers (its insert
and customer-statistics fold, as bench/ingest.py's stats floor), so the
customers' statistics match their history. Then, through the ASGI app in
process (httpx, as bench/api.py), single purchases and single refunds are
interleaved, each refund reversing part of a purchase recorded by an earlier
round (so loyalty has points to take back); the order alternates per round.

Figures per database (``_sqlite`` / ``_postgres``): ``refund_p50_ms``,
``purchase_p50_ms``, ``refund_to_purchase_p50_ratio`` (goal at most 1.5) and
its spread, the smallest and largest ratio of one round's p50s. PostgreSQL
is a throwaway database on GUANXI_BENCH_POSTGRES_URL (see bench/ingest.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import httpx
import sqlalchemy as sa

from api.app import create_app, freeze_startup_objects
from api.ids import to_global_id
from bench.ingest import drop_postgres, open_engine, postgres_url, tenant_with_customers
from engine.bulk import RawCursor, allocate_ids, analyze
from engine.models import Interaction, Tenant
from engine.runtime import Guanxi
from engine.services.interactions import INSERT_COLUMNS, _local_day, update_stats
from engine.services.keys import create_key
from engine.types import CENT

MODULES = ("loyalty", "rfm", "clv", "complaints")
BATCH = 50_000
HISTORY_END = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=2)
HISTORY_DAYS = 730
RECORD = """mutation($i: InteractionInput!) { recordInteraction(input: $i) { interaction { id } errors { field message } } }"""


class _NewRow(NamedTuple):
    """What update_stats reads of a recorded interaction."""

    id: int
    customer_id: int
    kind: str


def build_history(gx: Guanxi, interactions: int, seed: int = 7) -> tuple[int, list[int]]:
    """The bench tenant: its id and its customers' ids (see the module doc)."""
    rnd = random.Random(seed)
    tenant_id, customers = tenant_with_customers(gx, max(interactions // 10, 100), MODULES)
    start = HISTORY_END - timedelta(days=HISTORY_DAYS)
    seconds = sorted(rnd.randrange(HISTORY_DAYS * 86400) for _ in range(interactions))
    for offset in range(0, interactions, BATCH):
        with gx.tenant(tenant_id, actor="bench") as ctx:
            raw = RawCursor(ctx.session)
            part = seconds[offset : offset + BATCH]
            ids = allocate_ids(ctx.session, Interaction.__table__, len(part))
            now = raw.time(datetime.now(timezone.utc))
            rows, new, purchases = [], [], []
            for new_id, second in zip(ids, part):
                at = start + timedelta(seconds=second)
                roll = rnd.random()
                if roll < 0.04 and purchases:  # a refund of half an earlier purchase, each refunded once
                    purchase_id, customer_id, amount, bought_at = purchases.pop(rnd.randrange(len(purchases)))
                    row = (customer_id, "REFUND", max(at, bought_at), (amount / 2).quantize(CENT), purchase_id)
                elif roll < 0.15:
                    row = (rnd.choice(customers), "VISIT", at, None, None)
                else:
                    amount = Decimal(rnd.randint(100, 99_999)) / 100
                    row = (rnd.choice(customers), "PURCHASE", at, amount, None)
                    purchases.append((new_id, row[0], amount, at))
                customer_id, kind, at, amount, reverses = row
                rows.append((new_id, tenant_id, customer_id, kind, raw.time(at), _local_day(at, timezone.utc),
                             "IN_STORE", "SH-01", None, raw.money(amount), 1 if amount else None, None, reverses,
                             raw.json({}), now))
                new.append(_NewRow(new_id, customer_id, kind))
            raw.insert("interactions", INSERT_COLUMNS, rows)
            update_stats(ctx, new)
    with gx.tenant(tenant_id, actor="bench") as ctx:
        analyze(ctx.session, ["customers", "interactions"])  # a tenant in use has its planner statistics
    return tenant_id, customers


async def measure(gx: Guanxi, tenant_id: int, customers: list[int], rounds: int, per_round: int) -> dict:
    """Interleaved single purchases and refunds through the app: p50s and the ratio's spread."""
    with gx.system() as session:
        key = create_key(session, session.get(Tenant, tenant_id), "ADMIN", "bench", actor="bench").secret
    app = create_app(gx)
    logging.getLogger("guanxi.access").setLevel(logging.WARNING)  # a line per request would be the bench's output
    rnd = random.Random(11)
    buyers = rnd.sample(customers, min(len(customers), 4 * per_round))
    counter = iter(range(10**9))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as client:

        async def record(values: dict) -> tuple[str, float]:
            started = time.perf_counter()
            response = await client.post("/graphql", json={"query": RECORD, "variables": {"i": values}},
                                         headers={"Authorization": f"Bearer {key}"})
            elapsed = (time.perf_counter() - started) * 1000
            payload = response.json()["data"]["recordInteraction"]
            assert response.status_code == 200 and not payload["errors"], response.text[:500]
            return payload["interaction"]["id"], elapsed

        def at() -> str:
            return datetime.now(timezone.utc).isoformat()

        async def purchase() -> tuple[str, float]:
            customer = to_global_id("Customer", rnd.choice(buyers))
            return await record({"customerId": customer, "kind": "PURCHASE", "occurredAt": at(),
                                 "amount": f"{rnd.randint(1_000, 99_999) / 100:.2f}",
                                 "externalId": f"bench-{next(counter)}"})

        async def refund(purchase_id: str) -> float:
            return (await record({"kind": "REFUND", "occurredAt": at(), "amount": "1.00", "reversesId": purchase_id}))[1]

        # Warm-up: every buyer's first purchase enrols them in loyalty; these are the first refunds' purchases.
        queue = [(await purchase())[0] for _ in buyers]
        freeze_startup_objects()  # what the app's lifespan does under uvicorn
        p50s: dict[str, list[float]] = {"refund": [], "purchase": []}
        for round_ in range(rounds):
            times: dict[str, list[float]] = {"refund": [], "purchase": []}
            for _ in range(per_round):
                for kind in (("purchase", "refund") if round_ % 2 == 0 else ("refund", "purchase")):
                    if kind == "purchase":
                        purchase_id, elapsed = await purchase()
                        queue.append(purchase_id)
                    else:
                        elapsed = await refund(queue.pop(0))
                    times[kind].append(elapsed)
            for kind, values in times.items():
                p50s[kind].append(statistics.median(values))
    ratios = sorted(r / p for r, p in zip(p50s["refund"], p50s["purchase"]))
    refund_p50, purchase_p50 = statistics.median(p50s["refund"]), statistics.median(p50s["purchase"])
    return {
        "refund_p50_ms": round(refund_p50, 2),
        "purchase_p50_ms": round(purchase_p50, 2),
        "refund_to_purchase_p50_ratio": round(refund_p50 / purchase_p50, 3),
        "ratio_spread": [round(ratios[0], 3), round(ratios[-1], 3)],
    }


def _open(url: str) -> Guanxi:
    """open_engine, retried: roles are shared by the server's databases, and
    another process upgrading at the same moment fails ALTER ROLE with
    "tuple concurrently updated"."""
    for attempt in range(5):
        try:
            return open_engine(url)
        except sa.exc.InternalError:
            if attempt == 4:
                raise
            time.sleep(1 + attempt)


def bench_on(url: str, interactions: int, rounds: int, per_round: int) -> dict:
    gx = _open(url)
    try:
        started = time.perf_counter()
        tenant_id, customers = build_history(gx, interactions)
        built_s = time.perf_counter() - started
        print(f"refunds bench: {interactions} interactions built in {built_s:.0f} s on {gx.engine.dialect.name}",
              file=sys.stderr, flush=True)
        out = asyncio.run(measure(gx, tenant_id, customers, rounds, per_round))
        return {**out, "history_build_s": round(built_s, 1)}
    finally:
        gx.engine.dispose()


def run(args) -> dict:
    quick = getattr(args, "quick", False)
    interactions = 50_000 if quick else 1_000_000
    rounds, per_round = (5, 10) if quick else (9, 30)
    out: dict = {"interactions": interactions, "rounds": rounds, "per_round": per_round}
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_on(f"sqlite:///{Path(tmp) / 'refunds.db'}", interactions, rounds, per_round)
    out.update({f"{name}_sqlite": value for name, value in figures.items()})
    url = postgres_url()  # None: no server reachable, the figures stay null
    figures = dict.fromkeys(figures)
    if url:
        try:
            figures = bench_on(url, interactions, rounds, per_round)
        finally:
            drop_postgres(url)
    out.update({f"{name}_postgres": value for name, value in figures.items()})
    return out
