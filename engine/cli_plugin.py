"""``guanxi plugin new NAME``: start a plugin package from the scaffold
(engine/scaffold): a module with a table and its migration, settings,
GraphQL, an interaction hook, a job, erasure, and tests using the kit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from engine.cli_support import EXIT_DOMAIN, EXIT_USAGE, err, new_app

plugin_app = new_app("Write your own plugins.")


@plugin_app.command("new")
def new(
    name: str = typer.Argument(..., metavar="NAME", help="The module's name: lowercase letters, digits and underscores (e.g. nps, visit_notes)"),
    path: Path = typer.Option(Path("."), "--path", metavar="DIR", help="Folder to create guanxi-NAME/ in"),
    title_zh: Optional[str] = typer.Option(None, "--title-zh", metavar="TITLE", help="Chinese title admins see (default: the English one)"),
    title_en: Optional[str] = typer.Option(None, "--title-en", metavar="TITLE", help="English title (default: from NAME)"),
) -> None:
    """Write a new plugin package, guanxi-NAME/, ready to install and test."""
    from engine.plugins import get_plugin_manager
    from engine.scaffold import PluginNames, ScaffoldError, check_name, check_title, new_plugin

    from rich.markup import escape

    def refuse(error: ScaffoldError, code: int) -> None:
        err.print(f"[red]error[/red] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(code=code) from None

    try:  # what the command line says: a usage error (2)
        check_name(name)  # the shape first: a bad name needs no plugin loading
        english = check_title("--title-en", title_en if title_en is not None else name.replace("_", " ").capitalize())
        chinese = check_title("--title-zh", title_zh if title_zh is not None else english)
    except ScaffoldError as error:
        refuse(error, EXIT_USAGE)
    try:  # a well-formed request this installation refuses: a domain error (1)
        check_name(name, set(get_plugin_manager().modules))
        target = new_plugin(PluginNames(name, chinese, english), path)
    except ScaffoldError as error:
        refuse(error, EXIT_DOMAIN)
    def say(text: str) -> None:  # plain text on stderr: paths and commands, never wrapped
        typer.echo(text, err=True)

    say(f"Wrote {target}")
    if title_zh is None:
        say(f"The Chinese title is the English one for now: set title_zh in {target / ('guanxi_' + name) / 'plugin.py'}")
    say("Next, in Guanxi's environment:")
    say(f"  pip install -e {target}")
    say("  guanxi db upgrade")
    say(f"  guanxi module enable {name} --tenant <slug>")
    say(f"  cd {target} && pytest")
