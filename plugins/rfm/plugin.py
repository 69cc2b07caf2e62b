"""The rfm module's hook implementations: tables and batch scoring."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import delete

from engine import hookimpl
from engine.errors import FieldError, ValidationFailed
from engine.jobs import Job
from engine.plugins import ModuleInfo
from engine.bulk import RawCursor
from engine.scoring import PurchaseBatch, ScoreReport, replace_result_rows
from engine.types import utcnow
from plugins.rfm.kernels import RfmInputError, score_rfm
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
def guanxi_customer_fields():
    from plugins.rfm.schema import RfmCustomerFields

    return [RfmCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.rfm.schema import CUSTOMER_FILTERS, CUSTOMER_ORDERS, RfmQuery, rfm_batch

    return {"query": [RfmQuery], "customer_filters": CUSTOMER_FILTERS, "customer_orders": CUSTOMER_ORDERS,
            "customer_batches": {"rfm": rfm_batch}}


def _rescore(ctx):
    """Periodic re-scoring, for tenants that set ``schedule_minutes``."""
    from engine.scoring import run_scoring

    if ctx.module_settings("rfm").schedule_minutes is None:
        return "off (set schedule_minutes to re-score periodically)"
    [report] = run_scoring(ctx, ["rfm"])
    return f"{report.scored} customers scored"


@hookimpl
def guanxi_jobs():
    return [Job(name="rfm.rescore", module="rfm", every_minutes=60, run=_rescore)]


def _window_refunds(batch: PurchaseBatch, window_start: int | None) -> np.ndarray:
    """Refunded amount per customer inside the window (refunds reduce monetary)."""
    n = len(batch)
    owner = np.repeat(np.arange(n), np.diff(batch.refund_offsets))
    inside = batch.refund_times >= window_start if window_start is not None else np.ones(len(owner), bool)
    return np.bincount(owner[inside], weights=batch.refund_amounts[inside], minlength=n).astype(np.float64)


RESULT_COLUMNS = ("tenant_id", "customer_id", "run_id", "recency_days", "frequency", "monetary",
                  "r_score", "f_score", "m_score", "segment", "computed_at")


@hookimpl
def guanxi_score(ctx, batch: PurchaseBatch):
    if "rfm" not in batch.modules:
        return None
    settings: RfmSettings = ctx.module_settings("rfm")
    as_of = batch.as_of_epoch
    window_start = None
    if settings.window_days is not None:
        window_start = int((batch.as_of - timedelta(days=settings.window_days)).timestamp())
    if len(batch) == 0:
        raise ValidationFailed([FieldError("as_of", "the tenant has no purchases up to this time; nothing to score")])
    try:
        scores = score_rfm(batch.offsets, batch.times, batch.amounts, _window_refunds(batch, window_start), as_of, settings, window_start)
    except RfmInputError as error:
        raise ValidationFailed([FieldError("as_of", str(error))]) from None

    session = ctx.session
    now = utcnow()
    session.execute(delete(RfmRun).where(RfmRun.tenant_id == ctx.tenant_id))
    run = RfmRun(tenant_id=ctx.tenant_id, computed_at=now, as_of=batch.as_of, settings=settings.model_dump(mode="json"))
    session.add(run)
    session.flush()
    codes = scores.segment_codes()
    scored = np.flatnonzero(scores.scored)
    raw = RawCursor(session)
    computed_at = raw.time(now)
    rows = list(zip(
        [ctx.tenant_id] * scored.size, batch.customer_ids[scored].tolist(), [run.id] * scored.size,
        scores.recency_days[scored].tolist(), scores.frequency[scored].tolist(),
        # Whole cents as floats: what SQLite stores, and exact text for PostgreSQL's numeric.
        [round(m, 2) for m in scores.monetary[scored].tolist()],
        scores.r_score[scored].tolist(), scores.f_score[scored].tolist(), scores.m_score[scored].tolist(),
        [codes[i] for i in scored.tolist()], [computed_at] * scored.size,
    ))
    replace_result_rows(session, RfmScore.__table__, ctx.tenant_id, RESULT_COLUMNS, rows)
    run.scored = len(rows)
    run.unscored = batch.customers_total - len(rows)
    session.add(run)
    counts: dict[str, int] = {}
    for i in scored.tolist():
        counts[codes[i]] = counts.get(codes[i], 0) + 1
    return ScoreReport(module="rfm", scored=run.scored, unscored=run.unscored,
                       details={"scheme": settings.scheme, "segments": counts})
