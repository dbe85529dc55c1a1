"""FastAPI (and Starlette) → lanner: the names table and the call rules, as data.

`TABLE` drives the generic codemod in `lanner.migrate._codemod`; extend a `Group` or add one to
map more names, and the docs table (``docs/migrating-from-fastapi.md``) follows (a test checks it).
"""

from __future__ import annotations

from lanner.migrate._table import CallRule, Group, MethodRule, Table, keywords, words

SOCKET_VALIDATION = (
    "lanner refuses a WebSocket handshake whose parameters fail validation with a 422 problem "
    "document (or closes with 1008 when the server cannot answer the handshake over HTTP)"
)
NO_SOCKET_ROUTE_CLASS = "lanner's WebSocket routes have no custom route class"
MIDDLEWARE = (
    "lanner has no middleware of this kind (it has CORS, GZip, TrustedHost, HTTPSRedirect and "
    "WSGI mounts); write it as pure ASGI middleware and add it with app.add_middleware()"
)
FAST_JSON = "lanner's JSONResponse already serializes with pydantic's fast serializer"

_SECURITY = words(
    "APIKeyCookie APIKeyHeader APIKeyQuery HTTPAuthorizationCredentials HTTPBasic HTTPBasicCredentials "
    "HTTPBearer HTTPDigest OAuth2 OAuth2AuthorizationCodeBearer OAuth2PasswordBearer "
    "OAuth2PasswordRequestForm OAuth2PasswordRequestFormStrict OpenIdConnect SecurityScopes"
)
_SECURITY_MODULES = (
    "fastapi.security",
    "fastapi.security.api_key",
    "fastapi.security.http",
    "fastapi.security.oauth2",
    "fastapi.security.open_id_connect_url",
)
_MARKERS = words("Body Cookie Depends File Form Header Path Query Security")

GROUPS = (
    Group(
        ("fastapi",),
        "lanner",
        (
            "FastAPI=Lanner",
            "APIRouter=Router",
            *words(
                "BackgroundTasks Body Cookie Depends File Form Header HTTPException Path Query Request "
                "Response Security UploadFile status"
            ),
        ),
    ),
    Group(("fastapi.applications",), "lanner", ("FastAPI=Lanner",)),
    Group(("fastapi.routing",), "lanner", ("APIRouter=Router",)),
    Group(("fastapi.routing",), "lanner.routing", ("APIRoute",)),
    Group(("fastapi.param_functions", "fastapi.params"), "lanner.params", _MARKERS),
    Group(_SECURITY_MODULES, "lanner.security", _SECURITY),
    Group(
        ("fastapi.responses", "starlette.responses"),
        "lanner.responses",
        words(
            "Response JSONResponse HTMLResponse PlainTextResponse RedirectResponse StreamingResponse "
            "FileResponse"
        ),
    ),
    Group(
        ("fastapi.responses",),
        "lanner.responses",
        ("ORJSONResponse=JSONResponse", "UJSONResponse=JSONResponse"),
        FAST_JSON,
    ),
    Group(("fastapi.testclient", "starlette.testclient"), "lanner.testing", ("TestClient",)),
    Group(("fastapi.staticfiles", "starlette.staticfiles"), "lanner.staticfiles", ("StaticFiles",)),
    Group(
        ("fastapi.templating", "starlette.templating"), "lanner.templating", ("Jinja2Templates=Templates",)
    ),
    Group(("fastapi.encoders",), "lanner.encoders", ("jsonable_encoder",)),
    Group(
        ("fastapi.exceptions",),
        "lanner.exceptions",
        words("HTTPException RequestValidationError ResponseValidationError"),
    ),
    Group(("starlette.exceptions",), "lanner.exceptions", ("HTTPException",)),
    Group(
        ("fastapi.exception_handlers",),
        "lanner.errors",
        words("http_exception_handler request_validation_exception_handler"),
    ),
    Group(("fastapi.openapi.utils",), "lanner.openapi", ("get_openapi",)),
    Group(
        ("fastapi.openapi.docs",),
        "lanner.openapi",
        words("get_swagger_ui_html get_redoc_html get_swagger_ui_oauth2_redirect_html"),
    ),
    Group(("fastapi.requests", "starlette.requests"), "lanner.requests", ("Request", "HTTPConnection")),
    Group(("fastapi.background", "starlette.background"), "lanner.background", ("BackgroundTasks",)),
    Group(
        ("fastapi.concurrency", "starlette.concurrency"),
        "lanner.concurrency",
        words("run_in_threadpool iterate_in_threadpool"),
    ),
    Group(
        ("fastapi.datastructures", "starlette.datastructures"),
        "lanner.datastructures",
        words("URL Address Headers MutableHeaders QueryParams State"),
    ),
    Group(
        ("fastapi.datastructures", "starlette.datastructures"), "lanner.forms", words("UploadFile FormData")
    ),
    Group(("starlette",), "lanner", ("status",)),
    Group(("fastapi.status", "starlette.status"), "lanner.status", ("*",)),
    Group(("starlette.types",), "lanner.types", words("ASGIApp Message Receive Scope Send")),
    Group(("fastapi",), "lanner", words("WebSocket WebSocketDisconnect WebSocketException")),
    Group(
        ("fastapi.websockets", "starlette.websockets"),
        "lanner.websockets",
        words("WebSocket WebSocketDisconnect WebSocketState"),
    ),
    Group(("fastapi.exceptions", "starlette.exceptions"), "lanner.websockets", ("WebSocketException",)),
    Group(("fastapi.routing",), None, ("APIWebSocketRoute",), NO_SOCKET_ROUTE_CLASS),
    Group(("fastapi.exceptions",), None, ("WebSocketRequestValidationError",), SOCKET_VALIDATION),
    Group(
        ("fastapi.exception_handlers",),
        None,
        ("websocket_request_validation_exception_handler",),
        SOCKET_VALIDATION,
    ),
    Group(
        ("fastapi.sse",),
        "lanner.sse",
        words("EventSourceResponse ServerSentEvent"),
        "lanner sends a str event's data as is, as raw_data= does (FastAPI JSON-encodes a str data)",
    ),
    Group(("fastapi.sse",), None, ("*",), "lanner.sse has EventSourceResponse and ServerSentEvent only"),
    *(
        Group((f"fastapi.middleware.{kind}", f"starlette.middleware.{kind}"), "lanner.middleware", (name,))
        for kind, name in (
            ("cors", "CORSMiddleware"),
            ("gzip", "GZipMiddleware"),
            ("trustedhost", "TrustedHostMiddleware"),
            ("httpsredirect", "HTTPSRedirectMiddleware"),
        )
    ),
    Group(
        ("fastapi.middleware.wsgi", "starlette.middleware.wsgi"),
        "lanner.wsgi",
        ("WSGIMiddleware=WSGIMount",),
        "app.mount(prefix, WSGIMount(flask_app)) serves it; app.mount_wsgi(prefix, flask_app) says the same",
    ),
    Group(("fastapi.middleware", "starlette.middleware"), None, ("*",), MIDDLEWARE),
    Group(
        ("starlette.background",),
        None,
        ("BackgroundTask",),
        "lanner has no single BackgroundTask; use lanner.background.BackgroundTasks",
    ),
)

# -- keywords ---------------------------------------------------------------------------------

LANNER_KEYWORDS = keywords(
    "debug title version description lifespan on_startup on_shutdown dependencies redirect_slashes",
    "exception_handlers openapi_url docs_url redoc_url summary servers openapi_tags contact",
    "license_info terms_of_service responses default_response_class callbacks webhooks",
    "swagger_ui_parameters swagger_ui_oauth2_redirect_url swagger_ui_init_oauth",
    "generate_unique_id_function openapi_compat strict_content_type separate_input_output_schemas",
    "root_path",
)
ROUTER_KEYWORDS = keywords(
    "prefix tags dependencies responses default_response_class route_class callbacks deprecated",
    "include_in_schema generate_unique_id_function",
)
ROUTE_KEYWORDS = keywords(
    "path response_model status_code tags dependencies summary description response_description",
    "responses deprecated operation_id response_model_include response_model_exclude",
    "response_model_by_alias response_model_exclude_unset response_model_exclude_defaults",
    "response_model_exclude_none include_in_schema response_class name callbacks openapi_extra",
    "generate_unique_id_function strict_content_type",
)
INCLUDE_KEYWORDS = keywords(
    "router prefix tags dependencies responses default_response_class deprecated include_in_schema",
    "callbacks generate_unique_id_function",
)
PARAM_KEYWORDS = keywords(
    "default alias ge gt le lt min_length max_length pattern title description examples deprecated",
    "include_in_schema",
)

_PARAM_RENAMES = {"regex": "pattern", "example": "examples"}


def _param(label: str, *extra: str) -> CallRule:
    return CallRule(
        label,
        accepted=keywords(PARAM_KEYWORDS, extra),
        renames=_PARAM_RENAMES,
        listify=frozenset({"example"}),
        signature="lanner.params:Param",
    )


_ROUTE = CallRule("route decorator", accepted=ROUTE_KEYWORDS, signature="lanner.routing:RouteOptions")
_WEBSOCKET_KEYWORDS = keywords("path name dependencies")
_WEBSOCKET_ROUTE = MethodRule(
    call=CallRule("websocket()", _WEBSOCKET_KEYWORDS, signature="lanner.routing:Router.add_websocket_route")
)
_ADD_WEBSOCKET_ROUTE = MethodRule(
    rename="add_websocket_route",
    call=CallRule(
        "add_websocket_route()",
        keywords(_WEBSOCKET_KEYWORDS, "handler"),
        renames={"endpoint": "handler", "route": "handler"},
        signature="lanner.routing:Router.add_websocket_route",
    ),
)

CALLS = {
    "Lanner": CallRule(
        "Lanner()",
        accepted=LANNER_KEYWORDS,
        reasons={
            "middleware": "Lanner() takes no middleware list; call app.add_middleware() for each",
            "openapi_prefix": "deprecated in FastAPI; use root_path=",
            "routes": "declare routes with decorators or app.include_router()",
        },
        # FastAPI's default title is part of the document a migrated app must keep.
        add={"title": '"FastAPI"', "openapi_compat": '"fastapi"'},
        signature="lanner.app:Lanner",
    ),
    "Router": CallRule("Router()", accepted=ROUTER_KEYWORDS, signature="lanner.routing:Router"),
    "Query": _param("Query()"),
    "Path": _param("Path()"),
    "Cookie": _param("Cookie()"),
    "Header": _param("Header()", "convert_underscores"),
    "Body": _param("Body()", "embed", "media_type"),
    "Form": _param("Form()", "media_type"),
    "File": _param("File()", "media_type"),
    "Depends": CallRule(
        "Depends()",
        accepted=keywords("dependency use_cache"),
        reasons={
            "scope": "lanner's Depends(scope=) is 'request' (the default) or 'app' (built once at "
            "startup); FastAPI's 'function' scope has no equivalent"
        },
        signature="lanner.params:Depends",
    ),
    "Security": CallRule(
        "Security()", accepted=keywords("dependency scopes use_cache"), signature="lanner.params:Security"
    ),
    "Templates": CallRule(
        "Templates()",
        reasons={
            "env": "Templates() builds its own Jinja2 environment; pass a loader as directory= and "
            "Environment options as keywords",
            "context_processors": "decorate each processor with @templates.context_processor",
        },
    ),
    "StaticFiles": CallRule(
        "StaticFiles()",
        reasons={"packages": "lanner's StaticFiles serves one directory; pass the package folder's path"},
    ),
    "TestClient": CallRule(
        "TestClient()",
        reasons={
            "backend": "lanner's TestClient always runs the app on asyncio",
            "backend_options": "lanner's TestClient always runs the app on asyncio",
        },
    ),
}

_ROUTER_METHODS = {
    **{verb: MethodRule(call=_ROUTE) for verb in words("get post put patch delete options head")},
    "api_route": MethodRule(
        rename="route",
        call=CallRule(
            "route()", keywords(ROUTE_KEYWORDS, "methods"), signature="lanner.routing:RouteOptions"
        ),
    ),
    "add_api_route": MethodRule(
        rename="add_route",
        call=CallRule(
            "add_route()",
            keywords(ROUTE_KEYWORDS, "methods handler"),
            renames={"endpoint": "handler"},
            signature="lanner.routing:RouteOptions",
        ),
    ),
    "include_router": MethodRule(
        call=CallRule("include_router()", INCLUDE_KEYWORDS, signature="lanner.routing:Router.include_router")
    ),
    "trace": MethodRule(reason="lanner serves no TRACE routes"),
    "websocket": _WEBSOCKET_ROUTE,
    "websocket_route": MethodRule(rename="websocket", call=_WEBSOCKET_ROUTE.call),
    "api_websocket_route": MethodRule(rename="websocket", call=_WEBSOCKET_ROUTE.call),
    "add_api_websocket_route": _ADD_WEBSOCKET_ROUTE,
    "add_websocket_route": _ADD_WEBSOCKET_ROUTE,
    "host": MethodRule(reason="lanner has no host-based routing yet"),
    "frontend": MethodRule(
        reason="lanner has no frontend(); serve the folder with app.static(prefix, directory, html=True)"
    ),
}

METHODS = {
    "Lanner": {
        **_ROUTER_METHODS,
        "mount": MethodRule(call=CallRule("mount()", renames={"path": "prefix"})),
        "add_event_handler": MethodRule(
            reason="append the function to app.on_startup or app.on_shutdown, or use lifespan="
        ),
        "router": MethodRule(reason="a Lanner app is its own Router: there is no app.router"),
        "openapi_schema": MethodRule(
            reason="lanner has no app.openapi_schema: app.openapi() caches the document itself; "
            "to change the document, replace app.openapi with a function that edits it"
        ),
    },
    "Router": _ROUTER_METHODS,
    "Templates": {
        "TemplateResponse": MethodRule(
            rename="render",
            call=CallRule(
                "Templates.render()",
                keywords("request name context status_code headers media_type"),
                reasons={"background": "Templates.render() takes no background tasks"},
                text_first="render() takes the request first: render(request, name, context)",
                signature="lanner.templating:Templates.render",
            ),
        ),
    },
}

TABLE = Table(
    source="fastapi",
    roots=("fastapi", "starlette"),
    groups=GROUPS,
    calls=CALLS,
    methods=METHODS,
    probes={"Lanner": "lanner.app:Lanner", "Router": "lanner.routing:Router"},
)
