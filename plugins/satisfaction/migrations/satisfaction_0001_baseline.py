"""The satisfaction module's tables: index models, surveys, invitations (token
hashes), responses (scale answers packed one byte per question) and each
customer's latest answer.

Revision ID: satisfaction_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'satisfaction_0001'
down_revision = None
branch_labels = ('satisfaction',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('satisfaction_index_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('dimensions', engine.types.Json, nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_satisfaction_index_models_code')
    )
    op.create_table('satisfaction_surveys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title_zh', sa.String(length=200), nullable=False),
    sa.Column('title_en', sa.String(length=200), nullable=False),
    sa.Column('model', engine.types.Json, nullable=False),
    sa.Column('questions', engine.types.Json, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'code', name='uq_satisfaction_surveys_code')
    )
    op.create_table('satisfaction_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('expires_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('used_at', engine.types.UtcDateTime(), nullable=True),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['survey_id'], ['satisfaction_surveys.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash', name='uq_satisfaction_invitations_token')
    )
    with op.batch_alter_table('satisfaction_invitations', schema=None) as batch_op:
        batch_op.create_index('ix_satisfaction_invitations_case', ['tenant_id', 'case_id'], unique=False)
        batch_op.create_index('ix_satisfaction_invitations_customer', ['tenant_id', 'customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_satisfaction_invitations_survey', ['tenant_id', 'survey_id', 'created_at'], unique=False)

    op.create_table('satisfaction_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('store', sa.String(length=64), nullable=True),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', engine.types.UtcDateTime(), nullable=False),
    sa.Column('local_month', sa.Integer(), nullable=False),
    sa.Column('scores', sa.LargeBinary(), nullable=False),
    sa.Column('overall', sa.SmallInteger(), nullable=True),
    sa.Column('nps', sa.SmallInteger(), nullable=True),
    sa.Column('recommend', sa.SmallInteger(), nullable=True),
    sa.Column('repurchase', sa.SmallInteger(), nullable=True),
    sa.Column('extra', engine.types.Json, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['invitation_id'], ['satisfaction_invitations.id'], ),
    sa.ForeignKeyConstraint(['survey_id'], ['satisfaction_surveys.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('satisfaction_responses', schema=None) as batch_op:
        batch_op.create_index('ix_satisfaction_responses_case', ['tenant_id', 'case_id'], unique=False)
        batch_op.create_index('ix_satisfaction_responses_customer', ['tenant_id', 'customer_id', 'answered_at'], unique=False)
        batch_op.create_index('ix_satisfaction_responses_survey', ['tenant_id', 'survey_id', 'answered_at'], unique=False)

    op.create_table('satisfaction_latest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('nps', sa.SmallInteger(), nullable=True),
    sa.Column('nps_class', sa.String(length=16), nullable=True),
    sa.Column('answered_at', engine.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['response_id'], ['satisfaction_responses.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'customer_id', name='uq_satisfaction_latest_customer')
    )
    with op.batch_alter_table('satisfaction_latest', schema=None) as batch_op:
        batch_op.create_index('ix_satisfaction_latest_class', ['tenant_id', 'nps_class'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('satisfaction_latest', schema=None) as batch_op:
        batch_op.drop_index('ix_satisfaction_latest_class')

    op.drop_table('satisfaction_latest')
    with op.batch_alter_table('satisfaction_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_satisfaction_responses_survey')
        batch_op.drop_index('ix_satisfaction_responses_customer')
        batch_op.drop_index('ix_satisfaction_responses_case')

    op.drop_table('satisfaction_responses')
    with op.batch_alter_table('satisfaction_invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_satisfaction_invitations_survey')
        batch_op.drop_index('ix_satisfaction_invitations_customer')
        batch_op.drop_index('ix_satisfaction_invitations_case')

    op.drop_table('satisfaction_invitations')
    op.drop_table('satisfaction_surveys')
    op.drop_table('satisfaction_index_models')
