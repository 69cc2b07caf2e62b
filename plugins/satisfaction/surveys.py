"""Index models and surveys: define, validate, look up, and the survey's layout.

A survey is an ordered list of questions. Kinds:

- ``SCALE``: 1–5 with the labels 非常满意 … 非常不满 (templates.SCALE_LABELS).
  ``target`` says what it measures: ``INDICATOR`` (then ``dimension`` and
  ``indicator`` name an indicator of the survey's index model; these are the
  bytes of ``satisfaction_responses.scores``, in question order),
  ``OVERALL`` (the ``overall`` column) or ``REPURCHASE`` (``repurchase``).
- ``NPS``: 0–10, the ``nps`` column.
- ``RECOMMEND``: yes / no / don't know (会/不会/不知道), the ``recommend`` column.
- ``CHOICE``: one (or, with ``multiple``, several) of ``options``; kept in ``extra``.
- ``TEXT``: free text up to ``TEXT_LIMIT`` characters; kept in ``extra``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.context import TenantContext
from engine.errors import Conflict, FieldError, ValidationFailed, not_found
from engine.input_bounds import text_problem
from plugins.satisfaction.models import SatisfactionIndexModel, SatisfactionSurvey
from plugins.satisfaction.templates import TEMPLATES, IndexModel, template_questions

QUESTION_KINDS = ("SCALE", "NPS", "RECOMMEND", "CHOICE", "TEXT")
SCALE_TARGETS = ("INDICATOR", "OVERALL", "REPURCHASE")
MAX_QUESTIONS = 60
MAX_OPTIONS = 30
TEXT_LIMIT = 2000
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


@dataclass(frozen=True)
class SurveyLayout:
    """What each byte of a response's ``scores`` means, for the analytics."""

    survey_id: int
    dimension_codes: tuple[str, ...]
    dimension_zh: tuple[str, ...]
    dimension_en: tuple[str, ...]
    indicator_codes: tuple[str, ...]  # "DIMENSION.INDICATOR", model order
    indicator_zh: tuple[str, ...]
    indicator_en: tuple[str, ...]
    indicator_dimension: tuple[int, ...]  # each indicator's dimension index
    byte_indicator: tuple[int, ...]  # for each byte position: its indicator index
    byte_dimension: tuple[int, ...]  # for each byte position: its dimension index
    has_overall: bool
    has_repurchase: bool
    has_nps: bool
    has_recommend: bool

    @property
    def width(self) -> int:
        return len(self.byte_indicator)


def _problem(errors: list[FieldError], field: str, message: str) -> None:
    errors.append(FieldError(field, message))


def _text(errors: list[FieldError], field: str, value: Any, limit: int = 200, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            _problem(errors, field, "is required")
        return None
    if not isinstance(value, str):
        _problem(errors, field, "must be text")
        return None
    value = value.strip()
    problem = text_problem(value)
    if problem:
        _problem(errors, field, problem)
    elif len(value) > limit:
        _problem(errors, field, f"is {len(value)} characters long; at most {limit}")
    return value


def _code(errors: list[FieldError], field: str, value: Any) -> str | None:
    if not isinstance(value, str) or not _CODE.match(value):
        _problem(errors, field, f"{value!r} must be an UPPER_SNAKE_CASE code of at most 32 characters")
        return None
    return value


# -- index models -------------------------------------------------------------------


def parse_index_model(data: dict, field: str = "") -> IndexModel:
    """An index model from input (code, zh, en, dimensions[{code, zh, en, indicators[{code, zh, en}]}])."""
    errors: list[FieldError] = []
    at = (lambda name: f"{field}.{name}" if field else name)
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError(field, "must be an object")])
    code = _code(errors, at("code"), data.get("code"))
    zh, en = _text(errors, at("zh"), data.get("zh")), _text(errors, at("en"), data.get("en"))
    dimensions = data.get("dimensions")
    if not isinstance(dimensions, list) or not dimensions:
        _problem(errors, at("dimensions"), "needs at least one dimension")
        dimensions = []
    if len(dimensions) > 20:
        _problem(errors, at("dimensions"), f"has {len(dimensions)} dimensions; at most 20")
    seen: set[str] = set()
    for d_index, dimension in enumerate(dimensions):
        where = at(f"dimensions[{d_index}]")
        if not isinstance(dimension, dict):
            _problem(errors, where, "must be an object")
            continue
        d_code = _code(errors, f"{where}.code", dimension.get("code"))
        if d_code in seen:
            _problem(errors, f"{where}.code", f"dimension {d_code} is listed twice")
        seen.add(d_code)
        _text(errors, f"{where}.zh", dimension.get("zh"))
        _text(errors, f"{where}.en", dimension.get("en"))
        indicators = dimension.get("indicators")
        if not isinstance(indicators, list) or not indicators:
            _problem(errors, f"{where}.indicators", "needs at least one indicator")
            continue
        codes: set[str] = set()
        for i_index, indicator in enumerate(indicators):
            i_where = f"{where}.indicators[{i_index}]"
            if not isinstance(indicator, dict):
                _problem(errors, i_where, "must be an object")
                continue
            i_code = _code(errors, f"{i_where}.code", indicator.get("code"))
            if i_code in codes:
                _problem(errors, f"{i_where}.code", f"indicator {i_code} is listed twice in {d_code}")
            codes.add(i_code)
            _text(errors, f"{i_where}.zh", indicator.get("zh"))
            _text(errors, f"{i_where}.en", indicator.get("en"))
    if errors:
        raise ValidationFailed(errors)
    return IndexModel.from_dict({"code": code, "zh": zh, "en": en, "dimensions": [
        {"code": d["code"], "zh": d["zh"].strip(), "en": d["en"].strip(),
         "indicators": [{"code": i["code"], "zh": i["zh"].strip(), "en": i["en"].strip()} for i in d["indicators"]]}
        for d in dimensions]})


def create_index_model(ctx: TenantContext, data: dict) -> SatisfactionIndexModel:
    model = parse_index_model(data)
    if model.code in TEMPLATES:
        raise ValidationFailed([FieldError("code", f"{model.code} is a shipped template's code; choose another")])
    exists = ctx.session.execute(select(SatisfactionIndexModel.id).where(
        SatisfactionIndexModel.tenant_id == ctx.tenant_id, SatisfactionIndexModel.code == model.code)).first()
    if exists:
        raise Conflict([FieldError("code", f"an index model {model.code} exists already", "CONFLICT")])
    row = SatisfactionIndexModel(tenant_id=ctx.tenant_id, code=model.code, name_zh=model.zh, name_en=model.en,
                                 dimensions=model.as_dict()["dimensions"])
    ctx.session.add(row)
    ctx.session.flush()
    return row


def index_models(ctx: TenantContext) -> list[IndexModel]:
    """The shipped templates, then the tenant's own models."""
    rows = ctx.session.execute(select(SatisfactionIndexModel).where(
        SatisfactionIndexModel.tenant_id == ctx.tenant_id).order_by(SatisfactionIndexModel.code)).scalars()
    return list(TEMPLATES.values()) + [_model_of(row) for row in rows]


def _model_of(row: SatisfactionIndexModel) -> IndexModel:
    return IndexModel.from_dict({"code": row.code, "zh": row.name_zh, "en": row.name_en, "dimensions": row.dimensions})


def find_index_model(ctx: TenantContext, code: str, field: str = "model") -> IndexModel:
    if code in TEMPLATES:
        return TEMPLATES[code]
    row = ctx.session.execute(select(SatisfactionIndexModel).where(
        SatisfactionIndexModel.tenant_id == ctx.tenant_id, SatisfactionIndexModel.code == code)).scalar_one_or_none()
    if row is None:
        raise ValidationFailed([FieldError(field, f"no index model {code!r} (templates: {', '.join(TEMPLATES)})", "NOT_FOUND")])
    return _model_of(row)


# -- surveys ----------------------------------------------------------------------------


def _question(errors: list[FieldError], index: int, data: Any, model: IndexModel, used: dict[str, Any]) -> dict | None:
    where = f"questions[{index}]"
    if not isinstance(data, dict):
        _problem(errors, where, "must be an object")
        return None
    unknown = set(data) - {"code", "kind", "target", "dimension", "indicator", "zh", "en", "required", "options", "multiple"}
    for key in sorted(unknown):
        _problem(errors, f"{where}.{key}", "unknown field")
    code = _code(errors, f"{where}.code", data.get("code"))
    if code is not None and code in used["codes"]:
        _problem(errors, f"{where}.code", f"question {code} is listed twice")
    used["codes"].add(code)
    kind = data.get("kind")
    if kind not in QUESTION_KINDS:
        _problem(errors, f"{where}.kind", f"{kind!r} is not one of {', '.join(QUESTION_KINDS)}")
        return None
    question = {"code": code, "kind": kind, "zh": _text(errors, f"{where}.zh", data.get("zh"), 500),
                "en": _text(errors, f"{where}.en", data.get("en"), 500), "required": bool(data.get("required", False))}
    if kind == "SCALE":
        target = data.get("target", "INDICATOR")
        if target not in SCALE_TARGETS:
            _problem(errors, f"{where}.target", f"{target!r} is not one of {', '.join(SCALE_TARGETS)}")
            return None
        question["target"] = target
        if target == "INDICATOR":
            dimension = next((d for d in model.dimensions if d.code == data.get("dimension")), None)
            if dimension is None:
                _problem(errors, f"{where}.dimension", f"{data.get('dimension')!r} is not a dimension of {model.code} "
                         f"({', '.join(d.code for d in model.dimensions)})")
                return None
            indicator = next((i for i in dimension.indicators if i.code == data.get("indicator")), None)
            if indicator is None:
                _problem(errors, f"{where}.indicator", f"{data.get('indicator')!r} is not an indicator of {dimension.code} "
                         f"({', '.join(i.code for i in dimension.indicators)})")
                return None
            key = f"{dimension.code}.{indicator.code}"
            if key in used["indicators"]:
                _problem(errors, f"{where}.indicator", f"{key} is asked twice")
            used["indicators"].add(key)
            question.update(dimension=dimension.code, indicator=indicator.code)
        elif target in used["singles"]:
            _problem(errors, f"{where}.target", f"a survey has at most one {target} question")
        else:
            used["singles"].add(target)
    elif kind in ("NPS", "RECOMMEND"):
        if kind in used["singles"]:
            _problem(errors, f"{where}.kind", f"a survey has at most one {kind} question")
        used["singles"].add(kind)
    elif kind == "CHOICE":
        options = data.get("options")
        if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS:
            _problem(errors, f"{where}.options", f"needs 2 to {MAX_OPTIONS} options")
            return None
        parsed, codes = [], set()
        for o_index, option in enumerate(options):
            o_where = f"{where}.options[{o_index}]"
            if not isinstance(option, dict):
                _problem(errors, o_where, "must be an object {code, zh, en}")
                continue
            o_code = _code(errors, f"{o_where}.code", option.get("code"))
            if o_code in codes:
                _problem(errors, f"{o_where}.code", f"option {o_code} is listed twice")
            codes.add(o_code)
            parsed.append({"code": o_code, "zh": _text(errors, f"{o_where}.zh", option.get("zh")),
                           "en": _text(errors, f"{o_where}.en", option.get("en"))})
        question.update(options=parsed, multiple=bool(data.get("multiple", False)))
    return question


def parse_questions(questions: Any, model: IndexModel) -> list[dict]:
    errors: list[FieldError] = []
    if not isinstance(questions, list) or not questions:
        raise ValidationFailed([FieldError("questions", "needs at least one question")])
    if len(questions) > MAX_QUESTIONS:
        raise ValidationFailed([FieldError("questions", f"has {len(questions)} questions; at most {MAX_QUESTIONS}")])
    used: dict[str, Any] = {"codes": set(), "indicators": set(), "singles": set()}
    parsed = [_question(errors, index, data, model, used) for index, data in enumerate(questions)]
    if errors:
        raise ValidationFailed(errors)
    if not any(q["kind"] == "SCALE" or q["kind"] == "NPS" for q in parsed):
        raise ValidationFailed([FieldError("questions", "needs at least one SCALE or NPS question")])
    return parsed


def create_survey(ctx: TenantContext, data: dict) -> SatisfactionSurvey:
    """A survey from input: code, titleZh/En (title_zh, title_en), model (an index
    model code) and either questions, or nothing to take the model's standard
    questionnaire (templates.template_questions)."""
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("", "input must be an object")])
    errors: list[FieldError] = []
    for key in sorted(set(data) - {"code", "title_zh", "title_en", "model", "questions"}):
        errors.append(FieldError(key, "unknown field"))
    code = _code(errors, "code", data.get("code"))
    title_zh = _text(errors, "title_zh", data.get("title_zh"))
    title_en = _text(errors, "title_en", data.get("title_en"))
    model_code = data.get("model") or "VIPSHOP_5X19"
    if errors:
        raise ValidationFailed(errors)
    model = find_index_model(ctx, model_code)
    questions = data.get("questions")
    questions = parse_questions(template_questions(model) if questions is None else questions, model)
    exists = ctx.session.execute(select(SatisfactionSurvey.id).where(
        SatisfactionSurvey.tenant_id == ctx.tenant_id, SatisfactionSurvey.code == code)).first()
    if exists:
        raise Conflict([FieldError("code", f"a survey {code} exists already", "CONFLICT")])
    survey = SatisfactionSurvey(tenant_id=ctx.tenant_id, code=code, title_zh=title_zh, title_en=title_en,
                                model=model.as_dict(), questions=questions, created_by=ctx.actor)
    ctx.session.add(survey)
    ctx.session.flush()
    return survey


def get_survey(ctx: TenantContext, survey_id: int, field: str = "survey_id") -> SatisfactionSurvey:
    survey = ctx.session.get(SatisfactionSurvey, survey_id)
    if survey is None or survey.tenant_id != ctx.tenant_id:
        raise not_found(field, f"no survey {survey_id} in this tenant")
    return survey


def survey_by_code(ctx: TenantContext, code: str, field: str = "survey") -> SatisfactionSurvey:
    survey = ctx.session.execute(select(SatisfactionSurvey).where(
        SatisfactionSurvey.tenant_id == ctx.tenant_id, SatisfactionSurvey.code == code)).scalar_one_or_none()
    if survey is None:
        raise not_found(field, f"no survey {code!r} in this tenant")
    return survey


def archive_survey(ctx: TenantContext, survey_id: int) -> SatisfactionSurvey:
    """No new invitations; open links still accept their answer until they expire."""
    survey = get_survey(ctx, survey_id)
    survey.status = "ARCHIVED"
    ctx.session.add(survey)
    ctx.session.flush()
    return survey


def scale_questions(survey: SatisfactionSurvey) -> list[dict]:
    """The questions stored as bytes of ``scores``, in byte order."""
    return [q for q in survey.questions if q["kind"] == "SCALE" and q.get("target") == "INDICATOR"]


def layout_of(survey: SatisfactionSurvey) -> SurveyLayout:
    model = IndexModel.from_dict(survey.model)
    dims = model.dimensions
    indicators = [(d_index, d, i) for d_index, d in enumerate(dims) for i in d.indicators]
    position = {f"{d.code}.{i.code}": n for n, (_, d, i) in enumerate(indicators)}
    byte_indicator = tuple(position[f"{q['dimension']}.{q['indicator']}"] for q in scale_questions(survey))
    kinds = {(q["kind"], q.get("target")) for q in survey.questions}
    return SurveyLayout(
        survey_id=survey.id,
        dimension_codes=tuple(d.code for d in dims), dimension_zh=tuple(d.zh for d in dims),
        dimension_en=tuple(d.en for d in dims),
        indicator_codes=tuple(f"{d.code}.{i.code}" for _, d, i in indicators),
        indicator_zh=tuple(i.zh for _, _, i in indicators), indicator_en=tuple(i.en for _, _, i in indicators),
        indicator_dimension=tuple(d_index for d_index, _, _ in indicators),
        byte_indicator=byte_indicator,
        byte_dimension=tuple(indicators[n][0] for n in byte_indicator),
        has_overall=("SCALE", "OVERALL") in kinds, has_repurchase=("SCALE", "REPURCHASE") in kinds,
        has_nps=("NPS", None) in kinds, has_recommend=("RECOMMEND", None) in kinds,
    )


def survey_layout(ctx: TenantContext, survey_id: int) -> SurveyLayout:
    """The survey's index model and byte order (read by the analytics)."""
    return layout_of(get_survey(ctx, survey_id))
