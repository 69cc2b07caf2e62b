"""`guanxi satisfaction models|create-survey|surveys|invite|wave` through the CLI runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.services.customers import create_customer


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["satisfaction", *[str(a) for a in args]])

    return run


def test_design_list_and_invite(gx, make_tenant, cli, tmp_path):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        yes = create_customer(ctx, {"code": "C1", "name": "周", "consent": {"EMAIL": True}}).id
        no = create_customer(ctx, {"code": "C2", "name": "吴"}).id
    models = cli("models", "--tenant", slug, "--json")
    assert models.exit_code == 0, models.output
    assert [m["code"] for m in json.loads(models.stdout)] == ["VIPSHOP_5X19", "FOUR_DIMENSION"]
    created = cli("create-survey", "--tenant", slug, "--code", "CSI", "--title-zh", "调查", "--title-en", "Survey", "--json")
    assert created.exit_code == 0 and json.loads(created.stdout)["questions"] == 24  # 19 indicators + 5
    again = cli("create-survey", "--tenant", slug, "--code", "CSI", "--title-zh", "调查", "--title-en", "Survey")
    assert again.exit_code == 1 and "exists already" in again.output
    bad = tmp_path / "q.json"
    bad.write_text("[{", encoding="utf-8")
    assert cli("create-survey", "--tenant", slug, "--code", "X", "--title-zh", "x", "--title-en", "x",
               "--questions", bad).exit_code == 2
    invited = cli("invite", "--tenant", slug, "--survey", "CSI", "--customer", yes, "--customer", no)
    assert invited.exit_code == 0, invited.output
    [line] = [json.loads(l) for l in invited.stdout.splitlines() if l.startswith("{")]
    assert line["customer_id"] == yes and line["channel"] == "EMAIL" and line["path"].startswith(f"/satisfaction/s/{slug}/")
    listed = cli("surveys", "--tenant", slug, "--json")
    assert json.loads(listed.stdout) == [{"code": "CSI", "title_zh": "调查", "title_en": "Survey", "status": "ACTIVE",
                                          "model": "VIPSHOP_5X19", "questions": 24, "responses": 0}]
    assert json.loads(cli("wave", "--tenant", slug).stdout) == {"sent": False, "why": "no wave_survey set"}


def test_a_tenant_without_the_module_is_refused(make_tenant, cli):
    slug = make_tenant()
    out = cli("surveys", "--tenant", slug)
    assert out.exit_code == 1 and "not enabled" in out.output
