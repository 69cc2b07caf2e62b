"""``guanxi clv ...``: see the fitted model and whether it fits the tenant's data."""

from __future__ import annotations

import typer

from engine.cli_support import (
    EXIT_DOMAIN, console, err, fail, json_option, new_app, open_engine, print_json, table, tenant_option,
)
from engine.errors import GuanxiError

clv_app = new_app("Customer lifetime value: the fitted model and its validation report.")


def _load_run(gx, tenant: str, rescore: bool):
    from engine.scoring import run_scoring
    from plugins.clv.service import latest_run

    try:
        if rescore:
            with gx.tenant(tenant, actor="cli") as ctx:
                if "clv" not in ctx.enabled_modules:
                    raise GuanxiError("the clv module is not enabled for this tenant", field="tenant")
                run_scoring(ctx, ["clv"])
        with gx.tenant(tenant, write=False) as ctx:
            if "clv" not in ctx.enabled_modules:
                raise GuanxiError("the clv module is not enabled for this tenant", field="tenant")
            run = latest_run(ctx.session, ctx.tenant_id)
    except GuanxiError as error:
        fail(error)
    if run is None:
        err.print(f"No CLV run for {tenant} yet: run `guanxi score --tenant {tenant} --module clv` (or add --rescore).")
        raise typer.Exit(code=EXIT_DOMAIN)
    return run


def _parameters_table(title: str, parameters: dict):
    shown = table("parameter", "value", "std. error", title=title)
    for name, p in parameters.items():
        shown.add_row(name, f"{p['value']:.4f}", f"{p['std_error']:.4f}")
    return shown


MODEL_FIELDS = ("id", "kind", "unit", "fitted_at", "as_of", "customers", "unique_rows", "log_likelihood", "parameters",
                "spend_model", "spend_customers", "spend_parameters", "spend_log_likelihood", "spend_mean", "settings",
                "warnings", "scored", "unscored", "duration_s")


def model_json(run) -> dict:
    return {name: getattr(run, name) for name in MODEL_FIELDS}


def print_model(run) -> None:
    console.print(
        f"[bold]{run.kind}[/bold] in {run.unit.lower()}s, fitted {run.fitted_at:%Y-%m-%d %H:%M} UTC "
        f"on {run.customers} customers ({run.unique_rows} distinct rows), as of {run.as_of:%Y-%m-%d %H:%M} UTC; "
        f"log-likelihood {run.log_likelihood:.2f}"
    )
    console.print(_parameters_table("purchases", run.parameters))
    if run.spend_model == "GAMMA_GAMMA":
        console.print(_parameters_table(f"spend (Gamma-Gamma, {run.spend_customers} repeat customers)",
                                        run.spend_parameters))
    else:
        console.print(f"spend: mean spend per purchase day {run.spend_mean:.2f} (Gamma-Gamma not fitted)")
    for warning in run.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}")


def print_validation(report: dict) -> None:
    console.print(
        f"Calibration to {report['calibration_end'][:10]}, holdout {report['holdout_days']} days "
        f"to {report['observation_end'][:10]} ({report['customers']} customers, {report['model']})"
    )
    by_frequency = table("repeat purchases in calibration", "customers", "mean actual (holdout)", "mean predicted",
                         title="Holdout purchases by calibration frequency")
    for group in report["by_frequency"]:
        by_frequency.add_row(group["frequency"], str(group["customers"]), f"{group['mean_actual']:.3f}",
                             f"{group['mean_predicted']:.3f}")
    console.print(by_frequency)
    totals = table("measure", "value", title="Totals")
    actual, predicted = report["total_actual"], report["total_predicted"]
    totals.add_row("holdout purchases, actual", f"{actual:.0f}")
    totals.add_row("holdout purchases, predicted", f"{predicted:.1f}")
    if actual > 0:
        totals.add_row("predicted / actual", f"{predicted / actual:.3f}")
    totals.add_row("mean absolute error per customer", f"{report['mean_absolute_error']:.3f}")
    corr = report["correlation"]
    totals.add_row("correlation (per customer)", "n/a" if corr is None else f"{corr:.3f}")
    console.print(totals)


RESCORE_HELP = "Re-score first (fits again with the current settings)"


@clv_app.command("show")
def show(tenant: str = tenant_option(), rescore: bool = typer.Option(False, "--rescore", help=RESCORE_HELP),
         as_json: bool = json_option()) -> None:
    """The tenant's fitted model: parameters, standard errors, data size, warnings."""
    run = _load_run(open_engine(), tenant, rescore)
    if as_json:
        print_json(model_json(run))
    else:
        print_model(run)


@clv_app.command("validate")
def validate(
    tenant: str = tenant_option(),
    rescore: bool = typer.Option(False, "--rescore", help=RESCORE_HELP),
    as_json: bool = json_option(),
) -> None:
    """The calibration/holdout report of the latest run: does the model fit this tenant's data?"""
    run = _load_run(open_engine(), tenant, rescore)
    if not run.validation:
        reasons = [w for w in run.warnings if w.startswith("validation")] or ["no validation stored with this run"]
        for reason in reasons:
            err.print(f"[yellow]{reason}[/yellow]")
        raise typer.Exit(code=EXIT_DOMAIN)
    if as_json:
        print_json(run.validation)
    else:
        print_validation(run.validation)
