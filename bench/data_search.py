"""Customer search at scale (docs/search.md): 1,000,000 customers with
realistic Chinese names in one tenant (50,000 with --quick) and a tenth as
many in another, on SQLite and PostgreSQL; p50/p90 of each kind of search
through the service the API uses (engine.services.search): full pinyin,
initials, phone last 4, a tag in letters (VIP) and in characters (新客), and
in characters a family name (王), a whole name (王芳) and a given name (芳).
Against an anchor measured in the same run and interleaved: a primary-key
lookup of a customer through the same session. The old substring search (a
LIKE over every customer) is timed on a few queries for comparison.

    .venv/bin/python -m bench.data --only search [--quick]
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from bench.ingest import drop_postgres, postgres_url
from engine.bulk import analyze, insert_rows
from engine.db import make_migration_engine
from engine.models import Customer
from engine.pinyin import name_prefixes
from engine.services.search import index_tags, search_columns, search_customers
from engine.testing import engine_on, new_tenant
from engine.types import utcnow

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "芳伟娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏飞燕慧建国晨宇浩然欣怡佳琪子涵梓轩雨婷思远嘉怡文博俊杰晓婷"
TAGS = [("VIP", 0.05), ("新客", 0.2), ("老客", 0.15), ("敏感肌", 0.1), ("高消费", 0.03), ("学生", 0.08), ("生日月", 0.08), ("沉睡", 0.01)]
CHUNK = 20_000
QUERIES = 200  # per kind


def _name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2, 2, 2))))


@lru_cache(maxsize=None)
def _name_columns(name: str) -> dict:
    """The name's search columns, once per distinct name (pinyin is the slow part of filling)."""
    return {k: v for k, v in search_columns(name, None).items() if k != "phone_last4"}


def _phone(k: int) -> str:
    """The k-th customer's mobile: distinct for k < 10^8 (one live customer per phone), scattered last digits."""
    return f"1{30 + k % 60}{(k * 48_271 + 12_345) % 100_000_000:08d}"


def _rows(rnd: random.Random, tenant_id: int, first: int, n: int) -> list[dict]:
    now = utcnow()
    rows = []
    for k in range(first, first + n):
        name = _name(rnd)
        phone = _phone(k)
        rows.append({
            "tenant_id": tenant_id, "name": name, "phone": phone, **_name_columns(name),
            "phone_last4": phone[-4:], "tags": [t for t, share in TAGS if rnd.random() < share],
            "role": "POTENTIAL", "lifecycle_stage": "EXPLORATION", "attributes": {}, "consent": {},
            "created_at": now, "updated_at": now,
        })
    return rows


def _fill(gx, slug: str, n: int) -> list[dict]:
    """n customers in chunks; returns a sample of them to search for."""
    rnd = random.Random(19)
    sample = []
    for start in range(0, n, CHUNK):
        with gx.tenant(slug) as ctx:
            rows = _rows(rnd, ctx.tenant_id, start, min(CHUNK, n - start))
            ids = insert_rows(ctx.session, Customer.__table__, rows)
            index_tags(ctx.session, ctx.tenant_id, [(i, row["tags"]) for i, row in zip(ids, rows)],
                       {i: row["name_pinyin"] for i, row in zip(ids, rows)})
            sample += [dict(row, id=i) for i, row in zip(ids, rows) if rnd.random() < 0.01]
    with gx.tenant(slug) as ctx:
        analyze(ctx.session, ["customers", "customer_tags"])
    if gx.engine.dialect.name == "postgresql":
        _vacuum(gx)
    return sample


def _vacuum(gx) -> None:
    """What autovacuum does after bulk inserts (PostgreSQL 13+): mark the pages
    all-visible, so index-only reads need not visit the table. As the owner."""
    engine = make_migration_engine(gx.settings).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("VACUUM customers, customer_tags")
    engine.dispose()


def _ms(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _p(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q * 100) - 1], 3) if len(values) > 1 else round(values[0], 3)


def _measure(url: str, n: int, quick: bool) -> dict:
    gx = engine_on(url)
    slug = new_tenant(gx)
    other = new_tenant(gx)  # a second tenant's customers are in the same tables
    started = time.perf_counter()
    sample = _fill(gx, slug, n)
    _fill(gx, other, n // 10)
    fill_s = time.perf_counter() - started
    rnd = random.Random(5)
    picks = [rnd.choice(sample) for _ in range(QUERIES)]
    kinds = {
        "pinyin": [c["name_pinyin"] for c in picks],
        "initials": [c["name_initials"] for c in picks],
        "phone_last4": [c["phone_last4"] for c in picks],
        "tag": [rnd.choice(TAGS[:1])[0] for _ in picks],
        "han_tag": [rnd.choice(TAGS[1:])[0] for _ in picks],
        "han_surname": [c["name"][0] for c in picks],
        "han_name": [c["name"] for c in picks],
        "han_given": [name_prefixes(c["name"])[1] for c in picks],
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    anchor: list[float] = []
    found: dict[str, int] = {kind: 0 for kind in kinds}
    with gx.tenant(slug, write=False) as ctx:
        s, tenant_id = ctx.session, ctx.tenant_id
        lookup = sa.select(Customer).where(Customer.tenant_id == tenant_id, Customer.id == sa.bindparam("id"))
        for i in range(QUERIES):  # interleaved: each search next to a primary-key lookup
            for kind, texts in kinds.items():
                times[kind].append(_ms(lambda: found.__setitem__(kind, found[kind] + len(search_customers(s, tenant_id, texts[i])))))
                s.expunge_all()
                anchor.append(_ms(lambda: s.execute(lookup, {"id": picks[i]["id"]}).scalars().all()))
                s.expunge_all()
        old = sa.select(Customer).where(Customer.tenant_id == tenant_id, Customer.deleted_at.is_(None),
                                        Customer.name.ilike(sa.bindparam("p"))).order_by(Customer.id).limit(20)
        substring = [_ms(lambda: s.execute(old, {"p": f"%{c['name'][1:]}%"}).scalars().all()) for c in picks[:10]]
    gx.engine.dispose()
    every = [t for kind in kinds for t in times[kind]]
    out = {"p50_ms": _p(every, 0.5), "p90_ms": _p(every, 0.9), "anchor_pk_lookup_p50_ms": _p(anchor, 0.5),
           "ratio_vs_pk_lookup": round(_p(every, 0.5) / _p(anchor, 0.5), 2),
           "old_substring_p50_ms": _p(substring, 0.5), "fill_s": round(fill_s, 1)}
    for kind in kinds:
        out[f"{kind}_p50_ms"] = _p(times[kind], 0.5)
        out[f"{kind}_p90_ms"] = _p(times[kind], 0.9)
        out[f"{kind}_mean_found"] = round(found[kind] / QUERIES, 1)
    return out


def run(args) -> dict:
    n = 50_000 if args.quick else 1_000_000
    result: dict = {"customers": n, "queries_per_kind": QUERIES, "limit": 20}
    with tempfile.TemporaryDirectory() as folder:
        for key, value in _measure(f"sqlite:///{Path(folder) / 'search.db'}", n, args.quick).items():
            result[f"search_{key}_sqlite" if key == "p50_ms" else f"sqlite_{key}"] = value
    url = postgres_url()
    if url is None:
        result["search_p50_ms_postgres"] = None
        return result
    try:
        for key, value in _measure(url, n, args.quick).items():
            result[f"search_{key}_postgres" if key == "p50_ms" else f"postgres_{key}"] = value
    finally:
        drop_postgres(url)
    return result
