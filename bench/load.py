"""Load: two uvicorn workers on PostgreSQL, loopback only, bounded in time.

A mix of reads (customer pages, lookups by id, searches) and writes (purchases,
and, when the tenant's schema has them, point redemptions and complaint
updates) from concurrent clients for a fixed duration. Prints one JSON line:
requests/s, p50/p99 latency, error count, and the workers' memory at the
start and end.

    .venv/bin/python -m bench.load [--seconds 300] [--clients 16] [--customers 2000]
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
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

from bench.ingest import drop_postgres, postgres_url

ROOT = Path(__file__).resolve().parent.parent


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
    gx.init_db()
    key = generate_demo(gx, customers=customers, days=365).admin_key
    gx.engine.dispose()
    return key


class Client:
    def __init__(self, http: httpx.AsyncClient, key: str, ids: list[str], has: set[str]):
        self.http, self.ids, self.has = http, ids, has
        self.headers = {"Authorization": f"Bearer {key}"}
        self.latencies: list[float] = []
        self.errors = 0
        self.counts: dict[str, int] = {}

    async def call(self, name: str, query: str, variables: dict) -> None:
        started = time.perf_counter()
        try:
            response = await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
            body = response.json()
            failed = response.status_code != 200 or bool(body.get("errors"))
            payload = next(iter((body.get("data") or {}).values()), None)
            if isinstance(payload, dict) and payload.get("errors"):
                failed = True
        except (httpx.HTTPError, ValueError):
            failed = True
        self.latencies.append(time.perf_counter() - started)
        self.errors += failed
        self.counts[name] = self.counts.get(name, 0) + 1

    async def step(self, rnd: random.Random, n: int) -> None:
        roll = rnd.random()
        customer = rnd.choice(self.ids)
        if roll < 0.45:
            await self.call("page", "query($n: Int) { customers(first: $n, orderBy: {field: TOTAL_SPENT, direction: DESC}) "
                            "{ edges { node { id name totalSpent purchaseCount lastPurchaseAt } } } }", {"n": 50})
        elif roll < 0.75:
            await self.call("lookup", "query($id: ID!) { node(id: $id) { ... on Customer { name phone totalSpent "
                            "interactions(first: 5) { edges { node { kind { code } occurredAt amount } } } } } }", {"id": customer})
        elif roll < 0.85:
            await self.call("search", "query($s: String) { customers(first: 10, search: $s) { totalCount } }", {"s": rnd.choice("王李张陈")})
        else:
            now = datetime.now(timezone.utc).isoformat()
            await self.call("purchase", "mutation($i: InteractionInput!) { recordInteraction(input: $i) { errors { code } } }",
                            {"i": {"customerId": customer, "kind": "PURCHASE", "occurredAt": now,
                                   "amount": f"{rnd.randint(100, 9999) / 100:.2f}", "externalId": f"load-{uuid.uuid4().hex}"}})


async def drive(base: str, key: str, seconds: float, clients: int) -> tuple[list[Client], float]:
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=clients)) as http:
        page = await http.post("/graphql", json={"query": "{ customers(first: 100) { edges { node { id } } } }"},
                               headers={"Authorization": f"Bearer {key}"})
        ids = [e["node"]["id"] for e in page.json()["data"]["customers"]["edges"]]
        workers = [Client(http, key, ids, set()) for _ in range(clients)]
        deadline = time.monotonic() + seconds
        started = time.monotonic()

        async def loop(client: Client, seed: int) -> None:
            rnd = random.Random(seed)
            n = 0
            while time.monotonic() < deadline:
                await client.step(rnd, n)
                n += 1

        await asyncio.gather(*(loop(c, i) for i, c in enumerate(workers)))
        return workers, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=16)
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
        env = dict(os.environ, GUANXI_DATABASE_URL=url, GUANXI_LOG_LEVEL="WARNING")
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
        # Warm up at the measured concurrency: memory_start is then the steady state,
        # and growth over the run is what a leak would add, not the first 16-way peak.
        asyncio.run(drive(base, key, min(20.0, args.seconds), args.clients))
        memory_start = rss_kb(server.pid)
        workers, elapsed = asyncio.run(drive(base, key, args.seconds, args.clients))
        memory_end = rss_kb(server.pid)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop_postgres(url)
    latencies = np.array([x for w in workers for x in w.latencies]) * 1000
    counts: dict[str, int] = {}
    for w in workers:
        for name, n in w.counts.items():
            counts[name] = counts.get(name, 0) + n
    print(json.dumps({
        "bench": "load",
        "seconds": round(elapsed, 1),
        "clients": args.clients,
        "workers": 2,
        "requests": int(len(latencies)),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "errors": int(sum(w.errors for w in workers)),
        "memory_start_mb": round(memory_start / 1024, 1),
        "memory_end_mb": round(memory_end / 1024, 1),
        "memory_growth_ratio": round(memory_end / memory_start - 1, 4) if memory_start else None,
        "mix": counts,
    }))


if __name__ == "__main__":
    main()
