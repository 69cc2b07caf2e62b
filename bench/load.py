"""Load: two uvicorn workers on PostgreSQL, loopback only, bounded in time.

A mix of reads (customer pages, lookups by id, searches) and writes
(purchases, point redemptions, complaint updates) from concurrent clients for
a fixed duration, on the demo tenant. Prints one JSON line: requests/s,
p50/p99 latency, error count, and the workers' memory at the start and end.

A redemption refused because the member has run out of points is the
product working, not an error: it is counted under ``refused``.

    .venv/bin/python -m bench.load [--seconds 300] [--clients N] [--customers 2000]

The goal is a p99 within 200 ms at the highest rate the machine sustains.
Closed-loop clients queue behind each other, so past saturation more
clients add latency, not requests. Without ``--clients`` the bench first
runs 30 s at each of a few concurrencies and measures the long run at the
one with the most requests/s whose p99 stays within 90% of the goal (a
margin for noise); the sweep is in the JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

from api.metrics import prepare_multiprocess_dir
from bench.ingest import drop_postgres, postgres_url

ROOT = Path(__file__).resolve().parent.parent
SWEEP_CLIENTS = (4, 6, 8, 12, 16)
P99_GOAL_MS = 200
SWEEP_MARGIN = 0.9
BENCH_RATE_LIMITS = "admin=100000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (the uvicorn workers)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().split()
            if int(entry) != pid and int(stat[3]) != pid:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def prepare(url: str, customers: int) -> str:
    from engine.config import Settings
    from engine.db import make_engine
    from engine.demo import generate_demo
    from engine.plugins.manager import get_plugin_manager
    from engine.runtime import Guanxi

    settings = Settings(database_url=url)
    gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
    gx.upgrade()
    key = generate_demo(gx, customers=customers, days=365).admin_key
    gx.engine.dispose()
    return key


# A business refusal the mix can provoke on purpose; anything else is an error.
EXPECTED_REFUSALS = {"INSUFFICIENT_POINTS"}


@dataclass
class Targets:
    """Ids the clients pick from, read once before the run."""

    customers: list[str]
    members: list[str]  # with points to redeem
    open_complaints: list[str]


class Client:
    def __init__(self, http: httpx.AsyncClient, key: str, targets: Targets):
        self.http, self.targets = http, targets
        self.headers = {"Authorization": f"Bearer {key}"}
        self.latencies: list[float] = []
        self.errors = 0
        self.refused = 0
        self.counts: dict[str, int] = {}

    async def call(self, name: str, query: str, variables: dict) -> None:
        started = time.perf_counter()
        refused = False
        try:
            response = await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
            body = response.json()
            failed = response.status_code != 200 or bool(body.get("errors"))
            payload = next(iter((body.get("data") or {}).values()), None)
            if isinstance(payload, dict) and payload.get("errors"):
                refused = {e["code"] for e in payload["errors"]} <= EXPECTED_REFUSALS
                failed = failed or not refused
        except (httpx.HTTPError, ValueError):
            failed = True
        self.latencies.append(time.perf_counter() - started)
        self.errors += failed
        self.refused += refused
        self.counts[name] = self.counts.get(name, 0) + 1

    async def step(self, rnd: random.Random) -> None:
        roll = rnd.random()
        customer = rnd.choice(self.targets.customers)
        if roll < 0.40:
            await self.call("page", "query($n: Int) { customers(first: $n, orderBy: {field: GROSS_SPENT, direction: DESC}) "
                            "{ edges { node { id name grossSpent purchaseCount lastPurchaseAt } } } }", {"n": 50})
        elif roll < 0.67:
            await self.call("lookup", "query($id: ID!) { node(id: $id) { ... on Customer { name phone grossSpent "
                            "interactions(first: 5) { edges { node { kind { code } occurredAt amount } } } } } }", {"id": customer})
        elif roll < 0.77:
            await self.call("search", "query($s: String) { customers(first: 10, search: $s) { totalCount } }", {"s": rnd.choice("王李张陈")})
        elif roll < 0.83 and self.targets.members:
            await self.call("redemption", "mutation($i: RedeemPointsInput!) { redeemPoints(input: $i) { errors { code } } }",
                            {"i": {"customerId": rnd.choice(self.targets.members), "points": rnd.randint(1, 20),
                                   "orderAmount": "100.00", "idempotencyKey": f"load-{uuid.uuid4().hex}"}})
        elif roll < 0.89 and self.targets.open_complaints:
            await self.call("complaint_update", "mutation($i: AddComplaintUpdateInput!) { addComplaintUpdate(input: $i) "
                            "{ errors { code } } }", {"i": {"id": rnd.choice(self.targets.open_complaints),
                                                            "note": "已联系顾客，跟进中 (load test)"}})
        else:
            now = datetime.now(timezone.utc).isoformat()
            await self.call("purchase", "mutation($i: InteractionInput!) { recordInteraction(input: $i) { errors { code } } }",
                            {"i": {"customerId": customer, "kind": "PURCHASE", "occurredAt": now,
                                   "amount": f"{rnd.randint(100, 9999) / 100:.2f}", "externalId": f"load-{uuid.uuid4().hex}"}})


async def read_targets(http: httpx.AsyncClient, key: str) -> Targets:
    query = """{
      customers(first: 100) { edges { node { id loyalty { points } } } }
      complaints(first: 100, where: {open: true}) { edges { node { id } } }
    }"""
    response = await http.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"})
    data = response.json()["data"]
    nodes = [e["node"] for e in data["customers"]["edges"]]
    return Targets(
        customers=[n["id"] for n in nodes],
        members=[n["id"] for n in nodes if n["loyalty"] and n["loyalty"]["points"] > 0],
        open_complaints=[e["node"]["id"] for e in data["complaints"]["edges"]],
    )


async def drive(base: str, key: str, seconds: float, clients: int) -> tuple[list[Client], float]:
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=clients)) as http:
        targets = await read_targets(http, key)
        workers = [Client(http, key, targets) for _ in range(clients)]
        deadline = time.monotonic() + seconds
        started = time.monotonic()

        async def loop(client: Client, seed: int) -> None:
            rnd = random.Random(seed)
            while time.monotonic() < deadline:
                await client.step(rnd)

        await asyncio.gather(*(loop(c, i) for i, c in enumerate(workers)))
        return workers, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=None, help="fixed concurrency (default: sweep)")
    parser.add_argument("--sweep-seconds", type=float, default=30)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    url = postgres_url()
    if url is None:
        print(json.dumps({"bench": "load", "error": "no PostgreSQL server reachable"}))
        return
    port = free_port()
    server = None
    try:
        key = prepare(url, args.customers)
        prepare_multiprocess_dir(2)  # the workers' metrics as `guanxi serve --workers 2` keeps them (files they share)
        # Protection on (cost rule, statement budget, rate limits counted in the
        # database), but one admin key stands for every client here: its rate is
        # set past what the bench sends, so requests are counted, never refused.
        env = dict(os.environ, GUANXI_DATABASE_URL=url, GUANXI_LOG_LEVEL="WARNING", GUANXI_RATE_LIMITS=BENCH_RATE_LIMITS)
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2", "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        sweep = []
        clients = args.clients
        if clients is None:
            for n in SWEEP_CLIENTS:
                sweep.append({"clients": n, **summarize(*asyncio.run(drive(base, key, args.sweep_seconds, n)))})
            clients = pick_concurrency(sweep)
        # Warm up at the measured concurrency: memory_start is then the steady state,
        # and growth over the run is what a leak would add, not the first peak.
        asyncio.run(drive(base, key, min(20.0, args.seconds), clients))
        memory_start = rss_kb(server.pid)
        workers, elapsed = asyncio.run(drive(base, key, args.seconds, clients))
        memory_end = rss_kb(server.pid)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop_postgres(url)
    counts: dict[str, int] = {}
    for w in workers:
        for name, n in w.counts.items():
            counts[name] = counts.get(name, 0) + n
    print(json.dumps({
        "bench": "load",
        "seconds": round(elapsed, 1),
        "clients": clients,
        "workers": 2,
        **summarize(workers, elapsed),
        "memory_start_mb": round(memory_start / 1024, 1),
        "memory_end_mb": round(memory_end / 1024, 1),
        "memory_growth_ratio": round(memory_end / memory_start - 1, 4) if memory_start else None,
        "mix": counts,
        "sweep": sweep,
    }))


def summarize(workers: list[Client], elapsed: float) -> dict:
    latencies = np.array([x for w in workers for x in w.latencies]) * 1000
    return {
        "requests": int(len(latencies)),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "errors": int(sum(w.errors for w in workers)),
        "refused": int(sum(w.refused for w in workers)),
    }


def pick_concurrency(sweep: list[dict]) -> int:
    """The most requests/s with the p99 at most 90% of the goal; the lowest p99 if none is.

    The margin is for noise: at the edge of saturation a 30 s step's p99
    came out 195 ms and the 5 minutes at the same concurrency 200.3 ms.
    """
    within = [run for run in sweep if run["p99_ms"] <= SWEEP_MARGIN * P99_GOAL_MS and not run["errors"]]
    if within:
        return max(within, key=lambda run: run["requests_per_s"])["clients"]
    return min(sweep, key=lambda run: run["p99_ms"])["clients"]


if __name__ == "__main__":
    main()
