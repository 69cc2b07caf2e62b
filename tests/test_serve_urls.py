"""``guanxi serve`` and ``guanxi demo`` say where the API, GraphiQL and the
admin console are, before uvicorn takes over."""

from __future__ import annotations

import uvicorn
from typer.testing import CliRunner

from engine.cli import app


def test_serve_prints_the_console_url_next_to_graphiqls(monkeypatch, database_url, gx):
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    monkeypatch.setenv("GUANXI_LOG_FORMAT", "text")
    monkeypatch.setenv("GUANXI_SECRET_KEY", "test-secret-key-for-the-console-url-test")
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert started and started[0]["port"] == 8123
    assert "http://127.0.0.1:8123/graphql" in result.output
    assert "http://127.0.0.1:8123/console/" in result.output
