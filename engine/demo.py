"""A realistic demo tenant: a Chinese beauty retail chain with two years of history.

Seasonality follows the retail calendar the literature describes (Spring
Festival, 618, Double 11, Double 12); names are Chinese and English; there
are several stores and channels, refunds, visits, consultations, feedback
and complaints. Everything goes through the engine's real bulk path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import random

import numpy as np
from sqlalchemy import select

from engine.bulk import analyze, insert_rows
from engine.errors import GuanxiError
from engine.jobs import run_jobs
from engine.scoring import run_scoring

from engine.models import Customer, Tenant
from engine.runtime import Guanxi
from engine.services.interactions import record_interactions
from engine.services.keys import create_key
from engine.services.modules import set_enabled
from engine.services.search import index_tags, with_search_columns
from engine.services.tenants import create_tenant
from engine.types import utcnow

DEMO_SLUG = "demo"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英玲华红梅琳婷雪慧颖佳欣怡晨宇浩然子涵思雨梓萱诗琪雅婷"
EN_FIRST = ["Emma", "Olivia", "Ava", "Sophia", "Mia", "Grace", "Lily", "Chloe", "Zoe", "Ella", "Jack", "Leo", "Ethan", "Lucas", "Ryan", "Kevin", "Tony", "Vivian", "Cindy", "Amy"]
EN_LAST = ["Wang", "Li", "Zhang", "Chen", "Smith", "Lee", "Wong", "Chan", "Brown", "Liu"]
STORES = ["SH-NJR 上海南京路店", "BJ-SLT 北京三里屯店", "GZ-TH 广州天河店", "SZ-WXC 深圳万象城店", "CD-CXL 成都春熙路店", "ONLINE 官方商城"]
STAFF = [f"staff-{i:02d}" for i in range(1, 25)]
CITIES = ["上海", "北京", "广州", "深圳", "成都", "杭州", "南京", "武汉", "Hong Kong", "Singapore"]
SKIN = ["干性", "油性", "混合性", "中性", "敏感性"]
TAGS = ["VIP", "敏感肌", "学生", "白领", "美妆达人", "孕期", "男士护理", "直播粉丝"]
PURCHASE_CHANNELS = ["IN_STORE", "WECHAT", "APP", "WEB"]
CONTACT_CHANNELS = ["PHONE", "WECHAT", "HOTLINE", "APP", "IN_STORE"]
# Relative sales intensity by month (Jan..Dec): Spring Festival, 618, Double 11/12.
MONTH_WEIGHT = np.array([1.3, 1.1, 0.9, 0.9, 1.0, 1.5, 0.9, 0.9, 1.0, 1.1, 2.2, 1.6])


@dataclass
class DemoResult:
    created: bool
    customers: int
    interactions: int
    admin_key: str
    notes: list[str] = field(default_factory=list)


def _name(rnd: random.Random) -> str:
    if rnd.random() < 0.8:
        return rnd.choice(SURNAMES) + "".join(rnd.choices(GIVEN, k=rnd.randint(1, 2)))
    return f"{rnd.choice(EN_FIRST)} {rnd.choice(EN_LAST)}"


def generate_demo(
    gx: Guanxi,
    customers: int = 20_000,
    seed: int = 7,
    days: int = 730,
    end: datetime | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> DemoResult:
    """Create the demo tenant unless it exists; always returns a fresh admin key.

    The order matters, each stage building on what the one before left:

    1. customers and two years of back-dated interactions (complaints open
       their cases, purchases earn loyalty points);
    2. the periodic jobs that do not look at the modules' demo history catch
       up (tiers settle, lifecycle stages, ...), then RFM and CLV score every
       buyer: modules whose demo data reads scores (campaign segments,
       lifecycle) find them;
    3. each module adds its history (``guanxi_demo_data``, dependency
       order): complaint cases worked through the workflow at past times,
       loyalty redemptions at past times, ...;
    4. the jobs that catch up on that history run last (``HISTORY_JOBS``):
       the SLA sweep escalates only the cases still open and overdue now
       (before step 3 it would have escalated every case, all still
       received), and points expire after the redemptions that spent them;
    5. table statistics are refreshed for the first queries.
    """
    with gx.system() as session:
        tenant = session.execute(select(Tenant).where(Tenant.slug == DEMO_SLUG)).scalars().first()
        if tenant is not None:
            return DemoResult(False, 0, 0, create_key(session, tenant, "ADMIN", "demo admin", actor="demo").secret)
        tenant = create_tenant(session, DEMO_SLUG, "美丽人生 Belle Vie Beauty (demo)", "CNY", "Asia/Shanghai", "zh-CN", actor="demo")
        for name in gx.plugins.modules:
            set_enabled(session, gx.plugins, tenant.id, name, True, actor="demo")
        admin_key = create_key(session, tenant, "ADMIN", "demo admin", actor="demo").secret
        tenant_id = tenant.id

    rnd = random.Random(seed)
    end = end or datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    customer_ids = _insert_customers(gx, tenant_id, customers, rnd, start, days)
    items = _interactions(np.random.default_rng(seed), rnd, customer_ids, start, end, days)
    total = len(items)
    done = 0
    chunk = 20_000
    for offset in range(0, total, chunk):
        with gx.tenant(tenant_id, actor="demo") as ctx:
            result = record_interactions(ctx, items[offset : offset + chunk])
            if result.errors:
                index, errors = next(iter(result.errors.items()))
                raise RuntimeError(f"demo item {index} rejected: {errors}")
        done += min(chunk, total - offset)
        if on_progress:
            on_progress(done, total, "interactions")
    notes = _catch_up(gx, on_progress)
    notes += _module_demo_data(gx, seed)
    notes += _run_jobs(gx, _history_jobs(gx))
    _refresh_statistics(gx)
    return DemoResult(True, customers, total, admin_key, notes)


def _refresh_statistics(gx: Guanxi) -> None:
    """A bulk load outruns autovacuum: measure what it filled (every table of
    the installed code), so the first queries are planned on real sizes.
    Under row-level security a plan made on a plugin table's empty-table
    statistics took a 100-customer page from 17 to 55 ms of database time."""
    from engine.migrations import table_owners

    with gx.system() as session:
        analyze(session, sorted(table_owners(gx)))


# Periodic jobs that catch up on history the modules' demo data adds, so they
# run after it: the SLA sweep would escalate cases the complaints demo then
# works; expiry would take points the loyalty demo's past redemptions spent.
HISTORY_JOBS = ("complaints.sla_sweep", "loyalty.expire_points")


def _tenant_jobs(gx: Guanxi) -> list[str]:
    from engine.jobs import jobs_for
    from engine.services.modules import enabled_modules

    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        enabled = enabled_modules(ctx.session, ctx.tenant_id) & frozenset(gx.plugins.modules)
    return [job.name for job in jobs_for(gx.plugins, enabled)]


def _history_jobs(gx: Guanxi) -> list[str]:
    return [name for name in _tenant_jobs(gx) if name in HISTORY_JOBS]


def _run_jobs(gx: Guanxi, names: list[str]) -> list[str]:
    if not names:  # run_jobs runs every job when given none
        return []
    return [f"{name}: {result}" for name, result in run_jobs(gx, DEMO_SLUG, names, actor="demo").items()]


def _catch_up(gx: Guanxi, on_progress) -> list[str]:
    """Bring two years of back-dated history up to today, as the periodic jobs
    and a first scoring run would have: tiers settle, stages move, every buyer
    gets RFM and CLV scores. The jobs in HISTORY_JOBS wait for the modules'
    demo data (generate_demo)."""
    if on_progress:
        on_progress(0, 2, "periodic jobs")
    notes = _run_jobs(gx, [name for name in _tenant_jobs(gx) if name not in HISTORY_JOBS])
    if on_progress:
        on_progress(1, 2, "scoring")
    for module in ("rfm", "clv"):
        if module not in gx.plugins.modules:
            continue
        try:
            with gx.tenant(DEMO_SLUG, actor="demo") as ctx:
                [report] = run_scoring(ctx, [module])
            notes.append(f"{module}: {report.scored} customers scored")
        except GuanxiError as error:  # the demo still works without this module's scores
            notes.append(f"{module}: not scored ({error})")
    if on_progress:
        on_progress(2, 2, "done")
    return notes


def dependency_order(modules: dict) -> list[str]:
    """Module names with each after the modules it depends on (registration order otherwise)."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in modules:
            return
        for dep in modules[name].depends_on:
            visit(dep)
        ordered.append(name)

    for name in modules:
        visit(name)
    return ordered


def _module_demo_data(gx: Guanxi, seed: int) -> list[str]:
    """Each module adds its own share (guanxi_demo_data), after the modules it
    builds on, in a transaction of its own; global plugins last."""
    impls = {gx.plugins.plugin_label(impl.plugin): impl for impl in gx.plugins.hook.guanxi_demo_data.get_hookimpls()}
    names = dependency_order(gx.plugins.modules) + sorted(set(impls) - set(gx.plugins.modules))
    notes = []
    for name in names:
        impl = impls.get(name)
        if impl is None:
            continue
        with gx.tenant(DEMO_SLUG, actor="demo") as ctx:
            args = {"ctx": ctx, "seed": seed}
            note = impl.function(*[args[arg] for arg in impl.argnames])
        if note:
            notes.append(f"{name}: {note}")
    return notes


MOBILE_PREFIXES = ("135", "138", "139", "150", "158", "177", "186", "188", "199")


def _phone(rnd: random.Random, i: int) -> str:
    """A real-looking mainland mobile in E.164, unique per customer (one live customer per phone)."""
    return f"+86{rnd.choice(MOBILE_PREFIXES)}{i:08d}"


def _insert_customers(gx: Guanxi, tenant_id: int, n: int, rnd: random.Random, start: datetime, days: int) -> list[int]:
    now = utcnow()
    rows = []
    for i in range(n):
        rows.append(
            {
                "tenant_id": tenant_id, "code": f"C{i + 1:06d}", "name": _name(rnd),
                "gender": rnd.choices(["FEMALE", "MALE", "UNKNOWN"], weights=[78, 20, 2])[0],
                "birthday": date(rnd.randint(1965, 2005), rnd.randint(1, 12), rnd.randint(1, 28)),
                "phone": _phone(rnd, i),
                "email": f"user{i + 1}@example.com" if rnd.random() < 0.6 else None,
                "wechat_id": f"wx_{i + 1:06d}" if rnd.random() < 0.7 else None,
                "city": rnd.choice(CITIES), "skin_type": rnd.choice(SKIN),
                "acquisition_channel": rnd.choices(["AD", "REFERRAL", "WALK_IN", "OTHER"], weights=[35, 25, 30, 10])[0],
                "preferred_channel": rnd.choice(CONTACT_CHANNELS),
                "price_sensitivity": rnd.choice(["LOW", "MEDIUM", "HIGH"]),
                "store": STORES[i % len(STORES)], "owner": rnd.choice(STAFF),
                "role": "POTENTIAL", "lifecycle_stage": "EXPLORATION",
                "tags": sorted(rnd.sample(TAGS, rnd.randint(0, 2))), "attributes": {},
                "consent": {"SMS": rnd.random() < 0.6, "WECHAT": rnd.random() < 0.8, "EMAIL": rnd.random() < 0.4},
                "created_at": start + timedelta(days=rnd.uniform(0, days * 0.9)), "updated_at": now,
            }
        )
    with gx.tenant_session(tenant_id, write=True) as session:
        ids = insert_rows(session, Customer.__table__, [with_search_columns(row) for row in rows])
        index_tags(session, tenant_id, [(new_id, row["tags"]) for new_id, row in zip(ids, rows)])
        return ids


def _interactions(rng: np.random.Generator, rnd: random.Random, customer_ids: list[int], start: datetime, end: datetime, days: int) -> list[dict]:
    """Per customer: a join day, a purchase rate (gamma) and a lifetime (buy-till-you-die)."""
    n = len(customer_ids)
    join = rng.uniform(0, days * 0.9, n)
    rate = rng.gamma(0.9, 1 / 20, n)  # purchases per day
    lifetime = rng.exponential(500, n)
    month_of_day = np.array([(start + timedelta(days=d)).month - 1 for d in range(days + 1)])
    items: list[dict] = []
    for c in range(n):
        span = max(min(days, join[c] + lifetime[c]) - join[c], 0.0)
        t = np.sort(rng.uniform(0, span, rng.poisson(rate[c] * span))) + join[c]
        # Seasonality: keep a purchase with probability proportional to its month's weight.
        keep = rng.random(len(t)) < MONTH_WEIGHT[month_of_day[t.astype(int)]] / MONTH_WEIGHT.max()
        t = np.concatenate([[join[c]], t[keep]])
        store = STORES[c % len(STORES)]
        cid = int(customer_ids[c])
        base = float(rng.lognormal(5.3, 0.6))
        for j, day in enumerate(t.tolist()):
            when = start + timedelta(days=day)
            amount = round(base * rnd.lognormvariate(0, 0.35), 2)
            ext = f"demo-p-{cid}-{j}"
            items.append({"customer_id": cid, "kind": "PURCHASE", "occurred_at": when, "amount": f"{amount:.2f}",
                          "quantity": rnd.randint(1, 4), "channel": rnd.choice(PURCHASE_CHANNELS),
                          "store": store, "staff": rnd.choice(STAFF), "external_id": ext,
                          "payload": {"payment": rnd.choice(["WECHAT_PAY", "ALIPAY", "CARD", "CASH"])}})
            if rnd.random() < 0.04:
                refund_at = when + timedelta(days=rnd.uniform(1, 20))
                if refund_at < end:
                    items.append({"kind": "REFUND", "occurred_at": refund_at, "reverses_external_id": ext,
                                  "amount": f"{amount * rnd.choice([1.0, 0.5]):.2f}",
                                  "channel": "IN_STORE", "store": store, "external_id": f"demo-r-{cid}-{j}"})
            if rnd.random() < 0.5:
                items.append({"customer_id": cid, "kind": "VISIT", "occurred_at": when - timedelta(minutes=30),
                              "channel": "IN_STORE", "store": store, "staff": rnd.choice(STAFF), "external_id": f"demo-v-{cid}-{j}"})
        for k in range(int(rng.poisson(4.5))):
            when = start + timedelta(days=rnd.uniform(join[c], days))
            kind = rnd.choices(["CONTACT", "REVISIT", "FEEDBACK", "EVENT", "SURVEY"], weights=[45, 25, 12, 12, 6])[0]
            items.append({"customer_id": cid, "kind": kind, "occurred_at": when, "channel": rnd.choice(CONTACT_CHANNELS),
                          "store": store, "external_id": f"demo-{kind.lower()}-{cid}-{k}"})
        if rnd.random() < 0.06:
            when = start + timedelta(days=rnd.uniform(join[c], days))
            items.append({"customer_id": cid, "kind": "COMPLAINT", "occurred_at": when, "channel": rnd.choice(CONTACT_CHANNELS),
                          "store": store, "external_id": f"demo-complaint-{cid}",
                          "payload": {"category": rnd.choice(["PRODUCT_QUALITY", "SERVICE", "PRICE", "LOGISTICS", "AFTER_SALES"]),
                                      "description": "产品使用后过敏 / allergic reaction after use"}})
    items.sort(key=lambda item: item["occurred_at"])
    return items
