"""``guanxi plugin new``: write a new plugin package from the templates in
``template/`` (a module with a table, its migration, settings, GraphQL, an
interaction hook, a job, erasure and tests using the kit).

Templates hold ``{{token}}`` placeholders (no ``$`` or ``{}`` syntax, which
the generated GraphQL and Python use themselves); an unknown token is an error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

TEMPLATES = Path(__file__).with_name("template")
# Letters, digits and single underscores, starting with a letter: the name is
# a Python package suffix, a table prefix, a branch label and part of revision
# ids (Alembic's version column holds 32 characters: "<name>_0001").
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_NAME = 24
RESERVED = {"core", "plugin", "plugins", "engine", "api", "test", "tests"}

# template file -> where it goes in the new package ({{tokens}} allowed)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "package/__init__.py.tmpl": "{{package}}/__init__.py",
    "package/plugin.py.tmpl": "{{package}}/plugin.py",
    "package/models.py.tmpl": "{{package}}/models.py",
    "package/settings.py.tmpl": "{{package}}/settings.py",
    "package/service.py.tmpl": "{{package}}/service.py",
    "package/schema.py.tmpl": "{{package}}/schema.py",
    "package/migrations/__init__.py.tmpl": "{{package}}/migrations/__init__.py",
    "package/migrations/initial.py.tmpl": "{{package}}/migrations/{{name}}_0001_initial.py",
    "tests/test_module.py.tmpl": "tests/test_{{name}}.py",
}

_TOKEN = re.compile(r"\{\{(\w+)\}\}")


class ScaffoldError(ValueError):
    """Bad input to ``guanxi plugin new``; ``option`` names the argument at fault."""

    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option


@dataclass(frozen=True)
class PluginNames:
    """Every spelling of a new module's name the templates use."""

    name: str  # nps, visit_notes
    title_zh: str
    title_en: str

    @property
    def pascal(self) -> str:  # VisitNotes: GraphQL and Python type names
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def camel(self) -> str:  # visitNotes: GraphQL field names
        return self.pascal[0].lower() + self.pascal[1:]

    @property
    def package(self) -> str:  # guanxi_visit_notes
        return f"guanxi_{self.name}"

    @property
    def dist(self) -> str:  # guanxi-visit-notes: the distribution and its folder
        return f"guanxi-{self.name.replace('_', '-')}"

    def tokens(self) -> dict[str, str]:
        return {
            "name": self.name, "Pascal": self.pascal, "camel": self.camel, "package": self.package, "dist": self.dist,
            "title_zh": self.title_zh, "title_en": self.title_en,
            # As literals: a title may hold quotes or backslashes. JSON strings are valid Python and TOML strings.
            "title_zh_py": json.dumps(self.title_zh, ensure_ascii=False),
            "title_en_py": json.dumps(self.title_en, ensure_ascii=False),
        }


def check_name(name: str, installed: set[str] = frozenset()) -> str:
    """The module name, or a ScaffoldError saying what is wrong with it."""
    if not NAME_RE.match(name):
        raise ScaffoldError("NAME", f"{name!r} is not a module name: use lowercase letters, digits and single "
                                   "underscores, starting with a letter (e.g. nps, visit_notes)")
    if len(name) > MAX_NAME:
        raise ScaffoldError("NAME", f"{name!r} has {len(name)} characters; at most {MAX_NAME} (it prefixes tables "
                                   "and migration revision ids)")
    if name in RESERVED:
        raise ScaffoldError("NAME", f"{name!r} is reserved; pick another name")
    if name in installed:
        raise ScaffoldError("NAME", f"a module named {name!r} is already installed; pick another name")
    return name


def check_title(option: str, title: str) -> str:
    title = title.strip()
    if not title:
        raise ScaffoldError(option, "must not be blank")
    if any(ch in title for ch in "\r\n"):
        raise ScaffoldError(option, "must be one line")
    return title


def render(text: str, tokens: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        try:
            return tokens[match.group(1)]
        except KeyError:
            raise KeyError(f"unknown template token {match.group(0)}") from None

    return _TOKEN.sub(value, text)


def new_plugin(names: PluginNames, parent: Path) -> Path:
    """Write the package ``<parent>/guanxi-<name>/``; returns its folder.
    Refuses a folder that exists (nothing is overwritten)."""
    if parent.exists() and not parent.is_dir():
        raise ScaffoldError("--path", f"{parent} is a file, not a folder")
    target = parent / names.dist
    if target.exists():
        raise ScaffoldError("--path", f"{target} already exists; remove it or choose another --path")
    tokens = names.tokens()
    rendered = {render(dest, tokens): render((TEMPLATES / src).read_text(encoding="utf-8"), tokens)
                for src, dest in FILES.items()}  # every template renders before anything is written
    for dest, text in rendered.items():
        path = target / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
