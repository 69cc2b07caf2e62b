"""Each module adds its share of the demo tenant through guanxi_demo_data,
after the modules it depends on."""

from __future__ import annotations

from engine import hookimpl
from engine.demo import DEMO_SLUG, _module_demo_data, dependency_order
from engine.plugins import GlobalPlugin, ModuleInfo, PluginManager
from engine.services.tenants import create_tenant
from engine.testing import engine_on


class Part:
    def __init__(self, name, depends_on=(), calls=None):
        self.name, self.depends_on, self.calls = name, depends_on, calls

    @hookimpl
    def guanxi_module(self):
        return ModuleInfo(name=self.name, title_zh=self.name, title_en=self.name, depends_on=self.depends_on)

    @hookimpl
    def guanxi_demo_data(self, ctx, seed):
        self.calls.append((self.name, ctx.tenant.slug, seed))
        return f"{self.name} added"


class Everywhere:
    def __init__(self, calls):
        self.calls = calls

    @hookimpl
    def guanxi_module(self):
        return GlobalPlugin(name="everywhere")

    @hookimpl
    def guanxi_demo_data(self, seed):  # a hook may take fewer arguments
        self.calls.append(("everywhere", None, seed))


def test_modules_add_demo_data_after_those_they_depend_on(fresh_database_url):
    calls = []
    plugins = PluginManager()  # its own: the installed plugins plus three made up here
    plugins.load_default_plugins()
    for part in (Part("zz_report", ("aa_base",), calls), Part("aa_base", (), calls), Everywhere(calls)):
        plugins.register_module(part, name=f"demo-part-{id(part)}")
    plugins.check()
    gx = engine_on(fresh_database_url, plugins)
    names = list(gx.plugins.modules)
    order = dependency_order(gx.plugins.modules)
    assert sorted(order) == sorted(names) and order.index("aa_base") < order.index("zz_report")
    with gx.system() as session:
        create_tenant(session, DEMO_SLUG, "demo")
    notes = _module_demo_data(gx, seed=11)
    assert calls == [("aa_base", DEMO_SLUG, 11), ("zz_report", DEMO_SLUG, 11), ("everywhere", None, 11)]
    assert "aa_base: aa_base added" in notes and "zz_report: zz_report added" in notes
