"""A campaign's report: participation, conversion and revenue in the
attribution window for the targeted group and the holdout, and the uplift.

Who counts: the snapshot's eligible members (not excluded), targeted or held
out; both groups went through the same consent and frequency rules, so they
differ only by the message. A member converts with at least one purchase in
[launch, launch + attribution_days); revenue is the sum of those purchases'
amounts (gross of later refunds). One GROUP BY over the members joined to
their purchases in the window.

With the satisfaction module on, each group's survey answers in the window
(overall satisfaction, 1–5) sit beside conversion: did the campaign leave its
participants more or less satisfied than the holdout?
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from engine.context import TenantContext
from engine.models import Interaction
from plugins.campaigns.models import Campaign, CampaignMember, CampaignMessage
from plugins.campaigns.uplift import MEANS, PROPORTIONS, Estimate, mean_difference, proportion_difference


@dataclass(frozen=True)
class Group:
    customers: int
    converted: int
    revenue: float
    revenue_squares: float

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.customers if self.customers else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue / self.customers if self.customers else None


@dataclass(frozen=True)
class Participation:
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    redeemed: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Satisfaction:
    """A group's overall-satisfaction answers (1–5) in the attribution window."""

    responses: int
    mean_score: float | None
    satisfied_share: float | None  # top-2-box: 4 or 5, as docs/satisfaction-index.md counts "satisfied"


@dataclass(frozen=True)
class Report:
    campaign_id: int
    launched: bool
    window_start: datetime | None
    window_end: datetime | None
    participation: Participation
    targeted: Group
    holdout: Group
    conversion_uplift: Estimate
    revenue_uplift: Estimate
    exclusions: dict = field(default_factory=dict)
    satisfaction: dict[bool, Satisfaction] | None = None  # by holdout; None when the module is off

    def as_dict(self) -> dict:
        def group(g: Group) -> dict:
            return {"customers": g.customers, "converted": g.converted, "conversion_rate": g.conversion_rate,
                    "revenue": round(g.revenue, 2), "revenue_per_customer": g.revenue_per_customer}

        def estimate(e: Estimate) -> dict:
            return {"estimate": e.estimate, "low": e.low, "high": e.high, "p_value": e.p_value, "test": e.test}

        return {"campaign_id": self.campaign_id, "launched": self.launched,
                "window_start": self.window_start.isoformat() if self.window_start else None,
                "window_end": self.window_end.isoformat() if self.window_end else None,
                "participation": self.participation.__dict__, "exclusions": self.exclusions,
                "targeted": group(self.targeted), "holdout": group(self.holdout),
                "conversion_uplift": estimate(self.conversion_uplift), "revenue_uplift": estimate(self.revenue_uplift),
                "satisfaction": None if self.satisfaction is None else {
                    name: self.satisfaction[holdout].__dict__ for name, holdout in (("targeted", False), ("holdout", True))}}


EMPTY = Group(0, 0, 0.0, 0.0)


def _participation(ctx: TenantContext, campaign_id: int) -> Participation:
    m = CampaignMessage
    row = ctx.session.execute(sa.select(
        sa.func.count(), sa.func.count(m.delivered_at), sa.func.count(m.opened_at), sa.func.count(m.redeemed_at),
        sa.func.count(m.failed_at)).where(m.tenant_id == ctx.tenant_id, m.campaign_id == campaign_id)).one()
    return Participation(*(int(v) for v in row))


def _groups(ctx: TenantContext, campaign: Campaign, start: datetime, end: datetime) -> dict[bool, Group]:
    # Each member left-joined to its own purchases in the window (an index
    # look-up per member), summed per member, then per group. Written so that
    # no plan can re-run a join per member: with a new tenant's statistics
    # (one row estimated for thousands), PostgreSQL nested a member-by-member
    # re-aggregation of the whole window here and ran past its timeout.
    m, i = CampaignMember.__table__, Interaction.__table__
    bought = sa.and_(i.c.tenant_id == m.c.tenant_id, i.c.customer_id == m.c.customer_id, i.c.kind == "PURCHASE",
                     i.c.occurred_at >= start, i.c.occurred_at < end)
    per_member = (sa.select(m.c.holdout, sa.func.count(i.c.id).label("purchases"),
                            sa.cast(sa.func.coalesce(sa.func.sum(i.c.amount), 0), sa.Float).label("revenue"))
                  .select_from(m.outerjoin(i, bought))
                  .where(m.c.tenant_id == ctx.tenant_id, m.c.campaign_id == campaign.id, m.c.excluded.is_(None))
                  .group_by(m.c.customer_id, m.c.holdout).subquery())
    converted = sa.func.sum(sa.case((per_member.c.purchases > 0, 1), else_=0))
    rows = ctx.session.execute(
        sa.select(per_member.c.holdout, sa.func.count(), converted, sa.func.sum(per_member.c.revenue),
                  sa.func.sum(per_member.c.revenue * per_member.c.revenue))
        .group_by(per_member.c.holdout)).all()
    return {bool(h): Group(int(n), int(c), float(r or 0), float(q or 0)) for h, n, c, r, q in rows}


def _satisfaction(ctx: TenantContext, campaign: Campaign, start: datetime, end: datetime) -> dict[bool, Satisfaction] | None:
    if "satisfaction" not in ctx.enabled_modules:
        return None
    from plugins.satisfaction.models import SatisfactionResponse

    m, r = CampaignMember.__table__, SatisfactionResponse.__table__
    rows = ctx.session.execute(
        sa.select(m.c.holdout, sa.func.count(), sa.func.avg(r.c.overall), sa.func.sum(sa.case((r.c.overall >= 4, 1), else_=0)))
        .select_from(r.join(m, sa.and_(m.c.customer_id == r.c.customer_id, m.c.tenant_id == r.c.tenant_id)))
        .where(r.c.tenant_id == ctx.tenant_id, m.c.campaign_id == campaign.id, m.c.excluded.is_(None),
               r.c.overall.is_not(None), r.c.answered_at >= start, r.c.answered_at < end)
        .group_by(m.c.holdout)).all()
    found = {bool(h): Satisfaction(int(n), float(mean), int(top) / int(n)) for h, n, mean, top in rows if n}
    return {h: found.get(h, Satisfaction(0, None, None)) for h in (False, True)}


def campaign_report(ctx: TenantContext, campaign: Campaign) -> Report:
    if campaign.launched_at is None:
        return Report(campaign.id, False, None, None, Participation(), EMPTY, EMPTY,
                      Estimate.none(PROPORTIONS), Estimate.none(MEANS), {})
    start = campaign.launched_at
    end = start + timedelta(days=campaign.attribution_days)
    groups = _groups(ctx, campaign, start, end)
    t, c = groups.get(False, EMPTY), groups.get(True, EMPTY)
    return Report(
        campaign.id, True, start, end, _participation(ctx, campaign.id), t, c,
        proportion_difference(t.customers, t.converted, c.customers, c.converted),
        mean_difference(t.customers, t.revenue, t.revenue_squares, c.customers, c.revenue, c.revenue_squares),
        dict(campaign.exclusions or {}),
        _satisfaction(ctx, campaign, start, end),
    )
