"""The rfm module's hook implementations."""

from __future__ import annotations

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.rfm.settings import RfmSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="rfm",
        title_zh="RFM 客户价值分层",
        title_en="RFM segmentation",
        description="Recency, frequency and monetary scores mapped to named customer segments.",
        settings_model=RfmSettings,
    )
