"""Saved segments: a named ``customers(where:)`` filter kept as JSON.

The filter is checked against the tenant's own schema when saved (a field
of a module the tenant has not enabled is refused, named), and compiled by
the same code the ``customers`` query and the export use
(api.export_where.CustomerWhereParser), so a segment means exactly what the
same filter means in ``customers(where:)``. Counting and materialising are
one SQL statement each.
"""

from __future__ import annotations

import re
import threading
import weakref

import sqlalchemy as sa

from engine.context import TenantContext
from engine.services import audit
from engine.errors import Conflict, FieldError, ValidationFailed, invalid, not_found
from engine.input_bounds import check_text
from engine.models import Customer
from engine.types import utcnow
from plugins.campaigns.holdout import held_out_sql
from plugins.campaigns.models import CampaignMember, CampaignSegment

MAX_DESCRIPTION = 2000

_parsers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def parser_for(plugins):
    """One parser (and its schemas) per plugin manager: building a schema is slow."""
    from api.export_where import CustomerWhereParser

    with _lock:
        parser = _parsers.get(plugins)
        if parser is None:
            parser = _parsers[plugins] = CustomerWhereParser(plugins)
        return parser


def check_where(ctx: TenantContext, where, field: str = "where") -> dict:
    if where is None:
        return {}
    if not isinstance(where, dict):
        raise invalid(field, 'must be a JSON object in the shape of CustomerWhere, e.g. {"rfm": {"segment": {"eq": "CHAMPIONS"}}}')
    if where:
        try:
            parser_for(ctx.plugins).parse(ctx.enabled_modules, where, field)
        except ValidationFailed as error:
            raise ValidationFailed([_named(ctx, e) for e in error.errors]) from None
    return where


_UNKNOWN = re.compile(r"not to include unknown field '([^']+)'")


def _named(ctx: TenantContext, error: FieldError) -> FieldError:
    """graphql-core reports an unknown field at its parent: name the field itself, and
    say when it is a module's the tenant has not enabled."""
    found = _UNKNOWN.search(error.message)
    if not found:
        return error
    name = found.group(1)
    message = f"unknown filter field {name!r}"
    if name in ctx.plugins.modules and name not in ctx.enabled_modules:
        message += f": the {name} module is not enabled for this tenant"
    return FieldError(f"{error.field}.{name}", message, error.code)


def condition(ctx: TenantContext, where: dict | None) -> sa.ColumnElement:
    """The SQL condition on ``customers`` for a stored filter, under the tenant's modules now.

    A module switched off since the segment was saved makes its fields unknown:
    the error names them (the segment must be edited)."""
    parser = parser_for(ctx.plugins)
    return parser.condition(ctx.enabled_modules, where or None, ctx.session.get_bind().dialect.name, ctx.tenant_id)


def live_members(ctx: TenantContext, where: dict | None) -> sa.Select:
    return sa.select(Customer.id).where(Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None),
                                        condition(ctx, where))


def get_segment(ctx: TenantContext, segment_id: int, field: str = "id") -> CampaignSegment:
    row = ctx.session.get(CampaignSegment, segment_id)
    if row is None or row.tenant_id != ctx.tenant_id:
        raise not_found(field, f"no segment {segment_id} in this tenant")
    return row


def _text(value, field: str, limit: int, required: bool = False) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationFailed([FieldError(field, "is required", "REQUIRED")])
        return None
    problems = check_text(field, value, limit)
    if problems:
        raise ValidationFailed(problems)
    return value


@audit.audited("campaigns.save_segment", "CampaignSegment")
def save_segment(ctx: TenantContext, name: str, where: dict | None, description: str | None = None,
                 segment_id: int | None = None) -> CampaignSegment:
    """Create (or, with ``segment_id``, replace) a segment; the filter is checked first."""
    name = _text(name, "name", 100, required=True)
    description = _text(description, "description", MAX_DESCRIPTION)
    where = check_where(ctx, where)
    row = get_segment(ctx, segment_id) if segment_id is not None else CampaignSegment(tenant_id=ctx.tenant_id, created_by=ctx.actor)
    taken = ctx.session.execute(sa.select(CampaignSegment.id).where(
        CampaignSegment.tenant_id == ctx.tenant_id, CampaignSegment.name == name)).scalar_one_or_none()
    if taken is not None and taken != row.id:  # a concurrent save is refused by the unique constraint instead
        raise Conflict([FieldError("name", f"a segment named {name!r} exists", "CONFLICT")])
    row.name, row.description, row.where, row.updated_at = name, description, where, utcnow()
    ctx.session.add(row)
    ctx.session.flush()
    return row


def count_members(ctx: TenantContext, where: dict | None) -> int:
    query = live_members(ctx, where)
    return ctx.session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()


def materialise(ctx: TenantContext, campaign_id: int, where: dict | None, seed: int, holdout_share: float) -> int:
    """Copy the segment's members into the campaign's snapshot, each marked held out
    or not, in one INSERT ... SELECT; returns how many."""
    members = CampaignMember.__table__
    chosen = (sa.select(sa.literal(ctx.tenant_id, sa.Integer), sa.literal(campaign_id, sa.Integer), Customer.id,
                        held_out_sql(Customer.id, seed, holdout_share))
              .where(Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None), condition(ctx, where))
              # in id order, both snapshot indexes are appended to: 10x faster on SQLite than the
              # filter index's order (random ids into the b-trees)
              .order_by(Customer.id))
    ctx.session.execute(sa.insert(members).from_select(["tenant_id", "campaign_id", "customer_id", "holdout"], chosen))
    # counted, not rowcount: psycopg reports -1 for an INSERT ... SELECT here
    return ctx.session.execute(sa.select(sa.func.count()).where(
        members.c.tenant_id == ctx.tenant_id, members.c.campaign_id == campaign_id)).scalar_one()
