"""Audit events: who did what to which object, and what changed."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from engine.models import AuditEvent


def record(
    session: Session,
    tenant_id: int | None,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: Any = None,
    changes: dict | None = None,
) -> None:
    session.add(
        AuditEvent(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            changes=_jsonable(changes or {}),
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
