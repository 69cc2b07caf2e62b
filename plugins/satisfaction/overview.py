"""Satisfaction over a period, across every survey: what the console's home
page shows (``satisfactionOverview``; definitions in docs/api.md,
"The overview").

Two statements: one aggregate for the responses, overall satisfaction and
NPS (single small answers, the same meaning in every survey), and the
period's scale answers for the index, which numpy computes per survey with
that survey's own index model and the tenant's dimension weights, exactly as
the per-survey index does (kernels.py), then averages over the respondents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import numpy as np
import sqlalchemy as sa

from engine.context import TenantContext
from engine.services.overview import check_period
from engine.errors import FieldError, ValidationFailed
from plugins.satisfaction.index import index_weights, satisfied_from
from plugins.satisfaction.models import SatisfactionResponse, SatisfactionSurvey


@dataclass
class Overview:
    responses: int
    overall_answers: int
    overall_mean: Optional[float]  # 1–5
    overall_satisfied: Optional[float]  # share in the top boxes, 0–1
    nps_answers: int
    promoters: int
    passives: int
    detractors: int
    index_respondents: int
    index: Optional[float]  # 0–100, the mean of the respondents' indices

    @property
    def nps(self) -> Optional[float]:
        return None if not self.nps_answers else 100.0 * (self.promoters - self.detractors) / self.nps_answers


def satisfaction_overview(ctx: TenantContext, start: datetime, end: datetime, store: Optional[str] = None) -> Overview:
    errors = check_period(start, end)
    if store is not None and (not store.strip() or len(store) > 64):
        errors.append(FieldError("store", "must be a store name of 1 to 64 characters"))
    if errors:
        raise ValidationFailed(errors)
    settings = ctx.module_settings("satisfaction")
    top = satisfied_from(settings.satisfied_top_box)
    r = SatisfactionResponse.__table__.c
    where = [r.tenant_id == ctx.tenant_id, r.answered_at >= start, r.answered_at < end]
    if store is not None:
        where.append(r.store == store)
    count = lambda condition: sa.func.count(sa.case((condition, 1)))  # noqa: E731
    row = ctx.session.execute(sa.select(
        sa.func.count(), sa.func.count(r.overall), sa.func.sum(r.overall), count(r.overall >= top),
        sa.func.count(r.nps), count(r.nps >= 9), count(r.nps.between(7, 8)), count(r.nps <= 6),
    ).where(*where)).one()
    responses, overall_n, overall_sum, overall_top, nps_n, promoters, passives, detractors = row
    respondents, index_sum = _index(ctx, where, settings.dimension_weights)
    return Overview(
        responses=responses, overall_answers=overall_n,
        overall_mean=None if not overall_n else float(overall_sum) / overall_n,
        overall_satisfied=None if not overall_n else overall_top / overall_n,
        nps_answers=nps_n, promoters=promoters, passives=passives, detractors=detractors,
        index_respondents=respondents, index=None if not respondents else index_sum / respondents,
    )


def _index(ctx: TenantContext, where: list, configured_weights: dict) -> tuple[int, float]:
    """(respondents with an index, the sum of their indices) over the period's responses."""
    from plugins.satisfaction.surveys import layout_of

    r = SatisfactionResponse.__table__.c
    rows = ctx.session.execute(sa.select(r.survey_id, r.scores).where(*where).order_by(r.survey_id)).all()
    if not rows:
        return 0, 0.0
    survey_ids = sorted({survey_id for survey_id, _ in rows})
    surveys = {s.id: s for s in ctx.session.execute(
        sa.select(SatisfactionSurvey).where(SatisfactionSurvey.tenant_id == ctx.tenant_id,
                                            SatisfactionSurvey.id.in_(survey_ids))).scalars()}
    respondents, total = 0, 0.0
    by_survey: dict[int, list[bytes]] = {}
    for survey_id, scores in rows:
        by_survey.setdefault(survey_id, []).append(bytes(scores))
    for survey_id, blobs in by_survey.items():
        layout = layout_of(surveys[survey_id])
        if not layout.width or not layout.dimension_codes:
            continue
        try:
            weights = index_weights(list(layout.dimension_codes), configured_weights)
        except ValueError:  # the weights give this survey's every dimension 0: it has no index
            continue
        blobs = [b for b in blobs if len(b) == layout.width]
        if not blobs:
            continue
        scores = np.frombuffer(b"".join(blobs), np.uint8).reshape(len(blobs), layout.width).astype(np.float64)
        byte_dim = np.asarray(layout.byte_dimension)
        weighted = np.zeros(len(blobs))
        weight = np.zeros(len(blobs))
        for d, w in enumerate(weights):
            columns = scores[:, byte_dim == d]
            answered = (columns > 0).sum(axis=1)
            has = answered > 0
            mean = np.divide(columns.sum(axis=1), answered, out=np.zeros(len(blobs)), where=has)
            weighted += np.where(has, w * (mean - 1.0) * 25.0, 0.0)
            weight += np.where(has, w, 0.0)
        scored = weight > 0
        respondents += int(scored.sum())
        total += float((weighted[scored] / weight[scored]).sum())
    return respondents, total
