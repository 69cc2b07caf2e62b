"""Phones in E.164, read in the tenant's region; one live customer per phone,
guaranteed by the database even under concurrent creates; the migration
normalising phones already stored without failing on duplicates."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from engine.errors import Conflict, ValidationFailed
from sqlmodel import select

from engine.db import make_migration_engine
from engine.models import Customer, Tenant
from engine.services.customers import create_customer, delete_customer, erase_customer, update_customer
from engine.services.phones import region_of_locale
from engine.services.tenants import create_tenant
from engine.testing import engine_on
from engine.types import utcnow
from tests.concurrency import run_in_threads

CREATE = """mutation($i: CreateCustomerInput!) { createCustomer(input: $i) {
  customer { id phone email } errors { field message code } } }"""


@pytest.mark.parametrize("written, stored", [
    ("13800138000", "+8613800138000"),           # a Chinese mobile, national form
    ("+86 138-0013-8000", "+8613800138000"),     # with the country code, spaces and dashes
    ("8613800138000", "+8613800138000"),         # the country code without +
    ("138 0013 8000", "+8613800138000"),
    ("021-6123 4567", "+862161234567"),          # a Shanghai landline with its area code
    ("(021) 61234567", "+862161234567"),
    ("+1 650-253-0000", "+16502530000"),         # a foreign number keeps its country
])
def test_phones_are_stored_in_e164(gx, tenant, written, stored):
    with gx.tenant(tenant) as ctx:
        assert create_customer(ctx, {"name": "王芳", "phone": written}).phone == stored


@pytest.mark.parametrize("written", ["12345", "14000000000", "call me", "+86 138 0013 800x"])
def test_an_impossible_phone_is_an_error_naming_the_field(gx, tenant, written):
    with pytest.raises(ValidationFailed) as caught:
        with gx.tenant(tenant) as ctx:
            create_customer(ctx, {"name": "x", "phone": written})
    assert [e.field for e in caught.value.errors] == ["phone"]
    assert written in caught.value.errors[0].message


def test_the_region_comes_from_the_tenants_locale(gx):
    assert (region_of_locale("zh-CN"), region_of_locale("zh-TW"), region_of_locale("en"), region_of_locale("en-US")) == ("CN", "TW", "CN", "US")
    slug = f"us-{uuid.uuid4().hex[:8]}"
    with gx.system() as session:
        create_tenant(session, slug, "US shop", "USD", "America/New_York", "en-US")
    with gx.tenant(slug) as ctx:
        assert create_customer(ctx, {"phone": "(650) 253-0000"}).phone == "+16502530000"


def test_emails_are_trimmed_and_lower_cased_and_blank_contacts_are_none(graphql, tenant):
    body = graphql(tenant).execute(CREATE, {"i": {"name": "Emma", "email": "  Emma.Wong@Example.COM ", "phone": ""}})
    assert body["data"]["createCustomer"]["customer"]["email"] == "emma.wong@example.com"
    assert body["data"]["createCustomer"]["customer"]["phone"] is None


def test_a_phone_is_used_once_among_live_customers_and_the_error_names_the_holder(gx, graphql, tenant):
    client = graphql(tenant, "AGENT")
    first = client.execute(CREATE, {"i": {"code": "VIP-1", "name": "王芳", "phone": "13800138000"}})
    assert first["data"]["createCustomer"]["errors"] == []
    second = client.execute(CREATE, {"i": {"name": "王芳 (again)", "phone": "+86 138 0013 8000"}})
    payload = second["data"]["createCustomer"]
    assert payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("phone", "CONFLICT")]
    assert "'VIP-1'" in payload["errors"][0]["message"]
    with gx.tenant(tenant) as ctx:
        other = create_customer(ctx, {"name": "李娜", "phone": "13900139000"})
        with pytest.raises(Conflict, match="VIP-1"):
            update_customer(ctx, other.id, {"phone": "138-0013-8000"})


def test_a_deleted_or_erased_customer_frees_the_phone_and_other_tenants_are_separate(gx, make_tenant):
    a, b = make_tenant(), make_tenant()
    with gx.tenant(a) as ctx:
        deleted = create_customer(ctx, {"phone": "13800138000"})
        delete_customer(ctx, deleted.id)
        erased = create_customer(ctx, {"phone": "13800138000"})
        erase_customer(ctx, erased.id)
        create_customer(ctx, {"phone": "13800138000"})
    with gx.tenant(b) as ctx:
        create_customer(ctx, {"phone": "13800138000"})


def test_concurrent_creates_with_one_phone_one_wins_the_others_get_the_payload_error(gx, graphql, tenant):
    clients = [graphql(tenant, "AGENT") for _ in range(6)]
    bodies: list[dict] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        body = clients[n].execute(CREATE, {"i": {"name": f"racer {n}", "phone": f"138 0013 800{0}"}})
        with lock:
            bodies.append(body)

    assert run_in_threads(create, len(clients)) == []
    payloads = [b["data"]["createCustomer"] for b in bodies]
    assert all("errors" not in b for b in bodies), bodies  # no 500, no GraphQL error
    assert sum(1 for p in payloads if p["customer"] is not None) == 1
    refused = [p["errors"] for p in payloads if p["customer"] is None]
    assert len(refused) == 5 and all([(e["field"], e["code"]) for e in errs] == [("phone", "CONFLICT")] for errs in refused)
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.session.execute(sa.select(sa.func.count()).select_from(Customer).where(
            Customer.tenant_id == ctx.tenant_id, Customer.phone == "+8613800138000")).scalar_one() == 1


def test_the_database_itself_refuses_a_second_live_customer_with_a_phone(gx, tenant):
    """The guarantee is the unique index, not only the service's check."""
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"phone": "13800138000"})
    with pytest.raises(sa.exc.IntegrityError):
        with gx.tenant(tenant) as ctx:
            ctx.session.add(Customer(tenant_id=ctx.tenant_id, phone="+8613800138000"))
            ctx.session.flush()


def test_the_migration_normalises_stored_phones_and_keeps_duplicates_aside(fresh_database_url):
    """core_0005 on data written before it: phones in E.164, the oldest live
    holder keeps a shared phone, the others keep it in duplicate_phone and are
    listed as duplicates; nothing is lost and the upgrade does not fail."""
    gx = engine_on(fresh_database_url, upgrade=False)
    gx.upgrade("core_0002")
    engine = make_migration_engine(gx.settings)
    now = utcnow()
    with engine.begin() as connection:
        tenant_id = connection.execute(sa.insert(Tenant.__table__).values(
            slug="old", name="old", currency="CNY", timezone="Asia/Shanghai", locale="zh-CN", created_at=now)
            .returning(Tenant.__table__.c.id)).scalar_one()
        for code, phone, deleted in [("A", "138-0013-8000", None), ("B", "+86 13800138000", None),
                                     ("C", "13800138000", now), ("D", "not a phone", None), ("E", "021 6123 4567", None)]:
            connection.execute(sa.insert(Customer.__table__).values(
                tenant_id=tenant_id, code=code, phone=phone, deleted_at=deleted, role="POTENTIAL", lifecycle_stage="EXPLORATION",
                tags=[], attributes={}, consent={}, created_at=now, updated_at=now, purchase_count=0, purchase_days=0,
                total_spent=0, refunded_amount=0))
    engine.dispose()
    gx.upgrade()
    with gx.tenant("old", write=False) as ctx:
        rows = {c.code: (c.phone, c.duplicate_phone) for c in ctx.session.exec(select(Customer)).all()}
    assert rows == {
        "A": ("+8613800138000", None),
        "B": (None, "+8613800138000"),   # the younger duplicate: kept aside, not lost
        "C": ("+8613800138000", None),   # deleted: not held to uniqueness
        "D": ("not a phone", None),      # unreadable: kept as written
        "E": ("+862161234567", None),
    }
    gx.engine.dispose()
