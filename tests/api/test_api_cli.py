"""`guanxi serve` and `guanxi demo` hand the app to uvicorn with the right address."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engine import cli


@pytest.fixture
def served(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli, "_serve", lambda host, port, workers, *_: calls.append((host, port, workers)))
    monkeypatch.setenv("GUANXI_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return calls


def test_serve_options(served):
    assert CliRunner().invoke(cli.app, ["init"]).exit_code == 0
    result = CliRunner().invoke(cli.app, ["serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert served == [("0.0.0.0", 9001, 2)]


def test_serve_refuses_a_database_behind_the_code_and_names_what_is_missing(served):
    result = CliRunner().invoke(cli.app, ["serve"])
    assert result.exit_code == 1
    assert "missing revisions core_0001" in result.output and "guanxi db upgrade" in result.output
    assert served == []


def test_demo_generates_prints_a_key_and_serves(served):
    result = CliRunner().invoke(cli.app, ["demo", "--customers", "60"])
    assert result.exit_code == 0, result.output
    assert "gx_" in result.output and "customers(first: 5" in result.output
    assert result.stdout.strip().startswith("gx_") and "customers(first: 5" in result.stderr  # the key alone on stdout
    assert served == [("127.0.0.1", 8000, 1)]
    again = CliRunner().invoke(cli.app, ["demo", "--host", "0.0.0.0", "--port", "8123"])
    assert again.exit_code == 0 and "already exists" in again.stderr, again.output
    assert served[-1] == ("0.0.0.0", 8123, 1)
    assert CliRunner().invoke(cli.app, ["demo", "--port", "70000"]).exit_code == 2
