"""``guanxi campaigns ...``: saved segments, launching, the report, the day's triggers."""

from __future__ import annotations

from typing import Optional

import typer

from engine.cli_support import (bad_value, console, fail, json_option, new_app, open_engine, print_json, say, table,
                                tenant_option)
from engine.errors import GuanxiError

campaigns_app = new_app("Campaigns: saved segments, launch, report, trigger messages.")


def _require_module(ctx) -> None:
    if "campaigns" not in ctx.enabled_modules:
        raise GuanxiError("the campaigns module is not enabled for this tenant", field="tenant")


def _campaign_pk(value: str) -> int:
    from api.ids import decode_id

    if value.isdigit():
        return int(value)
    pk = decode_id(value, "Campaign")
    if pk is None:
        bad_value("CAMPAIGN", f"{value!r} is not a campaign id (a number or a Campaign global id)")
    return pk


@campaigns_app.command("segments")
def list_segments(tenant: str = tenant_option(), as_json: bool = json_option()) -> None:
    """The saved segments with the number of customers each matches now."""
    import sqlalchemy as sa

    from plugins.campaigns.models import CampaignSegment
    from plugins.campaigns.segments import count_members

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            rows = ctx.session.execute(sa.select(CampaignSegment).where(CampaignSegment.tenant_id == ctx.tenant_id)
                                       .order_by(CampaignSegment.id)).scalars().all()
            found = [{"id": r.id, "name": r.name, "members": count_members(ctx, r.where), "where": r.where} for r in rows]
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(found)
        return
    shown = table("id", "name", "members", "where")
    for r in found:
        shown.add_row(str(r["id"]), r["name"], str(r["members"]), str(r["where"]))
    console.print(shown)


@campaigns_app.command("save-segment")
def save_segment(
    name: str = typer.Argument(..., metavar="NAME", help="The segment's name (an existing one is replaced)"),
    where: str = typer.Option("{}", "--where", metavar="JSON", help='A CustomerWhere as JSON, e.g. {"rfm": {"segment": {"eq": "CHAMPIONS"}}}'),
    tenant: str = tenant_option(),
) -> None:
    """Save a segment; the filter is checked against the tenant's modules."""
    import sqlalchemy as sa

    from api.export_where import parse_json
    from plugins.campaigns.models import CampaignSegment
    from plugins.campaigns.segments import count_members, save_segment as save

    gx = open_engine()
    try:
        parsed = parse_json(where) or {}
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            existing = ctx.session.execute(sa.select(CampaignSegment.id).where(
                CampaignSegment.tenant_id == ctx.tenant_id, CampaignSegment.name == name.strip())).scalar_one_or_none()
            row = save(ctx, name, parsed, segment_id=existing)
            members = count_members(ctx, row.where)
            segment_id = row.id
    except GuanxiError as error:
        fail(error)
    say(f"segment {segment_id} {name!r}: {members} customers now")


@campaigns_app.command("launch")
def launch(campaign: str = typer.Argument(..., metavar="CAMPAIGN", help="The campaign's number or global id"),
           tenant: str = tenant_option()) -> None:
    """Launch a campaign: snapshot, holdout, consent and frequency cap, messages out."""
    from plugins.campaigns.service import launch as launch_campaign

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            row = launch_campaign(ctx, _campaign_pk(campaign))
            summary = {"members": row.members, "held_out": row.held_out, "sent": row.targeted, "exclusions": row.exclusions}
    except GuanxiError as error:
        fail(error)
    print_json(summary)


@campaigns_app.command("report")
def report(campaign: str = typer.Argument(..., metavar="CAMPAIGN", help="The campaign's number or global id"),
           tenant: str = tenant_option(), as_json: bool = json_option()) -> None:
    """The campaign's evaluation: participation, conversion and revenue, uplift over the holdout."""
    import json

    from plugins.campaigns.evaluation import campaign_report
    from plugins.campaigns.service import get_campaign

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            result = campaign_report(ctx, get_campaign(ctx, _campaign_pk(campaign), "CAMPAIGN")).as_dict()
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(result)
    else:
        console.print_json(json.dumps(result, default=str))


@campaigns_app.command("triggers")
def triggers(tenant: str = tenant_option(), now: Optional[str] = typer.Option(
        None, "--now", metavar="WHEN", help="ISO time to run as (default: now), e.g. to catch up a missed day")) -> None:
    """Send today's birthday and holiday messages (safe to repeat: each occasion is sent once)."""
    from datetime import datetime, timezone

    from plugins.campaigns.triggers import run_daily_triggers

    when = None
    if now:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            bad_value("--now", f"{now!r} is not an ISO date or time")
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            sent = run_daily_triggers(ctx, when)
    except GuanxiError as error:
        fail(error)
    print_json(sent)
