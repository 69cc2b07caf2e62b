"""Merging two records of one person into one (docs/customers.md, "Merging").

The kept customer takes the merged one's interactions and whatever every
plugin stored about it (``guanxi_customers_merged``), fills its own empty
fields from it, and gets its purchase statistics recomputed from the
interactions it now has. The merged customer is deleted, pointing to the kept
one (``merged_into_id``) so its old id still leads somewhere; an audit event
records the merge. All in the caller's transaction: nothing half-merged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from engine.context import TenantContext
from engine.events import DomainEvent, api_id, emit
from engine.errors import FieldError, ValidationFailed, not_found
from engine.models import Customer, Interaction
from engine.services import audit
from engine.types import CENT, utcnow

# Profile fields the kept customer takes from the merged one where its own is empty.
FILLED_FIELDS = (
    "code", "name", "gender", "birthday", "phone", "email", "wechat_id", "region", "city", "occupation",
    "income_band", "acquisition_channel", "preferred_channel", "price_sensitivity", "skin_type", "preferences",
    "owner", "store", "referrer_id",
)
MAX_HOPS = 20  # a merged customer merged again: how far customer(id) follows the chain


def merge_customers(ctx: TenantContext, keep_id: int, merge_id: int) -> Customer:
    """Merge customer ``merge_id`` into ``keep_id``; returns the kept customer."""
    if keep_id == merge_id:
        raise ValidationFailed([FieldError("merge", "a customer cannot be merged into itself", "SAME_CUSTOMER")])
    # Lock both rows, in id order, so no interaction or second merge slips in between.
    rows = {c.id: c for c in ctx.session.exec(
        select(Customer).where(Customer.tenant_id == ctx.tenant_id, Customer.id.in_([keep_id, merge_id]))
        .order_by(Customer.id).with_for_update()
    ).all()}
    kept = _mergeable(rows.get(keep_id), "keep", keep_id)
    merged = _mergeable(rows.get(merge_id), "merge", merge_id)

    moved = ctx.session.execute(
        sa.update(Interaction).where(Interaction.tenant_id == ctx.tenant_id, Interaction.customer_id == merge_id)
        .values(customer_id=keep_id)
    ).rowcount
    # Whom the merged customer referred, the kept one referred now.
    ctx.session.execute(
        sa.update(Customer).where(Customer.tenant_id == ctx.tenant_id, Customer.referrer_id == merge_id,
                                  Customer.id != keep_id)
        .values(referrer_id=keep_id)
    )
    # The merged record leaves the live customers first: its phone and code are then free to move.
    merged.deleted_at = utcnow()
    merged.merged_into_id = keep_id
    taken = {name: getattr(merged, name) for name in ("code", "phone")}
    merged.code = None if _is_empty(kept.code) else merged.code
    ctx.session.add(merged)
    ctx.session.flush()
    filled = _fill(kept, merged, taken)
    ctx.plugins.hook.guanxi_customers_merged(ctx=ctx, kept_id=keep_id, merged_id=merge_id)  # every plugin
    _refuse_rows_left_behind(ctx, merge_id)
    recompute_statistics(ctx, [keep_id, merge_id])
    kept.updated_at = utcnow()
    ctx.session.add(kept)
    ctx.session.flush()
    ctx.session.refresh(kept)
    audit.record(ctx.session, ctx.tenant_id, ctx.actor, "customer.merge", "Customer", keep_id,
                 {"merged_id": merge_id, "filled": filled, "interactions_moved": moved})
    # About the kept customer (ordered with its events); the merged id says whose events those were.
    emit(ctx, [DomainEvent("customer.merged", {"code": kept.code, "mergedCustomerId": api_id("Customer", merge_id),
                                               "filled": filled, "interactionsMoved": moved}, customer_id=keep_id)])
    return kept


def _mergeable(customer: Customer | None, field: str, customer_id: int) -> Customer:
    if customer is None:
        raise not_found(field, f"no customer {customer_id} in this tenant")
    if customer.erased_at is not None:
        raise ValidationFailed([FieldError(field, f"customer {customer_id} was erased", "ERASED")])
    if customer.deleted_at is not None:
        where = f" (merged into {customer.merged_into_id})" if customer.merged_into_id else ""
        raise ValidationFailed([FieldError(field, f"customer {customer_id} was deleted{where}", "DELETED")])
    return customer


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _fill(kept: Customer, merged: Customer, taken: dict[str, Any]) -> list[str]:
    """Fill the kept customer's empty fields; tags, attributes and consent are
    combined, the kept customer's own values winning. Returns the names filled."""
    filled = []
    for name in FILLED_FIELDS:
        value = taken[name] if name in taken else getattr(merged, name)
        if _is_empty(getattr(kept, name)) and not _is_empty(value) and not (name == "referrer_id" and value == kept.id):
            setattr(kept, name, value)
            filled.append(name)
    tags = kept.tags + [t for t in merged.tags if t not in kept.tags]
    for name, combined in (("tags", tags), ("attributes", {**merged.attributes, **kept.attributes}),
                           ("consent", {**merged.consent, **kept.consent})):
        if combined != getattr(kept, name):
            setattr(kept, name, combined)
            filled.append(name)
    if kept.referrer_id == merged.id:
        kept.referrer_id = None
    # A phone the two shared when phones became unique: that pair is resolved now.
    if kept.duplicate_phone and kept.duplicate_phone in (kept.phone, taken["phone"], merged.duplicate_phone):
        kept.duplicate_phone = None
    if kept.duplicate_phone is None and merged.duplicate_phone and merged.duplicate_phone != kept.phone:
        kept.duplicate_phone = merged.duplicate_phone
    return filled


def _refuse_rows_left_behind(ctx: TenantContext, merged_id: int) -> None:
    """A plugin table with a customer_id still naming the merged customer is
    a plugin that forgot the merge hook: refuse rather than orphan its rows."""
    left = []
    for plugin, models in sorted(ctx.plugins.models_by_plugin().items()):
        for model in models:
            table = model.__table__
            if "customer_id" not in table.c or "tenant_id" not in table.c:
                continue
            row = ctx.session.execute(
                sa.select(table.c.customer_id).where(table.c.tenant_id == ctx.tenant_id, table.c.customer_id == merged_id).limit(1)
            ).first()
            if row is not None:
                left.append(f"{table.name} ({plugin})")
    if left:
        raise ValidationFailed([FieldError(
            "merge", f"rows about the merged customer were left in {', '.join(left)}: the plugin does not "
                     "implement guanxi_customers_merged, so the customers cannot be merged", "UNSUPPORTED")])


def recompute_statistics(ctx: TenantContext, customer_ids: list[int]) -> None:
    """Purchase statistics recomputed from the customers' interactions
    (the same figures recording keeps current)."""
    purchase = Interaction.kind == "PURCHASE"
    refund = Interaction.kind == "REFUND"
    rows = {row.customer_id: row for row in ctx.session.execute(
        sa.select(
            Interaction.customer_id,
            sa.func.count().filter(purchase).label("purchases"),
            sa.func.coalesce(sa.func.sum(Interaction.amount).filter(purchase), 0).label("spent"),
            sa.func.coalesce(sa.func.sum(Interaction.amount).filter(refund), 0).label("refunded"),
            sa.func.min(Interaction.occurred_at).filter(purchase).label("first_at"),
            sa.func.max(Interaction.occurred_at).filter(purchase).label("last_at"),
            sa.func.max(Interaction.local_day).filter(purchase).label("last_day"),
            sa.func.count(sa.distinct(Interaction.local_day)).filter(purchase).label("days"),
        ).where(Interaction.tenant_id == ctx.tenant_id, Interaction.customer_id.in_(customer_ids))
        .group_by(Interaction.customer_id)
    ).all()}
    for customer_id in customer_ids:
        customer = ctx.session.get(Customer, customer_id)
        row = rows.get(customer_id)
        customer.purchase_count = row.purchases if row else 0
        customer.purchase_days = row.days if row else 0
        customer.total_spent = Decimal(row.spent if row else 0).quantize(CENT)
        customer.refunded_amount = Decimal(row.refunded if row else 0).quantize(CENT)
        customer.first_purchase_at = row.first_at if row else None
        customer.last_purchase_at = row.last_at if row else None
        customer.last_purchase_day = row.last_day if row else None
        if customer.purchase_count and customer.role == "POTENTIAL":
            customer.role = "EXISTING"
        ctx.session.add(customer)


def resolve_merged(session, tenant_id: int, customer_id: int) -> int | None:
    """The live customer a merged customer's id leads to (following merges of
    merges), or None when the id is not a merged customer of this tenant."""
    current = customer_id
    for _ in range(MAX_HOPS):
        row = session.execute(
            sa.select(Customer.merged_into_id, Customer.deleted_at).where(Customer.tenant_id == tenant_id, Customer.id == current)
        ).first()
        if row is None:
            return None
        if row.deleted_at is None:
            return current if current != customer_id else None
        if row.merged_into_id is None:
            return None
        current = row.merged_into_id
    return None


def move_customer_rows(ctx: TenantContext, table: sa.Table, kept_id: int, merged_id: int,
                       one_per: tuple[str, ...] | None = None) -> None:
    """For plugins' ``guanxi_customers_merged``: give the merged customer's
    rows in ``table`` to the kept customer. With ``one_per`` the table holds
    one row per customer (``one_per=()``: a score) or per customer and those
    columns (``("year",)``: a greeting per birthday); where both customers
    have one, the kept customer's wins and the merged one's is dropped."""
    t = table.c
    mine = sa.and_(t.tenant_id == ctx.tenant_id, t.customer_id == merged_id)
    if one_per is not None:
        kept = table.alias("kept")
        clash = sa.exists().where(kept.c.tenant_id == ctx.tenant_id, kept.c.customer_id == kept_id,
                                  *(kept.c[name] == t[name] for name in one_per))
        ctx.session.execute(sa.delete(table).where(mine, clash))
    ctx.session.execute(sa.update(table).where(mine).values(customer_id=kept_id))
