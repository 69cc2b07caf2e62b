"""The lifecycle module's share of the demo tenant (``guanxi_demo_data``).

The demo's two years of purchases are back-dated, so the module rebuilds a
year of stage history as if it had run every two weeks (without announcing
it: it is the past), adds a few prospects (every demo customer has bought) and first-time buyers
of this week (the demo's customers all joined weeks ago),
records churn reasons on some lapsed and churned customers, and makes two
win-back lists: one 120 days ago, whose 90-day outcome is final, and one now.
"""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.types import utcnow
from plugins.lifecycle.history import run_stages
from plugins.lifecycle.models import LifecycleCustomer, LifecycleRun, LifecycleTransition
from plugins.lifecycle.reasons import record_reason
from plugins.lifecycle.stages import GONE
from plugins.lifecycle.winback import create_list

HISTORY_DAYS = 364
STEP_DAYS = 28
PROSPECTS = 40
NEW_CUSTOMERS = 25
STORE = "SH-NJR 上海南京路店"
REASONS = 160
NOTES = ("搬家了 / moved away", "觉得价格偏高 / found it pricey", "在别家买了 / buys elsewhere now", None, None)


def add_demo_data(ctx, seed: int) -> str:
    rnd = random.Random(seed)
    t = ctx.tenant_id
    for i in range(PROSPECTS):
        create_customer(ctx, {"name": f"潜客{i + 1:02d}", "acquisition_channel": rnd.choice(["AD", "REFERRAL", "WALK_IN"])})
    # The demo's customers all joined weeks ago: a few first purchases this week make new customers.
    now = utcnow()
    for i in range(NEW_CUSTOMERS):
        customer = create_customer(ctx, {"name": f"新客{i + 1:02d}", "acquisition_channel": "WALK_IN", "store": STORE})
        record_interaction(ctx, {"customer_id": customer.id, "kind": "PURCHASE", "amount": f"{rnd.uniform(80, 600):.2f}",
                                 "occurred_at": now - timedelta(days=rnd.uniform(0.5, 7)), "store": STORE,
                                 "channel": "IN_STORE", "external_id": f"demo-lifecycle-new-{i}"})
    # Rebuild the past: the periodic job has already staged everyone as of now.
    for model in (LifecycleTransition, LifecycleCustomer, LifecycleRun):
        ctx.session.execute(sa.delete(model).where(model.tenant_id == t))
    listed_at = now - timedelta(days=120)
    first_list = None
    for back in range(HISTORY_DAYS, -1, -STEP_DAYS):
        as_of = now - timedelta(days=back)
        run_stages(ctx, as_of, announce=False)
        if first_list is None and as_of >= listed_at:
            first_list = create_list(ctx, "季度挽回 / quarterly win-back", window_days=90, now=as_of)
    report = run_stages(ctx, now, announce=False)
    gone = ctx.session.execute(sa.select(LifecycleCustomer.customer_id).where(
        LifecycleCustomer.tenant_id == t, LifecycleCustomer.stage.in_(GONE)).order_by(LifecycleCustomer.customer_id)).scalars().all()
    codes = [r.code for r in ctx.module_settings("lifecycle").churn_reasons]
    weights = [3, 4, 2, 5, 4, 1, 3][:len(codes)] + [1] * max(0, len(codes) - 7)
    picked = rnd.sample(list(gone), min(REASONS, len(gone)))
    for customer_id in picked:
        record_reason(ctx, customer_id, rnd.choices(codes, weights=weights)[0], rnd.choice(NOTES))
    create_list(ctx, "本月挽回 / this month's win-back")
    stages = ", ".join(f"{code} {n}" for code, n in report.counts.items())
    return f"stages ({stages}); {len(picked)} churn reasons; 2 win-back lists"
