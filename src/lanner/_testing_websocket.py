"""`TestClient.websocket_connect`: one WebSocket conversation with an ASGI app, in-process.

The app runs on the test client's event loop; the test talks to it from its own thread through
two queues, so ``ws.send_text("hi")`` then ``ws.receive_text()`` read like a real client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from lanner.websockets import WebSocketDisconnect

__all__ = ["ClientGone", "WebSocketDenialResponse", "WebSocketTestSession"]

_Message = MutableMapping[str, Any]
_Scope = MutableMapping[str, Any]
_ASGIApp = Callable[[_Scope, Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]], Any]
#: What the app's task puts in the queue when it has returned.
_ENDED: _Message = {"type": "lanner.test.ended"}


class ClientGone(OSError):
    """The app sent a message after the test client left (what uvicorn's ``ClientDisconnected`` is)."""


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """The app refused the handshake with an HTTP response (a 403, a 422 problem...).

    It is the response (``.status_code``, ``.json()``) and the exception raised by
    `TestClient.websocket_connect`: a `WebSocketDisconnect` with code 1008, so a test written
    for a close (``pytest.raises(WebSocketDisconnect)``) passes too.
    """

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]], content: bytes) -> None:
        httpx.Response.__init__(self, status_code, headers=headers, content=content)
        WebSocketDisconnect.__init__(self, 1008, f"handshake refused with HTTP {status_code}")

    def __str__(self) -> str:
        return WebSocketDisconnect.__str__(self)


class WebSocketTestSession:
    """A WebSocket connection from a test to an app: use it as a context manager.

    Entering sends the handshake and waits for the app's answer; leaving disconnects (if the app
    has not closed already) and waits for the handler to finish.

    Raises:
        WebSocketDisconnect: on enter, the app closed instead of accepting; on a receive, the
            app closed the socket (``.code``, ``.reason``).
        WebSocketDenialResponse: on enter, the app answered the handshake with an HTTP response.
        TimeoutError: the app did not answer within the client's ``app_timeout``.
    """

    __test__ = False

    def __init__(
        self,
        app: _ASGIApp,
        loop: asyncio.AbstractEventLoop,
        scope: _Scope,
        timeout: float,
        client: object = None,
    ) -> None:
        # The test client owns the loop: ``TestClient(app).websocket_connect(...)`` must keep it.
        self._client = client
        self._app = app
        self._loop = loop
        self._scope = scope
        self._timeout = timeout
        # Bound to a loop on first use (in the loop's thread), not here.
        self._to_app: asyncio.Queue[_Message] = asyncio.Queue()
        self._from_app: queue.Queue[_Message] = queue.Queue()
        self._task: concurrent.futures.Future[None] | None = None
        self._closed = False
        #: Whether the client left or the app closed: the app's later sends fail.
        self._gone = False
        #: The subprotocol the app chose, and the headers of its accept.
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []

    def __enter__(self) -> Self:
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        self.send({"type": "websocket.connect"})
        message = self._next()
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = list(message.get("headers") or [])
            return self
        self._closed = True
        self._wait_for_app()
        if kind == "websocket.http.response.start":
            raise self._denial(message)
        if kind == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        raise RuntimeError(f"the app answered the handshake with {kind!r}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        self._wait_for_app()

    def _denial(self, start: _Message) -> WebSocketDenialResponse:
        body = b""
        while True:
            message = self._next()
            if message["type"] != "websocket.http.response.body":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers") or []]
        return WebSocketDenialResponse(start["status"], headers=headers, content=body)

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        finally:
            self._from_app.put(_ENDED)

    async def _receive(self) -> _Message:
        return await self._to_app.get()

    async def _send(self, message: _Message) -> None:
        if self._gone and message["type"] == "websocket.send":
            # As uvicorn does: a send to a client that left, or after the close, fails.
            raise ClientGone("the test client has disconnected")
        if message["type"] == "websocket.close":
            self._gone = True
        self._from_app.put(message)
        if message["type"] == "websocket.close":
            # As a server does: the close handshake ends with a disconnect for the app's receive.
            disconnect = {"type": "websocket.disconnect", "code": message.get("code", 1000)}
            self._to_app.put_nowait({**disconnect, "reason": message.get("reason") or ""})

    def _next(self) -> _Message:
        try:
            message = self._from_app.get(timeout=self._timeout)
        except queue.Empty:
            raise TimeoutError(f"the app sent nothing within {self._timeout} seconds") from None
        if message is _ENDED:
            self._from_app.put(_ENDED)  # every later receive sees the end too
            self._raise_app_error()
            raise WebSocketDisconnect(1006, "the app returned without closing the socket")
        return message

    def _raise_app_error(self) -> None:
        task = self._task
        if task is None:
            return
        # The end marker is queued a moment before the task counts as done: wait for it.
        concurrent.futures.wait([task], timeout=self._timeout)
        if task.done() and not task.cancelled():
            error = task.exception()
            if error is not None:
                raise error

    def _wait_for_app(self) -> None:
        task = self._task
        if task is None:
            return
        try:
            task.result(self._timeout)
        except concurrent.futures.TimeoutError:
            task.cancel()
            raise TimeoutError(
                f"the WebSocket handler did not finish within {self._timeout} seconds"
            ) from None

    def send(self, message: _Message) -> None:
        """Send an ASGI message to the app (``websocket.receive``, ``websocket.disconnect``...)."""
        self._loop.call_soon_threadsafe(self._to_app.put_nowait, message)

    def send_text(self, data: str) -> None:
        """Send a text message."""
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send `data` as a JSON text (or binary) message."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send_text(text)
        else:
            self.send_bytes(text.encode("utf-8"))

    def receive(self) -> _Message:
        """Return the next ASGI message the app sent."""
        return self._next()

    def _receive_data(self) -> _Message:
        message = self._next()
        if message["type"] == "websocket.close":
            self._closed = True
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        return message

    def receive_text(self) -> str:
        """Return the next text message.

        Raises:
            WebSocketDisconnect: the app closed the socket instead.
        """
        message = self._receive_data()
        text = message.get("text")
        if text is None:
            raise TypeError(f"expected a text message, got {message!r}")
        return str(text)

    def receive_bytes(self) -> bytes:
        """Return the next binary message.

        Raises:
            WebSocketDisconnect: the app closed the socket instead.
        """
        message = self._receive_data()
        data = message.get("bytes")
        if data is None:
            raise TypeError(f"expected a binary message, got {message!r}")
        return bytes(data)

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        """Return the next message parsed as JSON.

        Raises:
            WebSocketDisconnect: the app closed the socket instead.
        """
        message = self._receive_data()
        raw = message.get("text") if mode == "text" else message.get("bytes")
        if raw is None:
            raw = message.get("bytes") if mode == "text" else message.get("text")
        if raw is None:
            raise TypeError(f"expected a data message, got {message!r}")
        return json.loads(raw)

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Disconnect from the app (it sees ``websocket.disconnect`` with `code`)."""
        if not self._closed:
            self._closed = self._gone = True
            self.send({"type": "websocket.disconnect", "code": code, "reason": reason or ""})
