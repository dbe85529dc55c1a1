"""Mistakes in routes, found when they are registered and named with the file and line to fix.

``@app.get(...)`` compiles the route's plan at once: a parameter lanner cannot read, a
``Depends(get_db())``, a marker class where a marker belongs or a response model pydantic cannot
serialise raises `RouteDefinitionError` right there, naming the route, the function, the
parameter, the file and line of the function, and a fix. ``lanner check TARGET`` (`check_app`)
collects every such error of an app instead of stopping at the first, then builds the OpenAPI
document, so CI can list them all at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pydantic import PydanticUndefinedAnnotation

from lanner._plan_checks import PlanError

if TYPE_CHECKING:
    from lanner.routing import Route

#: The problems found while `collecting` (registration records them instead of raising).
_collected: contextvars.ContextVar[list[RouteDefinitionError] | None] = contextvars.ContextVar(
    "lanner.checks.collected", default=None
)


class RouteDefinitionError(TypeError):
    """A route lanner cannot serve, named with where to fix it.

    Attributes:
        route: ``"GET /items/{id}"``.
        function: the handler, or the dependency whose signature is wrong.
        parameter: the parameter at fault (None for the return annotation or the whole function).
        file, line: where `function` is defined (``"?"`` and 0 when Python cannot tell).
        problem: what is wrong.
        fix: what to write instead ("" when there is no single fix).
    """

    def __init__(self, route: str, function: Callable[..., Any], cause: BaseException) -> None:
        self.route = route
        self.function = function
        self.parameter = cause.parameter if isinstance(cause, PlanError) else None
        self.problem = cause.problem if isinstance(cause, PlanError) else _strip_owner(str(cause), function)
        self.fix = cause.fix if isinstance(cause, PlanError) else ""
        self.file, self.line = source_location(function)
        name = getattr(function, "__qualname__", repr(function))
        where = f", parameter {self.parameter!r}" if self.parameter else ""
        if isinstance(cause, PlanError) and cause.parameter is None:
            where = ", return annotation"
        message = f"{self.file}:{self.line}: {route}: {name}(){where}: {self.problem}"
        if self.fix:
            message += f"\n    fix: {self.fix}"
        super().__init__(message)
        self.__cause__ = cause


def _strip_owner(message: str, function: Callable[..., Any]) -> str:
    """A planner message without the ``qualname:`` it starts with (the error names it already)."""
    owner = getattr(function, "__qualname__", "")
    prefix = f"{owner}: "
    return message[len(prefix) :] if owner and message.startswith(prefix) else message


def source_location(function: Callable[..., Any]) -> tuple[str, int]:
    """The file (its absolute path, as tracebacks show it) and the line defining `function`."""
    target: Any = function
    while isinstance(target, functools.partial):
        target = target.func
    target = inspect.unwrap(target)
    code = getattr(target, "__code__", None)
    if code is None and isinstance(target, type):
        try:  # only on an error: reading the source is slow but exact (a dataclass's __init__ is not)
            return inspect.getsourcefile(target) or "?", inspect.getsourcelines(target)[1]
        except (OSError, TypeError):
            return "?", 0
    if code is None:
        code = getattr(type(target).__dict__.get("__call__"), "__code__", None)  # a callable object
    if code is None:
        return "?", 0
    return os.path.abspath(code.co_filename), int(code.co_firstlineno)


def route_label(route: Route) -> str:
    """``"GET /items/{id}"``: how an error names a route."""
    methods = ",".join(sorted(route.methods - {"HEAD"}) or sorted(route.methods))
    return f"{methods} {route.path}"


def check_route(
    route: Route, overrides: Any = None, *, defer_unresolved: bool = True
) -> tuple[RouteDefinitionError | None, Any]:
    """Compile `route` on its own: what is wrong with it (or None), and the prepared plan to reuse.

    With `defer_unresolved`, a type hint naming a class defined later in the module is not an error
    yet: it is resolved when the app starts (and `check_app` reports it if it still cannot be).
    """
    from lanner._compile import compile_route, prepare_route

    try:
        prepared = prepare_route(route, overrides)
        compile_route(route, None, overrides, prepared=prepared)  # the endpoint's own checks
    except PlanError as exc:
        return RouteDefinitionError(route_label(route), exc.call, exc), None
    except Exception as exc:
        unresolved = isinstance(exc, PydanticUndefinedAnnotation) or isinstance(exc.__cause__, NameError)
        if defer_unresolved and unresolved:
            return None, None
        return RouteDefinitionError(route_label(route), route.handler, exc), None
    return None, prepared


def report(error: RouteDefinitionError) -> None:
    """Raise `error`, or record it while `collecting`.

    Raises:
        RouteDefinitionError: always, unless collecting.
    """
    collected = _collected.get()
    if collected is None:
        raise error
    collected.append(error)


@contextlib.contextmanager
def collecting() -> Iterator[list[RouteDefinitionError]]:
    """Record route errors in the yielded list instead of raising them (``lanner check``)."""
    found: list[RouteDefinitionError] = []
    token = _collected.set(found)
    try:
        yield found
    finally:
        _collected.reset(token)


def check_app(app: Any, found: list[RouteDefinitionError] | None = None) -> list[str]:
    """Every problem of `app`: `found` at registration, then each route compiled, then OpenAPI.

    Returns:
        One message per problem (file and line first); empty when the app is sound.
    """
    problems = [str(error) for error in (found or [])]
    overrides = getattr(app, "dependency_overrides", None)
    for route in list(getattr(app, "routes", [])):
        if not hasattr(route, "compiled"):
            continue
        error, _ = check_route(route, overrides, defer_unresolved=False)
        if error is not None and str(error) not in problems:
            problems.append(str(error))
    if problems:
        return problems
    try:
        app.openapi()
    except Exception as exc:
        problems.append(f"the OpenAPI document cannot be built: {type(exc).__name__}: {exc}")
    return problems


__all__ = ["RouteDefinitionError", "check_app", "check_route", "collecting", "report", "source_location"]
