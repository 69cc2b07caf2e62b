"""The clv module's hook implementations: tables, batch scoring, the validate command, re-scoring job."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.jobs import Job
from engine.plugins import ModuleInfo
from engine.scoring import PurchaseBatch
from plugins.clv.settings import ClvSettings

RESCORE_CHECK_MINUTES = 5  # how often the job looks; the tenant's schedule_minutes decides when it scores


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="clv",
        title_zh="客户终身价值",
        title_en="Customer lifetime value",
        description="Buy-till-you-die models (BG/NBD, Pareto/NBD, Gamma-Gamma) predicting purchases, survival and value.",
        settings_model=ClvSettings,
    )


@hookimpl
def guanxi_models():
    from plugins.clv.models import ClvRun, ClvScore

    return [ClvRun, ClvScore]


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")



@hookimpl
def guanxi_score(ctx, batch: PurchaseBatch):
    if "clv" not in batch.modules:
        return None
    from plugins.clv.service import score_tenant

    return score_tenant(ctx, batch)


def _rescore_if_due(ctx) -> str:
    # scipy loads when the job runs, not when the plugin does (every CLI command loads the plugins).
    from plugins.clv.service import rescore_if_due

    return rescore_if_due(ctx)


@hookimpl
def guanxi_jobs():
    return [Job(name="clv.rescore", module="clv", every_minutes=RESCORE_CHECK_MINUTES, run=_rescore_if_due)]


@hookimpl
def guanxi_cli_commands():
    from plugins.clv.cli import clv_app

    return [("clv", clv_app)]


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """One score per customer: the kept customer's stays (the merged one's
    moves when it has none) until the next run scores the combined history."""
    from engine.services.merge import move_customer_rows
    from plugins.clv.models import ClvScore

    move_customer_rows(ctx, ClvScore.__table__, kept_id, merged_id, one_per=())


@hookimpl
def guanxi_customer_fields():
    from plugins.clv.schema import ClvCustomerFields

    return [ClvCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.clv.distribution import ClvDistributionQuery
    from plugins.clv.schema import CUSTOMER_FILTERS, CUSTOMER_ORDERS, ClvQuery, clv_batch

    return {"query": [ClvQuery, ClvDistributionQuery], "customer_filters": CUSTOMER_FILTERS, "customer_orders": CUSTOMER_ORDERS,
            "customer_batches": {"clv": clv_batch}}


@hookimpl
def guanxi_warm_up():
    from plugins.clv import kernels, summary

    kernels.warm_up()
    summary.warm_up()


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.clv.export import clv_export_columns

    return clv_export_columns(ctx)
