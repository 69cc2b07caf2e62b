"""The campaigns module's hook implementations."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.campaigns.settings import CampaignsSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="campaigns",
        title_zh="营销活动",
        title_en="Campaigns",
        description="Saved segments, campaigns with a holdout group, trigger messages and measured uplift.",
        settings_model=CampaignsSettings,
        # Message text is written by staff for many customers, but a trigger's may be personalised.
        personal_fields={"campaign_messages": ("content",)},
    )


@hookimpl
def guanxi_models():
    from plugins.campaigns.models import Campaign, CampaignMember, CampaignMessage, CampaignSegment, CampaignTransition

    return [CampaignSegment, Campaign, CampaignMember, CampaignMessage, CampaignTransition]


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")


@hookimpl
def guanxi_jobs():
    from plugins.campaigns.jobs import JOBS

    return JOBS


@hookimpl
def guanxi_cli_commands():
    from plugins.campaigns.cli import campaigns_app

    return [("campaigns", campaigns_app)]


@hookimpl
def guanxi_graphql():
    from plugins.campaigns.schema import CampaignsMutation, CampaignsQuery, load_campaign, load_segment

    return {"query": [CampaignsQuery], "mutation": [CampaignsMutation],
            "nodes": {"Campaign": load_campaign, "CampaignSegment": load_segment}}


@hookimpl
def guanxi_http_routes(gx):
    from plugins.campaigns.receipts import receipt_routes

    return receipt_routes(gx)


@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    if not any(i.kind == "PURCHASE" for i in interactions):
        return
    from plugins.campaigns.triggers import on_purchases

    on_purchases(ctx, interactions)


@hookimpl(optionalhook=True)
def guanxi_loyalty_tier_changed(ctx, changes):
    from plugins.campaigns.triggers import on_tier_changes

    on_tier_changes(ctx, changes)


@hookimpl(optionalhook=True)
def guanxi_lifecycle_stage_changed(ctx, changes):
    from plugins.campaigns.triggers import on_stage_changes

    on_stage_changes(ctx, changes)


@hookimpl(optionalhook=True)
def guanxi_complaint_status_changed(ctx, change):
    if change.to_status != "closed":
        return
    from plugins.campaigns.triggers import on_complaint_closed

    on_complaint_closed(ctx, change)


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    from plugins.campaigns.service import move_customer

    move_customer(ctx, kept_id, merged_id)


@hookimpl
def guanxi_demo_data(ctx, seed):
    from plugins.campaigns.demo import add_demo_campaign

    return add_demo_campaign(ctx, seed)


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.campaigns.export import campaigns_export_columns

    return campaigns_export_columns(ctx)
