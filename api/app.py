"""The ASGI application: ``uvicorn --factory api.app:create_app``.

Routes: /graphql (POST, GET, GraphiQL in a browser: api/graphiql.py, its
files under /graphiql/), /console/ (the admin console: api/console, signed in
with a session cookie), /healthz (process up),
/readyz (database reachable), /export/... (streamed CSV/XLSX downloads,
api/export_endpoint.py), /metrics (Prometheus, api/metrics.py; off with
GUANXI_METRICS=false). Traces go out when OpenTelemetry's exporter variables
are set (api/tracing.py). Settings (engine/config.py): CORS origins come
from GUANXI_CORS_ORIGINS (unset means no cross-origin access); requested
jobs (runScoring) run in a background thread of the process unless
GUANXI_API_RUNS_JOBS=false (api/job_runner.py); cursors are signed with
GUANXI_SECRET_KEY, required on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import gc
import threading

import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.console.routes import Console
from api.cost import parse_budgets
from api.endpoint import GraphQLEndpoint
from api.export_endpoint import ExportEndpoint
from api.graphiql import graphiql as graphiql_ide
from api.job_runner import ApiJobRunner
from api.logs import RequestIdMiddleware, configure_logging
from api.metrics import RequestMetrics, metrics_route, observe_pool, process_exiting
from api.pagination import Cursors, cursor_secret
from api.rate_limits import RateLimits
from api.schema import SchemaCache
from api.tracing import Tracing, trace_engine, tracing_from_env
from engine.config import Settings
from engine.plugins import PluginError
from engine.runtime import Guanxi


def freeze_startup_objects() -> None:
    """Move what startup built (schemas, plugins, compiled kernels) out of the
    garbage collector's sight: full collections, which a request building a
    large response triggers, stop re-scanning it (p99 of a 100-customer page
    276 -> 112 ms in bench.api)."""
    gc.collect()
    gc.freeze()


class ReadinessProbe:
    """``/readyz``'s database check, answered within ``timeout`` seconds. A
    ping the database does not answer is left to its own bounds (the
    connection's response timeout) in its thread; until it ends, probes answer
    not ready at once instead of stacking more stuck threads and connections."""

    def __init__(self, engine: sa.Engine, timeout: float):
        self.engine, self.timeout = engine, timeout
        self._running: threading.Event | None = None

    async def check(self) -> str | None:
        """None when the database answered, else why not."""
        if self._running is not None and not self._running.is_set():
            return "StillWaiting"  # the previous ping is stuck: not ready
        done = self._running = threading.Event()
        outcome: list[str | None] = []

        def ping() -> None:
            try:
                with self.engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                outcome.append(None)
            except Exception as error:  # any failure to reach the database means not ready
                outcome.append(type(error).__name__)
            finally:
                done.set()

        with anyio.move_on_after(self.timeout):
            await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)
        return outcome[0] if outcome else "Timeout"


def plugin_routes(gx: Guanxi) -> list:
    """The plugins' own routes (guanxi_http_routes), each under /<its module>/."""
    routes = []
    for impl in reversed(gx.plugins.hook.guanxi_http_routes.get_hookimpls()):
        owner = gx.plugins.plugin_label(impl.plugin)
        if owner not in gx.plugins.modules:
            owner = gx.plugins.global_plugins[owner].name
        for route in impl.function(*[gx for _ in impl.argnames]) or []:
            if not route.path.startswith(f"/{owner}/"):
                raise PluginError(f"plugin {owner!r} serves {route.path!r}: its routes must start with /{owner}/")
            routes.append(route)
    return routes


def create_app(gx: Guanxi | None = None, tracing: Tracing | None = None) -> Starlette:
    """Build the app around ``gx`` (default: the process-wide engine from the
    environment); ``tracing`` defaults to what OTEL_* variables configure."""
    settings = gx.settings if gx is not None else Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    cursors = Cursors(cursor_secret(settings))  # before anything else: refused without a key on PostgreSQL
    gx = gx or Guanxi(settings=settings)
    tracing = tracing or tracing_from_env()
    metrics = RequestMetrics() if settings.metrics else None
    if metrics is not None:
        observe_pool(gx.engine)
    trace_engine(gx.engine, tracing)
    schemas = SchemaCache(gx.plugins)
    job_runner = ApiJobRunner(gx) if settings.api_runs_jobs else None
    rate_limits = RateLimits.from_settings(settings, gx)
    graphql = GraphQLEndpoint(gx, schemas, cursors, job_runner, rate_limits, parse_budgets(settings.query_cost_budgets))
    export = ExportEndpoint(gx, schemas)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    readiness = ReadinessProbe(gx.engine, settings.readiness_timeout_s)

    async def readyz(_request: Request) -> JSONResponse:
        error = await readiness.check()
        if error is not None:
            return JSONResponse({"status": "unavailable", "error": error}, status_code=503)
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # Never DDL at start: a database behind the installed code is refused
        # (SchemaNotCurrent names the missing revisions: run guanxi db upgrade).
        await anyio.to_thread.run_sync(gx.check_schema)
        await anyio.to_thread.run_sync(schemas.all_modules)  # build the common schema before the first request
        await anyio.to_thread.run_sync(gx.plugins.hook.guanxi_warm_up)  # numba kernels, from the cache make install filled
        freeze_startup_objects()
        if job_runner is not None:
            job_runner.kick()  # runs requested before a restart
        yield
        if job_runner is not None:
            await anyio.to_thread.run_sync(job_runner.close)
        rate_limits.close()
        process_exiting()
        if tracing is not None:
            tracing.shutdown()

    middleware = [
        Middleware(RequestIdMiddleware, observers=(metrics, tracing)),
        Middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "OPTIONS"],
                   allow_headers=["authorization", "content-type", "x-request-id"], expose_headers=["x-request-id"], max_age=600),
    ]
    app = Starlette(
        routes=[
            Route("/graphql", graphql.__call__, methods=["GET", "POST"]), Route("/healthz", healthz), Route("/readyz", readyz),
            Route("/export/segments/{name}", export.segment), Route("/export/{name}", export.named),
            *graphiql_ide.routes(),
            *Console(graphql).routes(),
            *plugin_routes(gx),
        ] + ([metrics_route(settings.metrics_token)] if metrics is not None else []),
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.gx = gx
    app.state.schemas = schemas
    app.state.cursors = cursors
    app.state.job_runner = job_runner
    app.state.rate_limits = rate_limits  # tests move its clock
    return app
