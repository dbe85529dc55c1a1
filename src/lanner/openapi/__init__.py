"""OpenAPI support: the contract of a lanner application and the checks made on it.

FastAPI's helpers live here under their FastAPI names (`get_openapi`, `get_swagger_ui_html`,
`get_redoc_html`, `get_swagger_ui_oauth2_redirect_html`), with the routers that hold webhooks and
callbacks (`WebhookRouter`, `CallbackRouter`). They are imported on first use, so importing this
package (as ``lanner openapi diff`` does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .docs import (
        SWAGGER_UI_DEFAULT_PARAMETERS,
        get_redoc_html,
        get_swagger_ui_html,
        get_swagger_ui_oauth2_redirect_html,
        swagger_ui_default_parameters,
    )
    from .naming import RouteView, generate_unique_id
    from .routers import CallbackRouter, WebhookRouter
    from .utils import compile_route, get_openapi

_EXPORTS = {
    "get_openapi": ".utils",
    "compile_route": ".utils",
    "get_swagger_ui_html": ".docs",
    "get_redoc_html": ".docs",
    "get_swagger_ui_oauth2_redirect_html": ".docs",
    "swagger_ui_default_parameters": ".docs",
    "SWAGGER_UI_DEFAULT_PARAMETERS": ".docs",
    "generate_unique_id": ".naming",
    "RouteView": ".naming",
    "WebhookRouter": ".routers",
    "CallbackRouter": ".routers",
}

__all__ = [
    "SWAGGER_UI_DEFAULT_PARAMETERS",
    "CallbackRouter",
    "RouteView",
    "WebhookRouter",
    "compile_route",
    "generate_unique_id",
    "get_openapi",
    "get_redoc_html",
    "get_swagger_ui_html",
    "get_swagger_ui_oauth2_redirect_html",
    "swagger_ui_default_parameters",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
