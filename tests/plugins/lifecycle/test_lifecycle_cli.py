"""``guanxi lifecycle stages|transitions|reasons|record-reason|winback`` on the test database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from engine import cli
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from engine.types import utcnow

FIXED = {"at_risk_days": 10, "lapsed_days": 20, "churned_days": 40}


@pytest.fixture
def guanxi(monkeypatch, database_url):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    return lambda *args: runner.invoke(cli.app, [str(a) for a in args])


def _tenant(gx, make_tenant):
    slug = make_tenant(modules=("lifecycle",))
    now = utcnow()
    ids = {}
    with gx.tenant(slug) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "lifecycle", FIXED)
        for name, days in (("active", 2), ("lapsed", 25), ("churned", 90)):
            ids[name] = create_customer(ctx, {"name": name}).id
            record_interactions(ctx, [{"customer_id": ids[name], "kind": "PURCHASE", "amount": "100", "store": "SH",
                                       "staff": "wang", "occurred_at": now - timedelta(days=days)}])
    return slug, ids


def test_stages_refresh_then_report(gx, make_tenant, guanxi):
    slug, _ = _tenant(gx, make_tenant)
    none_yet = guanxi("lifecycle", "stages", "--tenant", slug)
    assert none_yet.exit_code == 1 and "--refresh" in none_yet.output
    shown = guanxi("lifecycle", "stages", "--tenant", slug, "--refresh")
    assert shown.exit_code == 0, shown.output
    assert "at_risk" in shown.output and "有流失风险" in shown.output
    data = json.loads(guanxi("lifecycle", "stages", "--tenant", slug, "--json").stdout)
    assert data["stages"] == {"prospect": 0, "new": 1, "active": 0, "at_risk": 0, "lapsed": 1, "churned": 1, "won_back": 0}
    assert data["thresholds"]["fixed_at_risk_days"] == 10
    bad = guanxi("lifecycle", "stages", "--tenant", slug, "--refresh", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "--as-of" in bad.output
    moves = json.loads(guanxi("lifecycle", "transitions", "--tenant", slug, "--first-stages", "--json").stdout)
    assert sorted(m["to"] for m in moves) == ["churned", "lapsed", "new"]
    assert json.loads(guanxi("lifecycle", "transitions", "--tenant", slug, "--json").stdout) == []


def test_record_reason_report_and_winback(gx, make_tenant, guanxi):
    slug, ids = _tenant(gx, make_tenant)
    assert guanxi("lifecycle", "stages", "--tenant", slug, "--refresh").exit_code == 0
    refused = guanxi("lifecycle", "record-reason", "--tenant", slug, "--customer", ids["active"], "--code", "SERVICE")
    assert refused.exit_code == 1 and "customer" in refused.output and "lapsed or churned" in refused.output
    done = guanxi("lifecycle", "record-reason", "--tenant", slug, "--customer", ids["churned"], "--code", "COMPETITOR",
                  "--note", "隔壁开了新店", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["store"] == "SH"
    report = json.loads(guanxi("lifecycle", "reasons", "--tenant", slug, "--json").stdout)
    assert report["by_reason"] == {"COMPETITOR": 1} and report["by_side"] == {"CUSTOMER": 1}
    made = guanxi("lifecycle", "winback", "--tenant", slug, "--create", "spring", "--threshold", "50", "--json")
    assert made.exit_code == 0, made.output
    lists = json.loads(made.stdout)
    assert [(s["segment"], s["customers"]) for s in lists[0]["segments"]] == [("win_back", 2), ("let_go", 0)]
    usage = guanxi("lifecycle", "winback", "--tenant", slug, "--threshold", "50")
    assert usage.exit_code == 2


def test_a_tenant_without_the_module_is_refused(gx, make_tenant, guanxi):
    plain = make_tenant()
    result = guanxi("lifecycle", "stages", "--tenant", plain)
    assert result.exit_code == 1 and "not enabled" in result.output


def test_customer_exports_carry_the_stage_and_risk(gx, make_tenant, guanxi, tmp_path):
    import csv

    slug, ids = _tenant(gx, make_tenant)
    assert guanxi("lifecycle", "stages", "--tenant", slug, "--refresh").exit_code == 0
    out = tmp_path / "customers.csv"
    result = guanxi("export", "customers", "--tenant", slug, "-o", out)
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in csv.DictReader(out.open(encoding="utf-8-sig"))}
    assert {n: rows[n]["lifecycle_retention_stage"] for n in ("active", "lapsed", "churned")} == {
        "active": "new", "lapsed": "lapsed", "churned": "churned"}
    assert rows["lapsed"]["lifecycle_stage"] == "EXPLORATION"  # the core's relationship stage, a different column
    assert 0 <= float(rows["churned"]["lifecycle_risk"]) <= 1 and rows["churned"]["lifecycle_stage_since"]


def test_exports_filter_on_the_stage_like_the_api(gx, make_tenant, guanxi, tmp_path):
    import csv

    slug, _ = _tenant(gx, make_tenant)
    assert guanxi("lifecycle", "stages", "--tenant", slug, "--refresh").exit_code == 0
    out = tmp_path / "gone.csv"
    result = guanxi("export", "customers", "--tenant", slug, "--where",
                    '{"lifecycle": {"stage": {"in": ["LAPSED", "CHURNED"]}}}', "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(row["name"] for row in csv.DictReader(out.open(encoding="utf-8-sig"))) == ["churned", "lapsed"]
