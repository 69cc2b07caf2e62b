"""``guanxi db ...``: the schema's revisions (Alembic, one branch for the
core and one per installed plugin; engine/migrations)."""

from __future__ import annotations

import typer

from engine.cli_support import EXIT_DOMAIN, console, err, json_option, new_app, open_engine, print_json, say, table

db_app = new_app("Schema migrations: upgrade, current, history, downgrade, revision.")


def upgrade_database(revision: str = "heads") -> None:
    """Upgrade and say what was done (shared by ``guanxi init``)."""
    from engine.migrations import SchemaNotCurrent

    gx = open_engine(check_schema=False)
    try:
        report = gx.upgrade(revision)
    except SchemaNotCurrent as error:
        err.print(f"[red]error[/red] {error}", soft_wrap=True)
        raise typer.Exit(code=EXIT_DOMAIN) from None
    if report.stamped:
        say(f"Recognised a database built before migrations; stamped {', '.join(report.stamped)}.")
    for script in report.applied:
        say(f"applied {script.revision}: {script.doc}")
    if not report.applied:
        say("Nothing to apply.")
    for difference in report.differences:
        err.print(f"[yellow]warning[/yellow] the database still differs from the models: {difference}")
    say(f"Database at the installed code's revisions: {gx.engine.url.render_as_string(hide_password=True)}")


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("heads", metavar="REVISION", help="Target revision; default every branch's head")) -> None:
    """Apply the core's and every installed plugin's pending migrations."""
    upgrade_database(revision)


@db_app.command("current")
def current(as_json: bool = json_option()) -> None:
    """The revision each branch of the database is at, and what is pending."""
    from engine.migrations import SchemaNotCurrent, current as current_revisions, pending

    gx = open_engine(check_schema=False)
    rows = [{"revision": script.revision, "branches": sorted(script.branch_labels), "description": script.doc}
            for script in current_revisions(gx)]
    try:
        with gx.engine.connect() as connection:
            missing = [script.revision for script in pending(gx, connection)]
    except SchemaNotCurrent as error:
        err.print(f"[red]error[/red] {error}", soft_wrap=True)
        raise typer.Exit(code=EXIT_DOMAIN) from None
    if as_json:
        print_json({"current": rows, "pending": missing})
        return
    shown = table("revision", "branch", "description")
    for row in rows:
        shown.add_row(row["revision"], ",".join(row["branches"]), row["description"])
    console.print(shown)
    if missing:
        console.print("pending: " + ", ".join(missing) + " (guanxi db upgrade)")
    else:
        console.print("up to date")


@db_app.command("history")
def history(as_json: bool = json_option()) -> None:
    """Every revision of the installed code, newest first."""
    from engine.migrations import history as all_revisions

    gx = open_engine(check_schema=False)
    rows = [{"revision": script.revision, "revises": _names(script.down_revision) or None,
             "depends_on": _names(script.dependencies) or None, "description": script.doc} for script in all_revisions(gx)]
    if as_json:
        print_json(rows)
        return
    shown = table("revision", "revises", "depends on", "description")
    for row in rows:
        shown.add_row(row["revision"], row["revises"] or "(base)", row["depends_on"] or "", row["description"])
    console.print(shown)


def _names(revisions: str | tuple | None) -> str:
    return revisions if isinstance(revisions, str) else ", ".join(revisions or ())


@db_app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., metavar="REVISION", help="e.g. rfm@-1, nps@base (drops that plugin's tables), core_0001")) -> None:
    """Undo migrations down to REVISION (back up first: downgrades drop columns and tables)."""
    from engine.migrations import downgrade as run_downgrade

    gx = open_engine(check_schema=False)
    run_downgrade(gx, revision)
    say(f"Downgraded to {revision}.")


@db_app.command("revision")
def revision(
    branch: str = typer.Option(..., "--plugin", metavar="MODULE", help="core, or the installed module whose migrations folder gets the revision"),
    message: str = typer.Option(..., "-m", "--message", metavar="MESSAGE", help="What the revision changes"),
    autogenerate: bool = typer.Option(False, "--autogenerate", help="Fill it with what the models changed (review it!)"),
) -> None:
    """Write a new revision for a plugin's (or the core's) branch."""
    from engine.migrations import SchemaNotCurrent, new_revision

    gx = open_engine(check_schema=False)
    try:
        script = new_revision(gx, branch, message, autogenerate)
    except (SchemaNotCurrent, KeyError) as error:
        err.print(f"[red]error[/red] {error}", soft_wrap=True)
        raise typer.Exit(code=EXIT_DOMAIN) from None
    console.print(f"wrote {script.path}")
