"""Turn a WebSocket route's compiled plan into the callable that serves its connections.

The same plan as an HTTP route: path, query, header and cookie parameters are validated before the
handler runs, dependencies (yield ones included) are called in order and cleaned up when the
handler returns, which is when the socket is done. What can go wrong has a close code:

- a parameter that fails validation, or an `HTTPException` before ``accept``: the handshake is
  refused with that status and a problem document when the server supports the ASGI
  ``websocket.http.response`` extension (uvicorn does), else closed with 1008 (HTTP 403);
- `WebSocketException`: closed with its code;
- any other exception: logged, and closed with 1011;
- a client that leaves: `WebSocketDisconnect` in the handler, cleanups run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

from lanner._calls import cleanup, invoke, wrap
from lanner._sources import SourceReader, validate_sources
from lanner.di import DependencyPlan, build_dependency_plan
from lanner.endpoint import Runtime
from lanner.errors import ProblemResponse, http_problem, loggable, validation_problem
from lanner.exceptions import HTTPException, RequestValidationError
from lanner.params import MISSING
from lanner.responses import Response
from lanner.routing import Route
from lanner.types import Receive, Scope, Send
from lanner.websockets import (
    DEFAULT_LIMITS,
    CloseCode,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    WebSocketLimits,
    WebSocketState,
)

__all__ = ["WebSocketEndpoint", "compile_websocket_route", "refuse_handshake"]

logger = logging.getLogger("lanner.error")
_HTTP_RESPONSE = "websocket.http.response"


class WebSocketEndpoint:
    """A WebSocket route's compiled handler: ``await endpoint.serve(scope, receive, send, params)``.

    Args:
        plan: the route's flattened dependency plan (handler last).
        runtime: what the application's endpoints share (app-scoped values, sessions).
        limits: the socket limits for this route.

    Raises:
        TypeError: a function of the route reads a request body, or wants a `Response` or
            `BackgroundTasks`, which a WebSocket does not have.
    """

    def __init__(self, plan: DependencyPlan, runtime: Runtime, limits: WebSocketLimits = DEFAULT_LIMITS):
        self.plan = plan
        self.limits = limits
        self._runtime = runtime
        plans = [step.plan for step in plan.request_steps]
        for call_plan in plans:
            owner = getattr(call_plan.call, "__qualname__", repr(call_plan.call))
            if call_plan.body is not None:
                raise TypeError(f"{owner}: a WebSocket route has no request body; receive messages")
            if call_plan.background_args:
                raise TypeError(f"{owner}: a WebSocket route has no BackgroundTasks")
            if call_plan.response_args and call_plan is plan.handler.plan:
                raise TypeError(f"{owner}: a WebSocket route has no Response; send messages")
        self._steps = plan.request_steps
        self._calls = tuple(wrap(step.plan) for step in self._steps)
        self._app_steps = tuple((step.slot, step.plan.call) for step in plan.app_steps)
        self._slots = len(plan.steps)
        self._read_sources = SourceReader(plans).read
        self._has_generators = any(p.kind in ("generator", "async_generator") for p in plans)
        self._wants_session = any(p.session_args for p in plans)

    async def serve(self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]) -> None:
        """Serve one connection."""
        websocket = WebSocket(scope, receive, send, self.limits)
        stack = AsyncExitStack() if self._has_generators else None
        failure: BaseException | None = None
        try:
            await self._run(websocket, scope, path_params, stack)
        except WebSocketDisconnect:
            pass  # the client left, or a limit closed the socket: both already answered
        except Exception as exc:
            failure = exc
            await self._fail(websocket, exc)
        finally:
            websocket.release()
            if stack is not None:
                await cleanup(stack, failure)
        if websocket.application_state is not WebSocketState.DISCONNECTED:
            # The handler returned without closing: a normal close (or a refused handshake).
            await websocket.close(CloseCode.NORMAL)

    async def _run(
        self, websocket: WebSocket, scope: Scope, path_params: dict[str, Any], stack: AsyncExitStack | None
    ) -> None:
        errors: list[dict[str, Any]] = []
        query, headers, cookies = self._read_sources(scope)
        arguments: list[dict[str, Any]] = []
        for step in self._steps:
            kwargs: dict[str, Any] = {}
            validate_sources(step.plan, path_params, query, headers, cookies, kwargs, errors)
            arguments.append(kwargs)
        if errors:
            unique = {(tuple(e["loc"]), e["type"]): e for e in errors}
            raise RequestValidationError(list(unique.values()))
        results: list[Any] = [None] * self._slots
        if self._app_steps:
            values = self._runtime.app_values
            if any(call not in values for _, call in self._app_steps):
                await self._runtime.start_app_steps(self.plan)
            for slot, call in self._app_steps:
                results[slot] = values[call]
        session = None
        if self._wants_session:
            sessions = self._runtime.sessions
            if sessions is None:
                raise RuntimeError("sessions are off: give the app a secret_key (or LANNER_SECRET_KEY)")
            session = await sessions.load(scope)
        for step, call, kwargs in zip(self._steps, self._calls, arguments, strict=True):
            plan = step.plan
            for name, slot in step.inputs:
                kwargs[name] = results[slot]
            # A dependency written for HTTP (an API key or bearer scheme) reads the handshake.
            for name in plan.request_args:
                kwargs[name] = websocket
            for name in plan.websocket_args:
                kwargs[name] = websocket
            # A dependency written for HTTP may set response headers (a rate limit's): there is
            # no response to put them on, so it gets one that is never sent (handlers cannot).
            for name in plan.response_args:
                kwargs[name] = Response()
            for name in plan.session_args:
                kwargs[name] = session
            if step.constants:
                kwargs.update(step.constants)
            results[step.slot] = await invoke(plan, call, kwargs, stack)

    async def _fail(self, websocket: WebSocket, exc: Exception) -> None:
        """Answer `exc` with a refused handshake or a close code."""
        if isinstance(exc, WebSocketException):
            await websocket.close(exc.code, exc.reason)
            return
        if isinstance(exc, (HTTPException, RequestValidationError)):
            if websocket.application_state is WebSocketState.CONNECTING:
                await refuse_handshake(websocket, _problem(exc), _reason(exc))
            else:
                await websocket.close(CloseCode.POLICY_VIOLATION, _reason(exc))
            return
        scope = websocket.scope
        logger.error("Exception in WebSocket handler for %s", loggable(scope["path"]), exc_info=exc)
        if websocket.application_state is WebSocketState.CONNECTING:
            error = ProblemResponse(500, "The server could not complete the request.")
            await refuse_handshake(websocket, error, "internal error")
        else:
            await websocket.close(CloseCode.INTERNAL_ERROR, "internal error")


def _problem(exc: HTTPException | RequestValidationError) -> Response:
    if isinstance(exc, RequestValidationError):
        return validation_problem(exc)
    return http_problem(exc)


def _reason(exc: HTTPException | RequestValidationError) -> str:
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return str(exc.detail or exc.status_code)


async def refuse_handshake(websocket: WebSocket, response: Response, reason: str) -> None:
    """Answer the handshake with `response`, or, if the server cannot, close with 1008 and `reason`.

    A close before ``accept`` is answered by the server with HTTP 403.
    """
    extensions = websocket.scope.get("extensions") or {}
    if _HTTP_RESPONSE not in extensions:
        await websocket.close(CloseCode.POLICY_VIOLATION, reason)
        return
    websocket.application_state = WebSocketState.RESPONSE
    start = {"type": "websocket.http.response.start", "status": response.status_code}
    await websocket.send({**start, "headers": response.raw_headers})
    await websocket.send({"type": "websocket.http.response.body", "body": response.body})
    websocket.application_state = WebSocketState.DISCONNECTED


def compile_websocket_route(
    route: Route,
    runtime: Runtime,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
    app_limits: WebSocketLimits = DEFAULT_LIMITS,
) -> WebSocketEndpoint:
    """Compile a WebSocket `route` into its endpoint, its limits merged over the app's.

    Raises:
        TypeError: the handler or a dependency cannot be planned for a WebSocket.
        ValueError: a limit is out of range.
    """
    options = route.options
    plan = build_dependency_plan(route.handler, route.compiled.param_names, options.dependencies, overrides)
    limits = WebSocketLimits(
        max_message_size=options.max_message_size or app_limits.max_message_size,
        idle_timeout=app_limits.idle_timeout if options.idle_timeout is MISSING else options.idle_timeout,
        max_send_queue=options.max_send_queue or app_limits.max_send_queue,
        on_invalid=options.on_invalid or app_limits.on_invalid,  # type: ignore[arg-type]
    )
    return WebSocketEndpoint(plan, runtime, limits)
