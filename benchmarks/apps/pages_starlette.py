"""The server-rendered benchmark app written with Starlette, as its documentation teaches.

``Jinja2Templates`` renders the shared templates, a ``StaticFiles`` mount serves the shared static
folder, and the handlers read forms with ``await request.form()`` (python-multipart underneath).
"""

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from benchmarks.apps.pages import (
    LOGIN_ANSWER,
    PAGE_TEMPLATE,
    READ_CHUNK,
    STATIC_DIR,
    TEMPLATES_DIR,
    UPLOAD_FIELD,
    check_password,
    page_context,
)

_templates = Jinja2Templates(directory=TEMPLATES_DIR)


async def _page(request: Request) -> Response:
    return _templates.TemplateResponse(request, PAGE_TEMPLATE, page_context())


async def _login(request: Request) -> Response:
    async with request.form() as form:
        username, password = form.get("username"), form.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return JSONResponse({"detail": "username and password are required"}, status_code=422)
        if not check_password(username, password):
            return JSONResponse({"detail": "wrong username or password"}, status_code=401)
    return JSONResponse(LOGIN_ANSWER)


async def _upload(request: Request) -> Response:
    async with request.form() as form:
        file = form.get(UPLOAD_FIELD)
        if not isinstance(file, UploadFile):
            return JSONResponse({"detail": "a file is required"}, status_code=422)
        size = 0
        while chunk := await file.read(READ_CHUNK):
            size += len(chunk)
        return JSONResponse({"filename": file.filename, "size": size})


def create_app() -> Starlette:
    """Build the Starlette pages app: ``/page``, ``/login``, ``/upload`` and ``/static``.

    Returns:
        The Starlette application.
    """
    return Starlette(
        routes=[
            Route("/page", _page),
            Route("/login", _login, methods=["POST"]),
            Route("/upload", _upload, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]
    )
