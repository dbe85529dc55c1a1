"""Bookshelf: a small but complete lanner app, with server-rendered pages and a JSON API side by side.

Run it from the repository's root (``pip install -e '.[demo]'`` first)::

    lanner run examples.bookshelf.app        # or: lanner dev examples.bookshelf.app

then open http://127.0.0.1:8000/ and log in as ``demo`` / ``demo``; the API is documented at
/docs. The first start creates ``examples/bookshelf/data/`` with a SQLite database and a few
books; ``settings.py`` lists the environment variables (``DATABASE_URL``, ``BOOKSHELF_DATA``...).

What it shows: Jinja2 templates with a layout, static files, sessions with a login and flash
messages, CSRF-protected forms with validation messages and a file upload, an async SQLAlchemy
engine owned by the lifespan with a session per request, and a typed API that documents itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from lanner import Lanner, Request
from lanner.responses import RedirectResponse, Response

from . import api, pages
from .auth import LoginRequired, login_url
from .db import open_database
from .settings import Settings

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings | None = None) -> Lanner:
    """Build the app; `settings` default to the environment's (`Settings.from_env`)."""
    settings = settings or Settings.from_env()

    running: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[dict[str, Any]]:
        settings.covers_dir.mkdir(parents=True, exist_ok=True)
        async with open_database(settings.database_url) as db:
            running["db"] = db
            # What every request sees as request.state.db / request.state.settings.
            yield {"db": db, "settings": settings}
            del running["db"]

    async def database() -> None:
        """Readiness: the database answers a query."""
        async with running["db"]() as session:
            await session.execute(text("SELECT 1"))

    app = Lanner(
        title="Bookshelf",
        version="1.0.0",
        description="The lanner demo app: pages for people, a JSON API for programs.",
        secret_key=settings.secret_key,
        csrf=True,
        lifespan=lifespan,
        # Prometheus metrics by route template; deploy/nginx.conf keeps /metrics off the internet.
        metrics_url="/metrics",
    )
    # Probes for a load balancer or Kubernetes (deploy/k8s/): alive, and ready for traffic.
    app.health("/healthz")
    app.ready("/readyz", checks=[database])
    app.static("/static", HERE / "static")
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(request.url_for("login_form"), exc.next_url), 303)

    return app


app = create_app()
