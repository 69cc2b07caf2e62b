"""The clv module's columns in customer exports: the latest fit's predictions."""

from __future__ import annotations

from sqlalchemy import select

from engine.services.export_columns import ExportColumns
from plugins.clv.models import ClvScore

FIELDS = ("predicted_value", "expected_spend", "probability_alive", "expected_purchases_30",
          "expected_purchases_90", "expected_purchases_365", "historical_value", "value_decile")


def clv_export_columns(ctx) -> ExportColumns:
    columns = [getattr(ClvScore, name).label(f"clv_{name}") for name in FIELDS]
    return ExportColumns(select(ClvScore.customer_id, *columns).where(ClvScore.tenant_id == ctx.tenant_id))
