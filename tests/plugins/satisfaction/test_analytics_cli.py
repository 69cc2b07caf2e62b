"""`guanxi satisfaction index|drivers|trend` through the CLI runner, on the test database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from engine.cli import app
from tests.plugins.satisfaction.test_analytics_api import MODULES, seed, top2


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["satisfaction", *args])

    return run


def test_index_json_and_table(gx, make_tenant, cli):
    slug = make_tenant(modules=MODULES)
    rows = seed(gx, slug, n=120, seed=8)
    out = cli("index", "--tenant", slug, "--survey", "CSI", "--by", "store", "--from", "202402", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    kept = [r for r in rows if r["local_month"] >= 202402]
    assert doc["total"]["responses"] == len(kept)
    assert doc["total"]["indicators"]["PRODUCT.PRICE"]["satisfied"] == pytest.approx(top2([r["scores"][4] for r in kept]))
    assert [s["key"]["store"] for s in doc["slices"]] == [None, "BJ-02", "SH-01"]
    assert doc["weights"] == {code: pytest.approx(0.2) for code in ("WEBSITE", "PRODUCT", "PAYMENT", "SERVICE", "LOGISTICS")}
    shown = cli("index", "--tenant", slug, "--survey", "CSI", "--by", "month")
    assert shown.exit_code == 0 and "PRODUCT.PRICE" in shown.stdout and "202403" in shown.stdout


def test_drivers_and_trend(gx, make_tenant, cli):
    slug = make_tenant(modules=MODULES)
    seed(gx, slug, n=300, seed=9)
    out = cli("drivers", "--tenant", slug, "--survey", "CSI", "--target", "repurchase", "--json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["target"] == "REPURCHASE" and [w["dimension"] for w in doc["weights"]] == [
        "WEBSITE", "PRODUCT", "PAYMENT", "SERVICE", "LOGISTICS"]
    assert set(doc["ipa"]["fix_first"]) <= {p["dimension"] for p in doc["ipa"]["points"]}
    assert "fix first:" in cli("drivers", "--tenant", slug, "--survey", "CSI").stdout
    trend = cli("trend", "--tenant", slug, "--survey", "CSI", "--json")
    assert trend.exit_code == 0, trend.output
    assert [p["month"] for p in json.loads(trend.stdout)] == [202401, 202402, 202403]


def test_refusals_exit_1_naming_the_field(gx, make_tenant, cli):
    slug = make_tenant(modules=("satisfaction",))
    seed(gx, slug, n=10)
    for args, field in ((("--survey", "NOPE"), "survey"), (("--survey", "CSI", "--by", "tier"), "by"),
                        (("--survey", "CSI", "--from", "202413"), "where.from_month")):
        out = cli("index", "--tenant", slug, *args)
        assert out.exit_code == 1, out.output
        assert field in out.output
    assert cli("drivers", "--tenant", slug, "--survey", "CSI", "--target", "LOYALTY").exit_code == 1
    plain = make_tenant(modules=())
    assert cli("index", "--tenant", plain, "--survey", "CSI").exit_code == 1
