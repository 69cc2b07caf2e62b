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


def key_view(record: ApiKey, tenant_slug: str | None) -> dict:
    """What an operator may see of a key: everything but its hash (and the secret, never stored)."""
    return {
        "id": record.id, "prefix": record.prefix, "name": record.name, "role": record.role, "tenant": tenant_slug,
        "created_at": record.created_at, "created_by": record.created_by,
        "last_used_at": record.last_used_at, "revoked_at": record.revoked_at,
    }


def key_views(session: Session, tenant: str | None = None, platform_only: bool = False,
              active_only: bool = False) -> list[dict]:
    """Keys across tenants (or one tenant's, or the platform's), oldest first, as ``key_view``."""
    from engine.services.tenants import get_tenant

    query = select(ApiKey, Tenant.slug).join(Tenant, Tenant.id == ApiKey.tenant_id, isouter=True).order_by(ApiKey.id)
    if tenant is not None:
        query = query.where(ApiKey.tenant_id == get_tenant(session, tenant).id)
    elif platform_only:
        query = query.where(ApiKey.tenant_id.is_(None))
    if active_only:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [key_view(record, slug) for record, slug in session.exec(query).all()]


MIN_PREFIX = 5  # "gx_" and two characters: fewer would name many keys


def find_key_reference(session: Session, reference: str) -> ApiKey:
    """The key an operator names by its id, its prefix (as listed) or the whole key."""
    reference = reference.strip()
    if reference.isdigit():
        record = session.get(ApiKey, int(reference))
        if record is None:
            raise not_found("key", f"no API key with id {reference}")
        return record
    if not reference.startswith(KEY_PREFIX):
        raise ValidationFailed([FieldError("key", f"give the key's id, its prefix ({KEY_PREFIX}...) or the key itself")])
    if len(reference) > len(KEY_PREFIX) + 32:  # the whole secret: look it up by its hash
        record = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(reference))).first()
        if record is None:
            raise not_found("key", "no API key matches the key given")
        return record
    if len(reference) < MIN_PREFIX:
        raise ValidationFailed([FieldError("key", f"a prefix needs at least {MIN_PREFIX} characters")])
    # autoescape: keys contain "_", a LIKE wildcard. The rest of a reference
    # longer than the stored prefix is the key's own text: it must start with the prefix.
    candidates = session.exec(select(ApiKey).where(ApiKey.prefix.startswith(reference[:MIN_PREFIX], autoescape=True))).all()
    matches = [record for record in candidates if record.prefix.startswith(reference) or reference.startswith(record.prefix)]
    if not matches:
        raise not_found("key", f"no API key with prefix {reference!r}")
    if len(matches) > 1:
        ids = ", ".join(str(record.id) for record in matches)
        raise ValidationFailed([FieldError("key", f"prefix {reference!r} matches keys {ids}; give more of it or the id",
                                           "CONFLICT")])
    return matches[0]
