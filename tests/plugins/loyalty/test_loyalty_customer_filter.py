"""customers(where: {loyalty: {tier, points}}): members by tier and balance,
checked against the loyalty_members rows read directly; non-members and other
tenants' members never match; the filter composes with AND/OR and search."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from api.ids import to_global_id
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.types import utcnow
from plugins.loyalty.models import LoyaltyMember

IDS = """query($where: CustomerWhere, $search: String) { customers(first: 100, where: $where, search: $search) {
  totalCount edges { node { id loyalty { tier { code } points } } } } }"""


def buyer(ctx, name: str, amounts: list[str]) -> int:
    cid = create_customer(ctx, {"name": name}).id
    for days, amount in enumerate(amounts, start=1):
        record_interaction(ctx, {"customer_id": cid, "kind": "PURCHASE", "amount": amount,
                                 "occurred_at": utcnow() - timedelta(days=days)})
    return cid


def found(api, where, search=None) -> set[str]:
    body = api.execute(IDS, {"where": where, "search": search})
    assert "errors" not in body, body
    page = body["data"]["customers"]
    assert page["totalCount"] == len(page["edges"])
    return {edge["node"]["id"] for edge in page["edges"]}


def test_customers_by_loyalty_tier_and_points(gx, make_tenant, graphql):
    slug = make_tenant(modules=("loyalty",))
    other = make_tenant(modules=("loyalty",))
    with gx.tenant(slug) as ctx:
        gold = buyer(ctx, "王金", ["12000"])
        silver = buyer(ctx, "王银", ["2500"])
        member = buyer(ctx, "李会员", ["100"])
        buyer(ctx, "赵无", [])  # never bought: not a member
    with gx.tenant(other) as ctx:
        buyer(ctx, "王别家", ["20000"])
    # The truth, read from the members table itself.
    with gx.tenant(slug) as ctx:
        rows = ctx.session.exec(select(LoyaltyMember.customer_id, LoyaltyMember.tier_code, LoyaltyMember.balance)
                                .where(LoyaltyMember.tenant_id == ctx.tenant_id)).all()
    by_tier: dict[str, set[str]] = {}
    for customer_id, tier, _balance in rows:
        by_tier.setdefault(tier, set()).add(to_global_id("Customer", customer_id))
    assert {to_global_id("Customer", c) for c in (gold, silver, member)} == set().union(*by_tier.values())
    gid = {c: to_global_id("Customer", c) for c in (gold, silver, member)}
    assert gid[gold] in by_tier["GOLD"] and gid[silver] in by_tier["SILVER"] and gid[member] in by_tier["MEMBER"]

    api = graphql(slug, "VIEWER")
    for tier, members in by_tier.items():
        assert found(api, {"loyalty": {"tier": {"eq": tier}}}) == members
    assert found(api, {"loyalty": {"tier": {"in": ["GOLD", "SILVER"]}}}) == by_tier["GOLD"] | by_tier["SILVER"]
    assert found(api, {"loyalty": {"tier": {"eq": "PLATINUM"}}}) == set()
    richest = {to_global_id("Customer", c) for c, _t, balance in rows if balance >= 2500}
    assert found(api, {"loyalty": {"points": {"gte": 2500}}}) == richest == {gid[gold], gid[silver]}
    assert found(api, {"loyalty": {}}) == {gid[gold], gid[silver], gid[member]}  # members only
    assert found(api, {"OR": [{"loyalty": {"tier": {"eq": "GOLD"}}}, {"loyalty": {"tier": {"eq": "MEMBER"}}}]}) == {gid[gold], gid[member]}
    assert found(api, {"loyalty": {"tier": {"in": ["GOLD", "SILVER"]}}}, search="王") == {gid[gold], gid[silver]}


def test_the_filter_is_there_only_with_the_module_on(make_tenant, graphql):
    api = graphql(make_tenant(modules=("rfm",)), "VIEWER")
    response = api.post("query($where: CustomerWhere) { customers(where: $where) { totalCount } }",
                        {"where": {"loyalty": {"tier": {"eq": "GOLD"}}}})
    body = response.json()
    assert body.get("data") is None and "loyalty" in body["errors"][0]["message"], body
