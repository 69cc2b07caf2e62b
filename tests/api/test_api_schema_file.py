"""docs/schema.graphql must match the schema the code builds."""

from __future__ import annotations

from pathlib import Path

from api.export_schema import sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "schema.graphql"


def test_committed_schema_is_current():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sdl(), (
        "docs/schema.graphql is out of date; regenerate it with: "
        ".venv/bin/python -m api.export_schema > docs/schema.graphql"
    )
