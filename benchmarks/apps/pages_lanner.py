"""The server-rendered benchmark app written with lanner, as its documentation teaches.

``Templates`` renders the shared templates, ``app.static`` serves the shared static folder, and the
forms are read with ``Form()`` parameters and an ``UploadFile`` parameter. The upload route raises
its form size limit (``form_limits=``) so that the 100 MiB memory scenario fits.
"""

from typing import Annotated, Any

from benchmarks.apps.pages import (
    LOGIN_ANSWER,
    PAGE_TEMPLATE,
    READ_CHUNK,
    STATIC_DIR,
    TEMPLATES_DIR,
    UPLOAD_MAX_SIZE,
    check_password,
    page_context,
)
from lanner import Form, FormLimits, HTTPException, Lanner, Request, UploadFile
from lanner.responses import HTMLResponse
from lanner.templating import Templates


def create_app() -> Lanner:
    """Build the lanner pages app: ``/page``, ``/login``, ``/upload`` and ``/static``.

    Returns:
        The lanner application.
    """
    app = Lanner()
    templates = Templates(TEMPLATES_DIR)
    app.static("/static", STATIC_DIR)

    @app.get("/page")
    async def page(request: Request) -> HTMLResponse:
        return templates.render(request, PAGE_TEMPLATE, page_context())

    @app.post("/login")
    async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> dict[str, Any]:
        if not check_password(username, password):
            raise HTTPException(401, "wrong username or password")
        return LOGIN_ANSWER

    @app.post("/upload", form_limits=FormLimits(max_size=UPLOAD_MAX_SIZE))
    async def upload(file: UploadFile) -> dict[str, Any]:
        size = 0
        while chunk := await file.read(READ_CHUNK):
            size += len(chunk)
        return {"filename": file.filename, "size": size}

    return app
