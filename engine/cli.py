"""The ``guanxi`` command: operator entry points (typer + rich)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli_db import db_app
from engine.cli_export import export_app
from engine.cli_jobs import jobs_app, worker
from engine.cli_plugin import plugin_app
from engine.cli_support import console, err, fail, open_engine, progress_bar
from engine.errors import GuanxiError
from engine.plugins import get_plugin_manager

app = typer.Typer(help="Guanxi (关系): a plugin-based CRM engine.", no_args_is_help=True, add_completion=False)
tenant_app = typer.Typer(help="Manage tenants (the businesses served).", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
module_app = typer.Typer(help="Enable, disable and list modules per tenant.", no_args_is_help=True)
import_app = typer.Typer(help="Import CSV or XLSX files (resumable; rejected rows go to <name>.rejects.csv).", no_args_is_help=True)
customer_app = typer.Typer(help="Work on customer records (merge duplicates).", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(key_app, name="key")
app.add_typer(module_app, name="module")
app.add_typer(import_app, name="import")
app.add_typer(customer_app, name="customer")
app.add_typer(export_app, name="export")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(worker)
app.add_typer(plugin_app, name="plugin")


@app.command()
def init() -> None:
    """Create or upgrade the database (the same as ``guanxi db upgrade``; safe to run again)."""
    from engine.cli_db import upgrade_database

    upgrade_database()


@app.command("warm-up")
def warm_up() -> None:
    """Compile the plugins' numba kernels into numba's cache (make install runs this)."""
    started = time.perf_counter()
    get_plugin_manager().hook.guanxi_warm_up()
    console.print(f"Kernels ready in {time.perf_counter() - started:.1f} s")


@customer_app.command("merge")
def customer_merge(
    keep: str = typer.Argument(..., help="The customer kept (its code; its id with --by-id)"),
    merge: str = typer.Argument(..., help="The customer folded into KEEP and deleted"),
    tenant: str = typer.Option(..., "--tenant"),
    by_id: bool = typer.Option(False, "--by-id", help="KEEP and MERGE are customer ids, not codes"),
) -> None:
    """Merge two records of one person (rules in docs/customers.md)."""
    from engine.errors import FieldError, NotFound
    from engine.services.customers import find_by_code
    from engine.services.merge import merge_customers

    def customer_id(ctx, field: str, value: str) -> int:
        if by_id:
            if not value.isdigit():
                raise NotFound([FieldError(field.upper(), f"{value!r} is not a customer id", "NOT_FOUND")])
            return int(value)
        found = find_by_code(ctx.session, ctx.tenant_id, value)
        if found is None:
            raise NotFound([FieldError(field.upper(), f"no live customer with code {value!r} in this tenant", "NOT_FOUND")])
        return found.id

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            kept = merge_customers(ctx, customer_id(ctx, "keep", keep), customer_id(ctx, "merge", merge))
            label = kept.code or kept.id
    except GuanxiError as error:
        fail(error)
    console.print(f"Merged {merge} into {keep} (customer {label}).")


@app.command()
def score(
    tenant: str = typer.Option(..., "--tenant"),
    module: Optional[list[str]] = typer.Option(None, "--module", help="Module to score (repeatable); default all enabled"),
) -> None:
    """Run batch scoring for a tenant; replaces its previous results atomically."""
    from engine.scoring import run_scoring

    gx = open_engine()
    with progress_bar() as progress:
        task = progress.add_task("reading", total=None)

        def on_progress(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total + 1)  # + the commit

        try:
            with gx.tenant(tenant, actor="cli") as ctx:
                reports = run_scoring(ctx, module, on_progress=on_progress)
                progress.update(task, description="saving results", advance=1)
            progress.update(task, description="done", advance=1)
        except GuanxiError as error:
            progress.stop()
            fail(error)
    for report in reports:
        console.print(f"[bold]{report.module}[/bold]: {report.scored} customers scored, "
                      f"{report.unscored} without purchases (no score)")
        for key, value in report.details.items():
            console.print(f"  {key}: {value}")
        for warning in report.warnings:
            console.print(f"  [yellow]warning[/yellow] {warning}")


@tenant_app.command("create")
def tenant_create(
    slug: str = typer.Argument(..., help="Short id, e.g. acme-beauty"),
    name: str = typer.Option(..., "--name", help="Display name"),
    currency: str = typer.Option("CNY", help="ISO 4217 currency"),
    timezone: str = typer.Option("Asia/Shanghai", help="IANA time zone"),
    locale: str = typer.Option("zh-CN", help="zh-CN or en"),
) -> None:
    """Create a tenant."""
    from engine.services.tenants import create_tenant

    gx = open_engine()
    try:
        with gx.system() as session:
            tenant = create_tenant(session, slug, name, currency, timezone, locale, actor="cli")
    except GuanxiError as error:
        fail(error)
    console.print(f"Tenant [bold]{tenant.slug}[/bold] created (id {tenant.id}).")


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    from engine.services.tenants import list_tenants

    gx = open_engine()
    table = Table("id", "slug", "name", "currency", "timezone", "locale")
    with gx.system(write=False) as session:
        for t in list_tenants(session):
            table.add_row(str(t.id), t.slug, t.name, t.currency, t.timezone, t.locale)
    console.print(table)


@key_app.command("create")
def key_create(
    tenant: Optional[str] = typer.Option(None, "--tenant", help="Tenant slug; omit for a platform key"),
    role: str = typer.Option(..., "--role", help="admin, agent, analyst, viewer (or platform without --tenant)"),
    name: str = typer.Option("", "--name", help="What the key is for"),
) -> None:
    """Create an API key and print it once."""
    from engine.services.keys import create_key
    from engine.services.tenants import get_tenant

    gx = open_engine()
    try:
        with gx.system() as session:
            new = create_key(session, get_tenant(session, tenant) if tenant else None, role, name, actor="cli")
    except GuanxiError as error:
        fail(error)
    console.print(f"{new.record.role} key for {tenant or 'the platform'} (shown once, store it now):")
    print(new.secret)


@module_app.command("list")
def module_list(tenant: str = typer.Option(..., "--tenant")) -> None:
    """Installed modules and whether the tenant has them on."""
    from engine.services.modules import enabled_modules

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            enabled = enabled_modules(ctx.session, ctx.tenant_id)
    except GuanxiError as error:
        fail(error)
    table = Table("module", "标题", "title", "enabled")
    for name, info in gx.plugins.modules.items():
        table.add_row(name, info.title_zh, info.title_en, "yes" if name in enabled else "no")
    console.print(table)


def _set_module(tenant: str, names: list[str], enabled: bool) -> None:
    from engine.services.modules import set_enabled

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            for name in names:
                set_enabled(ctx.session, gx.plugins, ctx.tenant_id, name, enabled, actor="cli")
    except GuanxiError as error:
        fail(error)
    console.print(f"{'Enabled' if enabled else 'Disabled'} {', '.join(names)} for {tenant}.")


@module_app.command("enable")
def module_enable(names: list[str] = typer.Argument(...), tenant: str = typer.Option(..., "--tenant")) -> None:
    """Enable modules for a tenant."""
    _set_module(tenant, names, True)


@module_app.command("disable")
def module_disable(names: list[str] = typer.Argument(...), tenant: str = typer.Option(..., "--tenant")) -> None:
    """Disable modules for a tenant."""
    _set_module(tenant, names, False)


IMPORT_SHOWN = 100  # rejected rows printed; the reject file has them all
EXIT_REJECTED, EXIT_NOT_IMPORTED = 3, 1


def _import(kind: str, file: Path, tenant: str, chunk_size: int, mode: str | None = None) -> None:
    """Exit status: 0 every row stored (or a duplicate, or updated), 3 some rows
    rejected (listed, and in the reject file), 1 the file could not be imported."""
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
        console.print(f"{file} was already imported; nothing to do.")
    elif report.resumed_from:
        console.print(f"Resumed after row {report.resumed_from}.")
    updated = f"updated {report.rows_updated}, " if kind == "customers" else ""
    console.print(f"stored {report.rows_stored}, {updated}duplicates {report.rows_duplicate}, rejected {report.rows_invalid}")
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


MODE_HELP = "upsert: a code already stored has its changed fields updated; insert: it is counted a duplicate"


@import_app.command("customers")
def import_customers(file: Path, tenant: str = typer.Option(..., "--tenant"), chunk_size: int = typer.Option(5000),
                     mode: str = typer.Option("upsert", "--mode", help=MODE_HELP)) -> None:
    """Import customers from CSV or XLSX (columns: the customer fields; tags and consent separated by '|')."""
    _import("customers", file, tenant, chunk_size, mode)


@import_app.command("interactions")
def import_interactions(file: Path, tenant: str = typer.Option(..., "--tenant"), chunk_size: int = typer.Option(5000)) -> None:
    """Import interactions from CSV or XLSX (customer_code or customer_id, kind, occurred_at, amount, ...)."""
    _import("interactions", file, tenant, chunk_size)


@app.command()
def demo(
    generate_only: bool = typer.Option(False, "--generate-only", help="Build the demo tenant and stop"),
    customers: int = typer.Option(20_000, help="Number of demo customers"),
    seed: int = typer.Option(7, help="Random seed"),
) -> None:
    """Upgrade the database, fill it with a realistic demo tenant and print an admin key."""
    from engine.demo import DEMO_SLUG, generate_demo

    gx = open_engine(check_schema=False)
    gx.upgrade()  # the one-command demo starts from an empty file
    with progress_bar() as progress:
        task = progress.add_task("demo data", total=None)

        def on_progress(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        result = generate_demo(gx, customers=customers, seed=seed, on_progress=on_progress)
    if result.created:
        console.print(f"Demo tenant [bold]{DEMO_SLUG}[/bold]: {result.customers} customers, {result.interactions} interactions.")
        for note in result.notes:
            console.print(f"  {note}")
    else:
        console.print(f"Demo tenant [bold]{DEMO_SLUG}[/bold] already exists.")
    console.print("Admin key (shown once):")
    print(result.admin_key)
    if not generate_only:
        console.print("Example query (GraphiQL: add the header Authorization: Bearer <key>):")
        print(EXAMPLE_QUERY)
        _serve("127.0.0.1", 8000, 1)


EXAMPLE_QUERY = """{
  me { tenant { name } role { code } enabledModules }
  customers(first: 5, orderBy: {field: GROSS_SPENT, direction: DESC}) {
    totalCount
    edges { node { id name grossSpent purchaseCount lastPurchaseAt } }
  }
}"""


def _serve(host: str, port: int, workers: int) -> None:
    import uvicorn

    console.print(f"GraphQL API and GraphiQL on http://{host}:{port}/graphql")
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0 for all)"),
    port: int = typer.Option(8000, help="TCP port"),
    workers: int = typer.Option(1, help="Worker processes"),
) -> None:
    """Serve the GraphQL API (uvicorn --factory api.app:create_app)."""
    open_engine(for_api=True)  # refuse a database behind the code, or bad settings, before starting workers
    _serve(host, port, workers)


def _mount_plugin_commands() -> None:
    """Sub-commands contributed by plugins through ``guanxi_cli_commands``."""
    for group in get_plugin_manager().hook.guanxi_cli_commands():
        for name, sub_app in group or []:
            app.add_typer(sub_app, name=name)


_mount_plugin_commands()

if __name__ == "__main__":
    app()
