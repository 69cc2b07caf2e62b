"""The rfm module's columns in customer exports: the latest run's segment and scores."""

from __future__ import annotations

from sqlalchemy import select

from engine.services.export_columns import ExportColumns
from plugins.rfm.models import RfmScore

FIELDS = ("segment", "r_score", "f_score", "m_score", "recency_days", "frequency", "monetary")


def rfm_export_columns(ctx) -> ExportColumns:
    tenant_id = ctx.tenant_id
    columns = [getattr(RfmScore, name) for name in FIELDS]

    def load(session, ids):
        rows = session.execute(
            select(RfmScore.customer_id, *columns).where(RfmScore.tenant_id == tenant_id, RfmScore.customer_id.in_(ids))
        ).all()
        return {row[0]: row[1:] for row in rows}

    return ExportColumns(names=[f"rfm_{name}" for name in FIELDS], load=load)
