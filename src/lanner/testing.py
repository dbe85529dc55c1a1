"""Call an ASGI application in-process through an `httpx.Client`.

`TestClient` speaks plain ASGI 3, so it can drive any ASGI app, not only lanner's. The app runs on
one event loop that lives in a background thread for the lifetime of the client: objects bound to a
loop (locks, queues, connection pools opened at startup) keep working from one request to the next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping, Sequence
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from lanner._testing_websocket import WebSocketDenialResponse, WebSocketTestSession

__all__ = ["TestClient", "WebSocketDenialResponse", "WebSocketTestSession"]

_Message = MutableMapping[str, Any]
_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_ASGIApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

_Headers = httpx.Headers | Mapping[str, str] | Sequence[tuple[str, str]]
_Cookies = httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]

_T = TypeVar("_T")

_ASGI_VERSIONS = {"version": "3.0", "spec_version": "2.4"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# After shutdown completes a well-behaved app returns at once; this only bounds a misbehaving one.
_LIFESPAN_EXIT_GRACE = 1.0
# Where lanner records an exception it answered with a 500 (lanner.errors.SERVER_EXCEPTION_KEY); kept
# as a literal so this module imports nothing from lanner and drives any ASGI app.
_SERVER_EXCEPTION_KEY = "lanner.server_exception"
# The User-Agent Starlette's (and so FastAPI's) TestClient sends; apps and tests may check for it.
_USER_AGENT = "testclient"


class _LoopThread:
    """One asyncio event loop running forever in a daemon thread, started on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float, what: str) -> _T:
        """Run `coro` on the loop and wait for its result in the calling thread."""
        future = asyncio.run_coroutine_threadsafe(coro, self._start())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if not future.done():
                future.cancel()
                raise TimeoutError(
                    f"{what} did not finish within {timeout} seconds (TestClient.app_timeout)"
                ) from None
            raise

    def stop(self) -> None:
        """Stop the loop, cancel the tasks still running on it and close it."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run_loop, args=(loop,), name="lanner-testclient", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


class _Lifespan:
    """Drives one run of the ASGI lifespan protocol; lives on the client's loop."""

    def __init__(self, app: _ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._to_app: asyncio.Queue[_Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[_Message | None] = asyncio.Queue()
        self._received = False
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> bool:
        """Start the app's lifespan; return False when the app does not support it."""
        self._task = asyncio.create_task(self._run())
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message is None:
            error = await self._app_error(self._task)
            if error is not None and self._received:
                raise error
            # Raising before reading any message (or ignoring the scope) means "no lifespan here".
            return False
        if message["type"] == "lifespan.startup.failed":
            raise await self._failure(self._task, message, "startup")
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"Unexpected ASGI message during startup: {message['type']!r}")
        return True

    async def shutdown(self) -> None:
        """Ask the app to shut down and wait until it has."""
        task = self._task
        assert task is not None  # the client shuts down only a lifespan whose startup completed
        await self._to_app.put({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        if message is not None:
            if message["type"] == "lifespan.shutdown.failed":
                raise await self._failure(task, message, "shutdown")
            if message["type"] != "lifespan.shutdown.complete":
                raise RuntimeError(f"Unexpected ASGI message during shutdown: {message['type']!r}")
            # A well-behaved app returns at once; do not wait forever on one blocked in receive().
            await asyncio.wait({task}, timeout=_LIFESPAN_EXIT_GRACE)
        error = await self._app_error(task)
        if error is not None:
            raise error

    async def _failure(self, task: asyncio.Task[None], message: _Message, phase: str) -> RuntimeError:
        failure = RuntimeError(message.get("message") or f"Lifespan {phase} failed")
        failure.__cause__ = await self._app_error(task)
        return failure

    @staticmethod
    async def _app_error(task: asyncio.Task[None]) -> BaseException | None:
        # Nothing more will be sent to a task still running here: it can only be stuck in receive().
        if not task.done():
            task.cancel()
        await asyncio.wait({task})
        return None if task.cancelled() else task.exception()

    async def _run(self) -> None:
        scope: _Scope = {"type": "lifespan", "asgi": dict(_ASGI_VERSIONS), "state": self._state}
        try:
            await self._app(scope, self._receive, self._send)
        finally:
            self._from_app.put_nowait(None)

    async def _receive(self) -> _Message:
        self._received = True
        return await self._to_app.get()

    async def _send(self, message: _Message) -> None:
        await self._from_app.put(message)


class _Exchange:
    """One HTTP request/response cycle between the transport and the app."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks or [b""]
        self._complete = asyncio.Event()
        self.status: int | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    async def receive(self) -> _Message:
        if self._chunks:
            chunk = self._chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self._chunks)}
        # The client keeps listening until the response is over; only then does it go away.
        await self._complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: _Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("ASGI app sent 'http.response.start' twice")
            self.status = int(message["status"])
            self._headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("ASGI app sent 'http.response.body' before the response start")
            if self._complete.is_set():
                raise RuntimeError("ASGI app sent 'http.response.body' after the response ended")
            self._body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._complete.set()
        else:
            raise RuntimeError(f"Unexpected ASGI message in an HTTP response: {kind!r}")

    def fail(self) -> None:
        self.status = 500
        self._headers = [(b"content-type", b"text/plain; charset=utf-8")]
        self._body = [b"Internal Server Error"]

    def finish(self) -> None:
        self._complete.set()

    def to_response(self, request: httpx.Request) -> httpx.Response:
        if self.status is None:
            raise RuntimeError("ASGI app returned without sending a response")
        return httpx.Response(
            self.status,
            headers=self._headers,
            stream=httpx.ByteStream(b"".join(self._body)),
            request=request,
        )


class _ASGITransport(httpx.BaseTransport):
    """An httpx transport that hands every request to an ASGI app on the client's loop."""

    def __init__(
        self,
        app: _ASGIApp,
        loop: _LoopThread,
        state: dict[str, Any],
        *,
        timeout: float,
        raise_server_exceptions: bool,
        root_path: str,
        client: tuple[str, int],
    ) -> None:
        self._app = app
        self._loop = loop
        self._state = state
        self._timeout = timeout
        self._raise_server_exceptions = raise_server_exceptions
        self._root_path = root_path
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the app for `request` and return its buffered response."""
        url = request.url
        headers = [(key.lower(), value) for key, value in request.headers.raw]
        if not any(key == b"host" for key, _ in headers):
            headers.insert(0, (b"host", url.netloc))
        scope: _Scope = {
            "type": "http",
            "asgi": dict(_ASGI_VERSIONS),
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "root_path": self._root_path,
            "query_string": url.query,
            "headers": headers,
            "client": self._client,
            "server": (url.host, url.port or _DEFAULT_PORTS.get(url.scheme, 80)),
            "extensions": {},
            "state": dict(self._state),
        }
        exchange = self._loop.run(
            self._call_app(scope, _read_body(request)),
            self._timeout,
            f"ASGI app handling {request.method} {url}",
        )
        return exchange.to_response(request)

    def close(self) -> None:
        """Stop the client's event loop."""
        self._loop.stop()

    async def _call_app(self, scope: _Scope, chunks: list[bytes]) -> _Exchange:
        exchange = _Exchange(chunks)
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception:
            if self._raise_server_exceptions:
                raise
            if exchange.status is None:
                exchange.fail()
        finally:
            exchange.finish()
        if self._raise_server_exceptions:
            # A lanner app answers an unhandled exception with a 500 itself and records it here;
            # the test sees the handler's own exception, as with an app that let it escape.
            error = scope.get(_SERVER_EXCEPTION_KEY)
            if isinstance(error, BaseException):
                raise error
        return exchange


def _read_body(request: httpx.Request) -> list[bytes]:
    # Read in the caller's thread, so a user's generator never blocks the app's loop; the chunk
    # boundaries are kept and become separate `http.request` messages.
    assert isinstance(request.stream, httpx.SyncByteStream)  # httpx.Client refuses async bodies
    return [bytes(chunk) for chunk in request.stream if chunk]


class TestClient(httpx.Client):
    """A synchronous `httpx.Client` that sends its requests to an ASGI app in-process.

    Every httpx feature works (`get`, `post`, `stream`, `json=`, `files=`, cookie persistence...).
    The app runs on one event loop in a background thread, started on first use and stopped by
    `close()`. Used as a context manager, the client also runs the ASGI lifespan protocol: startup
    on enter, shutdown on exit; the lifespan `state` is shallow-copied into every request's scope.

    The request path is sent as is: with a `root_path`, request the full path (root path included),
    as a proxy would forward it.

    Args:
        app: The ASGI 3 application.
        base_url: Scheme, host and port the requests appear to target.
        raise_server_exceptions: Re-raise an exception from the app in the caller: one that escaped
            the app, or one a lanner app answered with a 500 and recorded in the request's scope
            (``"lanner.server_exception"``: an exception no handler claims, or a failing exception
            handler), so the test fails with the handler's own exception, as with Starlette's
            client. When false, the 500 response is returned, and an exception that escaped
            before the response started becomes a plain 500.
        root_path: The ASGI `root_path` of every request.
        client: The `(host, port)` of the simulated client.
        headers: Default headers for every request; ``User-Agent: testclient`` (as Starlette's and
            FastAPI's clients send) unless they have a ``User-Agent``.
        cookies: Initial cookies.
        follow_redirects: Follow redirect responses.

    Raises:
        TimeoutError: When the app takes longer than `app_timeout` seconds for a request or a
            lifespan phase.
        RuntimeError: When the app returns without sending a response, sends messages out of order,
            or reports a lifespan startup or shutdown failure.

    """

    __test__ = False  # Not a pytest test class, despite the name.

    app_timeout: float = 60.0
    """Seconds to wait for the app to answer a request or finish a lifespan phase."""

    def __init__(
        self,
        app: _ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("testclient", 50000),
        headers: _Headers | None = None,
        cookies: _Cookies | None = None,
        follow_redirects: bool = True,
    ) -> None:
        self.app = app
        self._loop_thread = _LoopThread()
        self._lifespan_state: dict[str, Any] = {}
        self._lifespan: _Lifespan | None = None
        default_headers = httpx.Headers(headers)
        if "user-agent" not in default_headers:
            default_headers["User-Agent"] = _USER_AGENT
        super().__init__(
            base_url=base_url,
            headers=default_headers,
            cookies=cookies,
            follow_redirects=follow_redirects,
            transport=_ASGITransport(
                app,
                self._loop_thread,
                self._lifespan_state,
                timeout=self.app_timeout,
                raise_server_exceptions=raise_server_exceptions,
                root_path=root_path,
                client=client,
            ),
            trust_env=False,
        )
        # A client that is never closed must not leave its loop thread running.
        weakref.finalize(self, self._loop_thread.stop)

    def __enter__(self) -> Self:
        """Open the client and run the app's lifespan startup.

        Raises:
            RuntimeError: When the app reports `lifespan.startup.failed`.
            Exception: Whatever the app raised during startup.

        """
        super().__enter__()
        try:
            self._loop_thread.run(self._start_lifespan(), self.app_timeout, "Lifespan startup")
        except BaseException:
            super().__exit__()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Run the app's lifespan shutdown, then close the client and stop its loop.

        Raises:
            RuntimeError: When the app reports `lifespan.shutdown.failed`.

        """
        try:
            lifespan, self._lifespan = self._lifespan, None
            if lifespan is not None:
                self._loop_thread.run(lifespan.shutdown(), self.app_timeout, "Lifespan shutdown")
        finally:
            super().__exit__(exc_type, exc_value, traceback)

    def websocket_connect(
        self,
        url: str,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebSocketTestSession:
        """Open a WebSocket to the app: ``with client.websocket_connect("/ws") as ws: ...``.

        The handshake carries the client's default headers and cookies, `headers` and the offered
        `subprotocols`. The session sends with ``send_text/send_bytes/send_json`` and reads with
        ``receive_text/receive_bytes/receive_json``; a close from the app raises
        `lanner.websockets.WebSocketDisconnect` (``.code``, ``.reason``), and a handshake refused
        with an HTTP response raises `WebSocketDenialResponse` (``.status_code``, ``.json()``).
        """
        target = self._merge_url(url)
        scheme = "wss" if target.scheme in ("https", "wss") else "ws"
        merged = httpx.Headers(self.headers)
        merged.update(headers or {})
        raw = [(key.lower(), value) for key, value in merged.raw]
        raw = [(key, value) for key, value in raw if key not in (b"host", b"cookie")]
        raw.insert(0, (b"host", target.netloc))
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if cookie:
            raw.append((b"cookie", cookie.encode("latin-1")))
        scope: _Scope = {
            "type": "websocket",
            "asgi": dict(_ASGI_VERSIONS),
            "http_version": "1.1",
            "scheme": scheme,
            "path": target.path,
            "raw_path": target.raw_path.split(b"?", 1)[0],
            "root_path": getattr(self._transport, "_root_path", ""),
            "query_string": target.query,
            "headers": raw,
            "client": getattr(self._transport, "_client", ("testclient", 50000)),
            "server": (target.host, target.port or _DEFAULT_PORTS.get(scheme, 80)),
            "subprotocols": list(subprotocols or ()),
            "extensions": {"websocket.http.response": {}},
            "state": dict(self._lifespan_state),
        }
        loop = self._loop_thread._start()
        return WebSocketTestSession(self.app, loop, scope, self.app_timeout, self)

    async def _start_lifespan(self) -> None:
        lifespan = _Lifespan(self.app, self._lifespan_state)
        if await lifespan.startup():
            self._lifespan = lifespan
