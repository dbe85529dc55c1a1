"""`FunctionMiddleware`: ``@app.middleware("http")`` functions, ``dispatch(request, call_next)``.

FastAPI and Starlette run such functions through Starlette's ``BaseHTTPMiddleware``, which has
two well-known flaws: context variables set by the endpoint never reach the middleware (nor any
pure ASGI middleware around it), because the app runs in a task whose context is thrown away; and
streaming responses went through a buffer between the app and the client. `FunctionMiddleware`
keeps the same programming model without them:

- ``call_next(request)`` runs the rest of the app in a task and returns as soon as that app has
  sent ``http.response.start``. The body is not read: the returned response relays each body
  message to the client as the app sends it, one at a time (the app waits until its message has
  been sent on, so a slow client slows the app down, as without middleware).
- The app's task starts with a copy of the dispatch's context, so a context variable set before
  ``call_next`` is seen by the handler, its dependencies and its background tasks. When
  ``call_next`` returns (or raises), every variable the app changed by then is copied back into
  the dispatch's context, which is the server's own: the dispatch and any pure ASGI middleware
  around it see them, as if there were no task in between.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from lanner.datastructures import State
from lanner.errors import SERVER_EXCEPTION_KEY
from lanner.requests import Request
from lanner.responses import Response, StreamingResponse
from lanner.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CallNext", "Dispatch", "FunctionMiddleware"]

logger = logging.getLogger("lanner.error")

#: ``call_next(request)``: run the rest of the app, return its response once it has started.
CallNext = Callable[[Request], Awaitable[Response]]
#: ``async def dispatch(request, call_next) -> Response``.
Dispatch = Callable[[Request, CallNext], Awaitable[Response]]

_DISCONNECT: Message = {"type": "http.disconnect"}
_UNSET = object()


class FunctionMiddleware:
    """Pure ASGI middleware running ``async def dispatch(request, call_next) -> Response``.

    ``@app.middleware("http")`` wraps its function in this class. For each HTTP request (other
    scopes pass straight through) `dispatch` receives the `Request` and ``call_next``:

    - Code before ``call_next`` runs before the rest of the app; returning a response without
      calling it answers the request without running the app at all.
    - ``await call_next(request)`` returns the app's response as soon as the app has started it:
      its ``status_code``, ``headers`` and cookies (``set_cookie``) may be changed before it is
      returned. Its body streams from the app to the client while it is being sent: nothing is
      buffered, so streamed responses (server-sent events, large downloads) keep streaming. Its
      ``body_iterator`` yields the body's chunks, for a dispatch that wants to read or wrap them.
    - An exception no handler of the app claims (a 500: `lanner.errors.ExceptionHandlers.is_server_error`)
      is raised by ``call_next``, so ``try``/``except`` around it works; uncaught, it goes on to the
      app's exception handlers, which answer 500. Errors the app answers itself (an
      ``HTTPException``, a 422) come back as responses.
    - The request body can be read in `dispatch` (``await request.body()``, ``json()``,
      ``form()``; up to `Request`'s default ``max_body_size``): the messages it read are kept and
      handed to the app again, so the handler reads the body too.
    - ``call_next`` runs the app with the request's scope (what `dispatch` changed in
      ``request.scope`` included); the request given to it is not otherwise used.
    - ``request.state`` set in `dispatch` is the state the handler's ``request.state`` starts from.

    Context variables: a variable set in `dispatch` before ``call_next`` is visible to the handler,
    its dependencies and its background tasks. One set by the app before its response started (an
    ``async`` handler, a dependency) is visible in `dispatch` after ``call_next`` returns, and in
    pure ASGI middleware around this one afterwards. Not propagated back: values set after the
    response started (while a body streams, in background tasks), values set by sync handlers
    (the thread pool runs them in a copy of the context, with or without middleware), and a
    variable the app reset to "no value" (`contextvars` cannot unset a variable).

    After the response is sent, this middleware waits for the app to finish (its background
    tasks run then, while the client already has the whole response). When `dispatch` returns a
    response other than the one ``call_next`` returned, the app's remaining messages are dropped
    and it sees the client disconnect.

    Args:
        app: the ASGI application to wrap.
        dispatch: the middleware function.
    """

    def __init__(self, app: ASGIApp, dispatch: Dispatch) -> None:
        self.app = app
        self.dispatch = dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run `dispatch` for an HTTP request, then send the response it returns.

        Raises:
            TypeError: `dispatch` returned something other than a `Response`.
            Exception: whatever `dispatch` or the app raised.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = _Call(self.app, scope, receive, send)
        try:
            response = await self.dispatch(_DispatchRequest(scope, call.receive), call.call_next)
            if not isinstance(response, Response):
                raise TypeError(f"middleware {self.dispatch!r} returned {response!r}, not a Response")
            await response(scope, receive, send)
        except Exception:
            late = await call.close()
            if late is not None:
                logger.error("Exception in the app behind a failed middleware", exc_info=late)
            raise
        except BaseException:
            await call.close(cancel=True)
            raise
        late = await call.close()
        if late is not None:
            raise late


class _DispatchRequest(Request):
    """The dispatch's request, whose ``state`` is the scope's, so the handler's starts from it."""

    __slots__ = ()

    @property
    def state(self) -> State:
        """Per-request storage: what is set here, the handler's ``request.state`` has too."""
        values = self.scope.get("state")
        if values is None:
            values = self.scope["state"] = {}
        return State(values)


class _Relay:
    """Hands the app's response messages to the middleware's response one at a time.

    The app's `put` returns once the consumer asks for the message after it (it has sent this one
    on), calls `release`, or the relay closes: nothing is queued and the app never runs ahead.
    """

    __slots__ = ("_consumer", "_ended", "_handed", "_message", "_waiting", "closed")

    def __init__(self) -> None:
        self._message: Message | None = None
        self._ended = False
        self._consumer: asyncio.Future[None] | None = None  # the consumer, waiting for a message
        self._waiting: asyncio.Future[None] | None = None  # the producer of `_message`
        self._handed: asyncio.Future[None] | None = None  # the producer of the message handed out
        self.closed = False

    async def put(self, message: Message) -> None:
        """Give `message` to the consumer and wait until it is done with it (or the relay closes)."""
        if self.closed:
            return
        self._message = message
        self._waiting = done = asyncio.get_running_loop().create_future()
        _wake(self._consumer)
        await done

    async def get(self) -> Message | None:
        """Release the previous message's producer and return the next message; None at the end."""
        self.release()
        while self._message is None:
            if self._ended or self.closed:
                return None
            self._consumer = ready = asyncio.get_running_loop().create_future()
            try:
                await ready
            finally:
                self._consumer = None
        message, self._message = self._message, None
        self._handed, self._waiting = self._waiting, None
        return message

    def release(self) -> None:
        """Let the producer of the message last returned by `get` go on."""
        _wake(self._handed)
        self._handed = None

    def end(self) -> None:
        """The app will send nothing more."""
        self._ended = True
        _wake(self._consumer)

    def close(self) -> None:
        """Drop the pending message and every later one; release both sides."""
        self.closed = True
        self._message = None
        self.release()
        _wake(self._waiting)
        self._waiting = None
        _wake(self._consumer)


def _wake(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _adopt(context: contextvars.Context) -> None:
    """Set in the current context each variable whose value in `context` differs from it."""
    for var, value in context.items():
        if var.get(_UNSET) is not value:
            var.set(value)


class _Call:
    """One request through a `FunctionMiddleware`: the app's task and what passes to and from it."""

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        self._app = app
        self._scope = scope
        self._receive = receive
        self._send = send
        self._read: list[Message] = []  # the body messages the dispatch's request read
        self._replay: deque[Message] = deque()
        self._body_done = False
        self._started: asyncio.Future[Message | None] | None = None
        self._relay = _Relay()
        self._aborted: asyncio.Event | None = None
        self._failure: BaseException | None = None  # what the app raised
        self._reported: BaseException | None = None  # already raised to the dispatch
        self.task: asyncio.Task[None] | None = None

    # -- the dispatch's side --------------------------------------------------------------------

    async def receive(self) -> Message:
        """The dispatch request's receive: body messages it reads are kept for the app."""
        message = await self._receive()
        if message["type"] == "http.request":
            self._read.append(message)
        return message

    async def call_next(self, request: Request) -> Response:
        """Run the app until it starts its response; return that response, its body to come.

        Raises:
            RuntimeError: called twice, or the app returned without starting a response.
            Exception: what the app raised before its response started, or the exception it
                answered with a 500 (recorded under `SERVER_EXCEPTION_KEY`).
        """
        if self.task is not None:
            raise RuntimeError("call_next() may be called only once per request")
        scope = self._scope
        earlier = scope.get(SERVER_EXCEPTION_KEY)
        self._replay.extend(self._read)
        self._started = started = asyncio.get_running_loop().create_future()
        context = contextvars.copy_context()
        self.task = asyncio.create_task(self._run(), context=context)
        try:
            start = await started
        except BaseException as exc:
            if exc is self._failure:
                self._reported = exc
            raise
        finally:
            _adopt(context)
        if start is None:
            raise RuntimeError("The app returned without starting a response")
        error = scope.get(SERVER_EXCEPTION_KEY)
        if error is not None and error is not earlier:
            # The app answered an exception nobody handles with a 500: the dispatch gets the
            # exception instead (as from a Starlette app), and may answer it itself.
            del scope[SERVER_EXCEPTION_KEY]
            self.abort()
            raise error
        return _NextResponse(self, start)

    async def messages(self) -> AsyncIterator[Message]:
        """The app's messages after the response start, up to the last body message.

        Raises:
            Exception: what the app raised before its response was complete.
        """
        relay = self._relay
        while True:
            message = await relay.get()
            if message is None:
                failure = self._failure
                if failure is not None and not isinstance(failure, asyncio.CancelledError):
                    self._reported = failure
                    raise failure
                return
            yield message
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                relay.release()
                return

    def abort(self) -> None:
        """Drop whatever the app still sends; it sees the client disconnect."""
        self._relay.close()
        if self._aborted is None:
            self._aborted = asyncio.Event()
        self._aborted.set()

    async def close(self, cancel: bool = False) -> BaseException | None:
        """Wait for the app (cancelled first with `cancel`); return an exception not yet raised."""
        task = self.task
        if task is None:
            return None
        self.abort()
        if cancel:
            task.cancel()
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task.cancelled():
            return None
        error = task.exception()
        return None if error is None or error is self._reported else error

    # -- the app's side -------------------------------------------------------------------------

    async def _run(self) -> None:
        started = self._started
        assert started is not None
        try:
            await self._app(self._scope, self._receive_app, self._send_app)
        except BaseException as exc:
            self._failure = exc
            if not started.done():
                if isinstance(exc, asyncio.CancelledError):
                    started.cancel()
                else:
                    started.set_exception(exc)
            raise
        finally:
            if not started.done():
                started.set_result(None)
            self._relay.end()

    async def _receive_app(self) -> Message:
        if self._replay:
            message = self._replay.popleft()
        elif self._aborted is not None and self._aborted.is_set():
            return dict(_DISCONNECT)
        elif self._body_done:
            # Only a disconnect can come now; it must also come when the middleware drops the app.
            return await self._receive_or_abort()
        else:
            message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self._body_done = True
        return message

    async def _receive_or_abort(self) -> Message:
        if self._aborted is None:
            self._aborted = asyncio.Event()
        receiving = asyncio.ensure_future(self._receive())
        aborting = asyncio.ensure_future(self._aborted.wait())
        try:
            await asyncio.wait((receiving, aborting), return_when=asyncio.FIRST_COMPLETED)
        finally:
            aborting.cancel()
            if not receiving.done():
                receiving.cancel()
        if receiving.done() and not receiving.cancelled():
            return receiving.result()
        return dict(_DISCONNECT)

    async def _send_app(self, message: Message) -> None:
        started = self._started
        assert started is not None
        if self._relay.closed:
            return
        if started.done():
            await self._relay.put(message)
        elif message["type"] == "http.response.start":
            started.set_result(message)
        else:  # messages before the start (early hints, extensions) go straight out
            await self._send(message)


class _NextResponse(StreamingResponse):
    """The response ``call_next`` returns: the app's status and headers, its body still to come.

    Sent as is, it relays the app's messages unchanged. A dispatch may change `status_code`,
    `headers` (cookies too) and `background`, or replace `body_iterator`, which is then streamed
    like any `StreamingResponse`'s.
    """

    def __init__(self, call: _Call, start: Message) -> None:
        self.status_code = int(start["status"])
        self.raw_headers = [(bytes(name), bytes(value)) for name, value in start.get("headers", ())]
        self.background = None
        self._call = call
        self._extra = {key: value for key, value in start.items() if key not in _START_KEYS}
        self._body = self.body_iterator = self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        async for message in self._call.messages():
            if message["type"] == "http.response.body":
                body: bytes = message.get("body", b"")
                if body:
                    yield body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the start with the current status and headers, then relay the app's body.

        Raises:
            Exception: what the app raised while sending its body.
        """
        if self.body_iterator is not self._body:
            await super().__call__(scope, receive, send)
            return
        start: dict[str, Any] = {
            **self._extra,
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        await send(start)
        async for message in self._call.messages():
            await send(message)
        if self.background is not None:
            await self.background()


_START_KEYS = frozenset(("type", "status", "headers"))
