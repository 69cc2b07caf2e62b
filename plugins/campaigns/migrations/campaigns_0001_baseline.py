"""The campaigns module's tables: saved segments, campaigns, their snapshots,
messages and state transitions.

Revision ID: campaigns_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'campaigns_0001'
down_revision = None
branch_labels = ('campaigns',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('campaign_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('where', engine.types.Json, nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_campaign_segments_name')
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('goal', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('theme', sa.String(length=200), nullable=True),
    sa.Column('content', sa.String(length=4000), nullable=True),
    sa.Column('format', sa.String(length=100), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('starts_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('ends_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('budget', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('channels', engine.types.Json, nullable=False),
    sa.Column('offer', engine.types.Json, nullable=False),
    sa.Column('holdout_share', sa.Float(), nullable=False),
    sa.Column('holdout_seed', sa.Integer(), nullable=False),
    sa.Column('attribution_days', sa.Integer(), nullable=False),
    sa.Column('launched_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('held_out', sa.Integer(), nullable=False),
    sa.Column('targeted', sa.Integer(), nullable=False),
    sa.Column('exclusions', engine.types.Json, nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['segment_id'], ['campaign_segments.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_state', ['tenant_id', 'state', 'id'], unique=False)

    op.create_table('campaign_members',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('holdout', sa.Boolean(), nullable=False),
    sa.Column('excluded', sa.String(length=16), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('campaign_id', 'customer_id')
    )
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_members_customer', ['tenant_id', 'customer_id'], unique=False)

    op.create_table('campaign_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.String(length=64), nullable=True),
    sa.Column('occasion', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('theme', sa.String(length=200), nullable=True),
    sa.Column('content', sa.String(length=4000), nullable=True),
    sa.Column('sent_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('delivered_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('opened_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('redeemed_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('failed_at', engine.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', name='uq_campaign_messages_event'),
    sa.UniqueConstraint('tenant_id', 'occasion', name='uq_campaign_messages_occasion')
    )
    with op.batch_alter_table('campaign_messages', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_messages_campaign', ['tenant_id', 'campaign_id'], unique=False)
        batch_op.create_index('ix_campaign_messages_customer', ['tenant_id', 'customer_id', 'sent_at'], unique=False)

    op.create_table('campaign_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaign_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_transitions_campaign', ['tenant_id', 'campaign_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('campaign_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_transitions_campaign')

    op.drop_table('campaign_transitions')
    with op.batch_alter_table('campaign_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_messages_customer')
        batch_op.drop_index('ix_campaign_messages_campaign')

    op.drop_table('campaign_messages')
    with op.batch_alter_table('campaign_members', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_members_customer')

    op.drop_table('campaign_members')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_state')

    op.drop_table('campaigns')
    op.drop_table('campaign_segments')
