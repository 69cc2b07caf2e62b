"""Periodic jobs contributed by plugins (points expiry, SLA sweep, re-scoring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    name: str  # namespaced: "loyalty.expire_points"
    module: str  # runs only for tenants that enabled this module
    every_minutes: int
    run: Callable[[Any], Any]  # takes a TenantContext; must be safe to run twice


def jobs_for(plugins, enabled: frozenset[str]) -> list[Job]:
    """The periodic jobs of the modules a tenant has enabled."""
    jobs = [job for group in plugins.hook.guanxi_jobs() for job in (group or [])]
    return [job for job in jobs if job.module in enabled]


def run_jobs(gx, tenant: str, names: list[str] | None = None, actor: str = "scheduler") -> dict[str, Any]:
    """Run the tenant's jobs (or the named ones), each in its own transaction."""
    from engine.services.modules import enabled_modules

    with gx.tenant(tenant, write=False) as ctx:
        enabled = enabled_modules(ctx.session, ctx.tenant_id)
    results: dict[str, Any] = {}
    for job in jobs_for(gx.plugins, enabled):
        if names and job.name not in names:
            continue
        with gx.tenant(tenant, actor=actor) as ctx:
            results[job.name] = job.run(ctx)
    return results
