"""The schema of the last release before migrations (baseline).

A database that release built with create_all has all of ``creates_tables``:
``guanxi db upgrade`` stamps it at this revision instead of creating them.

Revision ID: complaints_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'complaints_0001'
down_revision = None
branch_labels = ('complaints',)
creates_tables = ('complaint_cases', 'complaint_events')
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('complaint_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('interaction_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=4000), nullable=True),
    sa.Column('department', sa.String(length=64), nullable=True),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('promised_reply_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('promise_made_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('promise_fulfilled_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('promise_kept', sa.Boolean(), nullable=True),
    sa.Column('resolution', sa.String(length=4000), nullable=True),
    sa.Column('root_cause', sa.String(length=64), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('opened_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('first_response_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('resolved_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('closed_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('paused_since', engine.types.UtcDateTime(), nullable=True),
    sa.Column('paused_minutes', sa.Float(), nullable=False),
    sa.Column('sla_policy', sa.String(length=64), nullable=True),
    sa.Column('sla_calendar', sa.String(length=64), nullable=True),
    sa.Column('first_response_target', sa.Integer(), nullable=True),
    sa.Column('resolution_target', sa.Integer(), nullable=True),
    sa.Column('first_response_due', engine.types.UtcDateTime(), nullable=True),
    sa.Column('resolution_due', engine.types.UtcDateTime(), nullable=True),
    sa.Column('first_response_minutes', sa.Float(), nullable=True),
    sa.Column('resolution_minutes', sa.Float(), nullable=True),
    sa.Column('first_response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalated_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('first_response_minute', sa.Integer(), nullable=True),
    sa.Column('resolution_minute', sa.Integer(), nullable=True),
    sa.Column('stat_code', sa.Integer(), sa.Computed('(CASE WHEN sla_policy IS NOT NULL AND resolved_at IS NOT NULL AND NOT (first_response_breached OR resolution_breached) THEN 1 ELSE 0 END) + (CASE WHEN sla_policy IS NOT NULL AND (first_response_breached OR resolution_breached) THEN 2 ELSE 0 END) + (CASE WHEN promised_reply_at IS NOT NULL THEN 4 ELSE 0 END) + (CASE WHEN promise_kept IS NULL THEN 0 WHEN promise_kept THEN 8 ELSE 16 END) + (CASE WHEN resolved_at IS NOT NULL OR reopen_count > 0 THEN 32 ELSE 0 END) + (CASE WHEN reopen_count > 0 THEN 64 ELSE 0 END) + COALESCE(satisfaction, 0) * 128', persisted=True), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['complaint_cases.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaint_cases', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_cases_assignee', ['tenant_id', 'assignee', 'status'], unique=False)
        batch_op.create_index('ix_complaint_cases_category', ['tenant_id', 'category', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_customer', ['tenant_id', 'customer_id', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_first_minute', ['tenant_id', 'first_response_minute', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_opened', ['tenant_id', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_parent', ['tenant_id', 'parent_id'], unique=False)
        batch_op.create_index('ix_complaint_cases_promises', ['tenant_id', 'promised_reply_at'], unique=False, sqlite_where=sa.text('promised_reply_at IS NOT NULL AND promise_kept IS NULL AND promise_fulfilled_at IS NULL'), postgresql_where=sa.text('promised_reply_at IS NOT NULL AND promise_kept IS NULL AND promise_fulfilled_at IS NULL'))
        batch_op.create_index('ix_complaint_cases_queue', ['tenant_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_complaint_cases_resolution_minute', ['tenant_id', 'resolution_minute', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_root_cause', ['tenant_id', 'root_cause', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_stats', ['tenant_id', 'category', 'status', 'stat_code', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_store', ['tenant_id', 'store', 'opened_at'], unique=False)
        batch_op.create_index('ix_complaint_cases_sweep', ['tenant_id', 'id', 'opened_at', 'first_response_target', 'resolution_target', 'paused_minutes', 'paused_since', 'first_response_at', 'escalation_level', 'sla_calendar', 'first_response_breached', 'resolution_breached'], unique=False, sqlite_where=sa.text("status IN ('received', 'routed', 'in_progress', 'waiting_on_customer') AND sla_policy IS NOT NULL"), postgresql_where=sa.text("status IN ('received', 'routed', 'in_progress', 'waiting_on_customer') AND sla_policy IS NOT NULL"))

    op.create_table('complaint_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=4000), nullable=True),
    sa.Column('data', engine.types.Json, nullable=False),
    sa.Column('at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['complaint_cases.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_events_case', ['tenant_id', 'case_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint_events', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_events_case')

    op.drop_table('complaint_events')
    with op.batch_alter_table('complaint_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_cases_sweep', sqlite_where=sa.text("status IN ('received', 'routed', 'in_progress', 'waiting_on_customer') AND sla_policy IS NOT NULL"), postgresql_where=sa.text("status IN ('received', 'routed', 'in_progress', 'waiting_on_customer') AND sla_policy IS NOT NULL"))
        batch_op.drop_index('ix_complaint_cases_store')
        batch_op.drop_index('ix_complaint_cases_stats')
        batch_op.drop_index('ix_complaint_cases_root_cause')
        batch_op.drop_index('ix_complaint_cases_resolution_minute')
        batch_op.drop_index('ix_complaint_cases_queue')
        batch_op.drop_index('ix_complaint_cases_promises', sqlite_where=sa.text('promised_reply_at IS NOT NULL AND promise_kept IS NULL AND promise_fulfilled_at IS NULL'), postgresql_where=sa.text('promised_reply_at IS NOT NULL AND promise_kept IS NULL AND promise_fulfilled_at IS NULL'))
        batch_op.drop_index('ix_complaint_cases_parent')
        batch_op.drop_index('ix_complaint_cases_opened')
        batch_op.drop_index('ix_complaint_cases_first_minute')
        batch_op.drop_index('ix_complaint_cases_customer')
        batch_op.drop_index('ix_complaint_cases_category')
        batch_op.drop_index('ix_complaint_cases_assignee')

    op.drop_table('complaint_cases')
