"""A plugin's own HTTP routes (guanxi_http_routes), served by the app under
/<module>/, through httpx on the ASGI app."""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from engine import hookimpl
from engine.plugins import ModuleInfo, PluginError, PluginManager
from engine.runtime import Guanxi


class Pinger:
    def __init__(self, path: str):
        self.path = path

    @hookimpl
    def guanxi_module(self):
        return ModuleInfo(name="pinger", title_zh="回声", title_en="Pinger")

    @hookimpl
    def guanxi_http_routes(self, gx):
        async def ping(request):
            return JSONResponse({"pong": request.path_params["word"], "engine": isinstance(gx, Guanxi)})

        return [Route(self.path, ping)]


def _engine(gx, path):
    plugins = PluginManager()
    plugins.load_default_plugins()
    plugins.register_module(Pinger(path), name="pinger-plugin")
    plugins.check()
    return Guanxi(settings=gx.settings, plugins=plugins)


@pytest.mark.anyio
async def test_a_plugin_serves_its_own_route_under_its_module(gx):
    app = create_app(_engine(gx, "/pinger/ping/{word}"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/pinger/ping/你好")
    assert response.status_code == 200 and response.json() == {"pong": "你好", "engine": True}
    assert response.headers["x-request-id"]  # behind the app's middleware like /graphql


def test_a_route_outside_the_module_prefix_fails_at_start(gx):
    with pytest.raises(PluginError, match="must start with /pinger/"):
        create_app(_engine(gx, "/graphql2"))
