"""What every ``guanxi`` command shares, the core's and the plugins': consoles,
the engine, error output and the progress bar."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from engine.errors import GuanxiError

console = Console()
err = Console(stderr=True)


def open_engine(check_schema: bool = True, for_api: bool = False):
    """The engine on GUANXI_DATABASE_URL; exits with a message naming what
    is missing when the database is behind the installed code, or a setting
    is invalid (``for_api``: including what only the API needs)."""
    from engine.config import Settings, SettingsError
    from engine.migrations import SchemaNotCurrent
    from engine.runtime import Guanxi

    try:
        settings = Settings.from_env()
        if for_api:
            settings.cursor_key()
    except SettingsError as error:
        err.print(f"[red]error[/red] {escape(str(error))}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=1) from None
    gx = Guanxi(settings=settings)
    if check_schema:
        try:
            gx.check_schema()
        except SchemaNotCurrent as error:
            err.print(f"[red]error[/red] {error}", soft_wrap=True)
            raise typer.Exit(code=1) from None
    return gx


def fail(error: GuanxiError) -> NoReturn:
    """Print each field error and exit with status 2."""
    for item in error.errors:
        err.print(f"[red]error[/red] {item}")
    raise typer.Exit(code=2)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    )
