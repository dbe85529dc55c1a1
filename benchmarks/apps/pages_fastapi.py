"""The server-rendered benchmark app written with FastAPI, as its documentation teaches.

``Jinja2Templates`` renders the shared templates, a mounted ``StaticFiles`` serves the shared static
folder, and the forms are read with ``Form()`` parameters and an ``UploadFile`` parameter.
"""

from typing import Annotated, Any

from fastapi import FastAPI, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from benchmarks.apps.pages import (
    LOGIN_ANSWER,
    PAGE_TEMPLATE,
    READ_CHUNK,
    STATIC_DIR,
    TEMPLATES_DIR,
    check_password,
    page_context,
)


def create_app() -> FastAPI:
    """Build the FastAPI pages app: ``/page``, ``/login``, ``/upload`` and ``/static``.

    Returns:
        The FastAPI application.
    """
    app = FastAPI()
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/page", response_class=HTMLResponse)
    async def page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, PAGE_TEMPLATE, page_context())

    @app.post("/login")
    async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, Any]:
        if not check_password(username, password):
            raise HTTPException(401, "wrong username or password")
        return LOGIN_ANSWER

    @app.post("/upload")
    async def upload(file: UploadFile) -> dict[str, Any]:
        size = 0
        while chunk := await file.read(READ_CHUNK):
            size += len(chunk)
        return {"filename": file.filename, "size": size}

    return app
