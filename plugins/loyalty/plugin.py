"""The loyalty module's hook implementations."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.jobs import Job
from engine.plugins import ModuleInfo
from plugins.loyalty import hookspecs as loyalty_hookspecs
from plugins.loyalty.models import ALL_MODELS
from plugins.loyalty.settings import LoyaltySettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    # No personal columns keyed by customer_id: only links (customer ids), numbers
    # and text on rows keyed by member; guanxi_customer_erased clears that text.
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
    """Close the membership, drop referral links, blank the text people typed or sent
    (reasons, order references, idempotency keys): see plugins/loyalty/erasure.py."""
    from plugins.loyalty.erasure import erase_member

    erase_member(ctx, customer_id)


@hookimpl
def guanxi_customers_merged(ctx, kept_id, merged_id):
    """One membership per person: see plugins/loyalty/merge.py."""
    from plugins.loyalty.merge import merge_members

    merge_members(ctx, kept_id, merged_id)


@hookimpl
def guanxi_customer_fields():
    from plugins.loyalty.schema import LoyaltyCustomerFields

    return [LoyaltyCustomerFields]


@hookimpl
def guanxi_graphql():
    from plugins.loyalty.filters import CUSTOMER_FILTERS
    from plugins.loyalty.schema import LoyaltyMutation, LoyaltyQuery, load_ledger_entry, loyalty_batch

    return {"query": [LoyaltyQuery], "mutation": [LoyaltyMutation], "customer_batches": {"loyalty": loyalty_batch},
            "nodes": {"LoyaltyLedgerEntry": load_ledger_entry}, "customer_filters": CUSTOMER_FILTERS}


@hookimpl
def guanxi_warm_up():
    from plugins.loyalty import kernels

    kernels.warm_up()


@hookimpl
def guanxi_export_columns(ctx):
    from plugins.loyalty.export import loyalty_export_columns

    return loyalty_export_columns(ctx)


@hookimpl
def guanxi_demo_data(ctx, seed):
    from plugins.loyalty.demo import add_demo_redemptions

    return add_demo_redemptions(ctx, seed)
