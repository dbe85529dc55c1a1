"""The apps of the WSGI bridge benchmark (``python -m benchmarks.wsgi``).

Both directions of `lanner.wsgi`, each built around an app the server benchmark already serves,
so that the two sides of every comparison run the same code:

- `create_mount_app`: a lanner app in the middle of a migration. The Flask app of the server
  benchmark (`benchmarks.apps.flask_app`, unchanged) is mounted at the root with
  ``app.mount_wsgi("/", flask_app)``, with its default thread pool, and one route has already
  moved to lanner. ``GET /json`` is not a lanner route, so the router misses, the root mount
  answers, and the Flask app serves it in its thread pool: the path an old route takes.
- `create_prefix_mount_app`: the same Flask app under ``/legacy`` (``GET /legacy/json``), where
  it sees ``SCRIPT_NAME=/legacy``.
- `create_wsgi`: the lanner app of the server benchmark (`benchmarks.apps.lanner_app`, the
  same routes as the Flask app, 1,000 numbered ones included) as a WSGI callable, ``app.wsgi``
  (`lanner.wsgi.to_wsgi`), for gunicorn: ``gunicorn 'benchmarks.apps.wsgi_lanner:create_wsgi()'``.

The floors, which do no work of their own, tell the bridges' and the servers' costs apart:
`raw_wsgi` answers both scenarios by hand (`create_raw_wsgi` for gunicorn), and the same callable
goes through ``mount_wsgi`` (`create_raw_mount_app`) and through a2wsgi's ``WSGIMiddleware`` alone
(`create_raw_a2wsgi_app`), which ``WSGIMount`` wraps.

Servers start the ASGI ones with ``uvicorn --factory benchmarks.apps.wsgi_lanner:create_mount_app``.
"""

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from benchmarks.apps import PLAINTEXT_BODY, ASGIApp, flask_app, lanner_app
from lanner import Lanner
from lanner.wsgi import WSGIAdapter

StartResponse = Callable[..., Any]

MOVED_PATH = "/moved"
"""The one route the mount apps serve themselves: what has moved to lanner already."""

MOVED_BODY = {"served_by": "lanner"}
"""Its answer."""

PREFIX = "/legacy"
"""Where `create_prefix_mount_app` mounts the Flask app."""


def _with_moved_route(app: Lanner) -> Lanner:
    @app.get(MOVED_PATH)
    async def moved() -> dict[str, Any]:
        return MOVED_BODY

    return app


def create_mount_app() -> Lanner:
    """Build a lanner app serving one route itself and the server benchmark's Flask app at the root.

    Returns:
        The lanner app; ``GET /json`` reaches the Flask app through ``app.mount_wsgi("/", ...)``.
    """
    app = _with_moved_route(Lanner())
    app.mount_wsgi("/", flask_app.create_app())
    return app


def create_prefix_mount_app() -> Lanner:
    """Build the same app with the Flask app mounted under `PREFIX` instead of the root.

    Returns:
        The lanner app; ``GET /legacy/json`` reaches the Flask app's ``/json``.
    """
    app = _with_moved_route(Lanner())
    app.mount_wsgi(PREFIX, flask_app.create_app())
    return app


def create_wsgi() -> WSGIAdapter:
    """Build the server benchmark's lanner app and return it as a WSGI callable (``app.wsgi``).

    Returns:
        The WSGI callable; its lifespan starts on the first request each worker serves.
    """
    return lanner_app.create_app().wsgi


_RAW_ANSWERS = {
    "/json": (b'{"message":"hello"}', "application/json"),
    "/plaintext": (PLAINTEXT_BODY.encode(), "text/plain; charset=utf-8"),
}


def raw_wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer ``GET /json`` and ``GET /plaintext`` as the benchmark apps do, with no framework.

    Args:
        environ: The WSGI environ.
        start_response: The WSGI ``start_response``.

    Returns:
        The body in one chunk (a 404 with no body for any other path).
    """
    answer = _RAW_ANSWERS.get(environ.get("PATH_INFO", ""))
    if answer is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    body, media_type = answer
    start_response("200 OK", [("Content-Type", media_type), ("Content-Length", str(len(body)))])
    return [body]


def create_raw_wsgi() -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """Return `raw_wsgi`, for ``gunicorn 'benchmarks.apps.wsgi_lanner:create_raw_wsgi()'``."""
    return raw_wsgi


def create_raw_mount_app() -> Lanner:
    """Build a lanner app serving `raw_wsgi` through ``app.mount_wsgi("/", ...)``, as `create_mount_app`.

    Returns:
        The lanner app.
    """
    app = _with_moved_route(Lanner())
    app.mount_wsgi("/", raw_wsgi)
    return app


def create_raw_a2wsgi_app() -> ASGIApp:
    """Wrap `raw_wsgi` in a2wsgi's ``WSGIMiddleware`` alone, with its defaults (what WSGIMount builds on).

    Returns:
        The ASGI app.

    Raises:
        ImportError: If a2wsgi is not installed (``pip install 'lanner[wsgi]'``).
    """
    middleware: ASGIApp = importlib.import_module("a2wsgi").WSGIMiddleware(raw_wsgi)
    return middleware
