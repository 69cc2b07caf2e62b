"""The rfm module end to end: engine batch → kernels → stored scores, per tenant."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import select

from engine.errors import ValidationFailed
from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from plugins.rfm.models import RfmRun, RfmScore

AS_OF = datetime(2026, 6, 30, tzinfo=timezone.utc)
DAY = 86400


def _history(gx, tenant):
    """Four buyers with hand-checkable R/F/M, one customer who never bought."""
    spec = {  # name: [(days before as_of, amount)]
        "often-recent": [(1, 100), (10, 100), (20, 100), (30, 100)],
        "once-recent": [(2, 500)],
        "often-old": [(300, 50), (310, 50), (320, 50)],
        "once-old": [(400, 20)],
    }
    ids = {}
    with gx.tenant(tenant) as ctx:
        items = []
        for name, purchases in spec.items():
            cid = create_customer(ctx, {"name": name}).id
            ids[name] = cid
            for n, (days, amount) in enumerate(purchases):
                items.append({"customer_id": cid, "kind": "PURCHASE", "occurred_at": AS_OF - timedelta(days=days),
                              "amount": str(amount), "external_id": f"{name}-{n}"})
        items.append({"kind": "REFUND", "occurred_at": AS_OF - timedelta(days=1), "amount": "300",
                      "reverses_external_id": "once-recent-0"})
        ids["never"] = create_customer(ctx, {"name": "never"}).id
        record_interactions(ctx, items)
    return ids


def _scores(gx, tenant):
    with gx.tenant(tenant, write=False) as ctx:
        rows = ctx.session.exec(select(RfmScore).where(RfmScore.tenant_id == ctx.tenant_id)).all()
    return {row.customer_id: row for row in rows}


def test_scoring_stores_one_row_per_buyer_and_none_for_non_buyers(gx, make_tenant):
    tenant = make_tenant(modules=("rfm",))
    ids = _history(gx, tenant)
    with gx.tenant(tenant) as ctx:
        [report] = run_scoring(ctx, ["rfm"], as_of=AS_OF)
    assert (report.scored, report.unscored) == (4, 1)
    scores = _scores(gx, tenant)
    assert ids["never"] not in scores
    best = scores[ids["often-recent"]]
    assert (best.recency_days, best.frequency, float(best.monetary)) == (1.0, 4, 400.0)
    # 1 + floor(5 * 3 / 4): three of four customers are worse on R and on F.
    assert (best.r_score, best.f_score) == (4, 4) and best.segment == "LOYAL"
    assert float(scores[ids["once-recent"]].monetary) == 200.0  # net of the refund
    assert scores[ids["once-old"]].segment == "HIBERNATING"


def test_a_new_run_replaces_the_previous_one_and_follows_the_scheme(gx, make_tenant):
    tenant = make_tenant(modules=("rfm",))
    ids = _history(gx, tenant)
    with gx.tenant(tenant) as ctx:
        run_scoring(ctx, ["rfm"], as_of=AS_OF)
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", {"scheme": "RFM_MEAN_8", "window_days": 365})
        ctx.forget_modules()
        [report] = run_scoring(ctx, ["rfm"], as_of=AS_OF)
    assert report.scored == 3  # "once-old" is outside the 365-day window
    scores = _scores(gx, tenant)
    assert set(scores) == {ids["often-recent"], ids["once-recent"], ids["often-old"]}
    assert scores[ids["often-recent"]].segment == "IMPORTANT_VALUE"
    with gx.system(write=False) as session:
        runs = session.exec(select(RfmRun).where(RfmRun.tenant_id == scores[ids["often-recent"]].tenant_id)).all()
    assert len(runs) == 1


@pytest.mark.parametrize("settings, field", [
    ({"scheme": "ZODIAC"}, "settings.scheme"), ({"k": 11}, "settings.k"), ({"window_days": 0}, "settings.window_days"),
    ({"thresholds": {"frequency": [5, 3, 8, 9]}}, "settings.thresholds.frequency"),
])
def test_bad_settings_name_the_setting_and_keep_the_old_ones(gx, make_tenant, settings, field):
    tenant = make_tenant(modules=("rfm",))
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", {"k": 4})
    with pytest.raises(ValidationFailed) as caught:
        with gx.tenant(tenant) as ctx:
            configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", settings)
    assert any(e.field.startswith(field) for e in caught.value.errors), caught.value.errors
    with gx.tenant(tenant, write=False) as ctx:
        assert ctx.module_settings("rfm").k == 4


def test_an_as_of_before_any_data_is_refused_and_stored_scores_stay(gx, make_tenant):
    tenant = make_tenant(modules=("rfm",))
    _history(gx, tenant)
    with gx.tenant(tenant) as ctx:
        run_scoring(ctx, ["rfm"], as_of=AS_OF)
    before = {k: (v.segment, v.r_score) for k, v in _scores(gx, tenant).items()}
    with pytest.raises(ValidationFailed, match="as_of"):
        with gx.tenant(tenant) as ctx:
            run_scoring(ctx, ["rfm"], as_of=AS_OF - timedelta(days=1000))
    assert {k: (v.segment, v.r_score) for k, v in _scores(gx, tenant).items()} == before


def test_scoring_a_module_the_tenant_has_not_enabled_is_refused(gx, tenant):
    with pytest.raises(ValidationFailed, match="not enabled"):
        with gx.tenant(tenant) as ctx:
            run_scoring(ctx, ["rfm"])


def test_the_segment_summary_adds_up_to_the_tenants_customers_and_revenue(gx, make_tenant):
    from plugins.rfm.summary import rfm_overview

    tenant = make_tenant(modules=("rfm",))
    _history(gx, tenant)
    with gx.tenant(tenant) as ctx:
        run_scoring(ctx, ["rfm"], as_of=AS_OF)
    with gx.tenant(tenant, write=False) as ctx:
        overview = rfm_overview(ctx)
    assert (overview.scheme, overview.scored, overview.unscored) == ("RF_GRID_10", 4, 1)
    assert len(overview.segments) == 10  # every segment of the scheme, empty ones too
    assert sum(s.customers for s in overview.segments) == 4
    assert abs(sum(s.share_of_customers for s in overview.segments) - 0.8) < 1e-9  # one customer never bought
    assert abs(sum(s.share_of_revenue for s in overview.segments) - 1.0) < 1e-9
    assert sum(s.revenue for s in overview.segments) == 400 + 200 + 150 + 20
    loyal = next(s for s in overview.segments if s.segment.code == "LOYAL")
    assert (loyal.customers, loyal.avg_frequency, loyal.segment.action_zh != "") == (1, 4.0, True)


def test_periodic_rescoring_runs_only_when_the_tenant_asked_for_it(gx, make_tenant):
    from engine.jobs import run_jobs

    tenant = make_tenant(modules=("rfm",))
    _history(gx, tenant)
    assert "off" in run_jobs(gx, tenant, ["rfm.rescore"])["rfm.rescore"]
    assert _scores(gx, tenant) == {}
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", {"schedule_minutes": 30})
    assert run_jobs(gx, tenant, ["rfm.rescore"]) == {"rfm.rescore": "4 customers scored"}
    assert len(_scores(gx, tenant)) == 4


def test_periodic_rescoring_waits_for_the_tenants_interval(gx, make_tenant):
    from engine.jobs import run_jobs

    tenant = make_tenant(modules=("rfm",))
    _history(gx, tenant)
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", {"schedule_minutes": 1440})
    assert run_jobs(gx, tenant, ["rfm.rescore"]) == {"rfm.rescore": "4 customers scored"}

    def last_run():
        with gx.tenant(tenant, write=False) as ctx:
            return ctx.session.exec(select(RfmRun).where(RfmRun.tenant_id == ctx.tenant_id)).one()

    first = last_run()
    assert run_jobs(gx, tenant, ["rfm.rescore"])["rfm.rescore"].startswith("not due")
    assert (last_run().id, last_run().computed_at) == (first.id, first.computed_at)

    with gx.tenant(tenant) as ctx:  # a day later
        run = ctx.session.get(RfmRun, first.id)
        run.computed_at = first.computed_at - timedelta(minutes=1441)
        ctx.session.add(run)
    assert run_jobs(gx, tenant, ["rfm.rescore"]) == {"rfm.rescore": "4 customers scored"}
    assert last_run().computed_at > first.computed_at  # a new run


def test_a_periodic_run_with_nothing_to_score_reports_why_instead_of_failing(gx, make_tenant):
    from engine.jobs import run_jobs

    tenant = make_tenant(modules=("rfm",))
    with gx.tenant(tenant) as ctx:
        create_customer(ctx, {"name": "never bought"})
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", {"schedule_minutes": 30})
    [result] = run_jobs(gx, tenant, ["rfm.rescore"]).values()
    assert result.startswith("refused, previous run kept: ") and "no purchases" in result
    assert _scores(gx, tenant) == {}


# --- the whole path (database totals, scores, stored rows) against the reference


def _random_history(gx, tenant, seed):
    """Customers with purchases at random times (some after as_of, some a
    fraction of a second either side of the window's edges) and refunds of
    some of them, later, sometimes outside the window. Returns per customer
    id the (time, amount, refund times and amounts) recorded."""
    rng = random.Random(seed)
    with gx.tenant(tenant) as ctx:
        ids = [create_customer(ctx, {"name": f"c{i}"}).id for i in range(rng.randint(1, 30))]
        items, history = [], {cid: [] for cid in ids}
        for cid in ids:
            for n in range(rng.choice([0, 1, 1, 2, 3, 6])):
                seconds = rng.choice([rng.randint(0, 60 * DAY), rng.randint(0, 60) * DAY, 30 * DAY, -1])
                occurred = AS_OF - timedelta(seconds=seconds, microseconds=rng.choice([0, 0, 500_000]))
                amount = Decimal(rng.randint(1, 40)) / 4  # few distinct values: ties
                refunds = []
                if rng.random() < 0.3:
                    part = min(amount, Decimal(rng.randint(1, 40)) / 4)
                    refunds.append((occurred + timedelta(days=rng.randint(0, 40)), part))
                ext = f"{cid}-{n}"
                items.append({"customer_id": cid, "kind": "PURCHASE", "occurred_at": occurred, "amount": str(amount),
                              "external_id": ext})
                items += [{"kind": "REFUND", "occurred_at": when, "amount": str(part), "reverses_external_id": ext}
                          for when, part in refunds if when <= AS_OF + timedelta(days=30)]
                history[cid].append((occurred, amount, [(w, p) for w, p in refunds if w <= AS_OF + timedelta(days=30)]))
        result = record_interactions(ctx, items)
        assert not result.errors
    return history


@pytest.mark.parametrize("seed, settings", [
    (1, {}),
    (2, {"window_days": 30}),
    (3, {"scheme": "RFM_MEAN_8", "window_days": 45, "k": 3}),
    (4, {"scheme": "ABC", "abc_cuts": [0.5, 0.75]}),
    (5, {"k": 4, "window_days": 30, "thresholds": {"monetary": [1, 5, 9], "frequency": [2, 3, 4]}}),
    (6, {"scheme": "RFM_MEAN_8"}),
])
def test_stored_scores_match_the_reference_on_random_histories(gx, make_tenant, seed, settings):
    from tests.plugins.rfm.test_rfm_kernels import reference

    tenant = make_tenant(modules=("rfm",))
    history = _random_history(gx, tenant, seed)
    with gx.tenant(tenant) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", settings)
        ctx.forget_modules()
        rfm = ctx.module_settings("rfm")
        [report] = run_scoring(ctx, ["rfm"], as_of=AS_OF)

    as_of = int(AS_OF.timestamp())
    window_start = None if rfm.window_days is None else as_of - rfm.window_days * DAY
    ids = sorted(history)
    # The reference works in whole epoch seconds, as the engine does, on what
    # was recorded up to as_of; refunds count inside the window.
    purchases = [sorted((math.floor(t.timestamp()), float(a)) for t, a, _ in history[cid] if t <= AS_OF) for cid in ids]
    refunds = [float(sum(p for _, _, rs in history[cid] for w, p in rs
                         if w <= AS_OF and (window_start is None or math.floor(w.timestamp()) >= window_start)))
               for cid in ids]
    want = reference(purchases, refunds, as_of, rfm, window_start)
    stored = _scores(gx, tenant)
    assert report.scored == len(stored) == sum(want["scored"])
    for i, cid in enumerate(ids):
        if not want["scored"][i]:
            assert cid not in stored
            continue
        row = stored[cid]
        assert (row.recency_days, row.frequency, float(row.monetary)) == (
            want["recency_days"][i], want["frequency"][i], want["monetary"][i]), cid
        assert (row.r_score, row.f_score, row.m_score, row.segment) == (
            want["r_score"][i], want["f_score"][i], want["m_score"][i], want["segment"][i]), cid


def test_equal_spend_in_cents_ties_whatever_the_float_sums(gx, make_tenant):
    """0.1 + 0.2 is not 0.3 in floats; both customers spent 0.30 and must get the same M score."""
    tenant = make_tenant(modules=("rfm",))
    with gx.tenant(tenant) as ctx:
        a, b, c = (create_customer(ctx, {"name": name}).id for name in "abc")
        when = AS_OF - timedelta(days=3)
        record_interactions(ctx, [
            {"customer_id": a, "kind": "PURCHASE", "occurred_at": when, "amount": "0.10"},
            {"customer_id": a, "kind": "PURCHASE", "occurred_at": when, "amount": "0.20"},
            {"customer_id": b, "kind": "PURCHASE", "occurred_at": when, "amount": "0.30"},
            {"customer_id": c, "kind": "PURCHASE", "occurred_at": when, "amount": "0.29"},
        ])
        run_scoring(ctx, ["rfm"], as_of=AS_OF)
    scores = _scores(gx, tenant)
    assert scores[a].m_score == scores[b].m_score > scores[c].m_score
    assert scores[a].monetary == scores[b].monetary == Decimal("0.30")


def test_a_run_reports_progress_module_by_module(gx, make_tenant):
    tenant = make_tenant(modules=("rfm", "loyalty"))
    _history(gx, tenant)
    steps = []
    with gx.tenant(tenant) as ctx:
        reports = run_scoring(ctx, ["rfm", "loyalty", "rfm"], as_of=AS_OF,
                              on_progress=lambda step, done, total: steps.append((step, done, total)))
    assert steps == [("scoring rfm", 0, 2), ("scoring loyalty", 1, 2)]  # a module asked twice runs once
    assert [r.module for r in reports] == ["rfm"]  # loyalty has no batch scores


def test_soft_deleted_customers_are_neither_scored_nor_ranked_against(gx, make_tenant):
    from engine.services.customers import delete_customer

    tenant = make_tenant(modules=("rfm",))
    ids = _history(gx, tenant)
    with gx.tenant(tenant) as ctx:
        delete_customer(ctx, ids["often-recent"])
    with gx.tenant(tenant) as ctx:
        [report] = run_scoring(ctx, ["rfm"], as_of=AS_OF)
    assert (report.scored, report.unscored) == (3, 1)  # of the four live customers, "never" has no purchase
    scores = _scores(gx, tenant)
    assert ids["often-recent"] not in scores
    # "once-recent" is now the most recent of three: 1 + floor(5 * 2 / 3)
    assert scores[ids["once-recent"]].r_score == 4
