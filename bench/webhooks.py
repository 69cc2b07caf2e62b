"""Webhooks: delivery throughput to a local receiver, and what a kill -9 costs; prints one JSON line.

Run with ``.venv/bin/python -m bench.webhooks`` (about a minute). The
receiver is plugins/webhooks/receiver.py (starlette under uvicorn, verifying
every signature, deduplicating on webhook-id) in a process of its own; the
workers are ``guanxi webhooks deliver`` processes.

- ``deliveries_per_s``: ``--events`` events written in one transaction, then
  ``--workers`` (2) delivery processes started; deliveries per second from
  the receiver's first request to its last (process start-up excluded).
- ``anchor_requests_per_s``: the same number of signed requests posted to the
  same receiver by one plain httpx client (32 in flight), no database: the
  ceiling this host and receiver allow; ``ratio`` = deliveries / anchor.
- ``lost`` / ``duplicated``: ``--crash-events`` events, two workers, one
  killed with SIGKILL once a third have arrived and started again: events
  never processed by the receiver, and events it processed more than once
  after deduplicating on webhook-id (both must be 0). ``redelivered`` counts
  the requests the deduplication absorbed (at-least-once at work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from engine.config import Settings
from engine.db import make_engine
from engine.events import DomainEvent, emit
from engine.plugins.manager import get_plugin_manager
from engine.runtime import Guanxi
from engine.services.modules import configure, set_enabled
from engine.services.tenants import create_tenant
from plugins.webhooks import crypto
from plugins.webhooks.endpoints import create_endpoint
from plugins.webhooks.receiver import free_port
from plugins.webhooks.signing import headers
from plugins.webhooks.urls import ALLOWED_HOSTS_VARIABLE

ROOT = Path(__file__).resolve().parents[1]


def _engine(url: str) -> Guanxi:
    settings = Settings(database_url=url)
    gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
    gx.upgrade()
    return gx


class ReceiverProcess:
    """The reference receiver in its own process (one CPU-bound process per role, as in production)."""

    def __init__(self, secrets: list[str], port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([sys.executable, "-m", "plugins.webhooks.receiver", str(port), *secrets],
                                        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        deadline = time.monotonic() + 30
        while True:
            try:
                self.stats()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stats(self, ids: bool = False) -> dict:
        return httpx.get(self.url + "/stats" + ("?ids=1" if ids else ""), timeout=30, trust_env=False).json()

    def wait(self, count: int, timeout: float = 900) -> dict:
        deadline = time.monotonic() + timeout
        while (stats := self.stats())["processed"] < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {stats['processed']} of {count} events arrived")
            time.sleep(0.05)
        return stats

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _tenant(gx: Guanxi, url: str) -> tuple[str, str]:
    slug = f"wh{int(time.time() * 1000) % 10**9}"
    with gx.system() as session:
        tenant = create_tenant(session, slug, slug, "CNY", "Asia/Shanghai", "zh-CN", actor="bench")
        set_enabled(session, gx.plugins, tenant.id, "webhooks", True)
        configure(session, gx.plugins, tenant.id, "webhooks", {"timeout_seconds": 5})
    with gx.tenant(slug) as ctx:
        return slug, create_endpoint(ctx, gx.settings, url + "/ok").secret


def _emit(gx: Guanxi, slug: str, count: int) -> None:
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"n": n, "text": "会员日 8 折"}, customer_id=n % 5000 + 1)
                   for n in range(count)])


def _worker(database_url: str, slug: str) -> subprocess.Popen:
    env = dict(os.environ, GUANXI_DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", "from engine.cli import app; app()", "webhooks", "deliver",
                             "--tenant", slug, "--lease-seconds", "2", "--poll-seconds", "0.1"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(30)
        except subprocess.TimeoutExpired:
            w.kill()


def bench_throughput(gx, database_url: str, events: int, workers: int) -> dict:
    port = free_port()
    slug, secret = _tenant(gx, f"http://127.0.0.1:{port}")
    _emit(gx, slug, events)
    receiver = ReceiverProcess([secret], port)
    procs = [_worker(database_url, slug) for _ in range(workers)]
    try:
        stats = receiver.wait(events)
    finally:
        _stop(procs)
        receiver.close()
    return {"deliveries_per_s": round(events / stats["seconds"], 1), "redelivered_clean_run": stats["redelivered"],
            "refused_signatures": stats["refused"]}


def bench_anchor(events: int) -> float:
    secret = crypto.new_secret()
    key = crypto.secret_bytes(secret)
    receiver = ReceiverProcess([secret], free_port())

    async def post_all() -> None:
        gate = asyncio.Semaphore(32)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
            async def one(n: int) -> None:
                body = json.dumps({"id": f"e{n}", "data": {"n": n}}).encode()
                async with gate:
                    await client.post(receiver.url + "/ok", content=body, headers=headers([key], f"e{n}", int(time.time()), body))

            await asyncio.gather(*(one(n) for n in range(events)))

    try:
        asyncio.run(post_all())
        stats = receiver.wait(events)
    finally:
        receiver.close()
    return round(events / stats["seconds"], 1)


def bench_crash(gx, database_url: str, events: int) -> dict:
    port = free_port()
    slug, secret = _tenant(gx, f"http://127.0.0.1:{port}")
    _emit(gx, slug, events)
    receiver = ReceiverProcess([secret], port)
    procs = [_worker(database_url, slug) for _ in range(2)]
    try:
        while receiver.stats()["processed"] < events // 3:
            time.sleep(0.01)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        killed_at = receiver.stats()["processed"]
        procs[0] = _worker(database_url, slug)
        receiver.wait(events)
        time.sleep(5)  # anything still to come twice arrives now (leases are 5 s or more)
        stats = receiver.stats(ids=True)
    finally:
        _stop(procs)
        receiver.close()
    ids = stats["ids"]
    return {"lost": events - len(set(ids)), "duplicated": len(ids) - len(set(ids)), "redelivered": stats["redelivered"],
            "killed_at": killed_at, "crash_events": events}


def measure(events: int = 10_000, crash_events: int = 5_000, workers: int = 2, repeats: int = 3,
            database_url: str | None = None) -> dict:
    """Deliveries per second against the plain-client anchor (interleaved), then
    a kill -9 mid-run: the figures bench.campaigns reports with its own."""
    os.environ.setdefault("GUANXI_SECRET_KEY", "bench-webhooks-secret-key-0123456789abcdef")
    os.environ[ALLOWED_HOSTS_VARIABLE] = "127.0.0.1"  # the receiver is local
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'webhooks.db'}"
        gx = _engine(url)
        runs, anchors = [], []
        for _ in range(repeats):
            runs.append(bench_throughput(gx, url, events, workers))
            anchors.append(bench_anchor(events))
            print(f"run: {runs[-1]['deliveries_per_s']}/s, anchor {anchors[-1]}/s", file=sys.stderr, flush=True)
        crash = bench_crash(gx, url, crash_events)
    rates = sorted(r["deliveries_per_s"] for r in runs)
    ratios = sorted(r["deliveries_per_s"] / a for r, a in zip(runs, anchors))
    return {
        "webhooks_database": gx.engine.dialect.name, "events": events, "workers": workers,
        "deliveries_per_s": rates[len(rates) // 2], "deliveries_per_s_runs": rates,
        "anchor_requests_per_s_runs": anchors, "deliveries_ratio_vs_anchor": round(ratios[len(ratios) // 2], 3),
        "deliveries_ratio_runs": [round(r, 3) for r in ratios],
        "refused_signatures": sum(r["refused_signatures"] for r in runs),
        **crash, "goal_deliveries_per_s": 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--crash-events", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="throughput and anchor runs, interleaved")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    print(json.dumps({"bench": "webhooks", **measure(args.events, args.crash_events, args.workers, args.repeats,
                                                      args.database_url)}))


if __name__ == "__main__":
    main()
