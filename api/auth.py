"""``Authorization: Bearer <key>`` to a Principal (or None when missing, unknown or revoked)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from api.context import Principal
from engine.enums import Role
from engine.models import Tenant
from engine.runtime import Guanxi
from engine.services.keys import authenticate
from engine.services.modules import enabled_modules


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def load_principal(gx: Guanxi, secret: str) -> Principal | None:
    """Runs in a worker thread: one short transaction (last_used_at may be written).

    Tried as a plain read first; if SQLite refuses to upgrade it to a write
    (another writer got there first), redone as a write transaction, which
    queues behind the other writer instead of failing.
    """
    try:
        with gx.read() as session:
            principal = _principal(gx, session, secret)
            session.commit()
        return principal
    except OperationalError:
        if gx.engine.dialect.name != "sqlite":
            raise
    with gx.write() as session:
        return _principal(gx, session, secret)


def _principal(gx: Guanxi, session: Session, secret: str) -> Principal | None:
    key = authenticate(session, secret)
    if key is None:
        return None
    role = Role.parse(key.role)
    if key.tenant_id is None:
        return Principal(key.id, role, None)
    tenant = session.get(Tenant, key.tenant_id)
    if tenant is None:
        return None
    installed = gx.plugins.modules
    modules = frozenset(m for m in enabled_modules(session, tenant.id) if m in installed)
    return Principal(key.id, role, tenant, modules)
