"""Duplicate candidates and merging two records of one person, through GraphQL,
the service and the CLI: history, points, cases and scores move; statistics
are recomputed; the merged id leads to the kept customer; refusals come back
as payload errors with nothing changed."""

from __future__ import annotations

import types
import uuid
from datetime import timedelta
from typing import Optional

import pytest
import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select
from typer.testing import CliRunner

from api.ids import to_global_id
from engine import cli, hookimpl
from engine.errors import ValidationFailed
from engine.models import AuditEvent, Customer, Interaction
from engine.plugins import ModuleInfo
from engine.scoring import run_scoring
from engine.services.customers import create_customer, delete_customer, erase_customer
from engine.services.interactions import record_interaction
from engine.services.merge import merge_customers, move_customer_rows
from engine.services.tenants import create_tenant
from engine.types import utcnow
from plugins.complaints.models import ComplaintCase
from plugins.loyalty.models import LoyaltyLedgerEntry, LoyaltyMember
from plugins.rfm.models import RfmScore
from tests.extra_plugins import engine_with

MERGE = """mutation($keep: ID!, $merge: ID!) { mergeCustomers(input: {keep: $keep, merge: $merge}) {
  customer { id name phone email birthday tags purchaseCount totalSpent refundedAmount firstPurchaseAt lastPurchaseAt
             loyalty { points tier { code } } }
  errors { field message code } } }"""
DUPLICATES = """query($after: String) { duplicateCustomers(first: 2, after: $after) { totalCount
  edges { cursor node { reason customers { name } } } pageInfo { hasNextPage endCursor } } }"""
REFUSED = """mutation($keep: ID!, $merge: ID!) { mergeCustomers(input: {keep: $keep, merge: $merge}) {
  customer { id } errors { field message code } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { id name } }"""
LIST = """{ customers(first: 50) { totalCount edges { node { id } } } }"""


def _gid(pk: int) -> str:
    return to_global_id("Customer", pk)


def _buy(ctx, customer_id: int, amount: str, days_ago: int, kind: str = "PURCHASE", **extra):
    return record_interaction(ctx, {"customer_id": customer_id, "kind": kind, "amount": amount,
                                    "occurred_at": utcnow() - timedelta(days=days_ago), **extra})[0]


def test_duplicates_are_grouped_by_phone_email_and_name_with_birthday_and_paginated(gx, graphql, make_tenant):
    tenant, other = make_tenant(), make_tenant()
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"name": "王芳", "email": "wf@example.com", "birthday": "1990-05-17"})
        create_customer(ctx, {"name": "王芳", "email": "WF@example.com ", "birthday": "1990-05-17"})
        create_customer(ctx, {"name": "李娜", "phone": "13800138000"})
        moved_aside = create_customer(ctx, {"name": "Li Na"})
        ctx.session.execute(sa.update(Customer).where(Customer.id == moved_aside.id).values(duplicate_phone="+8613800138000"))
        create_customer(ctx, {"name": "陈静", "birthday": "1990-05-17"})  # a birthday alone is no duplicate
        gone = create_customer(ctx, {"name": "陈静", "email": "cj@example.com"})
        delete_customer(ctx, gone.id)
        create_customer(ctx, {"name": "陈静 again", "email": "cj@example.com"})  # the other one is deleted
    with gx.tenant(other) as ctx:
        create_customer(ctx, {"name": "王芳", "email": "wf@example.com", "birthday": "1990-05-17"})
    client = graphql(tenant, "AGENT")
    first = client.execute(DUPLICATES)["data"]["duplicateCustomers"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
    second = client.execute(DUPLICATES, {"after": first["pageInfo"]["endCursor"]})["data"]["duplicateCustomers"]
    assert not second["pageInfo"]["hasNextPage"]
    groups = [(e["node"]["reason"], [c["name"] for c in e["node"]["customers"]]) for e in first["edges"] + second["edges"]]
    assert groups == [("EMAIL", ["王芳", "王芳"]), ("NAME_BIRTHDAY", ["王芳", "王芳"]), ("PHONE", ["李娜", "Li Na"])]
    # The other tenant has one 王芳 only: no duplicate there.
    assert graphql(other, "AGENT").execute(DUPLICATES)["data"]["duplicateCustomers"]["totalCount"] == 0


def test_merge_end_to_end_moves_history_points_cases_and_scores(gx, graphql, make_tenant):
    tenant = make_tenant(modules=("rfm", "loyalty", "complaints"))
    with gx.tenant(tenant) as ctx:
        kept = create_customer(ctx, {"code": "C1", "name": "王芳", "tags": ["VIP"], "consent": {"sms": False}})
        merged = create_customer(ctx, {"code": "C2", "name": "Wang Fang", "phone": "13800138000", "email": "wf@example.com",
                                       "birthday": "1990-05-17", "tags": ["敏感肌", "VIP"], "consent": {"sms": True, "wechat": True}})
        friend = create_customer(ctx, {"name": "Friend", "referrer_id": merged.id})
        _buy(ctx, kept.id, "100.00", 30)
        bought = _buy(ctx, merged.id, "2500.00", 10, external_id="SO-1")
        _buy(ctx, merged.id, "500.00", 5, kind="REFUND", reverses_external_id="SO-1")
        run_scoring(ctx, ["rfm"])
        case_count = lambda cid: ctx.session.execute(sa.select(sa.func.count()).select_from(ComplaintCase).where(  # noqa: E731
            ComplaintCase.customer_id == cid)).scalar_one()
    from plugins.complaints.service import open_case

    with gx.tenant(tenant) as ctx:
        open_case(ctx, {"customer_id": merged.id, "category": "PRODUCT_QUALITY", "description": "过敏"})
        points_before = {m.customer_id: m.balance for m in ctx.session.exec(select(LoyaltyMember)).all()}
    assert points_before[merged.id] > points_before[kept.id] > 0

    body = graphql(tenant, "AGENT").execute(MERGE, {"keep": _gid(kept.id), "merge": _gid(merged.id)})
    payload = body["data"]["mergeCustomers"]
    assert payload["errors"] == [], payload
    customer = payload["customer"]
    # Empty fields filled, the kept customer's own values kept, tags combined.
    assert (customer["name"], customer["phone"], customer["email"], customer["birthday"]) == (
        "王芳", "+8613800138000", "wf@example.com", "1990-05-17")
    assert customer["tags"] == ["VIP", "敏感肌"]
    # Statistics recomputed from the interactions it now has.
    assert (customer["purchaseCount"], customer["totalSpent"], customer["refundedAmount"]) == (2, "2600.00", "500.00")
    assert customer["firstPurchaseAt"] < customer["lastPurchaseAt"]
    # One membership: both ledgers, the higher tier.
    assert customer["loyalty"]["points"] == sum(points_before.values())
    assert customer["loyalty"]["tier"]["code"] == "SILVER"
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.session.execute(sa.select(sa.func.count()).select_from(Interaction).where(
            Interaction.customer_id == merged.id)).scalar_one() == 0
        assert ctx.session.get(Interaction, bought.id).customer_id == kept.id
        assert case_count(kept.id) == 1 and case_count(merged.id) == 0
        assert [s.customer_id for s in ctx.session.exec(select(RfmScore).where(RfmScore.customer_id.in_([kept.id, merged.id])))] == [kept.id]
        members = ctx.session.exec(select(LoyaltyMember)).all()
        assert [m.customer_id for m in members] == [kept.id]
        ledger_members = {e.member_id for e in ctx.session.exec(select(LoyaltyLedgerEntry)).all()}
        assert ledger_members == {members[0].id}
        stored = ctx.session.get(Customer, kept.id)
        assert stored.consent == {"SMS": False, "WECHAT": True}  # the kept customer's answer wins
        assert ctx.session.get(Customer, friend.id).referrer_id == kept.id
        gone = ctx.session.get(Customer, merged.id)
        assert gone.deleted_at is not None and gone.merged_into_id == kept.id
        audit = ctx.session.exec(select(AuditEvent).where(AuditEvent.action == "customer.merge")).one()
        assert audit.target_id == str(kept.id) and audit.changes["merged_id"] == merged.id
        assert audit.changes["interactions_moved"] == 2
    client = graphql(tenant, "VIEWER")
    listed = client.execute(LIST)["data"]["customers"]
    assert _gid(merged.id) not in {e["node"]["id"] for e in listed["edges"]}
    # The merged id leads to the kept customer.
    assert client.execute(CUSTOMER, {"id": _gid(merged.id)})["data"]["customer"] == {"id": _gid(kept.id), "name": "王芳"}


def _merge_errors(client, keep, merge) -> list[tuple[str, str]]:
    body = client.execute(REFUSED, {"keep": keep, "merge": merge})
    payload = body["data"]["mergeCustomers"]
    assert payload["customer"] is None
    return [(e["field"], e["code"]) for e in payload["errors"]]


def test_merge_is_refused_for_the_same_id_deleted_erased_and_other_tenants_customers(gx, graphql, make_tenant):
    tenant, other = make_tenant(), make_tenant()
    with gx.tenant(tenant) as ctx:
        a, b = create_customer(ctx, {"name": "a"}), create_customer(ctx, {"name": "b", "phone": "13800138000"})
        deleted, erased = create_customer(ctx, {"name": "d"}), create_customer(ctx, {"name": "e"})
        delete_customer(ctx, deleted.id)
        erase_customer(ctx, erased.id)
    with gx.tenant(other) as ctx:
        stranger = create_customer(ctx, {"name": "s"})
    client = graphql(tenant, "AGENT")
    assert _merge_errors(client, _gid(a.id), _gid(a.id)) == [("merge", "SAME_CUSTOMER")]
    assert _merge_errors(client, _gid(a.id), _gid(deleted.id)) == [("merge", "DELETED")]
    assert _merge_errors(client, _gid(erased.id), _gid(a.id)) == [("keep", "ERASED")]
    assert _merge_errors(client, _gid(a.id), _gid(stranger.id)) == [("merge", "NOT_FOUND")]
    assert _merge_errors(client, "nonsense", _gid(b.id)) == [("keep", "NOT_FOUND")]
    viewer = graphql(tenant, "VIEWER").execute(REFUSED, {"keep": _gid(a.id), "merge": _gid(b.id)})
    assert viewer["data"] is None or viewer["data"]["mergeCustomers"] is None
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.session.get(Customer, b.id).deleted_at is None  # nothing merged
    with gx.tenant(other, write=False) as ctx:
        assert ctx.session.get(Customer, stranger.id).deleted_at is None


def test_cli_merges_by_code_and_reports_errors(gx, tenant, monkeypatch, database_url):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    with gx.tenant(tenant) as ctx:
        kept = create_customer(ctx, {"code": "K1", "name": "王芳"})
        merged = create_customer(ctx, {"code": "M1", "phone": "13800138000"})
    runner = CliRunner()
    result = runner.invoke(cli.app, ["customer", "merge", "--tenant", tenant, "K1", "M1"])
    assert result.exit_code == 0, result.output
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.session.get(Customer, kept.id).phone == "+8613800138000"
        assert ctx.session.get(Customer, merged.id).merged_into_id == kept.id
    again = runner.invoke(cli.app, ["customer", "merge", "--tenant", tenant, "K1", "M1"])
    assert again.exit_code != 0 and "M1" in again.output


class Sticker(SQLModel, table=True):
    __tablename__ = "test_merge_stickers"
    __table_args__ = {"extend_existing": True}
    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: int = Field(index=True)
    customer_id: int


def _sticker_engine(url, migrations, with_hook: bool):
    plugin = types.ModuleType("sticker_plugin_for_merge_tests")
    plugin.guanxi_module = hookimpl(lambda: ModuleInfo(name="stickers", title_zh="贴纸", title_en="Stickers"))
    plugin.guanxi_models = hookimpl(lambda: [Sticker])
    plugin.guanxi_migrations = hookimpl(lambda: migrations)
    if with_hook:
        plugin.guanxi_customers_merged = hookimpl(
            lambda ctx, kept_id, merged_id: move_customer_rows(ctx, Sticker.__table__, kept_id, merged_id))
    return engine_with(url, {"sticker_plugin_for_merge_tests": plugin})


def test_a_plugins_guanxi_customers_merged_moves_its_rows_module_on_or_off(fresh_database_url, tmp_path):
    gx = _sticker_engine(fresh_database_url, tmp_path / "migrations", with_hook=True)
    slug = f"shop-{uuid.uuid4().hex[:8]}"
    with gx.system() as session:
        create_tenant(session, slug, "shop")  # the module is off for it: the hook is called all the same
    with gx.tenant(slug) as ctx:
        kept, merged = create_customer(ctx, {"name": "a"}), create_customer(ctx, {"name": "b"})
        ctx.session.add_all([Sticker(tenant_id=ctx.tenant_id, customer_id=c.id) for c in (kept, merged, merged)])
    with gx.tenant(slug) as ctx:
        merge_customers(ctx, kept.id, merged.id)
    with gx.tenant(slug, write=False) as ctx:
        assert [s.customer_id for s in ctx.session.exec(select(Sticker)).all()] == [kept.id] * 3
    gx.engine.dispose()


def test_a_plugin_table_without_the_merge_hook_makes_the_merge_fail_with_nothing_changed(fresh_database_url, tmp_path):
    """Rows keyed by customer_id must not stay on the merged id unseen."""
    gx = _sticker_engine(fresh_database_url, tmp_path / "migrations", with_hook=False)
    slug = f"shop-{uuid.uuid4().hex[:8]}"
    with gx.system() as session:
        create_tenant(session, slug, "shop")
    with gx.tenant(slug) as ctx:
        kept, merged = create_customer(ctx, {"name": "a"}), create_customer(ctx, {"name": "b"})
        ctx.session.add(Sticker(tenant_id=ctx.tenant_id, customer_id=merged.id))
    with pytest.raises(ValidationFailed, match="test_merge_stickers") as refused:
        with gx.tenant(slug) as ctx:
            merge_customers(ctx, kept.id, merged.id)
    assert refused.value.errors[0].code == "UNSUPPORTED"
    with gx.tenant(slug, write=False) as ctx:
        assert ctx.session.get(Customer, merged.id).deleted_at is None
    gx.engine.dispose()
