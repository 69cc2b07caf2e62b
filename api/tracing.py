"""OpenTelemetry traces of HTTP requests and their database calls, when an
exporter is configured with OpenTelemetry's own variables:

- ``OTEL_TRACES_EXPORTER``: ``otlp`` (default once an endpoint is set),
  ``console``, or several comma-separated; ``none`` turns tracing off;
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
  ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf`` by default, or
  ``grpc``), ``OTEL_SERVICE_NAME`` (default ``guanxi``), and the rest of
  the standard ones, read by the SDK and its exporters.

Unconfigured, nothing of OpenTelemetry is imported: the packages are the
optional extra ``guanxi[otel]``. Each request gets a SERVER span (joining the
caller's trace when it sends ``traceparent``), tagged with the request id;
each statement the engine runs in it, a CLIENT child span with the SQL text
(never its parameters). Log lines of a traced request carry its
``trace_id``, so a trace leads to its logs and back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from starlette.types import Scope

from api.logs import trace_id_var

MAX_STATEMENT_CHARS = 2000


def tracing_configured(env: Mapping[str, str] = os.environ) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def _exporter(name: str, env: Mapping[str, str]):
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    or "http/protobuf").strip().lower()
        try:
            if protocol == "grpc":
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as error:
            raise RuntimeError(f"OTEL_TRACES_EXPORTER=otlp ({protocol}) needs the OTLP exporter: "
                               f"pip install 'guanxi[otel]' ({error})") from error
        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (expected otlp, console or none)")


def trace_engine(engine, tracing: "Tracing | None") -> None:
    """Send ``engine``'s statement spans to ``tracing`` (None: stop tracing them)."""
    if tracing is not None:
        tracing.instrument_engine(engine)
    elif getattr(engine, "_guanxi_tracer", None) is not None:
        engine._guanxi_tracer = None


def tracing_from_env(env: Mapping[str, str] = os.environ) -> "Tracing | None":
    """The process's tracing as the environment configures it, or None (nothing imported)."""
    if not tracing_configured(env):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "guanxi"})
    provider = TracerProvider(resource=resource)
    names = [n.strip().lower() for n in (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(",") if n.strip()]
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, env)))
    return Tracing(provider)


class Tracing:
    """Spans for requests (``start``, called by the request middleware) and
    for the statements of an engine (``instrument_engine``)."""

    def __init__(self, provider):
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.tracer = provider.get_tracer("guanxi")
        self._trace, self._context = trace, context
        self._propagator = TraceContextTextMapPropagator()

    def start(self, scope: Scope) -> Callable[[int, float], None]:
        trace = self._trace
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"traceparent"}
        parent = self._propagator.extract(headers) if headers else None
        method, path = scope["method"], scope["path"]
        state = scope.get("state") or {}
        span = self.tracer.start_span(method, context=parent, kind=trace.SpanKind.SERVER, attributes={
            "http.request.method": method, "url.path": path, "guanxi.request_id": state.get("request_id", ""),
        })
        token = self._context.attach(trace.set_span_in_context(span))
        trace_id_var.set(trace.format_trace_id(span.get_span_context().trace_id))

        def end(status: int, _seconds: float) -> None:
            route = getattr(scope.get("route"), "path", None)
            if route:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            for key, attribute in (("operation", "graphql.operation.name"), ("outcome", "guanxi.outcome"), ("tenant", "guanxi.tenant")):
                if state.get(key):
                    span.set_attribute(attribute, state[key])
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
            self._context.detach(token)

        return end

    def instrument_engine(self, engine) -> None:
        """A CLIENT span per statement, child of whatever span is current in the
        calling thread (worker threads inherit the request's context)."""
        from sqlalchemy import event

        trace = self._trace
        system = engine.dialect.name
        first = not hasattr(engine, "_guanxi_tracer")
        engine._guanxi_tracer = self.tracer  # the latest app's tracing; listeners are added once per engine
        if not first:
            return

        def before(_conn, _cursor, statement, _parameters, context, _executemany):
            tracer = engine._guanxi_tracer
            if context is None or tracer is None:
                return
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
            context._guanxi_span = tracer.start_span(verb, kind=trace.SpanKind.CLIENT, attributes={
                "db.system.name": system, "db.operation.name": verb, "db.query.text": statement[:MAX_STATEMENT_CHARS],
            })

        def after(_conn, _cursor, _statement, _parameters, context, _executemany):
            span = getattr(context, "_guanxi_span", None)
            if span is not None:
                span.end()
                context._guanxi_span = None

        def failed(exception_context):
            context = exception_context.execution_context
            span = getattr(context, "_guanxi_span", None)
            if span is not None:
                # The type only: a driver's message may quote the values.
                span.set_status(trace.Status(trace.StatusCode.ERROR, type(exception_context.original_exception).__name__))
                span.end()
                context._guanxi_span = None

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        event.listen(engine, "handle_error", failed)

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what the batch processor holds
