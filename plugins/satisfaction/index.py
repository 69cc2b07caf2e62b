"""The satisfaction index: per indicator, dimension and overall, per slice.

Definitions (docs/satisfaction-index.md has them for people):

- An indicator's mean is the mean of its answers (1–5; unanswered left
  out); its % satisfied the share of answers in the top box (4 or 5 with
  ``satisfied_top_box`` = 2), as the Vipshop study reports it.
- A respondent's dimension score is the mean of the dimension's indicators
  they answered; a dimension's mean and % satisfied are over respondents
  (satisfied: a dimension score at or above the top box's lowest answer).
- A respondent's index maps each dimension score to 0–100 by
  (score − 1) × 25 (1 → 0, 3 → 50, 5 → 100) and takes the weighted mean
  over the dimensions they answered (weights ``dimension_weights``, equal
  when empty, renormalised over the answered ones). The index of a slice
  is the mean over its respondents, with a t interval.
- Overall satisfaction and repurchase intention: mean and % satisfied of
  the single questions. NPS: % promoters (9–10) − % detractors (0–6).

Intervals: plugins/satisfaction/stats.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from plugins.satisfaction import stats
from plugins.satisfaction.kernels import (
    COUNT, NPS_DETRACTORS, NPS_PASSIVES, NPS_PROMOTERS, RECOMMEND_DONT_KNOW, RECOMMEND_NO, RECOMMEND_YES, SUM, SUMSQ,
    TOP, Aggregates,
)


def satisfied_from(top_box: int) -> int:
    """The lowest answer counted as satisfied: 4 for the top 2 boxes of 5."""
    return 6 - top_box


def index_weights(dimension_codes: list[str], configured: dict[str, float]) -> np.ndarray:
    """The dimensions' weights, summing to 1: equal when none are configured;
    a dimension missing from a configured set weighs 0."""
    if not configured:
        return np.full(len(dimension_codes), 1.0 / len(dimension_codes))
    raw = np.array([float(configured.get(code, 0.0)) for code in dimension_codes])
    if raw.sum() <= 0:
        raise ValueError("dimension_weights give every dimension of this survey 0")
    return raw / raw.sum()


def _none(value: float) -> Optional[float]:
    return None if value is None or not np.isfinite(value) else float(value)


@dataclass
class Figure:
    """One measure of one slice: answers, mean with its interval, share satisfied with its interval."""

    count: int
    mean: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    satisfied: Optional[float] = None  # share 0–1
    satisfied_ci_low: Optional[float] = None
    satisfied_ci_high: Optional[float] = None


@dataclass
class NpsFigure:
    answers: int
    promoters: int
    passives: int
    detractors: int
    score: Optional[float]  # −100..100
    ci_low: Optional[float]
    ci_high: Optional[float]


@dataclass
class RecommendFigure:
    answers: int
    yes: int
    no: int
    dont_know: int
    yes_share: Optional[float]
    yes_ci_low: Optional[float]
    yes_ci_high: Optional[float]


@dataclass
class SliceIndex:
    """Everything the index says about one slice (``key``: the slice's values, e.g. store and month)."""

    key: dict[str, Any]
    responses: int
    index: Figure
    dimensions: list[Figure]
    indicators: list[Figure]
    overall: Figure
    repurchase: Figure
    nps: NpsFigure
    recommend: RecommendFigure


@dataclass
class Figures:
    """The index's figures as arrays over slices (the vectorised form of SliceIndex)."""

    items: dict[str, np.ndarray]
    dimensions: dict[str, np.ndarray]
    index: dict[str, np.ndarray]
    overall: dict[str, np.ndarray]
    repurchase: dict[str, np.ndarray]
    nps: dict[str, np.ndarray]
    recommend: dict[str, np.ndarray]
    responses: np.ndarray
    extra: dict = field(default_factory=dict)


def _moments(acc: np.ndarray, level: float, with_share: bool = True) -> dict[str, np.ndarray]:
    mean, low, high = stats.mean_interval(acc[..., COUNT], acc[..., SUM], acc[..., SUMSQ], level)
    out = {"count": acc[..., COUNT].astype(np.int64), "mean": mean, "ci_low": low, "ci_high": high}
    if with_share:
        share, s_low, s_high = stats.wilson_interval(acc[..., TOP], acc[..., COUNT], level)
        out.update(satisfied=share, satisfied_ci_low=s_low, satisfied_ci_high=s_high)
    return out


def figures(agg: Aggregates, level: float) -> Figures:
    """Means, shares, NPS and their intervals for every slice of ``agg``."""
    nps_score, nps_low, nps_high = stats.nps_interval(agg.nps[:, NPS_PROMOTERS], agg.nps[:, NPS_DETRACTORS],
                                                      agg.nps[:, 0], level)
    yes, yes_low, yes_high = stats.wilson_interval(agg.recommend[:, RECOMMEND_YES], agg.recommend[:, 0], level)
    return Figures(
        items=_moments(agg.items, level),
        dimensions=_moments(agg.dimensions, level),
        index=_moments(agg.index, level, with_share=False),
        overall=_moments(agg.overall, level),
        repurchase=_moments(agg.repurchase, level),
        nps={"answers": agg.nps[:, 0], "promoters": agg.nps[:, NPS_PROMOTERS], "passives": agg.nps[:, NPS_PASSIVES],
             "detractors": agg.nps[:, NPS_DETRACTORS], "score": nps_score, "ci_low": nps_low, "ci_high": nps_high},
        recommend={"answers": agg.recommend[:, 0], "yes": agg.recommend[:, RECOMMEND_YES],
                   "no": agg.recommend[:, RECOMMEND_NO], "dont_know": agg.recommend[:, RECOMMEND_DONT_KNOW],
                   "yes_share": yes, "yes_ci_low": yes_low, "yes_ci_high": yes_high},
        responses=agg.responses,
    )


def _figure(arrays: dict[str, np.ndarray], at) -> Figure:
    values = {name: a[at] for name, a in arrays.items()}
    return Figure(count=int(values.pop("count")), **{name: _none(v) for name, v in values.items()})


def slice_index(f: Figures, s: int, key: dict[str, Any]) -> SliceIndex:
    """Slice s of ``f`` as objects."""
    n_items = f.items["count"].shape[1]
    n_dims = f.dimensions["count"].shape[1]
    nps = {name: a[s] for name, a in f.nps.items()}
    rec = {name: a[s] for name, a in f.recommend.items()}
    return SliceIndex(
        key=key,
        responses=int(f.responses[s]),
        index=_figure(f.index, s),
        dimensions=[_figure(f.dimensions, (s, d)) for d in range(n_dims)],
        indicators=[_figure(f.items, (s, j)) for j in range(n_items)],
        overall=_figure(f.overall, s),
        repurchase=_figure(f.repurchase, s),
        nps=NpsFigure(answers=int(nps["answers"]), promoters=int(nps["promoters"]), passives=int(nps["passives"]),
                      detractors=int(nps["detractors"]), score=_none(nps["score"]), ci_low=_none(nps["ci_low"]),
                      ci_high=_none(nps["ci_high"])),
        recommend=RecommendFigure(answers=int(rec["answers"]), yes=int(rec["yes"]), no=int(rec["no"]),
                                  dont_know=int(rec["dont_know"]), yes_share=_none(rec["yes_share"]),
                                  yes_ci_low=_none(rec["yes_ci_low"]), yes_ci_high=_none(rec["yes_ci_high"])),
    )


# --- the service: read, slice, add up, summarise ------------------------------------


@dataclass
class Analysis:
    """One survey's responses added up per slice, with what is needed to read them."""

    layout: Any  # surveys.SurveyLayout
    by: tuple[str, ...]
    keys: list[dict[str, Any]]  # per slice
    aggregates: Aggregates
    figures: Figures
    weights: np.ndarray  # the index's dimension weights, summing to 1
    level: float
    target: str
    satisfied_from: int

    def slice(self, s: int) -> SliceIndex:
        return slice_index(self.figures, s, self.keys[s])

    def slices(self) -> list[SliceIndex]:
        return [self.slice(s) for s in range(len(self.keys))]

    def total(self) -> SliceIndex:
        agg = self.aggregates.total()
        return slice_index(figures(agg, self.level), 0, {})

    def total_aggregates(self) -> Aggregates:
        return self.aggregates.total()


def analyse(ctx, survey_id: int, by: tuple[str, ...] = (), where=None, target: str | None = None) -> Analysis:
    """The survey's index per slice of ``by`` (GROUPS in reader.py), for responses matching
    ``where`` (a reader.Where); ``target`` overrides the driver_target setting."""
    from plugins.satisfaction import reader
    from plugins.satisfaction.kernels import aggregate
    from plugins.satisfaction.surveys import survey_layout

    where = where or reader.Where()
    settings = ctx.module_settings("satisfaction")
    layout = survey_layout(ctx, survey_id)
    weights = index_weights(list(layout.dimension_codes), settings.dimension_weights)
    joined = [g for g in ("rfm_segment", "tier") if g in by or getattr(where, g)]
    text = [g for g in ("store", "channel", "staff") if g in by]
    responses = reader.read(ctx.session, ctx.tenant_id, survey_id, layout.width, where, text, with_customers=bool(joined))
    if joined:
        reader.join_segments(ctx.session, ctx.tenant_id, responses, ctx.enabled_modules, joined)
        keep = reader.keep_rows(responses, where)
        if keep is not None:
            responses = responses.subset(keep)
    cut = reader.slices(responses, by)
    top = satisfied_from(settings.satisfied_top_box)
    agg = aggregate(responses.scores, cut.slice_of, cut.count, np.asarray(layout.byte_dimension, np.int64), weights,
                    responses.overall, responses.nps, responses.recommend, responses.repurchase, top,
                    target or settings.driver_target)
    return Analysis(layout=layout, by=tuple(by), keys=cut.keys, aggregates=agg, figures=figures(agg, settings.ci_level),
                    weights=weights, level=settings.ci_level, target=target or settings.driver_target, satisfied_from=top)


MAX_SLICES = 10_000


def analyse_survey(ctx, survey_code: str, by=(), where: dict | None = None, target: str | None = None) -> Analysis:
    """``analyse`` from API/CLI input: the survey by code, ``by`` and ``where`` checked,
    failures as ValidationFailed / NotFound naming the field."""
    from engine.errors import FieldError, ValidationFailed
    from plugins.satisfaction import reader
    from plugins.satisfaction.surveys import survey_by_code

    by = tuple(by)
    errors = [FieldError("by", f"unknown slice {g!r} (one of {', '.join(reader.GROUPS)})")
              for g in by if g not in reader.GROUPS]
    if len(set(by)) != len(by):
        errors.append(FieldError("by", "a slice is listed twice"))
    if target is not None and target not in ("OVERALL", "REPURCHASE"):
        errors.append(FieldError("target", "must be OVERALL or REPURCHASE"))
    if errors:
        raise ValidationFailed(errors)
    parsed = reader.parse_where(where)
    survey = survey_by_code(ctx, survey_code, "survey")
    try:
        analysis = analyse(ctx, survey.id, by, parsed, target)
    except reader.ModuleDisabled as error:
        field = "by" if error.group in by else f"where.{error.group}"
        raise ValidationFailed([FieldError(field, str(error))]) from None
    except reader.TextUnreadable as error:
        raise ValidationFailed([FieldError("by", str(error))]) from None
    if len(analysis.keys) > MAX_SLICES:
        raise ValidationFailed([FieldError("by", f"{len(analysis.keys)} slices: at most {MAX_SLICES}; "
                                                 "narrow where or slice by fewer")])
    return analysis
