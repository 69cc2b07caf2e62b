"""The fields the console's complaints board reads: complaintCategories (the
tenant's categories with their names, for any role: module settings are for
admins only) and complaintStats { escalations } (cases of the range escalated,
against the rows counted here)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.services.customers import create_customer
from engine.services.modules import configure
from engine.types import utcnow
from plugins.complaints import service
from plugins.complaints.jobs import sweep_tenant
from plugins.complaints.models import ComplaintCase
from plugins.complaints.settings import DEFAULT_CATEGORIES

QUERY = "{ complaintCategories { code zh: label en: label(lang: EN) } }"


def test_a_viewer_reads_the_default_categories_and_a_tenants_own(gx, graphql, make_tenant):
    slug = make_tenant(modules=("complaints",))
    body = graphql(slug, "VIEWER").execute(QUERY)
    assert "errors" not in body, body
    assert body["data"]["complaintCategories"] == [{"code": c.code, "zh": c.zh, "en": c.en} for c in DEFAULT_CATEGORIES]
    assert body["data"]["complaintCategories"][0] == {"code": "PRODUCT_QUALITY", "zh": "产品质量", "en": "Product quality"}

    own = [{"code": "SKIN_REACTION", "zh": "皮肤过敏", "en": "Skin reaction"}, {"code": "OTHER", "zh": "其他", "en": "Other"}]
    with gx.system() as session:
        configure(session, gx.plugins, gx.context(session, slug).tenant_id, "complaints", {"categories": own}, actor="test")
    assert graphql(slug, "VIEWER").execute(QUERY)["data"]["complaintCategories"] == own


def test_tenants_without_complaints_do_not_see_it(graphql, make_tenant):
    response = graphql(make_tenant(), "ADMIN").post(QUERY)
    assert response.status_code == 400 and "complaintCategories" in response.text


STATS = """query($from: DateTime!, $to: DateTime!) { complaintStats(from: $from, to: $to) {
  totals { count } escalations { escalated companyLevel } } }"""


def _cases(gx, slug: str, now, opened: list[tuple[str, float]]) -> None:
    """Cases opened `hours` ago with a priority, then the SLA sweep at `now`."""
    with gx.tenant(slug, actor="agent") as ctx:
        customer = create_customer(ctx, {"name": "王女士"}).id
        for priority, hours in opened:
            service.open_case(ctx, {"customer_id": customer, "category": "SERVICE", "priority": priority,
                                    "opened_at": now - timedelta(hours=hours)}, now=now)
        sweep_tenant(ctx, now)


def test_escalations_count_the_ranges_cases_by_their_level(gx, graphql, make_tenant):
    slug, other = make_tenant(modules=("complaints",)), make_tenant(modules=("complaints",))
    now = utcnow()
    # urgent: 1 h to a first response; normal: 24 h. 40 days ago is outside the 30-day range.
    _cases(gx, slug, now, [("urgent", 5), ("urgent", 1.5), ("normal", 30), ("normal", 1), ("urgent", 40 * 24)])
    _cases(gx, other, now, [("urgent", 5), ("urgent", 6)])
    since, until = now - timedelta(days=30), now + timedelta(minutes=1)
    with gx.tenant(slug, write=False) as ctx:
        levels = [level for (level,) in ctx.session.execute(select(ComplaintCase.escalation_level).where(
            ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.opened_at >= since, ComplaintCase.opened_at < until))]
    body = graphql(slug, "VIEWER").execute(STATS, {"from": since.isoformat(), "to": until.isoformat()})
    assert "errors" not in body, body
    stats = body["data"]["complaintStats"]
    assert stats["totals"]["count"] == len(levels) == 4
    assert stats["escalations"] == {"escalated": sum(1 for level in levels if level >= 1),
                                    "companyLevel": sum(1 for level in levels if level >= 2)}
    # 5 h after an urgent complaint: a breach of 4 targets (company level); 1.5 h: level 1;
    # a normal one 30 h old: level 1; 1 h old: none.
    assert stats["escalations"] == {"escalated": 3, "companyLevel": 1}
