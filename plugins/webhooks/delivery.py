"""The delivery loop: sends due deliveries, records what happened.

One round, for every tenant with the module on (engine's system session,
like the job leases in engine/job_leases.py):

1. **Claim** up to ``batch_size`` due deliveries in id order: pending ones
   whose ``next_attempt_at`` has come, and ``delivering`` ones whose lease
   ran out (their worker died). A delivery is skipped while an earlier
   delivery of the same customer to the same endpoint is unfinished, which
   keeps each customer's events in order per endpoint. On PostgreSQL the
   rows are taken with ``FOR UPDATE SKIP LOCKED`` (workers never wait on each
   other's claims); SQLite's write transactions run one at a time already.
   Claimed rows become ``delivering`` under this worker's lease, their
   attempt counted, and the claim commits before anything is sent.
2. **Send** them, ``in_flight`` at a time over pooled connections (httpx),
   each signed (plugins/webhooks/signing.py) with the tenant's timeout.
3. **Record** each outcome where this worker still holds the lease: a 2xx is
   delivered; anything else (an error status, a timeout, a refused
   connection) is due again after a random wait in
   ``[0, min(max, base * 2^(attempt-1))]`` (exponential backoff, full jitter),
   or dead after ``max_attempts``.

At-least-once: a worker killed between sending and recording leaves its
claims ``delivering``; when their lease runs out another worker sends them
again with the same ``webhook-id``, which the receiver deduplicates on. Two
live workers never hold the same delivery.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson
import sqlalchemy as sa

from api.ids import to_global_id
from engine.models import Tenant, TenantModule
from engine.types import utcnow
from engine.worker import new_worker_id
from plugins.webhooks import signing
from plugins.webhooks.endpoints import signing_keys
from plugins.webhooks.models import DEAD, DELIVERED, DELIVERING, PENDING, WebhookDelivery, WebhookEndpoint, WebhookEvent
from plugins.webhooks.settings import WebhooksSettings
from plugins.webhooks.urls import refusal

log = logging.getLogger("guanxi.webhooks")

DELIVERIES = WebhookDelivery.__table__
EVENTS = WebhookEvent.__table__
ENDPOINTS = WebhookEndpoint.__table__
MODULES = TenantModule.__table__
USER_AGENT = "Guanxi-Webhooks/1"
MAX_ERROR = 500


@dataclass
class Attempt:
    delivery_id: int
    tenant_id: int
    attempts: int  # including this one
    url: str
    event_id: str
    body: bytes
    keys: list[bytes]
    settings: WebhooksSettings
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class RoundReport:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def add(self, other: "RoundReport") -> None:
        for name in ("claimed", "delivered", "retried", "dead"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in ("claimed", "delivered", "retried", "dead")}


def backoff_seconds(settings: WebhooksSettings, attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(max, base * 2^(attempts-1))]."""
    ceiling = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** min(attempts - 1, 30))
    return rng() * ceiling


def _postgres(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@dataclass
class Deliverer:
    gx: object
    worker_id: str = field(default_factory=lambda: new_worker_id("webhooks"))
    batch_size: int = 200
    in_flight: int = 32
    lease_seconds: float = 120.0
    tenants: Iterable[int] | None = None  # tenant ids; None = all
    clock: Callable[[], datetime] = utcnow
    rng: Callable[[], float] = random.random
    _keys: dict = field(default_factory=dict, repr=False)
    _slugs: dict = field(default_factory=dict, repr=False)

    # -- 1. claim -------------------------------------------------------------------------
    def _due(self, now: datetime):
        earlier = DELIVERIES.alias("earlier")
        unfinished_before = sa.exists().where(
            earlier.c.endpoint_id == DELIVERIES.c.endpoint_id, earlier.c.customer_id == DELIVERIES.c.customer_id,
            earlier.c.status.in_((PENDING, DELIVERING)), earlier.c.id < DELIVERIES.c.id)
        enabled_tenants = sa.select(MODULES.c.tenant_id).where(MODULES.c.module == "webhooks", MODULES.c.enabled.is_(True))
        query = (
            sa.select(DELIVERIES.c.id)
            .join(ENDPOINTS, ENDPOINTS.c.id == DELIVERIES.c.endpoint_id)
            .where(DELIVERIES.c.status.in_((PENDING, DELIVERING)),
                   sa.or_(sa.and_(DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= now),
                          sa.and_(DELIVERIES.c.status == DELIVERING, DELIVERIES.c.leased_until < now)),
                   ENDPOINTS.c.enabled.is_(True), DELIVERIES.c.tenant_id.in_(enabled_tenants), ~unfinished_before)
            .order_by(DELIVERIES.c.id).limit(self.batch_size)
        )
        if self.tenants is not None:
            query = query.where(DELIVERIES.c.tenant_id.in_(list(self.tenants)))
        return query

    def claim(self) -> list[Attempt]:
        now = self.clock()
        with self.gx.system() as session:
            query = self._due(now)
            if _postgres(session):
                query = query.with_for_update(skip_locked=True, of=DELIVERIES)
            ids = session.execute(query).scalars().all()
            if not ids:
                return []
            settings = self._settings(session, ids)
            # The lease must outlive the round's sends: in_flight at a time, each ending within its timeout.
            waves = -(-len(ids) // self.in_flight)
            lease = max([self.lease_seconds] + [waves * s.timeout_seconds + 5 for s in settings.values()])
            session.execute(
                sa.update(DELIVERIES).where(DELIVERIES.c.id.in_(ids))
                .values(status=DELIVERING, leased_until=now + timedelta(seconds=lease), leased_by=self.worker_id,
                        attempts=DELIVERIES.c.attempts + 1, last_attempt_at=now)
            )
            rows = session.execute(
                sa.select(DELIVERIES.c.id, DELIVERIES.c.tenant_id, DELIVERIES.c.attempts, DELIVERIES.c.endpoint_id,
                          EVENTS.c.event_id, EVENTS.c.type, EVENTS.c.customer_id, EVENTS.c.data, EVENTS.c.occurred_at)
                .join(EVENTS, sa.and_(EVENTS.c.tenant_id == DELIVERIES.c.tenant_id, EVENTS.c.event_id == DELIVERIES.c.event_id))
                .where(DELIVERIES.c.id.in_(ids)).order_by(DELIVERIES.c.id)
            ).all()
            endpoints = {e.id: e for e in session.execute(
                sa.select(ENDPOINTS).where(ENDPOINTS.c.id.in_({r.endpoint_id for r in rows}))).all()}
            slugs = self._tenant_slugs(session, {r.tenant_id for r in rows})
        attempts = []
        for row in rows:
            endpoint = endpoints[row.endpoint_id]
            body = orjson.dumps({
                "id": row.event_id, "type": row.type, "timestamp": row.occurred_at.isoformat(), "tenant": slugs[row.tenant_id],
                "customerId": None if row.customer_id is None else to_global_id("Customer", row.customer_id),
                "data": row.data,
            })
            attempts.append(Attempt(row.id, row.tenant_id, row.attempts, endpoint.url, row.event_id, body,
                                    self._signing_keys(endpoint, now), settings[row.tenant_id]))
        return attempts

    def _settings(self, session, ids) -> dict[int, WebhooksSettings]:
        tenant_ids = sa.select(DELIVERIES.c.tenant_id).where(DELIVERIES.c.id.in_(ids)).distinct()
        rows = session.execute(sa.select(MODULES.c.tenant_id, MODULES.c.settings)
                               .where(MODULES.c.module == "webhooks", MODULES.c.tenant_id.in_(tenant_ids))).all()
        return {tenant_id: WebhooksSettings.model_validate(values or {}) for tenant_id, values in rows}

    def _tenant_slugs(self, session, tenant_ids: set[int]) -> dict[int, str]:
        missing = tenant_ids - self._slugs.keys()
        if missing:
            self._slugs.update(session.execute(sa.select(Tenant.id, Tenant.slug).where(Tenant.id.in_(missing))).all())
        return self._slugs

    def _signing_keys(self, endpoint, now: datetime) -> list[bytes]:
        # Decrypting is cheap but not free: keep each endpoint's keys until it changes.
        cache_key = (endpoint.id, endpoint.updated_at, endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now)
        keys = self._keys.get(cache_key)
        if keys is None:
            keys = self._keys[cache_key] = signing_keys(self.gx.settings, endpoint, now)
        return keys

    # -- 2. send ---------------------------------------------------------------------------
    async def send(self, client: httpx.AsyncClient, attempts: list[Attempt]) -> None:
        gate = asyncio.Semaphore(self.in_flight)
        allowed = self.gx.settings.webhooks_allowed_hosts

        async def one(attempt: Attempt) -> None:
            async with gate:
                refused = refusal(attempt.url, allowed)
                if refused:
                    attempt.error = f"refused: {refused}"
                    return
                timestamp = int(time.time())
                headers = signing.headers(attempt.keys, attempt.event_id, timestamp, attempt.body)
                headers["user-agent"] = USER_AGENT
                try:
                    response = await client.post(attempt.url, content=attempt.body, headers=headers,
                                                 timeout=attempt.settings.timeout_seconds)
                    attempt.status_code = response.status_code
                    if not attempt.ok:
                        attempt.error = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.TimeoutException:
                    attempt.error = f"timed out after {attempt.settings.timeout_seconds:g} s"
                except httpx.HTTPError as error:
                    attempt.error = f"{type(error).__name__}: {error}"[:MAX_ERROR]

        await asyncio.gather(*(one(a) for a in attempts))

    # -- 3. record -------------------------------------------------------------------------
    def record(self, attempts: list[Attempt]) -> RoundReport:
        report = RoundReport(claimed=len(attempts))
        now = self.clock()
        done, retry, dead = [], [], []
        for a in attempts:
            if a.ok:
                done.append({"b_id": a.delivery_id, "b_code": a.status_code})
            elif a.attempts >= a.settings.max_attempts:
                dead.append({"b_id": a.delivery_id, "b_code": a.status_code, "b_error": (a.error or "")[:MAX_ERROR]})
            else:
                wait = backoff_seconds(a.settings, a.attempts, self.rng)
                retry.append({"b_id": a.delivery_id, "b_code": a.status_code, "b_error": (a.error or "")[:MAX_ERROR],
                              "b_next": now + timedelta(seconds=wait)})
        mine = [DELIVERIES.c.id == sa.bindparam("b_id"), DELIVERIES.c.leased_by == self.worker_id,
                DELIVERIES.c.status == DELIVERING]
        cleared = {"leased_until": None, "leased_by": None, "last_status_code": sa.bindparam("b_code")}
        with self.gx.system() as session:
            for rows, values in (
                (done, {"status": DELIVERED, "delivered_at": now, "last_error": None}),
                (dead, {"status": DEAD, "last_error": sa.bindparam("b_error")}),
                (retry, {"status": PENDING, "last_error": sa.bindparam("b_error"), "next_attempt_at": sa.bindparam("b_next")}),
            ):
                if rows:
                    session.execute(sa.update(DELIVERIES).where(*mine).values(**cleared, **values), rows,
                                             execution_options={"synchronize_session": False})
        report.delivered, report.dead, report.retried = len(done), len(dead), len(retry)
        return report

    # -- loops ---------------------------------------------------------------------------
    def client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.in_flight, max_keepalive_connections=self.in_flight)
        return httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False)

    async def run_async(self, stop: threading.Event | None = None, poll_seconds: float = 1.0,
                        once: bool = False) -> RoundReport:
        """Rounds overlap: while one round's requests are in flight the next
        round is claimed, and the previous one recorded, in threads (each in
        its own transaction), so the database and the network work at once."""
        total = RoundReport()
        recording = None

        def stopping() -> bool:
            return bool(stop and stop.is_set())

        async with self.client() as client:
            attempts = await asyncio.to_thread(self.claim)
            while True:
                if attempts:
                    claiming = None if stopping() else asyncio.ensure_future(asyncio.to_thread(self.claim))
                    await self.send(client, attempts)
                    if recording is not None:
                        total.add(await recording)
                    recording = asyncio.ensure_future(asyncio.to_thread(self.record, attempts))
                    attempts = await claiming if claiming is not None else []
                    continue
                if recording is not None:
                    total.add(await recording)
                    recording = None
                    if not stopping():  # what was just recorded may let a customer's next event go
                        attempts = await asyncio.to_thread(self.claim)
                    continue
                if once or stopping():
                    break
                await asyncio.sleep(poll_seconds)
                attempts = await asyncio.to_thread(self.claim)
        return total

    def run_once(self) -> RoundReport:
        """Deliver everything due now (retries that come due meanwhile included), then return."""
        return asyncio.run(self.run_async(once=True))

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> RoundReport:
        log.info("webhook delivery started", extra={"fields": {"worker": self.worker_id}})
        return asyncio.run(self.run_async(stop, poll_seconds))


def start_in_thread(gx, stop: threading.Event, **options) -> threading.Thread:
    """The loop in a daemon thread beside ``guanxi worker``'s jobs."""
    deliverer = Deliverer(gx, **options)
    thread = threading.Thread(target=deliverer.run_forever, args=(stop,), name="webhooks-delivery", daemon=True)
    thread.start()
    return thread

