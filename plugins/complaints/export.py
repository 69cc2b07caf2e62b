"""The complaints module's columns in customer exports: how many cases, how many
still open, the latest opened (counts and a time only: case text stays out)."""

from __future__ import annotations

import sqlalchemy as sa

from engine.services.export_columns import ExportColumns
from plugins.complaints.models import ComplaintCase
from plugins.complaints.workflow import OPEN_STATUSES

OPEN_VALUES = tuple(sorted(status.value for status in OPEN_STATUSES))


def complaints_export_columns(ctx) -> ExportColumns:
    tenant_id = ctx.tenant_id
    is_open = sa.case((ComplaintCase.status.in_(OPEN_VALUES), 1), else_=0)

    def load(session, ids):
        rows = session.execute(
            sa.select(ComplaintCase.customer_id, sa.func.count(), sa.func.sum(is_open), sa.func.max(ComplaintCase.opened_at))
            .where(ComplaintCase.tenant_id == tenant_id, ComplaintCase.customer_id.in_(ids))
            .group_by(ComplaintCase.customer_id)
        ).all()
        return {row[0]: (row[1], int(row[2] or 0), row[3]) for row in rows}

    return ExportColumns(names=["complaints_total", "complaints_open", "complaints_last_opened_at"], load=load)
