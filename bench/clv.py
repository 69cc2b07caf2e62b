"""CLV (BG/NBD) fitting and prediction: Guanxi's numba kernels against ``lifetimes`` 0.11.3.

Run with ``.venv/bin/python -m bench.clv`` (about 2-4 minutes on 2 cores);
prints one JSON line. ``--customers`` shrinks it for a smoke run;
``--skip-compile`` leaves out the cold-compile measurement (about 30 s).

Data: customers are simulated from the BG/NBD process exactly, in
continuous time (lambda ~ Gamma(r, alpha), p ~ Beta(a, b), exponential
inter-purchase times, dropout after each repeat purchase with probability
p), born uniformly over the first 12 weeks and observed until week 52.
The purchases become the engine's columnar batch (epoch seconds) and are
summarised with ``plugins.clv.summary`` in weeks with purchases merged by
day, the CDNOW convention.

Fit comparison, same data in the same run: both ``BetaGeoFitter.fit``s get
the same collapsed unique (frequency, recency, T) rows with their counts as
``weights`` (lifetimes' API accepts them); that is the headline speedup,
the best of 3 fits for each library.
Also reported: Guanxi's fit from the raw per-customer arrays (it validates
and collapses them itself), and lifetimes on the raw 100k customers without
weights, which is what its default call costs. Both fits run with BLAS
limited to one thread (see ``fitters.one_blas_thread``).

Predictions (``predict_s_1m``): probability alive, expected purchases over
the next 13 weeks and 12-month CLV, per customer for all of them, the way
the scoring service computes them (one collapse to distinct rows, predictions
per row, expanded back to customers).
Compilation (``compile_s``) is measured in a child process against an empty
numba cache directory; ``cached_load_s`` is a second child loading that cache.

Local days (``engine_100k.read_days_vs_anchor``): the batch read with each
purchase's stored local day (a fourth column, what CLV groups days by) against
the same read without it (the anchor, the read before local days), five
rounds interleaved in one run; the median of the per-round ratios and their
range.

The old offset (``dst_offset_error``): CDNOW with its dates as local
midnights, weekly BG/NBD, summarised with each purchase's local day (as the
engine does now) and with the as-of date's UTC offset applied to the whole
history (as it did before): how many customers' summaries differ, the
parameters' relative differences and the largest difference in probability
alive.

No churn (``no_churn_20k``, ``--no-churn-customers``, 0 to skip): the issue's
tenant where nobody stops buying (everyone a Poisson buyer at one rate, mean
gap 30 days, two years), summarised and fitted the way a run does
(``fit_clv``), per model: how long until the fit is refused, and why.

End to end (``engine_100k``, ``--engine-customers``, 0 to skip): the
100k-customer simulation loaded into a tenant of a fresh SQLite database
(``GUANXI_BENCH_DATABASE_URL`` for another one, e.g. PostgreSQL), then
``guanxi score --tenant T --module clv`` run as a command in a child process
(``cli_s``: wall clock including interpreter start and imports) and
in-process after one untimed warm-up run, timed by phase: read the batch,
fit + predict + validate, and (the rest of the whole run) write and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from plugins.clv import kernels
from plugins.clv.fitters import (
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
    one_blas_thread,
)
from plugins.clv.summary import collapse, summarise

DAY = 86400
WEEK = 7 * DAY
START = 1_704_067_200  # 2024-01-01T00:00:00Z
TRUE_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW's BG/NBD, in weeks
BIRTH_WEEKS = 12
OBSERVED_WEEKS = 52
CDNOW = Path(__file__).resolve().parents[1] / "tests" / "data" / "cdnow"


def simulate_bgnbd(n: int, seed: int = 2024):
    """Columnar purchases (offsets, epoch seconds, amounts) of n BG/NBD customers."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE_PARAMS["r"], 1.0 / TRUE_PARAMS["alpha"], n)  # purchases per week
    p = rng.beta(TRUE_PARAMS["a"], TRUE_PARAMS["b"], n)
    birth = rng.uniform(0.0, BIRTH_WEEKS, n)
    horizon = OBSERVED_WEEKS - birth  # weeks each customer is watched after the first purchase
    owners = [np.arange(n)]
    weeks = [birth]
    active = np.arange(n)
    elapsed = np.zeros(n)
    while active.size:
        elapsed[active] += rng.exponential(1.0, active.size) / lam[active]
        bought = elapsed[active] <= horizon[active]
        active = active[bought]
        owners.append(active)
        weeks.append(birth[active] + elapsed[active])
        active = active[rng.random(active.size) >= p[active]]  # survives this purchase
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")  # per customer, purchases were appended in time order
    times = START + np.floor(np.concatenate(weeks)[order] * WEEK).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))]).astype(np.int64)
    amounts = rng.gamma(4.0, 8.0, times.size)
    return offsets, times, amounts


def summary_of(n: int):
    offsets, times, amounts = simulate_bgnbd(n)
    as_of = START + OBSERVED_WEEKS * WEEK
    t0 = time.perf_counter()
    s = summarise(offsets, times, amounts, as_of, unit="week", period="day")
    seconds = time.perf_counter() - t0
    return s, times.size, seconds


FIT_REPEATS = 3  # both libraries' fits: best of 3

def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def best_of(repeats: int, fn):
    """The result and the fastest of ``repeats`` runs (timer noise on a shared machine)."""
    runs = [timed(fn) for _ in range(repeats)]
    return runs[0][0], min(seconds for _, seconds in runs)


def compare_fit(s, raw_lifetimes: bool) -> dict:
    x = s.frequency.astype(np.float64)
    t_x, T = s.recency, s.T
    rows = collapse(x, t_x, T)
    # the headline: both libraries get the same collapsed rows and weights
    ours, ours_s = best_of(FIT_REPEATS, lambda: BetaGeoFitter().fit(rows.frequency, rows.recency, rows.T, weights=rows.weights))
    from_raw, from_raw_s = timed(lambda: BetaGeoFitter().fit(x, t_x, T))
    out = {
        "customers": int(x.size),
        "unique_rows": int(rows.weights.size),
        "guanxi_fit_s": round(ours_s, 4),
        "guanxi_fit_from_raw_s": round(from_raw_s, 4),  # validates and collapses 1 row per customer itself
        "guanxi_params": ours.params_,
        "guanxi_raw_vs_collapsed_max_rel_diff": max(
            abs(from_raw.params_[k] - ours.params_[k]) / ours.params_[k] for k in ours.params_
        ),
    }
    try:
        import warnings

        from lifetimes import BetaGeoFitter as LifetimesBG
    except Exception as exc:  # reported, not hidden
        out["lifetimes_error"] = f"{type(exc).__name__}: {exc}"
        return out
    # lifetimes runs under the same one-thread BLAS limit Guanxi's fit uses, so the
    # comparison is of the fitting code, not of OpenBLAS thread contention
    one_blas_thread()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, theirs_s = best_of(FIT_REPEATS, lambda: LifetimesBG().fit(rows.frequency, rows.recency, rows.T, weights=rows.weights))
        params = {k: float(v) for k, v in theirs.params_.items()}
        out["lifetimes_fit_weighted_s"] = round(theirs_s, 4)
        out["lifetimes_params"] = params
        out["max_rel_param_diff"] = max(abs(ours.params_[k] - params[k]) / abs(params[k]) for k in params)
        out["speedup"] = theirs_s / ours_s
        if raw_lifetimes:
            raw, raw_s = timed(lambda: LifetimesBG().fit(x, t_x, T))
            out["lifetimes_fit_unweighted_s"] = round(raw_s, 4)
            out["speedup_vs_unweighted"] = raw_s / ours_s
            out["max_rel_param_diff_unweighted"] = max(
                abs(ours.params_[k] - float(raw.params_[k])) / abs(float(raw.params_[k])) for k in params
            )
    return out


def predict_all(s, fitter: BetaGeoFitter) -> float:
    x = s.frequency.astype(np.float64)
    spend = np.where(x > 0, s.monetary_value, 30.0)
    t0 = time.perf_counter()
    # As plugins/clv/service.py scores a tenant: collapse once, predict per distinct row, expand.
    rows = collapse(x, s.recency, s.T)
    f, r, t, inv = rows.frequency, rows.recency, rows.T, rows.inverse
    alive = fitter.conditional_probability_alive(f, r, t)[inv]
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(13.0, f, r, t)[inv]
    value = fitter.customer_lifetime_value(f, r, t, np.ones(f.size), time=12, discount_rate=0.01, unit="week")[inv] * spend
    seconds = time.perf_counter() - t0
    assert alive.size == expected.size == value.size == x.size and np.all(np.isfinite(value))
    return seconds


def cdnow_fit_seconds() -> dict:
    rows = np.loadtxt(CDNOW / "cdnow_customers_summary.csv", delimiter=",", skiprows=1)
    spend = np.loadtxt(CDNOW / "cdnow_customers_summary_with_transactions.csv", delimiter=",", skiprows=1)
    x, t_x, T = rows[:, 1], rows[:, 2], rows[:, 3]
    out = {}
    for name, fit in (
        ("bgnbd", lambda: BetaGeoFitter().fit(x, t_x, T)),
        ("mbgnbd", lambda: ModifiedBetaGeoFitter().fit(x, t_x, T)),
        ("paretonbd", lambda: ParetoNBDFitter().fit(x, t_x, T)),
        ("gammagamma", lambda: GammaGammaFitter().fit(spend[:, 1], spend[:, 4])),
    ):
        fit()  # first call pays for numba dispatch of these array types
        out[name] = round(min(timed(fit)[1] for _ in range(3)), 4)
    return out


def child_warm_up_seconds(cache_dir: str) -> float:
    code = "import time; t=time.perf_counter(); from plugins.clv import kernels; kernels.warm_up(); print(time.perf_counter()-t)"
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def engine_end_to_end(n: int) -> dict:
    """Load n simulated customers into a tenant and time ``guanxi score --module clv``."""
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from engine.bulk import insert_rows
    from engine.config import Settings
    from engine.db import make_engine
    from engine.models import Customer, Interaction
    from engine.plugins.manager import get_plugin_manager
    from engine.runtime import Guanxi
    from engine.scoring import load_purchase_batch, run_scoring
    from engine.services.modules import configure, set_enabled
    from engine.services.tenants import create_tenant
    from plugins.clv.service import LocalCalendar, fit_clv, refunds_up_to

    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("GUANXI_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench-clv.db"
        settings = Settings(database_url=url)
        gx = Guanxi(settings=settings, plugins=get_plugin_manager(), engine=make_engine(settings))
        gx.upgrade()
        slug = f"bench-clv-{os.getpid()}-{int(time.time())}"
        offsets, times, amounts = simulate_bgnbd(n, seed=7)
        t0 = time.perf_counter()
        with gx.system() as session:
            tenant = create_tenant(session, slug, "CLV bench", "CNY", "UTC", "en", actor="bench")
            set_enabled(session, gx.plugins, tenant.id, "clv", True, actor="bench")
            tenant_id = tenant.id
            configure(session, gx.plugins, tenant_id, "clv", {"unit": "WEEK"})
            now = datetime.now(timezone.utc)
            ids = insert_rows(session, Customer.__table__, [
                {"tenant_id": tenant_id, "code": f"B{i}", "tags": [], "attributes": {}, "consent": {},
                 "created_at": now, "updated_at": now} for i in range(n)])
            owner = np.repeat(np.asarray(ids), np.diff(offsets))
            rows = [
                {"tenant_id": tenant_id, "customer_id": c, "kind": "PURCHASE",
                 "occurred_at": datetime.fromtimestamp(t, timezone.utc), "local_day": t // DAY,
                 "amount": round(a, 2), "payload": {}, "recorded_at": now}
                for c, t, a in zip(owner.tolist(), times.tolist(), amounts.tolist())
            ]
            for start in range(0, len(rows), 50_000):
                session.execute(sa.insert(Interaction.__table__), rows[start:start + 50_000])
        load_s = time.perf_counter() - t0
        as_of = datetime.fromtimestamp(START + OBSERVED_WEEKS * WEEK, timezone.utc)

        # a first, untimed run: loads the numba cache for these signatures and fills the
        # tables, so the timed runs below replace a previous run as production does
        with gx.tenant(slug) as ctx:
            run_scoring(ctx, ["clv"], as_of=as_of)
        # in-process, by phase (one transaction, as run_scoring does)
        with gx.tenant(slug) as ctx:
            t0 = time.perf_counter()
            batch = load_purchase_batch(ctx.session, tenant_id, as_of, ["clv"])
            batch.arrays  # the batch reads lazily: this is the read
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            fit_clv(batch.offsets, batch.times, batch.amounts, refunds_up_to(batch, batch.as_of_epoch),
                    batch.as_of_epoch, ctx.module_settings("clv"), LocalCalendar(batch.local_days))
            fit_s = time.perf_counter() - t0
        with gx.tenant(slug, write=False) as ctx:
            read_days = read_with_days_against_anchor(ctx.session, tenant_id, as_of)
        t0 = time.perf_counter()
        with gx.tenant(slug) as ctx:
            [report] = run_scoring(ctx, ["clv"], as_of=as_of)
        total_s = time.perf_counter() - t0

        env = dict(os.environ, GUANXI_DATABASE_URL=url)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "engine.cli", "score", "--tenant", slug, "--module", "clv"],
                              env=env, capture_output=True, text=True)
        cli_s = time.perf_counter() - t0
        out = {
            "customers": n, "purchases": int(times.size), "database": url.split(":", 1)[0],
            "load_s": round(load_s, 2), "read_s": round(read_s, 3),
            "fit_predict_validate_s": round(fit_s, 3),
            "score_total_s": round(total_s, 3),  # read + fit + write + commit
            "write_commit_s": round(total_s - read_s - fit_s, 3),
            "cli_s": round(cli_s, 2), "cli_ok": done.returncode == 0,
            "scored": report.scored, "params": report.details["parameters"],
            "read_days_vs_anchor": read_days,
        }
        if done.returncode != 0:
            out["cli_error"] = (done.stderr or done.stdout)[-500:]
        return out


def read_with_days_against_anchor(session, tenant_id: int, as_of, rounds: int = 5) -> dict:
    """The purchases read with local days (4 columns) against without (3), interleaved."""
    from engine.scoring import _fetch

    with_days, anchor = [], []
    for _ in range(rounds):
        anchor.append(timed(lambda: _fetch(session, "PURCHASE", tenant_id, as_of))[1])
        with_days.append(timed(lambda: _fetch(session, "PURCHASE", tenant_id, as_of, with_days=True))[1])
    ratios = sorted(w / a for w, a in zip(with_days, anchor))
    return {"rounds": rounds, "with_days_median_s": round(float(np.median(with_days)), 3),
            "anchor_median_s": round(float(np.median(anchor)), 3),
            "ratio_median": round(float(np.median(ratios)), 3),
            "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)]}


def dst_offset_error() -> dict:
    """CDNOW in DST zones: local days against the as-of date's offset for the whole history."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    raw = np.loadtxt(CDNOW / "CDNOW_sample.txt", dtype=str)
    ids, dates, amounts = raw[:, 1].astype(int), raw[:, 2], raw[:, 4].astype(float)
    out = {}
    for zone_name, as_of_day in (("Australia/Sydney", (1997, 9, 30)), ("America/New_York", (1998, 1, 1))):
        zone = ZoneInfo(zone_name)
        local = [datetime(int(d[:4]), int(d[4:6]), int(d[6:]), tzinfo=zone) for d in dates]
        utc = np.array([int(t.timestamp()) for t in local])
        days = np.array([t.date().toordinal() - 719163 for t in local])  # 719163: 1970-01-01
        order = np.lexsort((utc, ids))
        _, counts = np.unique(ids[order], return_counts=True)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        end = datetime(*as_of_day, tzinfo=zone)
        as_of, offset = int(end.timestamp()), int(end.utcoffset().total_seconds())
        times, spend = utc[order], amounts[order]
        new = summarise(offsets, times, spend, as_of, unit="week", period="day", local_days=days[order],
                        as_of_local=as_of + offset)
        old = summarise(offsets, times, spend, as_of, unit="week", period="day",
                        local_days=(times + offset) // DAY, as_of_local=as_of + offset)
        rfm_new, rfm_old = (new.frequency, new.recency, new.T), (old.frequency, old.recency, old.T)
        fit_new, fit_old = BetaGeoFitter().fit(*rfm_new), BetaGeoFitter().fit(*rfm_old)
        alive_new = fit_new.conditional_probability_alive(*rfm_new)
        alive_old = fit_old.conditional_probability_alive(*rfm_old)
        out[f"{zone_name} {end.date()}"] = {
            "customers_wrong": int(np.sum((new.recency != old.recency) | (new.T != old.T)
                                          | (new.frequency != old.frequency))),
            "customers": int(new.observed.sum()),
            "param_rel_diff_pct": {k: round(100 * abs(fit_old.params_[k] / v - 1), 2) for k, v in fit_new.params_.items()},
            "p_alive_max_rel_diff_pct": round(float(100 * np.max(np.abs(alive_old / alive_new - 1))), 1),
            "p_alive_max_abs_diff": round(float(np.max(np.abs(alive_old - alive_new))), 4),
        }
    return out


def no_churn_arrays(n: int, seed: int = 2, days: int = 730, mean_gap: float = 30.0):
    """Columnar purchases of n customers who never stop buying (Poisson, one rate)."""
    rng = np.random.default_rng(seed)
    per_customer = []
    for _ in range(n):
        t = rng.uniform(0, 100)
        seq = []
        while t < days:
            seq.append(t)
            t += rng.exponential(mean_gap)
        per_customer.append(seq)
    times = START + np.floor(np.concatenate([np.asarray(c) for c in per_customer]) * DAY).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in per_customer])]).astype(np.int64)
    return offsets, times, np.full(times.size, 25.0), START + days * DAY


def no_churn_refusals(n: int) -> dict:
    """Time until each model's fit on the no-churn tenant is refused, and the reason."""
    from engine.errors import ValidationFailed
    from plugins.clv.service import fit_clv
    from plugins.clv.settings import ClvSettings

    offsets, times, amounts, as_of = no_churn_arrays(n)
    out = {"customers": n, "purchases": int(times.size)}
    for model in ("BG_NBD", "MBG_NBD", "PARETO_NBD"):
        t0 = time.perf_counter()
        try:
            fit = fit_clv(offsets, times, amounts, np.zeros(n), as_of, ClvSettings(model=model))
            outcome = f"stored: {fit.parameters()}"
        except ValidationFailed as error:
            outcome = f"refused: {error.errors[0]}"
        out[model] = {"seconds": round(time.perf_counter() - t0, 2), "outcome": outcome[:160]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--engine-customers", type=int, default=100_000,
                        help="customers of the end-to-end `guanxi score --module clv` run; 0 skips it")
    parser.add_argument("--no-churn-customers", type=int, default=20_000,
                        help="customers of the no-churn tenant whose fits must be refused; 0 skips it")
    args = parser.parse_args()

    result: dict = {"bench": "clv", "threads": int(numba.get_num_threads())}
    if not args.skip_compile:
        with tempfile.TemporaryDirectory() as cache:
            result["compile_s"] = round(child_warm_up_seconds(cache), 2)
            result["cached_load_s"] = round(child_warm_up_seconds(cache), 2)
    kernels.warm_up()
    result["threading_layer"] = numba.threading_layer()

    big, n_purchases, summary_s = summary_of(args.customers)
    result["purchases_1m"] = int(n_purchases)
    result["summarise_s_1m"] = round(summary_s, 4)
    small_n = max(args.customers // 10, 1000)
    small, _, _ = summary_of(small_n)
    compare_fit(small, raw_lifetimes=False)  # warm both libraries up on this data's dtypes

    fit_1m = compare_fit(big, raw_lifetimes=False)
    fit_100k = compare_fit(small, raw_lifetimes=True)
    result["fit_1m"] = fit_1m
    result["fit_100k"] = fit_100k
    result["fit_speedup_vs_lifetimes_1m"] = round(fit_1m.get("speedup", float("nan")), 2) if "speedup" in fit_1m else None
    result["max_rel_param_diff_1m"] = fit_1m.get("max_rel_param_diff")
    result["fit_speedup_vs_lifetimes_100k"] = round(fit_100k["speedup"], 2) if "speedup" in fit_100k else None
    result["max_rel_param_diff_100k"] = fit_100k.get("max_rel_param_diff")
    result["lifetimes_given"] = (
        "both fits get the same collapsed unique rows + weights; lifetimes also gets the raw 100k rows unweighted"
    )

    fitter = BetaGeoFitter.from_params(fit_1m["guanxi_params"])
    predict_all(small, fitter)  # warm
    result["predict_s_1m"] = round(predict_all(big, fitter), 4)
    result["cdnow_fit_s"] = cdnow_fit_seconds()
    result["dst_offset_error"] = dst_offset_error()
    if args.no_churn_customers:
        result["no_churn_20k"] = no_churn_refusals(args.no_churn_customers)
    if args.engine_customers:
        result["engine_100k"] = engine_end_to_end(args.engine_customers)
        result["score_clv_s_100k"] = result["engine_100k"]["score_total_s"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
