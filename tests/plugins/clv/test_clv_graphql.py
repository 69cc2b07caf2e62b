"""Customer.clv and clvModel through the real ASGI app, per tenant."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from engine.services.keys import create_key
from engine.services.tenants import get_tenant
from tests.api.conftest import Api
from tests.plugins.clv.test_clv_plugin import load, score, simulate, stored

pytestmark = pytest.mark.anyio

CUSTOMERS = """{ customers(first: 100) { edges { node { code clv {
  probabilityAlive expectedPurchases30: expectedPurchases(days: 30) expectedPurchases(days: 45)
  expectedSpend predictedValue historicalValue valueDecile computedAt } } } } }"""
MODEL = """{ clvModel { kind unit parameters { name value stdError } logLikelihood customers uniqueRows
  spendModel fittedAt asOf warnings validation { holdoutDays totalActual totalPredicted meanAbsoluteError
  correlation byFrequency { frequency customers meanActual meanPredicted } } } }"""


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def app(gx):
    return create_app(gx)


def key(gx, slug, role="VIEWER"):
    with gx.system() as session:
        return create_key(session, get_tenant(session, slug), role, "test", actor="test").secret


async def test_customer_clv_and_clv_model(gx, app, make_tenant, tmp_path):
    tenant = make_tenant(modules=("clv",))
    load(gx, tenant, tmp_path, simulate(300, seed=1), extra_customers=["never"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        api = Api(client, key(gx, tenant))
        before = await api.gql(MODEL)
        assert before["data"] == {"clvModel": None} and "errors" not in before
        score(gx, tenant)
        [run], scores = stored(gx, tenant)
        body = await api.gql(CUSTOMERS)
        assert "errors" not in body, body
        nodes = {e["node"]["code"]: e["node"]["clv"] for e in body["data"]["customers"]["edges"]}
        assert len(nodes) == 100 and nodes.pop("never") is None  # newest first: the customer who never bought
        assert all(v is not None for v in nodes.values())
        one = next(v for v in nodes.values() if v is not None)
        assert 0 <= one["probabilityAlive"] <= 1 and 1 <= one["valueDecile"] <= 10
        assert one["expectedPurchases30"] <= one["expectedPurchases"]  # 45 days, computed from the parameters
        assert isinstance(one["predictedValue"], str) and isinstance(one["expectedSpend"], str)
        model = (await api.gql(MODEL))["data"]["clvModel"]
        assert (model["kind"], model["unit"], model["customers"]) == ("BG_NBD", "DAY", 300)
        assert {p["name"]: p["value"] for p in model["parameters"]} == {k: v["value"] for k, v in run.parameters.items()}
        assert model["logLikelihood"] == run.log_likelihood
        v = model["validation"]
        assert v["holdoutDays"] == run.validation["holdout_days"] and len(v["byFrequency"]) == 8


async def test_clv_fields_exist_only_for_tenants_that_enabled_the_module(gx, app, make_tenant):
    tenant = make_tenant()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        api = Api(client, key(gx, tenant))
        response = await api.post("{ clvModel { kind } }")
        assert response.status_code == 400
        body = await api.gql('{ __type(name: "Customer") { fields { name } } }')
        assert "clv" not in {f["name"] for f in body["data"]["__type"]["fields"]}


async def test_customers_filter_and_order_by_clv(gx, app, make_tenant, tmp_path):
    tenant = make_tenant(modules=("clv",))
    load(gx, tenant, tmp_path, simulate(200, seed=4), extra_customers=["never"])
    score(gx, tenant)
    _, scores = stored(gx, tenant)
    top_decile = sum(1 for s in scores.values() if s.value_decile == 10)
    query = """query($w: CustomerWhere, $o: CustomerOrder) { customers(first: 100, where: $w, orderBy: $o) {
      totalCount edges { node { code clv { predictedValue probabilityAlive } } } } }"""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        api = Api(client, key(gx, tenant))
        best = (await api.gql(query, {"w": {"clv": {"valueDecile": {"eq": 10}}}}))["data"]["customers"]
        assert best["totalCount"] == top_decile > 0
        alive_body = await api.gql(query, {"w": {"clv": {"probabilityAlive": {"gte": 0.5}}}})
        assert "errors" not in alive_body, alive_body
        alive = alive_body["data"]["customers"]
        assert all(e["node"]["clv"]["probabilityAlive"] >= 0.5 for e in alive["edges"])
        ordered = (await api.gql(query, {"o": {"field": "CLV_PREDICTED_VALUE", "direction": "DESC"}}))["data"]["customers"]
        values = [float(e["node"]["clv"]["predictedValue"]) for e in ordered["edges"] if e["node"]["clv"]]
        assert values == sorted(values, reverse=True) and len(values) == 100
