"""core: phones in E.164 and unique among a tenant's live customers; merged customers point to the kept one.

Existing phones are rewritten in E.164, read in the tenant's region (the
region of its locale, CN without one); one that cannot be read stays as
written. Where several live customers of a tenant share a phone, the oldest
(lowest id) keeps it; the others keep it in ``duplicate_phone`` instead, so
the upgrade loses nothing and the duplicates query lists each pair until an
agent merges or corrects them (docs/customers.md).

Revision ID: core_0005
Revises: core_0004
"""

from __future__ import annotations

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision = 'core_0005'
down_revision = 'core_0004'
branch_labels = None
depends_on = None

LIVE_PHONE = "deleted_at IS NULL AND phone IS NOT NULL"
CHUNK = 5000


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_phone', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key('fk_customers_merged_into_id', 'customers', ['merged_into_id'], ['id'])
    _normalise_phones(op.get_bind())
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('uq_customers_tenant_live_phone', ['tenant_id', 'phone'], unique=True,
                              sqlite_where=sa.text(LIVE_PHONE), postgresql_where=sa.text(LIVE_PHONE))


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('uq_customers_tenant_live_phone', sqlite_where=sa.text(LIVE_PHONE), postgresql_where=sa.text(LIVE_PHONE))
    op.execute("UPDATE customers SET phone = duplicate_phone WHERE phone IS NULL AND duplicate_phone IS NOT NULL")
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint('fk_customers_merged_into_id', type_='foreignkey')
        batch_op.drop_column('duplicate_phone')
        batch_op.drop_column('merged_into_id')


def _region(locale: str | None) -> str:
    # The rule of engine/services/phones.py as of this revision, frozen here.
    parts = (locale or "").replace("_", "-").split("-")
    region = parts[1].upper() if len(parts) > 1 else ""
    return region if region in phonenumbers.SUPPORTED_REGIONS else "CN"


def _e164(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_valid_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _normalise_phones(connection: sa.Connection) -> None:
    tenants = sa.table('tenants', sa.column('id'), sa.column('locale'))
    customers = sa.table('customers', sa.column('id'), sa.column('tenant_id'), sa.column('phone'),
                         sa.column('deleted_at'), sa.column('duplicate_phone'))
    regions = {tid: _region(locale) for tid, locale in connection.execute(sa.select(tenants.c.id, tenants.c.locale))}
    update = (sa.update(customers).where(customers.c.id == sa.bindparam('b_id'))
              .values(phone=sa.bindparam('b_phone'), duplicate_phone=sa.bindparam('b_duplicate')))
    taken: set[tuple[int, str]] = set()  # (tenant, phone) of a live customer, oldest first
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(customers.c.id, customers.c.tenant_id, customers.c.phone, customers.c.deleted_at.is_(None))
            .where(customers.c.phone.is_not(None), customers.c.id > last_id)
            .order_by(customers.c.id).limit(CHUNK)
        ).all()
        if not rows:
            return
        changes = []
        for pk, tenant_id, phone, live in rows:
            e164 = _e164(phone, regions.get(tenant_id, "CN"))
            if live and (tenant_id, e164) in taken:
                changes.append({'b_id': pk, 'b_phone': None, 'b_duplicate': e164})
                continue
            if live:
                taken.add((tenant_id, e164))
            if e164 != phone:
                changes.append({'b_id': pk, 'b_phone': e164, 'b_duplicate': None})
        if changes:
            connection.execute(update, changes)
        last_id = rows[-1][0]
