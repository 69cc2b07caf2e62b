"""The webhooks module: endpoints, the outbox of events, deliveries.

Revision ID: webhooks_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'webhooks_0001'
down_revision = None
branch_labels = ('webhooks',)
depends_on = 'core_0001'

DUE_WHERE = "status IN ('pending', 'delivering')"


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('event_types', engine.types.Json, nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=400), nullable=False),
    sa.Column('previous_secret_encrypted', sa.String(length=400), nullable=True),
    sa.Column('previous_secret_expires_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_endpoints_tenant', ['tenant_id', 'id'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('data', engine.types.Json, nullable=False),
    sa.Column('occurred_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'event_id', name='uq_webhook_events_event')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_webhook_events_customer', ['tenant_id', 'customer_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('leased_until', engine.types.UtcDateTime(), nullable=True),
    sa.Column('leased_by', sa.String(length=120), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('last_attempt_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('delivered_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['next_attempt_at', 'id'], unique=False,
                              sqlite_where=sa.text(DUE_WHERE), postgresql_where=sa.text(DUE_WHERE))
        batch_op.create_index('ix_webhook_deliveries_endpoint', ['tenant_id', 'endpoint_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_event', ['tenant_id', 'event_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_order', ['endpoint_id', 'customer_id', 'id'], unique=False,
                              sqlite_where=sa.text(DUE_WHERE), postgresql_where=sa.text(DUE_WHERE))


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_events')
    op.drop_table('webhook_endpoints')
