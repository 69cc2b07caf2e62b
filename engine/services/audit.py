"""Audit events: who did what to which object, and what changed."""

from __future__ import annotations

import functools
from decimal import Decimal
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


def audited(action: str, target_type: str):
    """Decorate a service function ``fn(ctx, target_id, ...)`` so each successful
    call leaves an audit event in the same transaction.

    Only numbers and flags among the arguments are recorded: free text (notes,
    reasons, descriptions) may hold personal data and stays out of the trail.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(ctx, *args, **kwargs):
            result = fn(ctx, *args, **kwargs)
            target = getattr(result, "id", None)
            if target is None:
                target = getattr(getattr(result, "case", None), "id", None)
            if target is None and args and isinstance(args[0], int):
                target = args[0]
            numbers = {
                name: value for name, value in kwargs.items()
                if isinstance(value, (int, float, Decimal, bool)) and value is not None
            }
            record(ctx.session, ctx.tenant_id, ctx.actor, action, target_type, target, numbers)
            return result

        return wrapper

    return decorate
