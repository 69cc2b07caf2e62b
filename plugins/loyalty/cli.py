"""``guanxi loyalty expire|evaluate-tiers --tenant T``: the periodic jobs by hand, with a progress bar."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.errors import GuanxiError

loyalty_app = typer.Typer(help="Loyalty: points expiry and tier evaluation.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _as_of(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _run(job, tenant: str, as_of: Optional[str], label: str) -> None:
    from engine.runtime import Guanxi

    gx = Guanxi()
    gx.init_db()
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console)
    try:
        with progress:
            task = progress.add_task(label, total=4)

            def on_progress(step: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"{label}: {step}")

            with gx.tenant(tenant, actor="cli") as ctx:
                result = job(ctx, as_of=_as_of(as_of), on_progress=on_progress)
    except GuanxiError as error:
        for item in error.errors:
            err.print(f"[red]error[/red] {item}")
        raise typer.Exit(code=2)
    console.print(", ".join(f"{k}: {v}" for k, v in result.items()))


@loyalty_app.command("expire")
def expire(tenant: str = typer.Option(..., "--tenant"),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="ISO time (default now)")) -> None:
    """Expire points whose lots are past their date (safe to repeat)."""
    from plugins.loyalty.jobs import expire_points

    _run(expire_points, tenant, as_of, "expire points")


@loyalty_app.command("evaluate-tiers")
def evaluate(tenant: str = typer.Option(..., "--tenant"),
             as_of: Optional[str] = typer.Option(None, "--as-of", help="ISO time (default now)")) -> None:
    """Re-evaluate every member's tier (upgrades; downgrades after the minimum period)."""
    from plugins.loyalty.jobs import evaluate_tiers

    _run(evaluate_tiers, tenant, as_of, "evaluate tiers")
