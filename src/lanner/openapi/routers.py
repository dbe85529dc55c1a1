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

import re

from lanner.exceptions import RouteConflictError
from lanner.routing import CompiledPath, Route, Router

# {name} and {name:convertor} are parameters; {$...} is a runtime expression, not one.
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_][A-Za-z0-9_]*)?}")


def documented_path(path: str) -> CompiledPath:
    """A `CompiledPath` for a key that is never matched against requests (a webhook or callback)."""
    names = tuple(dict.fromkeys(m.group(1) for m in _PARAM.finditer(path)))
    return CompiledPath(path, (), names, {})


class _DocumentedRouter(Router):
    """A `Router` whose route paths are free-form keys, only documented.

    Its routes get the router's prefix, tags, dependencies and defaults as any router's do, but
    their paths are kept as written (``new-subscription``,
    ``{$callback_url}/invoices/{$request.body.id}``) and never compiled for matching: such a route
    cannot be served (including it in a served router fails).
    """

    def _check_path(self, path: str) -> None:
        if not path and not self.prefix:
            raise ValueError(f"a {self._kind} needs a name")

    def _compile(self, path: str) -> CompiledPath:
        return documented_path(path)

    def _check(self, route: Route) -> None:
        for other in self.routes:
            if other.path == route.path and other.methods & route.methods:
                method = sorted(other.methods & route.methods)[0]
                raise RouteConflictError(f"{method} {route.path} is documented twice")


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
