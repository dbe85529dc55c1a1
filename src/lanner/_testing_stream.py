"""The streamed side of lanner's `TestClient`: a response whose body arrives as the app sends it.

`TestClient.stream` asks the transport for one; the exchange runs on the client's loop thread and
the test pulls the body chunk by chunk. Leaving the ``with`` block early disconnects the app.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from lanner.testing import _ASGITransport

_Message = MutableMapping[str, Any]
_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_ASGIApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

# Unread body bytes after which a streaming app's `send` waits for the test to read, as a socket's
# buffer would make it wait: an endless stream that never awaits anything else cannot fill memory.
_UNREAD_LIMIT = 64 * 1024
# How long an app cancelled after the disconnect timeout gets to unwind before the error is raised.
_CANCEL_GRACE = 1.0


class _StreamExchange:
    """One HTTP exchange whose body reaches the test as the app sends it; lives on the loop.

    The app runs in a task of its own. The test pulls the body one message at a time (`next_chunk`)
    and, by closing the response before the end, disconnects (`hang_up`): ``receive`` then answers
    ``http.disconnect`` and ``send`` drops what it is given, as uvicorn's does.
    """

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks or [b""]
        self.task: asyncio.Task[None] | None = None
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False  # the app sent its last body message
        self.gone = False  # the test closed the response
        self.reported = False  # the app's end (and any error) has been handed to the test
        self.unbounded = False  # no flow control: nobody will read until the app finishes
        self._pending: deque[bytes] = deque()
        self._pending_size = 0
        self._started = asyncio.Event()  # headers sent, or the app finished
        self._readable = asyncio.Event()  # a body message arrived, or the app finished
        self._drained = asyncio.Event()  # the test read, or went away
        self._disconnected = asyncio.Event()  # what `receive` waits for after the request body

    def run(self, app: _ASGIApp, scope: _Scope) -> None:
        """Start the app in its own task."""
        self.task = asyncio.ensure_future(app(scope, self.receive, self.send))
        self.task.add_done_callback(self._app_finished)

    def _app_finished(self, _: object) -> None:
        self._started.set()
        self._readable.set()

    async def wait_started(self) -> None:
        """Wait until the app has sent its headers or finished."""
        await self._started.wait()

    def release(self) -> None:
        """Turn flow control off: the app runs to its end before anything is read."""
        self.unbounded = True
        self._drained.set()

    async def receive(self) -> _Message:
        if self._chunks:
            chunk = self._chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self._chunks)}
        # As in a buffered exchange the client listens until the response is over, unless the test
        # closes the response before then.
        await self._disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: _Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("ASGI app sent 'http.response.start' twice")
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            self._started.set()
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("ASGI app sent 'http.response.body' before the response start")
            if self.complete:
                raise RuntimeError("ASGI app sent 'http.response.body' after the response ended")
            if self.gone:
                # uvicorn drops what is sent after a disconnect rather than raising the OSError
                # ASGI 2.4 allows: the app learns of it from `receive`, as it will in production.
                # It still yields to the loop, so an app that only sends cannot starve the task
                # that would tell it, nor the bounded wait in `hang_up`.
                await asyncio.sleep(0)
                return
            body = bytes(message.get("body", b""))
            if body:
                self._pending.append(body)
                self._pending_size += len(body)
            if not message.get("more_body", False):
                self.complete = True
                self._disconnected.set()
            self._readable.set()
            while self._pending_size > _UNREAD_LIMIT and not (self.gone or self.unbounded):
                self._drained.clear()
                await self._drained.wait()
        else:
            raise RuntimeError(f"Unexpected ASGI message in an HTTP response: {kind!r}")

    def fail(self) -> None:
        """Stand in for an app that failed before its headers: a plain 500."""
        self.status = 500
        self.headers = [(b"content-type", b"text/plain; charset=utf-8")]
        self._pending.append(b"Internal Server Error")
        self.complete = True

    async def next_chunk(self) -> bytes | None:
        """The next body bytes the app sent; ``None`` once the app has finished and all was read."""
        while True:
            if self._pending:
                body = self._pending.popleft()
                self._pending_size -= len(body)
                self._drained.set()
                return body
            assert self.task is not None
            if self.task.done():
                return None
            self._readable.clear()
            await self._readable.wait()

    async def hang_up(self, grace: float, timeout: float) -> tuple[bool, bool]:
        """Disconnect, then wait for the app to finish; cancel it when it takes too long.

        The wait is `grace` seconds when the body was not complete (the client leaves early),
        `timeout` seconds otherwise (the app has only its background work left).

        Returns:
            Whether the app finished by itself in time, and whether the client left early.
        """
        early = not self.complete
        self.gone = True
        self._disconnected.set()
        self._drained.set()
        task = self.task
        assert task is not None
        if not task.done():
            await asyncio.wait({task}, timeout=grace if early else timeout)
        if task.done():
            return True, early
        task.cancel()
        await asyncio.wait({task}, timeout=_CANCEL_GRACE)
        return False, early

    def error(self) -> BaseException | None:
        """What the finished app raised (nothing when it was cancelled, or is still running)."""
        task = self.task
        if task is None or not task.done() or task.cancelled():
            return None
        return task.exception()


class _ResponseStream(httpx.SyncByteStream):
    """The body of a streamed response, pulled from the app's loop one message at a time."""

    def __init__(
        self, transport: _ASGITransport, exchange: _StreamExchange, scope: _Scope, grace: float, what: str
    ) -> None:
        self._transport = transport
        self._exchange = exchange
        self._scope = scope
        self._grace = grace
        self._what = what
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        transport, exchange = self._transport, self._exchange
        while True:
            if self._closed:
                return
            chunk = transport.run(exchange.next_chunk(), transport.timeout, self._what)
            if chunk is None:
                break
            yield chunk
        # The app has finished (background tasks included, as for a buffered response): its error
        # surfaces where the body ends, as it would from `get`.
        exchange.reported = True
        transport.raise_app_error(exchange.error(), self._scope)

    def close(self) -> None:
        """Disconnect from the app unless it is done, and wait (bounded) for it to finish.

        Raises:
            TimeoutError: The app was still running `grace` seconds after the disconnect (it has
                been cancelled), or `app_timeout` seconds after its complete response.
            Exception: What the app raised, when `raise_server_exceptions` is set.
        """
        if self._closed:
            return
        self._closed = True
        exchange, transport = self._exchange, self._transport
        if exchange.reported:
            return
        exchange.reported = True
        grace, timeout = self._grace, transport.timeout
        bound = max(grace, timeout) + _CANCEL_GRACE + 1.0
        finished, early = transport.run(exchange.hang_up(grace, timeout), bound, self._what)
        if not finished:
            if early:
                raise TimeoutError(
                    f"{self._what}: the app was still running {grace:g} seconds after the client "
                    "disconnected, so it was cancelled. A streaming handler should stop when "
                    "receive() answers {'type': 'http.disconnect'} (lanner's StreamingResponse and "
                    "EventSourceResponse do; a loop can check `await request.is_disconnected()`). "
                    "If it needs longer, pass stream(..., disconnect_timeout=...)."
                )
            raise TimeoutError(
                f"{self._what}: the app was still running {timeout:g} seconds after it sent the whole "
                "response (TestClient.app_timeout), so it was cancelled"
            )
        transport.raise_app_error(exchange.error(), self._scope)
