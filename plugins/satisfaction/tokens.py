"""Invitation tokens: 192 random bits, stored only as their SHA-256.

The raw token travels in the answer link once; a database reader cannot
rebuild a link from the hash. Lookups hash what the customer presents.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 24  # 32 url-safe characters


def new_token() -> tuple[str, str]:
    """(raw token for the link, hash to store)."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def looks_like_token(raw: str) -> bool:
    """Cheap shape check before any database work (url-safe base64, the length we issue)."""
    return 20 <= len(raw) <= 64 and all(c.isalnum() or c in "-_" for c in raw)


def answer_path(tenant_slug: str, raw: str) -> str:
    """The public link's path (the host serving the app prefixes its base URL)."""
    return f"/satisfaction/s/{tenant_slug}/{raw}"
