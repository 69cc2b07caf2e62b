"""API keys: random, shown once, stored as a SHA-256 hash, revocable.

Keys carry 256 bits of randomness, so a fast hash is enough (no password
stretching needed) and lookup by hash is a single indexed query. Comparison
of the found hash is constant time all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from engine.enums import Role
from engine.errors import FieldError, ValidationFailed, not_found
from engine.models import ApiKey, Tenant
from engine.services import audit
from engine.types import utcnow

KEY_PREFIX = "gx_"
# Only write last_used_at when it is older than this: no write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    record: ApiKey
    secret: str  # the only time the plain key exists


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(session: Session, tenant: Tenant | None, role: str, name: str = "", actor: str = "system") -> NewKey:
    try:
        role_member = Role.parse(role)
    except ValueError as error:
        raise ValidationFailed([FieldError("role", str(error))]) from None
    if tenant is None and role_member is not Role.PLATFORM:
        raise ValidationFailed([FieldError("role", "a key without a tenant must have role PLATFORM")])
    if tenant is not None and role_member is Role.PLATFORM:
        raise ValidationFailed([FieldError("role", "PLATFORM keys belong to no tenant")])
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        tenant_id=tenant.id if tenant else None,
        name=name,
        role=role_member.code,
        prefix=secret[:10],
        key_hash=hash_key(secret),
        created_by=actor,
    )
    session.add(record)
    session.flush()
    audit.record(session, record.tenant_id, actor, "api_key.create", "ApiKey", record.id, {"role": record.role, "name": name})
    return NewKey(record, secret)


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The active key for ``secret``, or None. Reads only."""
    if not secret or not secret.startswith(KEY_PREFIX):
        return None
    digest = hash_key(secret)
    record = session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    if record is None or not hmac.compare_digest(record.key_hash, digest) or record.revoked_at is not None:
        return None
    return record


def needs_touch(record: ApiKey) -> bool:
    """Whether ``last_used_at`` is stale enough to be worth a write."""
    return record.last_used_at is None or utcnow() - record.last_used_at > LAST_USED_RESOLUTION


def touch(session: Session, key_id: int) -> None:
    """Record that a key was just used (in the caller's write transaction)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))


def authenticate(session: Session, secret: str) -> ApiKey | None:
    """``find_key`` and record the use, in one (write) transaction: for the CLI and tests."""
    record = find_key(session, secret)
    if record is not None and needs_touch(record):
        touch(session, record.id)
        record.last_used_at = utcnow()
    return record


def revoke_key(session: Session, tenant_id: int | None, key_id: int, actor: str = "system") -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None or record.tenant_id != tenant_id:
        raise not_found("id", f"no API key {key_id} in this tenant")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.add(record)
        audit.record(session, tenant_id, actor, "api_key.revoke", "ApiKey", key_id)
    return record


def list_keys(session: Session, tenant_id: int | None) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)).all())
