"""The ``guanxi`` command's contract with operators and their scripts
(docs/operations.md, "CLI"): --version, help on every option and argument,
exit status 0 ok / 1 refused / 2 usage, results and secrets alone on stdout,
progress and messages on stderr, --json on read commands, key list/revoke,
module configure, and a --help that does not load the engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from engine import cli
from engine.testing import GraphQLClient

ROOT = Path(__file__).resolve().parents[1]
ME = "{ me { role { code } } }"


@pytest.fixture
def guanxi(monkeypatch, database_url):
    """``guanxi(*args)``: the CLI on the test database; the result has .stdout and .stderr apart."""
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.app, [str(a) for a in args])


def _child(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


# -- help and version --------------------------------------------------------------------


def test_version_prints_the_installed_version():
    result = _child("-m", "engine.cli", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"guanxi {version('guanxi')}"


HEAVY = ("numba", "numpy", "scipy", "sqlalchemy", "sqlmodel", "strawberry", "starlette", "uvicorn", "pydantic",
         "engine.runtime", "engine.plugins.manager", "api.app", "plugins.rfm.plugin", "plugins.clv.service")


def test_help_lists_the_plugins_commands_without_loading_the_engine_or_the_plugins():
    probe = ("import sys; sys.argv = ['guanxi', '--help']\n"
             "from engine.cli import app\n"
             "try:\n    app()\nexcept SystemExit:\n    pass\n"
             f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = _child("-c", probe)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout[-500:]
    commands = result.stdout.split("Commands:")[1]
    for name in ("tenant", "key", "module", "jobs", "serve", "clv", "loyalty", "complaints"):
        assert re.search(rf"^\s+{name}\s", commands, re.M), f"{name} missing from guanxi --help"


def _commands(group, ctx, path=()):
    """Every (path, command) under ``group``, plugin groups included."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join((*path, name))} is listed but cannot be loaded"
        yield (*path, name), command
        if hasattr(command, "list_commands"):
            yield from _commands(command, ctx, (*path, name))


ODD_LABEL = re.compile(r"<\w+>|\b(TEXT|INTEGER|FLOAT|BOOLEAN|RANGE)\b")


def test_every_option_and_argument_of_every_command_has_help_and_a_plain_metavar():
    root = typer.main.get_command(cli.app)
    ctx = typer.Context(root)
    missing, odd, seen = [], [], 0
    for path, command in _commands(root, ctx):
        assert (command.help or command.short_help or "").strip(), f"guanxi {' '.join(path)} has no help"
        command_ctx = typer.Context(command, info_name=path[-1], parent=ctx)
        for param in command.params:
            if param.name == "help":
                continue
            seen += 1
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"guanxi {' '.join(path)} {param.opts[0] if param.opts else param.name}")
            record = param.get_help_record(command_ctx)
            label = record[0] if record else ""
            if ODD_LABEL.search(label):
                odd.append(f"guanxi {' '.join(path)}: {label}")
        usage = " ".join(command.collect_usage_pieces(command_ctx))
        if ODD_LABEL.search(usage):
            odd.append(f"guanxi {' '.join(path)} usage: {usage}")
    assert seen > 80  # the walk reached the plugins' commands too
    assert missing == [], "options and arguments without help:\n" + "\n".join(missing)
    assert odd == [], "type labels instead of metavars:\n" + "\n".join(odd)


# -- exit status and streams -------------------------------------------------------------


def test_exit_status_is_0_ok_1_refused_2_usage(guanxi, make_tenant):
    tenant = make_tenant(modules=("rfm",))
    assert guanxi("module", "list", "--tenant", tenant).exit_code == 0
    refused = guanxi("module", "list", "--tenant", "no-such-tenant")
    assert refused.exit_code == 1 and "no-such-tenant" in refused.stderr and refused.stdout == ""
    assert guanxi("module", "enable", "crystal-ball", "--tenant", tenant).exit_code == 1
    usage = guanxi("module", "list", "--tenant", tenant, "--colour")
    assert usage.exit_code == 2 and "--colour" in usage.stderr and usage.stdout == ""
    assert guanxi("module", "list").exit_code == 2  # --tenant is required
    no_change = guanxi("jobs", "schedule", "--tenant", tenant, "--job", "rfm.rescore")
    assert no_change.exit_code == 2 and "say what to change" in no_change.stderr
    bad_date = guanxi("loyalty", "expire", "--tenant", tenant, "--as-of", "yesterday")
    assert bad_date.exit_code == 2 and "--as-of" in bad_date.stderr


def test_progress_goes_to_stderr_and_the_result_to_stdout(guanxi, gx, make_tenant):
    from datetime import datetime, timedelta, timezone

    from engine.services.customers import create_customer
    from engine.services.interactions import record_interactions

    tenant = make_tenant(modules=("rfm",))
    with gx.tenant(tenant, actor="test") as ctx:
        buyer = create_customer(ctx, {"name": "王芳"})
        record_interactions(ctx, [{"customer_id": buyer.id, "kind": "PURCHASE", "amount": "88.00",
                                   "occurred_at": datetime.now(timezone.utc) - timedelta(days=3)}])
    result = guanxi("score", "--tenant", tenant, "--module", "rfm")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("rfm: 1 customers scored"), result.stdout
    assert "done" in result.stderr and "done" not in result.stdout
    as_json = guanxi("score", "--tenant", tenant, "--module", "rfm", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)[0]["module"] == "rfm"


def test_read_commands_print_json_alone_on_stdout(guanxi, make_tenant):
    tenant = make_tenant(modules=("rfm", "loyalty"))
    tenants = json.loads(guanxi("tenant", "list", "--json").stdout)
    assert tenant in {t["slug"] for t in tenants} and {"id", "name", "currency", "timezone", "locale"} <= set(tenants[0])
    modules = {m["module"]: m for m in json.loads(guanxi("module", "list", "--tenant", tenant, "--json").stdout)}
    assert modules["rfm"]["enabled"] is True and modules["clv"]["enabled"] is False
    jobs = {j["job"]: j for j in json.loads(guanxi("jobs", "list", "--tenant", tenant, "--json").stdout)}
    assert jobs["rfm.rescore"]["last_run"] is None and "complaints.sla_sweep" not in jobs
    assert json.loads(guanxi("jobs", "runs", "--tenant", tenant, "--json").stdout) == []
    guanxi("jobs", "run", "--tenant", tenant, "--job", "rfm.rescore")
    [run] = json.loads(guanxi("jobs", "runs", "--tenant", tenant, "--json").stdout)
    assert run["job"] == "rfm.rescore" and run["trigger"] == "MANUAL" and run["requested_by"] == "cli"
    shown = json.loads(guanxi("jobs", "show", run["id"], "--tenant", tenant, "--json").stdout)
    assert shown["id"] == run["id"] and shown["status"] == run["status"] and "traceback" in shown
    assert f"run: {run['id']}" in guanxi("jobs", "show", run["id"], "--tenant", tenant).stdout
    assert guanxi("jobs", "show", run["id"], "--tenant", make_tenant()).exit_code == 1  # another tenant's run
    assert "rfm.rescore" in {j["job"] for j in json.loads(guanxi("jobs", "list", "--json").stdout)}
    current = json.loads(guanxi("db", "current", "--json").stdout)
    assert current["pending"] == [] and any(r["revision"].startswith("core_") for r in current["current"])
    history = json.loads(guanxi("db", "history", "--json").stdout)
    assert {"revision", "revises", "depends_on", "description"} <= set(history[0])


# -- API keys ----------------------------------------------------------------------------


def test_key_create_prints_the_secret_alone_on_stdout_and_key_list_never_shows_it(guanxi, make_tenant):
    tenant = make_tenant()
    created = guanxi("key", "create", "--tenant", tenant, "--role", "viewer", "--name", "till 3")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert re.fullmatch(r"gx_[\w-]{43}", secret), created.stdout  # nothing else on stdout: KEY=$(guanxi key create ...)
    assert "shown once" in created.stderr and secret not in created.stderr
    listing = guanxi("key", "list", "--tenant", tenant, "--json")
    [key] = json.loads(listing.stdout)
    assert key["name"] == "till 3" and key["role"] == "VIEWER" and key["tenant"] == tenant
    assert key["prefix"] == secret[:10] and key["revoked_at"] is None and key["last_used_at"] is None
    assert secret not in listing.stdout and "hash" not in listing.stdout
    table = guanxi("key", "list", "--tenant", tenant)
    assert secret[:10] in table.stdout and secret not in table.stdout and "till 3" in table.stdout


def test_a_key_revoked_from_the_cli_is_refused_by_the_api_at_once(guanxi, make_tenant, _guanxi_portal, _guanxi_sync_http):
    tenant = make_tenant()
    secret = guanxi("key", "create", "--tenant", tenant, "--role", "analyst").stdout.strip()
    other = guanxi("key", "create", "--tenant", tenant, "--role", "analyst").stdout.strip()
    client = GraphQLClient(_guanxi_portal, _guanxi_sync_http, secret)
    assert client.execute(ME)["data"]["me"]["role"]["code"] == "ANALYST"

    revoked = guanxi("key", "revoke", secret[:10])  # by the prefix key list shows
    assert revoked.exit_code == 0 and "revoked" in revoked.stderr, revoked.output
    assert client.post(ME).status_code == 401
    assert GraphQLClient(_guanxi_portal, _guanxi_sync_http, other).execute(ME)["data"]["me"] is not None
    [row] = [k for k in json.loads(guanxi("key", "list", "--tenant", tenant, "--json").stdout) if k["prefix"] == secret[:10]]
    assert row["revoked_at"] is not None and row["last_used_at"] is not None
    assert [k["prefix"] for k in json.loads(guanxi("key", "list", "--tenant", tenant, "--active", "--json").stdout)] == [other[:10]]

    # By id, and by the whole key; again is harmless; unknown and vague references are refused.
    other_id = next(k["id"] for k in json.loads(guanxi("key", "list", "--tenant", tenant, "--json").stdout)
                    if k["prefix"] == other[:10])
    assert guanxi("key", "revoke", str(other_id)).exit_code == 0
    assert GraphQLClient(_guanxi_portal, _guanxi_sync_http, other).post(ME).status_code == 401
    again = guanxi("key", "revoke", secret)
    assert again.exit_code == 0 and "already revoked" in again.stderr
    assert guanxi("key", "revoke", "999999999").exit_code == 1
    platform = guanxi("key", "create", "--role", "platform", "--name", "ops").stdout.strip()
    [row] = [k for k in json.loads(guanxi("key", "list", "--platform", "--json").stdout) if k["prefix"] == platform[:10]]
    assert row["tenant"] is None and row["role"] == "PLATFORM"
    assert guanxi("key", "revoke", str(row["id"])).exit_code == 0
    assert GraphQLClient(_guanxi_portal, _guanxi_sync_http, platform).post(ME).status_code == 401
    assert guanxi("key", "list", "--tenant", tenant, "--platform").exit_code == 2
    assert guanxi("key", "revoke", "gx_").exit_code == 1
    assert guanxi("key", "revoke", "nonsense").exit_code == 1


# -- module settings ---------------------------------------------------------------------


def test_module_configure_validates_with_the_modules_settings_model(guanxi, gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    ok = guanxi("module", "configure", "loyalty", "--tenant", tenant, "--set", "points_expiry_days=730",
                "--set", "earn_rounding=HALF_UP")
    assert ok.exit_code == 0, ok.output
    with gx.tenant(tenant, write=False) as ctx:
        settings = ctx.module_settings("loyalty")
    assert settings.points_expiry_days == 730 and settings.earn_rounding == "HALF_UP"
    listed = {m["module"]: m for m in json.loads(guanxi("module", "list", "--tenant", tenant, "--json").stdout)}
    assert listed["loyalty"]["settings"] == {"points_expiry_days": 730, "earn_rounding": "HALF_UP"}

    # One more setting keeps the others; a bad value names the setting, exits 1 and changes nothing.
    assert guanxi("module", "configure", "loyalty", "--tenant", tenant, "--set", "event_points=80").exit_code == 0
    bad = guanxi("module", "configure", "loyalty", "--tenant", tenant, "--set", "points_expiry_days=soon")
    assert bad.exit_code == 1 and "points_expiry_days" in bad.stderr, bad.output
    unknown = guanxi("module", "configure", "loyalty", "--tenant", tenant, "--set", "colour=red")
    assert unknown.exit_code == 1 and "colour" in unknown.stderr
    listed = {m["module"]: m for m in json.loads(guanxi("module", "list", "--tenant", tenant, "--json").stdout)}
    assert listed["loyalty"]["settings"] == {"points_expiry_days": 730, "earn_rounding": "HALF_UP", "event_points": 80}

    assert guanxi("module", "configure", "loyalty", "--tenant", tenant, "--unset", "event_points").exit_code == 0
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.module_settings("loyalty").event_points == 50  # the default again
    assert guanxi("module", "configure", "loyalty", "--tenant", tenant, "--set", "points_expiry_days").exit_code == 2
    assert guanxi("module", "configure", "loyalty", "--tenant", tenant).exit_code == 2
    assert guanxi("module", "configure", "crystal-ball", "--tenant", tenant, "--set", "a=1").exit_code == 1


# -- plugins' command groups -------------------------------------------------------------


def test_a_group_only_returned_by_the_hook_still_runs(monkeypatch):
    from engine import cli_discovery
    from engine.cli_support import new_app

    visits = new_app("Visit log.")

    @visits.command("hello")
    def hello(name: str = typer.Option("world", "--name", metavar="NAME", help="Who")) -> None:
        """Say hello."""
        print(f"hello {name}")

    monkeypatch.setattr(cli_discovery, "hook_commands", lambda: {"visitlog": visits})
    result = CliRunner().invoke(cli.app, ["visitlog", "hello", "--name", "王芳"])
    assert result.exit_code == 0 and result.stdout == "hello 王芳\n", result.output
    assert CliRunner().invoke(cli.app, ["visitlogs", "hello"]).exit_code == 2  # unknown command: usage


def test_a_plugin_group_that_cannot_be_imported_leaves_the_rest_of_the_cli_working(monkeypatch):
    from engine import cli_discovery

    monkeypatch.setattr(cli_discovery, "declared_commands",
                        lambda: {**cli_discovery.DEFAULT_COMMANDS, "broken": "no_such_package.cli:app"})
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    assert "'broken' commands could not be loaded" in result.stderr and "ModuleNotFoundError" in result.stderr
    assert "loyalty" in result.stdout and "broken" not in result.stdout
    assert CliRunner().invoke(cli.app, ["tenant", "--help"]).exit_code == 0
