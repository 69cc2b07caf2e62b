"""The rfm module end to end: engine batch → kernels → stored scores, per tenant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from engine.errors import ValidationFailed
from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from plugins.rfm.models import RfmRun, RfmScore

AS_OF = datetime(2026, 6, 30, tzinfo=timezone.utc)


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
    with gx.read() as session:
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
