"""``guanxi complaints ...``: run the SLA sweep, print the report."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.errors import GuanxiError

complaints_app = typer.Typer(help="Complaints: SLA sweep and report.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _engine():
    from engine.runtime import Guanxi

    gx = Guanxi()
    gx.init_db()
    return gx


def _fail(error: GuanxiError) -> None:
    for item in error.errors:
        err.print(f"[red]error[/red] {item}")
    raise typer.Exit(code=2)


def _require_module(ctx) -> None:
    if "complaints" not in ctx.enabled_modules:
        raise GuanxiError("the complaints module is not enabled for this tenant", field="tenant")


@complaints_app.command("sweep")
def sweep(tenant: str = typer.Option(..., "--tenant")) -> None:
    """Check every open case against its SLA now: breaches, escalations, broken promises. Safe to repeat."""
    from plugins.complaints.jobs import sweep_tenant

    gx = _engine()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    try:
        with progress, gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            task = progress.add_task("reading open cases", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = sweep_tenant(ctx, on_progress=on_progress)
            progress.update(task, description="done")
    except GuanxiError as error:
        _fail(error)
    console.print(str(report))


def _day(value: Optional[str], default: datetime) -> datetime:
    if not value:
        return default
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@complaints_app.command("stats")
def stats(
    tenant: str = typer.Option(..., "--tenant"),
    since: Optional[str] = typer.Option(None, "--from", help="ISO date/time (default: 30 days ago)"),
    until: Optional[str] = typer.Option(None, "--to", help="ISO date/time (default: now)"),
) -> None:
    """The complaint report over cases opened in [from, to)."""
    import json

    from plugins.complaints.stats import complaint_stats

    gx = _engine()
    now = datetime.now(timezone.utc)
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            result = complaint_stats(ctx, _day(since, now - timedelta(days=30)), _day(until, now))
    except GuanxiError as error:
        _fail(error)
    console.print_json(json.dumps(result.as_dict(), default=str))
