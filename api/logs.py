"""Logs: one line per record, tagged with the request it belongs to, and
never carrying personal data or keys.

- Every record made while a request runs (ours, uvicorn's access and error
  lines, the libraries', in the event loop or in a worker thread) carries
  ``request_id`` and ``tenant``: the middleware below sets them in context
  variables, and a log-record factory copies them onto each record, so
  every handler sees them (ours, pytest's, an operator's).
- ``GUANXI_LOG_FORMAT`` (engine/config.py): ``json`` (one JSON object per line: time, level,
  logger, message, request_id, tenant, the record's fields, exception),
  ``text`` (one readable line), or ``auto`` (the default: text when stderr
  is a terminal, JSON otherwise, i.e. under a supervisor or in a container).
- Redaction happens when a record is made, before any handler: uvicorn's
  access line loses its query string (a searched phone number would be
  there); tracebacks and warning or error messages lose SQL parameters,
  PostgreSQL's ``DETAIL`` (which quotes the row or key), quoted literals in
  exception messages, email addresses, phone-like digit runs and API keys.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import traceback
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access = logging.getLogger("guanxi.access")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("guanxi_request_id", default=None)
tenant_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("guanxi_tenant", default=None)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("guanxi_trace_id", default=None)

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
FORMATS = ("json", "text", "auto")

# -- redaction -----------------------------------------------------------------------------

_REDACTIONS = [
    # SQLAlchemy's "[parameters: (...)]" (the engine hides them too: engine/db.py).
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: redacted]"),
    # PostgreSQL quotes the offending key or row: "DETAIL:  Key (code)=(13800138000) already exists."
    (re.compile(r"DETAIL:[^\n]*"), "DETAIL: redacted"),
    (re.compile(r"Failing row contains[^\n]*"), "Failing row contains: redacted"),
    (re.compile(r"gx_[A-Za-z0-9_-]{16,}"), "gx_<redacted>"),  # API keys (engine/services/keys.py)
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"(?<![\w.:/-])\+?\d{7,}(?![\w.:/-])"), "<digits>"),  # phone numbers, card-like numbers
]
# Quoted literals, except the identifiers PostgreSQL quotes after a noun
# ('violates unique constraint "uq_customers_tenant_code"'): they say what failed.
_IDENTIFIER_NOUNS = ("constraint", "relation", "column", "table", "index", "type", "function", "schema", "role", "database")
_QUOTED = re.compile("".join(f"(?<!{noun} )" for noun in _IDENTIFIER_NOUNS)
                     + r"""(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")


def redact(text: str) -> str:
    """``text`` without the values that may be personal data or secrets."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def redact_traceback(text: str) -> str:
    """A formatted traceback, redacted; in its exception lines (not the
    source lines) quoted literals go too: they are usually input values."""
    lines = []
    for line in text.split("\n"):
        if line and not line[0].isspace() and not line.startswith(("Traceback", "During handling", "The above exception", "[SQL:")):
            line = _QUOTED.sub("'<redacted>'", line)
        lines.append(line)
    return redact("\n".join(lines))


# A path segment shaped like a random token (url-safe, 20+ characters, both
# cases: tenant slugs and route names are lower case) is a bearer secret, such
# as a survey link's token: whoever reads the log could answer for the customer.
_TOKEN_SEGMENT = re.compile(r"(?<=/)(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])[A-Za-z0-9_-]{20,}(?=/|$)")


def redact_path(path: str) -> str:
    """The path as logs show it: token-like segments replaced."""
    return _TOKEN_SEGMENT.sub("<token>", path)


def _strip_query(path) -> object:
    return redact_path(path.split("?", 1)[0]) if isinstance(path, str) else path


_base_factory = logging.getLogRecordFactory()


def _record_factory(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    record.tenant = tenant_var.get()
    record.trace_id = trace_id_var.get()
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
        # (client, method, path with query string, http version, status)
        client, method, path, version, status = record.args
        record.args = (client, method, _strip_query(path), version, status)
    if record.levelno >= logging.WARNING:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string stays the handler's problem
            message = None
        if message is not None:
            record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters reuse exc_text when it is set: every handler gets the redacted one.
        record.exc_text = redact_traceback("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    return record


def install_record_factory() -> None:
    """Tag and redact every record of the process (idempotent)."""
    if logging.getLogRecordFactory() is not _record_factory:
        global _base_factory
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_record_factory)


# -- formatting ---------------------------------------------------------------------------

def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict:
    fields = getattr(record, "fields", None) or {}
    if record.levelno >= logging.WARNING:
        fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
    return fields


def _exception(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_text:
        return record.exc_text
    if record.exc_info and record.exc_info[0] is not None:
        return redact_traceback(formatter.formatException(record.exc_info))
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": _timestamp(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage(), "request_id": getattr(record, "request_id", None),
                 "tenant": getattr(record, "tenant", None)}
        trace_id = getattr(record, "trace_id", None)
        if trace_id:
            entry["trace_id"] = trace_id
        entry.update(_fields(record))
        exception = _exception(self, record)
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger [request_id tenant] message key=value ...`` and the traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        tags = " ".join(str(v) for v in (getattr(record, "request_id", None), getattr(record, "tenant", None)) if v)
        parts = [_timestamp(record), record.levelname, record.name] + ([f"[{tags}]"] if tags else []) + [record.getMessage()]
        parts += [f"{k}={v}" for k, v in _fields(record).items()]
        line = " ".join(parts)
        exception = _exception(self, record)
        return f"{line}\n{exception}" if exception else line


def log_format(value: str | None = None) -> str:
    """``json`` or ``text`` for the setting ``value`` (GUANXI_LOG_FORMAT; ``auto``, the default: text on a terminal)."""
    chosen = (value or "auto").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"GUANXI_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {chosen!r}")
    if chosen == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return chosen


def make_formatter(fmt: str | None = None) -> logging.Formatter:
    """The formatter for GUANXI_LOG_FORMAT ``fmt`` (also uvicorn's, via uvicorn_log_config)."""
    install_record_factory()
    logging.captureWarnings(True)
    return JsonFormatter() if log_format(fmt) == "json" else TextFormatter()


class _GuanxiHandler(logging.StreamHandler):
    """Ours, so that configuring twice replaces it rather than doubling lines."""


def configure_logging(level: str = "INFO", fmt: str | None = None) -> None:
    """Our records and uvicorn's at ``level``, other libraries' from WARNING,
    all through one handler on the root logger, on stderr (idempotent)."""
    install_record_factory()
    logging.captureWarnings(True)  # Python's warnings as log lines too, not bare text on stderr
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _GuanxiHandler)]:
        root.removeHandler(handler)
    handler = _GuanxiHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("guanxi").setLevel(level)
    for name in UVICORN_LOGGERS:
        # uvicorn's lines go up to the root handler (and to any test capture there).
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level)


def uvicorn_log_config(level: str = "INFO", fmt: str | None = None) -> dict:
    """For ``uvicorn.run(log_config=...)``: uvicorn's own lines, from its
    first ("Started server process"), in our format and through our handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"guanxi": {"()": "api.logs.make_formatter", "fmt": fmt}},
        "handlers": {"guanxi": {"class": "api.logs._GuanxiHandler", "formatter": "guanxi", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["guanxi"], "level": "WARNING"},
        "loggers": {
            "guanxi": {"level": level},
            **{name: {"handlers": [], "level": level, "propagate": True} for name in UVICORN_LOGGERS},
        },
    }


# -- the middleware ---------------------------------------------------------------------------

class RequestIdMiddleware:
    """Takes X-Request-ID from the caller (or makes one), echoes it, keeps
    it in context for every log line of the request, and logs the request
    (its path, never its query string). ``observers`` (metrics, tracing)
    hear of each request's start and end."""

    def __init__(self, app: ASGIApp, observers: tuple = ()):
        self.app = app
        self.observers = tuple(o for o in observers if o is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        request_id = _clean_request_id(headers.get(b"x-request-id", b"")) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        tokens = (request_id_var.set(request_id), tenant_var.set(None), trace_id_var.set(None))
        started = time.perf_counter()
        status = {"code": 500}
        ends = [observer.start(scope) for observer in self.observers]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        finally:
            seconds = time.perf_counter() - started
            tenant_var.set(state.get("tenant"))
            fields = {
                "method": scope["method"], "path": redact_path(scope["path"]), "status": status["code"],
                "duration_ms": round(seconds * 1000, 2),
            }
            access.info("request", extra={"fields": fields})
            for end in ends:
                end(status["code"], seconds)
            if not failed:
                # After a crash they stay set, for the server's own report of it (uvicorn logs
                # "Exception in ASGI application" after this returns, in the request's task).
                for var, token in zip((request_id_var, tenant_var, trace_id_var), tokens):
                    var.reset(token)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _clean_request_id(raw: bytes) -> str:
    """The caller's id when it is a plain token (it lands in every log line), else none."""
    text = raw.decode("latin-1")[:64]
    return text if _REQUEST_ID.fullmatch(text) else ""


def set_tenant(request_state, slug: str) -> None:
    """The request's tenant, for its log lines from here on (the endpoint calls it once it knows)."""
    request_state.tenant = slug
    tenant_var.set(slug)
