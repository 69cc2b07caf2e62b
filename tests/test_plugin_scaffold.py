"""``guanxi plugin new``: a scaffolded plugin passes its own tests as
generated, installed the way pip installs it (a distribution whose entry
point names the plugin), on SQLite and, when GUANXI_TEST_DATABASE_URL is
set, on a PostgreSQL database of its own: its table comes from its own
Alembic branch, found through its ``guanxi_migrations`` hook, and its tests
exercise the interaction hook, the job, erasure and its GraphQL. Bad input
is refused naming the argument, and nothing is written."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.testing import TEST_DATABASE_ENV, fresh_database

ROOT = Path(__file__).resolve().parent.parent
# A name unlikely to be installed already (`plugin new` refuses an installed module's name).
NAME = "sample_notes"


def plugin_new(*args: str):
    return CliRunner().invoke(app, ["plugin", "new", *args])


def installed(plugin: Path, site: Path) -> Path:
    """What ``pip install`` would make discoverable: a dist-info carrying the
    package's own entry points (the package itself is found on the path)."""
    project = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
                                   encoding="utf-8")
    lines = [f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
             for group, points in project["entry-points"].items()]
    (dist / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return site


def test_a_scaffolded_plugin_passes_its_own_tests(tmp_path):
    result = plugin_new(NAME, "--path", str(tmp_path), "--title-zh", "样例备注", "--title-en", "Sample notes")
    assert result.exit_code == 0, result.output
    plugin = tmp_path / "guanxi-sample-notes"
    site = installed(plugin, tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (site, plugin, ROOT)))}
    postgres = os.environ.get(TEST_DATABASE_ENV)
    with contextlib.ExitStack() as stack:
        if postgres:  # its own database: the suite's must not get the new plugin's revisions
            env[TEST_DATABASE_ENV] = stack.enter_context(fresh_database(postgres, tmp_path))
        run = subprocess.run([sys.executable, "-m", "pytest", "-vv", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t")],
                             cwd=plugin, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    backends = set(re.findall(r"\[(sqlite|postgres)[\]-]", run.stdout))
    assert backends == ({"sqlite", "postgres"} if postgres else {"sqlite"})
    assert re.search(r"\b(1\d|[2-9]\d) passed\b", run.stdout), run.stdout[-2000:]  # every piece has a test


def test_the_package_names_follow_the_name_given(tmp_path):
    assert plugin_new(NAME, "--path", str(tmp_path)).exit_code == 0
    plugin = tmp_path / "guanxi-sample-notes"
    project = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["guanxi.plugins"] == {"sample_notes": "guanxi_sample_notes.plugin"}
    assert "guanxi" in project["dependencies"]
    migration = plugin / "guanxi_sample_notes" / "migrations" / "sample_notes_0001_initial.py"
    text = migration.read_text(encoding="utf-8")
    for line in ('revision = "sample_notes_0001"', 'branch_labels = ("sample_notes",)', 'depends_on = "core_0001"',
                 "down_revision = None"):
        assert line in text
    schema = (plugin / "guanxi_sample_notes" / "schema.py").read_text(encoding="utf-8")
    assert 'name="SampleNotesNote"' in schema and "def add_sample_notes_note(" in schema
    # The English title is made from the name; the Chinese one defaults to it, and the command says so.
    plugin_py = (plugin / "guanxi_sample_notes" / "plugin.py").read_text(encoding="utf-8")
    assert 'title_en="Sample notes"' in plugin_py and 'title_zh="Sample notes"' in plugin_py


def test_titles_with_quotes_stay_valid_python(tmp_path):
    assert plugin_new(NAME, "--path", str(tmp_path), "--title-zh", '净推荐值 "NPS"', "--title-en", "Net \\ promoter").exit_code == 0
    source = (tmp_path / "guanxi-sample-notes" / "guanxi_sample_notes" / "plugin.py").read_text(encoding="utf-8")
    titles = {node.arg: ast.literal_eval(node.value) for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.keyword) and node.arg in ("title_zh", "title_en")}
    assert titles == {"title_zh": '净推荐值 "NPS"', "title_en": "Net \\ promoter"}


@pytest.mark.parametrize("name, problem, status", [
    ("Nps", "lowercase letters", 2),  # a malformed argument: a usage error
    ("nps-score", "lowercase letters", 2),
    ("1nps", "starting with a letter", 2),
    ("nps__score", "single underscores", 2),
    ("n" * 25, "at most 24", 2),
    ("core", "reserved", 2),
    ("rfm", "already installed", 1),  # well formed, refused by this installation: a domain error
])
def test_a_bad_name_is_refused_naming_the_argument(tmp_path, name, problem, status):
    result = plugin_new(name, "--path", str(tmp_path))
    assert result.exit_code == status
    assert "NAME:" in result.output and problem in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_refused_and_left_alone(tmp_path):
    existing = tmp_path / "guanxi-sample-notes"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine", encoding="utf-8")
    result = plugin_new(NAME, "--path", str(tmp_path))
    assert result.exit_code == 1
    assert "--path:" in result.output and "already exists" in result.output
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_a_blank_title_is_refused_naming_the_option(tmp_path):
    result = plugin_new(NAME, "--path", str(tmp_path), "--title-zh", "  ")
    assert result.exit_code == 2
    assert "--title-zh: must not be blank" in result.output
    assert list(tmp_path.iterdir()) == []
