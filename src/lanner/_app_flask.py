"""Flask's app conveniences on `lanner.Lanner`: teardown hooks, app context, template helpers, WSGI, CLI.

A mixin of `Lanner`, kept apart so that the app module stays about routing and serving. Each
method has the name and behaviour a Flask project expects (``@app.teardown_request``,
``app.app_context()``, ``@app.context_processor``, ``app.open_resource()``, ``app.cli``...).
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lanner._paths import compile_path
from lanner.appcontext import AppContext, command_group
from lanner.wsgi import WSGIAdapter, WSGIApp, WSGIMount, to_wsgi

if TYPE_CHECKING:
    from lanner._template_registry import TemplateRegistry
    from lanner.types import ASGIApp

F = TypeVar("F", bound=Callable[..., Any])


class FlaskConveniences:
    """The Flask-style methods of `lanner.Lanner` (a mixin: `Lanner` holds the state they use)."""

    if TYPE_CHECKING:
        title: str
        app_folder: str
        template_registry: TemplateRegistry
        _teardown: list[Callable[..., Any]]
        _url_aliases: dict[str, str]
        _cli: Any

        def _routes_changed(self) -> None: ...

        def mount(self, prefix: str, app: ASGIApp, name: str | None = None) -> None: ...

    def teardown_request(self, hook: F) -> F:
        """Decorate ``hook(request, error)``, run after every response (the last registered first).

        `error` is the exception the request failed with (None when it succeeded or ended with
        an HTTP error); close here what a request opened on ``request.state``. Hooks also run when
        an ``app.app_context()`` block ends. A hook that raises is logged; the others still run.
        """
        self._teardown.append(hook)
        self._routes_changed()
        return hook

    def context_processor(self, processor: F) -> F:
        """Decorate ``processor() -> dict`` (or ``processor(request)``): every template sees its values.

        Flask's ``@app.context_processor``; it applies to every `Templates` rendering for this app.
        Values passed to ``render`` win.
        """
        return self.template_registry.add_processor(processor)

    def template_filter(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorate a Jinja filter for every template of this app (``@app.template_filter("ago")``)."""
        return self.template_registry.decorator("filters", name)

    def template_global(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorate a function every template of this app can call (``@app.template_global()``)."""
        return self.template_registry.decorator("globals", name)

    def template_test(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorate a Jinja test for every template of this app (``{% if n is prime %}``)."""
        return self.template_registry.decorator("tests", name)

    def add_template_filter(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Register `function` as a filter of every template of this app (``template_filter``)."""
        self.template_registry.decorator("filters", name)(function)

    def add_template_global(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Register `function` as a global of every template of this app (``template_global``)."""
        self.template_registry.decorator("globals", name)(function)

    def add_template_test(self, function: Callable[..., Any], name: str | None = None) -> None:
        """Register `function` as a test of every template of this app (``template_test``)."""
        self.template_registry.decorator("tests", name)(function)

    @property
    def teardown_hooks(self) -> tuple[Callable[..., Any], ...]:
        """The hooks registered with `teardown_request`, in registration order."""
        return tuple(self._teardown)

    def app_context(self) -> AppContext:
        """A stand-in for a request, for code that runs outside one (CLI commands, scripts, tests).

        ``with app.app_context() as context: init_db(context)``: the context has ``app`` and a
        fresh ``state``, and the teardown hooks run when the block ends.
        """
        return AppContext(self)

    def open_resource(self, resource: str, mode: str = "rb", encoding: str | None = None) -> typing.IO[Any]:
        """Open `resource`, a path relative to `app_folder` (Flask's ``app.open_resource``).

        Raises:
            ValueError: `mode` is not a read mode.
        """
        if mode not in ("r", "rt", "rb"):
            raise ValueError(f"open_resource reads files: mode {mode!r} is not 'r' or 'rb'")
        path = os.path.join(self.app_folder, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding or "utf-8")

    def add_url_alias(self, name: str, path: str) -> None:
        """Make ``url_for(name, **params)`` build `path` (a template such as ``/`` or ``/{id:int}``).

        For a name that serves no handler of its own: Flask's ``add_url_rule("/", endpoint="index")``
        next to a blueprint's ``index`` view. A route of the same name wins.
        """
        compile_path(path)  # a bad template fails here, not in url_for
        self._url_aliases[name] = path

    def mount_wsgi(self, prefix: str, app: WSGIApp, *, threads: int = 10, name: str | None = None) -> None:
        """Serve a WSGI application (a Flask app) under `prefix`, ``"/"`` included.

        It sees ``SCRIPT_NAME`` set to the prefix, so its own ``url_for`` builds links under it;
        bodies stream both ways; its cookies, sessions and error pages stay its own. It runs in a
        pool of `threads` threads of its own, so it cannot starve lanner's sync handlers. As with
        `mount`, a lanner route registered for the request's method and path wins: mounted at
        ``"/"``, the WSGI app answers whatever lanner does not serve yet. Needs
        ``pip install 'lanner[wsgi]'``.
        """
        self.mount(prefix, WSGIMount(app, threads=threads), name)

    @property
    def wsgi(self) -> WSGIAdapter:
        """This app as a WSGI callable, for WSGI servers (`lanner.wsgi.to_wsgi`).

        gunicorn's loader takes a name or a call, not ``app.wsgi``: name it in your module
        (``application = app.wsgi``, then ``gunicorn -w 4 'myapp:application'``), or use
        ``lanner run myapp:app --server gunicorn --wsgi``. The lifespan runs once per worker
        process; WebSocket routes cannot work under WSGI and answer 501 saying so.
        """
        return to_wsgi(typing.cast("ASGIApp", self))

    @property
    def cli(self) -> Any:
        """A ``click.Group`` for the project's commands, as Flask has one.

        ``@app.cli.command("init-db")`` registers a command, run as
        ``lanner --app TARGET init-db`` and listed by ``lanner --app TARGET --help``.
        """
        if self._cli is None:
            self._cli = command_group(self, f"Commands of {self.title}.")
        return self._cli
