"""Parallel numba kernels entered from several threads at once: the engine's
threading layer (engine/numba_threading.py) must be a thread-safe one, so that
two tenants scoring at once in one worker neither crash the process nor
change each other's results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numba
import numpy as np
import pytest
from sqlmodel import select

from engine import numba_threading
from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from plugins.clv.models import ClvRun, ClvScore
from plugins.rfm import kernels as rfm_kernels
from plugins.rfm.models import RfmScore
from plugins.rfm.settings import RfmSettings
from tests.concurrency import run_in_threads

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
AS_OF = START + timedelta(days=365)


# -- the configured layer ----------------------------------------------------------------


def test_the_layer_running_the_kernels_is_thread_safe():
    customers = rfm_kernels.PARALLEL_MIN_CUSTOMERS  # enough for the kernels to go parallel
    offsets = np.arange(customers + 1, dtype=np.int64)
    times = np.full(customers, 1_000, np.int64)
    rfm_kernels.score_rfm(offsets, times, np.ones(customers), np.zeros(customers), 2_000, RfmSettings())
    assert numba.threading_layer() in ("tbb", "omp")
    assert os.environ[numba_threading.ENV_VAR] == numba.config.THREADING_LAYER == numba_threading.LAYER


@pytest.mark.parametrize(("requested", "chosen"), [
    (None, numba_threading.DEFAULT), ("", numba_threading.DEFAULT), ("default", numba_threading.DEFAULT),
    ("omp", "omp"), ("TBB", "tbb"), ("threadsafe", "threadsafe"), ("safe", "safe"),
])
def test_an_operators_thread_safe_choice_is_kept(requested, chosen, recwarn):
    assert numba_threading.choose_layer(requested) == chosen
    assert not recwarn.list


@pytest.mark.parametrize("requested", ["workqueue", "forksafe", "tbbb"])
def test_a_layer_that_may_end_on_workqueue_is_replaced_with_a_warning(requested):
    with pytest.warns(RuntimeWarning, match="workqueue"):
        assert numba_threading.choose_layer(requested) == numba_threading.DEFAULT


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the tbb wheel exists for x86-64 only")
def test_the_tbb_wheel_is_installed_and_loads():
    assert numba_threading.load_pip_tbb()


# -- the process survives concurrent kernels ---------------------------------------------

# Four threads each score a batch big enough to run in parallel, 20 times, and
# check every result against the first. Run in a child process: on the
# workqueue layer the process aborts.
SCRIPT = r"""
import json, sys, threading
if sys.argv[1] == "no-openmp":
    sys.modules["numba.np.ufunc.omppool"] = None  # as on a machine without an OpenMP runtime
import numba
import numpy as np
from plugins.rfm.kernels import PARALLEL_MIN_CUSTOMERS, score_rfm
from plugins.rfm.settings import RfmSettings

rng = np.random.default_rng(1)
n = 2 * PARALLEL_MIN_CUSTOMERS
counts = rng.integers(0, 6, n)
offsets = np.zeros(n + 1, np.int64)
np.cumsum(counts, out=offsets[1:])
times = np.concatenate([np.sort(rng.integers(0, 10_000_000, c)) for c in counts]).astype(np.int64)
amounts = rng.integers(1, 500, times.size).astype(np.float64)
refunds = np.zeros(n)
settings = RfmSettings()
expected = score_rfm(offsets, times, amounts, refunds, 10_000_000, settings)
different = []

def work():
    for _ in range(20):
        got = score_rfm(offsets, times, amounts, refunds, 10_000_000, settings)
        if not (np.array_equal(got.segment, expected.segment) and np.array_equal(got.monetary, expected.monetary)):
            different.append(1)

threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"layer": numba.threading_layer(), "different": len(different)}))
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the tbb wheel exists for x86-64 only")
@pytest.mark.parametrize(("machine", "requested"), [
    ("no-openmp", None),  # numba alone takes workqueue there, and aborts
    ("no-openmp", "workqueue"),  # an operator's setting that would abort: replaced
    ("as-is", None),
])
def test_the_process_survives_threads_running_parallel_kernels_at_once(machine, requested):
    env = {k: v for k, v in os.environ.items() if k != numba_threading.ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if requested:
        env[numba_threading.ENV_VAR] = requested
    done = subprocess.run([sys.executable, "-c", SCRIPT, machine], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)  # a hang must not stall the suite; nothing is timed
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"layer": "tbb", "different": 0}
    assert ("Guanxi uses" in done.stderr) == (requested == "workqueue")


# -- two tenants scoring at once in one process ------------------------------------------


def _shop(gx, slug: str, seed: int, customers: int = 150) -> None:
    """A year of BG/NBD buying (about 18 purchases a year while active, a 1 in
    4 chance of dropping out after each), so that CLV's fit is identified."""
    rng = np.random.default_rng(seed)
    with gx.tenant(slug) as ctx:
        items = []
        for i in range(customers):
            customer_id = create_customer(ctx, {"code": f"c{i}"}).id
            rate, dropout = rng.gamma(2.0, 1 / 40), rng.beta(1.0, 3.0)
            day = rng.uniform(0, 90)
            days = [day]
            while (day := day + rng.exponential(1 / rate)) < 365:
                days.append(day)
                if rng.random() < dropout:
                    break
            items += [{"customer_id": customer_id, "kind": "PURCHASE", "occurred_at": START + timedelta(days=float(d)),
                       "amount": f"{rng.gamma(4.0, 12.0) + 1:.2f}"} for d in days]
        record_interactions(ctx, items)


def _score(gx, slug: str) -> None:
    with gx.tenant(slug, actor="test") as ctx:
        reports = run_scoring(ctx, ["rfm", "clv"], as_of=AS_OF)
    assert [r.module for r in reports] == ["rfm", "clv"]


def _results(gx, slug: str) -> dict:
    """The stored scores, without run ids and times."""
    with gx.tenant(slug, write=False) as ctx:
        rfm = ctx.session.exec(select(RfmScore).where(RfmScore.tenant_id == ctx.tenant_id)).all()
        clv = ctx.session.exec(select(ClvScore).where(ClvScore.tenant_id == ctx.tenant_id)).all()
        [run] = ctx.session.exec(select(ClvRun).where(ClvRun.tenant_id == ctx.tenant_id)).all()
    drop = {"run_id", "computed_at", "tenant_id"}

    def row(score) -> dict:
        return {k: float(v) if isinstance(v, Decimal) else v for k, v in score.model_dump(exclude=drop).items()}

    return {
        "rfm": {r.customer_id: row(r) for r in rfm},
        "clv": {r.customer_id: row(r) for r in clv},
        "parameters": {name: p["value"] for name, p in run.parameters.items()},
    }


def _same(got: dict, want: dict) -> None:
    assert got["rfm"] == want["rfm"]
    assert got["clv"].keys() == want["clv"].keys()
    for customer_id, row in want["clv"].items():
        # Floats may differ in the last bits: a parallel sum's order follows the threads.
        assert got["clv"][customer_id] == pytest.approx(row, rel=1e-9), customer_id
    assert got["parameters"] == pytest.approx(want["parameters"], rel=1e-9)


def test_two_tenants_scoring_at_once_get_the_results_of_sequential_runs(gx, make_tenant):
    tenants = [make_tenant(modules=("rfm", "clv")) for _ in range(2)]
    for seed, slug in enumerate(tenants):
        _shop(gx, slug, seed)
    for slug in tenants:
        _score(gx, slug)
    sequential = [_results(gx, slug) for slug in tenants]
    assert all(len(r["rfm"]) == len(r["clv"]) == 150 for r in sequential)

    errors = run_in_threads(lambda n: _score(gx, tenants[n]), 2)
    assert errors == []
    for slug, want in zip(tenants, sequential):
        _same(_results(gx, slug), want)
