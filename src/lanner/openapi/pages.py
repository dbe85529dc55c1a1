"""The routes that serve the OpenAPI document and the offline docs pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lanner.exceptions import HTTPException
from lanner.openapi import docs
from lanner.requests import Request
from lanner.responses import FileResponse, HTMLResponse, JSONResponse
from lanner.routing import Router


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
) -> None:
    """Register ``openapi_url``, ``docs_url`` (Swagger UI), ``redoc_url`` and their assets.

    Every asset the pages load is served by the app from an installed package, so the pages work
    with no internet access. Each URL set to None is left out; without ``openapi_url`` no page is
    served.
    """
    if openapi_url is None:
        return

    @router.get(openapi_url, include_in_schema=False, name="openapi")
    async def openapi_document(request: Request) -> JSONResponse:
        root_path = request.scope.get("root_path", "")
        doc = document()
        if root_path and "servers" not in doc:
            doc = {**doc, "servers": [{"url": root_path}]}
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

        @router.get(docs_url, include_in_schema=False, name="swagger_ui")
        async def swagger_ui(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "")
            return HTMLResponse(
                docs.swagger_ui_html(
                    title=f"{title} - Swagger UI",
                    openapi_url=root + openapi_url,
                    assets_url=root + docs_url + "/assets",
                )
            )

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
