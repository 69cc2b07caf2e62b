"""Stage runs on the database: history, idempotency, the purchase hook, the stage-changed hook and events."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine import hookimpl
from engine.errors import ValidationFailed
from engine.jobs import run_jobs
from engine.plugins import GlobalPlugin
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from engine.types import utcnow
from plugins.lifecycle.history import run_stages
from plugins.lifecycle.models import LifecycleCustomer, LifecycleTransition

FIXED = {"at_risk_days": 10, "lapsed_days": 20, "churned_days": 40, "new_days": 5, "won_back_days": 8}


class Listener:
    """A global plugin that hears every stage change and every domain event."""

    def __init__(self):
        self.changes = []
        self.events = []

    @hookimpl
    def guanxi_module(self):
        return GlobalPlugin(name="stage-listener")

    @hookimpl
    def guanxi_lifecycle_stage_changed(self, ctx, changes):
        self.changes.extend((ctx.tenant.slug, c.customer_id, c.from_stage, c.to_stage, c.at) for c in changes)

    @hookimpl
    def guanxi_domain_events(self, ctx, events):
        self.events.extend((ctx.tenant.slug, e.type, e.customer_id, e.data) for e in events if e.type.startswith("lifecycle."))


@pytest.fixture
def listener(gx):
    plugin = Listener()
    gx.plugins.register_module(plugin, name=f"stage-listener-{id(plugin)}")
    gx.plugins.check()
    yield plugin
    gx.plugins.unregister(plugin)


def _tenant(gx, make_tenant, settings=FIXED):
    slug = make_tenant(modules=("lifecycle",))
    with gx.tenant(slug) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "lifecycle", dict(settings))
    return slug


def _customer(gx, slug, days_ago=(), name="c"):
    now = utcnow()
    with gx.tenant(slug) as ctx:
        customer_id = create_customer(ctx, {"name": name}).id
        record_interactions(ctx, [{"customer_id": customer_id, "kind": "PURCHASE", "amount": "100",
                                   "occurred_at": now - timedelta(days=d)} for d in days_ago])
    return customer_id


def _stage(gx, slug, customer_id):
    with gx.tenant(slug, write=False) as ctx:
        row = ctx.session.get(LifecycleCustomer, (ctx.tenant_id, customer_id))
        return None if row is None else (row.stage, row.stage_since)


def _journey(gx, slug, customer_id):
    with gx.tenant(slug, write=False) as ctx:
        rows = ctx.session.execute(sa.select(LifecycleTransition.from_stage, LifecycleTransition.to_stage, LifecycleTransition.at)
                                   .where(LifecycleTransition.customer_id == customer_id)
                                   .order_by(LifecycleTransition.at, LifecycleTransition.id)).all()
    return [tuple(r) for r in rows]


def _last_purchase(gx, slug, customer_id):
    from engine.models import Customer

    with gx.tenant(slug, write=False) as ctx:
        return ctx.session.get(Customer, customer_id).last_purchase_at


def _run(gx, slug, as_of=None):
    with gx.tenant(slug, actor="scheduler") as ctx:
        return run_stages(ctx, as_of)


def test_silence_moves_stages_and_history_records_each_crossing(gx, make_tenant, listener):
    slug = _tenant(gx, make_tenant)
    quiet = _customer(gx, slug, (50, 42, 34, 26, 18, 10, 2))  # active: a purchase every 8 days
    prospect = _customer(gx, slug)
    now = utcnow()
    first = _run(gx, slug, now)
    assert _stage(gx, slug, quiet)[0] == "active" and _stage(gx, slug, prospect)[0] == "prospect"
    assert first.changed == 2 and listener.changes == []  # the first run classifies, it announces nothing

    # 30 days later without a purchase the customer has passed at risk (10 days) and lapsed (20 days).
    later = now + timedelta(days=30)
    report = _run(gx, slug, later)
    stage, since = _stage(gx, slug, quiet)
    last = _last_purchase(gx, slug, quiet)
    assert stage == "lapsed" and abs((since - (last + timedelta(days=20))).total_seconds()) < 2
    moves = [(f, t) for f, t, _ in _journey(gx, slug, quiet)]
    assert moves == [(None, "active"), ("active", "at_risk"), ("at_risk", "lapsed")]
    at_risk_at = _journey(gx, slug, quiet)[1][2]
    assert abs((at_risk_at - (last + timedelta(days=10))).total_seconds()) < 2  # when it happened, not when noticed
    assert report.changed == 1 and report.transitions == 2
    assert [(c[2], c[3]) for c in listener.changes] == [("active", "at_risk"), ("at_risk", "lapsed")]
    assert {e[1] for e in listener.events} == {"lifecycle.stage_changed"}
    assert [(e[3]["fromStage"], e[3]["toStage"]) for e in listener.events] == [("active", "at_risk"), ("at_risk", "lapsed")]

    # Idempotent: the same moment again changes nothing and writes nothing.
    again = _run(gx, slug, later)
    assert (again.changed, again.transitions) == (0, 0)
    assert len(_journey(gx, slug, quiet)) == 3 and len(listener.changes) == 2
    with pytest.raises(ValidationFailed) as refused:
        _run(gx, slug, now)
    assert refused.value.errors[0].field == "as_of"


def test_a_purchase_moves_its_customer_at_once(gx, make_tenant, listener):
    slug = _tenant(gx, make_tenant)
    lapsed = _customer(gx, slug, (90, 60, 30))
    risky = _customer(gx, slug, (50, 40, 12))
    _run(gx, slug)
    assert (_stage(gx, slug, lapsed)[0], _stage(gx, slug, risky)[0]) == ("lapsed", "at_risk")
    with gx.tenant(slug, actor="pos") as ctx:
        record_interactions(ctx, [{"customer_id": c, "kind": "PURCHASE", "amount": "50", "occurred_at": utcnow()}
                                  for c in (lapsed, risky)])
    assert (_stage(gx, slug, lapsed)[0], _stage(gx, slug, risky)[0]) == ("won_back", "active")
    assert sorted((c[1], c[2], c[3]) for c in listener.changes) == sorted([(lapsed, "lapsed", "won_back"),
                                                                           (risky, "at_risk", "active")])
    # A customer who arrived after the run is new from the first purchase, before any run.
    newcomer = _customer(gx, slug, (0,))
    assert _stage(gx, slug, newcomer)[0] == "new"
    assert (newcomer, None, "new") in [(c[1], c[2], c[3]) for c in listener.changes]
    # The next run agrees with what the purchase did.
    assert _run(gx, slug).changed == 0
    # Won back lasts won_back_days, then the customer is simply active.
    _run(gx, slug, utcnow() + timedelta(days=9))
    assert _stage(gx, slug, lapsed)[0] == "active"
    assert [t for _, t, _ in _journey(gx, slug, lapsed)] == ["lapsed", "won_back", "active"]


def test_the_daily_job_stages_only_tenants_with_the_module(gx, make_tenant):
    slug = _tenant(gx, make_tenant)
    other = make_tenant()
    customer = _customer(gx, slug, (3,))
    result = run_jobs(gx, slug, ["lifecycle.update_stages"], actor="scheduler")
    assert "1 customers staged" in result["lifecycle.update_stages"]
    assert _stage(gx, slug, customer)[0] == "new"
    with pytest.raises(ValidationFailed):
        run_jobs(gx, other, ["lifecycle.update_stages"])


def test_tenants_never_see_each_others_stages(gx, make_tenant):
    a, b = _tenant(gx, make_tenant), _tenant(gx, make_tenant)
    mine = _customer(gx, a, (100,))
    theirs = _customer(gx, b, (1,))
    _run(gx, a)
    _run(gx, b)
    with gx.tenant(a, write=False) as ctx:
        rows = ctx.session.execute(sa.select(LifecycleCustomer.customer_id, LifecycleCustomer.stage)).all()
        moves = ctx.session.execute(sa.select(LifecycleTransition.customer_id)).scalars().all()
    assert rows == [(mine, "churned")] and set(moves) == {mine}
    assert _stage(gx, b, theirs)[0] == "new"


def test_a_merge_gives_the_history_to_the_kept_customer_and_restages_it(gx, make_tenant):
    from engine.services.merge import merge_customers

    slug = _tenant(gx, make_tenant)
    kept = _customer(gx, slug, (90, 80), name="old record")  # churned on its own
    merged = _customer(gx, slug, (70, 60, 50, 3), name="new record")  # won back on its own
    _run(gx, slug)
    assert (_stage(gx, slug, kept)[0], _stage(gx, slug, merged)[0]) == ("churned", "won_back")
    with gx.tenant(slug) as ctx:
        merge_customers(ctx, kept, merged)
    # One person, bought 90, 80, 70, 60, 50 and 3 days ago: back after a 47-day gap (lapsed after 20), so won back.
    assert _stage(gx, slug, kept)[0] == "won_back"
    assert _stage(gx, slug, merged) is None
    assert {t for _, t, _ in _journey(gx, slug, kept)} >= {"churned", "won_back"}
    assert _journey(gx, slug, merged) == []


def test_scoring_runs_stage_and_a_back_dated_one_leaves_the_stages_alone(gx, make_tenant):
    from engine.scoring import run_scoring

    slug = _tenant(gx, make_tenant)
    customer = _customer(gx, slug, (30, 3))
    with gx.tenant(slug) as ctx:
        [report] = run_scoring(ctx, ["lifecycle"])
    assert report.scored == 1 and report.details["stages"] == {"won_back": 1}
    with gx.tenant(slug) as ctx:
        [late] = run_scoring(ctx, ["lifecycle"], as_of=utcnow() - timedelta(days=10))
    assert late.scored == 0 and "before the last stage run" in late.warnings[0]
    assert _stage(gx, slug, customer)[0] == "won_back"
