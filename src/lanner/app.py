"""The `Lanner` application: registration, freezing the routes into a plan, and ``__call__``."""

from __future__ import annotations

import dataclasses
import os
import typing
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, TypeVar

from lanner import _heap
from lanner._app_flask import FlaskConveniences
from lanner._app_operations import OperationsMixin
from lanner._compile import Instrument, PreparedRoute, compile_route
from lanner._paths import compile_path
from lanner._plan_checks import PlanError
from lanner._template_registry import TemplateRegistry
from lanner.batching import drain_batchers, start_batchers
from lanner.checks import RouteDefinitionError, check_route, report, route_label
from lanner.concurrency import configure_default_pool
from lanner.config import Config, ConfigAttribute, caller_root_path, resolve_instance_path
from lanner.datastructures import State, quote_path
from lanner.endpoint import Endpoint, EndpointLike, ErrorEndpoint, RedirectEndpoint, Runtime
from lanner.errors import (
    SERVER_EXCEPTION_KEY,
    ErrorBoundary,
    ExceptionHandler,
    ExceptionHandlers,
    ProblemResponse,
)
from lanner.lifespan import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    Lifespan,
    LifespanFactory,
    check_shutdown_timeout,
    report_startup_failure,
)
from lanner.middleware._stack import Middleware, build_stack
from lanner.middleware.timeout import Timeout
from lanner.observability.health import Lifecycle
from lanner.observability.tracing import get_tracer, traced_call
from lanner.openapi.asyncapi import build_asyncapi
from lanner.openapi.generator import OpenAPIInfo, build_openapi
from lanner.openapi.pages import add_docs_routes
from lanner.openapi.routers import WebhookRouter
from lanner.params import Depends
from lanner.requests import DEFAULT_MAX_BODY_SIZE
from lanner.routing import NoMatchFound, Route, Router, RouteTable, StaticFolder, caller_relative
from lanner.sessions import SessionConfig
from lanner.signature import CallKind
from lanner.socket_endpoint import WebSocketEndpoint, compile_websocket_route, refuse_handshake
from lanner.staticfiles import StaticFiles
from lanner.types import ASGIApp, Message, Receive, Scope, Send
from lanner.websockets import WebSocket, WebSocketLimits

F = TypeVar("F", bound=Callable[..., Any])


class _Overrides(dict[Callable[..., Any], Callable[..., Any]]):
    """``app.dependency_overrides``: any change recompiles the route plans on the next request."""

    def __init__(self, changed: Callable[[], None]) -> None:
        super().__init__()
        self._changed = changed

    def __setitem__(self, key: Callable[..., Any], value: Callable[..., Any]) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: Callable[..., Any]) -> None:
        super().__delitem__(key)
        self._changed()

    def clear(self) -> None:
        """Remove every override."""
        super().clear()
        self._changed()

    def pop(self, key: Callable[..., Any], *default: Any) -> Any:
        """Remove and return one override."""
        value = super().pop(key, *default)
        self._changed()
        return value

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add several overrides."""
        super().update(*args, **kwargs)
        self._changed()


@dataclasses.dataclass(frozen=True)
class _Frozen:
    """What the app compiles its registrations into before serving."""

    table: RouteTable[EndpointLike]
    endpoints: dict[Route, Endpoint]
    names: dict[str, Route]
    not_found: Endpoint
    #: 405 answers, one per distinct ``Allow`` value, built on first use and then reused.
    method_errors: dict[str, Endpoint]
    runtime: Runtime
    entry: ASGIApp
    direct: bool  # no middleware and no mounts: `__call__` routes HTTP requests itself
    sockets: RouteTable[WebSocketEndpoint]
    socket_endpoints: dict[Route, WebSocketEndpoint]
    #: With middleware: each endpoint's route, so the route is known before the middleware runs.
    route_of: dict[EndpointLike, Route]


class Lanner(FlaskConveniences, OperationsMixin, Router):
    """A lanner application: a router that is also an ASGI application.

    Args:
        debug: show tracebacks in 500 responses (never in production); defaults to the
            ``LANNER_DEBUG=1`` environment variable, which ``lanner dev`` sets.
        title, version, description: the API's name, version and summary (OpenAPI info).
        lifespan: an async context manager factory taking the app, run around the server's life.
        on_startup, on_shutdown: functions run at startup and shutdown.
        shutdown_timeout: seconds the lifespan shutdown (app-scoped cleanups, the lifespan's exit,
            on_shutdown hooks) may take before it is cancelled and reported to the server as
            failed; None waits for ever.
        dependencies: dependencies run before every handler.
        redirect_slashes: answer ``/items/`` with a 308 to ``/items`` when only that exists (and the
            reverse).
        max_body_size: the largest request body accepted, in bytes (413 beyond); routes may set
            their own.
        thread_pool_size: threads for sync handlers and dependencies (one process-wide pool of 40
            unless set; the last app that sets it wins).
        exception_handlers: ``{ExceptionClass or status code: handler}``.
        freeze_gc: at the end of startup, move every object alive then (routes, validators,
            what the lifespan built) into the garbage collector's permanent generation
            (``gc.freeze()``) until the last running app shuts down, so full collections stop
            walking them. In a 1,000-route app that takes a full collection from ~110 ms, a pause
            every request in flight would wait for, to under 1 ms. Objects alive at startup that
            later become unreachable reference cycles are then reclaimed only after shutdown; turn
            it off if that matters (for example a leak test that calls ``gc.collect()`` inside
            ``with TestClient(app)``).
        secret_key: turns sessions on (defaults to the ``LANNER_SECRET_KEY`` environment variable).
            Several keys rotate: the first signs, any of them verifies.
        session_store: where sessions live: a signed cookie unless given (``MemorySessionStore()``,
            ``RedisSessionStore(url)`` from `lanner.sessions`).
        session_cookie, session_max_age, session_domain: the session cookie's name, lifetime in
            seconds (None: until the browser closes) and ``Domain`` attribute.
        csrf: require a CSRF token (form field ``csrf_token`` or ``X-CSRF-Token`` header) on
            POST, PUT, PATCH and DELETE requests that carry the session cookie (403 otherwise);
            routes opt out with ``csrf_exempt=True``. Needs sessions.
        form_limits: limits for form bodies (`lanner.forms.FormLimits`); routes may set their own.
        openapi_url, docs_url, redoc_url: where the OpenAPI document, Swagger UI and ReDoc are
            served (None turns one off; without the document there are no pages).
        asyncapi_url: where the AsyncAPI 3.0 document of the WebSocket routes is served (see
            `asyncapi`); None turns it off, and so does ``openapi_url=None``.
        summary, servers, openapi_tags, contact, license_info, terms_of_service: OpenAPI document
            fields (``openapi_tags`` gives tags their descriptions and order).
        openapi_compat: ``"lanner"`` (default) or ``"fastapi"``: operation ids, summaries, the
            success description and parameter titles exactly as FastAPI generates them, so a
            migrated API keeps its generated clients' method names and OpenAPI snapshots.
        strict_content_type: refuse a JSON body sent without a ``Content-Type`` (415); False
            accepts one from clients that send none (routes may set their own).
        swagger_ui_parameters: Swagger UI configuration merged over lanner's defaults.
        swagger_ui_oauth2_redirect_url: where Swagger UI's OAuth2 redirect page is served
            (None: not served).
        swagger_ui_init_oauth: settings for Swagger UI's ``initOAuth`` (client id, scopes...).
        webhooks: a `Router` whose routes describe the webhooks this API sends (documented
            under ``webhooks``, never served); ``app.webhooks`` otherwise starts empty.
        generate_unique_id_function: ``f(route) -> str``, the operation id of routes without one.
        separate_input_output_schemas: document ``Model-Input``/``Model-Output`` when a model's
            input and output schemas differ (False: one schema, as read).
        root_path: the path prefix a proxy strips before forwarding (set in each request's scope
            unless the server sets one).
        responses, default_response_class, callbacks: defaults for every route, as in `Router`.
        max_message_size, idle_timeout, max_send_queue, on_invalid: WebSocket limits for every
            WebSocket route (routes may set their own): the largest message in bytes (1 MiB; 1009
            close beyond), seconds a receive waits for the client (300; 1001 close after; None
            for no limit), sends waiting on a slow client (64; 1008 close beyond), and what a
            message failing ``receive_json(Model)`` gets (``"close"``: 1007, or ``"reply"``).
        access_log: one log line per request on the ``lanner.access`` logger, as ``"json"`` or
            ``"text"`` (None: no access log); see `lanner.observability.AccessLogMiddleware`.
            It brings a `RequestIDMiddleware` unless you added one, so each line has an id.
        metrics_url: serve Prometheus metrics there (the same as ``app.metrics(metrics_url)``).
        tracing: an OpenTelemetry span per request: True uses the global tracer provider, or
            pass a ``TracerProvider``; see `lanner.observability.TracingMiddleware`.
        trace_calls: with tracing, also a child span for the handler and each per-request
            dependency (``"handler read_item"``, ``"dependency get_db"``, and ``"... cleanup"``
            for the code after a dependency's ``yield``), so their time shows in the trace.
        instance_path: the instance folder (files that are not code: local settings, an SQLite
            database), absolute; ``instance/`` beside the module creating the app by default.
        instance_relative_config: ``app.config.from_pyfile(...)`` reads relative paths from the
            instance folder instead of the app's folder.
        config: initial ``app.config`` values (a `lanner.config.Config`, with Flask's loaders).
    """

    #: Mirrors ``app.config["TESTING"]`` (read and write), as Flask's ``app.testing`` does.
    testing = ConfigAttribute("TESTING", False)
    #: ``app.config["SECRET_KEY"]``: the key sessions are signed with (``Lanner(secret_key=...)``).
    secret_key = ConfigAttribute("SECRET_KEY", None)

    def __init__(
        self,
        *,
        debug: bool | None = None,
        title: str = "lanner",
        version: str = "0.1.0",
        description: str = "",
        lifespan: LifespanFactory | None = None,
        on_startup: Sequence[Callable[[], Any]] = (),
        on_shutdown: Sequence[Callable[[], Any]] = (),
        shutdown_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
        dependencies: Sequence[Depends] | None = None,
        redirect_slashes: bool = True,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        thread_pool_size: int | None = None,
        exception_handlers: dict[type[BaseException] | int, ExceptionHandler] | None = None,
        freeze_gc: bool = True,
        secret_key: str | Sequence[str] | None = None,
        session_store: Any = None,
        session_cookie: str = "session",
        session_max_age: int | None = 14 * 24 * 3600,
        session_domain: str | None = None,
        csrf: bool = False,
        form_limits: Any = None,
        openapi_url: str | None = "/openapi.json",
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        asyncapi_url: str | None = "/asyncapi.json",
        summary: str | None = None,
        servers: Sequence[Mapping[str, Any]] | None = None,
        openapi_tags: Sequence[Mapping[str, Any]] | None = None,
        contact: Mapping[str, Any] | None = None,
        license_info: Mapping[str, Any] | None = None,
        terms_of_service: str | None = None,
        openapi_compat: typing.Literal["lanner", "fastapi"] = "lanner",
        strict_content_type: bool = True,
        swagger_ui_parameters: Mapping[str, Any] | None = None,
        swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
        swagger_ui_init_oauth: Mapping[str, Any] | None = None,
        webhooks: Router | None = None,
        generate_unique_id_function: Callable[..., str] | None = None,
        separate_input_output_schemas: bool = True,
        root_path: str = "",
        responses: Mapping[int | str, Any] | None = None,
        default_response_class: type | None = None,
        callbacks: Sequence[Any] | None = None,
        max_message_size: int = 1024 * 1024,
        idle_timeout: float | None = 300.0,
        max_send_queue: int = 64,
        on_invalid: typing.Literal["close", "reply"] = "close",
        access_log: typing.Literal["json", "text"] | None = None,
        metrics_url: str | None = None,
        tracing: Any = False,
        trace_calls: bool = False,
        instance_path: str | os.PathLike[str] | None = None,
        instance_relative_config: bool = False,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            dependencies=dependencies,
            responses=responses,
            default_response_class=default_response_class,
            callbacks=callbacks,
            generate_unique_id_function=generate_unique_id_function,
        )
        if openapi_compat not in ("lanner", "fastapi"):
            raise ValueError(f"openapi_compat must be 'lanner' or 'fastapi', not {openapi_compat!r}")
        self.openapi_compat = openapi_compat
        self.websocket_limits = WebSocketLimits(max_message_size, idle_timeout, max_send_queue, on_invalid)
        self.strict_content_type = strict_content_type
        self.webhooks = webhooks if webhooks is not None else WebhookRouter()
        self.separate_input_output_schemas = separate_input_output_schemas
        self.root_path = root_path.rstrip("/")
        self.debug = os.environ.get("LANNER_DEBUG") == "1" if debug is None else debug
        self.title = title
        self.version = version
        self.description = description
        self.redirect_slashes = redirect_slashes
        self.max_body_size = max_body_size
        self.freeze_gc = freeze_gc
        self._holds_heap = False
        self.state = State()
        self.on_startup = list(on_startup)
        self.on_shutdown = list(on_shutdown)
        self.shutdown_timeout = check_shutdown_timeout(shutdown_timeout)
        self.dependency_overrides: MutableMapping[Callable[..., Any], Callable[..., Any]] = _Overrides(
            self._routes_changed
        )
        self._lifespan_factory = lifespan
        self._handlers = ExceptionHandlers()
        for key, handler in (exception_handlers or {}).items():
            self._handlers.add(key, handler)
        self._before: list[Callable[..., Any]] = []
        self._after: list[Callable[..., Any]] = []
        self._teardown: list[Callable[..., Any]] = []
        #: Each route's plan and serializer, made when it was registered (see `_compile_route`).
        self._prepared: dict[Route, PreparedRoute] = {}
        #: The context processors, filters, globals and tests every `Templates` applies for this app.
        self.template_registry = TemplateRegistry()
        self._url_aliases: dict[str, str] = {}
        self._middleware: list[Middleware] = []
        self._mounts: list[tuple[str, ASGIApp, str | None]] = []
        self._frozen: _Frozen | None = None
        self._cli: Any = None
        # Not `root_path`: that is the ASGI path prefix a proxy strips.
        app_folder = caller_root_path()
        #: The folder of the module that created the app; `open_resource` reads from it.
        self.app_folder = app_folder
        #: The instance folder (see ``instance_path=``).
        self.instance_path = resolve_instance_path(instance_path, app_folder)
        #: Settings with Flask's loaders (``from_pyfile``, ``from_prefixed_env``...).
        self.config = Config(
            self.instance_path if instance_relative_config else app_folder, {"TESTING": False}
        )
        if config is not None:
            self.config.update(config)
        if access_log not in ("json", "text", None):
            raise ValueError(f"access_log must be 'json', 'text' or None, not {access_log!r}")
        self.access_log = access_log
        self.tracing = tracing
        if trace_calls and tracing in (False, None):
            raise ValueError("trace_calls needs tracing=True (or a TracerProvider)")
        self.trace_calls = trace_calls
        self._metrics: Any = None
        self.lifecycle = Lifecycle.IDLE
        if secret_key is None:
            secret_key = os.environ.get("LANNER_SECRET_KEY") or self.config.get("SECRET_KEY") or None
        #: The session settings, or None when sessions are off (no secret key).
        self.sessions: SessionConfig | None = None
        self._session_options: dict[str, Any] = {
            "store": session_store,
            "cookie_name": session_cookie,
            "max_age": session_max_age,
            "domain": session_domain,
        }
        self._session_key = secret_key
        if secret_key is not None:
            # As in Flask, app.config["SECRET_KEY"] (and app.secret_key) name the key too.
            self.config["SECRET_KEY"] = secret_key
            self.sessions = SessionConfig(secret_key, **self._session_options)
        elif session_store is not None or csrf:
            raise ValueError("sessions and CSRF protection need a secret_key (or LANNER_SECRET_KEY)")
        self.csrf = csrf
        self.form_limits = form_limits
        self._static_apps: dict[StaticFolder, StaticFiles] = {}
        self._runtime = Runtime(self._handlers)
        self._openapi_info = OpenAPIInfo(
            title=title,
            version=version,
            description=description,
            summary=summary,
            terms_of_service=terms_of_service,
            contact=contact,
            license_info=license_info,
            servers=tuple(servers or ()),
            tags=tuple(openapi_tags or ()),
        )
        self._openapi: dict[str, Any] | None = None
        self._asyncapi: dict[str, Any] | None = None
        self.asyncapi_url = asyncapi_url
        self.openapi_url, self.docs_url, self.redoc_url = openapi_url, docs_url, redoc_url
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.swagger_ui_parameters = dict(swagger_ui_parameters or {})
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        if thread_pool_size is not None:
            configure_default_pool(thread_pool_size)
        if metrics_url is not None:
            self.metrics(metrics_url)
        add_docs_routes(
            self,
            title=title,
            openapi_url=openapi_url,
            docs_url=docs_url,
            redoc_url=redoc_url,
            document=self.openapi,
            swagger_ui_parameters=swagger_ui_parameters,
            swagger_ui_oauth2_redirect_url=swagger_ui_oauth2_redirect_url,
            swagger_ui_init_oauth=swagger_ui_init_oauth,
            asyncapi_url=asyncapi_url,
            asyncapi_document=self.asyncapi,
        )

    # -- registration -------------------------------------------------------------------------

    def _register(self, route: Route) -> Route:
        if route.options.timeout is not None:
            # A bad value fails here, at registration, not on the route's first request.
            timeout = Timeout.coerce(route.options.timeout)
            route = dataclasses.replace(route, options=dataclasses.replace(route.options, timeout=timeout))
        # The plan is compiled now, so a mistake names its line here, not on the first request.
        error, prepared = check_route(route, self.dependency_overrides)
        if error is not None:
            report(error)  # raises, unless `lanner check` is collecting every error
            return route
        if prepared is not None:
            self._prepared[route] = prepared  # compiling the app reuses it
        return super()._register(route)

    def _routes_changed(self) -> None:
        self._frozen = None
        self._openapi = None
        self._asyncapi = None

    def openapi(self) -> dict[str, Any]:
        """Return the OpenAPI 3.1 document, built once from the compiled routes and cached."""
        if self._openapi is None:
            runtime = self._runtime
            self._openapi = build_openapi(
                self._openapi_info,
                self.iter_routes(),
                webhooks=[(route, self._compile_route(route, runtime)) for route in self.webhooks.routes],
                websockets=self.iter_websocket_routes(),
                compat=self.openapi_compat,
                compile_route=lambda route: self._compile_route(route, runtime),
                separate_input_output_schemas=self.separate_input_output_schemas,
            )
        return self._openapi

    def asyncapi(self) -> dict[str, Any]:
        """Return the AsyncAPI 3.0 document of the WebSocket routes, built once and cached.

        Each route is a channel (its path, parameters and handshake query and headers) with an
        operation for each message type it declares (``receives=``, ``sends=``); the OpenAPI
        document lists the same routes under ``x-websockets``.
        """
        if self._asyncapi is None:
            self._asyncapi = build_asyncapi(
                self._openapi_info,
                self.iter_websocket_routes(),
                separate_input_output_schemas=self.separate_input_output_schemas,
            )
        return self._asyncapi

    @property
    def openapi_schema(self) -> dict[str, Any] | None:
        """The cached OpenAPI document (None until built); code may set its own."""
        return self._openapi

    @openapi_schema.setter
    def openapi_schema(self, document: dict[str, Any] | None) -> None:
        self._openapi = document

    def exception_handler(self, key: type[BaseException] | int) -> Callable[[F], F]:
        """Decorate ``handler(request, exc) -> Response`` for an exception class or status code."""

        def decorator(handler: F) -> F:
            self.add_exception_handler(key, handler)
            return handler

        return decorator

    def add_exception_handler(self, key: type[BaseException] | int, handler: ExceptionHandler) -> None:
        """Register ``handler(request, exc) -> Response`` for an exception class or status code."""
        self._handlers.add(key, handler)
        self._routes_changed()

    def before_request(self, hook: F) -> F:
        """Decorate ``hook(request)``, run before every handler; a Response it returns is sent."""
        self._before.append(hook)
        self._routes_changed()
        return hook

    def after_request(self, hook: F) -> F:
        """Decorate ``hook(request, response) -> Response``, run on every response."""
        self._after.append(hook)
        self._routes_changed()
        return hook

    def on_event(self, event: str) -> Callable[[F], F]:
        """Decorate a function run at ``"startup"`` or ``"shutdown"`` (FastAPI's deprecated spelling).

        Prefer ``lifespan=`` or ``on_startup=``/``on_shutdown=``; this warns once per use.

        Raises:
            ValueError: `event` is neither ``"startup"`` nor ``"shutdown"``.
        """
        if event not in ("startup", "shutdown"):
            raise ValueError(f"on_event takes 'startup' or 'shutdown', not {event!r}")
        warnings.warn(
            "app.on_event() is deprecated: use lifespan= or on_startup=/on_shutdown=",
            DeprecationWarning,
            stacklevel=2,
        )

        def decorator(func: F) -> F:
            (self.on_startup if event == "startup" else self.on_shutdown).append(func)
            return func

        return decorator

    # -- operations ---------------------------------------------------------------------------

    def static(
        self, prefix: str, directory: str | os.PathLike[str], *, name: str = "static", **options: Any
    ) -> None:
        """Serve the files of `directory` under `prefix` (``app.static("/static", "static")``).

        A relative `directory` is taken from the file that calls this. ``url_for(name, path=...)``
        builds their URLs and `static_url` adds a content hash; `options` go to `StaticFiles`
        (``html``, ``cache_control``, ``follow_symlink``, ``precompressed``).

        Raises:
            ValueError: `prefix` does not start with "/" or ends with "/".
        """
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"static prefix {prefix!r} must start with '/' and not end with '/'")
        directory = caller_relative(directory)
        self.statics.append(StaticFolder(prefix, directory, name, tuple(sorted(options.items()))))
        self._routes_changed()

    def static_url(self, path: str, name: str = "static") -> str:
        """The URL path of a static file with a content hash (``/static/app.css?v=3f2a...``).

        Pages can then let browsers cache static files for a long time: the URL changes with the
        file. The hash is computed once per file version (the first call reads the file).

        Raises:
            NoMatchFound: no static folder has that name.
        """
        folder = next((f for f in self.statics if f.name == name), None)
        if folder is None:
            raise NoMatchFound(f"no static folder named {name!r}")
        return folder.prefix + "/" + self._static_app(folder).url_path(path.lstrip("/"))

    def _static_app(self, folder: StaticFolder) -> StaticFiles:
        app = self._static_apps.get(folder)
        if app is None:
            app = self._static_apps[folder] = StaticFiles(directory=folder.directory, **dict(folder.options))
        return app

    def mount(self, prefix: str, app: ASGIApp, name: str | None = None) -> None:
        """Serve every path under `prefix` with another ASGI application.

        The mounted app receives the full ``path`` and the prefix appended to ``root_path`` (ASGI
        2.4). A route of the app registered for the request's method and path wins over any
        mount, so routes can move from a mounted app one at a time; otherwise the longest mount
        prefix serves the request. ``"/"`` mounts at the root: the fallback for every path no route
        serves.
        """
        if prefix != "/" and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"mount prefix {prefix!r} must be '/', or start with '/' and not end with '/'")
        self._mounts.append((prefix.rstrip("/"), app, name))
        # The longest prefix answers first, so /a/b stays reachable beside /a.
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)
        self._routes_changed()

    # -- compiling ----------------------------------------------------------------------------

    def _sync_secret_key(self) -> None:
        """Follow ``config["SECRET_KEY"]`` set after the app was built (Flask's ``from_pyfile``)."""
        key = self.config.get("SECRET_KEY")
        if not key or key == self._session_key:
            return
        self._session_key = key
        self.sessions = SessionConfig(key, **self._session_options)

    def _freeze(self) -> _Frozen:
        self._sync_secret_key()
        runtime = self._runtime
        runtime.configure(self._before, self._after, self.max_body_size, self._teardown)
        runtime.configure_sessions(self.sessions, self.csrf, self.form_limits)
        table: RouteTable[EndpointLike] = RouteTable()
        endpoints: dict[Route, Endpoint] = {}
        names: dict[str, Route] = {}
        explicit_heads = self._heads_declared()
        for route in self.routes:
            endpoint = self._compile_route(route, runtime)
            endpoints[route] = endpoint
            methods = set(route.methods)
            if "GET" in methods and route.compiled.shape not in explicit_heads:
                methods.add("HEAD")
            table.add(route.compiled, methods, endpoint.serve)
            names.setdefault(route.name, route)
        stack = self._middleware_stack()
        entry = build_stack(self._dispatch, stack, self.routes)
        if stack:
            entry = ErrorBoundary(entry, self, self._handlers)
        # Rebuilt from `statics` each time; mounts the user added (StaticFiles ones too) stay.
        ours = {id(app) for app in self._static_apps.values()}
        self._mounts = [mount for mount in self._mounts if id(mount[1]) not in ours]
        for folder in self.statics:
            self._mounts.append((folder.prefix, self._static_app(folder), folder.name))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)
        direct = not stack and not self._mounts and not self.root_path
        not_found = ErrorEndpoint(runtime, 404)
        sockets: RouteTable[WebSocketEndpoint] = RouteTable()
        socket_endpoints: dict[Route, WebSocketEndpoint] = {}
        for route in self.websocket_routes:
            socket = compile_websocket_route(route, runtime, self.dependency_overrides, self.websocket_limits)
            socket_endpoints[route] = socket
            sockets.add(route.compiled, ("GET",), socket)
            names.setdefault(route.name, route)
        route_of = {endpoint.serve: route for route, endpoint in endpoints.items()} if stack else {}
        frozen = _Frozen(
            table,
            endpoints,
            names,
            not_found,
            {},
            runtime,
            entry,
            direct,
            sockets,
            socket_endpoints,
            route_of,
        )
        self._frozen = frozen
        return frozen

    def _heads_declared(self) -> set[tuple[str, ...]]:
        """Path shapes with an explicit HEAD route: GET routes there do not answer HEAD."""
        return {route.compiled.shape for route in self.routes if "HEAD" in route.methods}

    def _compile_route(self, route: Route, runtime: Runtime) -> Endpoint:
        try:
            return compile_route(
                route,
                runtime,
                self.dependency_overrides,
                strict_content_type=self.strict_content_type,
                instrument=self._span_per_call() if self.trace_calls else None,
                prepared=self._prepared.get(route),
            )
        except PlanError as exc:
            raise RouteDefinitionError(route_label(route), exc.call, exc) from exc
        except TypeError as exc:
            raise RouteDefinitionError(route_label(route), route.handler, exc) from exc

    def _span_per_call(self) -> Instrument:
        """Wrap each handler and dependency call in a child span of the request's."""
        tracer = get_tracer(None if self.tracing is True else self.tracing)

        def instrument(role: str, call: Callable[..., Any], kind: CallKind) -> Callable[..., Any]:
            name = getattr(call, "__name__", None) or type(call).__name__
            return traced_call(tracer, f"{role} {name}", call, kind)

        return instrument

    @property
    def router(self) -> Lanner:
        """The app itself: FastAPI code sets ``app.router.route_class`` and the like."""
        return self

    @property
    def endpoints(self) -> dict[Route, Endpoint]:
        """Each route's compiled endpoint (compiles the app if needed)."""
        return (self._frozen or self._freeze()).endpoints

    def iter_websocket_routes(self) -> Iterator[tuple[Route, WebSocketEndpoint]]:
        """Yield each WebSocket route with its compiled endpoint, in registration order."""
        yield from (self._frozen or self._freeze()).socket_endpoints.items()

    def iter_routes(self) -> Iterator[tuple[Route, Endpoint]]:
        """Yield each route with its compiled endpoint, in registration order."""
        yield from self.endpoints.items()

    def split_url_params(self, name: str, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split `params` into what the path of `name` takes and the rest (for the query string).

        A name no route, folder or alias has keeps every value: `url_path_for` then says why.
        """
        frozen = self._frozen or self._freeze()
        route = frozen.names.get(name)
        if route is not None:
            takes: Collection[str] = route.compiled.param_names
        elif name in self._url_aliases:
            takes = compile_path(self._url_aliases[name]).param_names
        elif any(f.name == name for f in self.statics):
            takes = ("path", "filename")
        else:
            return params, {}
        path = {key: value for key, value in params.items() if key in takes}
        return path, {key: value for key, value in params.items() if key not in takes}

    def url_path_for(self, name: str, /, **path_params: Any) -> str:
        """Return the path of the route called `name` filled with `path_params`.

        Raises:
            NoMatchFound: no route has that name, or the parameters do not fit its path.
        """
        frozen = self._frozen or self._freeze()
        route = frozen.names.get(name)
        if route is not None:
            return route.compiled.format(path_params)
        alias = self._url_aliases.get(name)
        if alias is not None:
            return compile_path(alias).format(path_params)
        prefix = next((f.prefix for f in self.statics if f.name == name), None)
        if prefix is None:
            prefix = next((p for p, _, mount_name in self._mounts if mount_name == name), None)
        if prefix is None:
            raise NoMatchFound(f"no route named {name!r}")
        # Flask's url_for("static", filename=...) spelling works too.
        params = dict(path_params)
        path = params.pop("path", None)
        if path is None:
            path = params.pop("filename", None)
        if params or path is None:
            raise NoMatchFound(f"{name!r} is a mounted folder: give path= (or filename=) only")
        return prefix + "/" + quote_path(str(path).lstrip("/"))

    # -- serving ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve an ASGI connection."""
        frozen = self._frozen
        if frozen is None:
            try:
                frozen = self._freeze()
            except Exception as exc:
                # A route that cannot compile must stop the server at startup, not pass as an app
                # without lifespan support.
                if scope["type"] == "lifespan":
                    await report_startup_failure(receive, send, exc)
                    return
                raise
        if frozen.direct and scope["type"] == "http":
            # PERF(all): with nothing in front of the routes, skip the `_dispatch` coroutine.
            target, params = self._target(frozen, scope, _route_path(scope))
            await target(scope, receive, send, params)
            return
        if scope["type"] == "http":
            # Set before the middleware, which may build requests that need it; a mounted app
            # sees its parent too.
            scope["app"] = self
            if frozen.route_of:
                self._match_early(frozen, scope)
        await frozen.entry(scope, receive, send)

    def _match_early(self, frozen: _Frozen, scope: Scope) -> None:
        """Find the route before the middleware runs: ``scope["route"]`` is then the `Route`.

        Middleware reads the route's options (a timeout, ``skip_middleware``) and template from it;
        `_dispatch` reuses the match unless a middleware changed the method or path.
        """
        if self.root_path and not scope.get("root_path"):
            scope["root_path"] = self.root_path
        path = _route_path(scope)
        target, params = self._resolve(frozen, scope, path)
        if target is None:
            return  # a mount serves it
        route = frozen.route_of.get(target)
        if route is not None:
            scope["route"] = route
        scope[_EARLY_MATCH] = (scope["method"], scope["path"], scope.get("root_path"), target, params)

    def _target(self, frozen: _Frozen, scope: Scope, path: str) -> tuple[EndpointLike, dict[str, Any]]:
        """Find the endpoint for an HTTP request (or the 404/405 answer) and record the match."""
        scope["app"] = self
        method = scope["method"]
        target, params, allowed = frozen.table.find(method, path)
        if target is None:
            target = self._miss(frozen, method, path, allowed)
        scope["path_params"] = params
        return target, params

    def _resolve(
        self, frozen: _Frozen, scope: Scope, path: str
    ) -> tuple[EndpointLike | None, dict[str, Any]]:
        """`_target`, where a mount serving `path` comes between the routes and the 404/405 (None)."""
        scope["app"] = self
        method = scope["method"]
        target, params, allowed = frozen.table.find(method, path)
        if target is None:
            if self._mounts and self._mount_for(path) is not None:
                return None, params
            target = self._miss(frozen, method, path, allowed)
        scope["path_params"] = params
        return target, params

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        frozen = self._frozen or self._freeze()
        kind = scope["type"]
        if self.root_path and not scope.get("root_path"):
            scope["root_path"] = self.root_path
        if kind == "http":
            early = scope.get(_EARLY_MATCH)
            # PERF(production): the very method, path and root_path objects the early match saw
            # mean no middleware changed them: no second route path to compute (~0.2 us).
            if (
                early is not None
                and early[0] is scope["method"]
                and early[1] is scope["path"]
                and early[2] is scope.get("root_path")
            ):
                target, params = early[3], early[4]
            else:
                path = _route_path(scope)
                found, params = self._resolve(frozen, scope, path)
                if found is None:
                    await self._serve_mount(path, scope, receive, send)
                    return
                target = found
                if early is not None:
                    # A middleware changed the method or path: what it reports is the new route.
                    route = frozen.route_of.get(target)
                    if route is None:
                        scope.pop("route", None)
                    else:
                        scope["route"] = route
            await target(scope, receive, send, params)
        elif kind == "lifespan":
            receive, send = self._watch_lifespan(receive, send)
            await Lifespan(
                self,
                self._lifespan_factory,
                self.on_startup,
                self.on_shutdown,
                self._startup,
                self._shutdown,
                shutdown_timeout=self.shutdown_timeout,
            )(scope, receive, send)
        elif kind == "websocket":
            path = _route_path(scope)
            scope["app"] = self
            socket, params, _ = frozen.sockets.find("GET", path)
            if socket is None and self._mounts and await self._serve_mount(path, scope, receive, send):
                return
            if socket is None:
                await refuse_handshake(WebSocket(scope, receive, send), _NO_SOCKET, "Not Found")
                return
            scope["path_params"] = params
            await socket.serve(scope, receive, send, params)

    def _watch_lifespan(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """Wrap the lifespan channel so `lifecycle` follows startup and shutdown (for readiness)."""

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.lifecycle = Lifecycle.STARTING
            elif message["type"] == "lifespan.shutdown":
                self.lifecycle = Lifecycle.STOPPING
            return message

        async def watched_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self.lifecycle = Lifecycle.RUNNING
            await send(message)

        return watched_receive, watched_send

    def _miss(self, frozen: _Frozen, method: str, path: str, allowed: set[str]) -> EndpointLike:
        if allowed:
            allow = ", ".join(sorted(allowed))
            endpoint = frozen.method_errors.get(allow)
            if endpoint is None:
                endpoint = frozen.method_errors[allow] = ErrorEndpoint(frozen.runtime, 405, {"Allow": allow})
            return endpoint.serve
        if self.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            target, _, _ = frozen.table.find(method, other)
            if target is not None:
                return RedirectEndpoint(other)
        return frozen.not_found.serve

    def _mount_for(self, path: str) -> tuple[str, ASGIApp] | None:
        """The mount serving `path` (its prefix and app), if any."""
        for prefix, app, _ in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, app
        return None

    async def _serve_mount(self, path: str, scope: Scope, receive: Receive, send: Send) -> bool:
        mount = self._mount_for(path)
        if mount is None:
            return False
        prefix, app = mount
        # The mounted app keeps the full path and learns its prefix from root_path.
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + prefix
        child.pop(_EARLY_MATCH, None)
        try:
            await app(child, receive, send)
        finally:
            # A mounted lanner app's 500: the test client re-raises it from here.
            if SERVER_EXCEPTION_KEY in child:
                scope[SERVER_EXCEPTION_KEY] = child[SERVER_EXCEPTION_KEY]
        return True

    async def _startup(self) -> None:
        frozen = self._frozen or self._freeze()
        plans = [e.plan for e in frozen.endpoints.values()] + [
            e.plan for e in frozen.socket_endpoints.values()
        ]
        for plan in plans:
            if plan.app_steps:
                await frozen.runtime.start_app_steps(plan)
        if self.freeze_gc and not self._holds_heap:
            # PERF(p99): a full collection of the 1,000-route benchmark app took ~110 ms.
            _heap.hold()
            self._holds_heap = True
        await start_batchers()

    async def _shutdown(self) -> None:
        # First: queued @batched calls still get their answers, and may use app-scoped values.
        await drain_batchers()
        if self._holds_heap:
            _heap.release()
            self._holds_heap = False
        await self._runtime.close_app_values()
        if self.sessions is not None:
            await self.sessions.aclose()  # a Redis store's connections


#: Where `Lanner._match_early` leaves its match for `_dispatch`: (method, path, root_path,
#: target, params), the first three as the objects the scope held.
_EARLY_MATCH = "lanner.early_match"


#: The answer to a WebSocket handshake for a path no WebSocket route serves.
_NO_SOCKET = ProblemResponse(404, "Not Found")


def _route_path(scope: Scope) -> str:
    """The path to route on: servers send root_path in front of it (ASGI spec 2.4)."""
    path: str = scope["path"]
    root_path = scope.get("root_path")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("", "/"):
        return path[len(root_path) :] or "/"
    return path
