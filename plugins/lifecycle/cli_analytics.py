"""``guanxi lifecycle cohorts|rates|validate|worklist``: the analytics commands,
added to the lifecycle group by ``register(app)`` (plugins/lifecycle/cli.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Optional

import typer

from engine.cli_support import bad_value, console, fail, json_option, open_engine, print_json, table, tenant_option
from engine.errors import GuanxiError

SLICES = ("store", "channel", "tier", "acquisition_source")
MONTHS_HELP = "Calendar months up to and including the as-of month (1 to 120)"
BY_HELP = "Split by store, channel (of the first purchase), tier (loyalty) or acquisition_source"


def _when(option: str, value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        bad_value(option, f"{value!r} is not an ISO date or time (e.g. 2026-05-01 or 2026-05-01T09:00)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _by(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in SLICES:
        bad_value("--by", f"{value!r} is not one of {', '.join(SLICES)}")
    return value


def _read(tenant: str, work):
    """``work(ctx)`` in a read transaction of the tenant, with a batch job's
    statement time (it reads the whole history, as ``guanxi score`` does);
    refusals exit 1 naming the field."""
    from engine.db import allow_batch_statements

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            allow_batch_statements(ctx.session, gx.settings.job_statement_timeout_ms)
            if "lifecycle" not in ctx.enabled_modules:
                raise GuanxiError("the lifecycle module is not enabled for this tenant", field="tenant")
            return work(ctx)
    except GuanxiError as error:
        fail(error)


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def cohorts(
    tenant: str = tenant_option(),
    months: int = typer.Option(12, "--months", metavar="N", help=MONTHS_HELP),
    by: Optional[str] = typer.Option(None, "--by", metavar="FIELD", help=BY_HELP),
    as_of: Optional[str] = typer.Option(None, "--as-of", metavar="WHEN", help="ISO date/time (default: now)"),
    revenue: bool = typer.Option(False, "--revenue", help="Show revenue per month instead of the share still buying"),
    as_json: bool = json_option(),
) -> None:
    """Cohort retention by first-purchase month: the share still buying (or revenue) month by month."""
    from engine.types import utcnow
    from plugins.lifecycle.cohorts import cohort_retention

    when, slice_by = _when("--as-of", as_of) or utcnow(), _by(by)
    slices = _read(tenant, lambda ctx: cohort_retention(ctx, when, months, slice_by))
    if as_json:
        print_json([{"label": s.label, "cohorts": [{**asdict(r), "retention": r.retention} for r in s.cohorts]}
                    for s in slices])
        return
    for s in slices:
        shown = table("cohort", "customers", *(f"+{k}" for k in range(months)),
                      title=f"{'revenue' if revenue else 'still buying'}" + (f" — {by} {s.label or '(none)'}" if by else ""))
        for r in s.cohorts:
            cells = [f"{v:,.0f}" for v in r.revenue] if revenue else [_pct(v) for v in r.retention]
            shown.add_row(r.month, str(r.customers), *cells, *([""] * (months - len(cells))))
        console.print(shown)


def rates(
    tenant: str = tenant_option(),
    months: int = typer.Option(12, "--months", metavar="N", help=MONTHS_HELP),
    by: Optional[str] = typer.Option(None, "--by", metavar="FIELD", help=BY_HELP),
    as_of: Optional[str] = typer.Option(None, "--as-of", metavar="WHEN", help="ISO date/time (default: now)"),
    as_json: bool = json_option(),
) -> None:
    """Monthly buyers, retention, churn and repurchase rates."""
    from engine.types import utcnow
    from plugins.lifecycle.cohorts import monthly_rates

    when, slice_by = _when("--as-of", as_of) or utcnow(), _by(by)
    slices = _read(tenant, lambda ctx: monthly_rates(ctx, when, months, slice_by))
    if as_json:
        print_json([{"label": s.label, "months": [
            {**asdict(m), "retention_rate": m.retention_rate, "churn_rate": m.churn_rate,
             "repurchase_rate": m.repurchase_rate, "returning_share": m.returning_share} for m in s.months]}
            for s in slices])
        return
    for s in slices:
        shown = table("month", "buyers", "new", "returning", "retention", "churn", "repurchase",
                      title="monthly rates" + (f" — {by} {s.label or '(none)'}" if by else ""))
        for m in s.months:
            shown.add_row(m.month, str(m.buyers), str(m.new), str(m.returning), _pct(m.retention_rate),
                          _pct(m.churn_rate), _pct(m.repurchase_rate))
        console.print(shown)


def validate(
    tenant: str = tenant_option(),
    split: Optional[str] = typer.Option(None, "--split", metavar="WHEN",
                                        help="Score as of this ISO date/time (default: now minus the horizon)"),
    horizon_days: Optional[int] = typer.Option(None, "--horizon-days", metavar="DAYS",
                                               help="Who bought again within this many days (default: the module's validation_horizon_days)"),
    as_json: bool = json_option(),
) -> None:
    """Check the churn-risk score: score as of a split, compare with who bought again (AUC, lift, calibration)."""
    from plugins.lifecycle.validation import validate as run

    split_at = _when("--split", split)
    result = _read(tenant, lambda ctx: run(ctx, split_at, horizon_days))
    if as_json:
        print_json(result.as_dict())
        return
    console.print(f"Scored as of {result.split[:19]} ({result.source}), {result.customers} customers; "
                  f"{result.came_back} bought again within {result.horizon_days} days")
    figures = table("measure", "risk score", "recency alone", title="How well the score ranks who did not come back")
    f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    figures.add_row("AUC", f(result.auc), f(result.baseline_auc))
    figures.add_row("top-decile lift", f(result.top_decile_lift), f(result.baseline_top_decile_lift))
    console.print(figures)
    bands = table("band", "customers", "mean risk", "did not come back", title="Calibration")
    for b in result.calibration:
        bands.add_row(str(b.band), str(b.customers), _pct(b.mean_risk), _pct(b.observed_no_purchase))
    console.print(bands)
    for warning in result.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}")


def worklist(
    tenant: str = tenant_option(),
    first: int = typer.Option(50, "--first", metavar="N", help="How many (1 to 1000)"),
    stage: Optional[list[str]] = typer.Option(None, "--stage", help="Stage codes to include (repeat; default new, active, at_risk, lapsed, won_back)"),
    store: Optional[str] = typer.Option(None, "--store", metavar="STORE", help="Only customers of this home store"),
    owner: Optional[str] = typer.Option(None, "--owner", metavar="STAFF", help="Only customers this staff member serves"),
    min_risk: Optional[float] = typer.Option(None, "--min-risk", metavar="RISK", help="Only customers with at least this risk (0 to 1)"),
    as_json: bool = json_option(),
) -> None:
    """Who to call today: customers ranked by value at risk (from the latest stage run)."""
    from plugins.lifecycle.risk import work_list

    items = _read(tenant, lambda ctx: work_list(ctx, first, stage, store, owner, min_risk))
    if as_json:
        print_json([asdict(i) for i in items])
        return
    shown = table("#", "customer", "name", "phone", "store", "owner", "stage", "risk", "value at risk",
                  title="Work list")
    for i in items:
        shown.add_row(str(i.rank), str(i.customer_id), i.name or "", i.phone or "", i.store or "", i.owner or "",
                      i.stage, _pct(i.risk), f"{i.value_at_risk:,.2f}")
    console.print(shown)


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the ``guanxi lifecycle`` group."""
    app.command("cohorts")(cohorts)
    app.command("rates")(rates)
    app.command("validate")(validate)
    app.command("worklist")(worklist)
