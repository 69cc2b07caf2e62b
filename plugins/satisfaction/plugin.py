"""The satisfaction module's hook implementations."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.satisfaction import hookspecs as satisfaction_hookspecs
from plugins.satisfaction.settings import SatisfactionSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="satisfaction",
        title_zh="满意度调查",
        title_en="Satisfaction",
        description="Satisfaction surveys by token link or phone, the satisfaction index and its drivers, "
                    "and low answers looped back into complaint handling.",
        settings_model=SatisfactionSettings,
        # Free text a customer typed (comments) lives in responses.extra: guanxi_customer_erased clears it.
        hookspecs=satisfaction_hookspecs,
    )


@hookimpl
def guanxi_models():
    from plugins.satisfaction.models import ALL_MODELS

    return list(ALL_MODELS)


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")


@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    from plugins.satisfaction.invitations import invite_after_purchases

    invite_after_purchases(ctx, interactions)


@hookimpl
def guanxi_complaint_status_changed(ctx, change):
    from plugins.satisfaction.loop import on_complaint_status_changed

    on_complaint_status_changed(ctx, change)


@hookimpl
def guanxi_jobs():
    from plugins.satisfaction.jobs import JOBS

    return JOBS


@hookimpl
def guanxi_cli_commands():
    from plugins.satisfaction.cli import satisfaction_app

    return [("satisfaction", satisfaction_app)]


@hookimpl
def guanxi_http_routes(gx):
    from plugins.satisfaction.public import routes

    return routes(gx)


@hookimpl
def guanxi_customer_erased(ctx, customer_id):
    from plugins.satisfaction.answers import erase_customer_answers

    erase_customer_answers(ctx, customer_id)


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    from plugins.satisfaction.answers import merge_customer_answers

    merge_customer_answers(ctx, kept_id, merged_id)


@hookimpl
def guanxi_customer_fields():
    from plugins.satisfaction.schema import SatisfactionCustomerFields

    return [SatisfactionCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.satisfaction.schema import contribution

    return contribution()


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.satisfaction.export import satisfaction_export_columns

    return satisfaction_export_columns(ctx)


@hookimpl
def guanxi_demo_data(ctx, seed):
    from plugins.satisfaction.demo import add_demo_wave

    return add_demo_wave(ctx, seed)
