"""The rfm module's hook implementations: tables and batch scoring."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import delete
from sqlmodel import select

from engine import hookimpl
from engine.errors import FieldError, ValidationFailed
from engine.jobs import Job
from engine.plugins import ModuleInfo
from engine.scoring import PurchaseBatch, ScoreReport, replace_result_columns
from engine.types import utcnow
from plugins.rfm.models import RfmRun, RfmScore
from plugins.rfm.settings import RfmSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="rfm",
        title_zh="RFM 客户价值分层",
        title_en="RFM segmentation",
        description="Recency, frequency and monetary scores mapped to named customer segments.",
        settings_model=RfmSettings,
    )


@hookimpl
def guanxi_models():
    return [RfmRun, RfmScore]


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")



@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """One score per customer: the kept customer's stays (the merged one's
    moves when it has none) until the next run scores the combined history."""
    from engine.services.merge import move_customer_rows
    from plugins.rfm.models import RfmScore

    move_customer_rows(ctx, RfmScore.__table__, kept_id, merged_id, one_per=())


@hookimpl
def guanxi_customer_fields():
    from plugins.rfm.schema import RfmCustomerFields

    return [RfmCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.rfm.grid import RfmGridQuery
    from plugins.rfm.schema import CUSTOMER_FILTERS, CUSTOMER_ORDERS, RfmQuery, rfm_batch

    return {"query": [RfmQuery, RfmGridQuery], "customer_filters": CUSTOMER_FILTERS, "customer_orders": CUSTOMER_ORDERS,
            "customer_batches": {"rfm": rfm_batch}}


# How often the job looks; the tenant's schedule_minutes decides when it scores.
RESCORE_CHECK_MINUTES = 5


def _rescore(ctx):
    """Periodic re-scoring: when ``schedule_minutes`` is set and the last run is that old."""
    from engine.scoring import score_if_due

    minutes = ctx.module_settings("rfm").schedule_minutes
    if minutes is None:
        return "off (set schedule_minutes to re-score periodically)"
    last = ctx.session.exec(select(RfmRun).where(RfmRun.tenant_id == ctx.tenant_id)).first()
    outcome = score_if_due(ctx, "rfm", minutes, last.computed_at if last else None)
    return outcome if isinstance(outcome, str) else f"{outcome.scored} customers scored"


@hookimpl
def guanxi_jobs():
    return [Job(name="rfm.rescore", module="rfm", every_minutes=RESCORE_CHECK_MINUTES, run=_rescore)]


@hookimpl
def guanxi_score(ctx, batch: PurchaseBatch):
    if "rfm" not in batch.modules:
        return None
    settings: RfmSettings = ctx.module_settings("rfm")
    window_start = None
    if settings.window_days is not None:
        window_start = int((batch.as_of - timedelta(days=settings.window_days)).timestamp())
    # R, F and M need no single purchase: the database sums them per customer.
    totals = batch.customer_totals(window_start)
    if len(totals) == 0 and not batch.has_purchases():
        raise ValidationFailed([FieldError("as_of", "the tenant has no purchases up to this time; nothing to score")])
    # The kernels (numba) load on the first scoring, not with the plugin: every
    # CLI command loads the plugins, and numba costs it a second or more.
    from plugins.rfm.kernels import RfmInputError, score_rfm_totals

    try:
        scores = score_rfm_totals(totals.last_purchase, totals.purchases, np.round(totals.spend - totals.refunded, 2),
                                  batch.as_of_epoch, settings)
    except RfmInputError as error:
        raise ValidationFailed([FieldError("as_of", str(error))]) from None

    session = ctx.session
    now = utcnow()
    session.execute(delete(RfmRun).where(RfmRun.tenant_id == ctx.tenant_id))
    run = RfmRun(tenant_id=ctx.tenant_id, computed_at=now, as_of=batch.as_of, settings=settings.model_dump(mode="json"))
    session.add(run)
    session.flush()
    codes = scores.segment_codes()
    replace_result_columns(session, RfmScore.__table__, ctx.tenant_id, {
        "tenant_id": ctx.tenant_id, "run_id": run.id, "computed_at": now,
    }, {
        "customer_id": totals.customer_ids.tolist(),
        "recency_days": scores.recency_days.tolist(),
        "frequency": scores.frequency.tolist(),
        # whole cents: the nearest float, which SQLite stores and whose
        # shortest text PostgreSQL's numeric reads exactly
        "monetary": scores.monetary.tolist(),
        "r_score": scores.r_score.tolist(),
        "f_score": scores.f_score.tolist(),
        "m_score": scores.m_score.tolist(),
        "segment": codes,
    })
    run.scored = len(totals)
    run.unscored = batch.customers_total - len(totals)
    session.add(run)
    return ScoreReport(module="rfm", scored=run.scored, unscored=run.unscored,
                       details={"scheme": settings.scheme, "segments": dict(Counter(codes))})


@hookimpl
def guanxi_warm_up():
    from plugins.rfm import kernels

    kernels.warm_up()


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.rfm.export import rfm_export_columns

    return rfm_export_columns(ctx)
