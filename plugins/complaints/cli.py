"""``guanxi complaints ...``: run the SLA sweep, print the report."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

from engine.cli_support import bad_value, console, fail, new_app, open_engine, print_json, progress_bar, tenant_option
from engine.errors import GuanxiError

complaints_app = new_app("Complaints: SLA sweep and report.")


def _require_module(ctx) -> None:
    if "complaints" not in ctx.enabled_modules:
        raise GuanxiError("the complaints module is not enabled for this tenant", field="tenant")


@complaints_app.command("sweep")
def sweep(tenant: str = tenant_option()) -> None:
    """Check every open case against its SLA now: breaches, escalations, broken promises. Safe to repeat."""
    from plugins.complaints.jobs import sweep_tenant

    gx = open_engine()
    progress = progress_bar()
    try:
        with progress, gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            task = progress.add_task("reading open cases", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = sweep_tenant(ctx, on_progress=on_progress)
            progress.update(task, description="done")
    except GuanxiError as error:
        fail(error)
    console.print(str(report))


def _day(option: str, value: Optional[str], default: datetime) -> datetime:
    if not value:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        bad_value(option, f"{value!r} is not an ISO date or time (e.g. 2026-05-01 or 2026-05-01T09:00)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@complaints_app.command("stats")
def stats(
    tenant: str = tenant_option(),
    since: Optional[str] = typer.Option(None, "--from", metavar="WHEN", help="ISO date/time (default: 30 days ago)"),
    until: Optional[str] = typer.Option(None, "--to", metavar="WHEN", help="ISO date/time (default: now)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one line of JSON (default: indented JSON)"),
) -> None:
    """The complaint report over cases opened in [from, to)."""
    import json

    from plugins.complaints.stats import complaint_stats

    now = datetime.now(timezone.utc)
    start, end = _day("--from", since, now - timedelta(days=30)), _day("--to", until, now)
    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            result = complaint_stats(ctx, start, end)
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(result.as_dict())
    else:
        console.print_json(json.dumps(result.as_dict(), default=str))
