"""lifecycle: stages, transitions, churn reasons and win-back lists.

Revision ID: lifecycle_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'lifecycle_0001'
down_revision = None
branch_labels = ('lifecycle',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('lifecycle_customers',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('stage_since', engine.types.UtcDateTime(), nullable=False),
    sa.Column('expected_gap_days', sa.Float(), nullable=True),
    sa.Column('risk', sa.Float(), nullable=True),
    sa.Column('value_at_risk', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('risk_source', sa.String(length=24), nullable=True),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id'),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('lifecycle_customers', schema=None) as batch_op:
        batch_op.create_index('ix_lifecycle_customers_stage', ['tenant_id', 'stage', 'customer_id'], unique=False)

    op.create_table('lifecycle_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('as_of', engine.types.UtcDateTime(), nullable=False),
    sa.Column('computed_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('thresholds', engine.types.Json, nullable=False),
    sa.Column('counts', engine.types.Json, nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('risk_source', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lifecycle_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lifecycle_runs_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('lifecycle_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=16), nullable=True),
    sa.Column('to_stage', sa.String(length=16), nullable=False),
    sa.Column('at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('recorded_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lifecycle_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_lifecycle_transitions_at', ['tenant_id', 'at'], unique=False)
        batch_op.create_index('ix_lifecycle_transitions_customer', ['tenant_id', 'customer_id', 'at'], unique=False)

    op.create_table('lifecycle_winback_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('value_threshold', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lifecycle_winback_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lifecycle_winback_lists_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('lifecycle_churn_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lifecycle_churn_reasons', schema=None) as batch_op:
        batch_op.create_index('ix_lifecycle_churn_reasons_customer', ['tenant_id', 'customer_id', 'recorded_at'], unique=False)
        batch_op.create_index('ix_lifecycle_churn_reasons_recorded', ['tenant_id', 'recorded_at'], unique=False)

    op.create_table('lifecycle_winback_members',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['list_id'], ['lifecycle_winback_lists.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('list_id', 'customer_id')
    )
    with op.batch_alter_table('lifecycle_winback_members', schema=None) as batch_op:
        batch_op.create_index('ix_lifecycle_winback_members_customer', ['tenant_id', 'customer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lifecycle_winback_members', schema=None) as batch_op:
        batch_op.drop_index('ix_lifecycle_winback_members_customer')

    op.drop_table('lifecycle_winback_members')
    with op.batch_alter_table('lifecycle_churn_reasons', schema=None) as batch_op:
        batch_op.drop_index('ix_lifecycle_churn_reasons_recorded')
        batch_op.drop_index('ix_lifecycle_churn_reasons_customer')

    op.drop_table('lifecycle_churn_reasons')
    with op.batch_alter_table('lifecycle_winback_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lifecycle_winback_lists_tenant_id'))

    op.drop_table('lifecycle_winback_lists')
    with op.batch_alter_table('lifecycle_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_lifecycle_transitions_customer')
        batch_op.drop_index('ix_lifecycle_transitions_at')

    op.drop_table('lifecycle_transitions')
    with op.batch_alter_table('lifecycle_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lifecycle_runs_tenant_id'))

    op.drop_table('lifecycle_runs')
    with op.batch_alter_table('lifecycle_customers', schema=None) as batch_op:
        batch_op.drop_index('ix_lifecycle_customers_stage')

    op.drop_table('lifecycle_customers')
