"""CSV import (chunked, resumable, exactly once) and the operator CLI."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from engine.cli import app
from engine.models import ApiKey, Customer, Interaction, Tenant
from engine.services import importer
from engine.services.importer import import_file
from engine.services.keys import authenticate, hash_key


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _customers_csv(tmp_path: Path, n: int) -> Path:
    rows = [[f"C{i}", f"客户{i}", f"1380000{i:04d}", "VIP|学生" if i % 3 == 0 else "", "C0" if i else ""] for i in range(n)]
    rows.append(["BAD", "bad email", "13800000000", "", ""])
    rows[-1][2] = "not a phone"
    return _write(tmp_path / "customers.csv", ["code", "name", "phone", "tags", "referrer_code"], rows)


def _interactions_csv(tmp_path: Path, n: int) -> Path:
    rows = [[f"C{i % 40}", "PURCHASE", f"2026-01-{1 + i % 28:02d}T10:00:00+08:00", f"{10 + i % 7}.50", f"o-{i}"] for i in range(n)]
    rows.append(["C1", "PURCHASE", "2026-01-01T10:00:00+08:00", "1.234", "o-bad"])
    return _write(tmp_path / "interactions.csv", ["customer_code", "kind", "occurred_at", "amount", "external_id"], rows)


def _counts(gx, tenant):
    with gx.tenant(tenant, write=False) as ctx:
        customers = ctx.session.scalar(select(func.count()).select_from(Customer).where(Customer.tenant_id == ctx.tenant_id))
        interactions = ctx.session.scalar(select(func.count()).select_from(Interaction).where(Interaction.tenant_id == ctx.tenant_id))
        spent = ctx.session.scalar(select(func.sum(Customer.total_spent)).where(Customer.tenant_id == ctx.tenant_id))
    return customers, interactions, Decimal(spent or 0).quantize(Decimal("0.01"))


def test_import_reports_invalid_rows_and_links_referrers(gx, tenant, tmp_path):
    report = import_file(gx, tenant, "customers", _customers_csv(tmp_path, 40), chunk_size=7)
    assert (report.rows_stored, report.rows_invalid, report.rows_duplicate) == (40, 1, 0)
    assert report.invalid[0][0] == 42 and report.invalid[0][1][0].field == "phone"  # line 42 of the file
    with gx.system(write=False) as session:
        c5 = session.execute(select(Customer).where(Customer.code == "C5", Customer.tenant_id == Tenant.id, Tenant.slug == tenant)).scalar_one()
        c0_id = session.execute(select(Customer.id).where(Customer.code == "C0", Customer.tenant_id == c5.tenant_id)).scalar_one()
    assert c5.referrer_id == c0_id
    again = import_file(gx, tenant, "customers", _customers_csv(tmp_path, 40))
    assert again.already_done and _counts(gx, tenant)[0] == 40


def test_an_import_killed_halfway_resumes_and_stores_every_row_once(gx, tenant, tmp_path, monkeypatch):
    import_file(gx, tenant, "customers", _customers_csv(tmp_path, 40))
    path = _interactions_csv(tmp_path, 300)
    real_store = importer._store_interactions
    calls = {"n": 0}

    def crash_in_third_chunk(ctx, parsed):
        calls["n"] += 1
        stored = real_store(ctx, parsed)
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")  # after writing, before the chunk commits
        return stored

    monkeypatch.setattr(importer, "_store_interactions", crash_in_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        import_file(gx, tenant, "interactions", path, chunk_size=50)
    assert _counts(gx, tenant)[1] == 100  # two committed chunks, the third rolled back
    monkeypatch.setattr(importer, "_store_interactions", real_store)
    report = import_file(gx, tenant, "interactions", path, chunk_size=50)
    assert report.resumed_from == 100
    customers, interactions, spent = _counts(gx, tenant)
    assert interactions == 300 and report.rows_invalid == 1
    assert spent == sum(Decimal(f"{10 + i % 7}.50") for i in range(300))


def test_unknown_columns_are_refused_before_anything_is_stored(gx, tenant, tmp_path):
    path = _write(tmp_path / "x.csv", ["code", "favourite_colour"], [["C1", "red"]])
    with pytest.raises(importer.ValidationFailed, match="favourite_colour"):
        import_file(gx, tenant, "customers", path)
    assert _counts(gx, tenant)[0] == 0


def test_cli_walks_an_operator_through_setup(database_url, tmp_path, monkeypatch):
    if not database_url.startswith("sqlite"):
        pytest.skip("the CLI flow is backend-independent; run once")
    db = tmp_path / "cli.db"
    monkeypatch.setenv("GUANXI_DATABASE_URL", f"sqlite:///{db}")
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("init")
    assert "Kernels ready" in run("warm-up")
    run("tenant", "create", "acme", "--name", "Acme 美妆")
    assert "acme" in run("tenant", "list")
    bad = runner.invoke(app, ["tenant", "create", "acme2", "--name", "x", "--currency", "yuan"])
    assert bad.exit_code == 1 and "currency" in bad.output
    key = run("key", "create", "--tenant", "acme", "--role", "viewer").strip().splitlines()[-1]
    run("module", "enable", "rfm", "loyalty", "--tenant", "acme")
    listing = run("module", "list", "--tenant", "acme")
    assert "rfm" in listing and "会员积分" in listing
    unknown = runner.invoke(app, ["module", "enable", "crystal-ball", "--tenant", "acme"])
    assert unknown.exit_code == 1 and "unknown module" in unknown.output
    # One bad row in each file: the rest is stored, the exit status says rows were rejected.
    customers = runner.invoke(app, ["import", "customers", str(_customers_csv(tmp_path, 40)), "--tenant", "acme"])
    assert customers.exit_code == 3 and "stored 40" in customers.output and "rejected 1" in customers.output
    out = runner.invoke(app, ["import", "interactions", str(_interactions_csv(tmp_path, 100)), "--tenant", "acme"])
    assert out.exit_code == 3 and "stored 100" in out.output and "rejected 1" in out.output
    assert "line 102" in out.output and "interactions.rejects.csv" in out.output

    from engine.db import make_engine
    from sqlmodel import Session

    with Session(make_engine(url=f"sqlite:///{db}")) as session:
        stored = session.execute(select(ApiKey)).scalar_one()
        assert stored.key_hash == hash_key(key) and key not in stored.key_hash
        assert stored.role == "VIEWER"
        assert authenticate(session, key).id == stored.id
        assert authenticate(session, key[:-1] + "x") is None


def test_demo_generate_only_builds_a_tenant_with_every_module(database_url, tmp_path, monkeypatch):
    if not database_url.startswith("sqlite"):
        pytest.skip("the demo targets the embedded default")
    monkeypatch.setenv("GUANXI_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    result = CliRunner().invoke(app, ["demo", "--generate-only", "--customers", "300"])
    assert result.exit_code == 0, result.output
    first_key = result.output.strip().splitlines()[-1]
    assert first_key.startswith("gx_")
    again = CliRunner().invoke(app, ["demo", "--generate-only", "--customers", "300"])
    assert again.exit_code == 0, again.output
    assert "already exists" in again.output
    second_key = again.output.strip().splitlines()[-1]
    assert second_key.startswith("gx_") and second_key != first_key  # a fresh key: keys are shown once
    from engine.runtime import Guanxi
    from engine.services.modules import enabled_modules

    gx = Guanxi()
    with gx.tenant("demo", write=False) as ctx:
        kinds = dict(ctx.session.execute(
            select(Interaction.kind, func.count()).where(Interaction.tenant_id == ctx.tenant_id).group_by(Interaction.kind)
        ).all())
        assert enabled_modules(ctx.session, ctx.tenant_id) == set(gx.plugins.modules)
    assert {"PURCHASE", "REFUND", "VISIT", "COMPLAINT"} <= set(kinds)
    assert sum(kinds.values()) >= 300 * 15  # rich histories: ≥ 300,000 for the default 20,000 customers
