"""Tenants: the businesses Guanxi serves, each isolated from the others."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from engine.errors import Conflict, FieldError, ValidationFailed, not_found
from engine.models import Tenant
from engine.services import audit

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
LOCALES = ("zh-CN", "zh-TW", "zh-HK", "en", "en-US", "en-GB")


def validate_tenant_fields(slug: str | None, name: str | None, currency: str, timezone: str, locale: str) -> list[FieldError]:
    errors = []
    if slug is not None and not SLUG_RE.match(slug):
        errors.append(FieldError("slug", "must be 2-63 lowercase letters, digits or dashes, starting with a letter or digit"))
    if name is not None and not name.strip():
        errors.append(FieldError("name", "must not be empty"))
    if not re.fullmatch(r"[A-Z]{3}", currency or ""):
        errors.append(FieldError("currency", f"{currency!r} is not a three-letter ISO 4217 code such as CNY"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(FieldError("timezone", f"{timezone!r} is not an IANA time zone such as Asia/Shanghai"))
    if locale not in LOCALES:
        errors.append(FieldError("locale", f"{locale!r} is not supported; expected one of {', '.join(LOCALES)}"))
    return errors


def create_tenant(
    session: Session,
    slug: str,
    name: str,
    currency: str = "CNY",
    timezone: str = "Asia/Shanghai",
    locale: str = "zh-CN",
    actor: str = "system",
) -> Tenant:
    errors = validate_tenant_fields(slug, name, currency, timezone, locale)
    if errors:
        raise ValidationFailed(errors)
    if session.exec(select(Tenant).where(Tenant.slug == slug)).first():
        raise Conflict([FieldError("slug", f"a tenant {slug!r} already exists", "CONFLICT")])
    tenant = Tenant(slug=slug, name=name.strip(), currency=currency, timezone=timezone, locale=locale)
    session.add(tenant)
    session.flush()
    audit.record(session, tenant.id, actor, "tenant.create", "Tenant", tenant.id, {"slug": slug, "name": name})
    return tenant


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
    if tenant is None:
        raise not_found("tenant", f"no tenant with slug {slug!r}")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(Tenant.id)).all())
