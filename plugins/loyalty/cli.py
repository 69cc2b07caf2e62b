"""``guanxi loyalty expire|evaluate-tiers --tenant T``: the periodic jobs by hand, with a progress bar."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from engine.cli_support import console, fail, open_engine, progress_bar
from engine.errors import GuanxiError

loyalty_app = typer.Typer(help="Loyalty: points expiry and tier evaluation.", no_args_is_help=True)


def _as_of(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _run(job, tenant: str, as_of: Optional[str], label: str) -> None:
    gx = open_engine()
    progress = progress_bar()
    try:
        with progress:
            task = progress.add_task(label, total=4)

            def on_progress(step: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"{label}: {step}")

            with gx.tenant(tenant, actor="cli") as ctx:
                result = job(ctx, as_of=_as_of(as_of), on_progress=on_progress)
    except GuanxiError as error:
        fail(error)
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
