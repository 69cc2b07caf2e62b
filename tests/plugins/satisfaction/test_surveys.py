"""Index models and surveys: the shipped templates, a tenant's own model, questions
validated with the question named, and the byte layout the analytics read."""

from __future__ import annotations

import pytest

from engine.errors import Conflict, ValidationFailed
from plugins.satisfaction.surveys import create_index_model, create_survey, index_models, survey_layout
from plugins.satisfaction.templates import FOUR_DIMENSION, VIPSHOP


def test_the_templates_are_the_5x19_index_and_the_4_dimension_model():
    assert [(d.code, len(d.indicators)) for d in VIPSHOP.dimensions] == [
        ("WEBSITE", 3), ("PRODUCT", 4), ("PAYMENT", 3), ("SERVICE", 5), ("LOGISTICS", 4)]
    assert VIPSHOP.indicator_count == 19
    assert [d.zh for d in FOUR_DIMENSION.dimensions] == ["产品功能", "服务质量", "售后支持", "用户体验"]


def test_a_template_survey_lays_out_one_byte_per_indicator(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        survey = create_survey(ctx, {"code": "CSI", "title_zh": "调查", "title_en": "Survey"})  # VIPSHOP_5X19 by default
        layout = survey_layout(ctx, survey.id)
    assert layout.width == 19 and layout.dimension_codes == ("WEBSITE", "PRODUCT", "PAYMENT", "SERVICE", "LOGISTICS")
    assert layout.byte_dimension == (0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4)
    assert layout.indicator_codes[3] == "PRODUCT.QUALITY" and layout.indicator_zh[3] == "商品质量"
    assert layout.has_overall and layout.has_repurchase and layout.has_nps and layout.has_recommend


def test_a_tenant_model_and_a_custom_questionnaire_in_its_own_order(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        create_index_model(ctx, {"code": "STORE_VISIT", "zh": "到店体验", "en": "Store visit", "dimensions": [
            {"code": "STAFF", "zh": "店员", "en": "Staff", "indicators": [{"code": "FRIENDLY", "zh": "热情", "en": "Friendly"},
                                                                           {"code": "SKILLED", "zh": "专业", "en": "Skilled"}]},
            {"code": "STORE", "zh": "门店", "en": "Store", "indicators": [{"code": "CLEAN", "zh": "整洁", "en": "Clean"}]}]})
        assert [m.code for m in index_models(ctx)] == ["VIPSHOP_5X19", "FOUR_DIMENSION", "STORE_VISIT"]
        survey = create_survey(ctx, {"code": "VISIT", "title_zh": "到店", "title_en": "Visit", "model": "STORE_VISIT", "questions": [
            {"code": "CLEAN", "kind": "SCALE", "dimension": "STORE", "indicator": "CLEAN", "zh": "门店整洁吗", "en": "Clean?"},
            {"code": "FRIENDLY", "kind": "SCALE", "dimension": "STAFF", "indicator": "FRIENDLY", "zh": "热情吗", "en": "Friendly?"},
            {"code": "WHY", "kind": "CHOICE", "zh": "为何来店", "en": "Why", "options": [
                {"code": "BUY", "zh": "购物", "en": "Buy"}, {"code": "RETURN", "zh": "退货", "en": "Return"}]}]})
        layout = survey_layout(ctx, survey.id)
    assert layout.indicator_codes == ("STAFF.FRIENDLY", "STAFF.SKILLED", "STORE.CLEAN")
    assert layout.byte_indicator == (2, 0) and layout.byte_dimension == (1, 0)
    assert not layout.has_overall and not layout.has_nps


def test_question_errors_name_the_question(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as failed:
        create_survey(ctx, {"code": "BAD", "title_zh": "坏", "title_en": "Bad", "model": "FOUR_DIMENSION", "questions": [
            {"code": "Q1", "kind": "SCALE", "dimension": "NOPE", "indicator": "X", "zh": "a", "en": "a"},
            {"code": "Q2", "kind": "STARS", "zh": "b", "en": "b"},
            {"code": "Q3", "kind": "CHOICE", "zh": "c", "en": "c", "options": [{"code": "A", "zh": "a", "en": "a"}]},
            {"code": "Q4", "kind": "NPS", "zh": "d", "en": "d"}, {"code": "Q5", "kind": "NPS", "zh": "e", "en": "e"},
            {"code": "Q4", "kind": "TEXT", "zh": "", "en": "f"}]})
    fields = {e.field for e in failed.value.errors}
    assert fields == {"questions[0].dimension", "questions[1].kind", "questions[2].options", "questions[4].kind",
                      "questions[5].code", "questions[5].zh"}


def test_codes_are_unique_and_templates_reserved(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        create_survey(ctx, {"code": "CSI", "title_zh": "调查", "title_en": "Survey"})
        with pytest.raises(Conflict):
            create_survey(ctx, {"code": "CSI", "title_zh": "调查", "title_en": "Survey"})
        with pytest.raises(ValidationFailed, match="template"):
            create_index_model(ctx, {"code": "VIPSHOP_5X19", "zh": "x", "en": "x", "dimensions": [
                {"code": "A", "zh": "a", "en": "a", "indicators": [{"code": "B", "zh": "b", "en": "b"}]}]})
        with pytest.raises(ValidationFailed) as failed:
            create_survey(ctx, {"code": "X", "title_zh": "x", "title_en": "x", "model": "NOPE"})
        assert failed.value.errors[0].field == "model"
