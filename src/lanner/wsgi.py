"""WSGI both ways: a WSGI app (Flask, Django...) inside a lanner app, and a lanner app on a WSGI server.

Both directions are built on a2wsgi, an optional dependency (``pip install 'lanner[wsgi]'``) imported
only when an adapter is created. Under a single-threaded WSGI server, `to_wsgi` runs the app on the
serving thread itself rather than through a2wsgi's loop thread, which is what makes it faster than
Flask on gunicorn's sync workers.

`WSGIMount` serves a WSGI app as an ASGI app, so that ``app.mount("/legacy", WSGIMount(flask_app))``
keeps an old app running under a prefix while its routes move to lanner one at a time. The WSGI app
sees ``SCRIPT_NAME`` = the mount prefix (ASGI ``root_path``) and ``PATH_INFO`` = the rest of the
path, so its own ``url_for`` builds ``/legacy/...`` links. It runs in a thread pool of its own
(`threads`), apart from lanner's pool for sync handlers, so a slow old app cannot starve new routes.

`to_wsgi` turns a lanner app into a WSGI callable for servers that only speak WSGI (gunicorn sync
workers, mod_wsgi, uWSGI, waitress)::

    # myapp/wsgi.py
    from myapp import app
    application = app.wsgi  # or lanner.wsgi.to_wsgi(app)

    $ gunicorn -w 4 myapp.wsgi:application
    $ gunicorn -w 4 'lanner.wsgi:load("myapp:app")'  # without a module of your own

(gunicorn's loader takes a name or a call, not ``myapp:app.wsgi``.) The lifespan runs once per
worker process: startup on the first request the process serves (not at import, so a server that
imports the app before forking its workers does not start it in the parent), or earlier by calling
`WSGIAdapter.startup` (gunicorn's ``post_worker_init`` hook, say, so that a failing startup stops the
worker at boot). Shutdown runs when the process exits normally (gunicorn's workers do on SIGTERM).
A failing startup makes every request of that process raise `WSGIStartupError`, which the server
logs and answers with its own 500; the startup is not retried.

What does not work under WSGI:

- WebSockets: WSGI has no way to hand over the connection. A request that asks for a WebSocket
  (``Upgrade: websocket``) is answered at once with a 501 problem document saying so; serve the app
  on an ASGI server (``lanner run``, uvicorn) for its WebSocket routes.
- Chunked request bodies without a ``Content-Length`` under a multi-threaded server: answered
  with 411 (a2wsgi reads the body by its length). Single-threaded servers read them to the end.
- Knowing that the client went away: ``request.is_disconnected()`` stays False until the response
  is over, and a streamed response (server-sent events) keeps producing until the server fails to
  write it.
- Concurrency: a sync worker serves one request at a time, a streamed response holds its worker
  for as long as it lasts, and background tasks run before the worker takes its next request.
  Under a single-threaded server the event loop runs only while a request is served, so tasks the
  lifespan leaves running in the background pause between requests.
- HTTP/2, response trailers, and the ``http.response.*`` extensions ASGI servers offer.

Under a multi-threaded server the app's event loop runs in a thread of each process (uWSGI needs
``--enable-threads``).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import concurrent.futures
import contextlib
import functools
import importlib
import logging
import os
import selectors
import sys
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from lanner.errors import ProblemResponse
from lanner.status import phrase
from lanner.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["WSGIAdapter", "WSGIMount", "WSGIStartupError", "load", "split_path", "to_wsgi"]

logger = logging.getLogger("lanner.wsgi")

T = TypeVar("T")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_MISSING_A2WSGI = "WSGI support needs a2wsgi: pip install 'lanner[wsgi]'"
# The scope key where `WSGIMount` leaves the request's `_Exchange` for the thread running the app.
_EXCHANGE = "lanner.wsgi.exchange"
# Body messages read ahead of the WSGI app: enough to keep the socket busy, never an unbounded buffer.
_READ_AHEAD = 2
# Bytes read from ``wsgi.input`` for one ``http.request`` message.
_READ_SIZE = 65536
# Seconds to wait for the shutdown beyond the app's own shutdown_timeout (which bounds the work).
_SHUTDOWN_GRACE = 5.0


def _a2wsgi() -> Any:
    try:
        return importlib.import_module("a2wsgi")
    except ImportError as exc:
        raise ImportError(_MISSING_A2WSGI) from exc


# -- a WSGI app inside lanner ------------------------------------------------------------------


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
        return _UntilGone(self.app(environ, start_response), exchange.gone)


def split_path(scope: Scope) -> tuple[str, str]:
    """Return ``(SCRIPT_NAME, PATH_INFO)`` for an ASGI HTTP scope, as WSGI strings.

    ``root_path`` is the script name. The path holds it in front (ASGI 2.4, what lanner's mounts
    pass); a path without it (older servers) is all path info. Unlike a2wsgi, a ``SCRIPT_NAME``
    environment variable of the process does not replace the mount prefix.
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


class _UntilGone:
    """A WSGI response iterable that ends early once the client has gone, and closes the original."""

    def __init__(self, iterable: Iterable[bytes], gone: threading.Event) -> None:
        self._iterable = iterable
        self._iterator = iter(iterable)
        self._gone = gone

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._gone.is_set():
            raise StopIteration
        return next(self._iterator)

    def close(self) -> None:
        close = getattr(self._iterable, "close", None)
        if close is not None:
            close()


# -- lanner on a WSGI server -------------------------------------------------------------------


class WSGIStartupError(RuntimeError):
    """The app's lifespan startup failed in this process, so the process cannot serve requests."""


class WSGIAdapter:
    """A lanner (or any ASGI) app as a WSGI callable, lifespan included; made by `to_wsgi`.

    Each process runs the app on an event loop of its own. Under a single-threaded server (the
    request's ``wsgi.multithread`` is false: gunicorn's sync workers) the thread serving the request
    runs the loop itself, so tasks the lifespan leaves running pause between requests; under a
    multi-threaded one (gthread, waitress) the loop runs in a daemon thread and a2wsgi hands each
    request over to it. The first request decides. The lifespan starts on that first request (or
    at `startup`) and shuts down when the process exits. A process forked from one that had
    started gets its own loop and lifespan.

    Args:
        app: the ASGI application.

    Raises:
        ImportError: if a2wsgi is not installed.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._asgi = _a2wsgi().asgi
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        ref = weakref.WeakMethod(self._after_fork)
        # A fork taken while another thread held the lock would leave it locked in the child.
        os.register_at_fork(after_in_child=lambda: _call(ref))

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one WSGI request (starting the app in this process first if need be).

        Raises:
            WSGIStartupError: if the app's startup failed in this process.
            Exception: what the ASGI app raised instead of answering (the server answers 500).
        """
        worker = self._worker
        if worker is None or worker.pid != os.getpid():
            worker = self._start()
        if worker.failure is not None:
            raise worker.failure
        return worker.serve(environ, start_response)

    def startup(self) -> None:
        """Run the lifespan startup in this process now, unless it already ran.

        Raises:
            WSGIStartupError: if it failed (now or on an earlier call).
        """
        failure = self._start().failure
        if failure is not None:
            raise failure

    def shutdown(self) -> None:
        """Run the lifespan shutdown in this process now, if it started here (else do nothing).

        The process exit does it otherwise. A request served afterwards starts the app again.
        """
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None and worker.pid == os.getpid():
            atexit.unregister(worker.stop)
            worker.stop()

    def _start(self) -> _Worker:
        with self._lock:
            worker = self._worker
            if worker is None or worker.pid != os.getpid():
                worker = _Worker(self.app, self._asgi)
                worker.start()
                self._worker = worker
                atexit.register(worker.stop)
            return worker

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


def _call(ref: weakref.WeakMethod[Callable[[], None]]) -> None:
    method = ref()
    if method is not None:
        method()


class _Worker:
    """The app running in one process: its event loop, its lifespan, and how requests reach it."""

    def __init__(self, app: ASGIApp, asgi: Any) -> None:
        self.app = app
        self.pid = os.getpid()
        self.failure: WSGIStartupError | None = None
        self.asgi = asgi
        self.state: dict[str, Any] = {}
        self.loop: asyncio.AbstractEventLoop = asyncio.SelectorEventLoop(_ForkSafeSelector())
        # Held by the thread running the loop, as long as the loop has no thread of its own.
        self.turn = threading.Lock()
        self._thread: threading.Thread | None = None
        self._inline: bool | None = None  # decided by the first request
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._lifespan_task: asyncio.Task[None] | None = None
        self._stopping = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop: in this thread, unless the loop runs in a thread of its own."""
        with self.turn:
            if self._thread is None:
                return self.loop.run_until_complete(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def start(self) -> None:
        try:
            self.run(self._begin())
        except Exception as exc:
            self.failure = WSGIStartupError(
                f"the app's startup failed in process {self.pid}, which cannot serve requests: {exc}"
            )
            self.failure.__cause__ = exc

    def stop(self) -> None:
        """Run the lifespan shutdown (once, in the process that started it) and close the loop."""
        if self._stopping or self.pid != os.getpid():
            return
        self._stopping = True
        try:
            if self.failure is None and self._started is not None:
                self.run(self._end())
        except Exception as exc:
            logger.error("the app's shutdown failed in process %s: %s", self.pid, exc)
        finally:
            self._close()

    def serve(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        refusal = _refusal(environ)
        if refusal is not None:
            return _answer(refusal, start_response)
        if self._inline is None:
            self._choose(environ)
        if self._inline:
            return _InlineCall(self, environ).respond(start_response)
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get(
            "CONTENT_LENGTH"
        ):
            return _answer(_LENGTH_REQUIRED, start_response)
        call = _Call(self.app, self.state)
        chunks = self.asgi.ASGIResponder(call, self.loop, None)(environ, start_response)
        return _Response(chunks, call, self.loop)

    def _choose(self, environ: Environ) -> None:
        with self.turn:
            if self._inline is not None:
                return
            # PERF(wsgi sync JSON): a thread running the loop itself hands nothing over: one gunicorn
            # sync worker answers ~4,000 requests/s, against ~1,650 through a2wsgi's loop thread.
            self._inline = not environ.get("wsgi.multithread", True)
            if not self._inline:
                self._thread = threading.Thread(target=self.loop.run_forever, name="lanner-wsgi", daemon=True)
                self._thread.start()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.run(_cancel_others())
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(_SHUTDOWN_GRACE)
            if self._thread.is_alive():
                return
        self.loop.close()

    async def _begin(self) -> None:
        loop = asyncio.get_running_loop()
        self._started, self._stopped = loop.create_future(), loop.create_future()
        self._inbox.put_nowait({"type": "lifespan.startup"})
        self._lifespan_task = asyncio.ensure_future(self._lifespan())
        await self._started

    async def _end(self) -> None:
        assert self._stopped is not None
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        limit = getattr(self.app, "shutdown_timeout", None)
        async with asyncio.timeout(None if limit is None else limit + _SHUTDOWN_GRACE):
            await self._stopped

    async def _lifespan(self) -> None:
        assert self._started is not None and self._stopped is not None
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        failure: BaseException | None = None
        try:
            await self.app(scope, self._inbox.get, self._lifespan_send)
        except BaseException as exc:  # handed to whoever waits for the startup or the shutdown
            failure = exc
        for future in (self._started, self._stopped):
            if future.done():
                continue
            if failure is None:
                # The app returned without a word: it has no lifespan, and serves without one.
                future.set_result(None)
            else:
                # Reported once: to the startup if it is still waiting, else to the shutdown.
                future.set_exception(_as_exception(failure))
                failure = None

    async def _lifespan_send(self, message: Message) -> None:
        assert self._started is not None and self._stopped is not None
        kind = message["type"]
        detail = message.get("message") or kind
        if kind == "lifespan.startup.complete":
            self._started.set_result(None)
        elif kind == "lifespan.startup.failed":
            self._started.set_exception(RuntimeError(detail))
        elif kind == "lifespan.shutdown.complete":
            self._stopped.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            self._stopped.set_exception(RuntimeError(detail))


class _ForkSafeSelector(selectors.DefaultSelector):
    """The default selector, left alone in a forked child, which shares its epoll instance.

    A child dropping the loop it inherited would otherwise unregister the parent's file
    descriptors from that shared instance, and the parent's loop would never wake again.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pid = os.getpid()

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        self._check_owner()
        return super().register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> Any:
        if os.getpid() != self._pid:
            return None  # the loop is being dropped (closed) in a child: the parent keeps it
        return super().unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> Any:
        if os.getpid() != self._pid:
            return None
        return super().modify(fileobj, events, data)

    def _check_owner(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError("an event loop cannot be used in a process forked from its own")


async def _cancel_others() -> None:
    """Cancel the tasks still on the loop (requests cut short by the exit) and let them unwind."""
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_SHUTDOWN_GRACE)


def _as_exception(error: BaseException) -> Exception:
    # A cancelled or interrupted lifespan still reaches the waiting thread as an ordinary error.
    if isinstance(error, Exception):
        return error
    wrapped = RuntimeError(f"the lifespan was interrupted: {error!r}")
    wrapped.__cause__ = error
    return wrapped


class _InlineCall:
    """One request run on the event loop by the very thread serving it (single-threaded servers).

    The thread runs the loop until the app has sent something (`_step`); the app then waits until
    the server has taken that chunk, so at most one chunk is ever held. The request body is read
    from ``wsgi.input`` as the app asks for it.
    """

    def __init__(self, worker: _Worker, environ: Environ) -> None:
        self._worker = worker
        self._loop = worker.loop
        self._scope = worker.asgi.build_scope(environ)
        self._scope["state"] = dict(worker.state)
        self._input = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        # None: read to the end, which the server marks (a chunked body).
        self._left: int | None = (
            int(length) if length else None if environ.get("wsgi.input_terminated") else 0
        )
        self._body_read = False
        self._finished = False
        self._out: collections.deque[Message] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._taken: asyncio.Future[None] | None = None
        self._over: asyncio.Future[None] | None = None

    def respond(self, start_response: StartResponse) -> Iterable[bytes]:
        self._step()
        if not self._out:
            assert self._task is not None
            self._task.result()  # what the app raised instead of answering
            raise RuntimeError("the ASGI app returned without sending a response")
        start = self._out.popleft()
        if start["type"] != "http.response.start":
            raise RuntimeError(f"the ASGI app sent {start['type']!r} before 'http.response.start'")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in start.get("headers", ())
        ]
        start_response(_status_line(start["status"]), headers)
        assert self._task is not None
        if self._task.done() and self._finished:
            # PERF(wsgi sync JSON): the whole answer is here: a list, no iterator to step through.
            self._task.result()
            return [
                message.get("body", b"") for message in self._out if message["type"] == "http.response.body"
            ]
        return self

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while True:
            if self._out:
                message = self._out.popleft()
                if message["type"] == "http.response.body":
                    body: bytes = message.get("body", b"")
                    return body
                continue
            assert self._task is not None
            if self._task.done():
                self._task.result()
                raise StopIteration
            self._step()

    def close(self) -> None:
        """Called by the server at the end, or early when the client went away (cancels the app)."""
        task = self._task
        if task is None or task.done():
            return
        with self._worker.turn:
            if not self._finished:
                task.cancel()
            # A finished response may still have background tasks to run: they run to the end.
            with contextlib.suppress(BaseException):
                self._loop.run_until_complete(asyncio.wait({task}))
        if task.done() and not task.cancelled():
            task.exception()  # nobody is left to raise it to

    def _step(self) -> None:
        """Run the loop until the app has sent a body chunk (or finished)."""
        with self._worker.turn:
            if self._task is None:
                self._task = asyncio.ensure_future(
                    self._worker.app(self._scope, self._receive, self._send), loop=self._loop
                )
                self._task.add_done_callback(self._wake)
            elif self._taken is not None:
                self._taken.set_result(None)  # the server took the last chunk: the app goes on
                self._taken = None
            if not self._out and not self._task.done():
                self._ready = self._loop.create_future()
                self._loop.run_until_complete(self._ready)

    def _wake(self, _: object = None) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    async def _receive(self) -> Message:
        if self._body_read:
            # As a server does: after the body, a disconnect, once the response is over.
            if not self._finished:
                if self._over is None:
                    self._over = self._loop.create_future()
                await self._over
            return {"type": "http.disconnect"}
        left = self._left
        if left is None:
            data = self._input.read(_READ_SIZE)
            more = bool(data)
        elif left:
            data = self._input.read(min(_READ_SIZE, left))
            if not data:  # the client sent less than it announced
                self._body_read = True
                return {"type": "http.disconnect"}
            self._left = left = left - len(data)
            more = left > 0
        else:
            data, more = b"", False
        self._body_read = not more
        return {"type": "http.request", "body": data, "more_body": more}

    async def _send(self, message: Message) -> None:
        self._out.append(message)
        if message["type"] != "http.response.body":
            return  # the start goes out with the first chunk
        if not message.get("more_body", False):
            self._finished = True
            if self._over is not None and not self._over.done():
                self._over.set_result(None)
            self._wake()
            return
        self._wake()
        self._taken = self._loop.create_future()
        await self._taken


@functools.cache
def _status_line(code: int) -> str:
    return f"{code} {phrase(code) or 'Unknown'}"


class _Call:
    """The ASGI app as one request sees it: with the lifespan state, and its task kept for `close`."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.task: asyncio.Task[Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.task = asyncio.current_task()
        scope["state"] = dict(self.state)
        try:
            await self.app(scope, receive, send)
        except Exception:
            # a2wsgi answers 500 itself, and the server never sees the error: log it here.
            logger.exception("the ASGI app raised instead of answering %s %s", scope["method"], scope["path"])
            raise


class _Response:
    """a2wsgi's response generator; closed before its end (the client went away), it cancels the app."""

    def __init__(self, chunks: Iterator[bytes], call: _Call, loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = chunks
        self._call = call
        self._loop = loop
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self._done = True
            raise

    def close(self) -> None:
        if self._done:
            return
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        task = self._call.task
        if task is not None:
            # The app is waiting for a2wsgi to take its next message, which nobody will now.
            with contextlib.suppress(RuntimeError):  # the loop is closed: the process is exiting
                self._loop.call_soon_threadsafe(task.cancel)


def _refusal(environ: Environ) -> ProblemResponse | None:
    """The answer to a request that cannot be served under WSGI at all, if this is one."""
    upgrade = environ.get("HTTP_UPGRADE")
    if upgrade is not None and "websocket" in upgrade.lower():
        return _NO_WEBSOCKETS
    return None


_NO_WEBSOCKETS = ProblemResponse(
    501,
    "WebSockets need an ASGI server: this app is served through WSGI, which cannot hand over the "
    "connection. Serve it with `lanner run` (uvicorn) for its WebSocket routes.",
)
_LENGTH_REQUIRED = ProblemResponse(
    411, "A request body needs a Content-Length header when a multi-threaded WSGI server runs this app."
)


def _answer(response: ProblemResponse, start_response: StartResponse) -> list[bytes]:
    status = _status_line(response.status_code)
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response.raw_headers]
    start_response(status, headers)
    return [response.body]


_adapters: weakref.WeakKeyDictionary[Any, WSGIAdapter] = weakref.WeakKeyDictionary()
_adapters_lock = threading.Lock()


def to_wsgi(app: ASGIApp) -> WSGIAdapter:
    """Return `app` as a WSGI callable: the same `WSGIAdapter` each time for the same app.

    One adapter per app means one lifespan per process however often it is asked for.

    Raises:
        ImportError: if a2wsgi is not installed (``pip install 'lanner[wsgi]'``).
    """
    with _adapters_lock:
        try:
            adapter = _adapters.get(app)
        except TypeError:  # not weakly referenceable: not shared
            return WSGIAdapter(app)
        if adapter is None:
            adapter = _adapters[app] = WSGIAdapter(app)
        return adapter


def load(target: str) -> WSGIAdapter:
    """Import the app named by `target` (``"module:attribute"``) and return it as a WSGI callable.

    For WSGI servers that take a call but not an attribute path:
    ``gunicorn 'lanner.wsgi:load("myapp:app")'``.

    Raises:
        ValueError: if `target` is not ``module:attribute``.
        ImportError: if the module cannot be imported.
        AttributeError: if it has no such attribute.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected 'module:attribute', got {target!r}")
    app: Any = importlib.import_module(module_name)
    for name in attribute.split("."):
        app = getattr(app, name)
    return to_wsgi(app)
