"""The schema of the last release before migrations (baseline).

A database that release built with create_all has all of ``creates_tables``:
``guanxi db upgrade`` stamps it at this revision instead of creating them.

Revision ID: rfm_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'rfm_0001'
down_revision = None
branch_labels = ('rfm',)
creates_tables = ('rfm_scores', 'rfm_runs')
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('rfm_scores',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('recency_days', sa.Float(), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('monetary', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('r_score', sa.Integer(), nullable=False),
    sa.Column('f_score', sa.Integer(), nullable=False),
    sa.Column('m_score', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=32), nullable=False),
    sa.Column('computed_at', engine.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id')
    )
    with op.batch_alter_table('rfm_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rfm_scores_segment'), ['segment'], unique=False)

    op.create_table('rfm_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('computed_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('as_of', engine.types.UtcDateTime(), nullable=False),
    sa.Column('settings', engine.types.Json, nullable=False),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('unscored', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rfm_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rfm_runs_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rfm_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rfm_runs_tenant_id'))

    op.drop_table('rfm_runs')
    with op.batch_alter_table('rfm_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rfm_scores_segment'))

    op.drop_table('rfm_scores')
