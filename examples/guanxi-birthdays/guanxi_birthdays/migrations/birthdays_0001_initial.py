"""birthdays: the greetings table.

Revision ID: birthdays_0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = "birthdays_0001"
down_revision = None
branch_labels = ("birthdays",)
depends_on = "core_0001"


def upgrade() -> None:
    op.create_table(
        "birthday_greetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("birthday_on", sa.Date(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("queued_at", engine.types.UtcDateTime(), nullable=False),
        sa.Column("sent_at", engine.types.UtcDateTime(), nullable=True),
        sa.Column("sent_by", sa.String(length=64), nullable=True),
        sa.Column("responded_at", engine.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "customer_id", "year", name="uq_birthday_greetings_customer_year"),
    )
    op.create_index("ix_birthday_greetings_status", "birthday_greetings", ["tenant_id", "status", "birthday_on"])


def downgrade() -> None:
    op.drop_index("ix_birthday_greetings_status", table_name="birthday_greetings")
    op.drop_table("birthday_greetings")
