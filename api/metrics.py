"""Prometheus metrics at ``/metrics``: requests, latency, the database pool
(and, from engine/metrics.py, job runs and scoring durations).

- Requests are counted by route (the route's pattern, never the raw path),
  GraphQL operation name and outcome (``ok``, the first GraphQL error code,
  or ``HTTP_<status>`` for a refusal before GraphQL ran). Operation names
  come from clients, so a name that is not ``[A-Za-z0-9_]{1,64}``, or that
  arrives after ``MAX_OPERATIONS`` distinct ones, counts as ``other``.
- Several workers (``guanxi serve --workers N``): prometheus-client's
  multiprocess mode. ``prepare_multiprocess_dir`` (called by the serve
  command before uvicorn starts its workers) gives them a fresh directory in
  PROMETHEUS_MULTIPROC_DIR, where each process writes its values; a scrape,
  answered by any worker, adds every process's files up. One process without
  the variable keeps the ordinary in-memory registry.
- Who may read them: anyone who reaches the port, unless GUANXI_METRICS_TOKEN
  is set; then a scrape must send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import atexit
import hmac
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from engine.metrics import REGISTRY

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATIONS = 200  # distinct operation names per process before the rest count as "other"
OTHER = "other"
ANONYMOUS = "anonymous"

# From a cached health check (1 ms) to a large export or a slow scoring request.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter("guanxi_http_requests", "HTTP requests, by route, GraphQL operation name and outcome",
                        ["route", "operation", "outcome"], registry=REGISTRY)
HTTP_DURATION = Histogram("guanxi_http_request_duration_seconds", "HTTP request latency, by route and GraphQL operation name",
                          ["route", "operation"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
# "livesum": under several workers, the sum over the processes alive.
POOL_CHECKED_OUT = Gauge("guanxi_db_pool_checked_out", "Database connections in use", registry=REGISTRY,
                         multiprocess_mode="livesum")
POOL_SIZE = Gauge("guanxi_db_pool_size", "Database connections the pool keeps open (GUANXI_DB_POOL_SIZE)",
                  registry=REGISTRY, multiprocess_mode="livesum")
POOL_OVERFLOW = Gauge("guanxi_db_pool_overflow", "Connections open beyond the pool's size (negative: pool not yet full)",
                      registry=REGISTRY, multiprocess_mode="livesum")


# -- labels ------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_FIRST_OPERATION = re.compile(r"\s*(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
_seen_operations: set[str] = set()
_seen_lock = threading.Lock()


def operation_label(name: str | None) -> str:
    """A client's operation name as a label: bounded in form and in number."""
    if not name:
        return ANONYMOUS
    if not _NAME.fullmatch(name):
        return OTHER
    if name in _seen_operations:
        return name
    with _seen_lock:
        if len(_seen_operations) >= MAX_OPERATIONS:
            return OTHER
        _seen_operations.add(name)
    return name


def operation_name(body: dict) -> str | None:
    """``operationName``, or the name of the document's first operation (clients often omit the former)."""
    name = body.get("operationName")
    if name:
        return name
    match = _FIRST_OPERATION.match(body.get("query") or "")
    return match.group(1) if match else None


def note_graphql(state, body: dict, errors: list[dict] | None) -> None:
    """What the GraphQL endpoint knows of a request, for its metrics: the operation and its outcome."""
    state.operation = operation_label(operation_name(body))
    if errors:
        code = str((errors[0].get("extensions") or {}).get("code", ""))
        state.outcome = code if _CODE.fullmatch(code) else OTHER
    else:
        state.outcome = "ok"


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or OTHER  # unmatched paths (404s) are one series


# -- the observer the request middleware calls -----------------------------------------------

class RequestMetrics:
    """Counts and times each request (api/logs.py's middleware calls it)."""

    def start(self, scope: Scope) -> Callable[[int, float], None]:
        def end(status: int, seconds: float) -> None:
            state = scope.get("state") or {}
            route = route_label(scope)
            operation = state.get("operation", "")
            outcome = state.get("outcome") or ("ok" if status < 400 else f"HTTP_{status}")
            count, duration = _series(route, operation, outcome)
            count.inc()
            duration.observe(seconds)

        return end


_children: dict[tuple[str, str, str], tuple] = {}  # bounded: the labels are


def _series(route: str, operation: str, outcome: str) -> tuple:
    """The labelled children, looked up once (``labels()`` locks and validates on every call)."""
    key = (route, operation, outcome)
    found = _children.get(key)
    if found is None:
        found = _children[key] = (HTTP_REQUESTS.labels(route, operation, outcome), HTTP_DURATION.labels(route, operation))
    return found


# -- the database pool -----------------------------------------------------------------------

def observe_pool(engine: Engine) -> None:
    """Keep the pool gauges current: set on every checkout and checkin (a few
    attribute reads), so a scrape of any worker sees every worker's pool."""
    pool = engine.pool
    if not all(hasattr(pool, name) for name in ("checkedout", "size", "overflow")):
        return  # SQLite in memory: one connection per thread, nothing to watch

    def update(*_args) -> None:
        POOL_CHECKED_OUT.set(pool.checkedout())
        POOL_SIZE.set(pool.size())
        POOL_OVERFLOW.set(pool.overflow())

    if not getattr(pool, "_guanxi_observed", False):  # once per pool, however many apps share the engine
        pool._guanxi_observed = True
        event.listen(pool, "checkout", update)
        event.listen(pool, "checkin", update)
    update()


# -- exposition --------------------------------------------------------------------------------

def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def scrape() -> bytes:
    """The text exposition: every worker's values under multiprocess mode, else this process's."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def metrics_route(token: SecretStr | None) -> Route:
    """``/metrics``; with a token (GUANXI_METRICS_TOKEN), only for a scraper that sends it as bearer."""
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None

    async def metrics_endpoint(request: Request) -> Response:
        if expected is not None:
            sent = request.headers.get("authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(sent, expected):
                return JSONResponse({"error": "send Authorization: Bearer <GUANXI_METRICS_TOKEN>"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        return Response(scrape(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics_endpoint)


def process_exiting() -> None:
    """A worker leaving: its live gauges (the pool) stop counting in the sum."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def prepare_multiprocess_dir(workers: int) -> str | None:
    """Before uvicorn starts ``workers`` processes: give them one metrics
    directory. The operator's PROMETHEUS_MULTIPROC_DIR is emptied (values of
    a previous run would be added to this one's); without one, several
    workers get a fresh temporary directory, removed when the server exits.
    One worker without the variable needs none (returns None)."""
    path = multiprocess_dir()
    if path is not None:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
        return path
    if workers <= 1:
        return None
    path = tempfile.mkdtemp(prefix="guanxi-metrics-")
    os.environ[MULTIPROC_ENV] = path  # inherited by the workers uvicorn spawns
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
