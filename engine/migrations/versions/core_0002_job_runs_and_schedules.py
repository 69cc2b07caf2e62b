"""core: the job worker's tables: runs, per-tenant schedule overrides, leases.

Revision ID: core_0002
Revises: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'core_0002'
down_revision = 'core_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_leases',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=128), nullable=False),
    sa.Column('leased_until', engine.types.UtcDateTime(), nullable=True),
    sa.Column('leased_by', sa.String(length=128), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('last_started_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('last_finished_at', engine.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'job')
    )
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=128), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=True),
    sa.Column('params', engine.types.Json, nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('started_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('finished_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('result', engine.types.Json, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_open', ['status', 'id'], unique=False, sqlite_where=sa.text("status IN ('QUEUED', 'RUNNING')"), postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"))
        batch_op.create_index('ix_job_runs_tenant_id', ['tenant_id', 'id'], unique=False)
        batch_op.create_index('ix_job_runs_tenant_job', ['tenant_id', 'job', 'id'], unique=False)

    op.create_table('job_schedules',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=128), nullable=False),
    sa.Column('every_minutes', sa.Integer(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('updated_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'job')
    )


def downgrade() -> None:
    op.drop_table('job_schedules')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_tenant_job')
        batch_op.drop_index('ix_job_runs_tenant_id')
        batch_op.drop_index('ix_job_runs_open', sqlite_where=sa.text("status IN ('QUEUED', 'RUNNING')"), postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"))

    op.drop_table('job_runs')
    op.drop_table('job_leases')
