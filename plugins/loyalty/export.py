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
    tenant_id = ctx.tenant_id

    def load(session, ids):
        rows = session.execute(
            select(LoyaltyMember.customer_id, *COLUMNS.values())
            .where(LoyaltyMember.tenant_id == tenant_id, LoyaltyMember.customer_id.in_(ids))
        ).all()
        return {row[0]: row[1:] for row in rows}

    return ExportColumns(names=list(COLUMNS), load=load)
