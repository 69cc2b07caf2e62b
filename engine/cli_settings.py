"""``guanxi module configure --set KEY=VALUE``: the assignments, parsed and
applied to a module's stored settings (the module's settings model validates
the result in engine/services/modules.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.cli_support import bad_value


@dataclass(frozen=True)
class Assignments:
    values: tuple[tuple[tuple[str, ...], Any], ...]  # (dotted path, value)

    def apply(self, current: dict[str, Any], unset: list[str]) -> dict[str, Any]:
        """``current`` (not changed) with the assignments made and ``unset`` keys removed."""
        result = json.loads(json.dumps(current))  # a deep copy of plain JSON
        for key in unset:
            *parents, last = key.split(".")
            node = result
            for part in parents:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(last, None)
        for path, value in self.values:
            node = result
            for part in path[:-1]:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[path[-1]] = value
        return result


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, true/false/null, lists, objects, "quoted"), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_assignments(items: list[str]) -> Assignments:
    values = []
    for item in items:
        key, sign, text = item.partition("=")
        path = tuple(part.strip() for part in key.split("."))
        if not sign or not all(path):
            bad_value("--set", f"{item!r} is not KEY=VALUE (e.g. --set points_expiry_days=730)")
        values.append((path, parse_value(text)))
    return Assignments(tuple(values))


def stored_settings(session, tenant_id: int) -> dict[str, dict[str, Any]]:
    """Module name -> the settings the tenant set (defaults left out)."""
    from sqlmodel import select

    from engine.models import TenantModule

    rows = session.exec(select(TenantModule).where(TenantModule.tenant_id == tenant_id)).all()
    return {row.module: dict(row.settings or {}) for row in rows}
