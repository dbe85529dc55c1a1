"""Call an ASGI application in-process through an `httpx.Client`.

`TestClient` speaks plain ASGI 3, so it can drive any ASGI app, not only lanner's. The app runs on
one event loop that lives in a background thread for the lifetime of the client: objects bound to a
loop (locks, queues, connection pools opened at startup) keep working from one request to the next.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, MutableMapping, Sequence
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from httpx._client import USE_CLIENT_DEFAULT, UseClientDefault
from httpx._types import (
    AuthTypes,
    CookieTypes,
    HeaderTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    TimeoutTypes,
)

from lanner._paths import CompiledPath, RouteTable
from lanner._testing_stream import _ResponseStream, _StreamExchange
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
# How long `close()` waits for the loop thread to cancel what still runs on it and stop.
_LOOP_STOP_GRACE = 10.0
# Where lanner records an exception it answered with a 500 (lanner.errors.SERVER_EXCEPTION_KEY); kept
# as a literal so this module imports nothing from lanner and drives any ASGI app.
_SERVER_EXCEPTION_KEY = "lanner.server_exception"
# The User-Agent Starlette's (and so FastAPI's) TestClient sends; apps and tests may check for it.
_USER_AGENT = "testclient"
# The request extension that asks the transport for a streamed response; its value is the
# disconnect timeout. Only `TestClient.stream` sets it, so `get` & co. keep buffering.
_STREAM_EXTENSION = "lanner.testclient.stream"


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
            # Bounded: a task that never yields (or ignores cancellation) must not hang the test
            # run; the daemon thread is then left to die with the process.
            thread.join(_LOOP_STOP_GRACE)

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

    @property
    def timeout(self) -> float:
        """Seconds the app gets to answer a request (`TestClient.app_timeout`)."""
        return self._timeout

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float, what: str) -> _T:
        """Run `coro` on the client's loop and wait for its result."""
        return self._loop.run(coro, timeout, what)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the app for `request` and return its response, buffered unless streaming was asked."""
        scope = self._scope(request)
        what = f"ASGI app handling {request.method} {request.url}"
        grace = request.extensions.get(_STREAM_EXTENSION)
        if grace is not None:
            return self._stream(request, scope, float(grace), what)
        exchange = self._loop.run(self._call_app(scope, _read_body(request)), self._timeout, what)
        return exchange.to_response(request)

    def _scope(self, request: httpx.Request) -> _Scope:
        url = request.url
        headers = [(key.lower(), value) for key, value in request.headers.raw]
        if not any(key == b"host" for key, _ in headers):
            headers.insert(0, (b"host", url.netloc))
        return {
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

    def _stream(self, request: httpx.Request, scope: _Scope, grace: float, what: str) -> httpx.Response:
        exchange = _StreamExchange(_read_body(request))
        self._loop.run(self._open_stream(scope, exchange), self._timeout, what)
        assert exchange.status is not None  # _open_stream raised otherwise
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=_ResponseStream(self, exchange, scope, grace, what),
            request=request,
        )

    async def _open_stream(self, scope: _Scope, exchange: _StreamExchange) -> None:
        exchange.run(self._app, scope)
        task = exchange.task
        assert task is not None
        try:
            await exchange.wait_started()
            recorded = self._raise_server_exceptions and _SERVER_EXCEPTION_KEY in scope
            if exchange.status is not None and not recorded:
                return  # the headers are out: the body follows as the test reads it
            # The app failed before its headers, or answered a failure with a 500 (which `get`
            # would raise): it runs to its end before the test sees anything, as for `get`.
            exchange.release()
            await asyncio.wait({task})
        except BaseException:
            task.cancel()  # timed out: the app must not outlive the request
            raise
        exchange.reported = True
        error = exchange.error()
        if error is not None and not self._raise_server_exceptions and exchange.status is None:
            exchange.fail()
        self.raise_app_error(error, scope)
        if exchange.status is None:
            raise RuntimeError("ASGI app returned without sending a response")

    def raise_app_error(self, error: BaseException | None, scope: _Scope) -> None:
        """Raise what the app raised, or recorded as answered with a 500, when the client re-raises."""
        if not self._raise_server_exceptions:
            return
        if error is not None:
            raise error
        recorded = scope.get(_SERVER_EXCEPTION_KEY)
        if isinstance(recorded, BaseException):
            raise recorded

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

    Every httpx feature works (`get`, `post`, `json=`, `files=`, cookie persistence...).
    The app runs on one event loop in a background thread, started on first use and stopped by
    `close()`. Used as a context manager, the client also runs the ASGI lifespan protocol: startup
    on enter, shutdown on exit; the lifespan `state` is shallow-copied into every request's scope.

    `get`, `post` and the others return once the app has finished, the body buffered. `stream`
    returns as soon as the headers are sent and yields the body as the app sends it; leaving its
    block early disconnects, so an endless stream can be tested::

        with client.stream("GET", "/ticks") as response:
            chunks = response.iter_text()
            events = [next(chunks) for _ in range(3)]  # lanner sends an event per body message
        # Here the app has seen http.disconnect and closed its generator, within
        # `disconnect_timeout` seconds (else TimeoutError: nothing hangs).

    WebSockets open with `websocket_connect`, not `stream`.

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

    disconnect_timeout: float = 5.0
    """Seconds `stream` waits for the app to finish after the test leaves a response early."""

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

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
        disconnect_timeout: float | None = None,
    ) -> Iterator[httpx.Response]:
        """Send a request and read the response as the app sends it, in a ``with`` block.

        The response comes back as soon as the app has sent its headers; ``iter_bytes()``,
        ``iter_text()``, ``iter_lines()`` and ``iter_raw()`` then yield each part of the body when
        the app sends it (``read()`` waits for the rest). Leaving the block before the end of the
        body disconnects: the app's ``receive()`` answers ``http.disconnect`` (so
        ``await request.is_disconnected()`` is true and lanner's streaming responses close their
        generators), later sends are dropped (as uvicorn drops them), and the block's exit waits
        up to `disconnect_timeout` seconds for the app to finish, then cancels it and raises
        ``TimeoutError``. The other arguments are httpx's.

        An exception the app raises before its headers is raised here, as by `get`; one raised
        while it streams is raised where the body ends (or when the block exits) under
        `raise_server_exceptions`. Once the body is complete, the app's remaining work
        (background tasks) is awaited as for `get`. An app that sends far ahead of the test is
        held after 64 KiB unread, as a socket's buffer would hold it.

        Args:
            method: The HTTP method.
            url: The URL, relative to `base_url` or absolute (``http``/``https``).
            content: Raw request body.
            data: Form fields.
            files: Files to upload as multipart.
            json: A JSON request body.
            params: Query parameters.
            headers: Request headers.
            cookies: Request cookies.
            auth: Authentication.
            follow_redirects: Follow redirects (the client's setting unless given).
            timeout: httpx's timeout setting (the app's time is bounded by `app_timeout`).
            extensions: httpx request extensions.
            disconnect_timeout: Seconds to wait for the app to finish after an early exit;
                `TestClient.disconnect_timeout` (5) unless given.

        Yields:
            The response, its body not yet read.

        Raises:
            ValueError: `url` is a ``ws://``/``wss://`` URL, or a WebSocket route of a lanner app
                that has no HTTP route there: open those with `websocket_connect`.
            TimeoutError: The app did not send its headers, or its next body part, within
                `app_timeout` seconds, or kept running `disconnect_timeout` seconds after the
                test left (it is cancelled then, so nothing hangs).
            Exception: What the app raised, under `raise_server_exceptions`.

        """
        grace = self.disconnect_timeout if disconnect_timeout is None else disconnect_timeout
        if grace < 0:
            raise ValueError(f"disconnect_timeout must not be negative, got {grace!r}")
        target = self._merge_url(url)
        if target.scheme in ("ws", "wss"):
            raise ValueError(
                f"TestClient.stream() speaks HTTP; {str(target)!r} is a WebSocket URL: "
                f"use client.websocket_connect({str(url)!r}) instead"
            )
        request = self.build_request(
            method=method,
            url=url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions={**(extensions or {}), _STREAM_EXTENSION: grace},
        )
        response = self.send(request, auth=auth, follow_redirects=follow_redirects, stream=True)
        try:
            if response.status_code in (404, 405) and self._is_websocket_route(response.url.path):
                path = response.url.path
                raise ValueError(
                    f"{response.request.method} {path} answered {response.status_code}: {path} is a "
                    f"WebSocket route, which TestClient.stream() cannot open; use "
                    f"client.websocket_connect({path!r}) instead"
                )
            yield response
        except BaseException as exc:
            # The block's own error comes first; a failure to close is noted on it, not raised.
            try:
                response.close()
            except Exception as close_error:
                exc.add_note(f"While closing the streamed response: {close_error!r}")
            raise
        else:
            response.close()

    def _is_websocket_route(self, path: str) -> bool:
        """Whether a lanner app (or anything with its ``websocket_routes``) has a socket at `path`."""
        routes = getattr(self.app, "websocket_routes", None)
        compiled = [
            route.compiled
            for route in routes or ()
            if isinstance(getattr(route, "compiled", None), CompiledPath)
        ]
        if not compiled:
            return False
        root = getattr(self._transport, "_root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        table: RouteTable[bool] = RouteTable()
        for template in compiled:
            table.add(template, ("GET",), True)
        found, _, _ = table.find("GET", path)
        return found is not None

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
