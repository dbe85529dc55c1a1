"""Turn a route's compiled plan into the callable that serves it.

Everything that can be decided per route is decided in `Endpoint.__init__`; `__call__` only reads
the sources the plan names, validates, calls, renders and sends.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

from lanner._calls import cleanup, invoke, starter, unwind, wrap
from lanner._sources import (
    SourceReader,
    bind_body,
    bind_form,
    close_form,
    is_form_type,
    receive_body,
    validate_sources,
)
from lanner._validation import ResponseSerializer
from lanner.appcontext import run_teardown
from lanner.background import BackgroundTasks
from lanner.checks import source_location
from lanner.concurrency import request_threads, run_in_threadpool
from lanner.datastructures import merge_vary, quote_path, quote_query
from lanner.di import DependencyPlan, Step, build_dependency_plan
from lanner.errors import ExceptionHandlers, accepts_html, http_problem, loggable
from lanner.exceptions import HTTPException, RequestValidationError, ResponseValidationError
from lanner.forms import FORM_LIMITS_SCOPE_KEY, FORM_SCOPE_KEY
from lanner.requests import ClientDisconnect, Request
from lanner.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    text_content_type,
)
from lanner.sessions import Session, SessionConfig, verify_csrf_token
from lanner.signature import body_kind
from lanner.types import Message, Receive, Scope, Send

logger = logging.getLogger("lanner.error")

Hook = Callable[..., Any]
#: What serves a matched route: ``await endpoint(scope, receive, send, path_params)``.
EndpointLike = Callable[[Scope, Receive, Send, dict[str, Any]], Awaitable[None]]
_NO_BODY_STATUSES = frozenset({204, 205, 304})
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Runtime:
    """What every endpoint of one application shares: hooks, error handlers, app-scoped values."""

    def __init__(
        self,
        handlers: ExceptionHandlers,
        before: Sequence[Hook] = (),
        after: Sequence[Hook] = (),
        max_body_size: int = 1024 * 1024,
        teardown: Sequence[Hook] = (),
    ) -> None:
        self.handlers = handlers
        self.configure(before, after, max_body_size, teardown)
        self.configure_sessions(None, False, None)
        self.app_values: dict[Callable[..., Any], Any] = {}
        self.app_stack = AsyncExitStack()
        self._app_lock: asyncio.Lock | None = None

    def configure_sessions(self, sessions: SessionConfig | None, csrf: bool, form_limits: Any) -> None:
        """Set the session settings, CSRF protection and form limits (endpoints recompile after)."""
        self.sessions = sessions
        self.csrf = csrf and sessions is not None
        self.form_limits = form_limits

    def configure(
        self,
        before: Sequence[Hook],
        after: Sequence[Hook],
        max_body_size: int,
        teardown: Sequence[Hook] = (),
    ) -> None:
        """Set the hooks and body limit (endpoints are recompiled after a change)."""
        self.before = tuple((hook, inspect.iscoroutinefunction(hook)) for hook in before)
        self.after = tuple((hook, inspect.iscoroutinefunction(hook)) for hook in after)
        self.teardown = tuple((hook, inspect.iscoroutinefunction(hook)) for hook in teardown)
        #: Sync hooks: each request's sync code runs in one thread, as in Flask (see RequestThreads).
        self.pin_thread = any(not is_async for _, is_async in (*self.before, *self.after, *self.teardown))
        self.max_body_size = max_body_size

    async def start_app_steps(self, plan: DependencyPlan) -> None:
        """Create the plan's app-scoped dependencies that do not exist yet, in order."""
        if self._app_lock is None:
            self._app_lock = asyncio.Lock()
        async with self._app_lock:
            by_slot = {step.slot: step for step in plan.app_steps}
            for step in plan.app_steps:
                call = step.plan.call
                if call in self.app_values:
                    continue
                kwargs = {name: self.app_values[by_slot[slot].plan.call] for name, slot in step.inputs}
                self.app_values[call] = await invoke(step.plan, wrap(step.plan), kwargs, self.app_stack)

    async def close_app_values(self) -> None:
        """Clean up app-scoped dependencies (generators resume after their ``yield``)."""
        stack, self.app_stack = self.app_stack, AsyncExitStack()
        self.app_values.clear()
        await stack.aclose()


class Endpoint:
    """A route's compiled ASGI handler: ``await endpoint(scope, receive, send, path_params)``.

    Args:
        plan: the route's flattened dependency plan (handler last).
        runtime: what the application's endpoints share.
        status_code: the success status.
        response_class: the class wrapping returned values; None or `JSONResponse` means JSON
            through `serializer`.
        serializer: turns returned values into JSON.
        max_body_size: the largest body accepted, in bytes.
        strict_content_type: refuse a JSON body sent without a Content-Type (415).
    """

    def __init__(
        self,
        plan: DependencyPlan,
        runtime: Runtime,
        status_code: int = 200,
        response_class: type[Response] | None = None,
        serializer: ResponseSerializer | None = None,
        max_body_size: int | None = None,
        *,
        methods: Collection[str] = (),
        csrf_exempt: bool = False,
        template_folders: tuple[str, ...] = (),
        form_limits: Any = None,
        strict_content_type: bool = True,
        route_handler: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
        route: str = "",
    ) -> None:
        self.plan = plan
        #: ``"GET /items/{id}"``: how errors name the route.
        self.route = route
        self._strict_content_type = strict_content_type
        self._runtime = runtime
        steps = plan.request_steps
        #: A handler that yields streams its items: calling it only creates the generator.
        self._streams = plan.handler.plan.kind in ("generator", "async_generator")
        if self._streams:
            handler_step = steps[-1]
            starting = dataclasses.replace(
                handler_step.plan, kind="async", call=starter(handler_step.plan.call)
            )
            steps = (*steps[:-1], dataclasses.replace(handler_step, plan=starting))
            # PERF(all): only streaming routes pay for the check, through their own renderer.
            self._render = self._render_stream  # type: ignore[method-assign]
        self._steps = steps
        self._calls = tuple(wrap(step.plan) for step in self._steps)
        self._app_steps = tuple((s.slot, s.plan.call) for s in plan.app_steps)
        self._slots = len(plan.steps)
        self.status_code = status_code
        self._json = response_class is None or response_class is JSONResponse
        self.response_class: type[Response] = response_class or JSONResponse
        self.serializer = serializer or ResponseSerializer()
        self._no_body = status_code in _NO_BODY_STATUSES
        text = None
        if not (self._json or self._no_body or status_code < 200):
            text = text_content_type(self.response_class)
        # PERF(plaintext): a str result for a plain text class is encoded into a prebuilt response.
        self._text_type = None if text is None else (b"content-type", text[0])
        self._text_charset = "utf-8" if text is None else text[1]
        self._max_body = max_body_size or runtime.max_body_size
        plans = [step.plan for step in self._steps]
        #: ``(query, headers, cookies)`` of a request: parsed only when a step reads them.
        self._read_sources = SourceReader(plans).read
        self._body_plans = tuple(p for p in plans if p.body)
        # Raises TypeError for a route whose functions read both a JSON body and a form.
        self._form_body = body_kind(plans) == "form"
        self._has_generators = any(p.kind in ("generator", "async_generator") for p in plans)
        self._wants_response = any(p.response_args for p in plans)
        self._wants_background = any(p.background_args for p in plans)
        self._wants_session = any(p.session_args for p in plans)
        # Decided here: only routes that accept unsafe methods check CSRF tokens, only routes that
        # declare the session (or hold the request, which can reach it) load or save one.
        self._csrf = runtime.csrf and not csrf_exempt and not _UNSAFE_METHODS.isdisjoint(methods)
        self._template_folders = template_folders
        self.form_limits = form_limits or runtime.form_limits
        #: A custom route class's handler (`lanner.routing.APIRoute`), wrapping `_run_for`.
        self._route_handler = None if route_handler is None else route_handler(self._run_for)
        self._needs_request = bool(
            self._route_handler is not None
            or self._body_plans
            or runtime.before
            or runtime.after
            or runtime.teardown
            or any(p.request_args for p in plans)
            or self._csrf
            or self._wants_session
        )
        self._sessions = runtime.sessions if (self._wants_session or self._needs_request) else None
        # A handler (or hook) holding the request may call `request.form()` itself: it gets the
        # limits set for the route or the app, when there are any.
        self._scoped_form_limits = self.form_limits if self._needs_request else None
        handler = plan.handler.plan
        self._handler = handler
        # PERF(json, params, post): one plain handler with no hooks, dependencies or lanner objects
        # takes `_serve_direct`, which skips the request object, the step loop and the extras.
        self._direct = (
            len(plan.steps) == 1
            and handler.kind in ("async", "sync")
            and not (
                runtime.before
                or runtime.after
                or runtime.teardown
                or handler.request_args
                or handler.response_args
                or handler.background_args
                or handler.session_args
                or handler.security_scopes_args
                or self._csrf
                or template_folders
                or self._form_body
                or self._route_handler is not None
            )
        )
        self._bare = self._direct and not handler.reads_request
        #: The coroutine function that serves this route, chosen once; the app's route table holds
        #: it rather than the endpoint, which saves a coroutine per request.
        self.serve: EndpointLike = self._serve_direct if self._direct else self._serve
        if runtime.pin_thread and not self._direct:
            self.serve = self._serve_pinned

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]) -> None:
        """Serve one request."""
        await self.serve(scope, receive, send, path_params)

    async def _serve_direct(
        self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]
    ) -> None:
        plan = self._handler
        try:
            kwargs: dict[str, Any] = {}
            if not self._bare:
                errors: list[dict[str, Any]] = []
                validate_sources(plan, path_params, *self._read_sources(scope), kwargs, errors)
                if plan.body is not None:
                    raw, content_type = await receive_body(scope, receive, self._max_body)
                    bind_body(plan.body, raw, content_type, kwargs, errors, self._strict_content_type)
                if errors:
                    raise RequestValidationError(errors)
            if plan.kind == "async":
                result = await plan.call(**kwargs)
            else:
                result = await run_in_threadpool(plan.call, **kwargs)
            reply = self._render(result, None)
        except ClientDisconnect:
            _log_disconnect(scope)
            return
        except Exception as exc:
            reply = await self._runtime.handlers.respond(Request(scope, receive, self._max_body), exc)
        if type(reply) is not FileResponse:
            await reply(scope, receive, send)
        else:
            await _send_response(self._runtime, reply, scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]) -> None:
        runtime = self._runtime
        request = Request(scope, receive, self._max_body) if self._needs_request else None
        stack = AsyncExitStack() if self._has_generators else None
        extras: list[Any] = [None, None]  # the Response parameter, the BackgroundTasks
        failure: BaseException | None = None
        response: Response | None = None
        if self._template_folders:
            scope["lanner.template_folders"] = self._template_folders
        if self._scoped_form_limits is not None:
            scope[FORM_LIMITS_SCOPE_KEY] = self._scoped_form_limits
        try:
            try:
                if self._csrf and scope["method"] in _UNSAFE_METHODS:
                    assert request is not None
                    await self._check_csrf(request)
                if runtime.before:
                    assert request is not None
                    response = await self._before(request)
                if response is None and self._route_handler is not None:
                    assert request is not None
                    scope[_ROUTE_CALL] = (path_params, stack, extras)
                    response = await self._route_handler(request)
                    if not isinstance(response, Response):
                        raise TypeError(f"the custom route handler returned {response!r}, not a Response")
                elif response is None:
                    result = await self._run(scope, receive, request, path_params, stack, extras)
                    response = self._render(result, extras[0])
            except ClientDisconnect as exc:
                # The client is gone: nobody to answer. The cleanups still run, below.
                failure = exc
                _log_disconnect(scope)
                return
            except Exception as exc:
                failure = exc
                if stack is not None:
                    # A yield dependency's `except` block may turn the error into another (an
                    # HTTPException): it runs before the answer is chosen (FastAPI since 0.106).
                    unwinding = stack
                    stack = None
                    exc = await unwind(unwinding, exc)
                if request is None:
                    request = Request(scope, receive, self._max_body)
                response = await runtime.handlers.respond(request, exc)
            assert response is not None
            if runtime.after:
                assert request is not None
                response = await self._after(request, response)
            if self._sessions is not None:
                response = await self._commit_session(scope, request, response)
            await _send_response(runtime, response, scope, receive, send)
        except BaseException as exc:
            # Cancellation (a timeout, a server shutdown) or a failure while sending: the
            # dependencies see it, then it propagates.
            if failure is None:
                failure = exc
            raise
        finally:
            if stack is not None:
                await cleanup(stack, failure)
            if runtime.teardown:
                assert request is not None
                await run_teardown(runtime.teardown, request, failure)
            succeeded = failure is None
            # The exception's traceback holds this frame, which holds the exception: without this
            # every failed request would leave a cycle (request, headers, response) to the GC.
            failure = None
            # A parsed form's uploads live until the response is sent (and the background tasks,
            # which may use them, have run); then their temporary files are removed.
            if FORM_SCOPE_KEY in scope and not (extras[1] and succeeded):
                await close_form(scope)
        if extras[1] and succeeded:
            try:
                await _run_background(extras[1], scope)
            finally:
                if FORM_SCOPE_KEY in scope:
                    await close_form(scope)

    async def _serve_pinned(
        self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]
    ) -> None:
        await request_threads.pinned(functools.partial(self._serve, scope, receive, send, path_params))

    async def _check_csrf(self, request: Request) -> None:
        """Refuse an unsafe request that carries the session cookie but not its CSRF token.

        Raises:
            HTTPException: 403 when the token is missing or wrong.
        """
        sessions = self._runtime.sessions
        assert sessions is not None
        scope = request.scope
        if not sessions.has_cookie(scope):
            return  # no ambient credential to abuse: bearer-token APIs are not affected
        session = await self._load_session(scope)
        token = request.headers.get("x-csrf-token")
        if token is None and is_form_type(request.headers.get("content-type")):
            form = await request.form(self.form_limits)
            value = form.get("csrf_token")
            token = value if isinstance(value, str) else None
        if not verify_csrf_token(session, token):
            raise HTTPException(403, "CSRF token missing or incorrect")

    async def _load_session(self, scope: Scope) -> Session:
        session: Session | None = scope.get("lanner.session")
        if session is None:
            sessions = self._runtime.sessions
            assert sessions is not None
            session = await sessions.load(scope)
            scope["lanner.session"] = session
        return session

    async def _commit_session(self, scope: Scope, request: Request | None, response: Response) -> Response:
        """Save the session if the request loaded and changed it; a failure is answered as one."""
        session: Session | None = scope.get("lanner.session")
        if session is None:
            return response
        sessions = self._runtime.sessions
        assert sessions is not None
        # The answer depended on the cookie: a shared cache must not hand it to another client
        # (CVE-2023-30861 in Flask).
        merge_vary(response.raw_headers, b"Cookie")
        try:
            await sessions.commit(session, scope, response)
        except Exception as exc:
            assert request is not None  # a route with sessions always builds its request
            return await self._runtime.handlers.respond(request, exc)
        return response

    async def _before(self, request: Request) -> Response | None:
        for hook, is_async in self._runtime.before:
            result = await hook(request) if is_async else await run_in_threadpool(hook, request)
            if result is not None:
                if not isinstance(result, Response):
                    raise TypeError(
                        f"before_request hook {hook!r} returned {result!r}, not a Response or None"
                    )
                return result
        return None

    async def _after(self, request: Request, response: Response) -> Response:
        for hook, is_async in self._runtime.after:
            try:
                if is_async:
                    result = await hook(request, response)
                else:
                    result = await run_in_threadpool(hook, request, response)
                if not isinstance(result, Response):
                    raise TypeError(f"after_request hook {hook!r} returned {result!r}, not a Response")
            except Exception as exc:
                return await self._runtime.handlers.respond(request, exc)
            response = result
        return response

    async def _run(
        self,
        scope: Scope,
        receive: Receive | None,
        request: Request | None,
        path_params: dict[str, Any],
        stack: AsyncExitStack | None,
        extras: list[Any],
    ) -> Any:
        errors: list[dict[str, Any]] = []
        sources = self._read_sources(scope)
        arguments: list[dict[str, Any]] = []
        for step in self._steps:
            kwargs: dict[str, Any] = {}
            validate_sources(step.plan, path_params, *sources, kwargs, errors)
            arguments.append(kwargs)
        if self._body_plans:
            assert request is not None
            await self._read_body(request, arguments, errors)
        if errors:
            # A parameter read by a dependency and by the handler fails once, not twice.
            unique = {(tuple(e["loc"]), e["type"]): e for e in errors}
            raise RequestValidationError(list(unique.values()))
        return await self._call_steps(scope, request, arguments, stack, extras)

    async def _read_body(
        self, request: Request, arguments: list[dict[str, Any]], errors: list[dict[str, Any]]
    ) -> None:
        if self._form_body:
            form = await request.form(self.form_limits)
            for index, step in enumerate(self._steps):
                body = step.plan.body
                if body is not None and body.form is not None:
                    await bind_form(body.form, form, arguments[index], errors)
            return
        raw = await request.body()
        content_type = request.headers.get("content-type")
        for index, step in enumerate(self._steps):
            if step.plan.body is not None:
                bind_body(
                    step.plan.body, raw, content_type, arguments[index], errors, self._strict_content_type
                )

    async def _call_steps(
        self,
        scope: Scope,
        request: Request | None,
        arguments: list[dict[str, Any]],
        stack: AsyncExitStack | None,
        extras: list[Any],
    ) -> Any:
        results: list[Any] = [None] * self._slots
        if self._app_steps:
            values = self._runtime.app_values
            if any(call not in values for _, call in self._app_steps):
                await self._runtime.start_app_steps(self.plan)
            for slot, call in self._app_steps:
                results[slot] = values[call]
        if self._wants_response:
            extras[0] = _blank_response()
        if self._wants_background:
            extras[1] = BackgroundTasks()
        session = await self._load_session(scope) if self._wants_session else None
        result = None
        for step, call, kwargs in zip(self._steps, self._calls, arguments, strict=True):
            plan = step.plan
            for name, slot in step.inputs:
                kwargs[name] = results[slot]
            for name in plan.request_args:
                kwargs[name] = request
            for name in plan.response_args:
                kwargs[name] = extras[0]
            for name in plan.background_args:
                kwargs[name] = extras[1]
            for name in plan.session_args:
                kwargs[name] = session
            if step.constants:
                kwargs.update(step.constants)
            # PERF(production): a plain async call skips `invoke`'s coroutine (~0.3 us a step).
            result = await call(**kwargs) if plan.kind == "async" else await invoke(plan, call, kwargs, stack)
            results[step.slot] = result
        return result

    def _render(self, result: Any, temporary: Response | None) -> Response:
        if isinstance(result, Response):
            response = result
        elif self._json:
            if self._no_body:
                response = Response(b"", self.status_code)
            else:
                try:
                    body = self.serializer.serialize(result)
                except ResponseValidationError as exc:
                    handler = self._handler.call
                    file, line = source_location(handler)
                    location = f"{file}:{line}"
                    exc.add_context(self.route, handler, location, result, self.serializer.annotation)
                    raise
                response = _prebuilt(JSONResponse, body, self.status_code, _JSON_TYPE)
        elif self._text_type is not None and type(result) is str:
            body = result.encode(self._text_charset)
            response = _prebuilt(self.response_class, body, self.status_code, self._text_type)
        else:
            try:
                response = self.response_class(result, status_code=self.status_code)
            except TypeError as exc:
                raise self._wrong_content(result, exc) from exc
        if temporary is not None:
            response = _merge(temporary, response, owned=response is not result)
        return response

    def _wrong_content(self, result: Any, cause: TypeError) -> TypeError:
        """Why a response class refused what the handler returned (a dict for HTMLResponse, say)."""
        handler = self._handler.call
        name = getattr(handler, "__qualname__", repr(handler))
        cls = self.response_class.__name__
        file, line = source_location(handler)
        return TypeError(
            f"{self.route}: {name}() ({file}:{line}) returned a {type(result).__name__}, but the route's "
            f"response_class={cls} sends str or bytes: return the text (templates.render(...) for a "
            f"page), or drop response_class= to send the value as JSON ({cause})"
        )

    async def _run_for(self, request: Request) -> Response:
        """Run the route for `request` (maybe the custom route class's own request object)."""
        path_params, stack, extras = request.scope[_ROUTE_CALL]
        result = await self._run(request.scope, request.receive, request, path_params, stack, extras)
        return self._render(result, extras[0])

    def _render_stream(self, result: Any, temporary: Response | None) -> Response:
        """`_render` for a handler that yields: JSON Lines by default, else its class's stream."""
        if isinstance(result, Response):
            response = result
        elif self._json:
            lines = _json_lines(result, self.serializer)
            response = StreamingResponse(lines, self.status_code, media_type=JSON_LINES)
        else:
            response = self.response_class(result, status_code=self.status_code)
        if temporary is not None:
            response = _merge(temporary, response, owned=response is not result)
        return response


_JSON_TYPE = (b"content-type", b"application/json")
#: Where a custom route class's request finds the call's per-request state.
_ROUTE_CALL = "lanner.route_call"
#: The media type of a streamed sequence of JSON values, one per line.
JSON_LINES = "application/jsonl"


def _json_lines(items: Any, serializer: ResponseSerializer) -> Any:
    """Each item as one line of JSON, through the route's item model when it declares one."""
    if hasattr(items, "__aiter__"):

        async def lines() -> AsyncIterator[bytes]:
            try:
                async for item in items:
                    yield serializer.serialize(item) + b"\n"
            finally:
                # Closed as soon as the client leaves: the handler's own finally runs now.
                await items.aclose()

        return lines()

    def sync_lines() -> Iterator[bytes]:
        try:
            for item in items:
                yield serializer.serialize(item) + b"\n"
        finally:
            items.close()

    return sync_lines()


async def _run_background(tasks: BackgroundTasks, scope: Scope) -> None:
    """Run the background tasks after the response; a failing one is logged, never raised."""
    try:
        await tasks()
    except Exception as exc:
        logger.error(
            "Exception in a background task of %s %s", scope["method"], loggable(scope["path"]), exc_info=exc
        )


def _log_disconnect(scope: Scope) -> None:
    logger.debug("Client disconnected during %s %s", scope["method"], loggable(scope["path"]))


async def _send_response(
    runtime: Runtime, response: Response, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send `response`; a `FileResponse` that fails before its first byte goes to the handlers.

    A missing file or a NUL in its path surfaces only when the response is sent, and then nothing
    has gone out yet, so the app's exception handlers can still answer.
    """
    if not isinstance(response, FileResponse):
        await response(scope, receive, send)
        return
    started = False

    async def watched(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        await response(scope, receive, watched)
    except Exception as exc:
        if started:
            raise
        reply = await runtime.handlers.respond(Request(scope, receive), exc)
        await reply(scope, receive, send)


def _prebuilt(
    response_class: type[Response], body: bytes, status_code: int, content_type: tuple[bytes, bytes]
) -> Response:
    """Build a response around a body lanner rendered itself, without `Response.__init__`."""
    # PERF(json, plaintext): skipping render() and the header checks for bytes and a header lanner
    # produced itself saves ~1 us per request; the object is a complete `response_class`.
    response = response_class.__new__(response_class)
    response.status_code = status_code
    response.background = None
    response.body = body
    response.raw_headers = [(b"content-length", str(len(body)).encode()), content_type]
    return response


def _blank_response() -> Response:
    """The `Response` a handler parameter receives: status 0 means "not set"."""
    # PERF(production): built as `_prebuilt` builds, not through __init__ and a clear (~0.7 us for
    # each route with a rate limit or another dependency taking the Response).
    response = Response.__new__(Response)
    response.status_code = 0
    response.background = None
    response.body = b""
    response.raw_headers = []
    return response


def _merge(temporary: Response, response: Response, owned: bool) -> Response:
    """Return `response` with what a handler or dependency set on its `Response` parameter.

    Each header replaces the response's lines of that name (the last of several lines of one name
    wins), except ``Set-Cookie``, whose lines are all added; names are lower-cased and names and
    values are checked as `MutableHeaders` checks them. A response the handler returned
    (`owned` False) may be one object it returns on every request: it is copied before it changes,
    so one request's headers (a rate limit's quota) never stay on it for the next.
    """
    if not temporary.status_code and not temporary.raw_headers:
        return response
    if not owned:
        response = copy.copy(response)
        response.raw_headers = list(response.raw_headers)
    if temporary.status_code:
        response.status_code = temporary.status_code
    raw = response.raw_headers
    headers = None
    for name, value in temporary.raw_headers:
        if name == b"set-cookie":
            raw.append((name, value))
            continue
        # PERF(production): a header the response lacks, under a name already checked once, whose
        # value holds no control character, is appended as it is: what `headers[name] = value`
        # would do, without decoding, re-checking and searching (rate limit in memory: ~2 us of
        # 2.5 saved for its two headers).
        if (
            type(name) is bytes
            and type(value) is bytes
            and name in _MERGED_NAMES
            and value.decode("latin-1").isprintable()
        ):
            for existing, _ in raw:
                if existing == name:
                    break
            else:
                raw.append((name, value))
                continue
        if headers is None:
            headers = response.headers
        headers[name.decode("latin-1")] = value.decode("latin-1")
        if type(name) is bytes and name == name.lower() and len(_MERGED_NAMES) < _MAX_MERGED_NAMES:
            _MERGED_NAMES.add(name)
    return response


#: Header names `_merge` has seen pass `MutableHeaders`' checks, already lower-case (bounded).
_MERGED_NAMES: set[bytes] = set()
_MAX_MERGED_NAMES = 256


_Prebuilt = tuple[int, list[tuple[bytes, bytes]], bytes]


class ErrorEndpoint(Endpoint):
    """Answer with an HTTP error (404, 405) through the app's hooks and exception handlers.

    Every request gets an `HTTPException` of its own, and without hooks it is handed to the
    handlers without being raised: re-raising one shared exception object grows its traceback by
    the request's frames each time, which kept every 404's frames alive for good. When the default
    handler answers, the problem document is rendered once, here.
    """

    def __init__(
        self,
        runtime: Runtime,
        status_code: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.error_status = status_code
        self._error_headers = headers

        async def fail() -> None:
            raise HTTPException(status_code, headers=headers)

        super().__init__(build_dependency_plan(fail), runtime)
        # The problem document and the HTML page, chosen per request by its Accept header.
        self._prebuilt: tuple[_Prebuilt, _Prebuilt] | None = None
        if not (runtime.before or runtime.after or runtime.teardown):
            error = HTTPException(status_code, headers=headers)
            if runtime.handlers.answers_by_default(error):
                problem, page = http_problem(error), http_problem(error, html_page=True)
                self._prebuilt = (
                    (problem.status_code, problem.raw_headers, problem.body),
                    (page.status_code, page.raw_headers, page.body),
                )
            self.serve = self._serve_error

    async def _serve_error(
        self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]
    ) -> None:
        prebuilt = self._prebuilt
        if prebuilt is None:
            error = HTTPException(self.error_status, headers=self._error_headers)
            reply = await self._runtime.handlers.respond(Request(scope, receive), error)
            await _send_response(self._runtime, reply, scope, receive, send)
            return
        status_code, headers, body = prebuilt[1] if accepts_html(scope) else prebuilt[0]
        # A copy of the header list: middleware may edit the message's list in place.
        await send({"type": "http.response.start", "status": status_code, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class RedirectEndpoint:
    """Answer with a permanent redirect to the same URL with or without its trailing slash."""

    def __init__(self, path: str) -> None:
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path_params: dict[str, Any]) -> None:
        """Send the 308 redirect, keeping the query string."""
        # The path is decoded: encode it again, or "/a%3Fb/" would lead to "/a?b".
        location = quote_path(scope.get("root_path", "") + self._path)
        if scope.get("query_string"):
            location += "?" + quote_query(scope["query_string"])
        await RedirectResponse(location, status_code=308)(scope, receive, send)


__all__ = ["Endpoint", "EndpointLike", "ErrorEndpoint", "RedirectEndpoint", "Runtime", "Step"]
