"""`RequestIDMiddleware`: one id per request, on the request, the response and every log record.

The id comes from the client's ``X-Request-ID`` header when it is a sane value (1 to 128 of
``A-Z a-z 0-9 . _ ~ : + / = -``, enough for UUIDs, ULIDs and base64 tokens), so a request keeps
its id across services; anything else (too long, spaces, control characters, empty) is replaced
by a new UUIDv7, whose leading timestamp makes ids sort by time.

While the request is served the id is the value of a context variable, read with
`current_request_id`. Constructing the middleware installs a log record factory (once per
process, on top of whatever factory was there) that copies it into every record as
``record.request_id``: ``%(request_id)s`` works in any formatter, and ``None`` is logged outside a
request. Sync handlers run in the thread pool with a copy of the request's context, so their
records carry the id too. `RequestIDFilter` does the same per handler, for records that bypass
the factory.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any, ClassVar

from lanner.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestIDFilter", "RequestIDMiddleware", "current_request_id", "generate_request_id"]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("lanner.request_id", default=None)

#: What a client's id may be: 1 to 128 URL-safe, base64 or UUID characters, nothing else.
_SANE_ID = re.compile(rb"[A-Za-z0-9._~:+/=-]{1,128}")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MS_MASK = (1 << 48) - 1
# The variant nibble: ``10`` then two random bits.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside a request."""
    return _request_id.get()


def generate_request_id() -> str:
    """A new UUIDv7 as text, such as ``0190c8e5-6f1e-7a3b-9c2d-5e8f0a1b2c3d``.

    A 48-bit millisecond timestamp, then 74 random bits (Python 3.11 has no ``uuid.uuid7``). Ids
    made in the same millisecond are unique (random) but not ordered among themselves.
    """
    # PERF(access log to a file): hex text pieces, not 128-bit integer arithmetic: 2.2 us, not 3.8.
    millis = f"{time.time_ns() // 1_000_000 & _MS_MASK:012x}"
    rand = os.urandom(10).hex()
    return f"{millis[:8]}-{millis[8:]}-7{rand[:3]}-{_VARIANT[rand[3]]}{rand[4:7]}-{rand[7:19]}"


class RequestIDFilter(logging.Filter):
    """A logging filter giving each record a ``request_id`` attribute (None outside a request).

    `RequestIDMiddleware` already adds it to every record through the log record factory; attach
    this filter to a handler for records made some other way (``logging.makeLogRecord``, a
    socket or queue listener), or to use ``%(request_id)s`` without the middleware. A record that
    already has the attribute keeps it: a handler in another thread has no request context.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``record.request_id`` when it is missing; never drops a record."""
        if "request_id" not in record.__dict__:
            record.__dict__["request_id"] = _request_id.get()
        return True


def _with_request_id(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.__dict__["request_id"] = _request_id.get()
        return record

    factory.lanner_request_id = True  # type: ignore[attr-defined]
    return factory


_installed = False


def _install_record_factory() -> None:
    """Put the request id on every log record from now on; chains the current factory, once.

    Installed again only if the factory was reset to the plain `logging.LogRecord` since: a
    factory someone stacked on top of ours still calls ours.
    """
    global _installed
    current = logging.getLogRecordFactory()
    if getattr(current, "lanner_request_id", False) or (_installed and current is not logging.LogRecord):
        return
    logging.setLogRecordFactory(_with_request_id(current))
    _installed = True


class RequestIDMiddleware:
    """Give each HTTP request (and WebSocket) an id, and tag the response and logs with it.

    For each request the id is:

    - the client's header (`header_name`) when `trust_incoming` and its value is sane: 1 to 128
      characters of ``A-Z a-z 0-9 . _ ~ : + / = -``; otherwise
    - a new one from `generator` (a UUIDv7, `generate_request_id`).

    It is then ``request.state.request_id`` in handlers and dependencies (the scope's ``state``
    gets a ``request_id`` key), the response's `header_name` header (replacing any the app set,
    so the header always matches the logs), and `current_request_id` / ``record.request_id`` for
    every log record made while the request is served (the context variable is reset when the
    app returns). A WebSocket gets an id in its state and logs, but no header.

    Records already carry ``request_id``, so ``logger.info(..., extra={"request_id": ...})``
    raises ``KeyError`` (logging refuses to overwrite a record attribute): drop that ``extra``.

    Exceptions raised by other middleware are answered by the app's error boundary, outside this
    middleware: that 500 has no id header.

    Args:
        app: the ASGI application to wrap.
        header_name: the request and response header carrying the id.
        trust_incoming: take a sane id from the client's header (False: always generate one, for
            an app whose clients should not choose the ids in its logs).
        generator: makes a new id; must return ASCII header-safe text.

    Raises:
        ValueError: `header_name` is not a valid header name.
    """

    layer: ClassVar[int] = 30

    def __init__(
        self,
        app: ASGIApp,
        header_name: str = "X-Request-ID",
        *,
        trust_incoming: bool = True,
        generator: Callable[[], str] = generate_request_id,
    ) -> None:
        if not _TOKEN.fullmatch(header_name):
            raise ValueError(f"header_name must be a valid HTTP header name, not {header_name!r}")
        self.app = app
        self.header_name = header_name
        self.trust_incoming = trust_incoming
        self.generator = generator
        self._header = header_name.lower().encode("ascii")
        _install_record_factory()

    def _incoming(self, scope: Scope) -> str | None:
        name = self._header
        for key, value in scope["headers"]:
            if key == name:
                return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its id set; add the id header to an HTTP response."""
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        request_id = self._incoming(scope) if self.trust_incoming else None
        if request_id is None:
            request_id = self.generator()
        # The server gives each request its own shallow copy of the lifespan state (ASGI), and
        # `Request.state` starts from this dict.
        state = scope.get("state")
        if state is None:
            scope["state"] = {"request_id": request_id}
        else:
            state["request_id"] = request_id
        if kind == "http":
            send = _tagging(send, self._header, request_id.encode("latin-1"))
        token = _request_id.set(request_id)
        try:
            await self.app(scope, receive, send)
        finally:
            _request_id.reset(token)


def _tagging(send: Send, name: bytes, value: bytes) -> Send:
    """`send` with the id header put on the response start (a new message: responses are reused)."""

    async def tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [item for item in message.get("headers", ()) if item[0].lower() != name]
            headers.append((name, value))
            message = {**message, "headers": headers}
        await send(message)

    return tagged
