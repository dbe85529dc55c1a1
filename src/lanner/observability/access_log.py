"""`AccessLogMiddleware`: one line per request on the ``lanner.access`` logger, JSON or text.

Each line has the method, the route template (``/items/{item_id}``: never the raw path, which can
carry tokens and unbounded data, unless ``log_path=True``), the status, the duration in
milliseconds, the response body bytes sent, the client's address and the request id. Headers and
query strings are never logged. Records are plain `logging` records with the fields as
attributes, so any handler and formatter works; `JSONFormatter` writes them as one JSON object per
line.

Where the lines go: if ``lanner.access`` has no handler of its own when the middleware is built,
it gets a stderr handler with the format's formatter and stops propagating (so a root handler
does not print each line a second way); ``lanner.error`` then gets the same kind of handler too,
with the request id, if nothing up its hierarchy has one (otherwise Python's last-resort handler
would print tracebacks as bare text between the JSON lines). Configure ``lanner.access`` yourself
(a handler on it, through ``dictConfig`` or ``addHandler``) before the app starts to route the
records elsewhere, through the root logger included: lanner then leaves its handlers and
``propagate`` alone. Its level is set to INFO if unset; set it to WARNING to silence the lines.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import urllib.parse
from time import perf_counter_ns
from typing import Any, ClassVar, Literal

from lanner.errors import loggable
from lanner.exceptions import HTTPException
from lanner.middleware.request_id import RequestIDFilter, _request_id
from lanner.middleware.timeout import TIMED_OUT_STATUS
from lanner.observability._log_format import JSONFormatter, TextFormatter, _StderrHandler
from lanner.observability.metrics import UNMATCHED_ROUTE
from lanner.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ACCESS_LOGGER", "UNMATCHED_ROUTE", "AccessLogMiddleware"]

#: The logger access lines go to.
ACCESS_LOGGER = "lanner.access"
#: The status logged when the client left (or the request was cancelled) before any response.
CLIENT_CLOSED = 499

# The attributes of every access record, in their order (then ``path``, ``disconnected``).
_FIELDS = ("method", "route", "status", "duration_ms", "bytes", "client", "request_id")
_ERROR_TEXT = "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"


class AccessLogMiddleware:
    """Log one line per HTTP request when its response ends.

    Fields (attributes of the record, top-level keys with `JSONFormatter`): ``method``, ``route``
    (the matched route's template, `UNMATCHED_ROUTE` without one), ``status``, ``duration_ms``
    (from the request reaching this middleware to its last body byte handed to the server),
    ``bytes`` (response body bytes sent, after compression when `GZipMiddleware` is on),
    ``client`` (the client's host, None when unknown), ``request_id`` (`current_request_id`,
    else the response's `request_id_header`), and ``path`` with `log_path`. Text lines read
    ``2025-01-31T12:00:00.123Z GET /items/{item_id} 200 1.52ms 17B client=127.0.0.1 id=...``.
    Every value that comes from the client has its control characters escaped.

    The line is logged as soon as the last body byte is sent (background tasks still to run), or
    when the app returns or raises without finishing the response:

    - the client left first (seen as ``http.disconnect`` or a send failing with ``OSError``):
      the status sent, or `CLIENT_CLOSED` (499) if none was, with ``disconnected`` true and the
      bytes sent until then (servers that silently drop what is sent after the client left,
      uvicorn among them, make a request the app answered without reading look complete);
    - the app raised before responding: 500 (an `HTTPException`'s own status), answered by the
      app's error boundary; cancelled: 499, except a request `TimeoutMiddleware` (outside this
      one) cancelled, logged with the 408 or 504 the client gets.

    A 500's traceback is logged once, by lanner on ``lanner.error`` (with the request id when
    `RequestIDMiddleware` runs), never in the access line.

    Cost: nothing is built when ``lanner.access`` is not enabled for INFO; otherwise one record
    (made without `logging.LogRecord`'s constructor while the record factory is the standard one,
    or `RequestIDMiddleware`'s over it; any other factory is called as usual) and the handler's
    work: with `JSONFormatter`, one pydantic-core encoding, and for a ``FileHandler`` or
    ``StreamHandler`` one write and one flush (a system call) per line, on the event loop: about
    as much as all the rest. To take formatting and writes off the event loop, give
    ``lanner.access`` a `logging.handlers.QueueHandler` served by a ``QueueListener`` (the
    formatter then goes on the listener's handler). A ``MemoryHandler`` in front saves
    nothing: it hands each record to its target, which still writes and flushes it alone.

    Args:
        app: the ASGI application to wrap.
        format: ``"json"`` or ``"text"``: the formatter of the default handler, and the record's
            message (``GET /items/{item_id} 200`` for JSON, the whole line for text).
        log_path: also log the request's path (as sent, percent-encoded, no query string) in a
            ``path`` field. Off by default: paths can carry secrets and are unbounded.
        request_id_header: where the id is read from the response when no `RequestIDMiddleware`
            runs around this one.

    Raises:
        ValueError: `format` is neither ``"json"`` nor ``"text"``.
    """

    layer: ClassVar[int] = 60

    def __init__(
        self,
        app: ASGIApp,
        format: Literal["json", "text"] = "json",
        *,
        log_path: bool = False,
        request_id_header: str = "X-Request-ID",
    ) -> None:
        if format not in ("json", "text"):
            raise ValueError(f"format must be 'json' or 'text', not {format!r}")
        self.app = app
        self.format = format
        self.log_path = log_path
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self._text = format == "text"
        self._id_header = request_id_header.lower().encode("latin-1")
        self._records = _Records(self.logger, _FIELDS)
        _configure_logging(self.logger, format)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then log its line.

        Raises:
            BaseException: whatever the app raised, after logging the line.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter_ns()
        status = 0
        sent = 0
        logged = False
        left = False
        # PERF(production): `RequestIDMiddleware` runs outside this one: its id is read once here,
        # and the response's headers are searched only without it.
        request_id = _request_id.get()

        async def watch_receive() -> Message:
            nonlocal left
            message = await receive()
            if message["type"] == "http.disconnect":
                left = True
            return message

        async def watch_send(message: Message) -> None:
            nonlocal status, sent, logged, left, request_id
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                if request_id is None:
                    request_id = self._header_id(message)
            try:
                await send(message)
            except OSError:
                left = True
                raise
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
                if not logged and not message.get("more_body", False):
                    logged = True
                    self._log(scope, status, sent, perf_counter_ns() - started, False, request_id)

        try:
            await self.app(scope, watch_receive, watch_send)
        except BaseException as exc:
            if not logged:
                logged = True
                if not status:
                    status = scope.get(TIMED_OUT_STATUS) or _failure_status(exc, left)
                self._log(scope, status, sent, perf_counter_ns() - started, left, request_id)
            raise
        if not logged:
            # The app returned without finishing its response: the client left, or the server
            # answers a response never started with a 500.
            self._log(
                scope,
                status or (CLIENT_CLOSED if left else 500),
                sent,
                perf_counter_ns() - started,
                left,
                request_id,
            )

    def _header_id(self, message: Message) -> str | None:
        name = self._id_header
        for key, value in message.get("headers", ()):
            if key.lower() == name:
                return loggable(bytes(value).decode("latin-1"))
        return None

    def _log(
        self, scope: Scope, status: int, sent: int, elapsed_ns: int, left: bool, request_id: str | None
    ) -> None:
        logger = self.logger
        # PERF(access log to a file): nothing is built for a logger that would drop the line.
        if not logger.isEnabledFor(logging.INFO):
            return
        route = scope.get("route")
        template: str = route.path if route is not None else UNMATCHED_ROUTE
        method = loggable(scope["method"])
        client = scope.get("client")
        host = loggable(str(client[0])) if client else None
        if request_id is None:
            request_id = _request_id.get()
        duration = elapsed_ns // 1000 / 1000  # milliseconds, to the microsecond
        fields: dict[str, Any] = {
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": duration,
            "bytes": sent,
            "client": host,
            "request_id": request_id,
        }
        path = _logged_path(scope) if self.log_path else None
        if path is not None:
            fields["path"] = path
        if left:
            fields["disconnected"] = True
        if self._text:
            message = (
                f"{method} {template} {status} {duration:.2f}ms {sent}B "
                f"client={host or '-'} id={request_id or '-'}"
            )
            if path is not None:
                message += f" path={path}"
            if left:
                message += " disconnected"
        else:
            message = f"{method} {template} {status}"
        logger.handle(self._records.make(message, fields))


def _failure_status(exc: BaseException, left: bool) -> int:
    """The status of a request whose app raised `exc` before starting a response."""
    if left or not isinstance(exc, Exception):
        return CLIENT_CLOSED
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500


def _logged_path(scope: Scope) -> str:
    """The path as the client sent it: percent-encoded, so no spaces or control characters."""
    raw = scope.get("raw_path")
    if raw:
        return loggable(bytes(raw).decode("latin-1"))
    return urllib.parse.quote(scope["path"], safe="/:@!$&'()*+,;=-._~")


def _configure_logging(logger: logging.Logger, format: str) -> None:
    """Give ``lanner.access`` (and ``lanner.error``) a stderr handler unless configured."""
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if logger.handlers:
        return
    handler: logging.Handler = _StderrHandler()
    handler.setFormatter(JSONFormatter() if format == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    errors = logging.getLogger("lanner.error")
    if not errors.hasHandlers():
        handler = _StderrHandler()
        handler.addFilter(RequestIDFilter())
        handler.setFormatter(JSONFormatter() if format == "json" else TextFormatter(_ERROR_TEXT))
        errors.addHandler(handler)


# Every attribute `logging.LogRecord.__init__` sets (``taskName`` from Python 3.12 on).
_RECORD_KEYS = frozenset(
    {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
        "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated",
        "thread", "threadName", "processName", "process",
    }
)  # fmt: skip
_pid = os.getpid()


def _update_pid() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_update_pid)


class _Records:
    """Makes the records of one logger: what ``makeRecord`` makes, without it when it can.

    When the logger's class keeps `logging.Logger.makeRecord` and the record factory is the plain
    `logging.LogRecord`, or `RequestIDMiddleware`'s over it, a record is a copy of one built at
    construction with its time, thread, process and task refreshed as ``LogRecord`` would (its
    flags ``logging.logThreads``... included): the same attributes in the same order (the level's
    name is the one INFO had then). Any other factory, such as one a tracing library installs,
    makes every record.

    Args:
        logger: the logger the records are for.
        fields: the names of the extra attributes every record gets, in their order.
    """

    __slots__ = ("_epoch", "_factory", "_logger", "_standard", "_tasks", "_templates")

    def __init__(self, logger: logging.Logger, fields: tuple[str, ...]) -> None:
        self._logger = logger
        proto = logging.LogRecord(logger.name, logging.INFO, __file__, 0, "", (), None)
        standard = proto.__dict__
        self._epoch = proto.created - proto.relativeCreated / 1000
        self._tasks = "taskName" in standard
        self._standard = type(logger).makeRecord is logging.Logger.makeRecord and (
            standard.keys() - {"taskName"} == _RECORD_KEYS
        )
        # The fields' places made ahead: filling them never grows the dictionary. With the
        # request id factory, ``request_id`` comes first, where the factory sets it.
        placed = dict.fromkeys(fields)
        self._templates = ({**standard, **placed}, {**standard, "request_id": None, **placed})
        self._factory: tuple[object, dict[str, Any] | None] = (None, None)

    def make(self, message: str, fields: dict[str, Any]) -> logging.LogRecord:
        """An INFO record of `message` with `fields` as attributes, as the factory would make it.

        `fields` has every name given at construction, and maybe more.
        """
        factory = logging.getLogRecordFactory()
        seen = self._factory
        if seen[0] is not factory:
            seen = self._factory = (factory, self._template_for(factory))
        template = seen[1]
        if template is None:
            logger = self._logger
            record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, (), None)
            # ``extra=`` would refuse ``request_id``, which a factory may have set.
            record.__dict__.update(fields)
            return record
        # PERF(production): no `logging.LogRecord.__init__` (its basename, splitext, level name
        # and thread lookups, and a dictionary grown key by key): 1.1 us, not 2.4.
        now = time.time()
        data = template.copy()
        data["msg"] = message
        data["created"] = now
        data["msecs"] = int((now - int(now)) * 1000) + 0.0
        data["relativeCreated"] = (now - self._epoch) * 1000
        if logging.logThreads:
            data["thread"] = threading.get_ident()
            data["threadName"] = threading.current_thread().name
        else:
            data["thread"] = data["threadName"] = None
        data["processName"] = _process_name() if logging.logMultiprocessing else None
        data["process"] = _pid if logging.logProcesses else None
        if self._tasks:
            data["taskName"] = _task_name()
        data.update(fields)
        record = logging.LogRecord.__new__(logging.LogRecord)
        record.__dict__ = data
        return record

    def _template_for(self, factory: object) -> dict[str, Any] | None:
        if not self._standard:
            return None
        if factory is logging.LogRecord:
            return self._templates[0]
        if getattr(factory, "lanner_wraps", None) is logging.LogRecord:
            return self._templates[1]
        return None


def _process_name() -> str:
    """``processName`` as `logging.LogRecord` finds it."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        try:
            name: str = multiprocessing.current_process().name
        except Exception:
            return "MainProcess"
        return name
    return "MainProcess"


def _task_name() -> str | None:
    """``taskName`` (Python 3.12+) as `logging.LogRecord` finds it."""
    if not getattr(logging, "logAsyncioTasks", True):
        return None
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        name: str = asyncio.current_task().get_name()
    except Exception:
        return None
    return name
