"""``guanxi export customers|interactions|segment``: CSV (UTF-8 with a BOM) or XLSX files.

The file is written next to its destination under a ``.partial`` name and
renamed when complete, so a failed export leaves no half file behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from engine.cli_support import console, fail, new_app, open_engine, tenant_option

export_app = new_app("Export customers, an RFM segment or interactions to CSV or XLSX.")

FORMAT_HELP = "csv or xlsx (default: the output's extension, else csv)"


def _format(fmt: Optional[str], output: Optional[Path]) -> str:
    from engine.services.export import check_format

    if fmt is None and output is not None and output.suffix.lower() in (".csv", ".xlsx"):
        fmt = output.suffix[1:]
    return check_format(fmt or "csv")


def _write(gx, tenant_id: int, export, fmt: str, output: Optional[Path], default_name: str) -> None:
    from engine.services.export import record_export, write_csv, write_xlsx

    output = output or Path(f"{default_name}.{fmt}")
    partial = output.with_name(output.name + ".partial")
    complete = False
    try:
        with partial.open("wb") as handle:
            (write_xlsx if fmt == "xlsx" else write_csv)(export, handle)
        os.replace(partial, output)
        complete = True
    finally:
        partial.unlink(missing_ok=True)
        record_export(gx, tenant_id, "cli", export, fmt, complete)
    console.print(f"{export.rows} {export.kind} written to {output}", highlight=False)


def _customers(tenant: str, where: Optional[str], segment: Optional[str], fmt: Optional[str], output: Optional[Path],
               default_name: str) -> None:
    from api.export_where import CustomerWhereParser, parse_json
    from engine.errors import GuanxiError
    from engine.services.export import customer_export

    gx = open_engine()
    try:
        fmt = _format(fmt, output)
        tenant_id = gx.tenant_id(tenant)
        with gx.tenant(tenant_id, write=False) as ctx:
            modules = ctx.enabled_modules
        where_json = parse_json(where)
        condition = CustomerWhereParser(gx.plugins).condition(modules, where_json, gx.engine.dialect.name, tenant_id, segment)
        filters = {"where": _paths(where_json)} if where_json else {}
        if segment:
            filters["segment"] = segment.strip().upper()
        _write(gx, tenant_id, customer_export(gx, tenant_id, condition, filters), fmt, output, default_name)
    except GuanxiError as error:
        fail(error)


def _paths(where_json: dict) -> list[str]:
    from api.export_where import leaf_paths

    return leaf_paths(where_json)


@export_app.command("customers")
def export_customers(
    tenant: str = tenant_option(),
    where: Optional[str] = typer.Option(None, "--where", metavar="JSON", help='CustomerWhere as JSON, as in the GraphQL customers query: '
                                                              '\'{"grossSpent": {"gte": "1000"}, "rfm": {"segment": {"eq": "CHAMPIONS"}}}\''),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="csv|xlsx", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="file to write (default: customers-TENANT.csv)"),
) -> None:
    """Customers (their fields, statistics and the enabled modules' columns), filtered like the API's customers query."""
    _customers(tenant, where, None, fmt, output, f"customers-{tenant}")


@export_app.command("segment")
def export_segment(
    code: str = typer.Argument(..., metavar="SEGMENT", help="RFM segment code, e.g. CHAMPIONS"),
    tenant: str = tenant_option(),
    where: Optional[str] = typer.Option(None, "--where", metavar="JSON", help="a further CustomerWhere filter (JSON)"),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="csv|xlsx", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="file to write (default: segment-CODE-TENANT.csv)"),
) -> None:
    """The customers of an RFM segment (by code), with the same columns as ``export customers``."""
    _customers(tenant, where, code, fmt, output, f"segment-{code.upper()}-{tenant}")


@export_app.command("interactions")
def export_interactions(
    tenant: str = tenant_option(),
    since: Optional[str] = typer.Option(None, "--since", metavar="WHEN", help="from this date or time (included; local time without an offset)"),
    until: Optional[str] = typer.Option(None, "--until", metavar="WHEN", help="to this date (included) or time (excluded)"),
    kind: Optional[list[str]] = typer.Option(None, "--kind", metavar="KIND", help="PURCHASE, REFUND, VISIT, ... (repeatable)"),
    customer: Optional[str] = typer.Option(None, "--customer", metavar="CODE|ID", help="one customer, by code or id"),
    fmt: Optional[str] = typer.Option(None, "--format", metavar="csv|xlsx", help=FORMAT_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="file to write (default: interactions-TENANT.csv)"),
) -> None:
    """Interactions by date range, kind and customer, in the order they were recorded."""
    from engine.errors import GuanxiError
    from engine.services.export import interaction_export, interaction_filter

    gx = open_engine()
    try:
        fmt = _format(fmt, output)
        tenant_id = gx.tenant_id(tenant)
        with gx.tenant(tenant_id, write=False) as ctx:
            where = interaction_filter(ctx, since, until, kind or [], customer)
        _write(gx, tenant_id, interaction_export(gx, tenant_id, where), fmt, output, f"interactions-{tenant}")
    except GuanxiError as error:
        fail(error)
