"""Routers whose routes are documented, never served: webhooks and callbacks.

A webhook is keyed by a name (``new-subscription``) and a callback by a runtime expression
(``{$callback_url}/invoices/{$request.body.id}``), neither of which is a path a `Router` accepts.
These routers take any such key as the route's path, as FastAPI's ``APIRouter`` does for
``app.webhooks`` and for ``callbacks=router.routes``::

    webhooks = WebhookRouter()

    @webhooks.post("new-subscription")
    def new_subscription(body: Subscription) -> None:
        \"\"\"Sent when a user subscribes.\"\"\"

    app = Lanner(webhooks=webhooks)

    callbacks = CallbackRouter()

    @callbacks.post("{$callback_url}/invoices/{$request.body.id}")
    def invoice_notification(body: InvoiceEvent) -> InvoiceEventReceived: ...

    @app.post("/invoices", callbacks=callbacks.routes)
    def create_invoice(invoice: Invoice) -> dict[str, str]: ...

Their routes cannot be included in a served router: they describe requests the API sends.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from lanner.exceptions import RouteConflictError
from lanner.routing import HTTP_METHODS, CompiledPath, Handler, Route, RouteOptions, Router

# {name} and {name:convertor} are parameters; {$...} is a runtime expression, not one.
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_][A-Za-z0-9_]*)?}")


def documented_path(path: str) -> CompiledPath:
    """A `CompiledPath` for a key that is never matched against requests (a webhook or callback)."""
    names = tuple(dict.fromkeys(m.group(1) for m in _PARAM.finditer(path)))
    return CompiledPath(path, (), names, {})


def add_documented_route(
    router: Router,
    path: str,
    handler: Handler,
    methods: Iterable[str] = ("GET",),
    kind: str = "route",
    **options: Any,
) -> Route:
    """Add to `router` a route whose path is a key only documented (a webhook's, a callback's).

    The route gets the router's prefix, tags, dependencies and defaults as `Router.add_route`
    gives them, but its path is kept as written (``new-subscription``,
    ``{$callback_url}/invoices/{$request.body.id}``) and never compiled for matching: such a route
    cannot be served (including it in a served router fails).

    Raises:
        RouteConflictError: the key is already documented for one of the methods.
        ValueError: `path` is empty, or `methods` is empty or names an unknown method.
        TypeError: an unknown option was given.
    """
    if not path and not router.prefix:
        raise ValueError(f"a {kind} needs a name")
    methods = frozenset(m.upper() for m in methods)
    if not methods:
        raise ValueError(f"{kind} {path!r} needs at least one HTTP method")
    if unknown := methods - set(HTTP_METHODS):
        raise ValueError(f"unsupported HTTP method(s) {sorted(unknown)}")
    if "dependencies" in options:
        options["dependencies"] = tuple(options["dependencies"] or ())
    if "tags" in options:
        tags = options["tags"]
        if isinstance(tags, str):
            raise TypeError(f"tags must be a list of strings, not the string {tags!r}")
        options["tags"] = tuple(tags or ())
    if options.get("responses") is None:
        options.pop("responses", None)
    own = RouteOptions(**options)
    route_name = own.name or getattr(handler, "__name__", "route")
    merged = dataclasses.replace(
        router.defaults.apply(own),
        tags=tuple(dict.fromkeys((*router.tags, *own.tags))),
        dependencies=(*router.dependencies, *own.dependencies),
        name=f"{router.name}.{route_name}" if router.name else own.name,
    )
    full = router.prefix + path
    for other in router.routes:
        if other.path == full and other.methods & methods:
            method = sorted(other.methods & methods)[0]
            raise RouteConflictError(f"{method} {full} is documented twice")
    route = Route(full, handler, methods, merged, documented_path(full))
    router.routes.append(route)
    router._routes_changed()  # the hook `Router` subclasses use to drop what they cached
    return route


class _DocumentedRouter(Router):
    """A `Router` whose route paths are free-form keys, only documented."""

    _kind = "route"

    def add_route(
        self, path: str, handler: Handler, methods: Iterable[str] = ("GET",), **options: Any
    ) -> Route:
        """Register `handler` under the key `path` for `methods` (see `add_documented_route`).

        Raises:
            RouteConflictError: the key is already documented for one of the methods.
            ValueError: `path` is empty, or `methods` is empty or names an unknown method.
            TypeError: an unknown option was given.
        """
        return add_documented_route(self, path, handler, methods, self._kind, **options)


class WebhookRouter(_DocumentedRouter):
    """The webhooks an API sends (``app.webhooks``): documented under ``webhooks``, never served.

    The key given to ``post()`` names the webhook in the document (``"new-subscription"``); it
    needs no leading slash.
    """

    _kind = "webhook"


class CallbackRouter(_DocumentedRouter):
    """Requests an operation sends back to its client (``callbacks=router.routes``), never served.

    The key given to ``post()`` is the callback's runtime expression
    (``"{$callback_url}/invoices/{$request.body.id}"``).
    """

    _kind = "callback"
