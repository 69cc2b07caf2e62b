"""The complaints module's hook implementations."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.complaints import hookspecs as complaint_hookspecs
from plugins.complaints.settings import ComplaintsSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="complaints",
        title_zh="投诉处理",
        title_en="Complaints",
        description="The six-step complaint and service workflow with SLAs and escalation.",
        settings_model=ComplaintsSettings,
        # Free text staff and customers type: it may name the person or quote a phone number.
        personal_fields={"complaint_cases": ("description", "resolution"), "complaint_events": ("note",)},
        hookspecs=complaint_hookspecs,
    )


@hookimpl
def guanxi_models():
    from plugins.complaints.models import ComplaintCase, ComplaintEvent

    return [ComplaintCase, ComplaintEvent]


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")



@hookimpl
def guanxi_validate_interactions(ctx, items):
    if not any(item.get("kind") == "COMPLAINT" for item in items):
        return None
    from plugins.complaints.service import complaint_item_errors

    return complaint_item_errors(ctx, items)


@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    if not any(i.kind == "COMPLAINT" for i in interactions):
        return
    from plugins.complaints.service import open_cases_from_interactions

    open_cases_from_interactions(ctx, interactions)


@hookimpl
def guanxi_jobs():
    from plugins.complaints.jobs import JOBS

    return JOBS


@hookimpl
def guanxi_cli_commands():
    from plugins.complaints.cli import complaints_app

    return [("complaints", complaints_app)]


@hookimpl
def guanxi_customer_erased(ctx, customer_id):
    from plugins.complaints.service import erase_customer_cases

    erase_customer_cases(ctx, customer_id)


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """The merged customer's cases, open or closed, are the kept customer's."""
    import sqlalchemy as sa

    from plugins.complaints.models import ComplaintCase

    cases = ComplaintCase.__table__
    ctx.session.execute(sa.update(cases).where(cases.c.tenant_id == ctx.tenant_id, cases.c.customer_id == merged_id)
                        .values(customer_id=kept_id))


@hookimpl
def guanxi_customer_fields():
    from plugins.complaints.schema import ComplaintCustomerFields

    return [ComplaintCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.complaints.schema import ComplaintsMutation, ComplaintsQuery, complaints_batch, load_complaint

    return {"query": [ComplaintsQuery], "mutation": [ComplaintsMutation], "nodes": {"Complaint": load_complaint},
            "customer_batches": {"complaints": complaints_batch}}


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.complaints.export import complaints_export_columns

    return complaints_export_columns(ctx)


@hookimpl
def guanxi_demo_data(ctx, seed):
    from plugins.complaints.demo import add_demo_history

    return add_demo_history(ctx, seed)
