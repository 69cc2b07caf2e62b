"""Customer profiles: validation, updates, search, erase, isolation between tenants."""

from __future__ import annotations

import pytest
from sqlmodel import select

from engine.errors import Conflict, NotFound, ValidationFailed
from engine.models import AuditEvent, Customer, Interaction
from engine.services.customers import create_customer, erase_customer, get_customer, update_customer
from engine.services.search import search_customers
from engine.services.interactions import record_interaction


def _fields(error: ValidationFailed) -> set[str]:
    return {e.field for e in error.errors}


def test_create_customer_normalises_and_stores_domain_fields(gx, tenant):
    with gx.tenant(tenant) as ctx:
        customer = create_customer(ctx, {
            "name": " 王芳 ", "email": "Wang.Fang@Example.com", "phone": "+86 138-0013-8000",
            "gender": "female", "birthday": "1990-05-17", "skin_type": "混合性", "tags": ["VIP", "VIP", "敏感肌"],
            "consent": {"wechat": True, "sms": False}, "attributes": {"会员卡": "A-1"}, "store": "SH-01",
        })
    with gx.tenant(tenant, write=False) as ctx:
        stored = get_customer(ctx.session, ctx.tenant_id, customer.id)
    assert stored.name == "王芳"
    assert stored.email == "wang.fang@example.com"
    assert stored.gender == "FEMALE"
    assert stored.tags == ["VIP", "敏感肌"]
    assert stored.consent == {"WECHAT": True, "SMS": False}
    assert stored.attributes == {"会员卡": "A-1"}
    assert stored.role == "POTENTIAL"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"birthday": "1990-13-45"}, "birthday"),
        ({"birthday": "2999-01-01"}, "birthday"),
        ({"gender": "robot"}, "gender"),
        ({"consent": {"pigeon": True}}, "consent"),
        ({"favourite_colour": "red"}, "favourite_colour"),
    ],
)
def test_bad_customer_input_names_the_field_and_stores_nothing(gx, tenant, data, field):
    with pytest.raises(ValidationFailed) as caught:
        with gx.tenant(tenant) as ctx:
            create_customer(ctx, {"name": "x", **data})
    assert field in _fields(caught.value)
    with gx.tenant(tenant, write=False) as ctx:
        assert search_customers(ctx.session, ctx.tenant_id, "x") == []


def test_update_changes_only_given_fields_and_audits_field_names_not_values(gx, tenant):
    with gx.tenant(tenant) as ctx:
        customer = create_customer(ctx, {"name": "李雷", "phone": "13800000000", "city": "上海"})
    with gx.tenant(tenant, actor="agent-7") as ctx:
        update_customer(ctx, customer.id, {"city": "北京"})
        stored = get_customer(ctx.session, ctx.tenant_id, customer.id)
        assert (stored.name, stored.phone, stored.city) == ("李雷", "+8613800000000", "北京")  # phones are stored in E.164
        events = ctx.session.exec(select(AuditEvent).where(AuditEvent.tenant_id == ctx.tenant_id, AuditEvent.action == "customer.update")).all()
    assert [e.changes for e in events] == [{"fields": ["city"]}]
    assert events[0].actor == "agent-7"
    assert "北京" not in str(events[0].changes)


def test_customer_codes_are_unique_per_tenant_only(gx, make_tenant):
    a, b = make_tenant(), make_tenant()
    with gx.tenant(a) as ctx:
        create_customer(ctx, {"code": "C1"})
    with gx.tenant(b) as ctx:
        create_customer(ctx, {"code": "C1"})  # another tenant may use the same code
    with pytest.raises(Conflict):
        with gx.tenant(a) as ctx:
            create_customer(ctx, {"code": "C1"})


def test_a_tenant_cannot_read_or_change_another_tenants_customer(gx, make_tenant):
    a, b = make_tenant(), make_tenant()
    with gx.tenant(a) as ctx:
        customer = create_customer(ctx, {"name": "Alice Zhang", "phone": "13911112222"})
    with gx.tenant(b) as ctx:
        with pytest.raises(NotFound):
            get_customer(ctx.session, ctx.tenant_id, customer.id)
        with pytest.raises(NotFound):
            update_customer(ctx, customer.id, {"name": "hijacked"})
        assert search_customers(ctx.session, ctx.tenant_id, "Alice") == []
        assert search_customers(ctx.session, ctx.tenant_id, "1391111") == []


def test_search_matches_name_phone_email_and_escapes_wildcards(gx, tenant):
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"name": "Emma Wong", "email": "emma@example.com"})
        create_customer(ctx, {"name": "陈静", "phone": "13612345678"})
        create_customer(ctx, {"name": "100% real"})
        names = lambda q: sorted(c.name for c in search_customers(ctx.session, ctx.tenant_id, q))  # noqa: E731
        assert names("emma") == ["Emma Wong"]
        assert names("5678") == ["陈静"]  # a phone's last four digits (docs/search.md)
        assert names("100%") == ["100% real"]  # symbols: the start of the name (docs/search.md)
        assert names("%") == names("%real") == []  # % is a character, not a wildcard


def test_erase_removes_personal_data_and_keeps_anonymous_purchases(gx, tenant):
    with gx.tenant(tenant) as ctx:
        friend = create_customer(ctx, {"name": "Friend"})
        customer = create_customer(ctx, {
            "code": "C9", "name": "张伟", "phone": "13700000000", "email": "zw@example.com",
            "birthday": "1988-02-02", "tags": ["VIP"], "attributes": {"note": "likes roses"}, "store": "SH-01",
        })
        update_customer(ctx, friend.id, {"referrer_id": customer.id})
        record_interaction(ctx, {"customer_id": customer.id, "kind": "PURCHASE", "occurred_at": "2026-01-05T10:00:00+08:00",
                                 "amount": "199.00", "payload": {"note": "gift for 张伟's mother"}})
    with gx.tenant(tenant) as ctx:
        erase_customer(ctx, customer.id)
    with gx.system(write=False) as session:
        erased = session.get(Customer, customer.id)
        interactions = session.exec(select(Interaction).where(Interaction.customer_id == customer.id)).all()
        assert session.get(Customer, friend.id).referrer_id is None
    for name in ("code", "name", "phone", "email", "birthday", "wechat_id"):
        assert getattr(erased, name) is None, name
    assert erased.tags == [] and erased.attributes == {}
    assert erased.erased_at is not None
    assert erased.store == "SH-01"  # not personal: keeps store statistics meaningful
    assert erased.purchase_count == 1 and str(erased.total_spent) == "199.00"
    assert [(i.kind, str(i.amount), i.payload) for i in interactions] == [("PURCHASE", "199.00", {})]
    with pytest.raises(ValidationFailed):
        with gx.tenant(tenant) as ctx:
            update_customer(ctx, customer.id, {"name": "back again"})
