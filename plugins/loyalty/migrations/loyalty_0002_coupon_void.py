"""loyalty: coupons can be voided (``voided_at``, ``void_reason``).

Revision ID: loyalty_0002
Revises: loyalty_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'loyalty_0002'
down_revision = 'loyalty_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loyalty_coupons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', engine.types.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('loyalty_coupons', schema=None) as batch_op:
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')
