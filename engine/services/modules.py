"""Per-tenant module enablement and settings."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from engine.errors import FieldError, ValidationFailed
from engine.models import TenantModule
from engine.plugins.manager import PluginManager
from engine.services import audit
from engine.types import utcnow


def _known(plugins: PluginManager, name: str) -> None:
    if name not in plugins.modules:
        known = ", ".join(sorted(plugins.modules)) or "none"
        raise ValidationFailed([FieldError("name", f"unknown module {name!r}; installed: {known}", "NOT_FOUND")])


def _row(session: Session, tenant_id: int, name: str) -> TenantModule:
    row = session.get(TenantModule, (tenant_id, name))
    if row is None:
        row = TenantModule(tenant_id=tenant_id, module=name, enabled=False, settings={})
        session.add(row)
    return row


def enabled_modules(session: Session, tenant_id: int) -> frozenset[str]:
    rows = session.exec(
        select(TenantModule.module).where(TenantModule.tenant_id == tenant_id, TenantModule.enabled == True)  # noqa: E712
    ).all()
    return frozenset(rows)


def set_enabled(session: Session, plugins: PluginManager, tenant_id: int, name: str, enabled: bool, actor: str = "system") -> TenantModule:
    """Enable (with its dependencies) or disable a module for a tenant."""
    _known(plugins, name)
    current = enabled_modules(session, tenant_id)
    if enabled:
        for dep in plugins.module(name).depends_on:
            if dep not in current:
                set_enabled(session, plugins, tenant_id, dep, True, actor)
    else:
        dependants = [m for m in current if name in plugins.module(m).depends_on] if name in current else []
        if dependants:
            raise ValidationFailed([FieldError("name", f"{', '.join(sorted(dependants))} depend on {name!r}; disable them first", "CONFLICT")])
    row = _row(session, tenant_id, name)
    if row.enabled != enabled:
        row.enabled = enabled
        row.updated_at = utcnow()
        audit.record(session, tenant_id, actor, "module.enable" if enabled else "module.disable", "Module", name)
    session.flush()
    return row


def configure(session: Session, plugins: PluginManager, tenant_id: int, name: str, settings: dict[str, Any], actor: str = "system") -> TenantModule:
    """Replace the module's settings after validating them with its settings model."""
    _known(plugins, name)
    if not isinstance(settings, dict):
        raise ValidationFailed([FieldError("settings", "must be a JSON object")])
    model = plugins.module(name).settings_model
    try:
        validated = model.model_validate(settings)
    except ValidationError as error:
        raise ValidationFailed(settings_errors(error)) from None
    row = _row(session, tenant_id, name)
    before = row.settings
    row.settings = validated.model_dump(mode="json", exclude_unset=True)
    row.updated_at = utcnow()
    audit.record(session, tenant_id, actor, "module.configure", "Module", name, {"before": before, "after": row.settings})
    session.flush()
    return row


def settings_errors(error: ValidationError) -> list[FieldError]:
    """pydantic errors as FieldErrors whose field is the setting's dotted path."""
    out = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        out.append(FieldError(f"settings.{path}", message))
    return out
