"""Every error code the services and the API use is a member of the ErrorCode
enum, so a payload error never fails to serialise (and clients can switch on it)."""

from __future__ import annotations

import re
from pathlib import Path

from api.errors import ErrorCode, error_code

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["api", "engine", "plugins", "examples/guanxi-birthdays/guanxi_birthdays"]
# A code is the last string argument of FieldError(...) / invalid(...), a GuanxiError
# subclass's ``code = "..."``, a payload ``code="..."``, an api_error(..., "CODE") or an
# HTTP error_response(message, "CODE", status).
PATTERNS = [
    re.compile(r'(?:FieldError|invalid|api_error)\((?:[^()]|\([^()]*\))*?,\s*"([A-Z][A-Z_]+)"\s*\)', re.S),
    re.compile(r'^\s+code = "([A-Z][A-Z_]+)"', re.M),
    re.compile(r'\bcode="([A-Z][A-Z_]+)"'),
    re.compile(r'"code": "([A-Z][A-Z_]+)"'),
    re.compile(r'error_response\((?:[^()]|\([^()]*\))*?,\s*"([A-Z][A-Z_]+)",'),
]


def used_codes() -> dict[str, str]:
    found = {}
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in PATTERNS:
                for code in pattern.findall(text):
                    found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_every_code_used_is_in_the_enum():
    names = {member.name for member in ErrorCode}
    used = used_codes()
    assert {"NOT_FOUND", "CONFLICT", "INSUFFICIENT_POINTS", "ILLEGAL_TRANSITION"} <= set(used)  # the scan sees them
    # Enum *values* of the domain (categories, tiers) also appear as code=...; keep only error-looking ones.
    missing = {code: where for code, where in used.items() if code not in names and code not in DOMAIN_VALUES}
    assert not missing, f"add these to api.errors._CODES: {missing}"


# code="..." also names coded domain values (complaint categories, loyalty tiers).
DOMAIN_VALUES = {"PRODUCT_QUALITY", "SERVICE", "PRICE", "PAYMENT", "OTHER", "LOGISTICS", "AFTER_SALES",
                 "MEMBER", "SILVER", "GOLD", "DIAMOND", "AEIOU",
                 # satisfaction question targets and sources, lifecycle churn reasons
                 "OVERALL", "REPURCHASE", "RECOMMEND", "NPS", "COMMENT", "COMPLAINT_FOLLOW_UP",
                 "STAFF_LEFT", "COMPETITOR", "CHANGED_NEEDS", "MALICIOUS", "OBJECTIVE"}


def test_an_unlisted_code_is_sent_as_invalid_not_a_server_error(caplog):
    assert error_code("CONFLICT") is ErrorCode.CONFLICT
    assert error_code("NO_SUCH_CODE") is ErrorCode.INVALID
    assert "NO_SUCH_CODE" in caplog.text
