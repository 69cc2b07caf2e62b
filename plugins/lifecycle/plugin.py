"""The lifecycle module's hook implementations."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.lifecycle import hookspecs as lifecycle_hookspecs
from plugins.lifecycle.settings import LifecycleSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="lifecycle",
        title_zh="客户生命周期与流失",
        title_en="Lifecycle and churn",
        description="Retention stages from each tenant's own purchase gaps, their history, churn reasons and win-back lists.",
        settings_model=LifecycleSettings,
        # Free text an agent types about why the customer left.
        personal_fields={"lifecycle_churn_reasons": ("note",)},
        hookspecs=lifecycle_hookspecs,
    )


@hookimpl
def guanxi_models():
    from plugins.lifecycle.models import ALL_MODELS

    return list(ALL_MODELS)


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")


@hookimpl
def guanxi_jobs():
    from plugins.lifecycle.jobs import JOBS

    return JOBS


@hookimpl
def guanxi_score(ctx, batch):
    """``guanxi score --module lifecycle``: a stage run on the scoring run's batch."""
    if "lifecycle" not in batch.modules:
        return None
    from engine.scoring import ScoreReport
    from plugins.lifecycle.history import last_run, run_stages

    previous = last_run(ctx)
    if previous is not None and batch.as_of < previous.as_of:
        # A back-dated scoring run (for RFM or CLV as of a past date) must not fail for the others:
        # stages only move forward, so lifecycle sits it out.
        return ScoreReport(module="lifecycle", scored=0, warnings=[
            f"stages not updated: as of {batch.as_of.isoformat()} is before the last stage run's ({previous.as_of.isoformat()})"])
    report = run_stages(ctx, batch.as_of, batch)
    return ScoreReport(module="lifecycle", scored=report.customers,
                       details={"stages": report.counts, "changed": report.changed, "transitions": report.transitions})


@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    """A purchase moves its customer at once (at risk -> active, lapsed -> won back), with the last run's thresholds."""
    buyers = {i.customer_id for i in interactions if i.kind == "PURCHASE"}
    if not buyers:
        return
    from plugins.lifecycle.history import refresh_customers

    refresh_customers(ctx, buyers)


@hookimpl
def guanxi_customer_fields():
    from plugins.lifecycle.schema import LifecycleCustomerFields

    return [LifecycleCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.lifecycle.schema import (CUSTOMER_FILTERS, CUSTOMER_ORDERS, LifecycleMutation, LifecycleQuery,
                                          lifecycle_batch, load_winback_list)
    from plugins.lifecycle.schema_analytics import LifecycleAnalyticsQuery  # cohorts, rates, validation, work list
    from plugins.lifecycle.schema_overview import LifecycleOverviewQuery  # the console's home page

    return {"query": [LifecycleQuery, LifecycleAnalyticsQuery, LifecycleOverviewQuery], "mutation": [LifecycleMutation], "customer_filters": CUSTOMER_FILTERS,
            "customer_orders": CUSTOMER_ORDERS, "customer_batches": {"lifecycle": lifecycle_batch},
            "nodes": {"LifecycleWinbackList": load_winback_list}}


@hookimpl
def guanxi_cli_commands():
    from plugins.lifecycle.cli import lifecycle_app

    return [("lifecycle", lifecycle_app)]


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """History, reasons and list places follow the person; one stage per customer
    (the kept one's), then the kept customer is re-staged on the combined purchases."""
    from engine.services.merge import move_customer_rows
    from plugins.lifecycle.history import refresh_customers
    from plugins.lifecycle.models import LifecycleChurnReason, LifecycleCustomer, LifecycleTransition, LifecycleWinbackMember

    move_customer_rows(ctx, LifecycleCustomer.__table__, kept_id, merged_id, one_per=())
    move_customer_rows(ctx, LifecycleTransition.__table__, kept_id, merged_id)
    move_customer_rows(ctx, LifecycleChurnReason.__table__, kept_id, merged_id)
    move_customer_rows(ctx, LifecycleWinbackMember.__table__, kept_id, merged_id, one_per=("list_id",))
    if "lifecycle" in ctx.enabled_modules:
        refresh_customers(ctx, [kept_id])


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.lifecycle.export import lifecycle_export_columns

    return lifecycle_export_columns(ctx)


@hookimpl
def guanxi_demo_data(ctx, seed):
    from plugins.lifecycle.demo import add_demo_data

    return add_demo_data(ctx, seed)


@hookimpl
def guanxi_warm_up():
    """The analytics' numba kernels (cohorts, risk), compiled or loaded before the API serves."""
    from plugins.lifecycle import kernels

    kernels.warm_up()
