"""The campaigns module through HTTP: a segment saved and previewed, a
campaign created, launched with its holdout and reported; provider receipts
through POST /campaigns/receipts; payload errors; tenants kept apart; the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.ids import to_global_id
from engine.cli import app as cli
from engine.testing import new_key
from engine.services.interactions import record_interactions
from engine.types import utcnow
from plugins.campaigns import messages
from plugins.campaigns.models import CampaignSegment
from plugins.campaigns.service import create_campaign
from tests.plugins.campaigns.helpers import EventLog, add_customers

SAVE = """mutation($input: SaveCampaignSegmentInput!) { saveCampaignSegment(input: $input) {
  campaignSegment { id name where memberCount customers(first: 2) { totalCount edges { node { id } } pageInfo { hasNextPage } } }
  errors { field message code } } }"""
CREATE = """mutation($input: CreateCampaignInput!) { createCampaign(input: $input) {
  campaign { id state goal channels budget holdoutShare segment { name } } errors { field message code } } }"""
LAUNCH = """mutation($id: ID!) { launchCampaign(input: {id: $id}) {
  campaign { id state memberCount heldOutCount sentCount exclusions { reason count } launchedAt }
  errors { field message code } } }"""
MOVE = """mutation($id: ID!, $to: CampaignState!) { transitionCampaign(input: {id: $id, to: $to}) {
  campaign { state transitions { fromState toState } } errors { field code } } }"""
REPORT = """query($id: ID!) { campaign(id: $id) { report {
  launched participation { sent delivered opened redeemed failed }
  targeted { customers converted conversionRate revenue revenuePerCustomer }
  holdout { customers converted conversionRate revenue revenuePerCustomer }
  conversionUplift { estimate low high pValue test } revenueUplift { estimate low high pValue } } } }"""


@pytest.fixture
def events(monkeypatch):
    log = EventLog()
    monkeypatch.setattr(messages, "emit", log)
    return log


def _receipts(client, key: str | None, body):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.portal.call(lambda: client.client.post("/campaigns/receipts", content=json.dumps(body), headers=headers))


def test_a_segment_a_launch_receipts_and_the_report_through_the_api(gx, make_tenant, graphql, events):
    slug = make_tenant(modules=("campaigns", "rfm"))
    with gx.tenant(slug) as ctx:
        vip = add_customers(ctx, 200, total_spent=900, purchase_count=4)
        add_customers(ctx, 30, total_spent=20, purchase_count=1)
    admin = graphql(slug)
    refused = admin.execute(SAVE, {"input": {"name": "gold", "where": {"loyalty": {"tier": {"eq": "GOLD"}}}}})
    assert refused["data"]["saveCampaignSegment"]["errors"] == [
        {"field": "where.loyalty", "message": "unknown filter field 'loyalty': the loyalty module is not enabled for this tenant",
         "code": "INVALID"}]
    saved = admin.execute(SAVE, {"input": {"name": "vip", "where": {"totalSpent": {"gte": "500"}}}})["data"]["saveCampaignSegment"]
    segment = saved["campaignSegment"]
    assert saved["errors"] == [] and segment["memberCount"] == 200
    assert segment["customers"]["totalCount"] == 200 and segment["customers"]["pageInfo"]["hasNextPage"]
    assert {e["node"]["id"] for e in segment["customers"]["edges"]} <= {to_global_id("Customer", c) for c in vip}

    bad = admin.execute(CREATE, {"input": {"name": "x", "goal": "SALES", "channels": ["SMS"], "budget": "-5"}})
    assert bad["data"]["createCampaign"]["errors"][0]["field"] == "budget"
    created = admin.execute(CREATE, {"input": {"name": "Spring", "goal": "SALES", "channels": ["WECHAT", "SMS"],
                                               "segmentId": segment["id"], "budget": "5000", "holdoutShare": 0.25}})
    campaign = created["data"]["createCampaign"]["campaign"]
    assert campaign["state"] == "PREPARATION" and campaign["budget"] == "5000.00" and campaign["segment"]["name"] == "vip"
    assert campaign["channels"] == ["WECHAT", "SMS"]

    viewer = graphql(slug, "AGENT").execute(LAUNCH, {"id": campaign["id"]})
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # launching is for admins
    launched = admin.execute(LAUNCH, {"id": campaign["id"]})["data"]["launchCampaign"]
    assert launched["errors"] == []
    c = launched["campaign"]
    assert c["state"] == "EXECUTION" and c["memberCount"] == 200 and c["sentCount"] == 200 - c["heldOutCount"]
    assert 20 <= c["heldOutCount"] <= 80
    assert c["exclusions"] == [{"reason": "FREQUENCY_CAP", "count": 0}, {"reason": "NO_CONSENT", "count": 0}]
    again = admin.execute(LAUNCH, {"id": campaign["id"]})["data"]["launchCampaign"]
    assert again["errors"][0]["code"] == "ILLEGAL_TRANSITION"

    sent = [e for e in events.events if e.type == "campaign.message"]
    first, second = sent[0].data["message_id"], sent[1].data["message_id"]
    with gx.tenant(slug) as ctx:  # two targeted customers buy in the window
        record_interactions(ctx, [{"customer_id": e.customer_id, "kind": "PURCHASE", "amount": Decimal("300"),
                                   "occurred_at": utcnow() + timedelta(minutes=1)} for e in sent[:2]])
    agent_key = new_key(gx, slug, "AGENT")
    assert _receipts(admin, None, {"receipts": []}).status_code == 401
    assert _receipts(admin, new_key(gx, slug, "VIEWER"), {"receipts": []}).status_code == 403
    bad = _receipts(admin, agent_key, {"receipts": [{"messageId": first, "status": "READ"}]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["extensions"]["field"] == "receipts[0].status"
    ok = _receipts(admin, agent_key, {"receipts": [{"messageId": first, "status": "OPENED"},
                                                   {"messageId": second, "status": "REDEEMED"},
                                                   {"messageId": first, "status": "OPENED"},
                                                   {"messageId": "nope", "status": "DELIVERED"}]})
    assert ok.status_code == 200 and ok.json() == {"updated": 2, "unknown": ["nope"], "offerErrors": []}

    report = admin.execute(REPORT, {"id": campaign["id"]})["data"]["campaign"]["report"]
    assert report["participation"] == {"sent": c["sentCount"], "delivered": 2, "opened": 1, "redeemed": 1, "failed": 0}
    assert report["targeted"]["converted"] == 2 and report["targeted"]["revenue"] == 600.0
    assert report["holdout"] == {"customers": c["heldOutCount"], "converted": 0, "conversionRate": 0.0, "revenue": 0.0,
                                 "revenuePerCustomer": 0.0}
    uplift = report["conversionUplift"]
    assert uplift["estimate"] == pytest.approx(2 / c["sentCount"])
    assert uplift["low"] < uplift["estimate"] < uplift["high"] and uplift["test"].startswith("two-proportion z test")

    for to in ("MONITORING", "EVALUATION"):
        moved = admin.execute(MOVE, {"id": campaign["id"], "to": to})["data"]["transitionCampaign"]
        assert moved["errors"] == [] and moved["campaign"]["state"] == to
    assert [t["toState"] for t in moved["campaign"]["transitions"]] == ["EXECUTION", "MONITORING", "EVALUATION"]

    other = make_tenant(modules=("campaigns",))
    assert graphql(other).execute(REPORT, {"id": campaign["id"]})["data"]["campaign"] is None
    foreign = _receipts(admin, new_key(gx, other, "AGENT"), {"receipts": [{"messageId": first, "status": "FAILED"}]})
    assert foreign.json()["unknown"] == [first]  # another tenant's message is not found


def test_the_cli_saves_segments_launches_and_reports(gx, database_url, make_tenant, monkeypatch, events):
    slug = make_tenant(modules=("campaigns",))
    with gx.tenant(slug) as ctx:
        add_customers(ctx, 40, purchase_count=2)

    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    runner = CliRunner()
    saved = runner.invoke(cli, ["campaigns", "save-segment", "repeat", "--where", '{"purchaseCount": {"gte": 2}}', "--tenant", slug])
    assert saved.exit_code == 0, saved.output
    assert "40 customers" in saved.output
    bad = runner.invoke(cli, ["campaigns", "save-segment", "x", "--where", '{"clv": {}}', "--tenant", slug])
    assert bad.exit_code == 1 and "where.clv" in bad.output
    listed = runner.invoke(cli, ["campaigns", "segments", "--tenant", slug, "--json"])
    assert json.loads(listed.stdout)[0]["members"] == 40
    with gx.tenant(slug) as ctx:
        segment_id = ctx.session.execute(sa.select(CampaignSegment.id).where(CampaignSegment.tenant_id == ctx.tenant_id)).scalar_one()
        campaign_id = create_campaign(ctx, {"name": "c", "goal": "SALES", "channels": ["SMS"], "segment_id": segment_id}).id
    launched = runner.invoke(cli, ["campaigns", "launch", str(campaign_id), "--tenant", slug])
    assert launched.exit_code == 0, launched.output
    assert json.loads(launched.stdout)["members"] == 40
    report = runner.invoke(cli, ["campaigns", "report", to_global_id("Campaign", campaign_id), "--tenant", slug, "--json"])
    body = json.loads(report.stdout)
    assert body["participation"]["sent"] == json.loads(launched.stdout)["sent"]
    assert body["targeted"]["customers"] + body["holdout"]["customers"] == 40
    missing = runner.invoke(cli, ["campaigns", "report", "99999999", "--tenant", slug])
    assert missing.exit_code == 1
