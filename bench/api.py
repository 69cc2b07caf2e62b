"""The GraphQL API against its framework floor, same query, same run.

Run with ``.venv/bin/python -m bench.api`` (prints one JSON line). It builds
the demo tenant (``--customers``, default 2,000) in GUANXI_DATABASE_URL or a
temporary SQLite file in a child process, as ``guanxi demo --generate-only``
would, so the measured process only serves, like ``guanxi serve`` (the
build leaves a large heap behind that slowed the API by 5-10%). Then it
measures ``customers(first: 100)`` in two shapes:
the issue's, about 30 fields per customer (the core fields of a customer list
plus every enabled plugin's Customer fields, the headline figures), and every
core and plugin field (``all_fields``). For each:

- through the real app (httpx ASGI transport, in process: auth, tenant
  schema, SQL in worker threads): p50/p99 with one client, requests/s with 16
  concurrent clients, SQL statements per request;
- the floor: the same tenant schema executed on the same page of customers
  already held in memory (no HTTP, no database): requests/s with 16 clients.

``cpu`` names the host's CPU model: figures differ by host.

``rate_limit_overhead`` is the list page's p50 with each request counted
against the key's rate limit (in the database, or Redis with
GUANXI_REDIS_URL) against counting off, minus 1, interleaved the same way.

``scoping_overhead`` is the list page's p50 with tenant scoping on (the
tenant-bound sessions; on PostgreSQL row-level security too) against the
same run with it off, minus 1, from interleaved rounds (goal: at most 0.10).
``metrics_overhead`` is the same comparison for Prometheus metrics (on by
default) against an app built with ``GUANXI_METRICS=false``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import event

from api.app import create_app, freeze_startup_objects
from api.context import Principal, RequestContext, SharedLoader
from bench.host import cpu_model
from engine.config import Settings
from engine.demo import DEMO_SLUG, generate_demo
from engine.enums import Role
from engine.runtime import Guanxi

# What a customer list shows; with the plugin fields about 30 per customer.
LIST_FIELDS = "id code name phone email store tags grossSpent purchaseCount lastPurchaseAt"
CORE_FIELDS = """id code name birthday phone email wechatId region city occupation incomeBand skinType
  preferences owner store tags attributes consent createdAt updatedAt erasedAt firstPurchaseAt lastPurchaseAt
  purchaseCount purchaseDays grossSpent netSpent refundedAmount gender { code label } acquisitionChannel { code label }
  preferredChannel { code label } priceSensitivity { code label } role { code label } lifecycleStage { code label }"""


def customer_fields(schema, core_fields: str = CORE_FIELDS) -> str:
    """``core_fields`` plus every field the enabled plugins add to Customer (one level of objects)."""
    from graphql import get_named_type, is_leaf_type, is_non_null_type

    core = set(CORE_FIELDS.replace("{", " ").replace("}", " ").split())
    extra = []
    for name, field in schema._schema.get_type("Customer").fields.items():
        if name in core or name in {"referrer", "interactions"} or any(is_non_null_type(a.type) for a in field.args.values()):
            continue
        target = get_named_type(field.type)
        if is_leaf_type(target):
            extra.append(name)
        else:
            leaves = [n for n, f in target.fields.items() if is_leaf_type(get_named_type(f.type)) and not f.args]
            extra.append(f"{name} {{ {' '.join(leaves)} }}")
    return core_fields + (" " + " ".join(extra) if extra else "")


def count_fields(selection: str) -> int:
    """Leaf fields in a selection: words not followed by a sub-selection."""
    words = selection.replace("{", " { ").replace("}", " } ").split()
    return sum(1 for w, after in zip(words, words[1:] + [""]) if w not in "{}" and after != "{")


class MemoryContext(RequestContext):
    """Resolvers' database reads answered from memory: the framework's floor.

    The page's read (customers plus the plugin fields loaded with them) runs
    against the database on the warm-up request and is replayed from memory
    after; so is each DataLoader batch.
    """

    page_read = None  # the result of the root field's one read
    loaded: dict = {}  # loader key -> {item: value}

    @classmethod
    def forget(cls) -> None:
        cls.page_read, cls.loaded = None, {}

    async def read(self, fn):
        if MemoryContext.page_read is None:
            MemoryContext.page_read = await super().read(fn)
        return MemoryContext.page_read

    def loader(self, key, batch):
        loader = self._loaders.get(key)
        if loader is None:

            async def load(keys):
                found = MemoryContext.loaded.get(key)
                if found is None or any(k not in found for k in keys):
                    with self.gx.tenant_session(self.tenant_id) as session:
                        found = MemoryContext.loaded[key] = batch(session, list(keys))
                return [found.get(k) for k in keys]

            loader = self._loaders[key] = SharedLoader(load_fn=load)
        return loader


async def timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def throughput(call, clients: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def client():
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - started)


async def run(gx: Guanxi, key: str, requests: int, seconds: float) -> dict:
    app = create_app(gx)
    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        tenant, modules = ctx.tenant, ctx.enabled_modules
    schema = app.state.schemas.for_modules(modules)
    principal = Principal(0, Role.ADMIN, tenant, modules)
    out = {"bench": "api", "customers_per_page": 100}
    for label, core_fields in (("", LIST_FIELDS), ("all_fields", CORE_FIELDS)):
        shape = await measure(app, gx, schema, principal, key, customer_fields(schema, core_fields), requests, seconds)
        if label:
            out[label] = shape
        else:
            out.update(shape)
    list_page = "{ customers(first: 100) { totalCount edges { cursor node { %s } } } }" % customer_fields(schema, LIST_FIELDS)
    out.update(await scoping_overhead(gx, key, list_page))
    out.update(await metrics_overhead(gx, key, list_page))
    out.update(await rate_limit_overhead(gx, key, list_page))
    out["database"] = gx.engine.dialect.name
    out["cpu"] = cpu_model()
    return out


async def rate_limit_overhead(gx: Guanxi, key: str, query: str) -> dict:
    """The p50 of the list page with every request counted against the key's
    rate limit (the run's store: the database, or Redis with GUANXI_REDIS_URL)
    against an app with counting off, interleaved, minus 1."""
    counted = Guanxi(settings=gx.settings.model_copy(update={"rate_limits": COUNTED_NEVER_REFUSED}), plugins=gx.plugins)
    uncounted = Guanxi(settings=gx.settings.model_copy(update={"rate_limits": "admin=0"}), plugins=gx.plugins)
    apps = (create_app(counted), create_app(uncounted))
    try:
        out = await interleaved_overhead("rate_limit", *apps, key, query)
    finally:
        for engine, app in zip((counted, uncounted), apps):
            app.state.rate_limits.close()
            engine.engine.dispose()
    return {**out, "rate_limit_store": "redis" if gx.settings.redis_url else "database"}


async def scoping_overhead(gx: Guanxi, key: str, query: str) -> dict:
    """The p50 of the list page with tenant scoping on against the same engine
    with it off (plain sessions; on PostgreSQL the login role, so no
    row-level security), in interleaved rounds, minus 1."""
    unscoped = Guanxi(settings=gx.settings, plugins=gx.plugins, tenant_scoping=False)
    try:
        return await interleaved_overhead("scoping", create_app(gx), create_app(unscoped), key, query)
    finally:
        unscoped.engine.dispose()


async def metrics_overhead(gx: Guanxi, key: str, query: str) -> dict:
    """The p50 of the list page with Prometheus metrics on (the default)
    against an app whose settings turn them off (GUANXI_METRICS=false),
    interleaved, minus 1."""
    without = Guanxi(settings=gx.settings.model_copy(update={"metrics": False}), plugins=gx.plugins)
    try:
        return await interleaved_overhead("metrics", create_app(gx), create_app(without), key, query)
    finally:
        without.engine.dispose()


async def interleaved_overhead(name: str, on_app, off_app, key: str, query: str, rounds: int = 9, per_round: int = 30) -> dict:
    """``{name}_overhead``: the median p50 of ``on_app`` over ``off_app``'s,
    minus 1, from rounds that alternate which goes first; its spread over the rounds."""
    apps = {True: on_app, False: off_app}
    p50s: dict[bool, list[float]] = {True: [], False: []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[True]), base_url="http://bench") as on, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[False]), base_url="http://bench") as off:
        clients = {True: on, False: off}

        def request(which: bool):
            async def call():
                response = await clients[which].post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"})
                assert response.status_code == 200 and "errors" not in response.json(), response.text[:500]
            return call

        for which in (True, False):
            await timed(request(which), 5)  # warm-up
        for round_ in range(rounds):
            for which in ((True, False) if round_ % 2 == 0 else (False, True)):
                p50s[which].append(statistics.median(await timed(request(which), per_round)))
    per_round_overhead = sorted(on / off - 1 for on, off in zip(p50s[True], p50s[False]))
    return {
        f"{name}_overhead": round(statistics.median(p50s[True]) / statistics.median(p50s[False]) - 1, 3),
        f"{name}_overhead_spread": [round(per_round_overhead[0], 3), round(per_round_overhead[-1], 3)],
        f"{name}_p50_ms": {"on": round(statistics.median(p50s[True]), 2), "off": round(statistics.median(p50s[False]), 2)},
    }


async def measure(app, gx: Guanxi, schema, principal: Principal, key: str, selection: str, requests: int,
                  seconds: float) -> dict:
    query = "{ customers(first: 100) { totalCount edges { cursor node { %s } } } }" % selection
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def real():
            response = await client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200 and "errors" not in response.json(), response.text[:500]

        await real()  # warm-up
        freeze_startup_objects()  # what the app's lifespan does under uvicorn (httpx's transport skips it)
        statements = []
        listener = lambda *args: statements.append(1)  # noqa: E731
        event.listen(gx.engine, "before_cursor_execute", listener)
        await real()
        event.remove(gx.engine, "before_cursor_execute", listener)
        latencies = await timed(real, requests)
        real_rps = await throughput(real, 16, seconds)

    # The floor: same schema and query, the page already in memory.
    MemoryContext.forget()

    async def floor():
        result = await schema.execute(query, context_value=MemoryContext(gx, principal, app.state.cursors))
        assert not result.errors, result.errors

    await floor()
    floor_rps = await throughput(floor, 16, seconds)
    latencies.sort()
    return {
        "fields_per_customer": count_fields(selection),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "requests_per_s": round(real_rps, 1),
        "floor_requests_per_s": round(floor_rps, 1),
        "ratio_vs_floor": round(real_rps / floor_rps, 3),
        "sql_statements_per_request": len(statements),
    }


# One key drives the whole bench: counted like any key, with a rate it never reaches.
COUNTED_NEVER_REFUSED = "admin=100000000"


def build_demo(url: str, customers: int) -> str:
    """The demo tenant in ``url``; its admin key (runs in a child process)."""
    gx = Guanxi(settings=Settings(database_url=url))
    gx.upgrade()
    return generate_demo(gx, customers=customers).admin_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests for p50/p99")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each throughput run (shorter runs vary by 20%%)")
    parser.add_argument("--rate-limits", default=COUNTED_NEVER_REFUSED,
                        help="GUANXI_RATE_LIMITS for the run: by default every request is counted (in the database, "
                             "or Redis with GUANXI_REDIS_URL) but the bench's one key is never refused; admin=0 turns counting off")
    args = parser.parse_args()
    import os

    url = os.environ.get("GUANXI_DATABASE_URL") or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-api.db'}"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        key = pool.submit(build_demo, url, args.customers).result()
    gx = Guanxi(settings=Settings(database_url=url, rate_limits=args.rate_limits,
                                  redis_url=os.environ.get("GUANXI_REDIS_URL") or None))
    out = asyncio.run(run(gx, key, args.requests, args.seconds))
    out["rate_limits"] = args.rate_limits
    print(json.dumps(out))


if __name__ == "__main__":
    main()
