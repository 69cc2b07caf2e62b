"""Customer search as Chinese staff search (docs/search.md): pinyin, initials,
Han characters (prefixes of the name and the given name), phone last 4, tags
exactly; kept current on every write; one tenant only; through the service,
GraphQL and the import; on indexes."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from engine.bulk import analyze, insert_rows
from engine.db import make_migration_engine
from engine.models import Customer, Tenant
from engine.services.customers import create_customer, delete_customer, erase_customer, update_customer
from engine.services.importer import import_file
from engine.services.search import (
    SearchText, first_tagged, index_tags, match_condition, search_customers, search_statement, with_search_columns,
)
from engine.testing import engine_on, new_tenant
from engine.types import utcnow


def names(gx, tenant, text, limit=20):
    with gx.tenant(tenant, write=False) as ctx:
        return [c.name for c in search_customers(ctx.session, ctx.tenant_id, text, limit)]


@pytest.fixture
def shop(gx, tenant):
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"name": "王芳", "phone": "+86 138-0013-8000", "tags": ["VIP", "敏感肌"]})
        create_customer(ctx, {"name": "王飞翔", "phone": "13912345678", "tags": ["VIPX"]})
        create_customer(ctx, {"name": "汪峰", "phone": "13700001111"})
        create_customer(ctx, {"name": "曾小贤", "code": "C-77", "wechat_id": "zxx_wx"})
        create_customer(ctx, {"name": "Amy Li", "email": "amy@example.com"})
        create_customer(ctx, {"name": "吕布"})
    return tenant


@pytest.mark.parametrize("text, expected", [
    ("wangfang", ["王芳"]),
    ("wang fang", ["王芳"]),
    ("WangF", ["王芳", "王飞翔", "汪峰"]),  # in pinyin order: wangfang, wangfeixiang, wangfeng
    ("wf", ["王芳", "汪峰", "王飞翔"]),  # initials exactly "wf" first
    ("wfx", ["王飞翔"]),
    ("W", ["王芳", "王飞翔", "汪峰"]),  # one letter: the pinyin's first
    ("x", []),  # not the initial of a later syllable
    ("wangfeng", ["汪峰"]),
    ("王", ["王芳", "王飞翔"]),
    ("王芳", ["王芳"]),
    ("芳", ["王芳"]),  # the start of the given name
    ("飞", ["王飞翔"]),
    ("翔", []),  # not the middle of a given name
    ("王 飞", ["王飞翔"]),  # spaces do not count
    ("zengxiaoxian", ["曾小贤"]),  # the surname reading (曾 zeng, not ceng)
    ("lvbu", ["吕布"]),
    ("lü", ["吕布"]),
    ("amy", ["Amy Li"]),
    ("fang", []),  # prefixes only: not the middle of the pinyin
])
def test_names_are_found_by_pinyin_initials_and_characters(gx, shop, text, expected):
    assert names(gx, shop, text) == expected


def test_characters_find_the_start_of_a_name_or_of_its_given_name(gx, tenant):
    with gx.tenant(tenant) as ctx:
        for name in ("欧阳娜娜", "欧阳", "李娜", "Ｊｏｓé Ｌｉ", "O'Neil 张"):
            create_customer(ctx, {"name": name})
    assert names(gx, tenant, "欧阳") == ["欧阳", "欧阳娜娜"]  # the exact name first
    assert names(gx, tenant, "娜娜") == ["欧阳娜娜"]  # 欧阳 is one family name: 娜娜 is the given name
    assert names(gx, tenant, "娜") == ["李娜", "欧阳娜娜"]
    assert names(gx, tenant, "阳") == []
    assert names(gx, tenant, "josé") == ["Ｊｏｓé Ｌｉ"]  # full-width letters and case fold
    assert names(gx, tenant, "o'neil 张") == ["O'Neil 张"]
    assert names(gx, tenant, "张") == []  # a Latin name has no given name to start


def test_a_common_tag_lists_its_first_customers_in_pinyin_order(gx, tenant):
    with gx.tenant(tenant) as ctx:
        for name in ("赵六", "王五", "钱七", "孙八", "李四", "张三"):
            create_customer(ctx, {"name": name, "tags": ["新客"]})
        gone = create_customer(ctx, {"name": "艾一", "tags": ["新客"]})
        renamed = create_customer(ctx, {"name": "周九", "tags": ["新客"]})
    with gx.tenant(tenant) as ctx:
        delete_customer(ctx, gone.id)
        update_customer(ctx, renamed.id, {"name": "白九"})  # the tag rows follow the new pinyin
    assert names(gx, tenant, "新客", limit=4) == ["白九", "李四", "钱七", "孙八"]
    assert names(gx, tenant, "新客") == ["白九", "李四", "钱七", "孙八", "王五", "张三", "赵六"]


def test_phones_are_found_by_last_four_digits_or_the_whole_number(gx, shop):
    assert names(gx, shop, "8000") == ["王芳"]
    assert names(gx, shop, "13800138000") == ["王芳"]  # stored as +86 138-0013-8000
    assert names(gx, shop, "+86 138 0013 8000") == ["王芳"]
    assert names(gx, shop, "13900138000") == []  # same last four, another number
    assert names(gx, shop, "0013") == []  # the middle of a number is not its end


def test_tags_codes_wechat_and_email_match_exactly(gx, shop):
    assert names(gx, shop, "VIP") == ["王芳"]
    assert names(gx, shop, "VIPX") == ["王飞翔"]
    assert names(gx, shop, "VI") == []
    assert names(gx, shop, "敏感肌") == ["王芳"]
    assert names(gx, shop, "C-77") == ["曾小贤"]
    assert names(gx, shop, "zxx_wx") == ["曾小贤"]
    assert names(gx, shop, "Amy@Example.com") == ["Amy Li"]


def test_updates_change_what_finds_a_customer(gx, tenant):
    with gx.tenant(tenant) as ctx:
        who = create_customer(ctx, {"name": "王芳", "phone": "13800138000", "tags": ["VIP"]})
    with gx.tenant(tenant) as ctx:
        update_customer(ctx, who.id, {"name": "李娜", "phone": "13600002222", "tags": ["新客"]})
    assert names(gx, tenant, "wangfang") == names(gx, tenant, "wf") == names(gx, tenant, "8000") == []
    assert names(gx, tenant, "VIP") == []
    assert names(gx, tenant, "lina") == names(gx, tenant, "ln") == names(gx, tenant, "2222") == names(gx, tenant, "新客") == ["李娜"]
    with gx.tenant(tenant) as ctx:
        update_customer(ctx, who.id, {"name": None, "phone": None, "tags": []})
    assert names(gx, tenant, "lina") == names(gx, tenant, "2222") == names(gx, tenant, "新客") == []


def test_erased_and_deleted_customers_are_not_found(gx, tenant):
    with gx.tenant(tenant) as ctx:
        erased = create_customer(ctx, {"name": "王芳", "phone": "13800138000", "tags": ["VIP"]})
        deleted = create_customer(ctx, {"name": "张伟", "phone": "13700007777"})
    with gx.tenant(tenant) as ctx:
        erase_customer(ctx, erased.id)
        delete_customer(ctx, deleted.id)
    for text in ("wangfang", "wf", "王芳", "8000", "VIP", "zhangwei", "7777"):
        assert names(gx, tenant, text) == [], text
    with gx.tenant(tenant, write=False) as ctx:  # the search forms are blank, not just hidden
        row = ctx.session.get(Customer, erased.id)
        assert (row.name_pinyin, row.name_initials, row.phone_last4) == (None, None, None)
        assert ctx.session.execute(sa.text("SELECT COUNT(*) FROM customer_tags WHERE customer_id = :c"), {"c": erased.id}).scalar() == 0


def test_another_tenants_customers_are_never_found(gx, make_tenant):
    a, b = make_tenant(), make_tenant()
    with gx.tenant(a) as ctx:
        create_customer(ctx, {"name": "王芳", "phone": "13800138000", "tags": ["VIP"], "code": "A1"})
    for text in ("wangfang", "wf", "王", "8000", "13800138000", "VIP", "A1"):
        assert names(gx, b, text) == [], text
        assert names(gx, a, text) == ["王芳"], text


def test_imported_customers_are_found_by_pinyin_phone_and_tag(gx, tenant, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("code,name,phone,tags\nI1,赵敏,13811119999,VIP|老客\nI2,周杰,,\n", encoding="utf-8")
    import_file(gx, tenant, "customers", path)
    assert names(gx, tenant, "zhaomin") == names(gx, tenant, "zm") == names(gx, tenant, "9999") == ["赵敏"]
    assert names(gx, tenant, "老客") == ["赵敏"]
    assert names(gx, tenant, "zj") == ["周杰"]


def test_customers_stored_before_search_existed_are_found_after_the_upgrade(fresh_database_url):
    """core_0006 fills in the search forms and tag rows of the customers already stored."""
    gx = engine_on(fresh_database_url, upgrade=False)
    gx.upgrade("core_0005")
    engine = make_migration_engine(gx.settings)
    now = utcnow()
    with engine.begin() as connection:
        tenant_id = connection.execute(sa.insert(Tenant.__table__).values(
            slug="old", name="old", currency="CNY", timezone="Asia/Shanghai", locale="zh-CN", created_at=now)
            .returning(Tenant.__table__.c.id)).scalar_one()
        for name, phone, tags in [("王芳", "+8613800138000", ["VIP", "新客"]), ("欧阳娜娜", None, ["新客"]),
                                  ("曾小贤", "+8613700001111", []), (None, None, ["新客"])]:
            connection.execute(sa.text(
                "INSERT INTO customers (tenant_id, name, phone, role, lifecycle_stage, tags, attributes, consent,"
                " created_at, updated_at, purchase_count, purchase_days, total_spent, refunded_amount)"
                " VALUES (:t, :name, :phone, 'POTENTIAL', 'EXPLORATION', :tags, '{}', '{}', :now, :now, 0, 0, 0, 0)"
            ).bindparams(sa.bindparam("tags", type_=Customer.__table__.c.tags.type),
                         sa.bindparam("now", type_=Customer.__table__.c.created_at.type)),
                {"t": tenant_id, "name": name, "phone": phone, "tags": tags, "now": now})
    engine.dispose()
    gx.upgrade()
    try:
        assert names(gx, "old", "王") == names(gx, "old", "芳") == names(gx, "old", "wf") == ["王芳"]
        assert names(gx, "old", "娜娜") == names(gx, "old", "ouyang") == ["欧阳娜娜"]
        assert names(gx, "old", "zengxiaoxian") == names(gx, "old", "1111") == ["曾小贤"]
        assert names(gx, "old", "新客") == [None, "欧阳娜娜", "王芳"]  # in pinyin order, no name first
    finally:
        gx.engine.dispose()


SEARCH = """query($s: String, $w: CustomerWhere) {
  customers(search: $s, where: $w, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { name } } } }"""


def test_graphql_search_and_tag_filter(gx, shop, graphql):
    viewer = graphql(shop, "VIEWER")

    def found(search=None, where=None):
        body = viewer.execute(SEARCH, {"s": search, "w": where})
        assert "errors" not in body, body
        page = body["data"]["customers"]
        assert page["totalCount"] == len(page["edges"])
        return [e["node"]["name"] for e in page["edges"]]

    assert found("wf") == ["汪峰", "王芳", "王飞翔"]
    assert found("8000") == ["王芳"]
    assert found("王") == ["王芳", "王飞翔"]
    assert found(where={"tags": {"has": "VIP"}}) == ["王芳"]
    assert found(where={"tags": {"has": "VI"}}) == []
    assert found(where={"tags": {"hasAny": ["VIP", "VIPX"]}}) == ["王芳", "王飞翔"]
    assert found("wang", where={"tags": {"has": "VIPX"}}) == ["王飞翔"]


# -- the indexes are used ---------------------------------------------------------------


@pytest.fixture(scope="module")
def crowd(gx):
    """A tenant of 5,000 customers with planner statistics, so plans are the real ones."""
    rnd = random.Random(7)
    slug = new_tenant(gx)
    with gx.tenant(slug) as ctx:
        rows = [with_search_columns({
            "tenant_id": ctx.tenant_id, "name": rnd.choice("王李张刘陈杨黄赵吴周") + "".join(rnd.sample("芳伟娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚", 2)),
            "phone": f"13{rnd.randint(0, 999_999_999):09d}", "tags": rnd.sample(["VIP", "新客", "老客", "敏感肌"], rnd.randint(0, 2)),
            "role": "POTENTIAL", "lifecycle_stage": "EXPLORATION", "attributes": {}, "consent": {},
            "created_at": utcnow(), "updated_at": utcnow(),
        }) for _ in range(5000)]
        ids = insert_rows(ctx.session, Customer.__table__, rows)
        index_tags(ctx.session, ctx.tenant_id, [(i, row["tags"]) for i, row in zip(ids, rows)])
        analyze(ctx.session, ["customers", "customer_tags"])
    return slug


def _plan(ctx, text: str) -> str:
    query = SearchText.parse(text)
    statement = sa.select(Customer.id).where(
        Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None), match_condition(ctx.tenant_id, query))
    return _explain(ctx, statement)


def _explain(ctx, statement) -> str:
    sql = str(statement.compile(dialect=ctx.session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    if ctx.session.get_bind().dialect.name == "sqlite":
        return "\n".join(row[-1] for row in ctx.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")).all())
    # 5,000 rows: reading them all is the cheapest way to join; with a million
    # it is not. Forbid it, and see which indexes the planner has for each part.
    ctx.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in ctx.session.execute(sa.text(f"EXPLAIN {sql}")).all())


def _search_plan(ctx, text: str) -> str:
    return _explain(ctx, search_statement(ctx.tenant_id, SearchText.parse(text), 20))


SEARCHES = [
    ("wangf", ["ix_customers_tenant_name_pinyin", "ix_customers_tenant_name_initials", "ix_customer_tags_tenant_tag"]),
    ("w", ["ix_customers_tenant_name_pinyin", "ix_customer_tags_tenant_tag"]),
    ("8000", ["ix_customers_tenant_phone_last4", "ix_customer_tags_tenant_tag"]),
    ("13800138000", ["ix_customers_tenant_phone_last4"]),
    ("VIP", ["ix_customer_tags_tenant_tag", "ix_customers_tenant_name_pinyin"]),
    ("王", ["ix_customers_tenant_name_folded", "ix_customers_tenant_given_name_folded", "ix_customer_tags_tenant_tag"]),
    ("王芳", ["ix_customers_tenant_name_folded", "ix_customers_tenant_given_name_folded"]),
    ("芳", ["ix_customers_tenant_given_name_folded", "ix_customers_tenant_name_folded"]),
    ("新客", ["ix_customer_tags_tenant_tag", "ix_customers_tenant_name_folded"]),
    ("敏感肌", ["ix_customer_tags_tenant_tag", "ix_customers_tenant_given_name_folded"]),
    ("%芳_", ["ix_customers_tenant_name_folded"]),  # symbols: a prefix too, not a pattern
]


@pytest.mark.parametrize("text, indexes", SEARCHES)
def test_indexed_searches_read_no_whole_table(gx, crowd, text, indexes):
    with gx.tenant(crowd, write=False) as ctx:
        plan = _plan(ctx, text)
    for index in indexes:
        assert index in plan, plan
    assert "SCAN customers" not in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize("text, indexes", SEARCHES)
def test_the_first_results_read_no_whole_table(gx, crowd, text, indexes):
    """What the search box runs (each way's first 20, merged) is on indexes too."""
    with gx.tenant(crowd, write=False) as ctx:
        plan = _search_plan(ctx, text)
    for index in indexes:
        assert index in plan, plan
    assert "SCAN customers" not in plan and "SCAN customer_tags" not in plan and "Seq Scan" not in plan, plan


def test_a_common_tag_reads_its_first_customers_from_the_index_in_order(gx, crowd):
    """新客 is on about a fifth of the crowd: its first rows are read in pinyin order, never all sorted."""
    with gx.tenant(crowd, write=False) as ctx:
        plan = _explain(ctx, first_tagged(ctx.tenant_id, "新客", 20))
    assert "ix_customer_tags_tenant_tag" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
