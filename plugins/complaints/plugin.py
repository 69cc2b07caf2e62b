"""The complaints module's hook implementations."""

from __future__ import annotations

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.complaints.settings import ComplaintsSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="complaints",
        title_zh="投诉处理",
        title_en="Complaints",
        description="The six-step complaint and service workflow with SLAs and escalation.",
        settings_model=ComplaintsSettings,
    )
