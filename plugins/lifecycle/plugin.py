"""The lifecycle module's hook implementations."""

from __future__ import annotations

from pathlib import Path

from engine import hookimpl
from engine.plugins import ModuleInfo
from plugins.lifecycle import hookspecs as lifecycle_hookspecs
from plugins.lifecycle.settings import LifecycleSettings


@hookimpl
def guanxi_module() -> ModuleInfo:
    return ModuleInfo(
        name="lifecycle",
        title_zh="客户生命周期与流失",
        title_en="Lifecycle and churn",
        description="Retention stages from each tenant's own purchase gaps, their history, churn reasons and win-back lists.",
        settings_model=LifecycleSettings,
        # Free text an agent types about why the customer left.
        personal_fields={"lifecycle_churn_reasons": ("note",)},
        hookspecs=lifecycle_hookspecs,
    )


@hookimpl
def guanxi_models():
    from plugins.lifecycle.models import ALL_MODELS

    return list(ALL_MODELS)


@hookimpl
def guanxi_migrations():
    return Path(__file__).with_name("migrations")
