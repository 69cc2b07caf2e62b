"""What every ``guanxi`` command shares, the core's and the plugins': the
output streams, the engine, exit codes, errors, ``--json`` and the progress bar.

Conventions (docs/operations.md, "CLI"):

- stdout carries results only: tables, ``--json`` documents, secrets. So
  ``KEY=$(guanxi key create ...)`` and ``guanxi tenant list --json | jq`` work.
- stderr carries everything said to the operator: progress bars,
  confirmations, hints, warnings and errors.
- exit status 0 ok, 1 a domain error (the command was understood and
  refused: unknown tenant, invalid setting, ...), 2 a usage error (unknown
  option, missing argument, contradicting flags: click's own code).

This module is imported by every command module at start, so it imports
nothing heavy: ``guanxi --help`` must not load the engine.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from engine.errors import GuanxiError

EXIT_OK, EXIT_DOMAIN, EXIT_USAGE = 0, 1, 2

# The help text and metavars shared by every command.
TENANT_HELP = "The tenant's slug (guanxi tenant list)"
JSON_HELP = "Print machine-readable JSON on stdout instead of a table"


class PlainCommand(TyperCommand):
    """A command whose arguments are shown by their metavar alone (``SLUG``,
    not typer's ``SLUG <str>``): the metavar already says what to give."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar:
                param.display_type_rich = _no_type  # type: ignore[method-assign]


def _no_type(ctx: Any = None) -> None:
    return None


class CommandGroup(typer.Typer):
    """A typer app whose commands are PlainCommands."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or PlainCommand, **kwargs)


def new_app(help: str, **options: Any) -> typer.Typer:
    """A command group. Help is click's plain text: no boxes to break when
    piped or wrapped, no type labels on flags, and no rich to import for it."""
    options.setdefault("no_args_is_help", True)
    return CommandGroup(help=help, rich_markup_mode=None, **options)


def tenant_option(help: str = TENANT_HELP) -> Any:
    return typer.Option(..., "--tenant", metavar="SLUG", help=help)


def json_option() -> Any:
    return typer.Option(False, "--json", help=JSON_HELP)


class _LazyConsole:
    """A rich Console created on first use: importing rich.console costs
    what ``guanxi --help`` cannot spend, and most commands never print rich text."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console = None

    def real(self) -> Console:
        if self._console is None:
            import sys

            from rich.console import Console

            # Piped or captured output has no width of its own: rich would
            # assume 80 columns and cut table cells short.
            stream = sys.stderr if self._stderr else sys.stdout
            self._console = Console(stderr=self._stderr, width=None if stream.isatty() else 200)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


console: Console = _LazyConsole(stderr=False)  # type: ignore[assignment]  # results
err: Console = _LazyConsole(stderr=True)  # type: ignore[assignment]  # everything else


def say(message: str) -> None:
    """A message to the operator (stderr), rich markup allowed."""
    err.print(message, soft_wrap=True, highlight=False)


def print_json(value: Any) -> None:
    """A JSON document on stdout, alone on its line: what scripts read."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=_jsonable) + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def open_engine(check_schema: bool = True, for_api: bool = False):
    """The engine on GUANXI_DATABASE_URL; exits 1 with a message naming what
    is missing when the database is behind the installed code, or a setting
    is invalid (``for_api``: including what only the API needs)."""
    from rich.markup import escape

    from engine.config import Settings, SettingsError
    from engine.migrations import SchemaNotCurrent
    from engine.runtime import Guanxi

    try:
        settings = Settings.from_env()
        if for_api:
            settings.cursor_key()
    except SettingsError as error:
        err.print(f"[red]error[/red] {escape(str(error))}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=EXIT_DOMAIN) from None
    gx = Guanxi(settings=settings)
    if check_schema:
        try:
            gx.check_schema()
        except SchemaNotCurrent as error:
            err.print(f"[red]error[/red] {error}", soft_wrap=True)
            raise typer.Exit(code=EXIT_DOMAIN) from None
    return gx


def fail(error: GuanxiError) -> NoReturn:
    """Print each field error on stderr and exit with status 1 (a domain error)."""
    from rich.markup import escape

    for item in error.errors:
        err.print(f"[red]error[/red] {escape(str(item))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=EXIT_DOMAIN)


def usage_error(option: str, message: str) -> NoReturn:
    """The command line itself is wrong (flags missing or contradicting each
    other): click's usage message and status 2, like an unknown option."""
    # typer exports BadParameter only; its base is click's UsageError.
    raise typer.BadParameter.__base__(f"{option}: {message}")


def bad_value(option: str, message: str) -> NoReturn:
    """An option's value cannot be read (a malformed date, an unknown status):
    "Invalid value for OPTION" and status 2."""
    raise typer.BadParameter(message, param_hint=option)


def progress_bar() -> Progress:
    """A progress bar on stderr, so that stdout keeps only the result."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err.real(), transient=False,
    )


def table(*columns: str, **options: Any):
    """A rich Table (imported on use) whose cells wrap rather than lose their end to an ellipsis."""
    from rich.table import Table

    made = Table(*columns, **options)
    for column in made.columns:
        column.overflow = "fold"
    return made
