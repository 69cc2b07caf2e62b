"""Exports (engine/services/export.py, ``guanxi export``): columns and values,
the enabled modules' columns, filters equal to the GraphQL query's, erasure,
tenant isolation, the audit trail."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.export_where import CustomerWhereParser
from api.ids import decode_id
from engine.cli import app
from engine.models import AuditEvent
from engine.scoring import run_scoring
from engine.services import export as exports
from engine.services.customers import create_customer, erase_customer
from engine.services.interactions import record_interaction
from plugins.complaints.service import open_case
from plugins.rfm.models import RfmScore

ALL_MODULES = ("rfm", "clv", "loyalty", "complaints")
NAMES = ["王小明", "李娜", "张伟", "Alice Chen", "=HYPERLINK(\"http://x\")", "陈静", "刘洋", "赵敏", "Bob", "孙丽"]
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)


def build_shop(gx, make_tenant, modules=ALL_MODULES) -> dict:
    """A tenant with ten customers (Chinese names, tags, one formula-like
    name), purchases, a visit, a complaint, and RFM scores. Returns its slug
    and customer ids by code."""
    slug = make_tenant(modules=modules)
    ids = {}
    with gx.tenant(slug, actor="test") as ctx:
        for i, name in enumerate(NAMES):
            customer = create_customer(ctx, {
                "code": f"C{i}", "name": name, "phone": f"+86138000000{i:02d}", "city": "上海" if i % 2 else "北京",
                "tags": ["VIP", "敏感肌"] if i % 3 == 0 else [], "store": "S1" if i < 5 else "S2",
                **({"consent": {"SMS": True, "EMAIL": False, "WECHAT": True}, "attributes": {"尺码": "M"}} if i == 0 else {}),
            })
            ids[f"C{i}"] = customer.id
        for i in range(10):
            for n in range(i % 4 + 1):
                record_interaction(ctx, {"customer_id": ids[f"C{i}"], "kind": "PURCHASE", "amount": f"{100 * (i + 1)}.50",
                                         "occurred_at": T0 + timedelta(days=3 * n + i), "external_id": f"o-{i}-{n}"})
        record_interaction(ctx, {"customer_id": ids["C1"], "kind": "VISIT", "occurred_at": T0 + timedelta(days=20)})
        if "complaints" in modules:
            open_case(ctx, {"customer_id": ids["C2"], "category": "PRODUCT_QUALITY", "description": "过敏了"})
        if "rfm" in modules:
            run_scoring(ctx, ["rfm"], as_of=T0 + timedelta(days=40))
    return {"slug": slug, "ids": ids}


def read_csv(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM for Excel"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def export_csv(gx, slug, condition=None, page_size=None) -> list[dict]:
    out = io.BytesIO()
    exports.write_csv(exports.customer_export(gx, gx.tenant_id(slug), condition, page_size=page_size), out)
    return read_csv(out.getvalue())


def test_customer_csv_carries_core_fields_and_the_enabled_modules_columns(gx, make_tenant):
    build_shop(gx, make_tenant)  # another tenant's scores and cases, never joined in
    shop = build_shop(gx, make_tenant)
    rows = export_csv(gx, shop["slug"], page_size=3)  # several pages: keyset boundaries included
    assert [r["code"] for r in rows] == [f"C{i}" for i in range(10)]
    by_code = {r["code"]: r for r in rows}
    assert by_code["C0"]["name"] == "王小明" and by_code["C0"]["city"] == "北京"
    assert by_code["C0"]["tags"] == "VIP|敏感肌" and by_code["C0"]["phone"] == "+8613800000000"
    assert by_code["C4"]["name"] == "'=HYPERLINK(\"http://x\")"  # never a live formula in a spreadsheet
    assert set(by_code["C0"]["consent"].split("|")) == {"SMS", "WECHAT"}  # the channels said yes to
    assert json.loads(by_code["C0"]["attributes"]) == {"尺码": "M"}
    assert by_code["C1"]["consent"] == "" and by_code["C1"]["attributes"] == "" and by_code["C1"]["tags"] == ""
    assert by_code["C3"]["purchase_count"] == "4" and by_code["C3"]["total_spent"] == "1602.00"
    assert datetime.fromisoformat(by_code["C0"]["first_purchase_at"]) == T0
    with gx.tenant(shop["slug"], write=False) as ctx:
        scores = {s.customer_id: s for s in ctx.session.exec(select(RfmScore)).scalars()}
    for code, customer_id in shop["ids"].items():
        assert by_code[code]["rfm_segment"] == scores[customer_id].segment
        assert by_code[code]["rfm_r_score"] == str(scores[customer_id].r_score)
    # loyalty enrols on the first purchase; complaints count cases; CLV never fitted: empty cells
    assert by_code["C5"]["loyalty_tier"] and int(by_code["C5"]["loyalty_points"]) > 0
    assert (by_code["C2"]["complaints_total"], by_code["C2"]["complaints_open"]) == ("1", "1")
    assert by_code["C3"]["complaints_total"] == "" and by_code["C3"]["clv_predicted_value"] == ""
    assert "clv_probability_alive" in rows[0]


def test_guanxi_export_columns_reach_only_the_enabled_modules(gx, make_tenant):
    shop = build_shop(gx, make_tenant, modules=("rfm",))
    header = list(export_csv(gx, shop["slug"])[0])
    assert "rfm_segment" in header
    assert not [name for name in header if name.startswith(("loyalty_", "clv_", "complaints_"))]


def test_xlsx_round_trips_chinese_text_and_numbers_and_writes_no_formula(gx, make_tenant, tmp_path):
    shop = build_shop(gx, make_tenant, modules=("rfm",))
    path = tmp_path / "customers.xlsx"
    with path.open("wb") as handle:
        assert exports.write_xlsx(exports.customer_export(gx, gx.tenant_id(shop["slug"])), handle) == 10
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    by_code = {row[header.index("code")]: dict(zip(header, row)) for row in body}
    assert by_code["C0"]["name"] == "王小明" and by_code["C0"]["tags"] == "VIP|敏感肌"
    assert by_code["C3"]["purchase_count"] == 4 and float(by_code["C3"]["total_spent"]) == 1602.0
    formula_cell = sheet.cell(row=[r[header.index("code")] for r in rows].index("C4") + 1, column=header.index("name") + 1)
    assert formula_cell.data_type == "s"


def _graphql_ids(graphql, slug, where) -> set[int]:
    body = graphql(slug, "ANALYST").execute(
        "query($w: CustomerWhere) { customers(first: 100, where: $w) { edges { node { id } } } }", {"w": where})
    assert "errors" not in body, body
    return {decode_id(e["node"]["id"], "Customer") for e in body["data"]["customers"]["edges"]}


@pytest.mark.parametrize("where", [
    {"name": {"contains": "李"}},
    {"totalSpent": {"gte": "500"}, "store": {"eq": "S2"}},
    {"tags": {"has": "敏感肌"}},
    {"OR": [{"code": {"in": ["C1", "C2"]}}, {"purchaseCount": {"gte": 4}}]},
    {"rfm": {"segment": {"in": ["CHAMPIONS", "LOYAL", "AT_RISK", "HIBERNATING"]}}},
    {"rfm": {"rScore": {"gte": 3}}, "lastPurchaseAt": {"gte": "2026-01-10T00:00:00+08:00"}},
])
def test_filters_select_what_the_graphql_customers_query_lists(gx, make_tenant, graphql, where):
    shop = build_shop(gx, make_tenant, modules=("rfm",))
    tenant_id = gx.tenant_id(shop["slug"])
    condition = CustomerWhereParser(gx.plugins).condition(frozenset({"rfm"}), where, gx.engine.dialect.name, tenant_id)
    exported = {int(r["id"]) for r in export_csv(gx, shop["slug"], condition)}
    assert exported == _graphql_ids(graphql, shop["slug"], where)


# -- the CLI -----------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch, database_url):
    """``guanxi`` on the test database."""
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)

    def run(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    return run


def test_cli_exports_a_segment_and_a_filter_to_csv_and_xlsx(gx, make_tenant, cli, tmp_path):
    shop = build_shop(gx, make_tenant)
    other = build_shop(gx, make_tenant)  # same codes, another tenant: never in the file
    with gx.tenant(shop["slug"], write=False) as ctx:
        segment = ctx.session.exec(select(RfmScore.segment)).scalars().first()
        in_segment = set(ctx.session.exec(select(RfmScore.customer_id).where(RfmScore.segment == segment)).scalars())
    out = tmp_path / "seg.csv"
    result = cli("export", "segment", segment.lower(), "--tenant", shop["slug"], "-o", out)
    assert result.exit_code == 0, result.output
    assert {int(r["id"]) for r in read_csv(out.read_bytes())} == in_segment
    out = tmp_path / "vip.xlsx"
    result = cli("export", "customers", "--tenant", shop["slug"], "--where", '{"tags": {"has": "VIP"}}', "-o", out)
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == sorted(shop["ids"][c] for c in ("C0", "C3", "C6", "C9"))
    assert not set(other["ids"].values()) & {r[0] for r in rows[1:]}


@pytest.mark.parametrize("args, field", [
    (["customers", "--where", '{"totalSpent": {"gte": "lots"}}'], "where.totalSpent.gte"),
    (["customers", "--where", '{"nmae": {"eq": "x"}}'], "where:"),
    (["customers", "--where", "{not json"], "where: is not valid JSON"),
    (["customers", "--where", '{"createdAt": {"gte": "2026-01-01T00:00:00"}}'], "where: date-times in filters need an offset"),
    (["customers", "--format", "pdf"], "format: must be one of csv, xlsx"),
    (["segment", "CHAMPIOSN"], "segment: 'CHAMPIOSN' is not an RFM segment code"),
    (["interactions", "--kind", "BUY"], "kind: unknown value 'BUY'"),
    (["interactions", "--since", "last week"], "since: 'last week' is not an ISO 8601"),
    (["interactions", "--customer", "NOPE"], "customer: no customer with code or id 'NOPE'"),
])
def test_cli_refuses_bad_options_naming_them_and_writes_nothing(make_tenant, cli, tmp_path, args, field):
    slug = make_tenant(modules=("rfm",))
    out = tmp_path / "out.csv"
    result = cli("export", *args, "--tenant", slug, "-o", out)
    assert result.exit_code == 1, result.output  # refused values are domain errors (1); 2 is for usage errors
    assert field in " ".join(result.output.split())
    assert not out.exists() and not list(tmp_path.iterdir())


def test_segment_needs_the_rfm_module(make_tenant, cli, tmp_path):
    result = cli("export", "segment", "CHAMPIONS", "--tenant", make_tenant(), "-o", tmp_path / "x.csv")
    assert result.exit_code == 1 and "rfm module is not enabled" in " ".join(result.output.split())


def test_xlsx_over_the_sheet_limit_fails_and_leaves_no_file(gx, make_tenant, cli, tmp_path, monkeypatch):
    shop = build_shop(gx, make_tenant, modules=())
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    monkeypatch.setattr(exports, "PAGE_SIZE", 4)
    result = cli("export", "customers", "--tenant", shop["slug"], "-o", tmp_path / "big.xlsx")
    assert result.exit_code == 1 and "export this many as CSV" in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == []


def test_interactions_by_kind_date_range_and_customer(gx, make_tenant, cli, tmp_path):
    shop = build_shop(gx, make_tenant, modules=())
    out = tmp_path / "i.csv"
    # C3 bought on Jan 8, 11, 14, 17 (10:00 Shanghai); Jan 11-14 local includes both ends.
    result = cli("export", "interactions", "--tenant", shop["slug"], "--customer", "C3", "--kind", "purchase",
                 "--since", "2026-01-11", "--until", "2026-01-14", "-o", out)
    assert result.exit_code == 0, result.output
    rows = read_csv(out.read_bytes())
    assert [(r["customer_code"], r["kind"], r["amount"]) for r in rows] == [("C3", "PURCHASE", "400.50")] * 2
    assert [datetime.fromisoformat(r["occurred_at"]) for r in rows] == [T0 + timedelta(days=6), T0 + timedelta(days=9)]
    result = cli("export", "interactions", "--tenant", shop["slug"], "--kind", "VISIT", "-o", out)
    assert [r["customer_id"] for r in read_csv(out.read_bytes())] == [str(shop["ids"]["C1"])]


def test_erased_customers_personal_data_is_not_exported(gx, make_tenant, tmp_path):
    shop = build_shop(gx, make_tenant)
    with gx.tenant(shop["slug"], actor="test") as ctx:
        erase_customer(ctx, shop["ids"]["C1"])
    out = io.BytesIO()
    exports.write_csv(exports.customer_export(gx, gx.tenant_id(shop["slug"])), out)
    text = out.getvalue().decode("utf-8-sig")
    assert "李娜" not in text and "+8613800000001" not in text
    row = next(r for r in read_csv(out.getvalue()) if r["id"] == str(shop["ids"]["C1"]))
    assert row["erased_at"] and not any(row[f] for f in ("code", "name", "phone", "city", "tags"))
    assert row["purchase_count"] == "2"  # the anonymous facts stay
    interactions = io.BytesIO()
    exports.write_csv(exports.interaction_export(gx, gx.tenant_id(shop["slug"])), interactions)
    assert "李娜" not in interactions.getvalue().decode("utf-8-sig")


def test_each_export_is_audited_with_its_rows_and_filters_without_their_values(gx, make_tenant, cli, tmp_path):
    shop = build_shop(gx, make_tenant, modules=("rfm",))
    result = cli("export", "customers", "--tenant", shop["slug"], "--where", '{"name": {"contains": "王"}}',
                 "-o", tmp_path / "w.csv")
    assert result.exit_code == 0, result.output
    with gx.tenant(shop["slug"], write=False) as ctx:
        event = ctx.session.exec(select(AuditEvent).where(AuditEvent.action == "export.customers")).scalars().one()
    assert (event.actor, event.changes["rows"], event.changes["complete"]) == ("cli", 1, True)
    assert event.changes["filters"] == {"where": ["name.contains"]} and "王" not in json.dumps(event.changes)


def test_postgres_copy_runs_under_the_tenants_row_level_security(gx, make_tenant):
    """The COPY runs in the tenant's transaction as the application role: even
    a statement without a tenant filter sees only the tenant's rows."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    shop, other = build_shop(gx, make_tenant, modules=()), build_shop(gx, make_tenant, modules=())
    unfiltered = select(exports.CUSTOMERS.c.id).order_by(exports.CUSTOMERS.c.id)
    export = exports.Export("customers", ["id"], gx, gx.tenant_id(shop["slug"]), unfiltered)
    ids = {int(line) for line in b"".join(export.copy_blocks()).split()}
    assert ids == set(shop["ids"].values()) and not ids & set(other["ids"].values())


def test_a_reader_that_stops_early_ends_the_export_and_frees_its_connection(gx, make_tenant):
    shop = build_shop(gx, make_tenant, modules=("rfm",))
    tenant_id = gx.tenant_id(shop["slug"])
    for _ in range(3):  # more than once: a connection left mid-read would show on the next
        export = exports.customer_export(gx, tenant_id, page_size=3)
        chunks = exports.csv_chunks(export)
        first = next(chunks)
        chunks.close()
        assert len(read_csv(first)) == 3 and export.rows == 3
    assert len(export_csv(gx, shop["slug"])) == 10


def test_the_databases_formula_guard_agrees_with_safe_text(gx, make_tenant):
    """Names and tags a spreadsheet would run, and look-alikes it would not."""
    texts = ["=1+1", "@SUM(A1)", "+", "-", "+cmd", "-x", "-12.5", "+8613800000000", "王=", "a", "'quoted"]
    slug = make_tenant()
    with gx.tenant(slug, actor="test") as ctx:
        for i, text in enumerate(texts):
            create_customer(ctx, {"code": f"G{i}", "name": text, "tags": [text, "VIP"]})
    rows = export_csv(gx, slug)
    assert [r["name"] for r in rows] == [exports.safe_text(t) for t in texts]
    assert [r["tags"] for r in rows] == [exports.safe_text(t) + "|VIP" for t in texts]
