"""The loyalty module's hook implementations."""

from __future__ import annotations

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.loyalty.settings import LoyaltySettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="loyalty",
        title_zh="会员积分",
        title_en="Loyalty",
        description="Membership tiers, a points ledger with expiry, and rewards.",
        settings_model=LoyaltySettings,
    )
