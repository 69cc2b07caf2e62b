"""Fits the data does not support are refused with a reason, the previous run kept:
degenerate parameters (a tenant where nobody stops buying), and fits past the
fit_time_budget_s setting, which also report their progress while they run."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from engine.errors import ValidationFailed
from engine.jobs import run_jobs
from engine.models import Customer
from engine.scoring import run_scoring
from engine.services.customers import delete_customer
from engine.services.modules import configure
from plugins.clv import fit_checks, fitters
from plugins.clv.fitters import BetaGeoFitter
from tests.plugins.clv.test_clv_plugin import load, score, simulate, stored

END_DAY = 730
# The history ends today at midnight UTC: the scheduled job and the CLI score as of now.
NO_CHURN_AS_OF = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
START = NO_CHURN_AS_OF - timedelta(days=END_DAY)
FIT_REFUSALS = ("fit refused", "not identified by this data", "did not converge")


def no_churn(n: int, seed: int, mean_gap_days: float = 30.0):
    """Everyone buys at the same rate (a Poisson process, mean gap 30 days) from
    a first purchase in the first 100 days until the end: nobody stops buying."""
    rng = np.random.default_rng(seed)
    purchases = []
    for i in range(n):
        t = rng.uniform(0, 100)
        while t < END_DAY:
            purchases.append((f"steady{i}", START + timedelta(days=float(t)), 25.0))
            t += rng.exponential(mean_gap_days)
    return purchases


def rfm_rows(purchases, end_day: int = END_DAY):
    """(frequency, recency, T) in days per customer as of ``end_day``, from the purchases in plain Python."""
    days: dict[str, set[int]] = {}
    for code, when, _ in purchases:
        days.setdefault(code, set()).add((when - START).days)
    rows = [(len(d) - 1, max(d) - min(d), end_day - min(d)) for d in days.values()]
    return tuple(np.array(column, dtype=float) for column in zip(*rows))


def test_the_no_churn_data_makes_the_optimiser_accept_absurd_parameters():
    """The case the checks are for: the fit converges and its Hessian inverts,
    and r runs to millions (the issue's tenant stored r = 774,652 ± 763,382)."""
    fitter = BetaGeoFitter().fit(*rfm_rows(no_churn(1000, seed=2)))
    assert fitter.params_["r"] > 1e5
    reason = fit_checks.refusal_reason("BG_NBD", "day", fitter.params_, fitter.standard_errors_)
    assert reason is not None and "r = " in reason and "exceeds the ceiling" in reason


def test_sound_fits_pass_the_checks():
    rows = rfm_rows(simulate(1000, seed=2, start=START), end_day=365)  # BG/NBD customers: they churn
    for model in (fitters.BetaGeoFitter, fitters.ModifiedBetaGeoFitter, fitters.ParetoNBDFitter):
        fitter = model().fit(*rows)
        assert fit_checks.refusal_reason("M", "day", fitter.params_, fitter.standard_errors_) is None


def test_each_limit_refuses_with_its_reason():
    good = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}
    se = {"r": 0.01, "alpha": 0.4, "a": 0.2, "b": 0.7}
    assert fit_checks.refusal_reason("BG_NBD", "week", good, se) is None
    assert "b = 2000 exceeds" in fit_checks.refusal_reason("BG_NBD", "week", {**good, "b": 2000.0}, se)
    assert "alpha = 1e+09" in fit_checks.refusal_reason("BG_NBD", "week", {**good, "alpha": 1e9}, se)
    assert "not a finite positive" in fit_checks.refusal_reason("BG_NBD", "week", good, {**se, "a": float("nan")})
    assert "not a finite positive" in fit_checks.refusal_reason("BG_NBD", "week", good, {**se, "a": 0.0})
    assert "a = 0.79 ± 3" in fit_checks.refusal_reason("BG_NBD", "week", good, {**se, "a": 3.0})


@pytest.fixture
def kept_then_no_churn(gx, make_tenant, tmp_path):
    """A tenant scored once on sound data plus steady buyers; then the sound
    customers are deleted, which leaves a tenant where nobody stops buying."""
    tenant = make_tenant(modules=("clv",), timezone="UTC")
    sound = simulate(400, seed=3, prefix="sound", start=START + timedelta(days=END_DAY - 365))
    load(gx, tenant, tmp_path, sound + no_churn(1000, seed=2))
    score(gx, tenant, as_of=NO_CHURN_AS_OF)
    [run], scores = stored(gx, tenant)
    with gx.tenant(tenant) as ctx:
        ids = ctx.session.exec(select(Customer.id).where(Customer.tenant_id == ctx.tenant_id,
                                                        Customer.code.startswith("sound"))).all()
        for customer_id in ids:
            delete_customer(ctx, customer_id)
    return tenant, run, scores


def _unchanged(gx, tenant, run, scores):
    [kept], after = stored(gx, tenant)
    assert kept.id == run.id and kept.parameters == run.parameters
    assert {k: v.probability_alive for k, v in after.items()} == {k: v.probability_alive for k, v in scores.items()}


def test_a_tenant_where_nobody_stops_buying_is_refused_and_the_previous_run_kept(gx, kept_then_no_churn):
    tenant, run, scores = kept_then_no_churn
    assert all(p["value"] < 1000 for p in run.parameters.values())  # the kept run is sound
    with pytest.raises(ValidationFailed, match="fit refused: r = .* exceeds the ceiling") as caught:
        score(gx, tenant, as_of=NO_CHURN_AS_OF)
    assert caught.value.errors[0].field == "purchases"
    assert "previous run is kept" in str(caught.value)
    _unchanged(gx, tenant, run, scores)


def test_the_refusal_reaches_the_job_and_the_cli(gx, kept_then_no_churn, database_url, monkeypatch):
    tenant, run, scores = kept_then_no_churn
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "clv", {"schedule_minutes": 1})
        ctx.session.get(type(run), run.id).fitted_at = START  # due
    # as of now, hours after the data's end: the same kind of data, not the same numbers, so any fit refusal
    result = run_jobs(gx, tenant, ["clv.rescore"])["clv.rescore"]
    assert result.startswith("refused, previous run kept") and any(r in result for r in FIT_REFUSALS), result

    from engine.cli import app

    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    out = CliRunner().invoke(app, ["clv", "show", "--tenant", tenant, "--rescore"])
    assert out.exit_code == 1
    assert any(r in " ".join(out.output.split()) for r in FIT_REFUSALS), out.output
    _unchanged(gx, tenant, run, scores)


def _slow_kernel(monkeypatch, seconds: float):
    original = BetaGeoFitter._loglik_kernel

    def slow(self):
        kernel = original(self)

        def wrapped(*args):
            time.sleep(seconds)
            return kernel(*args)

        return wrapped

    monkeypatch.setattr(BetaGeoFitter, "_loglik_kernel", slow)


def test_a_fit_past_its_time_budget_is_refused_after_reporting_progress(gx, make_tenant, tmp_path, monkeypatch):
    tenant = make_tenant(modules=("clv",))
    load(gx, tenant, tmp_path, simulate(400, seed=3, start=START))
    as_of = START + timedelta(days=365)
    score(gx, tenant, as_of=as_of)
    [run], scores = stored(gx, tenant)

    _slow_kernel(monkeypatch, 0.05)  # a fit of dozens of evaluations now takes seconds
    monkeypatch.setattr(fitters, "PROGRESS_EVERY_S", 0.05)
    heard = []
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "clv", {"fit_time_budget_s": 0.25})
    started = time.monotonic()
    with pytest.raises(ValidationFailed, match="stopped at its time budget") as caught:
        with gx.tenant(tenant) as ctx:
            run_scoring(ctx, ["clv"], as_of=as_of, on_progress=lambda step, done, total: heard.append(step))
    assert time.monotonic() - started < 5  # stopped near the budget, not at the end of the fit
    assert caught.value.errors[0].field == "settings.fit_time_budget_s"
    fitting = [step for step in heard if step.startswith("scoring clv: fitting BG_NBD")]
    assert fitting and "likelihood evaluations" in fitting[-1] and "of a 0.25 s budget" in fitting[-1]
    _unchanged(gx, tenant, run, scores)

    with gx.tenant(tenant) as ctx:  # the same fit with the default budget goes through
        configure(ctx.session, gx.plugins, ctx.tenant_id, "clv", {"fit_time_budget_s": 120})
    report = score(gx, tenant, as_of=as_of)
    assert report.details["fit_seconds"] > 0.25


@pytest.mark.anyio
async def test_the_refusal_reaches_graphql_and_the_model_stays(gx, kept_then_no_churn, api):
    tenant, run, scores = kept_then_no_churn
    analyst = api(tenant, "ANALYST")
    body = await analyst.gql(
        "mutation($at: DateTime) { runScoring(input: {modules: [\"clv\"], asOf: $at}) { job { id } errors { message } } }",
        {"at": NO_CHURN_AS_OF.isoformat()})
    assert body["data"]["runScoring"]["errors"] == []
    job = await analyst.wait_for_job(body["data"]["runScoring"]["job"]["id"])
    assert job["status"] == "FAILED"
    assert "fit refused: r =" in job["error"] and "previous run is kept" in job["error"]
    model = await analyst.gql("{ clvModel { parameters { name value stdError } fittedAt } }")
    shown = {p["name"]: p["value"] for p in model["data"]["clvModel"]["parameters"]}
    assert shown == {name: p["value"] for name, p in run.parameters.items()}
    _unchanged(gx, tenant, run, scores)


def test_a_degenerate_calibration_fit_leaves_the_validation_out_with_the_reason(monkeypatch):
    """The validation's own fit goes through the same checks: a run with a sound
    model and a degenerate calibration-period fit is stored without validation."""
    from dataclasses import replace

    from plugins.clv import service
    from plugins.clv.settings import ClvSettings

    real = service.calibration_holdout

    def degenerate(*args, **kwargs):
        report = real(*args, **kwargs)
        return replace(report, params={**report.params, "r": 5e6})

    monkeypatch.setattr(service, "calibration_holdout", degenerate)
    purchases = simulate(1000, seed=2, start=START)
    codes = sorted({code for code, _, _ in purchases})
    index = {code: i for i, code in enumerate(codes)}
    rows = sorted((index[code], int(when.timestamp()), amount) for code, when, amount in purchases)
    owner = np.array([r[0] for r in rows])
    offsets = np.searchsorted(owner, np.arange(len(codes) + 1))
    times = np.array([r[1] for r in rows])
    fit = service.fit_clv(offsets, times, np.array([r[2] for r in rows]), np.zeros(len(codes)),
                          int(START.timestamp()) + 365 * 86400, ClvSettings())
    assert fit.validation is None
    assert any("calibration-period fit was refused: BG_NBD fit refused: r = 5e+06" in w for w in fit.warnings)
