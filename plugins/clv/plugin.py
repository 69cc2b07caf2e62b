"""The clv module's hook implementations."""

from __future__ import annotations

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.clv.settings import ClvSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="clv",
        title_zh="客户终身价值",
        title_en="Customer lifetime value",
        description="Buy-till-you-die models (BG/NBD, Pareto/NBD, Gamma-Gamma) predicting purchases, survival and value.",
        settings_model=ClvSettings,
    )
