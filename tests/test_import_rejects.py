"""Rejected rows: all of them in the reject file (once, even across a kill),
the CLI's listing and exit status, and imports that fail as a whole."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError, OperationalError
from typer.testing import CliRunner

from engine.cli import app
from engine.models import Interaction
from engine.services import importer
from engine.services.importer import ImportFailed, import_file
from tests.import_support import count, customer, jobs, money, read_rejects, write_csv

HEADER = ["customer_code", "kind", "occurred_at", "amount", "external_id"]
SECRET = "13911112222"


def _setup(gx, tenant, tmp_path):
    write_csv(tmp_path / "customers.csv", ["code", "name"], [[f"C{i}", f"客户{i}"] for i in range(10)])
    import_file(gx, tenant, "customers", tmp_path / "customers.csv")


def _orders(tmp_path, n: int, bad_every: int = 0):
    """``n`` purchases of 10.00; with ``bad_every``, every such row names an unknown customer."""
    rows = [[f"NOBODY-{i}" if bad_every and i % bad_every == 0 else f"C{i % 10}", "PURCHASE",
             f"2026-01-{1 + i % 28:02d}T10:00:00+08:00", "10.00", f"o-{i}"] for i in range(n)]
    return write_csv(tmp_path / "orders.csv", HEADER, rows)


def test_every_rejected_row_is_in_the_reject_file_once_even_after_a_kill(gx, tenant, tmp_path, monkeypatch):
    _setup(gx, tenant, tmp_path)
    path = _orders(tmp_path, 300, bad_every=7)  # 43 bad rows spread over every chunk
    real_write = importer.RejectFile.write
    calls = {"n": 0}

    def killed_after_the_fourth_chunks_rejects(self, rows):
        real_write(self, rows)
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("killed")  # its rejects are on disk, the chunk never commits

    monkeypatch.setattr(importer.RejectFile, "write", killed_after_the_fourth_chunks_rejects)
    with pytest.raises(KeyboardInterrupt):
        import_file(gx, tenant, "interactions", path, chunk_size=50)
    assert jobs(gx, tenant)[-1].status == "RUNNING"  # a kill leaves it to be resumed
    assert len(read_rejects(tmp_path / "orders.rejects.csv")) == 29  # chunks 1-4 (8 + 7 + 7 + 7)
    monkeypatch.setattr(importer.RejectFile, "write", real_write)
    report = import_file(gx, tenant, "interactions", path, chunk_size=50)
    assert report.resumed_from == 150
    assert (report.rows_stored, report.rows_invalid) == (257, 43)
    rejects = read_rejects(report.reject_file)
    assert [int(row["line"]) for row in rejects] == [2 + i for i in range(0, 300, 7)]
    assert all(row["reason"] == "customer_code: no customer with this code in this tenant" for row in rejects)


def test_a_row_the_database_refuses_is_rejected_and_the_rest_of_its_chunk_stored(gx, tenant, tmp_path, monkeypatch):
    _setup(gx, tenant, tmp_path)
    path = _orders(tmp_path, 20)
    real_store = importer._store_interactions

    def refuses_order_7(ctx, parsed):
        if any(item.get("external_id") == "o-7" for _, item in parsed):
            # What psycopg says of a NUL or an over-long value, parameters (personal data) and all.
            raise DataError("INSERT INTO interactions ...", {"name": SECRET}, Exception(f"value too long: {SECRET}"))
        return real_store(ctx, parsed)

    monkeypatch.setattr(importer, "_store_interactions", refuses_order_7)
    report = import_file(gx, tenant, "interactions", path, chunk_size=8)
    assert (report.rows_stored, report.rows_invalid) == (19, 1)
    [(line, errors)] = report.invalid
    assert line == 9 and errors[0].code == "REFUSED" and SECRET not in str(errors)
    assert count(gx, tenant, Interaction) == 19


def test_a_failed_import_is_marked_failed_without_personal_data_and_a_rerun_finishes_it(gx, tenant, tmp_path, monkeypatch):
    _setup(gx, tenant, tmp_path)
    path = _orders(tmp_path, 100)
    real_store = importer._store_interactions
    calls = {"n": 0}

    def outage_in_the_third_chunk(ctx, parsed):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OperationalError("INSERT ...", {"phone": SECRET}, Exception(f"server closed the connection ({SECRET})"))
        return real_store(ctx, parsed)

    monkeypatch.setattr(importer, "_store_interactions", outage_in_the_third_chunk)
    with pytest.raises(ImportFailed) as caught:
        import_file(gx, tenant, "interactions", path, chunk_size=20)
    [job] = [j for j in jobs(gx, tenant) if j.kind == "interactions"]
    assert (job.status, job.rows_done) == ("FAILED", 40)
    assert "OperationalError" in job.failure and SECRET not in job.failure and SECRET not in str(caught.value)

    monkeypatch.setattr(importer, "_store_interactions", real_store)
    report = import_file(gx, tenant, "interactions", path, chunk_size=20)
    assert (report.resumed_from, report.rows_stored, report.rows_invalid) == (40, 100, 0)
    [job] = [j for j in jobs(gx, tenant) if j.kind == "interactions"]
    assert (job.status, job.failure) == ("DONE", None)
    assert money(customer(gx, tenant, "C3").total_spent) == money("100.00")


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_the_cli_exit_status_says_whether_rows_were_rejected(gx, tenant, tmp_path, cli):
    _setup(gx, tenant, tmp_path)
    clean = cli("import", "interactions", _orders(tmp_path, 30), "--tenant", tenant)
    assert clean.exit_code == 0, clean.output
    assert "stored 30, duplicates 0, rejected 0" in clean.output and "rejects.csv" not in clean.output
    again = cli("import", "interactions", write_csv(tmp_path / "same.csv", HEADER, [["C1", "PURCHASE", "2026-01-02T10:00:00+08:00", "10.00", "o-1"]]), "--tenant", tenant)
    assert again.exit_code == 0 and "duplicates 1" in again.output  # duplicates are not errors

    many = write_csv(tmp_path / "many.csv", HEADER, [["NOBODY", "PURCHASE", "2026-01-02T10:00:00+08:00", "1.00", f"x-{i}"] for i in range(150)])
    result = cli("import", "interactions", many, "--tenant", tenant)
    assert result.exit_code == 3
    assert "rejected 150" in result.output and "line 101:" in result.output and "line 102:" not in result.output
    assert "... and 50 more" in result.output and "many.rejects.csv" in result.output
    assert len(read_rejects(tmp_path / "many.rejects.csv")) == 150

    missing = cli("import", "customers", tmp_path / "nope.csv", "--tenant", tenant)
    unknown_column = cli("import", "customers", write_csv(tmp_path / "x.csv", ["code", "colour"], [["C1", "red"]]), "--tenant", tenant)
    bad_mode = cli("import", "customers", tmp_path / "customers.csv", "--tenant", tenant, "--mode", "merge")
    assert (missing.exit_code, unknown_column.exit_code, bad_mode.exit_code) == (1, 1, 1)
    assert "nope.csv does not exist" in missing.output and "colour" in unknown_column.output and "mode" in bad_mode.output


def test_the_cli_counts_updated_customers(gx, tenant, tmp_path, cli):
    _setup(gx, tenant, tmp_path)
    path = write_csv(tmp_path / "v2.csv", ["code", "city"], [["C1", "成都"], ["C2", ""]])
    result = cli("import", "customers", path, "--tenant", tenant)
    assert result.exit_code == 0, result.output
    assert "stored 0, updated 1, duplicates 1, rejected 0" in result.output
    assert customer(gx, tenant, "C1").city == "成都"
