"""kill -9 of a delivering worker process, then a restart: nothing lost, and
what was sent twice is absorbed by the receiver's deduplication on webhook-id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from engine.events import DomainEvent, emit
from engine.types import utcnow
from plugins.webhooks.models import WebhookDelivery
from plugins.webhooks.urls import ALLOWED_HOSTS_VARIABLE

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 1500


def _deliver(database_url: str, slug: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, GUANXI_DATABASE_URL=database_url, PYTHONPATH=str(ROOT), **{ALLOWED_HOSTS_VARIABLE: "127.0.0.1"})
    command = [sys.executable, "-c", "from engine.cli import app; app()", "webhooks", "deliver", "--tenant", slug,
               "--batch", "25", "--lease-seconds", "1", "--poll-seconds", "0.1", *extra]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_worker_killed_mid_run_loses_nothing(gx, database_url, hooked, receiver):
    slug, tenant_id, _ = hooked(settings={"timeout_seconds": 0.5})
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"n": n}, customer_id=n % 97) for n in range(EVENTS)])
    worker = _deliver(database_url, slug)
    deadline = time.monotonic() + 60
    while receiver.requests < 200 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.002)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    at_kill = len(receiver.event_ids())
    assert 0 < at_kill < EVENTS, "the worker was not killed mid-run"
    with gx.tenant(slug, write=False) as ctx:
        stranded, lease_end = ctx.session.execute(
            sa.select(sa.func.count(), sa.func.max(WebhookDelivery.leased_until))
            .where(WebhookDelivery.status == "delivering")).one()
    # The dead worker's leases run out: each outlives its round's sends (the
    # endpoint's timeout plus 5 s), whatever --lease-seconds says.
    if lease_end is not None:
        time.sleep(max(0.0, (lease_end - utcnow()).total_seconds()) + 0.2)
    again = _deliver(database_url, slug, "--once")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    ids = receiver.event_ids()
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS  # none lost, each processed once
    assert sorted(e["data"]["n"] for e in receiver.processed) == list(range(EVENTS))
    assert receiver.redelivered <= stranded  # only what the killed worker held can come twice
    with gx.tenant(slug, write=False) as ctx:
        statuses = set(ctx.session.execute(sa.select(WebhookDelivery.status)).scalars())
    assert statuses == {"delivered"}


def test_guanxi_worker_delivers_webhooks_with_its_flag(gx, database_url, hooked, receiver):
    slug, tenant_id, _ = hooked()
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"n": n}, customer_id=1) for n in range(3)])
    env = dict(os.environ, GUANXI_DATABASE_URL=database_url, PYTHONPATH=str(ROOT), **{ALLOWED_HOSTS_VARIABLE: "127.0.0.1"})
    worker = subprocess.Popen([sys.executable, "-c", "from engine.cli import app; app()", "worker", "--webhooks",
                               "--tenant", slug, "--poll-seconds", "0.5"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(receiver.processed) < 3 and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    assert [e["data"]["n"] for e in receiver.processed] == [0, 1, 2]
