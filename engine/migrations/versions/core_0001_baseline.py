"""The schema of the last release before migrations (baseline).

A database that release built with create_all has all of ``creates_tables``:
``guanxi db upgrade`` stamps it at this revision instead of creating them.

Revision ID: core_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'core_0001'
down_revision = None
branch_labels = ('core',)
creates_tables = ('tenants', 'api_keys', 'audit_events', 'customers', 'import_jobs', 'tenant_modules', 'interactions')
depends_on = None


def upgrade() -> None:
    op.create_table('tenants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tenants_slug'), ['slug'], unique=True)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('last_used_at', engine.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_prefix'), ['prefix'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=64), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('changes', engine.types.Json, nullable=False),
    sa.Column('at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_tenant_id', ['tenant_id', 'id'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('gender', sa.String(length=16), nullable=True),
    sa.Column('birthday', sa.Date(), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('wechat_id', sa.String(length=64), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('occupation', sa.String(length=100), nullable=True),
    sa.Column('income_band', sa.String(length=32), nullable=True),
    sa.Column('acquisition_channel', sa.String(length=16), nullable=True),
    sa.Column('preferred_channel', sa.String(length=16), nullable=True),
    sa.Column('price_sensitivity', sa.String(length=16), nullable=True),
    sa.Column('skin_type', sa.String(length=32), nullable=True),
    sa.Column('preferences', sa.String(length=2000), nullable=True),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('referrer_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('lifecycle_stage', sa.String(length=16), nullable=False),
    sa.Column('tags', engine.types.Json, nullable=False),
    sa.Column('attributes', engine.types.Json, nullable=False),
    sa.Column('consent', engine.types.Json, nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('deleted_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('erased_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('first_purchase_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('last_purchase_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('last_purchase_day', sa.Integer(), nullable=True),
    sa.Column('purchase_count', sa.Integer(), nullable=False),
    sa.Column('purchase_days', sa.Integer(), nullable=False),
    sa.Column('total_spent', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('refunded_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['referrer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_customers_tenant_code')
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_tenant_email', ['tenant_id', 'email'], unique=False)
        batch_op.create_index('ix_customers_tenant_id_desc', ['tenant_id', 'id'], unique=False)
        batch_op.create_index('ix_customers_tenant_last_purchase', ['tenant_id', 'last_purchase_at', 'id'], unique=False)
        batch_op.create_index('ix_customers_tenant_phone', ['tenant_id', 'phone'], unique=False)
        batch_op.create_index('ix_customers_tenant_total_spent', ['tenant_id', 'total_spent', 'id'], unique=False)
        # Last: without statistics SQLite weighs indexes alike and takes the
        # newest, and this one serves the default list and its count.
        batch_op.create_index('ix_customers_tenant_live_newest', ['tenant_id', 'created_at', 'id'], unique=False, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))

    op.create_table('import_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('rows_stored', sa.Integer(), nullable=False),
    sa.Column('rows_duplicate', sa.Integer(), nullable=False),
    sa.Column('rows_invalid', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('finished_at', engine.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'kind', 'file_sha256', name='uq_import_jobs_file')
    )
    op.create_table('tenant_modules',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('module', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('settings', engine.types.Json, nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'module')
    )
    op.create_table('interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('local_day', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('payload', engine.types.Json, nullable=False),
    sa.Column('recorded_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['reverses_id'], ['interactions.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'external_id', name='uq_interactions_tenant_external_id')
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index('ix_interactions_tenant_customer', ['tenant_id', 'customer_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_interactions_tenant_kind_time', ['tenant_id', 'kind', 'occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_tenant_kind_time')
        batch_op.drop_index('ix_interactions_tenant_customer')

    op.drop_table('interactions')
    op.drop_table('tenant_modules')
    op.drop_table('import_jobs')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_tenant_total_spent')
        batch_op.drop_index('ix_customers_tenant_phone')
        batch_op.drop_index('ix_customers_tenant_live_newest', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.drop_index('ix_customers_tenant_last_purchase')
        batch_op.drop_index('ix_customers_tenant_id_desc')
        batch_op.drop_index('ix_customers_tenant_email')

    op.drop_table('customers')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_tenant_id')

    op.drop_table('audit_events')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_api_keys_prefix'))

    op.drop_table('api_keys')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tenants_slug'))

    op.drop_table('tenants')
