"""Plugin Customer fields declared in ``customer_batches`` load with their page.

A page of customers reads such a field for all its customers in the page's
own read (one batch call, no DataLoader); the same field on a customer
reached another way, or selected with arguments, goes through the DataLoader
and gives the same values.
"""

from __future__ import annotations

import types
from typing import Optional

import httpx
import pytest
import strawberry
from sqlalchemy import event

from api.app import create_app
from engine import hookimpl
from engine.plugins import ModuleInfo, PluginManager
from engine.runtime import Guanxi
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio

BATCH_CALLS: list[list[int]] = []


def _name_lengths(session, tenant_id, ids):
    from sqlalchemy import select

    from engine.models import Customer

    BATCH_CALLS.append(sorted(ids))
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.tenant_id == tenant_id, Customer.id.in_(ids)))
    return {cid: len(name) for cid, name in rows if name != "skip"}


def letters_batch(ctx):
    tenant_id = ctx.tenant_id
    return "letters.lengths", lambda session, ids: _name_lengths(session, tenant_id, ids)


@strawberry.type
class LetterFields:
    @strawberry.field
    def letters(self, info: strawberry.Info, plus: int = 0) -> Optional[int]:
        value = info.context.customer_value(letters_batch, self.id)
        if plus == 0:
            return value
        return _plus(value, plus)


async def _plus(value, plus):
    value = await value if hasattr(value, "__await__") else value
    return None if value is None else value + plus


def _letters_plugin():
    plugin = types.ModuleType("letters_plugin_for_prefetch_tests")
    plugin.guanxi_module = hookimpl(lambda: ModuleInfo(name="letters", title_zh="字数", title_en="Letters"))
    plugin.guanxi_customer_fields = hookimpl(lambda: [LetterFields])
    plugin.guanxi_graphql = hookimpl(lambda: {"customer_batches": {"letters": letters_batch}})
    return plugin


@pytest.fixture
async def letters_api(gx, tenant, make_key):
    plugins = PluginManager(gx.settings)
    plugins.load_default_plugins()
    plugins.register_module(_letters_plugin(), name="letters_plugin_for_prefetch_tests")
    app = create_app(Guanxi(settings=gx.settings, plugins=plugins, engine=gx.engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        admin = Api(client, make_key(tenant, "ADMIN"))
        body = await admin.gql('mutation { enableModule(input: {name: "letters"}) { errors { code } } }')
        assert body["data"]["enableModule"]["errors"] == []
        for name in ("Ann", "Bartholomew", "skip", "李小龙"):
            body = await admin.gql("mutation($n: String!) { createCustomer(input: {name: $n}) { errors { code } } }", {"n": name})
            assert body["data"]["createCustomer"]["errors"] == []
        BATCH_CALLS.clear()
        yield admin


async def _transactions(gx, api: Api, query: str) -> tuple[int, dict]:
    begun = []
    listener = lambda conn: begun.append(1)  # noqa: E731
    event.listen(gx.engine, "begin", listener)
    try:
        body = await api.gql(query)
    finally:
        event.remove(gx.engine, "begin", listener)
    return len(begun), body


async def test_a_page_loads_the_field_in_one_batch_within_its_own_read(gx, letters_api):
    without, _ = await _transactions(gx, letters_api, "{ customers(first: 10) { edges { node { id name } } } }")
    BATCH_CALLS.clear()
    with_field, body = await _transactions(gx, letters_api, "{ customers(first: 10) { edges { node { id name letters } } } }")
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert {n["name"]: n["letters"] for n in nodes} == {"Ann": 3, "Bartholomew": 11, "skip": None, "李小龙": 3}
    assert len(BATCH_CALLS) == 1 and len(BATCH_CALLS[0]) == 4
    assert with_field == without  # no read of its own: it came with the page


async def test_fragments_and_aliases_are_prefetched_too(letters_api):
    body = await letters_api.gql("""{ customers(first: 10) { edges { node { name ...L n: letters } } } }
                                   fragment L on Customer { letters }""")
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert all(n["letters"] == n["n"] for n in nodes) and {n["letters"] for n in nodes} == {3, 11, None}
    assert len(BATCH_CALLS) == 1


async def test_other_paths_and_arguments_use_the_dataloader_with_the_same_values(letters_api):
    page = await letters_api.gql("{ customers(first: 10) { edges { node { id name letters } } } }")
    by_id = {e["node"]["id"]: e["node"]["letters"] for e in page["data"]["customers"]["edges"]}
    BATCH_CALLS.clear()

    for cid, letters in by_id.items():
        body = await letters_api.gql("query($id: ID!) { node(id: $id) { ... on Customer { letters } } }", {"id": cid})
        assert body["data"]["node"]["letters"] == letters
    assert len(BATCH_CALLS) == len(by_id)  # one DataLoader batch per request

    BATCH_CALLS.clear()
    body = await letters_api.gql("{ customers(first: 10) { edges { node { name letters(plus: 1) } } } }")
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert {n["name"]: n["letters"] for n in nodes} == {"Ann": 4, "Bartholomew": 12, "skip": None, "李小龙": 4}
    assert len(BATCH_CALLS) == 1  # not prefetched (it has arguments): one DataLoader batch for the page
