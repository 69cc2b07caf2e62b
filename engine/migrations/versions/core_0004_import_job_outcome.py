"""core: import jobs record their mode, updated rows and why they failed.

Revision ID: core_0004
Revises: core_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'core_0004'
down_revision = 'core_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.add_column(sa.Column('rows_updated', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('mode', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('failure', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.drop_column('failure')
        batch_op.drop_column('mode')
        batch_op.drop_column('rows_updated')
