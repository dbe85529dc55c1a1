"""One request run on the event loop by the very thread serving it: single-threaded WSGI servers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from lanner.types import ASGIApp, Message, Scope
from lanner.wsgi._base import Environ, StartResponse, _status_line
from lanner.wsgi._loop import _WorkerLoop

# Bytes read from ``wsgi.input`` for one ``http.request`` message.
_READ_SIZE = 65536

_BODY = "http.response.body"


class _InlineCall:
    """One request run on the event loop by the very thread serving it (single-threaded servers).

    The request's task starts eagerly (`_WorkerLoop.start`): a request that waits for nothing is
    answered without the loop ever polling. Otherwise the thread runs the loop until the app has
    sent something (`_step`); the app then waits until the server has taken that chunk, so at most
    one chunk is ever held. The request body is read from ``wsgi.input`` as the app asks for it.

    Args:
        app: the ASGI app.
        loop: the process's event loop, which no other thread runs.
        turn: the lock held while a thread runs `loop`.
        scope: the request's ASGI scope, lifespan state included.
        environ: the request's WSGI environ, for its input and body length.
    """

    __slots__ = (
        "_app",
        "_body_read",
        "_cut_short",
        "_finished",
        "_input",
        "_left",
        "_loop",
        "_out",
        "_over",
        "_ready",
        "_scope",
        "_taken",
        "_task",
        "_turn",
        "_woken",
    )

    def __init__(
        self,
        app: ASGIApp,
        loop: _WorkerLoop,
        turn: threading.Lock,
        scope: Scope,
        environ: Environ,
    ) -> None:
        self._app = app
        self._loop = loop
        self._turn = turn
        self._scope = scope
        self._input: Any = environ  # until the app reads the body: then its `wsgi.input`
        # Bytes of the body left to read; None: read to the end, which the server marks (a chunked
        # body); -1: not worked out yet (the app has not asked for the body).
        self._left: int | None = -1
        self._body_read = False
        self._cut_short = False  # the body ended before its announced length
        self._finished = False
        self._out: collections.deque[Message] = collections.deque()
        self._task: asyncio.Future[None] | None = None
        self._woken = False  # `_wake` is called when the task is done
        self._ready: asyncio.Future[None] | None = None  # set by `_wake`, while the loop runs
        self._taken: asyncio.Future[None] | None = None  # set once the server has taken a chunk
        self._over: asyncio.Future[None] | None = None  # set when the response is over

    def respond(self, start_response: StartResponse) -> Iterable[bytes] | None:
        """Run the app until it starts its response, pass the start on, and return the body.

        Returns:
            The response body, or None when the app did not answer a request whose body ended
            early (the client went away mid-body).

        Raises:
            RuntimeError: if the app returned without a response or sent a body before its start.
            Exception: what the app raised instead of answering.
        """
        out = self._out
        # PERF(wsgi sync JSON): `_step`'s first step, inline. The task starts eagerly, without
        # entering the loop or polling for I/O: a request that waits for nothing is over at once.
        with self._turn:
            task = self._task = self._loop.start(self._app(self._scope, self._receive, self._send), out)
        if not out and not task.done():
            self._step()
        if not out:
            task.result()  # what the app raised instead of answering
            if self._cut_short:
                return None
            raise RuntimeError("the ASGI app returned without sending a response")
        start = out.popleft()
        if start["type"] != "http.response.start":
            raise RuntimeError(f"the ASGI app sent {start['type']!r} before 'http.response.start'")
        # (Loops rather than comprehensions: PERF(wsgi sync JSON), no frame of their own on 3.11.)
        headers = []
        for name, value in start.get("headers", ()):
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        start_response(_status_line(start["status"]), headers)
        if self._finished and task.done() and task.exception() is None:
            # PERF(wsgi sync JSON): the whole answer is here: a list, no iterator to step through.
            # (An app that raised after its answer goes through the iterator: the body, then the
            # error for the server.)
            body = []
            for message in out:
                if message["type"] == _BODY:
                    body.append(message.get("body", b""))
            return body
        return self

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while True:
            if self._out:
                message = self._out.popleft()
                if message["type"] == _BODY:
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
        with self._turn:
            if not self._finished:
                task.cancel()
            # A finished response may still have background tasks to run: they run to the end.
            with contextlib.suppress(BaseException):
                self._loop.run_until_complete(asyncio.wait({task}))
        if task.done() and not task.cancelled():
            task.exception()  # nobody is left to raise it to

    def _step(self) -> None:
        """Run the app until it has sent a body chunk (or finished)."""
        with self._turn:
            loop = self._loop
            task = self._task
            assert task is not None  # started by `respond`
            if self._taken is not None:
                self._taken.set_result(None)  # the server took the last chunk: the app goes on
                self._taken = None
            if loop.run_ready(task, self._out):
                return
            # The app waits for I/O, a timer or a thread: the loop proper, until it sends or ends.
            self._ready = loop.create_future()
            if not self._woken:
                self._woken = True
                task.add_done_callback(self._wake)
            loop.run_until_complete(self._ready)
            self._ready = None

    def _wake(self, _: object = None) -> None:
        ready = self._ready
        if ready is not None and not ready.done():
            ready.set_result(None)

    async def _receive(self) -> Message:
        if self._body_read:
            # As a server does: after the body, a disconnect, once the response is over.
            if not self._finished:
                if self._over is None:
                    self._over = self._loop.create_future()
                await self._over
            return {"type": "http.disconnect"}
        left = self._left
        if left == -1:
            environ = self._input
            self._input = environ["wsgi.input"]
            length = environ.get("CONTENT_LENGTH")
            # (A negative length, which servers refuse anyway, is no body.)
            terminated = environ.get("wsgi.input_terminated")
            left = self._left = max(int(length), 0) if length else None if terminated else 0
        if left is None:
            data = self._input.read(_READ_SIZE)
            more = bool(data)
        elif left:
            data = self._input.read(min(_READ_SIZE, left))
            if not data:  # the client sent less than it announced
                self._body_read = self._cut_short = True
                return {"type": "http.disconnect"}
            self._left = left = left - len(data)
            more = left > 0
        else:
            data, more = b"", False
        self._body_read = not more
        return {"type": "http.request", "body": data, "more_body": more}

    async def _send(self, message: Message) -> None:
        self._out.append(message)
        if message["type"] != _BODY:
            return  # the start goes out with the first chunk
        if not message.get("more_body", False):
            self._finished = True
            over = self._over
            if over is not None and not over.done():
                over.set_result(None)
            if self._ready is not None:
                self._wake()
            return
        if self._ready is not None:
            self._wake()
        self._taken = self._loop.create_future()
        await self._taken
