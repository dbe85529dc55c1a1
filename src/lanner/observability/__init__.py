"""Observability: access logs, request ids in every log record, metrics, tracing and health.

`AccessLogMiddleware` logs one line per request (JSON or text) on ``lanner.access``;
`JSONFormatter` renders any log record as one JSON object per line. Request ids live in
`lanner.middleware.request_id`. `PrometheusMetrics` and `MetricsMiddleware` count requests
(``app.metrics()``); `TracingMiddleware` opens an OpenTelemetry span per request
(``Lanner(tracing=True)``). ``app.health()`` and ``app.ready()`` serve the probes of `health`.
"""

from lanner.observability._log_format import JSONFormatter, TextFormatter
from lanner.observability.access_log import ACCESS_LOGGER, AccessLogMiddleware
from lanner.observability.health import Lifecycle, ReadinessCheck
from lanner.observability.metrics import (
    DEFAULT_BUCKETS,
    OTHER_METHOD,
    UNMATCHED_ROUTE,
    MetricsMiddleware,
    PrometheusMetrics,
)
from lanner.observability.tracing import TracingMiddleware, get_tracer, traced_call

__all__ = [
    "ACCESS_LOGGER",
    "DEFAULT_BUCKETS",
    "OTHER_METHOD",
    "UNMATCHED_ROUTE",
    "AccessLogMiddleware",
    "JSONFormatter",
    "Lifecycle",
    "MetricsMiddleware",
    "PrometheusMetrics",
    "ReadinessCheck",
    "TextFormatter",
    "TracingMiddleware",
    "get_tracer",
    "traced_call",
]
