"""Middleware and operations endpoints of `lanner.Lanner`: ``add_middleware``, health, readiness, metrics.

A mixin of `Lanner`, kept apart so that the app module stays about routing and serving.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from lanner.middleware import FunctionMiddleware
from lanner.middleware._stack import Middleware, check_options, order_middleware
from lanner.middleware.request_id import RequestIDMiddleware
from lanner.observability.access_log import AccessLogMiddleware
from lanner.observability.health import ReadinessCheck, health_handler, readiness_handler
from lanner.observability.metrics import MetricsMiddleware, PrometheusMetrics
from lanner.observability.tracing import TracingMiddleware

if TYPE_CHECKING:
    from lanner.observability.health import Lifecycle
    from lanner.types import ASGIApp

F = TypeVar("F", bound=Callable[..., Any])


class OperationsMixin:
    """The middleware and probe methods of `lanner.Lanner` (a mixin: `Lanner` holds the state)."""

    if TYPE_CHECKING:
        access_log: str | None
        tracing: Any
        lifecycle: Lifecycle
        _metrics: Any
        _middleware: list[Middleware]

        def _routes_changed(self) -> None: ...

        def add_route(
            self, path: str, handler: Callable[..., Any], methods: Any = ..., **options: Any
        ) -> Any: ...

    def middleware(self, kind: str) -> Callable[[F], F]:
        """Decorate ``async def dispatch(request, call_next) -> Response`` as HTTP middleware.

        ``call_next(request)`` runs the rest of the app and returns its response as soon as its
        headers are ready; the body streams through unbuffered. See
        `lanner.middleware.FunctionMiddleware`.

        Raises:
            ValueError: `kind` is not ``"http"``.
        """
        if kind != "http":
            raise ValueError(f'app.middleware() supports "http" only, not {kind!r}')

        def decorator(func: F) -> F:
            self.add_middleware(FunctionMiddleware, dispatch=func)
            return func

        return decorator

    def add_middleware(self, middleware: Callable[..., ASGIApp], **options: Any) -> None:
        """Wrap the app in pure ASGI middleware: ``middleware(app, **options)``.

        lanner's own middleware take a fixed place whatever the order they are added in (its
        ``layer``, smallest outermost): the error boundary, then proxy headers, timeouts, request
        id, tracing, metrics, access log, trusted hosts, HTTPS redirect, security headers, CORS,
        your middleware, and compression innermost. Among your own, the last added is the
        outermost. A route bypasses a middleware class it lists in ``skip_middleware``.

        Raises:
            ValueError, TypeError: the options of one of lanner's middleware are refused (CORS
                allowing every origin with credentials, a malformed host pattern...): checked
                here, not on the first request.
        """
        check_options(middleware, options)
        self._middleware.append((middleware, options))
        self._routes_changed()

    def _middleware_stack(self) -> list[Middleware]:
        """Every middleware of the app, outermost first."""
        return order_middleware([*self._middleware, *self._builtin_middleware()])

    def _builtin_middleware(self) -> list[Middleware]:
        """The middleware the app's own options ask for (access log, metrics, tracing)."""
        stack: list[Middleware] = []
        if self.access_log is not None:
            stack.append((AccessLogMiddleware, {"format": self.access_log}))
            if not any(middleware is RequestIDMiddleware for middleware, _ in self._middleware):
                stack.append((RequestIDMiddleware, {}))  # every line carries a request id
        if self._metrics is not None:
            stack.append((MetricsMiddleware, {"metrics": self._metrics}))
        if self.tracing is not None and self.tracing is not False:
            provider = None if self.tracing is True else self.tracing
            stack.append((TracingMiddleware, {"tracer_provider": provider}))
        return stack

    def health(self, path: str = "/healthz") -> None:
        """Serve a liveness probe at `path`: ``200 {"status": "ok"}`` while the process answers."""
        self.add_route(path, health_handler(), ("GET",), include_in_schema=False, name="health")

    def ready(
        self, path: str = "/readyz", checks: Sequence[ReadinessCheck] = (), *, timeout: float = 5.0
    ) -> None:
        """Serve a readiness probe at `path`.

        It answers 503 while the app starts up or shuts down, and otherwise 200 when every check
        passes (each an async callable taking nothing, failing by raising or returning False;
        run concurrently, each within `timeout` seconds), 503 when one fails. The JSON body
        names each check's outcome.
        """
        handler = readiness_handler(lambda: self.lifecycle, checks, timeout)
        self.add_route(path, handler, ("GET",), include_in_schema=False, name="ready")

    def metrics(self, path: str = "/metrics", **options: Any) -> None:
        """Record Prometheus metrics of every request and serve them at `path`.

        Request counts and latency histograms by method, route template and status class,
        requests in flight and unhandled exceptions; with ``PROMETHEUS_MULTIPROC_DIR`` set, the
        worker processes' metrics are summed. `options` go to
        `lanner.observability.PrometheusMetrics`. Needs ``pip install 'lanner[metrics]'``.

        Raises:
            RuntimeError: metrics are already on.
        """
        if self._metrics is not None:
            raise RuntimeError("metrics are already served; call app.metrics() once")
        self._metrics = PrometheusMetrics(**options)
        self.add_route(path, self._metrics.handler(), ("GET",), include_in_schema=False, name="metrics")
