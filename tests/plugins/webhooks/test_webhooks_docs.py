"""docs/webhooks.md's verification snippets accept what the module signs and refuse a tampered body."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from api.ids import to_global_id
from engine.events import api_id
from plugins.webhooks import crypto
from plugins.webhooks.signing import headers

DOC = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()


def _snippet(language: str) -> str:
    [code] = [block for block in re.findall(rf"```{language}\n(.*?)```", DOC, re.S) if "def verify" in block or "function verify" in block]
    return code


def _signed(secrets: list[str], body: bytes) -> dict:
    return headers([crypto.secret_bytes(s) for s in secrets], "evt_doc", int(time.time()), body)


def test_the_python_snippet_verifies_our_signatures():
    namespace: dict = {}
    exec(_snippet("python"), namespace)
    verify = namespace["verify"]
    old, new = crypto.new_secret(), crypto.new_secret()
    body = json.dumps({"id": "evt_doc", "data": {"城市": "上海"}}, ensure_ascii=False).encode()
    assert verify(new, _signed([new, old], body), body) == "evt_doc"  # during a rotation either secret verifies
    assert verify(old, _signed([new, old], body), body) == "evt_doc"
    with pytest.raises(ValueError):
        verify(new, _signed([new], body), body + b" ")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_javascript_snippet_verifies_our_signatures():
    secret = crypto.new_secret()
    body = json.dumps({"id": "evt_doc", "data": {"城市": "上海"}}, ensure_ascii=False).encode()
    program = _snippet("js") + f"""
const headers = {json.dumps(_signed([crypto.new_secret(), secret], body))};
const body = Buffer.from({json.dumps(list(body))});
console.log(verify({json.dumps(secret)}, headers, body));
try {{ verify({json.dumps(secret)}, headers, Buffer.concat([body, Buffer.from(" ")])); console.log("accepted"); }}
catch (e) {{ console.log("refused"); }}
"""
    out = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["evt_doc", "refused"], out.stderr


def test_engine_event_ids_are_the_apis_global_ids():
    assert api_id("Customer", 42) == to_global_id("Customer", 42)
