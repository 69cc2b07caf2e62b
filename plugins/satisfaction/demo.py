"""The satisfaction module's share of the demo tenant: two surveys and a year of
answers to the 19-indicator survey, spread over the stores and months.

Answers come from a simple known model so the index and its drivers show
something real: each store has its level, logistics and payment lag behind
product and price (as in the study: ~95% satisfied on price and quality,
~83% overall), overall satisfaction follows the dimensions with weights
0.30 product, 0.25 service, 0.20 logistics, 0.15 website, 0.10 payment.
Demo answers do not loop back into complaints (that would open hundreds of cases).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy import select

from engine.models import Customer
from engine.services.modules import configure
from plugins.satisfaction.answers import local_month, nps_class, refresh_latest
from plugins.satisfaction.models import SatisfactionResponse
from plugins.satisfaction.surveys import create_survey, layout_of, survey_by_code

RESPONSES = 3000
DIMENSION_LEVEL = {"WEBSITE": 0.3, "PRODUCT": 0.8, "PAYMENT": 0.2, "SERVICE": 0.4, "LOGISTICS": -0.1}
DIMENSION_WEIGHT = {"PRODUCT": 0.30, "SERVICE": 0.25, "LOGISTICS": 0.20, "WEBSITE": 0.15, "PAYMENT": 0.10}


def _scale(latent: float, rnd: random.Random) -> int:
    """A latent satisfaction (0 = neutral) as a 1–5 answer."""
    return max(1, min(5, round(3.6 + latent + rnd.gauss(0, 0.7))))


def add_demo_wave(ctx, seed: int) -> str:
    rnd = random.Random(seed)
    if ctx.session.execute(select(SatisfactionResponse.id).where(SatisfactionResponse.tenant_id == ctx.tenant_id).limit(1)).first():
        return "answers already there"
    wave = create_survey(ctx, {"code": "CSI_2026", "title_zh": "顾客满意度调查", "title_en": "Customer satisfaction survey",
                               "model": "VIPSHOP_5X19"})
    create_survey(ctx, {"code": "COMPLAINT_FOLLOW_UP", "title_zh": "投诉处理回访", "title_en": "Complaint follow-up",
                        "model": "FOUR_DIMENSION"})
    configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction",
              {"complaint_survey": "COMPLAINT_FOLLOW_UP", "wave_survey": "CSI_2026", "wave_segment": []}, actor="demo")
    ctx.forget_modules()
    survey = survey_by_code(ctx, wave.code)
    layout = layout_of(survey)
    customers = ctx.session.execute(select(Customer.id, Customer.store).where(
        Customer.tenant_id == ctx.tenant_id, Customer.deleted_at.is_(None))).all()
    if not customers:
        return None
    stores = sorted({store for _, store in customers if store})
    store_level = {store: rnd.uniform(-0.5, 0.4) for store in stores}
    now = datetime.now(timezone.utc)
    rows = []
    for _ in range(RESPONSES):
        customer_id, store = rnd.choice(customers)
        answered_at = now - timedelta(days=rnd.uniform(0, 365), minutes=rnd.uniform(0, 600))
        person = rnd.gauss(0, 0.5) + store_level.get(store, 0.0)
        dims = {code: person + level + rnd.gauss(0, 0.3) for code, level in DIMENSION_LEVEL.items()}
        scores = bytes(0 if rnd.random() < 0.04 else _scale(dims[layout.dimension_codes[d]], rnd) for d in layout.byte_dimension)
        driver = sum(DIMENSION_WEIGHT[code] * value for code, value in dims.items())
        overall = _scale(driver, rnd)
        nps = max(0, min(10, round(7.2 + 2.2 * driver + rnd.gauss(0, 1.3))))
        rows.append({
            "tenant_id": ctx.tenant_id, "survey_id": survey.id, "invitation_id": None, "customer_id": customer_id,
            "source": "WAVE", "channel": "LINK" if rnd.random() < 0.8 else "PHONE", "store": store,
            "staff": f"staff-{rnd.randint(1, 24):02d}", "case_id": None, "answered_at": answered_at,
            "local_month": local_month(answered_at, ctx.tenant.timezone), "scores": scores, "overall": overall,
            "nps": nps if rnd.random() < 0.9 else None,
            "recommend": 1 if nps >= 8 else 2 if nps <= 4 else rnd.choice((1, 3)),
            "repurchase": _scale(driver - 0.4, rnd), "extra": {},
        })
    ctx.session.execute(sa.insert(SatisfactionResponse), rows)
    answered = sorted({row["customer_id"] for row in rows})
    refresh_latest(ctx, answered)
    detractors = sum(1 for r in rows if nps_class(r["nps"]) == "DETRACTOR")
    return f"{RESPONSES} answers to CSI_2026 from {len(answered)} customers over 12 months ({detractors} detractors)"
