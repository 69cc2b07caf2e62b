"""``lifecycleValidation`` and ``guanxi lifecycle validate`` on CDNOW loaded into a tenant: the
figures equal the array-level ones (checked against plain Python in test_cdnow_validation.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.cli_support import new_app
from engine.testing import new_tenant
from plugins.lifecycle.cli_analytics import register
from plugins.lifecycle.validation import validate_history
from tests.plugins.clv.test_clv_cdnow import DATA, epoch, load_sample
from tests.plugins.clv.test_clv_plugin import load

SPLIT = "1997-10-01T00:00:00+00:00"
VALIDATION = """query($split: DateTime, $horizonDays: Int) {
  lifecycleValidation(split: $split, horizonDays: $horizonDays) { split horizonDays source customers cameBack auc
    topDecileLift baselineAuc baselineTopDecileLift calibration { band customers meanRisk observedNoPurchase } warnings } }"""


def cdnow_purchases():
    raw = np.loadtxt(DATA / "CDNOW_sample.txt", dtype=str)
    return [(f"cd{int(row[1]):04d}", f"{row[2][:4]}-{row[2][4:6]}-{row[2][6:]}T00:00:00+00:00", float(row[4]))
            for row in raw]


@pytest.fixture(scope="module")
def cdnow_tenant(gx, tmp_path_factory):
    slug = new_tenant(gx, modules=("lifecycle",))
    load(gx, slug, tmp_path_factory.mktemp("cdnow"), cdnow_purchases())
    return slug


@pytest.fixture(scope="module")
def expected():
    _, offsets, times, amounts = load_sample()
    return validate_history(offsets, times, amounts, epoch("1997-10-01"), 90)


def test_validation_report_through_the_api(cdnow_tenant, graphql, expected):
    body = graphql(cdnow_tenant, "VIEWER").execute(VALIDATION, {"split": SPLIT, "horizonDays": 90})
    assert "errors" not in body, body
    report = body["data"]["lifecycleValidation"]
    assert (report["customers"], report["cameBack"], report["source"]) == (2357, 400, "RECENCY_FREQUENCY")
    assert report["auc"] == pytest.approx(expected.auc, abs=1e-9) and report["auc"] > report["baselineAuc"]
    assert report["baselineAuc"] == pytest.approx(expected.baseline_auc, abs=1e-9)
    assert report["topDecileLift"] == pytest.approx(expected.top_decile_lift)
    assert [b["customers"] for b in report["calibration"]] == [b.customers for b in expected.calibration]
    assert report["split"].startswith("1997-10-01T00:00:00") and report["warnings"] == []


def test_a_split_whose_outcome_is_not_known_is_refused(cdnow_tenant, graphql):
    client = graphql(cdnow_tenant)
    future = client.execute(VALIDATION, {"split": datetime.now(timezone.utc).isoformat(), "horizonDays": 30})
    [error] = future["errors"]
    assert error["extensions"]["code"] == "INVALID" and "split" in error["message"]
    before_anything = client.execute(VALIDATION, {"split": "1990-01-01T00:00:00Z", "horizonDays": 30})
    assert "no customer has a purchase before the split" in before_anything["errors"][0]["message"]
    bad = client.execute(VALIDATION, {"split": SPLIT, "horizonDays": 0})
    assert "horizonDays" in bad["errors"][0]["message"]


def test_with_clv_fitted_the_clv_model_is_validated(gx, graphql, make_tenant, tmp_path):
    from engine.scoring import run_scoring

    slug = make_tenant(modules=("clv", "lifecycle"))
    load(gx, slug, tmp_path, cdnow_purchases())
    with gx.tenant(slug) as ctx:
        run_scoring(ctx, ["clv"], as_of=datetime(1998, 7, 1, tzinfo=timezone.utc))
    report = graphql(slug).execute(VALIDATION, {"split": SPLIT, "horizonDays": 90})["data"]["lifecycleValidation"]
    assert report["source"] == "CLV" and report["customers"] == 2357
    assert report["auc"] > report["baselineAuc"]  # refitted as of the split: 0.788 against 0.783


def test_cli_validate(cdnow_tenant, database_url, monkeypatch, expected):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    app = new_app("lifecycle")
    register(app)
    runner = CliRunner()
    as_json = runner.invoke(app, ["validate", "--tenant", cdnow_tenant, "--split", "1997-10-01", "--horizon-days", "90",
                                  "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["auc"] == pytest.approx(expected.auc, abs=1e-9) and report["came_back"] == 400
    shown = runner.invoke(app, ["validate", "--tenant", cdnow_tenant, "--split", "1997-10-01", "--horizon-days", "90"])
    assert shown.exit_code == 0 and f"{expected.auc:.3f}" in shown.stdout and "recency alone" in shown.stdout
    assert runner.invoke(app, ["validate", "--tenant", cdnow_tenant, "--split", "yesterday"]).exit_code == 2
    late = runner.invoke(app, ["validate", "--tenant", cdnow_tenant, "--split", "2999-01-01"])
    assert late.exit_code == 1 and "split" in late.output
