"""Expiry watermark edge cases, and the `guanxi loyalty` CLI commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.services.modules import configure
from engine.types import utcnow
from plugins.loyalty import service
from plugins.loyalty.jobs import expire_points


def _setup(gx, tenant, expiry_days=30):
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "loyalty", {"points_expiry_days": expiry_days})
        return create_customer(ctx, {"name": "x"}).id


def _buy(gx, tenant, cid, amount, at):
    with gx.tenant(tenant) as ctx:
        return record_interaction(ctx, {"customer_id": cid, "kind": "PURCHASE", "amount": amount, "occurred_at": at})[0].id


def _balance(gx, tenant, cid):
    with gx.tenant(tenant, write=False) as ctx:
        return service.get_member(ctx, cid).balance


def test_a_lot_behind_the_watermark_expires_at_once(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _setup(gx, tenant)
    now = utcnow()
    _buy(gx, tenant, cid, "100", now - timedelta(days=1))
    with gx.tenant(tenant) as ctx:
        assert expire_points(ctx, as_of=now)["points"] == 0  # sets the watermark
    _buy(gx, tenant, cid, "70", now - timedelta(days=45))  # back-dated: its lot expired 15 days ago
    assert _balance(gx, tenant, cid) == 100
    with gx.tenant(tenant) as ctx:
        assert expire_points(ctx, as_of=now + timedelta(seconds=1))["points"] == 0  # not taken twice
    assert _balance(gx, tenant, cid) == 100


def test_refund_after_expiry_does_not_take_the_expired_points_twice(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _setup(gx, tenant)
    now = utcnow()
    pid = _buy(gx, tenant, cid, "100", now - timedelta(days=40))
    _buy(gx, tenant, cid, "50", now - timedelta(days=2))
    with gx.tenant(tenant) as ctx:
        assert expire_points(ctx, as_of=now)["points"] == 100
    with gx.tenant(tenant) as ctx:
        record_interaction(ctx, {"kind": "REFUND", "amount": "100", "occurred_at": now, "reverses_id": pid})
    assert _balance(gx, tenant, cid) == 50  # the 100 expired already: nothing more is taken


def test_expiry_and_refund_in_either_order_take_the_same(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _setup(gx, tenant)
    now = utcnow()
    pid = _buy(gx, tenant, cid, "100", now - timedelta(days=40))
    _buy(gx, tenant, cid, "50", now - timedelta(days=2))
    with gx.tenant(tenant) as ctx:
        record_interaction(ctx, {"kind": "REFUND", "amount": "100", "occurred_at": now, "reverses_id": pid})
    with gx.tenant(tenant) as ctx:
        expire_points(ctx, as_of=now)
    assert _balance(gx, tenant, cid) == 50


def test_suspended_members_do_not_earn(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _setup(gx, tenant, 365)
    _buy(gx, tenant, cid, "10", utcnow() - timedelta(days=1))
    with gx.tenant(tenant) as ctx:
        service.set_status(ctx, cid, "SUSPENDED")
    _buy(gx, tenant, cid, "100", utcnow() - timedelta(hours=1))
    assert _balance(gx, tenant, cid) == 10
    with gx.tenant(tenant) as ctx, pytest.raises(service.ValidationFailed) as err:
        service.redeem_points(ctx, cid, 5, "100")
    assert err.value.errors[0].code == "MEMBER_INACTIVE"


def test_cli_runs_the_jobs_with_a_progress_bar(database_url, tmp_path, monkeypatch):
    if not database_url.startswith("sqlite"):
        pytest.skip("the CLI is backend-independent; run once")
    monkeypatch.setenv("GUANXI_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    for args in (["init"], ["tenant", "create", "acme", "--name", "Acme"], ["tenant", "create", "plain", "--name", "P"],
                 ["module", "enable", "loyalty", "--tenant", "acme"]):
        assert runner.invoke(app, args).exit_code == 0
    out = runner.invoke(app, ["loyalty", "expire", "--tenant", "acme"])
    assert out.exit_code == 0 and "points: 0" in out.output, out.output
    out = runner.invoke(app, ["loyalty", "evaluate-tiers", "--tenant", "acme", "--as-of", "2026-01-01T00:00:00Z"])
    assert out.exit_code == 0 and "members: 0" in out.output, out.output
    refused = runner.invoke(app, ["loyalty", "expire", "--tenant", "plain"])
    assert refused.exit_code == 1 and "module" in refused.output
