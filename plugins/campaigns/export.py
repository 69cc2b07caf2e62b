"""The campaigns module's columns in customer exports: how many messages the
customer was sent and when the latest went (no message text)."""

from __future__ import annotations

import sqlalchemy as sa

from engine.services.export_columns import ExportColumns
from plugins.campaigns.models import CampaignMessage


def campaigns_export_columns(ctx) -> ExportColumns:
    m = CampaignMessage
    return ExportColumns(
        sa.select(m.customer_id, sa.func.count().label("campaign_messages_total"),
                  sa.func.max(m.sent_at).label("campaign_messages_last_sent_at"))
        .where(m.tenant_id == ctx.tenant_id)
        .group_by(m.customer_id)
    )
