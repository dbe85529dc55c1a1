"""The server-rendered benchmark app written the way the Flask documentation teaches (WSGI).

``render_template`` renders the shared templates, Flask's own static route serves the shared static
folder (with ``ETag`` and conditional answers), and the views read ``request.form`` and
``request.files``. It is served by gunicorn, with sync and with gthread workers.
"""

from typing import Any

from flask import Flask, render_template, request

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

_Answer = dict[str, Any] | tuple[dict[str, Any], int]


def _page() -> str:
    return render_template(PAGE_TEMPLATE, **page_context())


def _login() -> _Answer:
    username, password = request.form.get("username"), request.form.get("password")
    if username is None or password is None:
        return {"detail": "username and password are required"}, 422
    if not check_password(username, password):
        return {"detail": "wrong username or password"}, 401
    return LOGIN_ANSWER


def _upload() -> _Answer:
    file = request.files.get(UPLOAD_FIELD)
    if file is None:
        return {"detail": "a file is required"}, 422
    size = 0
    while chunk := file.stream.read(READ_CHUNK):
        size += len(chunk)
    return {"filename": file.filename, "size": size}


def create_app() -> Flask:
    """Build the Flask pages app: ``/page``, ``/login``, ``/upload`` and ``/static``.

    Returns:
        The Flask application.
    """
    app = Flask(__name__, static_folder=STATIC_DIR, static_url_path="/static", template_folder=TEMPLATES_DIR)
    app.add_url_rule("/page", view_func=_page)
    app.add_url_rule("/login", view_func=_login, methods=["POST"])
    app.add_url_rule("/upload", view_func=_upload, methods=["POST"])
    return app
