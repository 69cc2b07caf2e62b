"""Safe composition: plugins that would overwrite each other's (or the core's)
GraphQL names, or misspell a contribution key, stop the schema build, and so
the API's start, with a message naming both plugins and the name."""

from __future__ import annotations

import asyncio
import re
import types
from typing import Optional

import pytest
import sqlalchemy as sa
import strawberry

from api.app import create_app
from api.contrib import CustomerFilter, CustomerOrder
from api.schema import SchemaCache, build_schema
from api.types import IntFilter
from engine import hookimpl
from engine.config import Settings
from engine.db import make_engine
from engine.plugins import ModuleInfo, PluginConflict, PluginError, PluginManager
from engine.runtime import Guanxi


def plugin(module: str, customer_fields=None, graphql=None):
    """A third-party plugin providing ``module``, with the given hook results."""
    made = types.ModuleType(f"{module}_plugin")
    made.guanxi_module = hookimpl(lambda: ModuleInfo(name=module, title_zh=module, title_en=module))
    if customer_fields is not None:
        made.guanxi_customer_fields = hookimpl(lambda: customer_fields)
    if graphql is not None:
        made.guanxi_graphql = hookimpl(lambda: graphql)
    return made


def manager_with(*plugins, settings: Settings | None = None) -> PluginManager:
    """The real plugin manager: the built-in plugins, then ``plugins``."""
    manager = PluginManager(settings or Settings())
    manager.load_default_plugins()
    for p in plugins:
        manager.register_module(p, name=p.__name__)
    manager.check()
    return manager


def build_all(manager: PluginManager):
    return build_schema(manager, frozenset(manager.modules))


# -- plugins that follow the naming rules ---------------------------------------------


@strawberry.type
class NpsSurvey:
    question: str


@strawberry.type
class NpsCustomerFields:
    @strawberry.field
    def nps_score(self) -> Optional[int]:
        return 9


@strawberry.type
class NpsQuery:
    @strawberry.field
    def nps_surveys(self) -> list[NpsSurvey]:
        return [NpsSurvey(question="Would you recommend us?")]


@strawberry.type
class NpsMutation:
    @strawberry.mutation
    def record_nps_answer(self, score: int) -> bool:
        return True


@strawberry.type
class SurveyCustomerFields:
    @strawberry.field
    def survey_count(self) -> int:
        return 0


@strawberry.type
class SurveyQuery:
    @strawberry.field
    def survey_templates(self) -> list[str]:
        return ["satisfaction"]


def no_condition(value, tenant_id):
    return sa.true()


def no_value(tenant_id):
    return sa.literal(0)


def nps() -> types.ModuleType:
    return plugin("nps", [NpsCustomerFields], {
        "query": NpsQuery, "mutation": NpsMutation,
        "customer_filters": [CustomerFilter("nps_score", IntFilter, no_condition)],
        "customer_orders": [CustomerOrder("NPS_SCORE", no_value)],
    })


def survey() -> types.ModuleType:
    return plugin("survey", [SurveyCustomerFields], {
        "query": [SurveyQuery],
        "customer_filters": [CustomerFilter("survey_count", IntFilter, no_condition)],
        "customer_orders": [CustomerOrder("SURVEY_COUNT", no_value)],
    })


def names_in(schema, type_name: str, part: str = "fields") -> set[str]:
    """What introspection shows of a type: its fields, input fields or enum values."""
    result = schema.execute_sync('query($t: String!) { __type(name: $t) { fields { name } inputFields { name } '
                                 'enumValues { name } } }', variable_values={"t": type_name})
    assert result.errors is None, result.errors
    return {item["name"] for item in result.data["__type"][part]}


def test_two_plugins_with_distinct_names_compose_and_a_tenant_sees_both():
    schemas = SchemaCache(manager_with(nps(), survey()))
    schemas.all_modules()  # what the API builds at start

    both = schemas.for_modules(frozenset({"rfm", "nps", "survey"}))
    assert {"npsScore", "surveyCount", "rfm"} <= names_in(both, "Customer")
    assert {"npsSurveys", "surveyTemplates", "rfmSegments", "customers"} <= names_in(both, "Query")
    assert {"recordNpsAnswer", "createCustomer"} <= names_in(both, "Mutation")
    assert {"npsScore", "surveyCount", "rfm", "grossSpent"} <= names_in(both, "CustomerWhere", "inputFields")
    assert {"NPS_SCORE", "SURVEY_COUNT", "RFM_RECENCY", "NAME"} <= names_in(both, "CustomerOrderField", "enumValues")
    result = both.execute_sync("{ npsSurveys { question } surveyTemplates }")
    assert result.data == {"npsSurveys": [{"question": "Would you recommend us?"}], "surveyTemplates": ["satisfaction"]}

    only_nps = schemas.for_modules(frozenset({"nps"}))
    assert "npsScore" in names_in(only_nps, "Customer")
    assert "surveyCount" not in names_in(only_nps, "Customer")


# -- clashes --------------------------------------------------------------------------


@strawberry.type
class NpsScoreField:
    @strawberry.field
    def score(self) -> int:
        return 9


@strawberry.type
class SurveyScoreField:
    @strawberry.field
    def score(self) -> float:  # another type, too: today's MRO would pick one silently
        return 4.5


@strawberry.type
class NpsEmailField:
    @strawberry.field
    def email(self) -> str:
        return "nps@example.com"


@strawberry.type
class NpsRfmField:
    @strawberry.field
    def rfm(self) -> str:
        return "not the rfm module's"


@strawberry.type(name="Survey")
class NpsSurveyType:
    score: int


@strawberry.type(name="Survey")
class SurveySurveyType:
    title: str


@strawberry.type(name="Tenant")
class NpsTenantType:
    slug: str


@strawberry.type
class NpsLatestSurvey:
    @strawberry.field
    def nps_latest(self) -> Optional[NpsSurveyType]:
        return None


@strawberry.type
class SurveyLatestSurvey:
    @strawberry.field
    def survey_latest(self) -> Optional[SurveySurveyType]:
        return None


@strawberry.type
class NpsTenantQuery:
    @strawberry.field
    def nps_tenant(self) -> Optional[NpsTenantType]:
        return None


@strawberry.type
class NpsSurveysQuery:
    @strawberry.field
    def surveys(self) -> list[str]:
        return []


@strawberry.type
class SurveySurveysQuery:
    @strawberry.field
    def surveys(self) -> list[str]:
        return []


@strawberry.type
class NpsCustomersQuery:
    @strawberry.field
    def customers(self) -> list[str]:
        return []


@strawberry.type
class NpsRecordAnswer:
    @strawberry.mutation
    def record_answer(self) -> bool:
        return True


@strawberry.type
class SurveyRecordAnswer:
    @strawberry.mutation
    def record_answer(self) -> bool:
        return True


@strawberry.type
class NpsCreateCustomer:
    @strawberry.mutation
    def create_customer(self) -> bool:
        return True


async def resolve_nothing(info, pk):
    return None


def batch_spec(ctx):
    return "score", lambda session, ids: {}


SCORE_FILTER = CustomerFilter("score", IntFilter, no_condition)
SCORE_ORDER = CustomerOrder("SCORE", no_value)

CLASHES = {
    "Customer field, two plugins": (
        [plugin("nps", [NpsScoreField]), plugin("survey", [SurveyScoreField])],
        "Customer field 'score' is contributed by both plugins 'nps' and 'survey'"),
    "Customer field, a plugin and the core": (
        [plugin("nps", [NpsEmailField])],
        "Customer field 'email' is contributed by plugin 'nps' and the core"),
    "Customer field, a plugin and a built-in plugin": (
        [plugin("nps", [NpsRfmField])],
        "Customer field 'rfm' is contributed by both plugins 'nps' and 'rfm'"),
    "GraphQL type, two plugins": (
        [plugin("nps", graphql={"query": NpsLatestSurvey}), plugin("survey", graphql={"query": SurveyLatestSurvey})],
        "GraphQL type 'Survey' is contributed by both plugins 'nps' and 'survey'"),
    "GraphQL type, a plugin's extra type and another's": (
        [plugin("nps", graphql={"types": [NpsSurveyType]}), plugin("survey", graphql={"types": [SurveySurveyType]})],
        "GraphQL type 'Survey' is contributed by both plugins 'nps' and 'survey'"),
    "GraphQL type, a plugin and the core": (
        [plugin("nps", graphql={"query": NpsTenantQuery})],
        "GraphQL type 'Tenant' is contributed by plugin 'nps' and the core"),
    "Query field, two plugins": (
        [plugin("nps", graphql={"query": NpsSurveysQuery}), plugin("survey", graphql={"query": SurveySurveysQuery})],
        "Query field 'surveys' is contributed by both plugins 'nps' and 'survey'"),
    "Query field, a plugin and the core": (
        [plugin("nps", graphql={"query": NpsCustomersQuery})],
        "Query field 'customers' is contributed by plugin 'nps' and the core"),
    "Query field, twice in one plugin": (
        [plugin("nps", graphql={"query": [NpsSurveysQuery, SurveySurveysQuery]})],
        "Query field 'surveys' is contributed twice by plugin 'nps'"),
    "Mutation field, two plugins": (
        [plugin("nps", graphql={"mutation": NpsRecordAnswer}),
         plugin("survey", graphql={"mutation": SurveyRecordAnswer})],
        "Mutation field 'recordAnswer' is contributed by both plugins 'nps' and 'survey'"),
    "Mutation field, a plugin and the core": (
        [plugin("nps", graphql={"mutation": NpsCreateCustomer})],
        "Mutation field 'createCustomer' is contributed by plugin 'nps' and the core"),
    "customer filter, two plugins": (
        [plugin("nps", graphql={"customer_filters": [SCORE_FILTER]}),
         plugin("survey", graphql={"customer_filters": [SCORE_FILTER]})],
        "customer filter 'score' is contributed by both plugins 'nps' and 'survey'"),
    "customer filter, a plugin and the core": (
        [plugin("nps", graphql={"customer_filters": [CustomerFilter("total_spent", IntFilter, no_condition)]})],
        "customer filter 'totalSpent' is contributed by plugin 'nps' and the core"),
    "customer order field, two plugins": (
        [plugin("nps", graphql={"customer_orders": [SCORE_ORDER]}),
         plugin("survey", graphql={"customer_orders": [SCORE_ORDER]})],
        "customer order field 'SCORE' is contributed by both plugins 'nps' and 'survey'"),
    "customer order field, a plugin and the core": (
        [plugin("nps", graphql={"customer_orders": [CustomerOrder("NAME", no_value)]})],
        "customer order field 'NAME' is contributed by plugin 'nps' and the core"),
    "node type, a plugin and the core": (
        [plugin("nps", graphql={"nodes": {"Customer": resolve_nothing}})],
        "node type 'Customer' is contributed by plugin 'nps' and the core"),
    "customer batch, two plugins": (
        [plugin("nps", graphql={"customer_batches": {"score": batch_spec}}),
         plugin("survey", graphql={"customer_batches": {"score": batch_spec}})],
        "customer batch 'score' is contributed by both plugins 'nps' and 'survey'"),
}


@pytest.mark.parametrize("plugins, message", CLASHES.values(), ids=CLASHES.keys())
def test_a_name_contributed_twice_fails_naming_both_contributors(plugins, message):
    manager = manager_with(*plugins)
    with pytest.raises(PluginConflict, match=re.escape(message)):
        build_all(manager)


def test_clashing_plugins_each_build_alone_so_the_check_follows_a_tenants_modules():
    manager = manager_with(plugin("nps", [NpsScoreField]), plugin("survey", [SurveyScoreField]))
    assert "score" in names_in(build_schema(manager, frozenset({"nps"})), "Customer")
    assert "score" in names_in(build_schema(manager, frozenset({"survey"})), "Customer")
    with pytest.raises(PluginConflict, match="'nps' and 'survey'"):
        build_schema(manager, frozenset({"nps", "survey"}))


@pytest.mark.parametrize("key, guess", [("mutations", "mutation"), ("customer_filter", "customer_filters")])
def test_an_unknown_contribution_key_fails_naming_the_plugin_and_the_key(key, guess):
    manager = manager_with(plugin("nps", graphql={"query": NpsQuery, key: [NpsMutation]}))
    expected = f"guanxi_graphql() of plugin 'nps' returns unknown key {key!r} (did you mean {guess!r}?)"
    with pytest.raises(PluginError, match=re.escape(expected)):
        build_all(manager)


def test_the_api_does_not_start_when_two_plugins_clash(gx):
    # `gx` upgrades the shared database first: the app checks the schema is
    # current before it builds the schemas, and would stop there.
    settings = Settings(database_url=gx.settings.database_url)
    manager = manager_with(plugin("nps", [NpsScoreField]), plugin("survey", [SurveyScoreField]), settings=settings)
    clashing = Guanxi(settings=settings, plugins=manager, engine=make_engine(settings))
    app = create_app(clashing)

    async def start():
        async with app.router.lifespan_context(app):
            pass

    message = "Customer field 'score' is contributed by both plugins 'nps' and 'survey'"
    try:
        with pytest.raises(PluginConflict, match=re.escape(message)):
            asyncio.run(start())
    finally:
        clashing.engine.dispose()
