"""One request through `WSGIMount`: the WSGI app in a pool thread, its response relayed by the loop.

The pool thread never waits for the event loop. It keeps ``start_response`` to itself and hands
the response over in batches of ASGI messages with ``loop.call_soon_threadsafe``, fire and forget;
the request's task sends them. A response whose declared ``Content-Length`` is reached goes over
in one batch, its start, body and end together; a streamed one goes chunk by chunk as the app
makes them, at most ``send_queue_size`` batches ahead of the client (a semaphore the task releases
after each send).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, MutableMapping
from types import TracebackType
from typing import Any, cast

from lanner.types import Message, Receive, Send
from lanner.wsgi._base import Environ, WSGIApp

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
# One handoff: the messages to send, whether they end the exchange, and the app's error if any.
_Batch = tuple[list[Message], bool, BaseException | None]

# Body messages read ahead of the WSGI app: enough to keep the socket busy, never an unbounded buffer.
_READ_AHEAD = 2

_DISCONNECT: Message = {"type": "http.disconnect"}
_NO_START = "the WSGI app gave its response without calling start_response"


class _Relay:
    """One request's exchange between the WSGI app (in a pool thread) and the client (on the loop).

    On the loop, `take_body` takes the request body and `relay` sends what the thread hands over;
    in the pool thread, `run` calls the app and iterates its response. `gone` is
    set when the client has left (or the task ended early): the thread then stops at the app's next
    chunk and closes its iterable, as a WSGI server does when a write fails. A failing ``send`` or
    ``receive`` that is not the client's doing is kept in `error`, raised once the thread is done.

    Args:
        app: the WSGI application.
        loop: the loop the request's task runs on.
        receive: the server's ``receive``.
        send: the server's ``send``.
        window: batches the thread may hand over ahead of the client.
        body_type: a2wsgi's ``Body``, the ``wsgi.input`` of a body that comes in pieces.
    """

    def __init__(
        self,
        app: WSGIApp,
        loop: asyncio.AbstractEventLoop,
        receive: Receive,
        send: Send,
        window: int,
        body_type: Callable[[asyncio.AbstractEventLoop, Receive], Any],
    ) -> None:
        self._app = app
        self._loop = loop
        self._receive = receive
        self._send = send
        self._window = window
        self._body_type = body_type
        self.gone = False
        self.error: Exception | None = None
        # The loop side.
        self._batches: collections.deque[_Batch] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Message] | None = None
        # The thread side; `_room` is made by the first batch that does not end the response.
        self._room: threading.Semaphore | None = None
        self._status: str | None = None
        self._headers: list[tuple[str, str]] = []
        self._started = False  # the start is handed over: exc_info now re-raises
        self._left: int | None = None  # bytes the declared Content-Length still expects

    # -- the loop side -------------------------------------------------------------------------

    def take_body(self) -> Any:
        """Take the first body message if it is there already; return the ``wsgi.input`` for the app.

        A body that came whole (the usual GET, a small POST) is read from memory, and nothing
        listens to the client until the response turns out to be streamed. A body that comes in
        pieces, or is not there yet, is read as the app asks, through a task (`_pump`) that reads
        a couple of messages ahead and notices the client leaving.
        """
        try:
            first = _receive_now(self._receive)
        except Exception as exc:
            # Raised once the WSGI app is done; until then it reads an ended body.
            self.error = exc
            first = _DISCONNECT
        if isinstance(first, MutableMapping):
            if first["type"] != "http.request":
                self.gone = True
                return io.BytesIO(b"")
            if not first.get("more_body", False):
                return io.BytesIO(first.get("body", b""))
        self._inbox = asyncio.Queue(_READ_AHEAD)
        if isinstance(first, MutableMapping):
            self._inbox.put_nowait(first)
            self._listener = asyncio.ensure_future(self._pump(self._receive()))
        else:
            self._listener = asyncio.ensure_future(self._pump(first))
        return self._body_type(self._loop, self._receive_body)

    async def relay(self) -> None:
        """Send what the thread hands over until its last batch; then raise the app's error, if any.

        Raises:
            BaseException: what the WSGI app raised (after what it had sent).
        """
        batches = self._batches
        while True:
            while not batches:
                self._waiter = self._loop.create_future()
                await self._waiter
            messages, last, failure = batches.popleft()
            for message in messages:
                if self.gone:
                    break
                try:
                    await self._send(message)
                except Exception as exc:
                    self.gone = True
                    # ASGI 2.4 servers raise an OSError for a closed connection: the client's doing.
                    if not isinstance(exc, OSError) and self.error is None:
                        self.error = exc
            if last:
                if failure is not None:
                    raise failure
                return
            assert self._room is not None
            self._room.release()
            if self._listener is None:
                # PERF(mount JSON): a response in one batch never listens for the disconnect; a
                # streamed one does from its second batch, to stop an endless generator.
                self._listener = asyncio.ensure_future(self._listen())

    def end(self) -> None:
        """Let the thread go, whatever became of the task: it stops at its next chunk or read."""
        self.gone = True
        if self._room is not None:
            self._room.release()  # a thread waiting for room takes it, sees `gone` and gives it back
        if self._inbox is not None:
            with contextlib.suppress(asyncio.QueueFull):  # a full inbox has no reader waiting
                self._inbox.put_nowait(_DISCONNECT)
        if self._listener is not None:
            self._listener.cancel()

    def _deliver(self, batch: _Batch) -> None:
        # On the loop, called by the thread through call_soon_threadsafe.
        self._batches.append(batch)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _pump(self, pending: Awaitable[Message]) -> None:
        assert self._inbox is not None
        while True:
            try:
                message = await pending
            except Exception as exc:
                if self.error is None:
                    self.error = exc
                message = _DISCONNECT
            if message["type"] == "http.disconnect":
                self.gone = True
                # A reader waiting on the empty inbox wakes; a full one is drained, then
                # `_receive_body` sees `gone`.
                with contextlib.suppress(asyncio.QueueFull):
                    self._inbox.put_nowait(message)
                return
            await self._inbox.put(message)
            pending = self._receive()

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._receive()
            except Exception as exc:
                if self.error is None:
                    self.error = exc
                message = _DISCONNECT
            if message["type"] == "http.disconnect":
                self.gone = True
                return

    async def _receive_body(self) -> Message:
        assert self._inbox is not None
        if self.gone and self._inbox.empty():
            return _DISCONNECT
        return await self._inbox.get()

    # -- the thread side -----------------------------------------------------------------------

    def run(self, environ: Environ) -> None:
        """Call the WSGI app and hand its response over (in a pool thread); never raises.

        The last batch goes over after the iterable's ``close``, so that what ``close`` raises
        reaches the server too, and the task ends only once the app is done with the request.
        """
        messages: list[Message] = []
        failure: BaseException | None = None
        ended = False
        iterable: Iterable[bytes] | None = None
        try:
            iterable = self._app(environ, self._start_response)
            chunks = iter(iterable)
            while not self.gone:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                if not self._started:
                    if not chunk:
                        continue  # nothing yet: no message, and the start may still change
                    messages.append(self._start_message())
                left = self._left
                if left is not None:
                    left = self._left = left - len(chunk)
                    if left <= 0:
                        # The declared length is reached: the end goes with this chunk. The rest is
                        # iterated as a WSGI server does, and bytes past the length are dropped.
                        messages.append({"type": "http.response.body", "body": chunk, "more_body": False})
                        ended = True
                        for _ in chunks:
                            if self.gone:
                                break
                        break
                messages.append({"type": "http.response.body", "body": chunk, "more_body": True})
                self._hand_over(messages)
                messages = []
        except BaseException as exc:  # the task raises it: a thread has nobody else to tell
            failure = exc
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as exc:
                    failure = failure or exc
        if failure is None and not ended and not self.gone:
            try:
                if not self._started:
                    messages.append(self._start_message())  # an empty body: the start goes alone
                messages.append({"type": "http.response.body", "body": b"", "more_body": False})
            except RuntimeError as exc:
                failure = exc
        self._call_loop((messages, True, failure))

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        # PEP 3333: the start goes out with the first body bytes. Until then `exc_info` replaces it
        # (an error page); afterwards it re-raises the app's error. A second call without it is the
        # app's bug, raised as WSGI servers raise it.
        if exc_info is not None:
            try:
                if self._started:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self._status is not None:
            raise AssertionError("start_response was already called (without exc_info)")
        self._status, self._headers = status, headers
        return self._write

    def _write(self, data: bytes) -> None:
        """The ``write`` callable ``start_response`` returns (WSGI's imperative output)."""
        messages = [] if self._started else [self._start_message()]
        if data:
            if self._left is not None:
                self._left -= len(data)
            messages.append({"type": "http.response.body", "body": data, "more_body": True})
        if messages and not self.gone:
            self._hand_over(messages)

    def _start_message(self) -> Message:
        status = self._status
        if status is None:
            raise RuntimeError(_NO_START)
        headers = []
        for name, value in self._headers:
            key = name.strip().lower().encode("latin-1")
            raw = value.strip().encode("latin-1")
            if key == b"content-length":
                with contextlib.suppress(ValueError):
                    self._left = int(raw)
            headers.append((key, raw))
        self._started = True
        return {"type": "http.response.start", "status": int(status.split(" ", 1)[0]), "headers": headers}

    def _hand_over(self, messages: list[Message]) -> None:
        # A batch that does not end the response: it waits for room, so a fast producer cannot
        # get more than `window` batches ahead of the client.
        room = self._room
        if room is None:
            room = self._room = threading.Semaphore(self._window)
        room.acquire()
        if self.gone:
            room.release()  # for the next waiter, if the task let go of the thread while it waited
            return
        self._call_loop((messages, False, None))

    def _call_loop(self, batch: _Batch) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, batch)
        except RuntimeError:
            self.gone = True  # the loop is closed: the process is on its way out


def _receive_now(receive: Receive) -> Message | Awaitable[Message]:
    """The server's next message if it is there already, else an awaitable that waits for it.

    PERF(mount JSON): a server has the body of a GET (or of a small POST) when it starts the app,
    and its ``receive`` returns without suspending: driving the coroutine by hand takes the
    message without a task to wait for it. A ``receive`` that does suspend is finished by the
    awaitable, in whichever task awaits it.
    """
    awaitable: Any = receive()
    if not isinstance(awaitable, Coroutine):
        return cast("Awaitable[Message]", awaitable)  # a future, say: awaited as it is
    try:
        yielded = awaitable.send(None)
    except StopIteration as stop:
        message: Message = stop.value
        return message
    return _carry_on(awaitable, yielded)


@types.coroutine
def _carry_on(coroutine: Coroutine[Any, Any, Message], yielded: Any) -> Generator[Any, Any, Message]:
    # The rest of a coroutine suspended by hand: what it waits for goes to the awaiting task, and
    # what the task sends or throws in (a cancellation) goes back to it, as `await` would do.
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:
            try:
                yielded = coroutine.throw(exc)
            except StopIteration as stop:
                message: Message = stop.value
                return message
        else:
            try:
                yielded = coroutine.send(sent)
            except StopIteration as stop:
                message = stop.value
                return message
