"""The console's files: ECharts is the npm release VENDOR.md names, with its
licence, and an installed wheel carries every file the console serves."""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import re
import tomllib
from pathlib import Path

from api.console.assets import STATIC, _scan

ROOT = Path(__file__).resolve().parents[2]
VENDOR = STATIC / "vendor"


def test_echarts_is_the_npm_release_listed_with_its_licence_and_notice():
    [row] = re.findall(r"^\| (\S+) \(`dist/`\) \| echarts \| ([\d.]+) \| Apache-2\.0, `(LICENSE\.echarts)`, `(NOTICE\.echarts)` \| `(sha384-[^`]+)` \|$",
                       (VENDOR / "VENDOR.md").read_text(encoding="utf-8"), re.M)
    name, version, licence, notice, integrity = row
    body = (VENDOR / name).read_bytes()
    assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    assert f'version="{version}"'.encode() in body or f'"{version}"'.encode() in body
    assert "Apache License" in (VENDOR / licence).read_text(encoding="utf-8")
    assert "Apache ECharts" in (VENDOR / notice).read_text(encoding="utf-8")
    assert f"ECHARTS={version}" in (VENDOR / "vendor.sh").read_text(encoding="utf-8")


def test_an_installed_wheel_carries_every_file_the_console_serves():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api.console"]
    served = _scan()
    assert "app.js" in served and "vendor/echarts.min.js" in served
    for name in served:
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in patterns), name
    for licence in ("vendor/LICENSE.echarts", "vendor/NOTICE.echarts", "vendor/VENDOR.md"):
        assert any(fnmatch.fnmatch(f"static/{licence}", p) for p in patterns), licence


def test_no_console_file_refers_to_another_host():
    """The console must work in an air-gapped store network: no URL of
    another host in our own files (the vendored library is checked by hash)."""
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in (".js", ".css") and "vendor" not in path.parts:
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path
