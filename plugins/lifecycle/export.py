"""The lifecycle module's columns in customer exports: stage, since when, risk and value at risk.

Named ``lifecycle_retention_stage`` rather than ``lifecycle_stage``: the core
export already has a ``lifecycle_stage`` column (the relationship stage,
考察期 ... 退化期), a different thing.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.services.export_columns import ExportColumns
from plugins.lifecycle.models import LifecycleCustomer

COLUMNS = {
    "lifecycle_retention_stage": LifecycleCustomer.stage,
    "lifecycle_stage_since": LifecycleCustomer.stage_since,
    "lifecycle_risk": LifecycleCustomer.risk,
    "lifecycle_value_at_risk": LifecycleCustomer.value_at_risk,
}


def lifecycle_export_columns(ctx) -> ExportColumns:
    columns = [column.label(name) for name, column in COLUMNS.items()]
    return ExportColumns(select(LifecycleCustomer.customer_id, *columns).where(LifecycleCustomer.tenant_id == ctx.tenant_id))
