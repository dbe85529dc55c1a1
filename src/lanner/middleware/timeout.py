"""`TimeoutMiddleware`: limits on reading the request body and on handling the whole request.

uvicorn has no limit on how long a client may take to send its body: a client trickling a byte a
second holds a worker as long as it likes. This middleware gives every HTTP request two budgets:

- The body budget (`body_timeout`) starts at the app's first ``receive()`` and ends when the
  last body message arrives. When it runs out, the app is cancelled, so its handler never runs
  with part of a body, and the client gets ``408 Request Timeout`` (a problem document, or an
  HTML page for a browser) with ``Connection: close``.
- The request budget (`request_timeout`) covers the whole call of the app, streamed bodies
  included. When it runs out the app is cancelled: its dependencies' cleanups (code after
  ``yield``) still run, and the client gets `status_code` (504 by default, or 503).

Both budgets end when the response is complete: background tasks that run after it are not
limited. When a budget runs out after the response started, the app is cancelled and the
response is left unfinished: the server closes the connection, so the client sees a truncated
response rather than one that looks complete. Endless streams (server-sent events, long
downloads) therefore need a budget of their own:
``@app.get("/events", timeout=Timeout(request=math.inf))``.

A route's ``timeout`` option overrides the app's budgets: a number replaces the request budget; a
`Timeout` replaces the budgets it sets (a field left ``None`` keeps the app's value). ``math.inf``
lifts a limit, for the app (where ``None`` does too) or for a route.

Sync handlers run in threads, which cannot be interrupted: the request is answered when its
budget runs out, and the thread runs to its end in the background.

The cost is one timer per request (``loop.call_at``, then ``task.cancel`` when it fires): no
task is started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from typing import Any, ClassVar

from lanner.errors import accepts_html, http_problem, loggable
from lanner.exceptions import HTTPException
from lanner.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Timeout", "TimeoutMiddleware"]

logger = logging.getLogger("lanner.error")

_STATUSES = (503, 504)


def _check_seconds(name: str, value: float | None) -> float | None:
    """`value` as a number of seconds, ``None`` for no limit (``math.inf`` too).

    Raises:
        TypeError: not a number.
        ValueError: zero, negative or NaN.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, not {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return None if math.isinf(value) else float(value)


def _finite(seconds: float) -> float | None:
    return None if math.isinf(seconds) else seconds


@dataclasses.dataclass(frozen=True, slots=True)
class Timeout:
    """A route's time budgets, overriding the app's `TimeoutMiddleware` settings.

    Args:
        request: seconds for the whole request; ``None`` keeps the app's value, ``math.inf``
            lifts the limit.
        body: seconds for receiving the request body, from the first read; ``None`` keeps the
            app's value, ``math.inf`` lifts the limit.

    Raises:
        TypeError: a value that is not a number.
        ValueError: a value that is zero, negative or NaN.
    """

    request: float | None = None
    body: float | None = None

    def __post_init__(self) -> None:
        _check_seconds("Timeout.request", self.request)
        _check_seconds("Timeout.body", self.body)

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout | None:
        """A route's ``timeout`` option as a `Timeout`: a number sets the request budget.

        Raises:
            TypeError: `value` is not a number, a `Timeout` or ``None``.
            ValueError: a number that is zero, negative or NaN.
        """
        if value is None or isinstance(value, Timeout):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"timeout must be a number of seconds, a Timeout or None, not {value!r}")
        return cls(request=value)


#: Set in the scope when a budget runs out: the status the client is answered with (408, or the
#: middleware's `status_code`), so the access log inside records it rather than a cancellation.
TIMED_OUT_STATUS = "lanner.timed_out_status"


class _Watch:
    """The timer of one request: which budget it is armed for and what happened."""

    __slots__ = (
        "base",
        "body_deadline",
        "body_open",
        "expired",
        "for_body",
        "handle",
        "loop",
        "request_deadline",
        "scope",
        "started",
        "status",
        "task",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], scope: Scope, status: int
    ) -> None:
        self.loop = loop
        self.task = task
        self.scope = scope
        self.status = status
        self.base = task.cancelling()
        self.request_deadline: float | None = None
        self.body_deadline: float | None = None
        self.body_open = True
        self.started = False
        self.expired: str | None = None
        self.handle: asyncio.TimerHandle | None = None
        self.for_body = False

    def arm(self, when: float, for_body: bool) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.loop.call_at(when, self.fire)
        self.for_body = for_body

    def fire(self) -> None:
        self.handle = None
        if self.for_body and not self.body_open:
            # The body arrived in time; the timer was left armed to save a reschedule per request.
            if self.request_deadline is not None:
                self.arm(self.request_deadline, False)
            return
        self.expired = "body" if self.for_body else "request"
        # What the client will get, for the middleware inside that see only the cancellation.
        self.scope[TIMED_OUT_STATUS] = 408 if self.for_body else self.status
        self.task.cancel()

    def disarm(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class TimeoutMiddleware:
    """Answer 408 to a request whose body is too slow, and `status_code` to one over its budget.

    See the module's documentation for the details.

    Args:
        app: the ASGI app to wrap.
        request_timeout: seconds for the whole request (``None`` or ``math.inf``: no limit).
        body_timeout: seconds for receiving the request body, from the app's first read
            (``None`` or ``math.inf``: no limit).
        status_code: the answer to a request over its budget: 504 (Gateway Timeout) or 503
            (Service Unavailable).

    Raises:
        TypeError: a timeout that is not a number.
        ValueError: a timeout that is not positive, or a status other than 503 and 504.
    """

    layer: ClassVar[int] = 20

    def __init__(
        self,
        app: ASGIApp,
        request_timeout: float | None = 30.0,
        body_timeout: float | None = 10.0,
        status_code: int = 504,
    ) -> None:
        if status_code not in _STATUSES:
            raise ValueError(f"status_code must be 503 or 504, not {status_code!r}")
        self.app = app
        self.request_timeout = _check_seconds("request_timeout", request_timeout)
        self.body_timeout = _check_seconds("body_timeout", body_timeout)
        self.status_code = status_code

    def _budgets(self, scope: Scope) -> tuple[float | None, float | None]:
        """The request and body budgets of this request: the route's, else the app's."""
        setting = getattr(getattr(scope.get("route"), "options", None), "timeout", None)
        if setting is None:
            return self.request_timeout, self.body_timeout
        if isinstance(setting, Timeout):
            request = self.request_timeout if setting.request is None else _finite(setting.request)
            body = self.body_timeout if setting.body is None else _finite(setting.body)
            return request, body
        return _check_seconds("timeout", setting), self.body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app within the request's budgets.

        Raises:
            asyncio.CancelledError: the request was cancelled from outside (a server shutdown).
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_limit, body_limit = self._budgets(scope)
        if request_limit is None and body_limit is None:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # an ASGI server runs each request in a task
        watch = _Watch(loop, task, scope, self.status_code)
        if request_limit is not None:
            watch.request_deadline = loop.time() + request_limit
            watch.arm(watch.request_deadline, False)

        async def timed_receive() -> Message:
            if watch.body_deadline is None and watch.body_open and body_limit is not None:
                deadline = watch.body_deadline = loop.time() + body_limit
                if watch.request_deadline is None or deadline < watch.request_deadline:
                    watch.arm(deadline, True)
            message = await receive()
            if watch.body_open and not (message["type"] == "http.request" and message.get("more_body")):
                watch.body_open = False
            return message

        async def watched_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                watch.started = True
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                watch.disarm()  # answered: what the app does next (background tasks) is not limited

        try:
            await self.app(scope, receive if body_limit is None else timed_receive, watched_send)
        except BaseException as exc:
            if watch.expired is None:
                raise
            # Ours only when nobody else cancelled the task as well (a shutdown is passed on).
            if task.uncancel() > watch.base or not isinstance(exc, asyncio.CancelledError):
                raise
        else:
            if watch.expired is None:
                return
            task.uncancel()  # the app swallowed our cancellation
        finally:
            watch.disarm()
        await self._answer(scope, receive, send, watch)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, watch: _Watch) -> None:
        where = f"{scope['method']} {loggable(scope['path'])}"
        if watch.started:
            logger.warning(
                "Request %s ran out of its %s budget after its response started", where, watch.expired
            )
            return
        if watch.expired == "body":
            logger.info("Request %s: the client was too slow sending the body", where)
            exc = HTTPException(408, "The request body did not arrive in time.", {"Connection": "close"})
        else:
            logger.warning("Request %s ran out of its time budget", where)
            # A body still unread would have to be drained before the next request: close instead.
            headers = {"Connection": "close"} if watch.body_open and watch.body_deadline is not None else None
            exc = HTTPException(self.status_code, "The server did not answer in time.", headers)
        await http_problem(exc, accepts_html(scope))(scope, receive, send)
