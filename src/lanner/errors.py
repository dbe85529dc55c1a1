"""Problem documents (RFC 9457) and the exception handlers that produce them."""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pydantic_core

from lanner import status
from lanner.exceptions import HTTPException, RequestValidationError
from lanner.requests import ClientDisconnect, Request
from lanner.responses import Response
from lanner.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("lanner.error")

ExceptionHandler = Callable[[Request, Any], "Response | Awaitable[Response]"]
PROBLEM_JSON = "application/problem+json"


class ProblemResponse(Response):
    """An RFC 9457 problem document: ``type``, ``title``, ``status``, ``detail`` and extra members."""

    media_type = PROBLEM_JSON

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        *,
        title: str | None = None,
        type_uri: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        document: dict[str, Any] = {
            "type": type_uri,
            "title": title or status.phrase(status_code) or "Error",
            "status": status_code,
        }
        if detail is not None:
            document["detail"] = detail
        document.update(extra)
        super().__init__(pydantic_core.to_json(document, fallback=str), status_code, headers)


def http_problem(exc: HTTPException) -> Response:
    """The default answer to `exc`: a problem document (no body for 1xx, 204 and 304)."""
    detail = exc.detail if exc.detail is not None else status.phrase(exc.status_code)
    if exc.status_code in (204, 304) or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return ProblemResponse(exc.status_code, detail, headers=exc.headers)


def loggable(text: str) -> str:
    """`text` with control characters escaped, so a client cannot forge log lines or colours.

    A request path is percent-decoded: ``%0d%0a`` in it would otherwise start a new log line.
    """
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def _http_exception(request: Request, exc: HTTPException) -> Response:
    return http_problem(exc)


def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    count = len(errors)
    detail = f"{count} field{'s' if count != 1 else ''} failed validation"
    return ProblemResponse(422, detail, errors=errors)


def _server_error(request: Request, exc: Exception) -> Response:
    debug = getattr(request.scope.get("app"), "debug", False)
    if debug:
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return ProblemResponse(500, f"{type(exc).__name__}: {exc}", traceback="".join(lines))
    return ProblemResponse(500, "The server could not complete the request.")


def _default_status(exc: BaseException, handler: ExceptionHandler) -> int | None:
    """The status the default handlers answer `exc` with, when `handler` is one of them."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    if handler is _validation_error:
        return 422
    if handler is _server_error:
        return 500
    return None


class ExceptionHandlers:
    """Map exception classes or status codes to handlers; classes resolve by MRO.

    Defaults: `HTTPException` → its status as a problem document, `RequestValidationError` → 422
    listing every failing field, anything else → a 500 without internals (a traceback with debug on).
    """

    def __init__(self) -> None:
        self._by_type: dict[type[BaseException], ExceptionHandler] = {
            HTTPException: _http_exception,
            RequestValidationError: _validation_error,
            Exception: _server_error,
        }
        self._by_status: dict[int, ExceptionHandler] = {}
        self._resolved: dict[type[BaseException], ExceptionHandler] = {}

    def add(self, key: type[BaseException] | int, handler: ExceptionHandler) -> None:
        """Register `handler` for an exception class or an HTTP status code."""
        if isinstance(key, int):
            self._by_status[key] = handler
        else:
            self._by_type[key] = handler
        self._resolved.clear()

    def lookup(self, exc: BaseException) -> ExceptionHandler:
        """Return the handler for `exc`.

        A handler registered for a status code wins for the exceptions answered with that status
        by default: an `HTTPException` of that status, a `RequestValidationError` for 422, and an
        exception no class handler claims for 500. Otherwise the handler of the closest class in
        the exception's MRO is used.
        """
        handler = self._for_type(type(exc))
        if self._by_status:
            code = _default_status(exc, handler)
            by_status = self._by_status.get(code) if code is not None else None
            if by_status is not None:
                return by_status
        return handler

    def answers_by_default(self, exc: HTTPException) -> bool:
        """Whether `exc` would be answered by the built-in `HTTPException` handler."""
        return self.lookup(exc) is _http_exception

    def _for_type(self, cls: type[BaseException]) -> ExceptionHandler:
        handler = self._resolved.get(cls)
        if handler is None:
            handler = next(
                (self._by_type[base] for base in cls.__mro__ if base in self._by_type),
                _server_error,
            )
            self._resolved[cls] = handler
        return handler

    async def respond(self, request: Request, exc: Exception) -> Response:
        """Turn `exc` into a response; a failing custom handler falls back to a plain 500."""
        handler = self.lookup(exc)
        if self._for_type(type(exc)) is _server_error:
            logger.error(
                "Exception while handling %s %s", request.method, loggable(request.path), exc_info=exc
            )
        try:
            if inspect.iscoroutinefunction(handler):
                result = await handler(request, exc)
            else:
                result = handler(request, exc)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as handler_exc:
            logger.error("Exception handler %r failed", handler, exc_info=handler_exc)
            return _server_error(request, handler_exc)
        if not isinstance(result, Response):
            logger.error("Exception handler %r returned %r, not a Response", handler, result)
            return _server_error(request, TypeError("exception handler returned no Response"))
        return result


class ErrorBoundary:
    """The outermost layer of an app with middleware: exceptions become problem documents.

    An exception raised inside the middleware stack before the response started is answered by
    the app's exception handlers instead of the server's bare 500.

    Args:
        app: the middleware stack to run.
        owner: the application, set as ``scope["app"]`` for the handlers (debug pages).
        handlers: the application's exception handlers.
    """

    def __init__(self, app: ASGIApp, owner: Any, handlers: ExceptionHandlers) -> None:
        self._app = app
        self._owner = owner
        self._handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the stack; answer an exception raised before the response started.

        Raises:
            Exception: one raised after the response started (the server ends the connection).
        """
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, watched)
        except ClientDisconnect:
            logger.debug("Client disconnected during %s %s", scope["method"], loggable(scope["path"]))
        except Exception as exc:
            if started:
                raise
            scope.setdefault("app", self._owner)
            response = await self._handlers.respond(Request(scope, receive), exc)
            await response(scope, receive, send)
