"""The JSON scenario's app in lanner, with any part of the production stack switched on.

``create_app()`` builds ``GET /json`` → ``{"message": "hello"}`` (the handler of
``benchmarks/apps/lanner_app.py``) and adds the production pieces named in ``features`` (by
default those of the ``BENCH_PRODUCTION_FEATURES`` environment variable, so that a server started
with ``--factory`` gets the set `benchmarks.production` asks for). Each piece is written the way
lanner's documentation teaches:

- ``request_id``: `RequestIDMiddleware`;
- ``access_log``: ``Lanner(access_log="json")``, its ``lanner.access`` logger writing JSON lines
  to a file (a ``FileHandler`` with lanner's ``JSONFormatter``);
- ``metrics``: ``Lanner(metrics_url="/metrics")`` (Prometheus);
- ``cors``: `CORSMiddleware` allowing the browser's origin;
- ``gzip``: `GZipMiddleware` with its defaults;
- ``security_headers``: `SecurityHeadersMiddleware` with its defaults;
- ``rate_limit``: ``rate_limit=RateLimit(...)`` on the route, in memory, keyed by client address.

The production modules are imported inside the factory, so this module imports without them.
"""

from collections.abc import Iterable
from typing import Any

from benchmarks.production import (
    ORIGIN,
    RATE,
    access_log_path,
    attach_access_log_file,
    chosen_features,
)
from lanner import Lanner


def create_app(
    features: Iterable[str] | None = None, *, access_log: str | None = None, rate: str = RATE
) -> Lanner:
    """Build the lanner app with the chosen production pieces.

    Args:
        features: Names from `benchmarks.production.FEATURES` (None: read them from the
            environment, all of them when it does not say).
        access_log: The file the access log goes to (None: `benchmarks.production.access_log_path`).
        rate: The rate limit, far above anything a benchmark sends unless a test lowers it.

    Returns:
        The lanner application.

    Raises:
        ValueError: If a feature name is unknown.
        ImportError: If a production module of lanner is missing.
    """
    chosen = chosen_features(features)
    if "access_log" in chosen:
        from lanner.observability import ACCESS_LOGGER, JSONFormatter

        # Before the app exists: the access log adds a stderr handler to a logger without one.
        path = access_log or access_log_path("lanner")
        attach_access_log_file(ACCESS_LOGGER, path, JSONFormatter())
    app = Lanner(
        access_log="json" if "access_log" in chosen else None,
        metrics_url="/metrics" if "metrics" in chosen else None,
    )
    if "request_id" in chosen:
        from lanner.middleware.request_id import RequestIDMiddleware

        app.add_middleware(RequestIDMiddleware)
    if "cors" in chosen:
        from lanner.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN])
    if "gzip" in chosen:
        from lanner.middleware.compression import GZipMiddleware

        app.add_middleware(GZipMiddleware)
    if "security_headers" in chosen:
        from lanner.middleware.security_headers import SecurityHeadersMiddleware

        app.add_middleware(SecurityHeadersMiddleware)
    limit = None
    if "rate_limit" in chosen:
        from lanner.ratelimit import RateLimit

        limit = RateLimit(rate)

    @app.get("/json", rate_limit=limit)
    async def json_get() -> dict[str, Any]:
        return {"message": "hello"}

    return app
