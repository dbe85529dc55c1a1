"""The routes that serve the OpenAPI document and the offline docs pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lanner.exceptions import HTTPException
from lanner.openapi import docs
from lanner.requests import Request
from lanner.responses import FileResponse, HTMLResponse, JSONResponse
from lanner.routing import Router, RouterDefaults


def add_docs_routes(
    router: Router,
    *,
    title: str,
    openapi_url: str | None,
    docs_url: str | None,
    redoc_url: str | None,
    document: Callable[[], dict[str, Any]],
    swagger_ui_parameters: Mapping[str, Any] | None = None,
    swagger_ui_oauth2_redirect_url: str | None = None,
    swagger_ui_init_oauth: Mapping[str, Any] | None = None,
    root_path_in_servers: bool = True,
    asyncapi_url: str | None = None,
    asyncapi_document: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Register ``openapi_url``, ``docs_url`` (Swagger UI), ``redoc_url`` and their assets.

    Every asset the pages load is served by the app from an installed package, so the pages work
    with no internet access. Each URL set to None is left out; without ``openapi_url`` no page is
    served. With the Swagger UI page comes its OAuth2 redirect page at
    ``swagger_ui_oauth2_redirect_url`` (unless None).

    `document` is looked up again for every request when it is a bound method (``app.openapi``),
    so an app whose ``openapi`` attribute is replaced later (FastAPI's way of customising the
    document) serves the replacement.

    ``asyncapi_url`` serves `asyncapi_document` (``app.asyncapi``, looked up the same way), the
    AsyncAPI document of the WebSocket routes. It is a docs page too: without ``openapi_url``
    it is not served either, so an app that hides its OpenAPI document hides this one.

    Behind a proxy (a ``root_path``), the served document names it as its server when it declares
    none; with FastAPI's conventions it comes first whatever the app declares, as in FastAPI.
    ``root_path_in_servers=False`` never adds it. The AsyncAPI document, whose servers need a
    host, then names the request's host with that path, unless it declares servers.
    """
    # An empty URL turns a page off too (FastAPI's ``openapi_url=""`` from an unset setting).
    if not openapi_url:
        return
    # The pages are the app's own, not routes of the API: the dependencies and route defaults
    # the app gives its routes (a token check, a route class) do not apply to them, as in FastAPI.
    saved = router.dependencies, router.defaults
    router.dependencies, router.defaults = (), RouterDefaults()
    try:
        _register(
            router,
            title=title,
            openapi_url=openapi_url,
            docs_url=docs_url or None,
            redoc_url=redoc_url or None,
            document=document,
            swagger_ui_parameters=swagger_ui_parameters,
            swagger_ui_oauth2_redirect_url=swagger_ui_oauth2_redirect_url or None,
            swagger_ui_init_oauth=swagger_ui_init_oauth,
            root_path_in_servers=root_path_in_servers,
        )
        if asyncapi_url and asyncapi_document is not None:
            _register_asyncapi(router, asyncapi_url, asyncapi_document, root_path_in_servers)
    finally:
        router.dependencies, router.defaults = saved


def _register(
    router: Router,
    *,
    title: str,
    openapi_url: str,
    docs_url: str | None,
    redoc_url: str | None,
    document: Callable[[], dict[str, Any]],
    swagger_ui_parameters: Mapping[str, Any] | None,
    swagger_ui_oauth2_redirect_url: str | None,
    swagger_ui_init_oauth: Mapping[str, Any] | None,
    root_path_in_servers: bool,
) -> None:
    current_document = _late_bound(document)
    parameters = dict(swagger_ui_parameters or {})
    init_oauth = dict(swagger_ui_init_oauth) if swagger_ui_init_oauth else None

    @router.get(openapi_url, include_in_schema=False, name="openapi")
    async def openapi_document(request: Request) -> JSONResponse:
        root_path = request.scope.get("root_path", "").rstrip("/")
        doc = current_document()
        if root_path and root_path_in_servers:
            servers = doc.get("servers")
            if not servers:
                doc = {**doc, "servers": [{"url": root_path}]}
            elif getattr(router, "openapi_compat", "lanner") == "fastapi" and root_path not in {
                server.get("url") for server in servers
            }:
                # FastAPI puts the proxy's prefix first, before the servers the app declares.
                doc = {**doc, "servers": [{"url": root_path}, *servers]}
        return JSONResponse(doc)

    for page_url in (docs_url, redoc_url):
        if page_url is None:
            continue
        assets = f"{page_url}/assets"

        @router.get(f"{assets}/{{name}}", include_in_schema=False, name=f"assets:{page_url}")
        async def asset(name: str) -> FileResponse:
            path = docs.asset_path(name)
            if path is None:
                raise HTTPException(404, f"No docs asset {name!r}")
            return FileResponse(path, headers={"cache-control": "public, max-age=86400"})

    if docs_url is not None:
        redirect_url = swagger_ui_oauth2_redirect_url

        @router.get(docs_url, include_in_schema=False, name="swagger_ui")
        async def swagger_ui(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            return HTMLResponse(
                docs.swagger_ui_html(
                    title=f"{title} - Swagger UI",
                    openapi_url=root + openapi_url,
                    assets_url=root + docs_url + "/assets",
                    oauth2_redirect_url=root + redirect_url if redirect_url else None,
                    parameters=parameters,
                    init_oauth=init_oauth,
                )
            )

        if redirect_url:

            @router.get(redirect_url, include_in_schema=False, name="swagger_ui_oauth2_redirect")
            async def swagger_ui_oauth2_redirect() -> HTMLResponse:
                # The page must not be cached with someone's code or token in its URL.
                return HTMLResponse(docs.oauth2_redirect_html(), headers={"cache-control": "no-store"})

    if redoc_url is not None:

        @router.get(redoc_url, include_in_schema=False, name="redoc")
        async def redoc(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            return HTMLResponse(
                docs.redoc_html(
                    title=f"{title} - ReDoc",
                    openapi_url=root + openapi_url,
                    assets_url=root + redoc_url + "/assets",
                )
            )


def _register_asyncapi(
    router: Router, url: str, document: Callable[[], dict[str, Any]], root_path_in_servers: bool
) -> None:
    current_document = _late_bound(document)

    @router.get(url, include_in_schema=False, name="asyncapi")
    async def asyncapi_document(request: Request) -> JSONResponse:
        doc = current_document()
        root_path = request.scope.get("root_path", "").rstrip("/")
        if root_path and root_path_in_servers and not doc.get("servers"):
            # Behind a proxy the channels' addresses start with its prefix; an AsyncAPI server
            # needs a host, so the one the client reached stands in.
            url = request.url
            protocol = "wss" if url.scheme in ("https", "wss") else "ws"
            server = {"host": url.netloc, "pathname": root_path, "protocol": protocol}
            doc = {**doc, "servers": {"default": server}}
        return JSONResponse(doc)


def _late_bound(document: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """`document`, looked up on its object at each call when it is a bound method.

    ``app.openapi = custom_openapi`` then takes effect even though the routes were registered with
    the original method.
    """
    owner = getattr(document, "__self__", None)
    name = getattr(document, "__name__", None)
    if owner is None or not isinstance(name, str) or getattr(owner, name, None) != document:
        return document

    def current() -> dict[str, Any]:
        found: Callable[[], dict[str, Any]] = getattr(owner, name)
        return found()

    return current
