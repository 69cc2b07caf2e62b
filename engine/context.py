"""What a service call runs in: the tenant, who is acting, the open session,
and the hooks of the plugins the tenant has enabled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, select

from engine.models import Tenant, TenantModule
from engine.plugins.manager import PluginManager, TenantHooks


@dataclass
class TenantContext:
    tenant: Tenant
    session: Session
    plugins: PluginManager
    actor: str = "system"
    _modules: dict[str, TenantModule] | None = field(default=None, repr=False)

    @property
    def tenant_id(self) -> int:
        assert self.tenant.id is not None
        return self.tenant.id

    def _module_rows(self) -> dict[str, TenantModule]:
        if self._modules is None:
            rows = self.session.exec(select(TenantModule).where(TenantModule.tenant_id == self.tenant_id)).all()
            self._modules = {row.module: row for row in rows}
        return self._modules

    @property
    def enabled_modules(self) -> frozenset[str]:
        installed = self.plugins.modules
        return frozenset(name for name, row in self._module_rows().items() if row.enabled and name in installed)

    @property
    def hooks(self) -> TenantHooks:
        return self.plugins.for_modules(self.enabled_modules)

    def module_settings(self, name: str) -> Any:
        """The module's settings model instance (defaults where the tenant set nothing)."""
        model: type[BaseModel] = self.plugins.module(name).settings_model
        row = self._module_rows().get(name)
        return model.model_validate(row.settings if row else {})

    def forget_modules(self) -> None:
        self._modules = None
