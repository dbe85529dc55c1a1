"""The JSON scenario's app in FastAPI, with the add-ons FastAPI users reach for in production.

``create_app()`` builds ``GET /json`` → ``{"message": "hello"}`` (the handler of
``benchmarks/apps/fastapi_app.py``) and adds the pieces named in ``features`` (by default those of
the ``BENCH_PRODUCTION_FEATURES`` environment variable), each the way its documentation or the
usual tutorials write it:

- ``request_id``: an ``@app.middleware("http")`` function that takes ``X-Request-ID`` or makes a
  UUID, keeps it in a context variable and sends it back (asgi-correlation-id is not installed);
- ``access_log``: an ``@app.middleware("http")`` function logging one JSON line per request
  through `logging` to a file;
- ``metrics``: ``Instrumentator().instrument(app).expose(app)`` (prometheus-fastapi-instrumentator);
- ``cors``: Starlette's ``CORSMiddleware`` allowing the browser's origin;
- ``gzip``: Starlette's ``GZipMiddleware`` with its defaults;
- ``security_headers``: an ``@app.middleware("http")`` function setting the same headers as
  lanner's `SecurityHeadersMiddleware` does by default;
- ``rate_limit``: slowapi's ``@limiter.limit(...)`` on the route, in memory, keyed by
  ``get_remote_address``.

Middleware are added innermost first, so the order from the outside in is lanner's: request id,
metrics, access log, security headers, CORS, compression.

With ``pure_asgi`` (or ``BENCH_PRODUCTION_PURE_ASGI=1``), the three hand-written pieces are pure
ASGI middleware classes instead, which skip the extra task and streams of Starlette's
``BaseHTTPMiddleware``: what a careful FastAPI user could write.
"""

import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks.production import (
    ORIGIN,
    PURE_ASGI_ENV,
    RATE,
    SECURITY_HEADERS,
    access_log_path,
    attach_access_log_file,
    chosen_features,
)

ACCESS_LOGGER = "production.access"
"""The logger of the FastAPI app's access log."""

_CallNext = Callable[[Request], Awaitable[Response]]

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being served, as request-id middleware of FastAPI apps keep it."""


def create_app(
    features: Iterable[str] | None = None,
    *,
    access_log: str | None = None,
    rate: str = RATE,
    pure_asgi: bool | None = None,
) -> FastAPI:
    """Build the FastAPI app with the chosen production pieces.

    Args:
        features: Names from `benchmarks.production.FEATURES` (None: read them from the
            environment, all of them when it does not say).
        access_log: The file the access log goes to (None: `benchmarks.production.access_log_path`).
        rate: The rate limit, far above anything a benchmark sends unless a test lowers it.
        pure_asgi: Write request id, access log and security headers as pure ASGI classes
            (None: as `benchmarks.production.PURE_ASGI_ENV` says, else not).

    Returns:
        The FastAPI application.

    Raises:
        ValueError: If a feature name is unknown.
        ImportError: If slowapi or prometheus-fastapi-instrumentator is missing.
    """
    chosen = chosen_features(features)
    if pure_asgi is None:
        pure_asgi = os.environ.get(PURE_ASGI_ENV) == "1"
    app = FastAPI()
    _add_route(app, rate if "rate_limit" in chosen else None)
    if "gzip" in chosen:
        from starlette.middleware.gzip import GZipMiddleware

        app.add_middleware(GZipMiddleware)
    if "cors" in chosen:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN])
    if "security_headers" in chosen:
        if pure_asgi:
            app.add_middleware(SecurityHeadersMiddleware)
        else:
            app.middleware("http")(_security_headers)
    if "access_log" in chosen:
        attach_access_log_file(ACCESS_LOGGER, access_log or access_log_path("fastapi"))
        if pure_asgi:
            app.add_middleware(AccessLogMiddleware)
        else:
            app.middleware("http")(_access_log)
    if "metrics" in chosen:
        from prometheus_client import CollectorRegistry
        from prometheus_fastapi_instrumentator import Instrumentator

        # A registry per app: several apps live in one process while measured in process.
        Instrumentator(registry=CollectorRegistry()).instrument(app).expose(app)
    if "request_id" in chosen:
        if pure_asgi:
            app.add_middleware(RequestIDMiddleware)
        else:
            app.middleware("http")(_request_id)
    return app


def _add_route(app: FastAPI, rate: str | None) -> None:
    if rate is None:

        @app.get("/json")
        async def json_get() -> dict[str, Any]:
            return {"message": "hello"}

        return
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address

    limiter = Limiter(key_func=get_remote_address)
    app.state.limiter = limiter
    # slowapi's documented line; its handler takes the narrower RateLimitExceeded.
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    @app.get("/json")
    @limiter.limit(rate)
    async def json_limited(request: Request) -> dict[str, Any]:
        return {"message": "hello"}


async def _request_id(request: Request, call_next: _CallNext) -> Response:
    request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
    token = request_id_var.set(request_id)
    try:
        response = await call_next(request)
    finally:
        request_id_var.reset(token)
    response.headers["X-Request-ID"] = request_id
    return response


async def _access_log(request: Request, call_next: _CallNext) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    client = request.client.host if request.client else None
    user_agent = request.headers.get("user-agent")
    _log_access(request.method, request.url.path, response.status_code, start, client, user_agent)
    return response


def _log_access(
    method: str, path: str, status: int, start: float, client: str | None, user_agent: str | None
) -> None:
    record = {
        "time": time.time(),
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
        "client": client,
        "user_agent": user_agent,
        "request_id": request_id_var.get(),
    }
    logging.getLogger(ACCESS_LOGGER).info(json.dumps(record))


async def _security_headers(request: Request, call_next: _CallNext) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS:
        response.headers[name] = value
    return response


class RequestIDMiddleware:
    """`_request_id` as a pure ASGI middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its id in `request_id_var` and the ``X-Request-ID`` header."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        request_id = incoming.decode("latin-1") or str(uuid.uuid4())
        encoded = request_id.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", encoded)]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class AccessLogMiddleware:
    """`_access_log` as a pure ASGI middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, then log its JSON line."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_watching)
        headers = dict(scope["headers"])
        client = scope["client"][0] if scope.get("client") else None
        user_agent = headers[b"user-agent"].decode("latin-1") if b"user-agent" in headers else None
        _log_access(scope["method"], scope["path"], status, start, client, user_agent)


class SecurityHeadersMiddleware:
    """`_security_headers` as a pure ASGI middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, adding the headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
