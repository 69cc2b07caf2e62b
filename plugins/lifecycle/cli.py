"""``guanxi lifecycle ...``: stages, the transition matrix, churn reasons, win-back lists."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from engine.cli_support import bad_value, console, fail, json_option, new_app, open_engine, print_json, table, tenant_option
from engine.errors import GuanxiError

lifecycle_app = new_app("Lifecycle: retention stages, their history, churn reasons and win-back lists.")


def _require_module(ctx) -> None:
    if "lifecycle" not in ctx.enabled_modules:
        raise GuanxiError("the lifecycle module is not enabled for this tenant", field="tenant")


def _moment(option: str, value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        bad_value(option, f"{value!r} is not an ISO date or time (e.g. 2026-05-01 or 2026-05-01T09:00)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@lifecycle_app.command("stages")
def stages(
    tenant: str = tenant_option(),
    refresh: bool = typer.Option(False, "--refresh", help="Re-stage every customer now first (the daily job's work)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", metavar="WHEN", help="With --refresh: stage as of this ISO time"),
    as_json: bool = json_option(),
) -> None:
    """Customers per stage and the thresholds derived from the tenant's own gaps."""
    from plugins.lifecycle.history import last_run, run_stages

    gx = open_engine()
    moment = _moment("--as-of", as_of)
    try:
        if refresh:
            with gx.tenant(tenant, actor="cli") as ctx:
                _require_module(ctx)
                run_stages(ctx, moment)
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            run = last_run(ctx)
            summary = None if run is None else {"as_of": run.as_of, "computed_at": run.computed_at, "stages": dict(run.counts),
                                                "changed": run.changed, "thresholds": run.thresholds}
    except GuanxiError as error:
        fail(error)
    if summary is None:
        console.print(f"No stage run for {tenant} yet: run `guanxi lifecycle stages --tenant {tenant} --refresh`.")
        raise typer.Exit(code=1)
    from plugins.lifecycle.stages import STAGES, Stage

    summary["stages"] = {code: summary["stages"].get(code, 0) for code in STAGES}
    if as_json:
        print_json(summary)
        return
    shown = table("stage", "label", "customers", title=f"Stages as of {summary['as_of']:%Y-%m-%d %H:%M} UTC")
    for code, n in summary["stages"].items():
        shown.add_row(code, Stage.of(code).zh, str(n))
    console.print(shown)
    th = summary["thresholds"]
    console.print(f"at risk / lapsed / churned after {th['at_risk_factor']:.2f} / {th['lapsed_factor']:.2f} / "
                  f"{th['churned_factor']:.2f} expected gaps ({th['shape']} shape); one-time buyers after "
                  f"{th['single_at_risk_days']:.0f} / {th['single_lapsed_days']:.0f} / {th['single_churned_days']:.0f} days; "
                  f"new for {th['new_days']:.0f} days; median gap {th['median_gap_days']:.0f} days")


@lifecycle_app.command("transitions")
def transitions(
    tenant: str = tenant_option(),
    since: Optional[str] = typer.Option(None, "--from", metavar="WHEN", help="Transitions at or after this ISO date/time"),
    until: Optional[str] = typer.Option(None, "--to", metavar="WHEN", help="Transitions before this ISO date/time"),
    first_stages: bool = typer.Option(False, "--first-stages", help="Also count first stages (from none)"),
    as_json: bool = json_option(),
) -> None:
    """The monthly transition matrix: moves between stages per month."""
    from plugins.lifecycle.history import monthly_transitions

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            rows = monthly_transitions(ctx, _moment("--from", since), _moment("--to", until), first_stages)
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json([{"month": m, "from": f, "to": t, "customers": n} for m, f, t, n in rows])
        return
    shown = table("month", "from", "to", "customers", title="Stage transitions")
    for m, f, t, n in rows:
        shown.add_row(m, f or "-", t, str(n))
    console.print(shown)


@lifecycle_app.command("reasons")
def reasons(
    tenant: str = tenant_option(),
    since: Optional[str] = typer.Option(None, "--from", metavar="WHEN", help="Reasons recorded at or after this ISO date/time"),
    until: Optional[str] = typer.Option(None, "--to", metavar="WHEN", help="Reasons recorded before this ISO date/time"),
    as_json: bool = json_option(),
) -> None:
    """The churn reason report: by reason, side, store and staff."""
    from plugins.lifecycle.reasons import reason_report

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            report = reason_report(ctx, _moment("--from", since), _moment("--to", until))
            labels = {r.code: r for r in ctx.module_settings("lifecycle").churn_reasons}
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(report.as_dict())
        return
    shown = table("reason", "label", "side", "count", title=f"Churn reasons ({report.total})")
    for code, n in report.by_reason:
        reason = labels.get(code)
        shown.add_row(code, reason.zh if reason else "", reason.side if reason else "", str(n))
    console.print(shown)
    for title, rows in (("store", report.by_store), ("staff", report.by_staff)):
        part = table(title, "count", title=f"By {title}")
        for key, n in rows:
            part.add_row(key or "-", str(n))
        console.print(part)


@lifecycle_app.command("record-reason")
def record_reason(
    tenant: str = tenant_option(),
    customer: int = typer.Option(..., "--customer", metavar="ID", help="The customer's id (a number)"),
    code: str = typer.Option(..., "--code", metavar="CODE", help="A churn reason code (see `guanxi lifecycle reasons`)"),
    note: Optional[str] = typer.Option(None, "--note", metavar="NOTE", help="What the customer said"),
    store: Optional[str] = typer.Option(None, "--store", metavar="STORE", help="File under this store (default: last purchase's)"),
    staff: Optional[str] = typer.Option(None, "--staff", metavar="NAME", help="File under this staff member (default: last purchase's)"),
    as_json: bool = json_option(),
) -> None:
    """Record why a lapsed or churned customer left."""
    from plugins.lifecycle.reasons import record_reason as record

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            row = record(ctx, customer, code, note, store, staff, field_name="customer")
            result = {"id": row.id, "customer": row.customer_id, "code": row.code, "stage": row.stage, "store": row.store,
                      "staff": row.staff, "recorded_at": row.recorded_at}
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(result)
    else:
        console.print(f"recorded {result['code']} on customer {customer} ({result['stage']}), "
                      f"store {result['store'] or '-'}, staff {result['staff'] or '-'}")


@lifecycle_app.command("winback")
def winback(
    tenant: str = tenant_option(),
    create: Optional[str] = typer.Option(None, "--create", metavar="NAME", help="Make a new list of this name first"),
    threshold: Optional[str] = typer.Option(None, "--threshold", metavar="MONEY",
                                            help="With --create: the value threshold (default: setting, else median)"),
    window: Optional[int] = typer.Option(None, "--window-days", metavar="DAYS", help="With --create: the outcome window"),
    as_json: bool = json_option(),
) -> None:
    """Win-back lists with their outcome per segment (won back within the window), newest first."""
    from decimal import Decimal, InvalidOperation

    import sqlalchemy as sa

    from plugins.lifecycle.models import LifecycleWinbackList
    from plugins.lifecycle.winback import create_list, outcomes

    value = None
    if threshold is not None:
        try:
            value = Decimal(threshold)
        except InvalidOperation:
            bad_value("--threshold", f"{threshold!r} is not an amount")
    if (threshold is not None or window is not None) and create is None:
        from engine.cli_support import usage_error

        usage_error("--threshold", "--threshold and --window-days go with --create")
    gx = open_engine()
    try:
        if create is not None:
            with gx.tenant(tenant, actor="cli") as ctx:
                _require_module(ctx)
                create_list(ctx, create, value, window)
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            rows = list(ctx.session.execute(sa.select(LifecycleWinbackList).where(
                LifecycleWinbackList.tenant_id == ctx.tenant_id).order_by(LifecycleWinbackList.id.desc()).limit(20)).scalars())
            found = outcomes(ctx, rows)
            result = [{"id": r.id, "name": r.name, "value_threshold": str(r.value_threshold), **found[r.id].as_dict()}
                      for r in rows]
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(result)
        return
    shown = table("list", "name", "segment", "customers", "won back", "share", "window", title="Win-back lists")
    for item in result:
        for s in item["segments"]:
            share = "-" if s["won_back_share"] is None else f"{s['won_back_share']:.1%}"
            state = "final" if item["complete"] else "open"
            shown.add_row(str(item["id"]), item["name"], s["segment"], str(s["customers"]), str(s["won_back"]), share,
                          f"{item['window_days']} days ({state})")
    console.print(shown)


# The analytics commands: cohorts, rates, validate, worklist (plugins/lifecycle/cli_analytics.py).
from plugins.lifecycle.cli_analytics import register  # noqa: E402

register(lifecycle_app)
