"""Importing a corrected file again: every real-world interaction stored once,
rejected rows stored once fixed; customers updated (upsert) or kept (insert)."""

from __future__ import annotations

from pathlib import Path

from engine.models import Interaction
from engine.services.importer import import_file
from tests.import_support import count, customer, kinds, money, read_rejects, write_csv

HEADER = ["customer_code", "kind", "occurred_at", "amount", "store", "payload"]


def _customers(gx, tenant, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "customers.csv", ["code", "name", "phone"],
                     [["C001", "王芳", "13800000001"], ["C002", "李娜", "13800000002"], ["C003", "张伟", "13800000003"]])
    assert import_file(gx, tenant, "customers", path).rows_stored == 3


def _orders(complaint_category: str, bad_date: str) -> list[list[str]]:
    """A chain's export without external ids: C002 has 4 purchases (2,820.00) and 2 visits."""
    return [
        ["C002", "PURCHASE", "2026-03-01T10:00:00+08:00", "1200.00", "SH-01", ""],
        ["C002", "PURCHASE", "2026-03-05 15:30:00", "880.00", "SH-01", ""],
        ["C002", "VISIT", "2026-03-05 15:00:00", "", "SH-01", ""],
        ["C002", "VISIT", "2026-03-05 15:00:00", "", "SH-01", ""],  # two visits in the same slot: two events
        ["C001", "COMPLAINT", "2026-03-06 09:00:00", "", "SH-02", f'{{"category": "{complaint_category}"}}'],
        ["C002", "PURCHASE", bad_date, "500.00", "SH-02", ""],
        ["C002", "PURCHASE", "2026-03-09 11:00:00", "240.00", "SH-02", ""],
        ["C003", "PURCHASE", "2026-03-09 11:00:00", "99.00", "SH-02", ""],
    ]


def test_a_corrected_file_imported_again_stores_each_interaction_once(gx, make_tenant, tmp_path):
    tenant = make_tenant(modules=("complaints",))
    _customers(gx, tenant, tmp_path)
    first = write_csv(tmp_path / "orders.csv", HEADER, _orders("WEATHER", "2026-02-30 12:00:00"))
    report = import_file(gx, tenant, "interactions", first)
    # The unknown complaint category and the impossible date are rejected on their own; the rest is stored.
    assert (report.rows_stored, report.rows_duplicate, report.rows_invalid) == (6, 0, 2)
    assert [(line, errors[0].field) for line, errors in report.invalid] == [(6, "payload.category"), (7, "occurred_at")]
    c002 = customer(gx, tenant, "C002")
    assert (c002.purchase_count, money(c002.total_spent)) == (3, money("2320.00"))

    corrected = tmp_path / "orders-fixed.csv"
    write_csv(corrected, HEADER, _orders("SERVICE", "2026-03-07 12:00:00"))
    again = import_file(gx, tenant, "interactions", corrected)
    assert (again.rows_stored, again.rows_duplicate, again.rows_invalid) == (2, 6, 0)
    c002 = customer(gx, tenant, "C002")
    assert (c002.purchase_count, money(c002.total_spent)) == (4, money("2820.00"))
    assert kinds(gx, tenant, "C002") == {"PURCHASE": 4, "VISIT": 2}
    assert kinds(gx, tenant, "C001") == {"COMPLAINT": 1}
    assert count(gx, tenant, Interaction) == 8
    assert again.reject_file is None and not (tmp_path / "orders-fixed.rejects.csv").exists()


def test_a_changed_amount_or_a_reformatted_time_is_the_same_interaction(gx, tenant, tmp_path):
    _customers(gx, tenant, tmp_path)
    write_csv(tmp_path / "a.csv", HEADER, [["C003", "PURCHASE", "2026-03-09 11:00:00", "99.00", "SH-02", ""]])
    import_file(gx, tenant, "interactions", tmp_path / "a.csv")
    # Excel re-saved it: the time with an explicit offset, the amount changed. Still the same purchase.
    write_csv(tmp_path / "b.csv", HEADER, [["C003", "purchase", "2026-03-09T03:00:00Z", "98.00", "SH-02", ""]])
    report = import_file(gx, tenant, "interactions", tmp_path / "b.csv")
    assert (report.rows_stored, report.rows_duplicate) == (0, 1)
    assert money(customer(gx, tenant, "C003").total_spent) == money("99.00")


def test_the_fixed_reject_file_imports_as_is(gx, make_tenant, tmp_path):
    tenant = make_tenant(modules=("complaints",))
    _customers(gx, tenant, tmp_path)
    path = write_csv(tmp_path / "orders.csv", HEADER, _orders("WEATHER", "2026-02-30 12:00:00"))
    report = import_file(gx, tenant, "interactions", path)
    rejects = read_rejects(report.reject_file)
    assert report.reject_file == tmp_path / "orders.rejects.csv"
    assert list(rejects[0]) == ["line", *HEADER, "reason"]
    assert [(row["line"], row["customer_code"]) for row in rejects] == [("6", "C001"), ("7", "C002")]
    assert "WEATHER" in rejects[0]["reason"] and "occurred_at" in rejects[1]["reason"]
    rejects[0]["payload"] = '{"category": "SERVICE"}'
    rejects[1]["occurred_at"] = "2026-03-07 12:00:00"
    fixed = write_csv(tmp_path / "fixed.csv", list(rejects[0]), [list(row.values()) for row in rejects])
    again = import_file(gx, tenant, "interactions", fixed)
    assert (again.rows_stored, again.rows_invalid) == (2, 0)
    assert money(customer(gx, tenant, "C002").total_spent) == money("2820.00")


def test_upsert_updates_changed_customers_and_insert_keeps_them(gx, tenant, tmp_path):
    _customers(gx, tenant, tmp_path)
    header = ["code", "name", "phone", "email", "city"]
    changed = write_csv(tmp_path / "customers-v2.csv", header, [
        ["C001", "王芳", "13800000001", "", ""],        # unchanged
        ["C002", "李娜", "13900000002", "", "上海"],     # a new phone and a city
        ["C003", "张伟", "", "not-an-email", ""],       # invalid: rejected, nothing of it stored
        ["C004", "赵敏", "13800000004", "", ""],        # new
    ])
    insert = import_file(gx, tenant, "customers", changed, mode="insert")
    assert (insert.rows_stored, insert.rows_updated, insert.rows_duplicate, insert.rows_invalid) == (1, 0, 2, 1)
    assert customer(gx, tenant, "C002").phone == "+8613800000002"

    upsert = import_file(gx, tenant, "customers", changed)  # the same file in the default mode runs again
    assert (upsert.mode, upsert.rows_stored, upsert.rows_updated, upsert.rows_duplicate, upsert.rows_invalid) == ("upsert", 0, 1, 2, 1)
    c002 = customer(gx, tenant, "C002")
    assert (c002.phone, c002.city, c002.name) == ("+8613900000002", "上海", "李娜")
    assert customer(gx, tenant, "C003").email is None
    assert upsert.invalid[0][1][0].field == "email"


def test_a_code_repeated_in_one_file_updates_the_customer_its_first_row_created(gx, tenant, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["code", "name", "city"], [["C9", "周杰", "北京"], ["C9", "周杰", "杭州"]])
    report = import_file(gx, tenant, "customers", path)
    assert (report.rows_stored, report.rows_updated) == (1, 1)
    assert customer(gx, tenant, "C9").city == "杭州"
