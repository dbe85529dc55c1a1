"""Route registration: `Route`, its options, and `Router` (Flask's blueprint, FastAPI's APIRouter).

Path templates and the lookup table the app builds from the routes live in `lanner._paths`.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from lanner._paths import CompiledPath, NoMatchFound, RouteTable, compile_path
from lanner.exceptions import RouteConflictError
from lanner.params import MISSING, Depends

__all__ = [
    "HTTP_METHODS",
    "WEBSOCKET",
    "APIRoute",
    "CompiledPath",
    "NoMatchFound",
    "Route",
    "RouteOptions",
    "RouteTable",
    "Router",
    "RouterDefaults",
    "StaticFolder",
    "caller_relative",
    "compile_path",
]

T = TypeVar("T")
Handler = Callable[..., Any]
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclasses.dataclass(frozen=True)
class RouteOptions:
    """Per-route settings, merged from the app, routers and decorator once, at registration."""

    status_code: int | None = None
    response_model: Any = MISSING
    response_model_exclude_none: bool = False
    response_model_include: Any = None
    response_model_exclude: Any = None
    response_model_exclude_unset: bool = False
    response_model_exclude_defaults: bool = False
    response_model_by_alias: bool = True
    response_class: type | None = None
    #: The success response's description in the OpenAPI document (None: the generator's default).
    response_description: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None
    description: str | None = None
    operation_id: str | None = None
    dependencies: tuple[Depends, ...] = ()
    responses: dict[int | str, Any] = dataclasses.field(default_factory=dict)
    include_in_schema: bool = True
    deprecated: bool | None = None
    max_body_size: int | None = None
    #: Exempt from the app's CSRF check (a webhook authenticated some other way).
    csrf_exempt: bool = False
    #: Limits for form bodies (a `lanner.forms.FormLimits`); None means the app's.
    form_limits: Any = None
    #: Folders searched first for templates rendered by this route (its routers', innermost first).
    template_folders: tuple[str, ...] = ()
    #: Refuse a JSON body sent without a JSON ``Content-Type`` (415); None means the app's setting.
    strict_content_type: bool | None = None
    #: Merged into the operation object of the OpenAPI document as is.
    openapi_extra: dict[str, Any] | None = None
    #: Routes describing the requests this operation sends back to the client (OpenAPI callbacks).
    callbacks: tuple[Any, ...] = ()
    #: ``f(route) -> str``: this route's OpenAPI operation id when none is given.
    generate_unique_id_function: Callable[..., str] | None = None
    #: A `Route` subclass whose ``get_route_handler`` wraps how requests reach the handler.
    route_class: type | None = None
    #: WebSocket routes: the message types the client sends, and those it receives (documented
    #: in ``x-websockets`` and ``/asyncapi.json``).
    receives: Any = None
    sends: Any = None
    #: WebSocket routes: limits (`lanner.websockets.WebSocketLimits`); unset ones are the app's.
    max_message_size: int | None = None
    idle_timeout: float | Any | None = MISSING
    max_send_queue: int | None = None
    on_invalid: str | None = None
    #: Limits on reading the body and on the whole request (a float of seconds for the request, or
    #: a `lanner.middleware.Timeout`), read by ``TimeoutMiddleware``; None means the app's.
    timeout: Any = None
    #: Middleware classes this route bypasses (``skip_middleware=[GZipMiddleware]`` on a download).
    skip_middleware: tuple[type, ...] = ()


#: The pseudo-method WebSocket routes register under, so they never clash with HTTP ones.
WEBSOCKET = "WEBSOCKET"
_WEBSOCKET_OPTIONS = frozenset(
    {"name", "tags", "summary", "description", "dependencies", "include_in_schema", "deprecated"}
    | {"receives", "sends", "max_message_size", "idle_timeout", "max_send_queue", "on_invalid"}
)


@dataclasses.dataclass(frozen=True)
class RouterDefaults:
    """Settings a router (or an ``include_router`` call) gives the routes it holds.

    A route's own setting wins over a router's; ``responses`` and ``callbacks`` are merged, the
    router's first.
    """

    responses: dict[int | str, Any] = dataclasses.field(default_factory=dict)
    default_response_class: type | None = None
    deprecated: bool | None = None
    include_in_schema: bool = True
    callbacks: tuple[Any, ...] = ()
    generate_unique_id_function: Callable[..., str] | None = None
    route_class: type | None = None

    def apply(self, options: RouteOptions) -> RouteOptions:
        """Return `options` with these defaults filled in."""
        if self == _NO_DEFAULTS:
            return options
        return dataclasses.replace(
            options,
            responses={**self.responses, **options.responses},
            response_class=options.response_class or self.default_response_class,
            deprecated=options.deprecated if options.deprecated is not None else self.deprecated,
            include_in_schema=options.include_in_schema and self.include_in_schema,
            callbacks=(*self.callbacks, *options.callbacks),
            generate_unique_id_function=options.generate_unique_id_function
            or self.generate_unique_id_function,
            route_class=options.route_class or self.route_class,
        )


_NO_DEFAULTS = RouterDefaults()


@dataclasses.dataclass(frozen=True)
class StaticFolder:
    """A folder a router serves as static files: ``Router(static=...)`` or ``app.static(...)``."""

    prefix: str
    directory: str
    name: str
    options: tuple[tuple[str, Any], ...] = ()


@dataclasses.dataclass(frozen=True, eq=False)
class Route:
    """A handler bound to a path template and a set of methods."""

    path: str
    handler: Handler
    methods: frozenset[str]
    options: RouteOptions
    compiled: CompiledPath

    @property
    def endpoint(self) -> Handler:
        """The handler (FastAPI's name for it)."""
        return self.handler

    @property
    def tags(self) -> list[str]:
        """The route's OpenAPI tags."""
        return list(self.options.tags)

    @property
    def name(self) -> str:
        """The route's name for `url_path_for` (the handler's name unless given)."""
        return str(self.options.name or getattr(self.handler, "__name__", "route"))

    def with_prefix(
        self,
        prefix: str,
        tags: Sequence[str],
        dependencies: Sequence[Depends],
        name: str | None = None,
        template_folders: Sequence[str] = (),
        defaults: RouterDefaults = _NO_DEFAULTS,
        compile: Callable[[str], CompiledPath] | None = None,
    ) -> Route:
        """Return a copy mounted under `prefix`, with extra tags and dependencies first.

        A router `name` prefixes the route's name (``blog.index``), as a Flask blueprint does;
        `template_folders` are searched after the route's own; `defaults` fill in what the route
        does not set; `compile` parses the new path (`compile_path` unless given).
        """
        options = dataclasses.replace(
            defaults.apply(self.options),
            tags=tuple(dict.fromkeys((*tags, *self.options.tags))),
            dependencies=(*dependencies, *self.options.dependencies),
            name=f"{name}.{self.name}" if name else self.options.name,
            template_folders=(*self.options.template_folders, *template_folders),
        )
        path = prefix + self.path
        return Route(path, self.handler, self.methods, options, (compile or compile_path)(path))


class APIRoute:
    """The base of custom route classes: wrap how requests reach a route's handler.

    Subclass it, override `get_route_handler` to wrap the function it returns, and pass the class
    as ``route_class=`` to a route, a `Router` or an ``include_router`` call (or set
    ``router.route_class``). The wrapped function takes a `Request` (yours may be a subclass, for
    example one whose ``body()`` decompresses) and returns the `Response`; the handler's errors
    (``RequestValidationError``, ``HTTPException``...) reach it as exceptions, so it can catch
    and replace them. This is FastAPI's ``APIRoute`` hook; lanner calls `get_route_handler` once,
    when the route is compiled.

    Attributes:
        path: the route's full path template.
        endpoint: the handler function.
        methods: the HTTP methods it serves.
    """

    def __init__(
        self,
        path: str,
        endpoint: Handler,
        *,
        methods: Iterable[str] = (),
        handle: Callable[[Any], Any],
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.methods = set(methods)
        self._handle = handle

    def get_route_handler(self) -> Callable[[Any], Any]:
        """Return ``async handler(request) -> Response``, which runs the route for `request`."""
        return self._handle


def _describe(route: Route) -> str:
    handler = route.handler
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"


class Router:
    """A group of routes sharing a prefix, tags and dependencies (Flask's blueprint).

    Args:
        prefix: prepended to every route path ("/items").
        tags: OpenAPI tags added to every route.
        dependencies: dependencies run before every route's handler.
        name: prefixes the names of its routes, so ``url_for("blog.index")`` finds the ``index``
            route of ``Router(name="blog")``.
        templates: a folder searched first for the templates its routes render (relative paths
            are relative to the file that creates the router, like a blueprint's
            ``template_folder``).
        static: a folder served as static files at ``<prefix>/static/``, named ``<name>.static``
            (relative to the file that creates the router, like a blueprint's ``static_folder``).
        responses, default_response_class, deprecated, include_in_schema, callbacks,
            generate_unique_id_function, route_class: defaults for its routes (see
            `RouterDefaults`), as FastAPI's ``APIRouter`` takes them.
    """

    def __init__(
        self,
        prefix: str = "",
        tags: Sequence[str] | None = None,
        dependencies: Sequence[Depends] | None = None,
        *,
        name: str | None = None,
        templates: str | os.PathLike[str] | None = None,
        static: str | os.PathLike[str] | None = None,
        responses: Mapping[int | str, Any] | None = None,
        default_response_class: type | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        callbacks: Sequence[Any] | None = None,
        generate_unique_id_function: Callable[..., str] | None = None,
        route_class: type | None = None,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"router prefix {prefix!r} must start with '/' and not end with '/'")
        if name is not None and (not name or "." in name):
            raise ValueError(f"router name {name!r} must be non-empty and contain no '.'")
        self.prefix = prefix
        self.tags = _names(tags, "tags")
        self.dependencies = tuple(dependencies or ())
        self.name = name
        self.template_folders = (caller_relative(templates),) if templates is not None else ()
        self.routes: list[Route] = []
        self.websocket_routes: list[Route] = []
        self.statics: list[StaticFolder] = []
        self.defaults = RouterDefaults(
            dict(responses or {}),
            default_response_class,
            deprecated,
            include_in_schema,
            tuple(callbacks or ()),
            generate_unique_id_function,
            route_class,
        )
        if static is not None:
            static_name = f"{name}.static" if name else "static"
            self.statics.append(StaticFolder(prefix + "/static", caller_relative(static), static_name))
        self._shapes: dict[tuple[tuple[str, ...], str], Route] = {}

    @property
    def route_class(self) -> type | None:
        """The custom route class (an `APIRoute` subclass) of the routes added from now on."""
        return self.defaults.route_class

    @route_class.setter
    def route_class(self, value: type | None) -> None:
        self.defaults = dataclasses.replace(self.defaults, route_class=value)

    #: What its routes are called in error messages.
    _kind = "route"

    def _check_path(self, path: str) -> None:
        """Refuse a path `add_route` cannot take (subclasses that only document routes relax it)."""
        if not path.startswith("/") and not (path == "" and self.prefix):
            raise ValueError(f"route path {path!r} must start with '/'")

    def _compile(self, path: str) -> CompiledPath:
        """Parse a route's full path for matching."""
        return compile_path(path)

    def _check(self, route: Route) -> None:
        for method in sorted(route.methods):
            other = self._shapes.get((route.compiled.shape, method))
            if other is not None:
                raise RouteConflictError(
                    f"{method} {route.path} ({_describe(route)}) can never be told apart from "
                    f"{method} {other.path} ({_describe(other)})"
                )

    def _register(self, route: Route) -> Route:
        self._check(route)
        for method in route.methods:
            self._shapes[(route.compiled.shape, method)] = route
        self.routes.append(route)
        self._routes_changed()
        return route

    def _routes_changed(self) -> None:
        """Hook for subclasses that cache what the routes compile to."""

    def add_route(
        self, path: str, handler: Handler, methods: Iterable[str] = ("GET",), **options: Any
    ) -> Route:
        """Register `handler` for `path` and `methods`.

        Raises:
            RouteConflictError: another route has the same methods and path shape.
            ValueError: the path template is invalid (it must start with "/", or be "" in a router
                with a prefix), or `methods` is empty or names an unknown method.
            TypeError: an unknown option was given.
        """
        self._check_path(path)
        methods = frozenset(m.upper() for m in methods)
        if not methods:
            raise ValueError(f"{self._kind} {path!r} needs at least one HTTP method")
        if unknown := methods - set(HTTP_METHODS):
            raise ValueError(f"unsupported HTTP method(s) {sorted(unknown)}")
        if "dependencies" in options:
            options["dependencies"] = tuple(options["dependencies"] or ())
        if "tags" in options:
            options["tags"] = _names(options["tags"], "tags")
        if options.get("responses") is None:
            options.pop("responses", None)
        if "skip_middleware" in options:
            options["skip_middleware"] = tuple(options["skip_middleware"] or ())
        rate_limit = options.pop("rate_limit", None)
        if rate_limit is not None:
            limits = rate_limit if isinstance(rate_limit, list | tuple) else (rate_limit,)
            options["dependencies"] = (
                *options.get("dependencies", ()),
                *(Depends(limit) for limit in limits),
            )
        route = Route("", handler, methods, RouteOptions(**options), compile_path("/"))
        full = route.with_prefix(
            self.prefix + path,
            self.tags,
            self.dependencies,
            self.name,
            self.template_folders,
            self.defaults,
            self._compile,
        )
        return self._register(full)

    def add_websocket_route(self, path: str, handler: Handler, **options: Any) -> Route:
        """Register `handler` for WebSocket connections to `path`.

        Options: name, tags, summary, description, dependencies, include_in_schema, deprecated,
        receives, sends (message types, for the documents), max_message_size, idle_timeout,
        max_send_queue, on_invalid (``"close"`` or ``"reply"``).

        Raises:
            RouteConflictError: another WebSocket route has the same path shape.
            ValueError: the path template is invalid.
            TypeError: an option that WebSocket routes do not take was given.
        """
        self._check_path(path)
        if unknown := set(options) - _WEBSOCKET_OPTIONS:
            raise TypeError(f"WebSocket route {path!r}: unknown option(s) {sorted(unknown)}")
        if options.get("on_invalid") not in ("close", "reply", None):
            on_invalid = options["on_invalid"]
            raise ValueError(f"on_invalid must be 'close' or 'reply', not {on_invalid!r}")
        if "dependencies" in options:
            options["dependencies"] = tuple(options["dependencies"] or ())
        if "tags" in options:
            options["tags"] = _names(options["tags"], "tags")
        route = Route("", handler, frozenset({WEBSOCKET}), RouteOptions(**options), compile_path("/"))
        full = route.with_prefix(
            self.prefix + path,
            self.tags,
            self.dependencies,
            self.name,
            defaults=_socket_defaults(self.defaults),
            compile=self._compile,
        )
        self._check(full)
        self._shapes[(full.compiled.shape, WEBSOCKET)] = full
        self.websocket_routes.append(full)
        self._routes_changed()
        return full

    def websocket(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate a WebSocket handler for `path`; see `add_websocket_route` for options.

        The handler takes a `lanner.websockets.WebSocket` parameter, and path, query, header and
        cookie parameters and dependencies as an HTTP handler does.
        """

        def decorator(handler: T) -> T:
            self.add_websocket_route(path, handler, **options)  # type: ignore[arg-type]
            return handler

        return decorator

    def route(
        self,
        path: str,
        methods: Iterable[str] = ("GET",),
        **options: Any,
    ) -> Callable[[T], T]:
        """Decorate a handler to serve `path` for `methods` (Flask's spelling).

        Options: status_code, response_model, response_model_exclude_none, response_class, name,
        tags, summary, description, operation_id, dependencies, responses, include_in_schema,
        deprecated, max_body_size, csrf_exempt, form_limits; ``rate_limit`` (a
        `lanner.ratelimit.RateLimit`, or several, run as dependencies); ``timeout`` (seconds, or a
        `lanner.middleware.Timeout`, for ``TimeoutMiddleware``); ``skip_middleware`` (middleware
        classes this route bypasses).
        """

        def decorator(handler: T) -> T:
            self.add_route(path, handler, methods, **options)  # type: ignore[arg-type]
            return handler

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate a GET handler (HEAD is served too); see `route` for options."""
        return self.route(path, ("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate a POST handler; see `route` for options."""
        return self.route(path, ("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate a PUT handler; see `route` for options."""
        return self.route(path, ("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate a PATCH handler; see `route` for options."""
        return self.route(path, ("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate a DELETE handler; see `route` for options."""
        return self.route(path, ("DELETE",), **options)

    def options(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate an OPTIONS handler; see `route` for options."""
        return self.route(path, ("OPTIONS",), **options)

    def head(self, path: str, **options: Any) -> Callable[[T], T]:
        """Decorate an explicit HEAD handler; see `route` for options."""
        return self.route(path, ("HEAD",), **options)

    def include_router(
        self,
        router: Router,
        prefix: str = "",
        tags: Sequence[str] | None = None,
        dependencies: Sequence[Depends] | None = None,
        *,
        responses: Mapping[int | str, Any] | None = None,
        default_response_class: type | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        callbacks: Sequence[Any] | None = None,
        generate_unique_id_function: Callable[..., str] | None = None,
    ) -> None:
        """Copy `router`'s routes into this one under `prefix` (declare its routes first).

        Tags and dependencies go outside in: this router's, then the ones given here, then the
        included router's, then the route's own. The other keywords are defaults for the included
        routes, as in `Router`. Nothing is included when one route conflicts.

        Raises:
            RouteConflictError: an included route collides with an existing one.
            ValueError: `prefix` does not start with "/" or ends with "/", or `router` is this one.
            TypeError: `tags` is a single string instead of a list.
        """
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"include prefix {prefix!r} must start with '/' and not end with '/'")
        if router is self:
            raise ValueError("a router cannot include itself")
        extra_tags = (*self.tags, *_names(tags, "tags"))
        extra_dependencies = (*self.dependencies, *(dependencies or ()))
        given = RouterDefaults(
            dict(responses or {}),
            default_response_class,
            deprecated,
            include_in_schema,
            tuple(callbacks or ()),
            generate_unique_id_function,
        )
        routes = [
            route.with_prefix(
                self.prefix + prefix,
                extra_tags,
                extra_dependencies,
                self.name,
                self.template_folders,
                self.defaults,
            )
            for route in (dataclasses.replace(r, options=given.apply(r.options)) for r in router.routes)
        ]
        sockets = [
            route.with_prefix(
                self.prefix + prefix,
                extra_tags,
                extra_dependencies,
                self.name,
                defaults=_socket_defaults(self.defaults),
            )
            for route in (
                dataclasses.replace(r, options=_socket_defaults(given).apply(r.options))
                for r in router.websocket_routes
            )
        ]
        for route in (*routes, *sockets):
            self._check(route)
        for route in routes:
            self._register(route)
        for route in sockets:
            self._shapes[(route.compiled.shape, WEBSOCKET)] = route
            self.websocket_routes.append(route)
        if sockets:
            self._routes_changed()
        for folder in router.statics:
            name = f"{self.name}.{folder.name}" if self.name else folder.name
            self.statics.append(
                dataclasses.replace(folder, prefix=self.prefix + prefix + folder.prefix, name=name)
            )
        if router.statics:
            self._routes_changed()


def _socket_defaults(defaults: RouterDefaults) -> RouterDefaults:
    """The router defaults WebSocket routes take: whether they are documented, or deprecated."""
    return RouterDefaults(deprecated=defaults.deprecated, include_in_schema=defaults.include_in_schema)


def caller_relative(folder: str | os.PathLike[str]) -> str:
    """`folder` made absolute: a relative one is taken from the file that created the router.

    Like a Flask blueprint's folders. When no such folder exists there but one does in the working
    directory, that one is used.
    """
    path = os.fspath(folder)
    if os.path.isabs(path):
        return path
    frame = inspect.currentframe()
    # Walk out of lanner's own frames (Router.__init__, Lanner.__init__, Lanner.static...).
    while frame is not None and _is_lanners(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
    base = frame.f_globals.get("__file__") if frame is not None else None
    beside_caller = os.path.abspath(os.path.join(os.path.dirname(base), path) if base else path)
    # Starlette's habit (relative to the working directory) still works when that is the only
    # folder of that name.
    from_cwd = os.path.abspath(path)
    if not os.path.isdir(beside_caller) and os.path.isdir(from_cwd):
        return from_cwd
    return beside_caller


def _is_lanners(module: str) -> bool:
    """Whether `module` is lanner's own (a user package called ``lanner_shop`` is not)."""
    return module == "lanner" or module.startswith("lanner.")


def _names(value: Sequence[str] | None, what: str) -> tuple[str, ...]:
    # A lone string is a sequence too: tags="items" would become five one-letter tags.
    if isinstance(value, str):
        raise TypeError(f"{what} must be a list of strings, not the string {value!r}")
    return tuple(value or ())
