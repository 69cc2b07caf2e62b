"""The schema of the last release before migrations (baseline).

A database that release built with create_all has all of ``creates_tables``:
``guanxi db upgrade`` stamps it at this revision instead of creating them.

Revision ID: loyalty_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'loyalty_0001'
down_revision = None
branch_labels = ('loyalty',)
creates_tables = ('loyalty_expiry_sweeps', 'loyalty_rewards', 'loyalty_members', 'loyalty_coupons', 'loyalty_ledger', 'loyalty_lots', 'loyalty_tier_history')
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('loyalty_expiry_sweeps',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('swept_through', engine.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id')
    )
    op.create_table('loyalty_rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('points_price', sa.BigInteger(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('value', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_loyalty_rewards_code')
    )
    op.create_table('loyalty_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tier_code', sa.String(length=32), nullable=False),
    sa.Column('tier_achieved_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('enrolled_via', sa.String(length=16), nullable=False),
    sa.Column('enrolled_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('referrer_customer_id', sa.Integer(), nullable=True),
    sa.Column('first_purchase_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['referrer_customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'customer_id', name='uq_loyalty_members_customer'),
    sa.UniqueConstraint('tenant_id', 'number', name='uq_loyalty_members_number')
    )
    with op.batch_alter_table('loyalty_members', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_members_tenant_tier', ['tenant_id', 'tier_code'], unique=False)

    op.create_table('loyalty_coupons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('valid_from', engine.types.UtcDateTime(), nullable=False),
    sa.Column('valid_until', engine.types.UtcDateTime(), nullable=False),
    sa.Column('used_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('order_ref', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], ),
    sa.ForeignKeyConstraint(['reward_id'], ['loyalty_rewards.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_loyalty_coupons_code')
    )
    with op.batch_alter_table('loyalty_coupons', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_coupons_member', ['tenant_id', 'member_id'], unique=False)

    op.create_table('loyalty_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=True),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('details', engine.types.Json, nullable=False),
    sa.Column('at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('recorded_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name='uq_loyalty_ledger_key')
    )
    with op.batch_alter_table('loyalty_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_ledger_member', ['tenant_id', 'member_id', 'id'], unique=False)

    op.create_table('loyalty_lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('earned_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('expires_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('expired', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_lots_member', ['tenant_id', 'member_id', 'earned_at', 'id'], unique=False)
        batch_op.create_index('ix_loyalty_lots_open_expiry', ['tenant_id', 'expires_at', 'member_id', 'remaining'], unique=False, sqlite_where=sa.text('remaining > 0'), postgresql_where=sa.text('remaining > 0'))

    op.create_table('loyalty_tier_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('from_tier', sa.String(length=32), nullable=True),
    sa.Column('to_tier', sa.String(length=32), nullable=False),
    sa.Column('why', sa.String(length=300), nullable=False),
    sa.Column('at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['loyalty_members.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loyalty_tier_history', schema=None) as batch_op:
        batch_op.create_index('ix_loyalty_tier_history_member', ['tenant_id', 'member_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loyalty_tier_history', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_tier_history_member')

    op.drop_table('loyalty_tier_history')
    with op.batch_alter_table('loyalty_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_lots_open_expiry', sqlite_where=sa.text('remaining > 0'), postgresql_where=sa.text('remaining > 0'))
        batch_op.drop_index('ix_loyalty_lots_member')

    op.drop_table('loyalty_lots')
    with op.batch_alter_table('loyalty_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_ledger_member')

    op.drop_table('loyalty_ledger')
    with op.batch_alter_table('loyalty_coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_coupons_member')

    op.drop_table('loyalty_coupons')
    with op.batch_alter_table('loyalty_members', schema=None) as batch_op:
        batch_op.drop_index('ix_loyalty_members_tenant_tier')

    op.drop_table('loyalty_members')
    op.drop_table('loyalty_rewards')
    op.drop_table('loyalty_expiry_sweeps')
