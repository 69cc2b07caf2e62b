"""The central mapping of refused statements (engine/integrity.py): what a
service's own check would have said, named from the database's constraint,
on both databases. Statements are sent straight to the session here, as the
losing side of a race reaches the database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError

from engine import integrity
from engine.errors import Conflict, NotFound
from engine.models import Customer, Interaction
from engine.types import utcnow
from tests.security.conftest import new_tenant


@pytest.fixture(scope="module")
def tenant_id(gx):
    return new_tenant(gx, modules=())[1]


def _refused(gx, tenant_id, statement_of) -> Exception:
    with pytest.raises((IntegrityError, DataError)) as caught:
        with gx.tenant(tenant_id) as ctx:
            statement_of(ctx)
    return caught.value


def test_a_unique_value_taken_is_a_conflict_on_its_field(gx, tenant_id):
    def twice(ctx):
        for _ in range(2):
            ctx.session.execute(sa.insert(Customer.__table__).values(tenant_id=tenant_id, code="same", name="x",
                                                                    created_at=utcnow(), updated_at=utcnow()))

    mapped = integrity.mapped(_refused(gx, tenant_id, twice))
    assert isinstance(mapped, Conflict) and [(e.field, e.code) for e in mapped.errors] == [("code", "CONFLICT")]


def test_a_missing_reference_is_not_found_on_its_field(gx, tenant_id):
    def orphan(ctx):
        ctx.session.execute(sa.insert(Interaction.__table__).values(
            tenant_id=tenant_id, customer_id=987_654_321, kind="VISIT", occurred_at=utcnow(), local_day=1, payload={},
            recorded_at=utcnow()))

    mapped = integrity.mapped(_refused(gx, tenant_id, orphan))
    assert isinstance(mapped, NotFound) and [(e.field, e.code) for e in mapped.errors] == [("customer_id", "NOT_FOUND")]


def test_other_errors_are_not_mapped():
    assert integrity.mapped(ValueError("a bug")) is None
