"""A points-expiry job killed with SIGKILL halfway and run again ends with the
balances and ledger of a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from plugins.loyalty.jobs import expire_points
from plugins.loyalty.models import LoyaltyLedgerEntry, LoyaltyMember

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _history(gx, tenant: str) -> None:
    """Members whose points, earned two years ago, have all expired by AS_OF."""
    with gx.tenant(tenant) as ctx:
        items = []
        for c in range(60):
            cid = create_customer(ctx, {"name": f"member {c}"}).id
            items += [{"customer_id": cid, "kind": "PURCHASE", "amount": f"{10 + c % 7}.00",
                       "occurred_at": AS_OF - timedelta(days=800 - 5 * p - c % 3), "external_id": f"o-{c}-{p}"}
                      for p in range(20)]
        record_interactions(ctx, items)


def _state(gx, tenant: str):
    with gx.tenant(tenant, write=False) as ctx:
        balances = ctx.session.execute(
            sa.select(LoyaltyMember.balance).where(LoyaltyMember.tenant_id == ctx.tenant_id).order_by(LoyaltyMember.id)
        ).scalars().all()
        ledger = ctx.session.execute(
            sa.select(LoyaltyLedgerEntry.kind, sa.func.count(), sa.func.sum(LoyaltyLedgerEntry.points))
            .where(LoyaltyLedgerEntry.tenant_id == ctx.tenant_id).group_by(LoyaltyLedgerEntry.kind).order_by(LoyaltyLedgerEntry.kind)
        ).all()
    return list(balances), [tuple(e) for e in ledger]


def test_an_expiry_job_killed_with_sigkill_ends_like_an_uninterrupted_one(gx, make_tenant, database_url):
    killed, clean = make_tenant(modules=("loyalty",)), make_tenant(modules=("loyalty",))
    _history(gx, killed)
    _history(gx, clean)
    before = _state(gx, killed)

    env = dict(os.environ, GUANXI_DATABASE_URL=database_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "loyalty", "expire", "--tenant", killed, "--as-of", AS_OF.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(2.0)  # start-up, then inside the job's transaction or just before it
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    after_kill = _state(gx, killed)
    with gx.tenant(clean) as ctx:
        expire_points(ctx, as_of=AS_OF)
    expected = _state(gx, clean)
    assert after_kill in (before, expected)  # nothing half-written

    with gx.tenant(killed) as ctx:
        expire_points(ctx, as_of=AS_OF)
    with gx.tenant(killed) as ctx:
        expire_points(ctx, as_of=AS_OF)  # and a second run changes nothing
    assert _state(gx, killed) == expected
    assert len(expected[0]) == 60 and all(balance == 0 for balance in expected[0])  # everything earned two years ago has expired
