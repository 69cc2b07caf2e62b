"""The demo tenant shows every stage, some churn reasons and a win-back list with a final outcome."""

from __future__ import annotations

import sqlalchemy as sa

from engine.demo import DEMO_SLUG, generate_demo
from engine.testing import engine_on
from plugins.lifecycle.models import LifecycleCustomer, LifecycleTransition, LifecycleWinbackList
from plugins.lifecycle.reasons import reason_report
from plugins.lifecycle.stages import STAGES
from plugins.lifecycle.winback import outcomes


def test_the_demo_tenant_shows_every_stage(fresh_database_url):
    gx = engine_on(fresh_database_url)
    result = generate_demo(gx, customers=600)
    assert any(note.startswith("lifecycle: stages (") for note in result.notes), result.notes
    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        counts = dict(ctx.session.execute(sa.select(LifecycleCustomer.stage, sa.func.count()).group_by(LifecycleCustomer.stage)).all())
        flows = ctx.session.execute(sa.select(sa.func.count()).select_from(LifecycleTransition)
                                    .where(LifecycleTransition.from_stage.is_not(None))).scalar()
        lists = ctx.session.execute(sa.select(LifecycleWinbackList).order_by(LifecycleWinbackList.id)).scalars().all()
        found = outcomes(ctx, list(lists))
        report = reason_report(ctx)
    assert set(counts) == set(STAGES) and min(counts.values()) > 0, counts
    assert flows > 100  # a year of moves between stages, for the monthly matrix
    assert report.total > 0 and len(report.by_reason) > 3
    assert [found[w.id].complete for w in lists] == [True, False]
    assert sum(s.won_back for s in found[lists[0].id].segments) > 0
