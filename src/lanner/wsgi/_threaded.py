"""One request handed to the event loop's own thread through a2wsgi: multi-threaded WSGI servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from lanner.types import ASGIApp, Message, Receive, Scope, Send
from lanner.wsgi._answers import _BODY_CUT_SHORT
from lanner.wsgi._base import logger


class _Call:
    """The ASGI app as one request sees it: with the lifespan state, and its task kept for `close`.

    It also sees a response through to its end, which a2wsgi would wait for for ever: an app that
    returns without a response raises (a2wsgi answers 500), one that leaves its response open has
    it ended, and a request whose body ended early (the client went away) gets a 400. Once the
    response is over, ``receive`` says ``http.disconnect`` at once. Messages WSGI cannot carry
    (trailers) are dropped; a body before the start is the app's error.

    Args:
        app: the ASGI app.
        state: the lifespan state, copied into the request's scope.
    """

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.task: asyncio.Task[Any] | None = None
        #: What the app raised after its response had started, for `_Response` to raise.
        self.error: Exception | None = None
        self._receive: Receive | None = None
        self._send: Send | None = None
        self._started = False
        self._finished = False
        self._cut_short = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.task = asyncio.current_task()
        scope["state"] = dict(self.state)
        self._receive, self._send = receive, send
        try:
            await self.app(scope, self._receive_body, self._send_response)
        except Exception as exc:
            # a2wsgi answers 500 itself, and the server never sees the error: log it here.
            logger.exception("the ASGI app raised instead of answering %s %s", scope["method"], scope["path"])
            if not self._started:
                raise
            # Once the response has started, a2wsgi may end it as if complete when the app's end
            # overtakes its error: the body is ended here, and `_Response` raises the error to the
            # server at its end (the server drops the connection, so the client knows it is cut).
            self.error = exc
            if not self._finished:
                await send({"type": "http.response.body", "body": b""})
            return
        if self._finished:
            return
        if self._started:
            await send({"type": "http.response.body", "body": b""})
        elif self._cut_short:
            await _BODY_CUT_SHORT(scope, receive, send)
        else:
            logger.error("the ASGI app returned without answering %s %s", scope["method"], scope["path"])
            raise RuntimeError("the ASGI app returned without sending a response")

    async def _receive_body(self) -> Message:
        assert self._receive is not None
        if self._finished:
            return {"type": "http.disconnect"}  # as servers say after the response; a2wsgi never would
        message = await self._receive()
        if message.get("more_body") and not message.get("body"):
            # a2wsgi read nothing before the announced length: the client went away mid-body.
            self._cut_short = True
            return {"type": "http.disconnect"}
        return message

    async def _send_response(self, message: Message) -> None:
        assert self._send is not None
        kind = message["type"]
        if kind == "http.response.start":
            self._started = True
        elif kind == "http.response.body":
            if not self._started:
                raise RuntimeError(f"the ASGI app sent {kind!r} before 'http.response.start'")
            if not message.get("more_body", False):
                self._finished = True
        else:
            return  # WSGI cannot carry it (trailers...): dropped, as the single-threaded path drops it
        await self._send(message)


class _Response:
    """a2wsgi's response generator; closed before its end (the client went away), it cancels the app.

    Args:
        chunks: a2wsgi's response generator.
        call: the request's app, whose task is cancelled on an early close.
        loop: the loop the app runs on, in a thread of its own.
    """

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
        error = self._call.error
        if error is not None:
            raise error
        raise StopIteration

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
