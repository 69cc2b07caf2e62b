"""The loyalty module's columns in customer exports: membership, tier and points."""

from __future__ import annotations

from sqlalchemy import select

from engine.services.export_columns import ExportColumns
from plugins.loyalty.models import LoyaltyMember

COLUMNS = {
    "loyalty_number": LoyaltyMember.number,
    "loyalty_status": LoyaltyMember.status,
    "loyalty_tier": LoyaltyMember.tier_code,
    "loyalty_points": LoyaltyMember.balance,
    "loyalty_enrolled_at": LoyaltyMember.enrolled_at,
}


def loyalty_export_columns(ctx) -> ExportColumns:
    columns = [column.label(name) for name, column in COLUMNS.items()]
    return ExportColumns(select(LoyaltyMember.customer_id, *columns).where(LoyaltyMember.tenant_id == ctx.tenant_id))
