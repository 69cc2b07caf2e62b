"""The admin console's sign-in sessions (engine/console_models.py).

Signing in with an API key opens a session: a random 256-bit token that the
browser keeps in an HttpOnly cookie, stored here only as its SHA-256 beside
the key it stands for. Each request finds the key again, so a revoked key's
sessions end at once and the console can never do more than the key can.

Writes are protected by a CSRF token derived from the session token (HMAC):
the page reads it from ``GET /console/session`` (same origin only) and sends
it in a header, which another site can neither read nor forge.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from engine.console_models import ConsoleSession
from engine.models import ApiKey
from engine.services import audit
from engine.types import utcnow

SESSION_LIFETIME = timedelta(hours=12)  # a working day; then sign in again


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token that goes with session ``token``."""
    return hmac.new(token.encode("utf-8"), b"guanxi-console-csrf", hashlib.sha256).hexdigest()


def csrf_matches(token: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(token), sent)


def open_session(session: Session, key: ApiKey) -> str:
    """A new session for ``key`` (already authenticated); returns its token,
    the only time it exists in plain. Drops the key's expired sessions."""
    now = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.api_key_id == key.id, ConsoleSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    session.add(ConsoleSession(tenant_id=key.tenant_id, api_key_id=key.id, token_hash=_digest(token),
                               expires_at=now + SESSION_LIFETIME))
    audit.record(session, key.tenant_id, f"api-key:{key.id}", "console.sign_in", "ApiKey", key.id)
    return token


def find_session_key(session: Session, token: str) -> ApiKey | None:
    """The active key behind session ``token``, or None (unknown, expired, key revoked)."""
    if not token:
        return None
    row = session.exec(
        select(ApiKey, ConsoleSession.token_hash)
        .join(ConsoleSession, ConsoleSession.api_key_id == ApiKey.id)
        .where(ConsoleSession.token_hash == _digest(token), ConsoleSession.expires_at > utcnow())
    ).first()
    if row is None or row[0].revoked_at is not None:
        return None
    return row[0]


def close_session(session: Session, token: str) -> None:
    """Sign out: the session's row is deleted (the cookie alone is then worthless)."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))
