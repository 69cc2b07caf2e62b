"""What import files arrive as: GB18030 from Excel, UTF-8 with a BOM, XLSX, and garbage.

Garbage (bad bytes, a 128 KB field, NUL, over-long values, impossible dates)
is rejected row by row like any other invalid row, never a traceback, and
the reasons quote no personal data.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from engine.cli import app
from engine.errors import ValidationFailed
from engine.models import Customer, Interaction
from engine.services.importer import import_file
from tests.import_support import count, customer, jobs, kinds, money, read_rejects, write_csv

NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静"]
SECRET = "13911112222"  # a phone number standing for personal data: it must not leak into messages


def test_a_gb18030_csv_saved_by_excel_imports_with_its_chinese_names(gx, tenant, tmp_path):
    path = write_csv(tmp_path / "会员.csv", ["code", "name", "city"],
                     [[f"G{i}", name, "广州"] for i, name in enumerate(NAMES)], encoding="gb18030")
    assert "张伟".encode("gb18030") in path.read_bytes()  # really GB18030 bytes, not UTF-8
    report = import_file(gx, tenant, "customers", path)
    assert (report.encoding, report.rows_stored, report.rows_invalid) == ("gb18030", 5, 0)
    assert [customer(gx, tenant, f"G{i}").name for i in range(5)] == NAMES
    assert customer(gx, tenant, "G0").city == "广州"


def test_a_one_row_gb18030_file_is_not_taken_for_big5(gx, tenant, tmp_path):
    # Two characters read as well in Big5 or Korean: the tie goes to GB18030.
    path = write_csv(tmp_path / "one.csv", ["code", "name"], [["G1", "张伟"]], encoding="gb18030")
    assert import_file(gx, tenant, "customers", path).rows_stored == 1
    assert customer(gx, tenant, "G1").name == "张伟"


def test_utf8_with_a_bom_imports_and_the_bom_is_not_part_of_the_first_column(gx, tenant, tmp_path):
    path = write_csv(tmp_path / "bom.csv", ["code", "name"], [["B1", "黄蓉"]], encoding="utf-8-sig")
    report = import_file(gx, tenant, "customers", path)
    assert (report.encoding, report.rows_stored) == ("utf-8", 1)
    assert customer(gx, tenant, "B1").name == "黄蓉"


@pytest.mark.parametrize("content, found", [
    ("code,name\nU1,黄蓉\n".encode("utf-16"), "UTF-16 or binary"),
    (bytes(range(128, 256)) * 64, "neither UTF-8 nor GB18030"),
    ("code,name,city\n".encode() + "C1,陳大文,臺北市中正區\n".encode("big5") * 50, "detected: big5"),
])
def test_a_file_in_another_encoding_is_refused_naming_the_file(gx, tenant, tmp_path, content, found):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(ValidationFailed) as caught:
        import_file(gx, tenant, "customers", path)
    assert caught.value.errors[0].field == "file"
    assert "export.csv" in str(caught.value) and found in str(caught.value)
    assert count(gx, tenant, Customer) == 0 and jobs(gx, tenant) == []


def test_garbage_customer_rows_are_rejected_one_by_one(gx, tenant, tmp_path):
    path = tmp_path / "customers.csv"
    lines = [
        "code,name,phone,city,birthday",
        "K1,张伟,13800000001,上海,1990-05-01",
        "K2,王\xff\xfe芳,13800000002,上海,",               # bytes that are not UTF-8
        f"K3,{'长' * 131_072},{SECRET},上海,",               # a 128 KB field (csv's default limit)
        f"K4,李娜,{SECRET},上\x00海,",                       # a NUL character
        f"K5,{'名' * 201},{SECRET},上海,",                   # longer than the name column
        "K6,刘洋,13800000006,上海,2023-02-30",               # an impossible date
        "K7,陈静,13800000007,上海,0001-01-01",               # year 1
        "K8,赵敏,13800000008,杭州,",
    ]
    path.write_bytes("\n".join(lines).replace("\xff\xfe", "@@").encode("utf-8").replace(b"@@", b"\xff\xfe") + b"\n")
    report = import_file(gx, tenant, "customers", path)
    assert (report.rows_stored, report.rows_invalid) == (2, 6)
    assert [(line, errors[0].field) for line, errors in report.invalid] == [
        (3, "name"), (4, "name"), (5, "city"), (6, "name"), (7, "birthday"), (8, "birthday")]
    assert all(SECRET not in str(errors) and "长长长" not in str(errors) for _, errors in report.invalid)
    assert customer(gx, tenant, "K8").city == "杭州"
    rejects = read_rejects(report.reject_file)
    assert [row["code"] for row in rejects] == ["K2", "K3", "K4", "K5", "K6", "K7"]
    assert rejects[0]["name"] == "王\ufffd\ufffd芳" and len(rejects[1]["name"]) == 131_072
    assert [job.status for job in jobs(gx, tenant)] == ["DONE"]


def test_garbage_interaction_rows_are_rejected_one_by_one(gx, tenant, tmp_path):
    write_csv(tmp_path / "c.csv", ["code"], [["K1"]])
    import_file(gx, tenant, "customers", tmp_path / "c.csv")
    rows = [
        ["K1", "PURCHASE", "2026-03-01 10:00:00", "10.00", "SH-01"],
        ["K1", "PURCHASE", "2023-02-30 10:00:00", "10.00", "SH-01"],
        ["K1", "PURCHASE", "0001-01-01T00:00:00+08:00", "10.00", "SH-01"],
        ["K1", "PURCHASE", "9999-12-31T23:59:59-12:00", "10.00", "SH-01"],
        ["K1", "PURCHASE", "2026-03-02 10:00:00", "10.00", "S" * 65],
        ["K1", "PURCHASE", "2026-03-03 10:00:00", "1e400", "SH-01"],
        ["K1" + "\x00", "PURCHASE", "2026-03-04 10:00:00", "10.00", "SH-01"],
        ["K" * 200_000, "PURCHASE", "2026-03-05 10:00:00", "10.00", "SH-01"],
        ["K1", "PURCHASE", "2026-03-06 10:00:00", "12.00", "SH-01"],
    ]
    path = write_csv(tmp_path / "orders.csv", ["customer_code", "kind", "occurred_at", "amount", "store"], rows)
    report = import_file(gx, tenant, "interactions", path)
    assert (report.rows_stored, report.rows_invalid) == (2, 7)
    assert [(line, errors[0].field) for line, errors in report.invalid] == [
        (3, "occurred_at"), (4, "occurred_at"), (5, "occurred_at"), (6, "store"), (7, "amount"),
        (8, "customer_code"), (9, "customer_code")]
    assert all(len(str(errors)) < 400 for _, errors in report.invalid)
    assert money(customer(gx, tenant, "K1").total_spent) == money("22.00")
    assert [job.status for job in jobs(gx, tenant)] == ["DONE", "DONE"]


def test_the_cli_reports_garbage_without_a_traceback_or_personal_data(database_url, tmp_path, monkeypatch, gx, tenant):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    path = tmp_path / "customers.csv"
    path.write_bytes(b"code,name,phone\nK1,\xe5\xbc\xa0\xe4\xbc\x9f,13800000001\nK2,\xff\xfe," + SECRET.encode()
                     + b"\nK3," + "长".encode() * 131_072 + b"," + SECRET.encode() + b"\n")
    result = CliRunner().invoke(app, ["import", "customers", str(path), "--tenant", tenant])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and SECRET not in result.output
    assert "line 3: name" in result.output and "line 4: name" in result.output
    assert "customers.rejects.csv" in result.output


def test_xlsx_files_import_cell_types_as_csv_text(gx, tenant, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["code", "name", "phone", "birthday"])
    sheet.append(["X1", "欧阳娜娜", 13800000001, datetime(1995, 7, 1)])  # a phone typed as a number, a date cell
    sheet.append(["X2", "郭靖", "not a phone", None])
    sheet.append([None, None, None, None])  # Excel's empty trailing rows
    book.save(tmp_path / "customers.xlsx")
    report = import_file(gx, tenant, "customers", tmp_path / "customers.xlsx")
    assert (report.encoding, report.rows_stored, report.rows_invalid) == ("xlsx", 1, 1)
    assert report.invalid[0][0] == 3 and report.invalid[0][1][0].field == "phone"
    x1 = customer(gx, tenant, "X1")
    assert (x1.name, x1.phone, x1.birthday.isoformat()) == ("欧阳娜娜", "+8613800000001", "1995-07-01")
    assert read_rejects(tmp_path / "customers.rejects.csv")[0]["code"] == "X2"

    book = Workbook()
    sheet = book.active
    sheet.append(["customer_code", "kind", "occurred_at", "amount"])
    sheet.append(["X1", "PURCHASE", datetime(2026, 3, 1, 10, 0), 199.9])
    sheet.append(["X1", "PURCHASE", datetime(2026, 3, 2, 10, 0), 10.125])  # more than 2 decimals
    book.save(tmp_path / "orders.xlsx")
    report = import_file(gx, tenant, "interactions", tmp_path / "orders.xlsx")
    assert (report.rows_stored, report.rows_invalid) == (1, 1) and report.invalid[0][1][0].field == "amount"
    assert money(customer(gx, tenant, "X1").total_spent) == money("199.90")
    assert kinds(gx, tenant, "X1") == {"PURCHASE": 1}


def test_a_file_that_is_not_a_workbook_is_refused_clearly(gx, tenant, tmp_path):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValidationFailed, match="orders.xlsx is not a readable Excel workbook"):
        import_file(gx, tenant, "interactions", path)
    assert count(gx, tenant, Interaction) == 0
    old = tmp_path / "orders.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(512))
    with pytest.raises(ValidationFailed, match=r"orders.xls is in the old Excel format \(.xls\); save it as .xlsx"):
        import_file(gx, tenant, "interactions", old)
