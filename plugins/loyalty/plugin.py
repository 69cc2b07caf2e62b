"""The loyalty module's hook implementations."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine import hookimpl
from engine.jobs import Job
from engine.plugins import ModuleInfo
from plugins.loyalty import hookspecs as loyalty_hookspecs
from plugins.loyalty.models import ALL_MODELS
from plugins.loyalty.settings import LoyaltySettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    # Loyalty stores no personal data of its own: only links (customer ids),
    # numbers and free-text reasons; guanxi_customer_erased handles those.
    return ModuleInfo(
        name="loyalty",
        title_zh="会员积分",
        title_en="Loyalty",
        description="Membership tiers, a points ledger with expiry, and rewards.",
        settings_model=LoyaltySettings,
        hookspecs=loyalty_hookspecs,
    )


@hookimpl
def guanxi_models():
    return list(ALL_MODELS)


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")



@hookimpl
def guanxi_interactions_recorded(ctx, interactions):
    from plugins.loyalty.service import on_interactions_recorded

    on_interactions_recorded(ctx, interactions)


def _expire(ctx):
    from plugins.loyalty.jobs import expire_points

    return expire_points(ctx)


def _evaluate(ctx):
    from plugins.loyalty.jobs import evaluate_tiers

    return evaluate_tiers(ctx)


@hookimpl
def guanxi_jobs():
    return [
        Job(name="loyalty.expire_points", module="loyalty", every_minutes=24 * 60, run=_expire),
        Job(name="loyalty.evaluate_tiers", module="loyalty", every_minutes=24 * 60, run=_evaluate),
    ]


@hookimpl
def guanxi_cli_commands():
    from plugins.loyalty.cli import loyalty_app

    return [("loyalty", loyalty_app)]


@hookimpl
def guanxi_customer_erased(ctx, customer_id):
    """Close the membership, drop referral links to and from the customer, and blank
    the free-text reasons admins typed on their ledger entries. Points, tiers and
    dates stay: they are anonymous facts once the customer row is erased."""
    from plugins.loyalty.models import LoyaltyLedgerEntry, LoyaltyMember

    M, E = LoyaltyMember.__table__, LoyaltyLedgerEntry.__table__
    t = ctx.tenant_id
    ctx.session.execute(sa.update(M).where(M.c.tenant_id == t, M.c.referrer_customer_id == customer_id)
                        .values(referrer_customer_id=None))
    member_id = ctx.session.execute(sa.select(M.c.id).where(M.c.tenant_id == t, M.c.customer_id == customer_id)).scalar()
    if member_id is None:
        return
    ctx.session.execute(sa.update(M).where(M.c.id == member_id).values(status="CLOSED", referrer_customer_id=None))
    ctx.session.execute(sa.update(E).where(E.c.tenant_id == t, E.c.member_id == member_id, E.c.kind == "ADJUST")
                        .values(reason="(erased)"))


@hookimpl
def guanxi_customer_fields():
    from plugins.loyalty.schema import LoyaltyCustomerFields

    return [LoyaltyCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.loyalty.schema import LoyaltyMutation, LoyaltyQuery, load_ledger_entry, loyalty_batch

    return {"query": [LoyaltyQuery], "mutation": [LoyaltyMutation], "customer_batches": {"loyalty": loyalty_batch},
            "nodes": {"LoyaltyLedgerEntry": load_ledger_entry}}


@hookimpl
def guanxi_warm_up():
    from plugins.loyalty import kernels

    kernels.warm_up()
