"""The whole schema follows the schema conventions of docs/api.md, checked by
graphql-schema-linter (.ci/schema-lint, installed by ``make test``).

Every type, field, argument, input value and enum value has a description;
enum values are upper-case, types PascalCase, fields camelCase; connections
and PageInfo follow the Relay spec; every defined type is used; deprecations
give a reason. The schema checked is the one with every installed plugin's
module enabled (the example plugin and any other installed one included: a
plugin's contribution is part of what front-end developers read), and the
platform schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import strawberry

from api.platform import platform_schema
from api.schema import SchemaCache
from engine import hookimpl
from engine.config import Settings
from engine.plugins import ModuleInfo, PluginManager

LINT_DIR = Path(__file__).resolve().parents[2] / ".ci" / "schema-lint"
LINTER = LINT_DIR / "node_modules" / ".bin" / "graphql-schema-linter"


# The platform schema lists tenants and creates them: it has no connection,
# so it has no PageInfo for relay-page-info-spec to check.
PLATFORM_WITHOUT = {"relay-page-info-spec"}


def lint(sdl: str, folder: Path, skip: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """The linter's complaints about ``sdl``, as "rule: message" lines."""
    if not LINTER.exists():
        pytest.fail(f"{LINTER} is missing: run `make schema-lint` (npm ci in .ci/schema-lint)")
    if shutil.which("node") is None:
        pytest.fail("node is not installed; the schema linter needs it")
    path = folder / "schema.graphql"
    path.write_text(sdl, encoding="utf-8")
    done = subprocess.run([str(LINTER), "--config-directory", str(LINT_DIR), "--format", "json", str(path)],
                          capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"the linter failed (exit {done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return [f"{error['rule']}: {error['message']}" for error in report["errors"]
            if error["rule"] not in skip]


def every_installed_plugin(*extra) -> PluginManager:
    manager = PluginManager(Settings(database_url="sqlite://"))
    manager.load_default_plugins()  # the built-ins and every guanxi.plugins entry point (the example plugin)
    for plugin in extra:
        manager.register_module(plugin, name=plugin.__name__)
    manager.check()
    return manager


def full_sdl(manager: PluginManager) -> str:
    return str(SchemaCache(manager).all_modules())


def test_every_installed_module_enabled_follows_the_conventions(tmp_path):
    manager = every_installed_plugin()
    assert "birthdays" in manager.modules, "the example plugin should be installed (make install)"
    problems = lint(full_sdl(manager), tmp_path)
    assert not problems, f"{len(problems)} schema-lint problems:\n" + "\n".join(problems)


def test_platform_schema_follows_the_conventions(tmp_path):
    problems = lint(str(platform_schema()), tmp_path, skip=PLATFORM_WITHOUT)
    assert not problems, f"{len(problems)} schema-lint problems:\n" + "\n".join(problems)


def undocumented_plugin() -> types.ModuleType:
    """A plugin, registered through the real plugin manager, that adds a Query field without a description."""
    plugin = types.ModuleType("lint_probe_plugin")

    @strawberry.type(description="The probe's queries.")
    class ProbeQuery:
        @strawberry.field
        def probe_count(self) -> int:
            return 1

    plugin.guanxi_module = hookimpl(lambda: ModuleInfo(name="lintprobe", title_zh="探针", title_en="Probe"))
    plugin.guanxi_graphql = hookimpl(lambda: {"query": [ProbeQuery]})
    return plugin


def test_a_plugins_undocumented_field_fails_the_lint(tmp_path):
    problems = lint(full_sdl(every_installed_plugin(undocumented_plugin())), tmp_path)
    assert problems == ["fields-have-descriptions: The field `Query.probeCount` is missing a description."]


SCAFFOLDED_SDL = """
import sys
from api.schema import build_schema
from engine.config import Settings
from engine.plugins import PluginManager
import guanxi_lint_notes.plugin as plugin

manager = PluginManager(Settings(database_url="sqlite://"))
manager.register_module(plugin, name="guanxi_lint_notes.plugin")
manager.check()
sys.stdout.write(str(build_schema(manager, frozenset(manager.modules))))
"""


def test_a_scaffolded_plugin_follows_the_conventions(tmp_path):
    """`guanxi plugin new` writes a plugin whose schema passes as generated (a
    subprocess: importing it here would add its table to this process's models)."""
    from typer.testing import CliRunner

    from engine.cli import app

    made = CliRunner().invoke(app, ["plugin", "new", "lint_notes", "--path", str(tmp_path), "--title-en", "Lint notes"])
    assert made.exit_code == 0, made.output
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (tmp_path / "guanxi-lint-notes", root)))}
    built = subprocess.run([sys.executable, "-c", SCAFFOLDED_SDL], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "LintNotesNote" in built.stdout
    problems = lint(built.stdout, tmp_path)
    assert not problems, f"{len(problems)} schema-lint problems:\n" + "\n".join(problems)


if __name__ == "__main__":  # print the counts by rule, for reports: python -m tests.api.test_schema_lint
    import collections
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        found = lint(full_sdl(every_installed_plugin()), Path(folder))
    print(json.dumps(collections.Counter(line.split(":")[0] for line in found)), file=sys.stdout)
