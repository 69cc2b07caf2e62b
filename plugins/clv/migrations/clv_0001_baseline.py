"""The schema of the last release before migrations (baseline).

A database that release built with create_all has all of ``creates_tables``:
``guanxi db upgrade`` stamps it at this revision instead of creating them.

Revision ID: clv_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'clv_0001'
down_revision = None
branch_labels = ('clv',)
creates_tables = ('clv_runs', 'clv_scores')
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('clv_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('parameters', engine.types.Json, nullable=False),
    sa.Column('log_likelihood', sa.Float(), nullable=False),
    sa.Column('spend_model', sa.String(length=16), nullable=False),
    sa.Column('spend_parameters', engine.types.Json, nullable=False),
    sa.Column('spend_log_likelihood', sa.Float(), nullable=True),
    sa.Column('spend_mean', sa.Float(), nullable=True),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.Column('unique_rows', sa.Integer(), nullable=False),
    sa.Column('spend_customers', sa.Integer(), nullable=False),
    sa.Column('fitted_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('as_of', engine.types.UtcDateTime(), nullable=False),
    sa.Column('settings', engine.types.Json, nullable=False),
    sa.Column('warnings', engine.types.Json, nullable=False),
    sa.Column('validation', engine.types.Json, nullable=True),
    sa.Column('scored', sa.Integer(), nullable=False),
    sa.Column('unscored', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('clv_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clv_runs_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('clv_scores',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.Integer(), nullable=False),
    sa.Column('recency', sa.Float(), nullable=False),
    sa.Column('T', sa.Float(), nullable=False),
    sa.Column('monetary_value', sa.Float(), nullable=False),
    sa.Column('probability_alive', sa.Float(), nullable=False),
    sa.Column('expected_purchases_30', sa.Float(), nullable=False),
    sa.Column('expected_purchases_90', sa.Float(), nullable=False),
    sa.Column('expected_purchases_365', sa.Float(), nullable=False),
    sa.Column('expected_spend', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('predicted_value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('historical_value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('value_decile', sa.Integer(), nullable=False),
    sa.Column('holdout_actual', sa.Float(), nullable=True),
    sa.Column('holdout_predicted', sa.Float(), nullable=True),
    sa.Column('computed_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id')
    )
    with op.batch_alter_table('clv_scores', schema=None) as batch_op:
        batch_op.create_index('ix_clv_scores_tenant_value', ['tenant_id', 'predicted_value', 'customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clv_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_clv_scores_tenant_value')

    op.drop_table('clv_scores')
    with op.batch_alter_table('clv_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clv_runs_tenant_id'))

    op.drop_table('clv_runs')
