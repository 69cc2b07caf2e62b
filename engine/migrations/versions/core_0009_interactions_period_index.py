"""core: the (tenant, kind, time) index of interactions carries the columns
period reports sum and group by (customer, local day, amount, store,
channel), so they read a period's purchases from the index alone.

Revision ID: core_0009
Revises: core_0008
"""

from __future__ import annotations

from alembic import op

revision = 'core_0009'
down_revision = 'core_0008'
branch_labels = None
depends_on = None

NAME = 'ix_interactions_tenant_kind_time'


def upgrade() -> None:
    op.drop_index(NAME, table_name='interactions')
    op.create_index(NAME, 'interactions', ['tenant_id', 'kind', 'occurred_at', 'customer_id', 'local_day', 'amount',
                                           'store', 'channel'], unique=False)


def downgrade() -> None:
    op.drop_index(NAME, table_name='interactions')
    op.create_index(NAME, 'interactions', ['tenant_id', 'kind', 'occurred_at'], unique=False)
