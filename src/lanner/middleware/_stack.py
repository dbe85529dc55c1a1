"""The app's middleware stack: the fixed order of lanner's layers, and routes that skip one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lanner.types import ASGIApp, Receive, Scope, Send

__all__ = ["USER_LAYER", "Middleware", "build_stack", "check_options", "order_middleware"]

#: A middleware class (or factory) and its options, as ``app.add_middleware`` takes them.
Middleware = tuple[Callable[..., ASGIApp], dict[str, Any]]

#: The layer of middleware that declares none (yours): inside CORS, outside compression.
USER_LAYER = 500


class _SkippingRoute(Protocol):
    """What `build_stack` reads of a route: its options' ``skip_middleware``."""

    @property
    def options(self) -> Any: ...


def order_middleware(added: Sequence[Middleware]) -> list[Middleware]:
    """`added`, outermost first.

    Sorted by ``layer`` (lanner's own middleware declare one); among equal layers the last added
    is the outermost.
    """
    order = sorted(range(len(added)), key=lambda i: (getattr(added[i][0], "layer", USER_LAYER), -i))
    return [added[i] for i in order]


def check_options(middleware: Callable[..., ASGIApp], options: dict[str, Any]) -> None:
    """Build one of lanner's own middleware once, so bad options fail where they are written.

    Raises:
        ValueError, TypeError: what the middleware's constructor raises for its options.
    """
    if getattr(middleware, "__module__", "").startswith("lanner.middleware."):
        middleware(_no_app, **options)  # ours build cheaply and have no side effects worth undoing


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The inner app of a middleware built only to check its options."""
    raise AssertionError("never called")


def build_stack(app: ASGIApp, stack: Sequence[Middleware], routes: Sequence[_SkippingRoute]) -> ASGIApp:
    """Build `stack` (outermost first) around `app`.

    A middleware class some route names in ``skip_middleware`` is wrapped so those routes go
    straight to the layer inside it; the others pay nothing.
    """
    skipped = {cls for route in routes for cls in route.options.skip_middleware}
    for middleware, options in reversed(stack):
        layer = middleware(app, **options)
        if middleware in skipped:
            layer = _Skippable(layer, app, middleware)
        app = layer
    return app


class _Skippable:
    """A middleware layer that routes listing its class in ``skip_middleware`` bypass."""

    def __init__(self, layer: ASGIApp, inner: ASGIApp, middleware: Callable[..., ASGIApp]) -> None:
        self._layer = layer
        self._inner = inner
        self._middleware = middleware

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get("route")
        if route is not None and self._middleware in route.options.skip_middleware:
            await self._inner(scope, receive, send)
        else:
            await self._layer(scope, receive, send)
