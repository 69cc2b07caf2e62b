"""Plugin discovery and per-tenant enablement.

Plugins are found through the ``guanxi.plugins`` entry points; the built-ins
are also listed in DEFAULT_PLUGINS so a plain source checkout works. A hook
call for a tenant reaches only the plugins enabled for that tenant
(pluggy's ``subset_hook_caller``), plus plugins declared global
(``GlobalPlugin``). A plugin that declares neither is refused at start.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from pydantic import BaseModel

from engine.config import Settings
from engine.plugins import hookspecs

ENTRY_POINT_GROUP = "guanxi.plugins"
DEFAULT_PLUGINS = (
    "plugins.rfm.plugin",
    "plugins.clv.plugin",
    "plugins.loyalty.plugin",
    "plugins.complaints.plugin",
    "plugins.lifecycle.plugin",
    "plugins.satisfaction.plugin",
    "plugins.campaigns.plugin",
    "plugins.webhooks.plugin",
)


class _NoSettings(BaseModel):
    model_config = {"extra": "forbid"}


@dataclass(frozen=True)
class ModuleInfo:
    """What a plugin declares about its module (returned by ``guanxi_module``)."""

    name: str
    title_zh: str
    title_en: str
    description: str = ""
    settings_model: type[BaseModel] = _NoSettings
    depends_on: tuple[str, ...] = ()
    # Table name -> columns holding personal data, cleared on erase.
    personal_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # A module of ``@hookspec`` functions this module calls, for integrators to implement.
    hookspecs: ModuleType | None = None

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang.lower().startswith("zh") else self.title_en


@dataclass(frozen=True)
class GlobalPlugin:
    """What a plugin that is on for every tenant returns from ``guanxi_module``
    (it has no module for admins to switch; its per-tenant hooks reach every
    tenant, and its tables still carry ``tenant_id``)."""

    name: str
    description: str = ""


class PluginError(RuntimeError):
    pass


class PluginConflict(PluginError):
    """Two plugins, or a plugin and the core, contribute the same name."""


class PluginManager:
    """A typed facade over pluggy's manager (in the manner of tox 4)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.pm = pluggy.PluginManager("guanxi")
        self.pm.add_hookspecs(hookspecs)
        self._modules: dict[str, ModuleInfo] = {}
        self._module_plugins: dict[str, Any] = {}
        self._global_plugins: dict[str, GlobalPlugin] = {}
        self._subset_cache: dict[frozenset[str], TenantHooks] = {}
        self._lock = threading.Lock()

    # -- registration -------------------------------------------------------
    def load_default_plugins(self) -> None:
        for dotted in DEFAULT_PLUGINS:
            self.register_module(importlib.import_module(dotted), name=dotted)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.has_plugin(ep.value) or ep.name in self.settings.disabled_plugins:
                continue
            self.register_module(ep.load(), name=ep.value, short_name=ep.name)
        self.check()

    def register_module(self, plugin: ModuleType | object, name: str | None = None, short_name: str | None = None) -> None:
        """Register a plugin object; skipped if GUANXI_DISABLE_PLUGINS names it."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        short = short_name or name.split(".")[-2 if name.endswith(".plugin") else -1]
        if short in self.settings.disabled_plugins or name in self.settings.disabled_plugins:
            return
        if self.pm.is_registered(plugin) or self.pm.has_plugin(name):
            return
        info = self._module_info_of(plugin, name)
        if isinstance(info, ModuleInfo) and info.hookspecs is not None:
            self.pm.add_hookspecs(info.hookspecs)  # before any plugin implementing them is checked
        if isinstance(info, ModuleInfo) and info.name in self._modules:
            raise PluginError(f"module {info.name!r} is provided by two plugins: "
                              f"{self.pm.get_name(self._module_plugins[info.name])!r} and {name!r}")
        self.pm.register(plugin, name=name)
        if isinstance(info, ModuleInfo):
            self._modules[info.name] = info
            self._module_plugins[info.name] = plugin
        else:
            self._global_plugins[name] = info
        self._subset_cache.clear()

    def unregister(self, plugin: Any) -> None:
        self.pm.unregister(plugin)
        for name, candidate in list(self._module_plugins.items()):
            if candidate is plugin:
                del self._module_plugins[name]
                del self._modules[name]
        self._global_plugins = {n: g for n, g in self._global_plugins.items() if self.pm.has_plugin(n)}
        self._subset_cache.clear()

    def check(self) -> None:
        """Fail at start on misspelled hook names, unknown module dependencies
        and tables that carry no tenant."""
        from engine.tenancy import UnscopedTableError, check_tables

        self.pm.check_pending()
        for info in self._modules.values():
            missing = [dep for dep in info.depends_on if dep not in self._modules]
            if missing:
                raise PluginError(f"module {info.name!r} depends on missing modules {missing}")
        owners = {model.__table__.name: plugin for plugin, models in self.models_by_plugin().items() for model in models}
        try:
            check_tables([model.__table__ for model in self.all_models()], owners)
        except UnscopedTableError as error:
            raise PluginError(str(error)) from None
        from engine.jobs import JobConflict, installed_jobs

        try:
            installed_jobs(self)  # two jobs of one name: which would the worker run?
        except JobConflict as error:
            raise PluginError(str(error)) from None

    @staticmethod
    def _module_info_of(plugin: Any, name: str) -> ModuleInfo | GlobalPlugin:
        impl = getattr(plugin, "guanxi_module", None)
        info = impl() if impl is not None else None
        if not isinstance(info, (ModuleInfo, GlobalPlugin)):
            raise PluginError(
                f"plugin {name!r} declares no module: its guanxi_module() must return an engine.plugins.ModuleInfo "
                "(a module admins switch on per tenant) or an engine.plugins.GlobalPlugin (on for every tenant)")
        return info

    # -- queries ------------------------------------------------------------
    @property
    def modules(self) -> dict[str, ModuleInfo]:
        """Installed modules by name, in registration order."""
        return dict(self._modules)

    def module(self, name: str) -> ModuleInfo:
        try:
            return self._modules[name]
        except KeyError:
            known = ", ".join(sorted(self._modules)) or "none"
            raise KeyError(f"unknown module {name!r}; installed modules: {known}") from None

    @property
    def hook(self):
        """Hooks of every registered plugin (for start-up work like collecting tables)."""
        return self.pm.hook

    def for_modules(self, enabled: frozenset[str] | set[str]) -> "TenantHooks":
        """Hooks that reach only global plugins and the plugins of ``enabled`` modules."""
        key = frozenset(name for name in enabled if name in self._modules)
        with self._lock:
            hooks = self._subset_cache.get(key)
            if hooks is None:
                excluded = [p for name, p in self._module_plugins.items() if name not in key]
                hooks = TenantHooks(self.pm, excluded, key, self.plugin_label)
                self._subset_cache[key] = hooks
        return hooks

    def plugin_name(self, name: str) -> str:
        """The registered plugin name of a module (or of a plugin given by its own name)."""
        if name in self._module_plugins:
            return self.pm.get_name(self._module_plugins[name])
        if self.pm.has_plugin(name):
            return name
        raise KeyError(f"no installed module or plugin {name!r}")

    def branch_name(self, plugin_name: str) -> str:
        """What a plugin's migrations are labelled with: its module's name (or its global plugin's name)."""
        for module, plugin in self._module_plugins.items():
            if self.pm.get_name(plugin) == plugin_name:
                return module
        return self._global_plugins[plugin_name].name

    @property
    def global_plugins(self) -> dict[str, GlobalPlugin]:
        """Plugins on for every tenant, by plugin name."""
        return dict(self._global_plugins)

    def plugin_label(self, plugin: Any) -> str:
        """How messages name a plugin: the module it provides, else its registered name."""
        for name, candidate in self._module_plugins.items():
            if candidate is plugin:
                return name
        return self.pm.get_name(plugin) or repr(plugin)

    def all_models(self) -> list[type]:
        return [model for models in self.models_by_plugin().values() for model in models]

    def models_by_plugin(self) -> dict[str, list[type]]:
        """Each plugin's tables, by plugin name (importing them registers them in SQLModel's metadata)."""
        return {impl.plugin_name: list(impl.function() or []) for impl in reversed(self.pm.hook.guanxi_models.get_hookimpls())}

    def migration_folders(self) -> dict[str, Path]:
        """Each plugin's folder of Alembic revisions, by plugin name."""
        folders = {}
        for impl in reversed(self.pm.hook.guanxi_migrations.get_hookimpls()):
            folder = impl.function()
            if folder is not None:
                folders[impl.plugin_name] = Path(folder)
        return folders


class TenantHooks:
    """``hooks.guanxi_x(...)`` calls only the plugins enabled for one tenant."""

    def __init__(self, pm: pluggy.PluginManager, excluded: list[Any], modules: frozenset[str],
                 label: Callable[[Any], str] = repr):
        self._pm = pm
        self._excluded = excluded
        self.modules = modules
        self._label = label
        self._callers: dict[str, Any] = {}

    def results_by_plugin(self, name: str) -> list[tuple[str, Any]]:
        """``(plugin label, result)`` of a no-argument hook, in the order ``hooks.<name>()``
        returns the results (pluggy calls the last registered first; None skipped),
        so a caller can tell who contributed what."""
        pairs = []
        for impl in reversed(getattr(self, name).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue  # wraps the other results; contributes none of its own
            result = impl.function()
            if result is not None:
                pairs.append((self._label(impl.plugin), result))
        return pairs

    def __getattr__(self, name: str):
        if not name.startswith("guanxi_"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            caller = self._pm.subset_hook_caller(name, remove_plugins=self._excluded)
            self._callers[name] = caller
        return caller


_default_manager: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide manager with the built-in and installed plugins loaded."""
    global _default_manager
    with _default_lock:
        if _default_manager is None:
            manager = PluginManager()
            manager.load_default_plugins()
            _default_manager = manager
        return _default_manager
