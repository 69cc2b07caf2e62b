"""The demo tenant's members spend points at past times through the loyalty service."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from engine.demo import DEMO_SLUG, generate_demo
from engine.errors import ValidationFailed
from engine.testing import engine_on
from engine.types import utcnow
from plugins.loyalty import service
from plugins.loyalty.models import LoyaltyCoupon, LoyaltyLedgerEntry, LoyaltyLot, LoyaltyMember


def test_some_demo_members_redeem_and_the_ledger_balances(fresh_database_url):
    gx = engine_on(fresh_database_url)
    result = generate_demo(gx, customers=800)
    assert any(note.startswith("loyalty: ") for note in result.notes), result.notes
    E, M, L, C = LoyaltyLedgerEntry, LoyaltyMember, LoyaltyLot, LoyaltyCoupon
    with gx.tenant(DEMO_SLUG, write=False) as ctx:
        summary = service.program_summary(ctx)
        members = ctx.session.execute(sa.select(sa.func.count()).select_from(M)).scalar()
        redeemers = ctx.session.execute(sa.select(sa.func.count(sa.distinct(E.member_id))).where(E.kind == "REDEEM")).scalar()
        ledger = dict(ctx.session.execute(sa.select(E.member_id, sa.func.sum(E.points)).group_by(E.member_id)).all())
        balances = dict(ctx.session.execute(sa.select(M.id, M.balance)).all())
        negative_lots = ctx.session.execute(sa.select(sa.func.count()).select_from(L).where(L.remaining < 0)).scalar()
        used = ctx.session.execute(sa.select(sa.func.count()).select_from(C).where(C.used_at.is_not(None))).scalar()
        entries = ctx.session.execute(sa.select(E.member_id, E.kind, E.points, E.at).order_by(E.member_id, E.at, E.id)).all()
    assert 0 < redeemers < members
    assert summary["redemption_rate"] > 0
    assert used > 0
    # The ledger balances: each member's entries sum to the balance shown, and no lot went below zero.
    assert all(ledger.get(member_id, 0) == balance for member_id, balance in balances.items())
    assert negative_lots == 0
    # Read in time order, a redeeming member never spent points they did not have yet.
    running: dict[int, int] = {}
    for member_id, kind, points, at in entries:
        running[member_id] = running.get(member_id, 0) + points
        if kind == "REDEEM":
            assert running[member_id] >= 0, (member_id, at)


def test_a_spend_needs_a_timezone_and_only_uses_points_earned_by_then(fresh_database_url):
    from engine.testing import new_tenant
    from engine.services.customers import create_customer

    gx = engine_on(fresh_database_url)
    slug = new_tenant(gx, ("loyalty",))
    with gx.tenant(slug) as ctx:
        customer = create_customer(ctx, {"name": "顾客"})
        service.enroll(ctx, customer.id)
        service.adjust_points(ctx, customer.id, 1_000, "opening balance", at=utcnow() - timedelta(days=10))
        with pytest.raises(ValidationFailed) as error:
            service.redeem_points(ctx, customer.id, 100, "100.00", at=utcnow().replace(tzinfo=None))
        assert error.value.errors[0].field == "at" and "timezone-aware" in error.value.errors[0].message
        # Twenty days ago the member had no points yet.
        with pytest.raises(ValidationFailed) as error:
            service.redeem_points(ctx, customer.id, 100, "100.00", at=utcnow() - timedelta(days=20))
        assert error.value.errors[0].field == "points" and error.value.errors[0].code == "INSUFFICIENT_POINTS"
        assert service.redeem_points(ctx, customer.id, 100, "100.00", at=utcnow() - timedelta(days=5)).balance == 900
