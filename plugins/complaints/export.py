"""The complaints module's columns in customer exports: how many cases, how many
still open, the latest opened (counts and a time only: case text stays out)."""

from __future__ import annotations

import sqlalchemy as sa

from engine.services.export_columns import ExportColumns
from plugins.complaints.models import ComplaintCase
from plugins.complaints.workflow import OPEN_STATUSES

OPEN_VALUES = tuple(sorted(status.value for status in OPEN_STATUSES))


def complaints_export_columns(ctx) -> ExportColumns:
    is_open = sa.case((ComplaintCase.status.in_(OPEN_VALUES), 1), else_=0)
    return ExportColumns(
        sa.select(ComplaintCase.customer_id,
                  sa.func.count().label("complaints_total"),
                  sa.func.sum(is_open).label("complaints_open"),
                  sa.func.max(ComplaintCase.opened_at).label("complaints_last_opened_at"))
        .where(ComplaintCase.tenant_id == ctx.tenant_id)
        .group_by(ComplaintCase.customer_id)
    )
