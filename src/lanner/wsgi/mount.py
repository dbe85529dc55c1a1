"""A WSGI app (Flask, Django...) inside a lanner app: `WSGIMount`, its thread pool and its streams.

The WSGI app sees ``SCRIPT_NAME`` = the mount prefix (ASGI ``root_path``) and ``PATH_INFO`` = the
rest of the path (`split_path`), so its own ``url_for`` builds ``/legacy/...`` links. It runs in a
thread pool of its own, apart from lanner's pool for sync handlers, so a slow old app cannot starve
new routes. Request bodies stream in as it reads them, responses stream out chunk by chunk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType

from lanner.types import Message, Receive, Scope, Send
from lanner.wsgi._base import Environ, StartResponse, WSGIApp, _a2wsgi

__all__ = ["WSGIMount", "split_path"]

# The scope key where `WSGIMount` leaves the request's `_Exchange` for the thread running the app.
_EXCHANGE = "lanner.wsgi.exchange"
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

# Body messages read ahead of the WSGI app: enough to keep the socket busy, never an unbounded buffer.
_READ_AHEAD = 2


class WSGIMount:
    """An ASGI app serving a WSGI app, for ``app.mount(prefix, WSGIMount(wsgi_app))``.

    Request bodies stream in as the WSGI app reads them (at most a couple of messages are read
    ahead); its response streams out chunk by chunk, at most `send_queue_size` chunks ahead of the
    client. When the client goes away, the WSGI app's response iterable is closed at its next chunk,
    as a WSGI server does when a write fails, so an endless generator does not hold a thread for
    ever. Its status codes, error pages and cookies pass through untouched.

    Args:
        app: the WSGI application.
        threads: size of the thread pool running the WSGI app, its own: a slow WSGI app queues its
            requests here and never takes threads from lanner's sync handlers.
        send_queue_size: response chunks buffered between the WSGI thread and the client.

    Raises:
        ValueError: if `threads` or `send_queue_size` is below 1.
        ImportError: if a2wsgi is not installed.
    """

    def __init__(self, app: WSGIApp, *, threads: int = 10, send_queue_size: int = 10) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads!r}")
        if send_queue_size < 1:
            raise ValueError(f"send_queue_size must be at least 1, got {send_queue_size!r}")
        self.app = app
        self.threads = threads
        self._middleware = _a2wsgi().WSGIMiddleware(
            self._call_wsgi, workers=threads, send_queue_size=send_queue_size
        )
        #: The thread pool the WSGI app runs in.
        self.executor: concurrent.futures.ThreadPoolExecutor = self._middleware.executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: HTTP through the WSGI app, anything else as a2wsgi does.

        Raises:
            Exception: an error raised by `send` (other than the client going away), once the WSGI
                app has finished with the request.
        """
        if scope["type"] != "http":
            # WebSocket handshakes are refused, a lifespan is acknowledged.
            await self._middleware(scope, receive, send)
            return
        exchange = _Exchange(receive, send)
        child = dict(scope)
        child[_EXCHANGE] = exchange
        pump = asyncio.ensure_future(exchange.pump())
        try:
            await self._middleware(child, exchange.receive, exchange.send)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if exchange.error is not None:
            raise exchange.error

    def close(self) -> None:
        """Stop the thread pool once the requests running in it are over; it serves no more after."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    def _call_wsgi(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # Runs in the pool thread: a2wsgi built `environ`; the prefix split is lanner's.
        scope = environ["asgi.scope"]
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = split_path(scope)
        # a2wsgi's input ends where the ASGI body ends, so a body without a length is readable too.
        environ["wsgi.input_terminated"] = True
        environ["wsgi.errors"] = sys.stderr
        exchange: _Exchange = scope[_EXCHANGE]
        start = _Start(start_response)
        return _UntilGone(self.app(environ, start), start, exchange.gone)


def split_path(scope: Scope) -> tuple[str, str]:
    """Return ``(SCRIPT_NAME, PATH_INFO)`` for an ASGI HTTP scope, as WSGI strings.

    ``root_path`` is the script name. The path holds it in front (ASGI 2.4, what lanner's mounts
    pass); a path without it (older servers) is all path info. Unlike a2wsgi, a ``SCRIPT_NAME``
    environment variable of the process does not replace the mount prefix.

    Args:
        scope: the ASGI HTTP scope, with ``path`` and optionally ``root_path``.

    Returns:
        The script name and the path info, each the URL-decoded UTF-8 bytes as latin-1 strings.
    """
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        path = path[len(root_path) :]
    # WSGI strings are the URL-decoded UTF-8 bytes, one character per byte.
    return root_path.encode().decode("latin-1"), path.encode().decode("latin-1")


class _Exchange:
    """One request's channel to the client: it reads ahead a little and notices when the client goes.

    One task (`pump`) owns the server's ``receive``: body messages go to a small queue the WSGI
    app's input reads from, and ``http.disconnect`` sets `gone`. `send` never raises: a failure marks
    the client gone (the WSGI app is then stopped at its next chunk) and a failure that is not the
    connection's is kept in `error` to be raised once the WSGI thread is done.
    """

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._inbox: asyncio.Queue[Message] = asyncio.Queue(_READ_AHEAD)
        self.gone = threading.Event()
        self.error: Exception | None = None

    async def pump(self) -> None:
        while True:
            try:
                message = await self._receive()
            except Exception as exc:
                # Raised once the WSGI thread is done; until then the app reads an ended body.
                if self.error is None:
                    self.error = exc
                message = {"type": "http.disconnect"}
            if message["type"] == "http.disconnect":
                self.gone.set()
                # A reader waiting on the empty queue wakes; a full queue is drained, then `receive`
                # sees `gone`.
                with contextlib.suppress(asyncio.QueueFull):
                    self._inbox.put_nowait(message)
                return
            await self._inbox.put(message)

    async def receive(self) -> Message:
        if self.gone.is_set() and self._inbox.empty():
            return {"type": "http.disconnect"}
        return await self._inbox.get()

    async def send(self, message: Message) -> None:
        if self.gone.is_set():
            return
        try:
            await self._send(message)
        except Exception as exc:
            self.gone.set()
            # ASGI 2.4 servers raise an OSError for a closed connection: the client's doing.
            if not isinstance(exc, OSError) and self.error is None:
                self.error = exc


class _Start:
    """The WSGI app's ``start_response``, holding the start back until the first body bytes (PEP 3333).

    Until then the app may still replace its status and headers by passing ``exc_info`` (an error
    page after a failed start); afterwards ``exc_info`` re-raises the app's error at once. A second
    call without ``exc_info`` is the app's bug, raised as WSGI servers raise it. a2wsgi alone sends
    the start at the first call and ignores the rest.
    """

    def __init__(self, start_response: StartResponse) -> None:
        self._start_response = start_response
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self._write: Callable[[bytes], object] | None = None  # a2wsgi's, once the start went out

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self._write is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self._status is not None:
            raise AssertionError("start_response was already called (without exc_info)")
        self._status, self._headers = status, headers
        return self.write

    @property
    def sent(self) -> bool:
        return self._write is not None

    def send(self) -> None:
        """Send the start now, before the first body bytes or at the end of an empty body."""
        if self._write is None:
            if self._status is None:
                raise RuntimeError("the WSGI app gave its response without calling start_response")
            self._write = self._start_response(self._status, self._headers)

    def write(self, data: bytes) -> None:
        """The ``write`` callable ``start_response`` returns (WSGI's imperative output)."""
        self.send()
        if data:
            assert self._write is not None
            self._write(data)


class _UntilGone:
    """A WSGI response iterable that ends early once the client has gone, and closes the original.

    It sends the held-back start (`_Start`) with the first non-empty chunk, or at the end.
    """

    def __init__(self, iterable: Iterable[bytes], start: _Start, gone: threading.Event) -> None:
        self._iterable = iterable
        self._iterator = iter(iterable)
        self._start = start
        self._gone = gone

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while not self._gone.is_set():
            chunk = next(self._iterator, None)
            if chunk is None:
                self._start.send()  # an empty body: the start goes out alone
                break
            if self._start.sent:
                return chunk
            if chunk:
                self._start.send()
                return chunk
            # An empty chunk before the start carries nothing: no message for it.
        raise StopIteration

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            close()
