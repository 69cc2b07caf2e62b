"""Sign-in sessions of the admin console (api/console): one row per signed-in
browser. The browser holds only a random session token in an HttpOnly
cookie; the row holds its SHA-256 and the API key it stands for, so the
console acts with exactly that key's role and tenant, and revoking the key
ends its sessions at once.

Rows carry ``tenant_id`` (NULL for a platform key's session) like the key
itself; the console reads and writes them as the engine's system role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from engine.types import UtcDateTime, utcnow


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_sessions"

    id: Optional[int] = Field(default=None, primary_key=True)
    tenant_id: Optional[int] = Field(default=None, foreign_key="tenants.id", index=True)
    api_key_id: int = Field(foreign_key="api_keys.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
