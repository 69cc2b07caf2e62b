"""The ``guanxi`` command: operator entry points (typer).

Importing this module must stay cheap: it runs for ``guanxi --help`` and
again in every ``guanxi serve`` worker (uvicorn spawns its workers, and a
spawned process re-imports the main module). Command modules import
typer and engine.cli_support only; each command imports the engine, the
plugins and the API inside its function. Plugins' command groups are found
by name (engine/cli_discovery.py) and imported when listed or called.
"""

from __future__ import annotations

from typing import Optional

import typer

from engine.cli_admin import customer_app, key_app, module_app, tenant_app
from engine.cli_db import db_app
from engine.cli_discovery import GuanxiGroup
from engine.cli_export import export_app
from engine.cli_import import import_app
from engine.cli_jobs import jobs_app, worker
from engine.cli_plugin import plugin_app
from engine.cli_support import CommandGroup, console, fail, open_engine, print_json, progress_bar, say

app = CommandGroup(
    cls=GuanxiGroup,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help, as every group's (engine.cli_support.new_app)
    add_completion=False,
    # A crash prints no local variables: they may hold customers' personal data or keys.
    pretty_exceptions_show_locals=False,
)
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")
app.add_typer(module_app, name="module")
app.add_typer(import_app, name="import")
app.add_typer(customer_app, name="customer")
app.add_typer(export_app, name="export")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(plugin_app, name="plugin")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"guanxi {version('guanxi')}")
        except PackageNotFoundError:  # a source checkout that was never installed
            print("guanxi (not installed: no version)")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the installed version and exit"),
) -> None:
    """Guanxi (关系): a plugin-based CRM engine.

    Results go to stdout, progress and messages to stderr. Exit status: 0 ok,
    1 refused (unknown tenant, invalid value, ...), 2 a usage error, 3 an import with rejected rows.
    """


@app.command()
def init() -> None:
    """Create or upgrade the database (the same as guanxi db upgrade; safe to run again)."""
    from engine.cli_db import upgrade_database

    upgrade_database()


@app.command("warm-up")
def warm_up() -> None:
    """Compile the plugins' numba kernels into numba's cache (make install runs this)."""
    import time

    from engine.plugins import get_plugin_manager

    started = time.perf_counter()
    get_plugin_manager().hook.guanxi_warm_up()
    say(f"Kernels ready in {time.perf_counter() - started:.1f} s")


@app.command()
def score(
    tenant: str = typer.Option(..., "--tenant", metavar="SLUG", help="The tenant's slug (guanxi tenant list)"),
    module: Optional[list[str]] = typer.Option(None, "--module", metavar="MODULE",
                                               help="Module to score (repeatable); default all enabled"),
    as_json: bool = typer.Option(False, "--json", help="Print the scoring reports as JSON on stdout"),
) -> None:
    """Run batch scoring for a tenant; replaces its previous results atomically."""
    from engine.db import allow_batch_statements
    from engine.errors import GuanxiError
    from engine.scoring import run_scoring

    gx = open_engine()
    with progress_bar() as progress:
        task = progress.add_task("reading", total=None)

        def on_progress(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total + 1)  # + the commit

        try:
            with gx.tenant(tenant, actor="cli") as ctx:
                allow_batch_statements(ctx.session, gx.settings.job_statement_timeout_ms)
                reports = run_scoring(ctx, module, on_progress=on_progress)
                progress.update(task, description="saving results", advance=1)
            progress.update(task, description="done", advance=1)
        except GuanxiError as error:
            progress.stop()
            fail(error)
    if as_json:
        print_json([{"module": r.module, "scored": r.scored, "unscored": r.unscored, "details": r.details,
                     "warnings": list(r.warnings)} for r in reports])
        return
    for report in reports:
        console.print(f"[bold]{report.module}[/bold]: {report.scored} customers scored, "
                      f"{report.unscored} without purchases (no score)")
        for key, value in report.details.items():
            console.print(f"  {key}: {value}")
        for warning in report.warnings:
            console.print(f"  [yellow]warning[/yellow] {warning}")


HOST_HELP = "Interface to bind (0.0.0.0 for all)"
PORT_HELP = "TCP port"


@app.command()
def demo(
    generate_only: bool = typer.Option(False, "--generate-only", help="Build the demo tenant and stop"),
    customers: int = typer.Option(20_000, "--customers", metavar="N", min=1, help="Number of demo customers"),
    seed: int = typer.Option(7, "--seed", metavar="N", help="Random seed"),
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help=HOST_HELP),
    port: int = typer.Option(8000, "--port", metavar="PORT", min=1, max=65535, help=PORT_HELP),
) -> None:
    """Upgrade the database, fill it with a realistic demo tenant, print an admin key and serve the API."""
    from engine.demo import DEMO_SLUG, generate_demo

    gx = open_engine(check_schema=False)
    gx.upgrade()  # the one-command demo starts from an empty file
    with progress_bar() as progress:
        task = progress.add_task("demo data", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        result = generate_demo(gx, customers=customers, seed=seed, on_progress=on_progress)
    if result.created:
        say(f"Demo tenant [bold]{DEMO_SLUG}[/bold]: {result.customers} customers, {result.interactions} interactions.")
        for note in result.notes:
            say(f"  {note}")
    else:
        say(f"Demo tenant [bold]{DEMO_SLUG}[/bold] already exists.")
    say("Admin key (shown once, on stdout):")
    print(result.admin_key, flush=True)
    if not generate_only:
        say("Example query (GraphiQL: add the header Authorization: Bearer <key>):")
        say(EXAMPLE_QUERY)
        _serve(host, port, 1)


EXAMPLE_QUERY = """{
  me { tenant { name } role { code } enabledModules }
  customers(first: 5, orderBy: {field: GROSS_SPENT, direction: DESC}) {
    totalCount
    edges { node { id name grossSpent purchaseCount lastPurchaseAt } }
  }
}"""

# Seconds a worker may take to answer uvicorn's health check (uvicorn's
# default is 5). A worker answers once its interpreter is up and api.asgi
# imported, before the app is built; on a saturated host that alone can pass
# 5 s, and a worker killed for it is replaced by one that starts just as slowly.
WORKER_HEALTHCHECK_SECONDS = 60


def _serve(host: str, port: int, workers: int, healthcheck_seconds: int = WORKER_HEALTHCHECK_SECONDS) -> None:
    import uvicorn

    from api.logs import log_format, uvicorn_log_config
    from api.metrics import prepare_multiprocess_dir
    from engine.config import Settings

    settings = Settings.from_env()
    if log_format(settings.log_format) == "text":  # JSON logs: stderr carries log lines only (uvicorn names the address)
        say(f"GraphQL API and GraphiQL on http://{host}:{port}/graphql")
        say(f"Admin console on         http://{host}:{port}/console/  (sign in with an API key)")
    prepare_multiprocess_dir(workers)  # every worker's metrics in one directory, counted together at /metrics
    # An import string, not the app: each worker imports api.asgi and builds
    # the app itself; nothing of this CLI has to be pickled or rebuilt there.
    uvicorn.run("api.asgi:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                log_config=uvicorn_log_config(settings.log_level, settings.log_format),
                timeout_worker_healthcheck=healthcheck_seconds)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help=HOST_HELP),
    port: int = typer.Option(8000, "--port", metavar="PORT", min=0, max=65535, help=PORT_HELP),
    workers: int = typer.Option(1, "--workers", metavar="N", min=1, help="Worker processes"),
    healthcheck_seconds: int = typer.Option(
        WORKER_HEALTHCHECK_SECONDS, "--worker-healthcheck-timeout", metavar="SECONDS", min=1,
        help="How long a worker may take to answer uvicorn's health check before it is replaced"),
) -> None:
    """Serve the GraphQL API (uvicorn --factory api.asgi:create_app)."""
    open_engine(for_api=True)  # refuse a database behind the code, or bad settings, before starting workers
    _serve(host, port, workers, healthcheck_seconds)


app.command("worker")(worker)


if __name__ == "__main__":
    app()
