"""The direct-call fast path (api/fast_resolvers.py) leans on strawberry's
internals (its field definitions behind each graphql-core field). pyproject
bounds strawberry-graphql below the next release it has not been tried with;
this test is what a raised bound must pass: the path still applies to the
fields a customer page is made of, and only to those it may."""

from __future__ import annotations

from graphql import GraphQLObjectType

from api.schema import SchemaCache

# Fields of a 100-customer page whose resolvers only format the row or hand
# back what the page loaded (api/prefetch.py): the bulk of the page's fields.
MUST_BE_DIRECT = {
    "Customer.id", "Customer.grossSpent", "Customer.netSpent", "Customer.gender", "Customer.rfm",
    "Customer.clv", "Customer.loyalty", "Interaction.id", "Interaction.kind", "Interaction.amount",
    "Complaint.id", "Complaint.status", "Complaint.customerId",
}
# Resolvers with arguments, or that load: strawberry's own path (argument conversion, extensions).
MUST_NOT_BE = {"Customer.interactions", "Query.customers", "Complaint.customer", "Complaint.events"}


def _direct_fields(schema) -> set[str]:
    return {
        f"{graphql_type.name}.{name}"
        for graphql_type in schema._schema.type_map.values() if isinstance(graphql_type, GraphQLObjectType)
        for name, field in graphql_type.fields.items()
        if getattr(field.resolve, "__module__", None) == "api.fast_resolvers"
    }


def test_the_page_fields_of_every_module_are_called_directly(gx):
    direct = _direct_fields(SchemaCache(gx.plugins).all_modules())
    assert MUST_BE_DIRECT <= direct, f"no longer called directly: {sorted(MUST_BE_DIRECT - direct)}"
    assert not MUST_NOT_BE & direct


def test_direct_fields_answer_as_strawberry_would(graphql, tenant):
    """The same page through the fast path reads as the schema says: global
    ids, enum values with labels, money as strings."""
    admin = graphql(tenant)
    created = admin.execute("""mutation { createCustomer(input: {name: "王芳", gender: FEMALE}) { customer { id } errors { code } } }""")
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    body = admin.execute("""query($id: ID!) { node(id: $id) { ... on Customer {
        id grossSpent netSpent gender { code label(lang: EN) } } } }""", {"id": customer_id})
    assert body["data"]["node"] == {"id": customer_id, "grossSpent": "0.00", "netSpent": "0.00",
                                    "gender": {"code": "FEMALE", "label": "Female"}}



# A schema of its own for the null-argument path (module level: the annotations are strings).
import enum  # noqa: E402
from typing import Optional  # noqa: E402

import strawberry  # noqa: E402


@strawberry.enum
class Lang(enum.Enum):
    ZH = "zh"
    EN = "en"


@strawberry.input
class Range:
    low: int


@strawberry.type
class Item:
    n: int

    @strawberry.field
    def describe(self, info: strawberry.Info, page_size: Optional[int] = None, lang: Optional[Lang] = None,
                 within: Optional[Range] = None) -> str:
        assert isinstance(info, strawberry.Info) and info.field_name == "describe"
        return repr((self.n, page_size, lang, within))


@strawberry.type
class Query:
    @strawberry.field
    def item(self) -> Item:
        return Item(n=7)


def test_null_arguments_are_passed_as_strawberry_would():
    """A synchronous resolver with arguments is called directly when the
    request's arguments are all null, and through strawberry (which converts
    enums and input objects) as soon as one is not: the same answers both ways."""
    from api.fast_resolvers import install_direct_resolvers

    queries = ["{ item { describe } }", "{ item { describe(pageSize: null, lang: null) } }",
               "{ item { describe(pageSize: 3) } }", "{ item { describe(lang: EN, within: {low: 2}) } }"]
    plain = strawberry.Schema(query=Query)
    fast = strawberry.Schema(query=Query)
    assert install_direct_resolvers(fast) >= 1
    assert getattr(fast._schema.type_map["Item"].fields["describe"].resolve, "__module__", None) == "api.fast_resolvers"
    for query in queries:
        want, got = plain.execute_sync(query), fast.execute_sync(query)
        assert not want.errors and not got.errors, (want.errors, got.errors)
        assert got.data == want.data, query
    assert fast.execute_sync(queries[1]).data == {"item": {"describe": "(7, None, None, None)"}}
    assert fast.execute_sync(queries[3]).data == {"item": {"describe": "(7, None, <Lang.EN: 'en'>, Range(low=2))"}}
