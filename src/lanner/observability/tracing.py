"""OpenTelemetry spans: one server span per HTTP request, and child spans around calls.

`TracingMiddleware` opens a ``SpanKind.SERVER`` span for each HTTP request, continuing the trace
of an incoming ``traceparent`` (through the globally configured propagator), named after the route
template (``GET /items/{id}``) and carrying the stable HTTP semantic-convention attributes.
`traced_call` wraps a handler or a dependency so each call runs in a child span. Only
``opentelemetry-api`` is needed (``lanner[tracing]``); without an SDK configured the API's no-op
tracer makes all of this nearly free.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar

from lanner.errors import SERVER_EXCEPTION_KEY
from lanner.middleware.timeout import TIMED_OUT_STATUS
from lanner.signature import CallKind, call_kind
from lanner.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

if TYPE_CHECKING:  # opentelemetry-api is optional: its names are only needed for type checks.
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.trace import Span, Tracer, TracerProvider


_TRACER_NAME = "lanner"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
# Signed-URL credentials: the semantic conventions ask for their values to be redacted.
_SENSITIVE_QUERY = frozenset({"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _import_api() -> Any:
    try:
        import opentelemetry.context
        import opentelemetry.propagate
        import opentelemetry.trace
    except ImportError as exc:
        raise ImportError("lanner's tracing needs opentelemetry-api: pip install 'lanner[tracing]'") from exc
    return opentelemetry


def get_tracer(tracer_provider: TracerProvider | None = None) -> Tracer:
    """The tracer lanner opens its spans with: from `tracer_provider`, or from the global provider when None.

    Raises:
        ImportError: opentelemetry-api is not installed.
    """
    api = _import_api()
    tracer: Tracer = api.trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)
    return tracer


def _header_getter() -> Getter[dict[str, list[str]]]:
    from opentelemetry.propagators.textmap import Getter

    class PropagationHeaders(Getter[dict[str, list[str]]]):
        """Reads a propagation field from the request's propagation headers (lowercase names)."""

        def get(self, carrier: dict[str, list[str]], key: str) -> list[str] | None:
            return carrier.get(key.lower())

        def keys(self, carrier: dict[str, list[str]]) -> list[str]:
            return list(carrier)

    return PropagationHeaders()


def _exception_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _host_and_port(host: str, scheme: str) -> tuple[str, int | None]:
    """Split a Host header into ``server.address`` and ``server.port``."""
    address, colon, port = host.rpartition(":")
    if not colon or address.endswith(":") or ("[" in host and not address.endswith("]")):
        # No port ("example.com", or a bare "[::1]").
        address, port = host, ""
    address = address.strip("[]")
    if port.isdigit():
        return address, int(port)
    return address, _DEFAULT_PORTS.get(scheme)


class TracingMiddleware:
    """Pure ASGI middleware opening an OpenTelemetry server span for each HTTP request.

    The span is named ``"{method} {route template}"`` (just the method when no route matched,
    "HTTP" for a non-standard method) and ends when the last body message was sent. It carries
    ``http.request.method``, ``url.path``, ``url.scheme``, ``url.query`` (when there is one;
    signed URLs' credentials redacted), ``http.route``, ``http.response.status_code``,
    ``server.address``/``server.port`` (from the Host header), ``client.address``,
    ``network.protocol.version`` and ``user_agent.original``.
    A 5xx answer sets ``error.type`` and the ERROR status, and so does an exception (the app's own
    500 answer to one, or one leaving the app, which is recorded on the span and re-raised). The
    span is current while the app runs, so spans the app opens are its children. Other scope
    types pass through.

    Args:
        app: the ASGI application to wrap.
        tracer_provider: where spans go; the global provider (a no-op one unless an SDK was
            configured) when None.

    Raises:
        ImportError: opentelemetry-api is not installed.
    """

    layer: ClassVar[int] = 40

    def __init__(self, app: ASGIApp, tracer_provider: TracerProvider | None = None) -> None:
        api = _import_api()
        self.app = app
        self.tracer = get_tracer(tracer_provider)
        self._api = api
        self._provider = tracer_provider
        self._noop_providers = (api.trace.ProxyTracerProvider, api.trace.NoOpTracerProvider)
        self._server = api.trace.SpanKind.SERVER
        self._getter = _header_getter()
        self._textmap: object = None
        self._fields: frozenset[bytes] = frozenset()

    def _propagation_fields(self) -> frozenset[bytes]:
        """The header names the global propagator reads, as ASGI spells them."""
        textmap = self._api.propagate.get_global_textmap()
        if textmap is not self._textmap:
            self._fields = frozenset(field.lower().encode("latin-1") for field in textmap.fields)
            self._textmap = textmap
        return self._fields

    def _tracing_off(self) -> bool:
        """Whether spans go nowhere: no SDK configured (or a no-op provider given)."""
        provider = self._provider if self._provider is not None else self._api.trace.get_tracer_provider()
        return isinstance(provider, self._noop_providers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request inside its span.

        Raises:
            Exception: whatever the app raises, after recording it on the span.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = self._api
        headers: RawHeaders = scope["headers"]
        # PERF(middleware overhead, no-op tracing): one pass over the headers for the fields the
        # propagator reads, instead of one per field; with none there and no SDK, a span would be
        # a no-op and the current context stays as it is, so the request passes straight through.
        fields = self._propagation_fields()
        carrier: dict[str, list[str]] | None = None
        for name, value in headers:
            if name in fields:
                if carrier is None:
                    carrier = {}
                carrier.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
        if carrier is None:
            if self._tracing_off():
                await self.app(scope, receive, send)
                return
            parent = api.context.get_current()
        else:
            parent = api.propagate.extract(carrier, getter=self._getter)
        method = scope["method"]
        known = method in _METHODS
        scheme = scope.get("scheme", "http")
        attributes: dict[str, Any] = {
            "http.request.method": method if known else "_OTHER",
            "url.path": scope["path"],
            "url.scheme": scheme,
        }
        query = scope.get("query_string")
        if query:
            attributes["url.query"] = _redact_query(query.decode("latin-1"))
        route = getattr(scope.get("route"), "path", None)
        if route is not None:
            attributes["http.route"] = route
        span: Span = self.tracer.start_span(
            _span_name(method if known else "HTTP", route),
            context=parent,
            kind=self._server,
            attributes=attributes,
        )
        if span.is_recording():
            _describe_connection(span, scope, headers, scheme, None if known else method)
        token = api.context.attach(api.trace.set_span_in_context(span, parent))
        earlier = scope.get(SERVER_EXCEPTION_KEY)
        status = 0
        ended = False

        async def watched(message: Message) -> None:
            nonlocal status, ended
            await send(message)
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not ended and not message.get("more_body", False):
                ended = True
                self._finish(span, scope, status, route, earlier, None)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if not ended:
                ended = True
                self._finish(span, scope, status, route, earlier, exc)
            raise
        finally:
            if not ended:
                self._finish(span, scope, status, route, earlier, None)
            api.context.detach(token)

    def _finish(
        self,
        span: Span,
        scope: Scope,
        status: int,
        route: str | None,
        earlier: object,
        raised: Exception | None,
    ) -> None:
        if span.is_recording():
            if not status:
                # A timeout answered for the app (408, 504), outside this span's layer.
                status = scope.get(TIMED_OUT_STATUS, 0)
            if route is None:
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    method = scope["method"]
                    span.update_name(_span_name(method if method in _METHODS else "HTTP", route))
                    span.set_attribute("http.route", route)
            if status:
                span.set_attribute("http.response.status_code", status)
            failure: BaseException | None = raised
            if failure is None:
                answered = scope.get(SERVER_EXCEPTION_KEY)
                if isinstance(answered, BaseException) and answered is not earlier:
                    failure = answered
            status_code = self._api.trace.StatusCode
            if failure is not None:
                span.record_exception(failure)
                span.set_attribute("error.type", _exception_type(failure))
                span.set_status(status_code.ERROR, f"{type(failure).__name__}: {failure}")
            elif status >= 500 or not status:
                span.set_attribute("error.type", str(status) if status else "_OTHER")
                span.set_status(status_code.ERROR)
        span.end()


def _redact_query(query: str) -> str:
    """Hide the values of the query parameters the semantic conventions call sensitive."""
    if not any(name in query for name in _SENSITIVE_QUERY):
        return query
    fields = []
    for field in query.split("&"):
        name, equals, _ = field.partition("=")
        fields.append(f"{name}=REDACTED" if equals and name in _SENSITIVE_QUERY else field)
    return "&".join(fields)


def _span_name(method: str, route: str | None) -> str:
    return method if route is None else f"{method} {route}"


def _describe_connection(
    span: Span, scope: Scope, headers: RawHeaders, scheme: str, original_method: str | None
) -> None:
    """Set the attributes samplers do not need, only on spans that are recorded."""
    host = user_agent = None
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1")
        elif name == b"user-agent":
            user_agent = value.decode("latin-1")
    if host:
        address, port = _host_and_port(host, scheme)
        span.set_attribute("server.address", address)
        if port is not None:
            span.set_attribute("server.port", port)
    elif scope.get("server"):
        server_host, server_port = scope["server"][0], scope["server"][1]
        span.set_attribute("server.address", server_host)
        if server_port is not None:
            span.set_attribute("server.port", server_port)
    client = scope.get("client")
    if client:
        span.set_attribute("client.address", client[0])
    span.set_attribute("network.protocol.version", scope.get("http_version", "1.1"))
    if user_agent is not None:
        span.set_attribute("user_agent.original", user_agent)
    if original_method is not None:
        span.set_attribute("http.request.method_original", original_method)


def traced_call(
    tracer: Tracer, name: str, func: Callable[..., Any], kind: CallKind | None = None
) -> Callable[..., Any]:
    """Wrap `func` so that each call runs in a child span called `name`.

    The wrapper is of the same kind as `func`: a sync or async function, or a (sync or async)
    generator function. A generator's code before its first ``yield`` runs in a span called
    `name`, the code after it (the cleanup) in a span called ``"{name} cleanup"``; both are
    children of the span current when the generator started. An exception raised in a span is
    recorded on it, with the ERROR status, and propagates.

    Args:
        tracer: the tracer opening the spans (`get_tracer`).
        name: the span's name, such as ``"handler read_item"`` or ``"dependency get_db"``.
        func: the callable to wrap.
        kind: how `func` is called (a `CallPlan`'s ``kind``); `lanner.signature.call_kind` when None.

    Returns:
        The wrapper, with `func`'s name, docstring and signature (``functools.wraps``).
    """
    kind = kind or call_kind(func)
    if kind == "async":

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            with tracer.start_as_current_span(name):
                return await func(*args, **kwargs)

        return functools.wraps(func)(call_async)
    if kind == "generator":

        def call_generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            return (yield from _traced_steps(tracer, name, func(*args, **kwargs)))

        return functools.wraps(func)(call_generator)
    if kind == "async_generator":

        async def call_async_generator(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            # Not `async for`: what is sent or thrown into the wrapper must reach `func`'s generator.
            from opentelemetry import context

            generator = func(*args, **kwargs)
            parent = context.get_current()
            step: Callable[[Any], Any] = generator.asend
            argument: Any = None
            label = name
            while True:
                with tracer.start_as_current_span(label, context=parent):
                    try:
                        value = await step(argument)
                    except StopAsyncIteration:
                        return
                label = f"{name} cleanup"
                try:
                    argument = yield value
                    step = generator.asend
                except GeneratorExit:
                    await generator.aclose()
                    raise
                except BaseException as exc:
                    step, argument = generator.athrow, exc

        return functools.wraps(func)(call_async_generator)

    def call(*args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(name):
            return func(*args, **kwargs)

    return functools.wraps(func)(call)


def _traced_steps(tracer: Tracer, name: str, generator: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Drive `generator`, each step (up to a ``yield``) in a span of its own."""
    from opentelemetry import context

    # Each step may run in another thread or task: parent them all explicitly.
    parent = context.get_current()
    step: Callable[[Any], Any] = generator.send
    argument: Any = None
    label = name
    while True:
        with tracer.start_as_current_span(label, context=parent):
            try:
                value = step(argument)
            except StopIteration as stop:
                return stop.value
        label = f"{name} cleanup"
        try:
            argument = yield value
            step = generator.send
        except GeneratorExit:
            generator.close()
            raise
        except BaseException as exc:
            step, argument = generator.throw, exc
