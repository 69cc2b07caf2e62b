"""core: customer search: pinyin and initials of names, names and given names
as searched in characters, last four digits of phones, a row per tag; filled
in for the customers already stored.

Revision ID: core_0006
Revises: core_0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.types

revision = 'core_0006'
down_revision = "core_0005"
branch_labels = None
depends_on = None

BATCH = 5000


def _search_key(length: int):
    # Compared byte by byte on both databases, so prefixes are B-tree ranges.
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_pinyin', _search_key(128), nullable=True))
        batch_op.add_column(sa.Column('name_initials', _search_key(32), nullable=True))
        batch_op.add_column(sa.Column('name_folded', _search_key(200), nullable=True))
        batch_op.add_column(sa.Column('given_name_folded', _search_key(200), nullable=True))
        batch_op.add_column(sa.Column('phone_last4', sa.String(length=4), nullable=True))
    op.create_table('customer_tags',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('name_pinyin', _search_key(128), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id', 'tag')
    )
    _backfill(op.get_bind())
    with op.batch_alter_table('customer_tags', schema=None) as batch_op:
        batch_op.create_index('ix_customer_tags_tenant_tag', ['tenant_id', 'tag', 'name_pinyin', 'customer_id'], unique=False)
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_tenant_name_pinyin', ['tenant_id', 'name_pinyin'], unique=False)
        # With all the search reads of a match: a prefix's matches are sorted from the index alone.
        for form in ('name_initials', 'name_folded', 'given_name_folded'):
            batch_op.create_index(f'ix_customers_tenant_{form}', ['tenant_id', form, 'name_pinyin', 'id', 'deleted_at'],
                                  unique=False)
        batch_op.create_index('ix_customers_tenant_phone_last4', ['tenant_id', 'phone_last4'], unique=False)
        batch_op.create_index('ix_customers_tenant_wechat', ['tenant_id', 'wechat_id'], unique=False)
        # Made again, to stay the newest: without statistics SQLite weighs
        # indexes alike and takes the newest, and this one serves the default
        # list and its count (core_0001).
        batch_op.drop_index('ix_customers_tenant_live_newest', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.create_index('ix_customers_tenant_live_newest', ['tenant_id', 'created_at', 'id'], unique=False, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))


def _backfill(connection: sa.Connection) -> None:
    """Every stored customer's search forms and tag rows, in batches by id."""
    from engine.pinyin import name_keys, name_prefixes, phone_last4

    customers = sa.table('customers', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                         sa.column('name', sa.String), sa.column('phone', sa.String), sa.column('tags', engine.types.Json),
                         sa.column('name_pinyin', sa.String), sa.column('name_initials', sa.String),
                         sa.column('name_folded', sa.String), sa.column('given_name_folded', sa.String),
                         sa.column('phone_last4', sa.String))
    tags = sa.table('customer_tags', sa.column('tenant_id', sa.Integer), sa.column('customer_id', sa.Integer),
                    sa.column('tag', sa.String), sa.column('name_pinyin', sa.String))
    fill = customers.update().where(customers.c.id == sa.bindparam('b_id')).values(
        name_pinyin=sa.bindparam('b_pinyin'), name_initials=sa.bindparam('b_initials'),
        name_folded=sa.bindparam('b_folded'), given_name_folded=sa.bindparam('b_given'), phone_last4=sa.bindparam('b_last4'))
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(customers.c.id, customers.c.tenant_id, customers.c.name, customers.c.phone, customers.c.tags)
            .where(customers.c.id > last_id).order_by(customers.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        updates, tag_rows = [], []
        for row in rows:
            pinyin, initials = name_keys(row.name)
            folded, given = name_prefixes(row.name)
            last4 = phone_last4(row.phone)
            if folded or last4:
                updates.append({'b_id': row.id, 'b_pinyin': pinyin, 'b_initials': initials,
                                'b_folded': folded, 'b_given': given, 'b_last4': last4})
            tag_rows += [{'tenant_id': row.tenant_id, 'customer_id': row.id, 'tag': tag, 'name_pinyin': pinyin or ''}
                         for tag in set(row.tags or ())]
        if updates:
            connection.execute(fill, updates)
        if tag_rows:
            connection.execute(tags.insert(), tag_rows)


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_tenant_wechat')
        batch_op.drop_index('ix_customers_tenant_phone_last4')
        for form in ('given_name_folded', 'name_folded', 'name_initials'):
            batch_op.drop_index(f'ix_customers_tenant_{form}')
        batch_op.drop_index('ix_customers_tenant_name_pinyin')
    with op.batch_alter_table('customer_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_tags_tenant_tag')
    op.drop_table('customer_tags')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('phone_last4')
        batch_op.drop_column('given_name_folded')
        batch_op.drop_column('name_folded')
        batch_op.drop_column('name_initials')
        batch_op.drop_column('name_pinyin')
