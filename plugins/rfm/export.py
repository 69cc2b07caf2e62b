"""The rfm module's columns in customer exports: the latest run's segment and scores."""

from __future__ import annotations

from sqlalchemy import select

from engine.services.export_columns import ExportColumns
from plugins.rfm.models import RfmScore

FIELDS = ("segment", "r_score", "f_score", "m_score", "recency_days", "frequency", "monetary")


def rfm_export_columns(ctx) -> ExportColumns:
    columns = [getattr(RfmScore, name).label(f"rfm_{name}") for name in FIELDS]
    return ExportColumns(select(RfmScore.customer_id, *columns).where(RfmScore.tenant_id == ctx.tenant_id))
