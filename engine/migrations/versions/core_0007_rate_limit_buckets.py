"""core: per-key request counters for the API's rate limits (when no Redis is configured).

Revision ID: core_0007
Revises: core_0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'core_0007'
down_revision = 'core_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limit_buckets',
    sa.Column('key_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('minute', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key_id', 'minute')
    )


def downgrade() -> None:
    op.drop_table('rate_limit_buckets')
