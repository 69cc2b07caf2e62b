"""``guanxi webhooks ...`` end to end on a database of its own, and two loops at once."""

from __future__ import annotations

import json
import threading

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.events import DomainEvent, emit
from tests.plugins.webhooks.conftest import deliverer


def test_the_cli_adds_lists_rotates_delivers_and_replays(database_url, tmp_path, monkeypatch, receiver):
    if not database_url.startswith("sqlite"):
        pytest.skip("the CLI is backend-independent; run once")
    monkeypatch.setenv("GUANXI_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GUANXI_WEBHOOKS_ALLOWED_HOSTS", "127.0.0.1")
    runner = CliRunner()
    for args in (["init"], ["tenant", "create", "acme", "--name", "Acme"], ["tenant", "create", "plain", "--name", "P"],
                 ["module", "enable", "webhooks", "--tenant", "acme"]):
        assert runner.invoke(app, args).exit_code == 0
    added = runner.invoke(app, ["webhooks", "add", receiver.url + "/flaky/1", "--tenant", "acme", "--event", "customer.*"])
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    bad = runner.invoke(app, ["webhooks", "add", "ftp://x.example.com", "--tenant", "acme"])
    assert bad.exit_code == 1 and "url" in bad.output
    assert runner.invoke(app, ["webhooks", "list", "--tenant", "plain"]).exit_code == 1  # module off there
    assert runner.invoke(app, ["module", "configure", "webhooks", "--tenant", "acme", "--set", "max_attempts=1"]).exit_code == 0
    from engine.runtime import Guanxi
    from engine.services.customers import create_customer

    gx = Guanxi()
    with gx.tenant("acme") as ctx:
        create_customer(ctx, {"code": "C2"})
    first = runner.invoke(app, ["webhooks", "deliver", "--once", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["dead"] >= 1  # /flaky/1 fails once and max_attempts is 1
    dead = json.loads(runner.invoke(app, ["webhooks", "deliveries", "--tenant", "acme", "--status", "dead", "--json"]).stdout)
    assert dead and all(d["status"] == "dead" and d["last_status_code"] == 500 for d in dead)
    replayed = runner.invoke(app, ["webhooks", "replay", "1", "--tenant", "acme"])
    assert replayed.exit_code == 0 and f"{len(dead)} replayed" in replayed.stdout
    assert json.loads(runner.invoke(app, ["webhooks", "deliver", "--once", "--json"]).stdout)["delivered"] == len(dead)
    listed = json.loads(runner.invoke(app, ["webhooks", "list", "--tenant", "acme", "--json"]).stdout)
    assert listed[0]["deliveries"]["delivered"] == len(dead) and listed[0]["deliveries"]["dead"] == 0
    rotated = runner.invoke(app, ["webhooks", "rotate", "1", "--tenant", "acme"])
    assert rotated.exit_code == 0 and rotated.stdout.strip().startswith("whsec_") and rotated.stdout.strip() != secret
    assert runner.invoke(app, ["webhooks", "disable", "1", "--tenant", "acme"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["webhooks", "list", "--tenant", "acme", "--json"]).stdout)[0]["enabled"] is False
    assert runner.invoke(app, ["webhooks", "delete", "1", "--tenant", "acme"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["webhooks", "list", "--tenant", "acme", "--json"]).stdout) == []
    gx.engine.dispose()


def test_two_loops_at_once_send_each_delivery_once(gx, hooked, receiver):
    slug, tenant_id, _ = hooked()
    with gx.tenant(slug) as ctx:
        emit(ctx, [DomainEvent("campaign.message", {"n": n}, customer_id=n % 40) for n in range(400)])
    loops = [deliverer(gx, tenant_id, batch_size=25, in_flight=8) for _ in range(2)]
    threads = [threading.Thread(target=loop.run_once) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(receiver.processed) == 400 and receiver.requests == 400 and receiver.redelivered == 0
