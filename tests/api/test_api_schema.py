"""Per-tenant schemas: a plugin's GraphQL appears only for tenants that enabled it."""

from __future__ import annotations

import types

import httpx
import pytest
import strawberry

from api.app import create_app
from engine import hookimpl
from engine.plugins import ModuleInfo, PluginManager
from engine.runtime import Guanxi
from tests.api.conftest import Api

pytestmark = pytest.mark.anyio


@strawberry.type
class StampFields:
    @strawberry.field
    def stamp_count(self) -> int:
        return len(self.name or "")  # self is the customer row


@strawberry.type
class StampQuery:
    @strawberry.field
    def stamp_hello(self) -> str:
        return "hello"


@strawberry.field
def stamp_initial(self) -> str:
    return (self.name or "?")[0]


def _stamp_plugin():
    plugin = types.ModuleType("stamp_plugin_for_api_tests")
    plugin.guanxi_module = hookimpl(lambda: ModuleInfo(name="stamp", title_zh="印章", title_en="Stamps"))
    plugin.guanxi_customer_fields = hookimpl(lambda: [StampFields, stamp_initial])
    plugin.guanxi_graphql = hookimpl(lambda: {"query": StampQuery})
    return plugin


@pytest.fixture(scope="module")
def stamp_app(gx):
    plugins = PluginManager(gx.settings)
    plugins.load_default_plugins()
    plugins.register_module(_stamp_plugin(), name="stamp_plugin_for_api_tests")
    return create_app(Guanxi(settings=gx.settings, plugins=plugins, engine=gx.engine))


async def _fields(api: Api, type_name: str) -> set[str]:
    body = await api.gql('query($t: String!) { __type(name: $t) { fields { name } } }', {"t": type_name})
    return {f["name"] for f in body["data"]["__type"]["fields"]}


async def test_enabling_a_module_changes_introspection(stamp_app, tenant, make_key):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stamp_app), base_url="http://test") as client:
        admin = Api(client, make_key(tenant, "ADMIN"))
        assert "stampCount" not in await _fields(admin, "Customer")
        assert "stampHello" not in await _fields(admin, "Query")
        body = await admin.gql('mutation { enableModule(input: {name: "stamp"}) { module { enabled } errors { code } } }')
        assert body["data"]["enableModule"] == {"module": {"enabled": True}, "errors": []}
        assert "stampCount" in await _fields(admin, "Customer")
        assert "stampHello" in await _fields(admin, "Query")
        await admin.gql('mutation { createCustomer(input: {name: "abcd"}) { errors { code } } }')
        body = await admin.gql("{ stampHello customers { edges { node { stampCount stampInitial } } } }")
        assert body["data"] == {"stampHello": "hello", "customers": {"edges": [{"node": {"stampCount": 4, "stampInitial": "a"}}]}}
        await admin.gql('mutation { disableModule(input: {name: "stamp"}) { errors { code } } }')
        assert "stampCount" not in await _fields(admin, "Customer")
        assert (await admin.post("{ stampHello }")).status_code == 400


def test_schemas_are_cached_per_module_set(stamp_app):
    schemas = stamp_app.state.schemas
    assert schemas.for_modules(frozenset({"stamp"})) is schemas.for_modules(frozenset({"stamp"}))
    assert schemas.for_modules(frozenset()) is not schemas.for_modules(frozenset({"stamp"}))
