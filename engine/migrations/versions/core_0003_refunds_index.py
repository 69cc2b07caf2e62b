"""core: index the refunds of a purchase (interactions.reverses_id).

Recording a refund sums the earlier refunds of its purchase, and loyalty's
reversal reads them; without this index both scanned the tenant's
interactions (docs/operations.md, "Refunds").

Revision ID: core_0003
Revises: core_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_tenant_reverses', ['tenant_id', 'reverses_id'], unique=False,
                              sqlite_where=sa.text('reverses_id IS NOT NULL'),
                              postgresql_where=sa.text('reverses_id IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_tenant_reverses',
                            sqlite_where=sa.text('reverses_id IS NOT NULL'),
                            postgresql_where=sa.text('reverses_id IS NOT NULL'))
