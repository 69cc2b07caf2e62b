"""The churn-risk score: the recency/frequency model against a plain-Python reference, its
behaviour, the CLV source, and the agents' work list through the API and the CLI."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

from sqlmodel import select

from api.ids import decode_id
from engine.cli_support import new_app
from plugins.lifecycle.cli_analytics import register
from plugins.lifecycle.risk import COARSE_DROPOUTS, fine_dropouts, risk_from_history, risk_scores
from tests.plugins.clv.test_clv_plugin import AS_OF as CLV_AS_OF, load, simulate

DAY = 86400
AS_OF = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp())


def histories(n, seed):
    """Customers buying at their own rates for a while, some long gone."""
    rng = np.random.default_rng(seed)
    per_customer = []
    for _ in range(n):
        rate = rng.gamma(1.0, 1 / 40)  # purchases per day
        start = AS_OF - int(rng.uniform(30, 700) * DAY)
        end = start + int(rng.exponential(300) * DAY)  # leaves then
        t, times = start, [start]
        while True:
            t += int(rng.exponential(1 / rate) * DAY)
            if t > min(end, AS_OF + 200 * DAY):
                break
            times.append(t)
        per_customer.append(times)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in per_customer])]).astype(np.int64)
    times = np.concatenate(per_customer).astype(np.int64)
    amounts = rng.integers(10, 300, times.size).astype(np.float64)
    return offsets, times, amounts


def reference(offsets, times, amounts, as_of, window, value_days):
    """The model's definition written out with the math module, customer by customer."""
    rows = []
    for i in range(len(offsets) - 1):
        ts = [int(t) for t in times[offsets[i]:offsets[i + 1]] if t <= as_of]
        spent = sum(float(a) for t, a in zip(times[offsets[i]:offsets[i + 1]], amounts[offsets[i]:offsets[i + 1]]) if t <= as_of)
        if ts:
            days = len({t // DAY for t in ts})
            rows.append((i, days - 1, (ts[-1] - ts[0]) / DAY, (as_of - ts[0]) / DAY, spent, days))
    mean_rate = max(sum(r[1] for r in rows) / max(sum(r[3] for r in rows), 1.0), 1e-6)
    rate = {r[0]: (r[1] + 1) / (r[3] + 1 / mean_rate) for r in rows}

    def log_likelihood(mu):
        total = 0.0
        for i, x, t_x, T, _, _ in rows:
            lam = rate[i]
            total += math.log(mu / (lam + mu) * math.exp(-(lam + mu) * t_x) + lam / (lam + mu) * math.exp(-(lam + mu) * T))
        return total

    # the same search: the best of the coarse grid, then of the fine steps around it
    coarse = COARSE_DROPOUTS.tolist()
    best = max(range(len(coarse)), key=lambda k: log_likelihood(coarse[k]))
    mu = max(fine_dropouts(best).tolist(), key=log_likelihood)
    risk, value = {}, {}
    for i, x, t_x, T, spent, days in rows:
        lam = rate[i]
        alive = 1 / (1 + mu / (lam + mu) * (math.exp((lam + mu) * (T - t_x)) - 1))
        risk[i] = 1 - alive * lam / (lam + mu) * (1 - math.exp(-(lam + mu) * window))
        value[i] = spent / days * lam / mu * (1 - math.exp(-mu * value_days))
    return mu, risk, value


def test_recency_frequency_model_matches_its_definition():
    offsets, times, amounts = histories(400, seed=5)
    model = risk_from_history(offsets, times, amounts, AS_OF, 90, 365)
    mu, risk, value = reference(offsets, times, amounts, AS_OF, 90, 365)
    assert model.dropout_per_day == mu and 1e-6 < mu < 1  # an interior maximum of the grid
    seen = np.flatnonzero(model.observed)
    assert seen.tolist() == sorted(risk)
    for i in seen:
        assert model.risk[i] == pytest.approx(risk[i], rel=1e-9, abs=1e-12)
        assert model.expected_value[i] == pytest.approx(value[i], rel=1e-9)


def test_the_same_silence_is_riskier_for_a_frequent_buyer():
    offsets, times, amounts = histories(300, seed=6)
    weekly = [AS_OF - 60 * DAY - k * 7 * DAY for k in range(40)][::-1]  # every week for 40 weeks, then 60 days silent
    yearly = [AS_OF - 60 * DAY - 300 * DAY, AS_OF - 60 * DAY]  # a 300-day gap, then the same 60 days
    new_times = np.concatenate([times, weekly, yearly]).astype(np.int64)
    new_offsets = np.concatenate([offsets, [offsets[-1] + 40, offsets[-1] + 42]]).astype(np.int64)
    model = risk_from_history(new_offsets, new_times, np.ones(new_times.size) * 50, AS_OF, 90, 365)
    n = offsets.size - 1
    # recency alone ranks them the same; a yearly buyer is unlikely to buy within 90 days anyway (about 0.74 here)
    assert model.risk[n] > 0.9 and model.risk[n + 1] < model.risk[n] - 0.15
    # a purchase yesterday makes the weekly buyer safe again
    fresh = new_times.copy()
    fresh[new_offsets[n + 1] - 1] = AS_OF - DAY
    model = risk_from_history(new_offsets, fresh, np.ones(fresh.size) * 50, AS_OF, 90, 365)
    assert model.risk[n] < 0.2


def test_clv_source_reads_the_stored_run(gx, make_tenant, tmp_path):
    from engine.scoring import run_scoring
    from plugins.clv.models import ClvScore

    slug = make_tenant(modules=("clv", "lifecycle"))
    load(gx, slug, tmp_path, simulate(300, seed=2))
    as_of = CLV_AS_OF
    with gx.tenant(slug) as ctx:
        without = risk_scores(ctx, as_of)  # clv enabled but not fitted yet
        assert without.source == "recency_frequency" and len(without) == 300
        run_scoring(ctx, ["clv"], as_of=as_of)
        scores = risk_scores(ctx, as_of)
        stored = {s.customer_id: s for s in ctx.session.exec(select(ClvScore).where(ClvScore.tenant_id == ctx.tenant_id))}
    assert scores.source == "clv" and scores.customer_ids.tolist() == sorted(stored)
    for cid, risk, value, at_risk in zip(scores.customer_ids.tolist(), scores.risk, scores.expected_value,
                                         scores.value_at_risk):
        s = stored[cid]
        assert risk == pytest.approx(math.exp(-s.expected_purchases_90))  # the default 90-day window
        if_alive = s.expected_purchases_365 / s.probability_alive  # the default 365-day value horizon
        assert value == pytest.approx(round(float(s.expected_spend) * if_alive, 2), abs=0.011)
        assert at_risk == pytest.approx(round(risk * value, 2), abs=0.011)


WORK_LIST = """query($first: Int!, $store: String, $minRisk: Float) {
  lifecycleWorkList(first: $first, store: $store, minRisk: $minRisk) { rank customerId stage risk valueAtRisk
    riskSource store customer { code } } }"""


def _staged_shop(gx, make_tenant):
    """Customers with histories ending at different times, staged by the core's run (which stores risk)."""
    from engine.services.customers import create_customer
    from engine.services.interactions import record_interactions
    from plugins.lifecycle.history import run_stages

    slug = make_tenant(modules=("lifecycle",))
    now = datetime.now(timezone.utc)
    rng = np.random.default_rng(9)
    with gx.tenant(slug, actor="test") as ctx:
        items = []
        for k in range(60):
            customer = create_customer(ctx, {"code": f"w{k}", "store": "S1" if k % 2 else "S2"})
            gap = int(rng.integers(5, 60))
            last = now - timedelta(days=int(rng.integers(1, 200)))
            for j in range(int(rng.integers(1, 8))):
                items.append({"customer_id": customer.id, "kind": "PURCHASE", "occurred_at": last - timedelta(days=j * gap),
                              "amount": str(int(rng.integers(20, 900))), "external_id": f"w{k}-{j}"})
        assert not record_interactions(ctx, items).errors
        run_stages(ctx, now)
    return slug


def test_work_list_ranks_by_value_at_risk(gx, make_tenant, graphql, database_url, monkeypatch):
    slug = _staged_shop(gx, make_tenant)
    body = graphql(slug, "AGENT").execute(WORK_LIST, {"first": 1000})
    assert "errors" not in body, body
    items = body["data"]["lifecycleWorkList"]
    assert items and [i["rank"] for i in items] == list(range(1, len(items) + 1))
    values = [float(i["valueAtRisk"]) for i in items]
    assert values == sorted(values, reverse=True)
    assert all(i["stage"] != "churned" and i["riskSource"] == "RECENCY_FREQUENCY" for i in items)
    assert all(0 <= i["risk"] <= 1 and i["customer"]["code"].startswith("w") for i in items)
    # the same order as the stored scores say, with the store filter applied
    from plugins.lifecycle.models import LifecycleCustomer

    with gx.tenant(slug, write=False) as ctx:
        rows = ctx.session.exec(select(LifecycleCustomer).where(LifecycleCustomer.tenant_id == ctx.tenant_id)).all()
    eligible = [r for r in rows if r.stage not in ("churned", "prospect") and r.risk is not None]
    assert len(items) == len(eligible)
    top = max(eligible, key=lambda r: (r.value_at_risk, r.risk, -r.customer_id))
    assert decode_id(items[0]["customerId"], "Customer") == top.customer_id
    assert float(items[0]["valueAtRisk"]) == float(top.value_at_risk)
    s1 = graphql(slug).execute(WORK_LIST, {"first": 5, "store": "S1", "minRisk": 0.5})["data"]["lifecycleWorkList"]
    assert len(s1) <= 5 and all(i["store"] == "S1" and i["risk"] >= 0.5 for i in s1)
    bad = graphql(slug).execute(WORK_LIST, {"first": 0})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID" and "first" in bad["errors"][0]["message"]
    # the CLI prints the same list
    monkeypatch.setenv("GUANXI_DATABASE_URL", database_url)
    app = new_app("lifecycle")
    register(app)
    result = CliRunner().invoke(app, ["worklist", "--tenant", slug, "--first", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert [i["value_at_risk"] for i in json.loads(result.stdout)] == values[:3]
    assert CliRunner().invoke(app, ["worklist", "--tenant", slug, "--stage", "sleeping"]).exit_code == 1
