"""The satisfaction module's columns in customer exports: the latest answer (scores only, no free text)."""

from __future__ import annotations

import sqlalchemy as sa

from engine.services.export_columns import ExportColumns
from plugins.satisfaction.models import SatisfactionLatest


def satisfaction_export_columns(ctx) -> ExportColumns:
    latest = SatisfactionLatest
    return ExportColumns(
        sa.select(latest.customer_id, latest.score.label("satisfaction_latest_score"),
                  latest.nps.label("satisfaction_latest_nps"), latest.nps_class.label("satisfaction_nps_class"),
                  latest.answered_at.label("satisfaction_answered_at"))
        .where(latest.tenant_id == ctx.tenant_id)
    )
