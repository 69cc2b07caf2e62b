"""The block reader returns exactly the stored rows, aligned column by column,
against a plain row-by-row SELECT (several blocks, NULLs, every text column)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import numpy as np
import pytest
from sqlalchemy import select

from engine.bulk import insert_rows
from engine.models import Customer
from plugins.satisfaction import reader
from plugins.satisfaction.models import SatisfactionResponse
from plugins.satisfaction.surveys import create_survey, survey_layout


@pytest.mark.parametrize("scan_share", [0.0, 1e9], ids=["sqlite-scan", "index"])
def test_block_reader_matches_row_by_row(gx, make_tenant, monkeypatch, scan_share):
    """Both SQLite paths: the table scan by id ranges, the survey index with GROUP BY (PostgreSQL: one path)."""
    monkeypatch.setattr(reader, "_INDEX_BELOW_SHARE", scan_share)
    monkeypatch.setattr(reader, "_SCAN_IDS", 1_000)  # several ranges
    slug = make_tenant(modules=("satisfaction",))
    rnd = random.Random(4)
    with gx.tenant(slug) as ctx:
        survey = create_survey(ctx, {"code": "S4", "title_zh": "四维", "title_en": "Four", "model": "FOUR_DIMENSION"})
        other = create_survey(ctx, {"code": "S5", "title_zh": "四维", "title_en": "Four", "model": "FOUR_DIMENSION"})
        ids = insert_rows(ctx.session, Customer.__table__, [
            Customer(tenant_id=ctx.tenant_id, code=f"C{i}").model_dump(exclude={"id"}) for i in range(50)])
        width = survey_layout(ctx, survey.id).width
        rows = [dict(
            tenant_id=ctx.tenant_id, survey_id=survey.id if i % 7 else other.id, invitation_id=None,
            customer_id=rnd.choice(ids), source="WAVE", channel=rnd.choice(["LINK", "PHONE", "STORE"]),
            store=rnd.choice([None, "上海一店", "BJ-02", "a\tb"]), staff=rnd.choice([None, "王芳", "E1"]), case_id=None,
            answered_at=datetime(2025, 1, 1, tzinfo=timezone.utc), local_month=rnd.choice([202412, 202501, 202502]),
            scores=bytes(rnd.randint(0, 5) for _ in range(width)), overall=rnd.choice([None, 1, 5]),
            nps=rnd.choice([None, 0, 10]), recommend=rnd.choice([None, 1, 2, 3]), repurchase=rnd.choice([None, 3]),
            extra={}) for i in range(3_500)]
        insert_rows(ctx.session, SatisfactionResponse.__table__, rows)
    with gx.tenant(slug, write=False) as ctx:
        got = reader.read(ctx.session, ctx.tenant_id, survey.id, width, columns=("store", "channel", "staff"),
                          with_customers=True)
        t = SatisfactionResponse.__table__
        want = ctx.session.execute(select(t.c.customer_id, t.c.store, t.c.channel, t.c.staff, t.c.local_month, t.c.scores,
                                          t.c.overall, t.c.nps, t.c.recommend, t.c.repurchase)
                                   .where(t.c.tenant_id == ctx.tenant_id, t.c.survey_id == survey.id)).all()
        only_store = reader.read(ctx.session, ctx.tenant_id, survey.id, width, columns=("store",))
        february = reader.read(ctx.session, ctx.tenant_id, survey.id, width,
                               reader.Where(from_month=202502, store=["BJ-02"]))

    def label(coded, i):
        return coded.labels[coded.codes[i]]

    def missing(v):
        return -1 if v is None else v

    mine = sorted(
        (int(got.customer_id[i]), label(got.text["store"], i) or "", label(got.text["channel"], i),
         label(got.text["staff"], i) or "", int(got.local_month[i]), bytes(got.scores[i]), int(got.overall[i]),
         int(got.nps[i]), int(got.recommend[i]), int(got.repurchase[i]))
        for i in range(len(got)))
    theirs = sorted((r.customer_id, r.store or "", r.channel, r.staff or "", r.local_month, bytes(r.scores),
                     missing(r.overall), missing(r.nps), missing(r.recommend), missing(r.repurchase)) for r in want)
    assert len(mine) == 3_000 and mine == theirs
    # one text column rides in the packed integer: same stores, same rows
    assert sorted(label(only_store.text["store"], i) or "" for i in range(len(only_store))) == sorted(
        r.store or "" for r in want)
    assert only_store.customer_id is None
    assert len(february) == sum(1 for r in want if r.local_month >= 202502 and r.store == "BJ-02")
    assert np.all(february.local_month == 202502)


def test_slices_are_ordered_and_compact():
    responses = reader.Responses(
        scores=np.zeros((5, 1), np.uint8), overall=np.zeros(5, np.int8), nps=np.zeros(5, np.int8),
        recommend=np.zeros(5, np.int8), repurchase=np.zeros(5, np.int8),
        local_month=np.array([202501, 202412, 202501, 202501, 202412]),
        text={"store": reader.Coded(np.array([1, 0, 1, 0, 0]), [None, "A"])})
    cut = reader.slices(responses, ("store", "month"))
    assert cut.keys == [{"store": None, "month": 202412}, {"store": None, "month": 202501},
                        {"store": "A", "month": 202501}]
    assert cut.slice_of.tolist() == [2, 0, 2, 1, 0]
