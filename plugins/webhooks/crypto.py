"""Endpoint signing secrets: made here, stored encrypted, shown once.

A secret is ``whsec_`` + base64 of 32 random bytes (the Standard Webhooks
form). It is stored as AES-256-GCM ciphertext under a key derived with HKDF
from GUANXI_SECRET_KEY (engine/config.py; on the SQLite demo without one, the
same stand-in the pagination cursors use), so a copy of the database alone
does not let anyone sign as the tenant. Changing GUANXI_SECRET_KEY makes the
stored secrets unreadable: rotate every endpoint's secret after it.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"
FORMAT = "v1"  # the stored form: "v1:" + base64(nonce || ciphertext+tag)
_INFO = b"guanxi webhooks endpoint secrets v1"


class SecretUnreadable(RuntimeError):
    """A stored secret does not decrypt with this GUANXI_SECRET_KEY."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for (Standard Webhooks: the base64 part, decoded)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


@lru_cache(maxsize=8)
def _aead(root_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(root_key.encode())
    return AESGCM(key)


def root_key(settings) -> str:
    return settings.cursor_key()


def encrypt(settings, secret: str, endpoint_tag: str = "") -> str:
    """``endpoint_tag`` is bound into the ciphertext (AES-GCM associated data):
    a ciphertext copied onto another endpoint's row does not decrypt."""
    nonce = os.urandom(12)
    sealed = _aead(root_key(settings)).encrypt(nonce, secret.encode(), endpoint_tag.encode())
    return f"{FORMAT}:" + base64.b64encode(nonce + sealed).decode()


def decrypt(settings, stored: str, endpoint_tag: str = "") -> str:
    version, _, body = stored.partition(":")
    if version != FORMAT:
        raise SecretUnreadable(f"unknown secret format {version!r}")
    raw = base64.b64decode(body)
    try:
        return _aead(root_key(settings)).decrypt(raw[:12], raw[12:], endpoint_tag.encode()).decode()
    except InvalidTag:
        raise SecretUnreadable("the secret does not decrypt: was GUANXI_SECRET_KEY changed? rotate the secret") from None
