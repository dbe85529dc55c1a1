"""What an app gives every template, whichever `Templates` renders it (Flask's app-level helpers).

``@app.context_processor``, ``@app.template_filter()``, ``@app.template_global()`` and
``@app.template_test()`` register here; a `lanner.templating.Templates` reads the registry of the
app serving the request, so a project with one ``Templates`` per module (as ``lanner migrate``
writes it) shares them all, as a Flask app's templates do.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def taking_request(processor: Callable[..., Any]) -> Callable[[Any], Any]:
    """`processor` called as ``processor(request)``, whether it takes the request or, as Flask's, nothing.

    Raises:
        TypeError: `processor` is a coroutine function (rendering is synchronous).
    """
    if inspect.iscoroutinefunction(processor):
        raise TypeError(f"context processor {processor.__qualname__} must be a plain function")
    if inspect.signature(processor).parameters:
        return processor
    return lambda request: processor()


class TemplateRegistry:
    """Context processors, filters, globals and tests of one app, with a version that changes on each."""

    __slots__ = ("filters", "globals", "processors", "tests", "version")

    def __init__(self) -> None:
        self.processors: list[Callable[[Any], dict[str, Any]]] = []
        self.filters: dict[str, Callable[..., Any]] = {}
        self.globals: dict[str, Any] = {}
        self.tests: dict[str, Callable[..., Any]] = {}
        #: Bumped by each registration, so a Jinja environment knows when to copy them again.
        self.version = 0

    def add_processor(self, processor: F) -> F:
        """Add ``processor(request) -> dict`` (or Flask's ``processor() -> dict``).

        Raises:
            TypeError: `processor` is a coroutine function (rendering is synchronous).
        """
        self.processors.append(taking_request(processor))
        return processor

    def decorator(self, kind: str, name: str | Callable[..., Any] | None) -> Any:
        """``@app.template_filter``, with or without ``()`` and with an optional name."""
        table: dict[str, Any] = getattr(self, kind)

        def register(function: F) -> F:
            table[name if isinstance(name, str) else function.__name__] = function
            self.version += 1
            return function

        if callable(name):  # used bare: @app.template_filter
            return register(name)
        return register

    def install(self, env: Any) -> None:
        """Copy the filters, globals and tests into a Jinja environment (they win over its own)."""
        env.filters.update(self.filters)
        env.globals.update(self.globals)
        env.tests.update(self.tests)


__all__ = ["TemplateRegistry", "taking_request"]
