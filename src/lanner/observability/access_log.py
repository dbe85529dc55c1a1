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
import urllib.parse
from time import perf_counter_ns
from typing import Any, ClassVar, Literal

from lanner.errors import loggable
from lanner.exceptions import HTTPException
from lanner.middleware.request_id import RequestIDFilter, current_request_id
from lanner.middleware.timeout import TIMED_OUT_STATUS
from lanner.observability._log_format import JSONFormatter, TextFormatter
from lanner.observability.metrics import UNMATCHED_ROUTE
from lanner.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ACCESS_LOGGER", "UNMATCHED_ROUTE", "AccessLogMiddleware"]

#: The logger access lines go to.
ACCESS_LOGGER = "lanner.access"
#: The status logged when the client left (or the request was cancelled) before any response.
CLIENT_CLOSED = 499

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
      app's error boundary; cancelled: 499 (`TimeoutMiddleware` runs outside this one: a request
      it cancels is logged 499 here, though the client gets its 504).

    A 500's traceback is logged once, by lanner on ``lanner.error`` (with the request id when
    `RequestIDMiddleware` runs), never in the access line.

    Cost: nothing is built when ``lanner.access`` is not enabled for INFO; otherwise one record
    and its fields, and the handler's work (with `JSONFormatter`, one pydantic-core encoding). A
    handler writing to a file or stream does so on the event loop; to take formatting and writes
    off it, give ``lanner.access`` a `logging.handlers.QueueHandler` served by a ``QueueListener``.

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
        header_id: str | None = None

        async def watch_receive() -> Message:
            nonlocal left
            message = await receive()
            if message["type"] == "http.disconnect":
                left = True
            return message

        async def watch_send(message: Message) -> None:
            nonlocal status, sent, logged, left, header_id
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                if current_request_id() is None:
                    header_id = self._header_id(message)
            try:
                await send(message)
            except OSError:
                left = True
                raise
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
                if not message.get("more_body", False) and not logged:
                    logged = True
                    self._log(scope, status, sent, perf_counter_ns() - started, False, header_id)

        try:
            await self.app(scope, watch_receive, watch_send)
        except BaseException as exc:
            if not logged:
                logged = True
                if not status:
                    status = scope.get(TIMED_OUT_STATUS) or _failure_status(exc, left)
                self._log(scope, status, sent, perf_counter_ns() - started, left, header_id)
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
                header_id,
            )

    def _header_id(self, message: Message) -> str | None:
        name = self._id_header
        for key, value in message.get("headers", ()):
            if key.lower() == name:
                return loggable(bytes(value).decode("latin-1"))
        return None

    def _log(
        self, scope: Scope, status: int, sent: int, elapsed_ns: int, left: bool, header_id: str | None
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
        request_id = current_request_id() or header_id
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
        # PERF(access log to a file): makeRecord + handle, not logger.info(): no caller lookup
        # (a stack walk), and the fields go in directly (``extra=`` refuses ``request_id``, which
        # the record factory already set).
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, (), None)
        record.__dict__.update(fields)
        logger.handle(record)


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
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if format == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    errors = logging.getLogger("lanner.error")
    if not errors.hasHandlers():
        handler = logging.StreamHandler()
        handler.addFilter(RequestIDFilter())
        handler.setFormatter(JSONFormatter() if format == "json" else TextFormatter(_ERROR_TEXT))
        errors.addHandler(handler)
