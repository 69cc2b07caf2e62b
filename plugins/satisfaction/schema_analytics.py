"""The satisfaction analytics' GraphQL: ``satisfactionIndex``, ``satisfactionDrivers``
(derived weights and the importance–performance matrix) and ``satisfactionTrend``.

Each reads the survey's responses once (reader.py) and computes in a worker
thread; definitions are in docs/satisfaction-index.md. Mounted by schema.py.
"""

from __future__ import annotations

from typing import Annotated, Optional

import strawberry

from api.enums import Lang, LangArg, code_of, coded_enum, value_type
from engine.enums import LabeledEnum


class IpaQuadrant(LabeledEnum):
    FIX_FIRST = ("优先改进", "Fix first")
    KEEP_UP = ("继续保持", "Keep up the good work")
    LOW_PRIORITY = ("次要改进", "Low priority")
    POSSIBLE_OVERKILL = ("可能过度", "Possible overkill")


class TrendFlag(LabeledEnum):
    PEAK = ("显著高点", "Significant peak")
    TROUGH = ("显著低点", "Significant trough")


class ChangeFlag(LabeledEnum):
    RISE = ("显著上升", "Significant rise")
    FALL = ("显著下降", "Significant fall")


IpaQuadrantValue = value_type(IpaQuadrant, "SatisfactionIpaQuadrant", "A quadrant of the importance–performance matrix.")
TrendFlagValue = value_type(TrendFlag, "SatisfactionTrendFlag", "A month significantly above or below the other months.")
ChangeFlagValue = value_type(ChangeFlag, "SatisfactionChangeFlag", "A significant change from the previous month.")

SatisfactionSliceBy = coded_enum("SatisfactionSliceBy", "What the index is sliced by.", {
    "STORE": "The store the answer was given for.",
    "CHANNEL": "How it was answered (LINK, PHONE, STORE, ...).",
    "STAFF": "The staff member the answer was given for.",
    "MONTH": "The month answered, in the tenant's time zone.",
    "RFM_SEGMENT": "The customer's RFM segment from the latest run (rfm module).",
    "TIER": "The customer's loyalty tier (loyalty module).",
})
SatisfactionDriverTarget = coded_enum("SatisfactionDriverTarget", "What derived weights explain.", {
    "OVERALL": "Overall satisfaction (1–5).",
    "REPURCHASE": "Repurchase intention (1–5).",
})


@strawberry.input(description="Which responses to analyse; conditions given together must all hold.")
class SatisfactionAnalyticsWhere:
    from_month: Optional[int] = strawberry.field(default=None, description="First month, yyyymm (e.g. 202501), inclusive.")
    to_month: Optional[int] = strawberry.field(default=None, description="Last month, yyyymm, inclusive.")
    store: Optional[list[str]] = strawberry.field(default=None, description="Only these stores.")
    channel: Optional[list[str]] = strawberry.field(default=None, description="Only answers given on these channels.")
    staff: Optional[list[str]] = strawberry.field(default=None, description="Only answers about these staff members.")
    rfm_segment: Optional[list[str]] = strawberry.field(default=None, description="Only customers in these RFM segments (rfm module).")
    tier: Optional[list[str]] = strawberry.field(default=None, description="Only loyalty members of these tiers (loyalty module).")


def _where(where: Optional[SatisfactionAnalyticsWhere]) -> dict:
    if where is None:
        return {}
    return {name: value for name, value in vars(where).items() if value is not None}


@strawberry.type(description="One measure of one slice: answers, mean and share satisfied, with confidence intervals.")
class SatisfactionFigure:
    count: int = strawberry.field(description="Answers (for the index and dimensions: respondents).")
    mean: Optional[float] = strawberry.field(description="Mean: 1–5 for answers, 0–100 for the index; null without answers.")
    ci_low: Optional[float] = strawberry.field(description="Lower end of the mean's t interval; null below 2 answers.")
    ci_high: Optional[float] = strawberry.field(description="Upper end of the mean's t interval; null below 2 answers.")
    satisfied: Optional[float] = strawberry.field(description="Share satisfied (top box), 0–1; null for the index.")
    satisfied_ci_low: Optional[float] = strawberry.field(description="Lower end of the share's Wilson interval.")
    satisfied_ci_high: Optional[float] = strawberry.field(description="Upper end of the share's Wilson interval.")


@strawberry.type(description="Net Promoter Score of a slice.")
class SatisfactionNps:
    answers: int = strawberry.field(description="0–10 answers.")
    promoters: int = strawberry.field(description="Answers of 9 or 10.")
    passives: int = strawberry.field(description="Answers of 7 or 8.")
    detractors: int = strawberry.field(description="Answers of 0 to 6.")
    score: Optional[float] = strawberry.field(description="% promoters − % detractors, −100 to 100; null without answers.")
    ci_low: Optional[float] = strawberry.field(description="Lower end of the score's normal interval.")
    ci_high: Optional[float] = strawberry.field(description="Upper end of the score's normal interval.")


@strawberry.type(description="Answers to 'would you recommend us' (会 / 不会 / 不知道).")
class SatisfactionRecommend:
    answers: int = strawberry.field(description="Answers.")
    yes: int = strawberry.field(description="Yes (会).")
    no: int = strawberry.field(description="No (不会).")
    dont_know: int = strawberry.field(description="Don't know (不知道).")
    yes_share: Optional[float] = strawberry.field(description="Share of yes, 0–1.")
    yes_ci_low: Optional[float] = strawberry.field(description="Lower end of the share's Wilson interval.")
    yes_ci_high: Optional[float] = strawberry.field(description="Upper end of the share's Wilson interval.")


@strawberry.type(description="A dimension or indicator of the survey's index model.")
class SatisfactionMeasure:
    code: str = strawberry.field(description="The dimension's code, or DIMENSION.INDICATOR for an indicator.")
    zh: strawberry.Private[str]
    en: strawberry.Private[str]

    @strawberry.field(description="Its name, in Chinese (the default) or English.")
    def label(self, lang: LangArg = Lang.ZH) -> str:
        return self.zh if lang is Lang.ZH else self.en


@strawberry.type(description="A dimension's or indicator's figure in one slice.")
class SatisfactionMeasureFigure:
    measure: SatisfactionMeasure = strawberry.field(description="The dimension or indicator.")
    figure: SatisfactionFigure = strawberry.field(description="Its answers, mean and share satisfied.")


@strawberry.type(description="The values that define a slice; null for what the index is not sliced by.")
class SatisfactionSliceKey:
    store: Optional[str] = strawberry.field(description="The store (null: answers with no store, or not sliced by store).")
    channel: Optional[str] = strawberry.field(description="How the answers were given.")
    staff: Optional[str] = strawberry.field(description="The staff member.")
    month: Optional[int] = strawberry.field(description="The month, yyyymm.")
    rfm_segment: Optional[str] = strawberry.field(description="The RFM segment (null: not scored).")
    tier: Optional[str] = strawberry.field(description="The loyalty tier (null: not a member).")


@strawberry.type(description="The index of one slice of the responses.")
class SatisfactionSlice:
    key: SatisfactionSliceKey = strawberry.field(description="What the slice is.")
    responses: int = strawberry.field(description="Responses in the slice.")
    index: SatisfactionFigure = strawberry.field(description="The satisfaction index, 0–100 (weighted dimension scores).")
    dimensions: list[SatisfactionMeasureFigure] = strawberry.field(description="Each dimension, over respondents' dimension scores.")
    indicators: list[SatisfactionMeasureFigure] = strawberry.field(description="Each indicator (scale question), over its answers.")
    overall: SatisfactionFigure = strawberry.field(description="The overall satisfaction question.")
    repurchase: SatisfactionFigure = strawberry.field(description="The repurchase intention question.")
    nps: SatisfactionNps = strawberry.field(description="Net Promoter Score.")
    recommend: SatisfactionRecommend = strawberry.field(description="Would you recommend us.")


@strawberry.type(description="A dimension's weight in the index.")
class SatisfactionIndexWeight:
    dimension: SatisfactionMeasure = strawberry.field(description="The dimension.")
    weight: float = strawberry.field(description="Its weight; the weights sum to 1.")


@strawberry.type(description="The satisfaction index of a survey, overall and per slice.")
class SatisfactionIndexReport:
    survey: str = strawberry.field(description="The survey's code.")
    ci_level: float = strawberry.field(description="Confidence level of every interval (the ci_level setting).")
    satisfied_from: int = strawberry.field(description="Lowest answer counted as satisfied (5 − satisfied_top_box + 1).")
    weights: list[SatisfactionIndexWeight] = strawberry.field(description="The index's dimension weights.")
    total: SatisfactionSlice = strawberry.field(description="All the responses analysed, as one slice.")
    slices: list[SatisfactionSlice] = strawberry.field(description="One per combination of the `by` values present, ordered by them.")


@strawberry.type(description="A dimension's derived weight: its coefficient in the regression of the target on the dimension scores.")
class SatisfactionDriverWeight:
    dimension: SatisfactionMeasure = strawberry.field(description="The dimension.")
    coefficient: float = strawberry.field(description="Target points per dimension-score point, the others held fixed.")
    std_error: Optional[float] = strawberry.field(description="Its standard error.")
    ci_low: Optional[float] = strawberry.field(description="Lower end of its t interval.")
    ci_high: Optional[float] = strawberry.field(description="Upper end of its t interval.")
    p_value: Optional[float] = strawberry.field(description="Two-sided p-value of coefficient = 0.")
    importance: float = strawberry.field(description="Normalised importance: the coefficient over the sum of positive ones (0 if negative).")


@strawberry.type(description="A dimension in the importance–performance matrix.")
class SatisfactionIpaPoint:
    dimension: SatisfactionMeasure = strawberry.field(description="The dimension.")
    importance: float = strawberry.field(description="Its normalised derived importance, 0–1.")
    performance: float = strawberry.field(description="Its mean on the index's 0–100 scale.")
    quadrant: IpaQuadrantValue = strawberry.field(description="Where it falls, against the dimensions' mean importance and performance.")  # type: ignore[valid-type]
    priority: float = strawberry.field(description="importance × (100 − performance): what fixing it is worth.")


@strawberry.type(description="The importance–performance matrix.")
class SatisfactionIpa:
    importance_cut: Optional[float] = strawberry.field(description="Mean importance over the dimensions: the vertical line.")
    performance_cut: Optional[float] = strawberry.field(description="Mean performance over the dimensions: the horizontal line.")
    points: list[SatisfactionIpaPoint] = strawberry.field(description="Every dimension with both figures.")
    fix_first: list[SatisfactionIpaPoint] = strawberry.field(description="FIX_FIRST dimensions, highest priority first.")


@strawberry.type(description="Derived dimension weights (OLS with standard errors) and the importance–performance matrix.")
class SatisfactionDrivers:
    survey: str = strawberry.field(description="The survey's code.")
    target: SatisfactionDriverTarget = strawberry.field(description="What the weights explain.")  # type: ignore[valid-type]
    respondents: int = strawberry.field(description="Respondents with the target and every dimension answered: the regression's rows.")
    intercept: Optional[float] = strawberry.field(description="The regression's intercept.")
    r_squared: Optional[float] = strawberry.field(description="Share of the target's variance the dimensions explain.")
    ci_level: float = strawberry.field(description="Confidence level of the intervals.")
    warning: Optional[str] = strawberry.field(description="Why there are no weights (too few rows, collinear scores), for people (English).")
    weights: list[SatisfactionDriverWeight] = strawberry.field(description="One per dimension, in the model's order.")
    matrix: SatisfactionIpa = strawberry.field(description="The importance–performance matrix.")


@strawberry.type(description="One month of the index's trend.")
class SatisfactionTrendPoint:
    month: int = strawberry.field(description="The month, yyyymm.")
    respondents: int = strawberry.field(description="Respondents with an index that month.")
    index: Optional[float] = strawberry.field(description="Mean index, 0–100.")
    ci_low: Optional[float] = strawberry.field(description="Lower end of its t interval.")
    ci_high: Optional[float] = strawberry.field(description="Upper end of its t interval.")
    flag: Optional[TrendFlagValue] = strawberry.field(description="PEAK or TROUGH: significantly above or below the other months (Welch, Holm-adjusted).")  # type: ignore[valid-type]
    p_value: Optional[float] = strawberry.field(description="Holm-adjusted p-value against the other months.")
    change: Optional[float] = strawberry.field(description="Index points since the previous month with answers.")
    change_flag: Optional[ChangeFlagValue] = strawberry.field(description="RISE or FALL when the change is significant.")  # type: ignore[valid-type]
    change_p_value: Optional[float] = strawberry.field(description="Holm-adjusted p-value of the change.")


# -- building the objects ---------------------------------------------------------------------


def _figure(f) -> SatisfactionFigure:
    return SatisfactionFigure(count=f.count, mean=f.mean, ci_low=f.ci_low, ci_high=f.ci_high, satisfied=f.satisfied,
                              satisfied_ci_low=f.satisfied_ci_low, satisfied_ci_high=f.satisfied_ci_high)


def _dimension(layout, d: int) -> SatisfactionMeasure:
    return SatisfactionMeasure(code=layout.dimension_codes[d], zh=layout.dimension_zh[d], en=layout.dimension_en[d])


def _indicator(layout, byte: int) -> SatisfactionMeasure:
    i = layout.byte_indicator[byte]
    return SatisfactionMeasure(code=layout.indicator_codes[i], zh=layout.indicator_zh[i], en=layout.indicator_en[i])


def _slice(layout, s) -> SatisfactionSlice:
    return SatisfactionSlice(
        key=SatisfactionSliceKey(**{name: s.key.get(name) for name in ("store", "channel", "staff", "month", "rfm_segment", "tier")}),
        responses=s.responses, index=_figure(s.index),
        dimensions=[SatisfactionMeasureFigure(measure=_dimension(layout, d), figure=_figure(f)) for d, f in enumerate(s.dimensions)],
        indicators=[SatisfactionMeasureFigure(measure=_indicator(layout, j), figure=_figure(f)) for j, f in enumerate(s.indicators)],
        overall=_figure(s.overall), repurchase=_figure(s.repurchase),
        nps=SatisfactionNps(**vars(s.nps)), recommend=SatisfactionRecommend(**vars(s.recommend)),
    )


def _ipa_point(layout, p) -> SatisfactionIpaPoint:
    return SatisfactionIpaPoint(dimension=_dimension(layout, p.dimension), importance=p.importance,
                                performance=p.performance, quadrant=IpaQuadrant[p.quadrant], priority=p.priority)


def _finite(value: float) -> Optional[float]:
    return value if value == value else None  # NaN → null


def index_report(analysis, survey: str) -> SatisfactionIndexReport:
    layout = analysis.layout
    return SatisfactionIndexReport(
        survey=survey, ci_level=analysis.level, satisfied_from=analysis.satisfied_from,
        weights=[SatisfactionIndexWeight(dimension=_dimension(layout, d), weight=float(w)) for d, w in enumerate(analysis.weights)],
        total=_slice(layout, analysis.total()), slices=[_slice(layout, s) for s in analysis.slices()],
    )


def drivers_report(analysis, survey: str) -> SatisfactionDrivers:
    from plugins.satisfaction import drivers, ipa

    layout = analysis.layout
    derived = drivers.of_analysis(analysis)[0]
    matrix = ipa.of_analysis(analysis, derived)
    return SatisfactionDrivers(
        survey=survey, target=SatisfactionDriverTarget[derived.target], respondents=derived.respondents,
        intercept=derived.intercept, r_squared=derived.r_squared, ci_level=analysis.level, warning=derived.warning,
        weights=[SatisfactionDriverWeight(dimension=_dimension(layout, w.dimension), coefficient=w.coefficient,
                                          std_error=w.std_error, ci_low=w.ci_low, ci_high=w.ci_high, p_value=w.p_value,
                                          importance=w.importance) for w in derived.weights],
        matrix=SatisfactionIpa(importance_cut=_finite(matrix.importance_cut), performance_cut=_finite(matrix.performance_cut),
                               points=[_ipa_point(layout, p) for p in matrix.points],
                               fix_first=[_ipa_point(layout, p) for p in matrix.fix_first()]),
    )


def trend_points(analysis) -> list[SatisfactionTrendPoint]:
    from plugins.satisfaction import trend

    return [SatisfactionTrendPoint(
        month=p.month, respondents=p.respondents, index=p.index, ci_low=p.ci_low, ci_high=p.ci_high,
        flag=TrendFlag[p.flag] if p.flag else None, p_value=p.p_value, change=p.change,
        change_flag=ChangeFlag[p.change_flag] if p.change_flag else None, change_p_value=p.change_p_value,
    ) for p in trend.of_analysis(analysis)]


async def _analysed(info: strawberry.Info, survey: str, by=(), where=None, target=None):
    """index.analyse_survey in the caller's tenant, in a worker thread."""
    from plugins.satisfaction.index import analyse_survey

    ctx = info.context
    principal = ctx.principal

    def work():
        with ctx.gx.tenant(principal.tenant, actor=principal.actor, write=False) as tctx:
            return analyse_survey(tctx, survey, [g.lower() for g in by], _where(where), target)

    return await ctx.run(work)


SurveyArg = Annotated[str, strawberry.argument(description="The survey's code.")]
WhereArg = Annotated[Optional[SatisfactionAnalyticsWhere], strawberry.argument(description="Which responses; default all.")]


@strawberry.type(description="The satisfaction module's analytics: the index, its drivers and its trend.")
class SatisfactionAnalyticsQuery:
    @strawberry.field(description="The satisfaction index (indicators, dimensions, overall, NPS, recommend), overall and per slice.")
    async def satisfaction_index(
        self, info: strawberry.Info, survey: SurveyArg,
        by: Annotated[Optional[list[SatisfactionSliceBy]], strawberry.argument(  # type: ignore[valid-type]
            description="Slice by these, e.g. [STORE, MONTH]; default: no slices, the total only.")] = None,
        where: WhereArg = None,
    ) -> SatisfactionIndexReport:
        analysis = await _analysed(info, survey, code_of(by or []), where)
        return index_report(analysis, survey)

    @strawberry.field(description="Derived dimension weights with their uncertainty, and the importance–performance matrix.")
    async def satisfaction_drivers(
        self, info: strawberry.Info, survey: SurveyArg, where: WhereArg = None,
        target: Annotated[Optional[SatisfactionDriverTarget], strawberry.argument(  # type: ignore[valid-type]
            description="What the weights explain; default: the driver_target setting.")] = None,
    ) -> SatisfactionDrivers:
        analysis = await _analysed(info, survey, (), where, code_of(target))
        return drivers_report(analysis, survey)

    @strawberry.field(description="The index month by month, significant peaks, troughs and changes flagged.")
    async def satisfaction_trend(self, info: strawberry.Info, survey: SurveyArg,
                                 where: WhereArg = None) -> list[SatisfactionTrendPoint]:
        analysis = await _analysed(info, survey, ("MONTH",), where)
        return trend_points(analysis)
