"""``guanxi import customers|interactions FILE``: resumable CSV or XLSX imports.

Exit status: 0 every row stored (or a duplicate, or updated), 3 some rows
rejected (listed on stderr, and all in the reject file), 1 the file could not
be imported. The summary line is the result (stdout); progress and the
rejected rows go to stderr.
"""

from __future__ import annotations

from pathlib import Path

import typer

from engine.cli_support import EXIT_DOMAIN, console, err, new_app, open_engine, progress_bar, say, tenant_option

import_app = new_app("Import CSV or XLSX files (resumable; rejected rows go to <name>.rejects.csv).")

IMPORT_SHOWN = 100  # rejected rows printed; the reject file has them all
EXIT_REJECTED, EXIT_NOT_IMPORTED = 3, EXIT_DOMAIN

FILE_HELP = "The CSV (UTF-8, GB18030 or GBK) or XLSX file"
CHUNK_HELP = "Rows per transaction; a resumed import starts after the last stored chunk"
MODE_HELP = "upsert: a code already stored has its changed fields updated; insert: it is counted a duplicate"


def _import(kind: str, file: Path, tenant: str, chunk_size: int, mode: str | None = None) -> None:
    from engine.errors import GuanxiError
    from engine.services.importer import import_file

    gx = open_engine()
    with progress_bar() as progress:
        task = progress.add_task(f"import {kind}", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = import_file(gx, tenant, kind, file, chunk_size=chunk_size, on_progress=on_progress, mode=mode)
        except GuanxiError as error:
            progress.stop()
            for item in error.errors:
                err.print(f"[red]error[/red] {item}", soft_wrap=True)
            raise typer.Exit(code=EXIT_NOT_IMPORTED) from None
        except Exception as error:  # no traceback: its locals and messages may hold the file's personal data
            progress.stop()
            err.print(f"[red]error[/red] {file.name} could not be imported ({type(error).__name__}); "
                      "rows up to the last committed chunk are stored, run the command again to resume", soft_wrap=True)
            raise typer.Exit(code=EXIT_NOT_IMPORTED) from None
    if report.already_done:
        say(f"{file} was already imported; nothing to do.")
    elif report.resumed_from:
        say(f"Resumed after row {report.resumed_from}.")
    updated = f"updated {report.rows_updated}, " if kind == "customers" else ""
    console.print(f"stored {report.rows_stored}, {updated}duplicates {report.rows_duplicate}, rejected {report.rows_invalid}",
                  highlight=False)
    if not report.rows_invalid:
        return
    for line, errors in report.invalid[:IMPORT_SHOWN]:
        err.print(f"  line {line}: " + "; ".join(str(e) for e in errors), soft_wrap=True, markup=False, highlight=False)
    if report.rows_invalid > IMPORT_SHOWN:
        err.print(f"  ... and {report.rows_invalid - IMPORT_SHOWN} more")
    if report.reject_file is not None:
        err.print(f"All {report.rows_invalid} rejected rows, with their line and reason: {report.reject_file} "
                  "(fix them there and import that file)", soft_wrap=True, markup=False, highlight=False)
    raise typer.Exit(code=EXIT_REJECTED)


@import_app.command("customers")
def import_customers(
    file: Path = typer.Argument(..., metavar="FILE", help=FILE_HELP),
    tenant: str = tenant_option(),
    chunk_size: int = typer.Option(5000, "--chunk-size", metavar="ROWS", min=1, help=CHUNK_HELP),
    mode: str = typer.Option("upsert", "--mode", metavar="upsert|insert", help=MODE_HELP),
) -> None:
    """Import customers from CSV or XLSX (columns: the customer fields; tags and consent separated by '|')."""
    _import("customers", file, tenant, chunk_size, mode)


@import_app.command("interactions")
def import_interactions(
    file: Path = typer.Argument(..., metavar="FILE", help=FILE_HELP),
    tenant: str = tenant_option(),
    chunk_size: int = typer.Option(5000, "--chunk-size", metavar="ROWS", min=1, help=CHUNK_HELP),
) -> None:
    """Import interactions from CSV or XLSX (customer_code or customer_id, kind, occurred_at, amount, ...)."""
    _import("interactions", file, tenant, chunk_size)
