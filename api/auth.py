"""``Authorization: Bearer <key>`` to a Principal (or None when missing, unknown or revoked)."""

from __future__ import annotations

from sqlmodel import Session

from api.context import Principal
from engine.enums import Role
from engine.models import Tenant
from engine.runtime import Guanxi
from engine.services.keys import find_key, needs_touch, touch
from engine.services.modules import enabled_modules


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def load_principal(gx: Guanxi, secret: str) -> Principal | None:
    """Runs in a worker thread: a read, plus at most one small write a minute
    per key to record its last use (a separate write transaction, so reads
    never have to upgrade to a write lock)."""
    with gx.system(write=False) as session:  # the key names the tenant: no tenant yet
        key = find_key(session, secret)
        principal = None if key is None else principal_for_key(gx, session, key)
    if principal is not None and needs_touch(key):
        with gx.system() as session:
            touch(session, key.id)
    return principal


def principal_for_key(gx: Guanxi, session: Session, key) -> Principal | None:
    """What an active key may do: its role, tenant and the tenant's enabled modules."""
    role = Role.parse(key.role)
    if key.tenant_id is None:
        return Principal(key.id, role, None)
    tenant = session.get(Tenant, key.tenant_id)
    if tenant is None:
        return None
    installed = gx.plugins.modules
    modules = frozenset(m for m in enabled_modules(session, tenant.id) if m in installed)
    return Principal(key.id, role, tenant, modules)
