"""`get_openapi`: build a document from routes outside the app, as FastAPI's function of that name.

Used to customise the document an app serves::

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title="Custom title", version="2.5.0", routes=app.routes)
        schema["info"]["x-logo"] = {"url": "https://example.com/logo.png"}
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lanner._compile import compile_route, is_model_annotation, stream_item_type
from lanner.endpoint import Endpoint
from lanner.routing import Route

from .generator import OpenAPIInfo, build_openapi

__all__ = ["compile_route", "get_openapi", "is_model_annotation", "stream_item_type"]

RouteLike = Route | tuple[Route, Endpoint]


def _pairs(routes: Iterable[Any]) -> list[tuple[Route, Endpoint]]:
    pairs = []
    for item in routes:
        if isinstance(item, tuple):
            route, endpoint = item
            pairs.append((route, endpoint))
        elif isinstance(item, Route) and item.options.include_in_schema:  # hidden ones need not compile
            pairs.append((item, compile_route(item)))
        # Anything else (a mount, a static folder) has no operation, as in FastAPI.
    return pairs


def get_openapi(
    *,
    title: str,
    version: str,
    openapi_version: str = "3.1.0",
    summary: str | None = None,
    description: str | None = None,
    routes: Sequence[Any],
    webhooks: Sequence[Any] | None = None,
    tags: Sequence[Mapping[str, Any]] | None = None,
    servers: Sequence[Mapping[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: Mapping[str, Any] | None = None,
    license_info: Mapping[str, Any] | None = None,
    separate_input_output_schemas: bool = True,
    external_docs: Mapping[str, Any] | None = None,
    compat: typing.Literal["lanner", "fastapi"] = "fastapi",
) -> dict[str, Any]:
    """Return the OpenAPI document of `routes`, as FastAPI's ``get_openapi`` does.

    Args:
        title: the API's name (``info.title``).
        version: the API's version (``info.version``).
        openapi_version: the ``openapi`` field.
        summary: ``info.summary``.
        description: ``info.description``.
        routes: the routes to document: `Route` objects (``app.routes``), compiled here without
            the app's dependency overrides, or ``(route, endpoint)`` pairs (``app.iter_routes()``).
            Routes with ``include_in_schema=False`` are left out.
        webhooks: the webhook routes (``app.webhooks.routes``), in the same forms.
        tags: the tags' descriptions and order.
        servers: the ``servers`` list.
        terms_of_service: ``info.termsOfService``.
        contact: ``info.contact``.
        license_info: ``info.license``.
        separate_input_output_schemas: see `lanner.Lanner`.
        external_docs: the ``externalDocs`` object.
        compat: the naming conventions: ``"fastapi"`` (the default here, since this is FastAPI's
            function: operation ids such as ``read_items_items__get``) or ``"lanner"`` (those
            ``app.openapi()`` uses unless the app sets ``openapi_compat="fastapi"``).

    Raises:
        TypeError: a route's ``responses`` entry is not a mapping.
        ValueError: two different security schemes have the same name.
    """
    info = OpenAPIInfo(
        title=title,
        version=version,
        description=description or "",
        summary=summary,
        terms_of_service=terms_of_service,
        contact=contact,
        license_info=license_info,
        servers=tuple(servers or ()),
        tags=tuple(tags or ()),
        openapi_version=openapi_version,
        external_docs=external_docs,
    )
    return build_openapi(
        info,
        _pairs(routes),
        webhooks=_pairs(webhooks or ()),
        compat=compat,
        compile_route=compile_route,
        separate_input_output_schemas=separate_input_output_schemas,
    )
