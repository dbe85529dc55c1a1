"""Prometheus metrics for HTTP requests: counts, latencies, requests in flight and exceptions.

`PrometheusMetrics` owns the metric objects and renders the exposition; `MetricsMiddleware` records
every HTTP request into them. Labels never hold raw paths: a request is labelled by its route
template (``/items/{id}``), or by `UNMATCHED_ROUTE` when no route matched, so a scanner probing
random URLs adds no series. prometheus-client is an optional dependency (``lanner[metrics]``),
imported when a `PrometheusMetrics` is created.

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the
workers before they start: the values then live in files there (prometheus-client's multiprocess
mode) and every worker's exposition sums them all.
"""

from __future__ import annotations

import functools
import math
import os
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar

from lanner.errors import SERVER_EXCEPTION_KEY
from lanner.middleware.timeout import TIMED_OUT_STATUS
from lanner.requests import Request
from lanner.responses import Response
from lanner.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:  # prometheus-client is optional: its names are only needed for type checks.
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

#: The route label of requests no route matched (404s, 405s, mounted apps).
UNMATCHED_ROUTE = "<unmatched>"
#: The method label of requests whose method is not one of the standard HTTP methods.
OTHER_METHOD = "other"
#: Latency histogram bucket bounds in seconds (prometheus-client's defaults; +Inf is implied).
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_LABELS = ("method", "route", "status")
# Requests recorded before they are added to the metrics (in a single process).
_BATCH = 1024


def _status_class(status: int) -> str:
    # No response (an exception before it started) is answered with a 500 further out.
    return _STATUS_CLASSES.get(status // 100, "5xx")


def _exception_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _accept(scope: Scope | None) -> str:
    if scope is None:
        return ""
    return ",".join(value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"accept")


class PrometheusMetrics:
    """The HTTP metrics of one application, and their Prometheus exposition.

    Metrics (with the default namespace): ``lanner_http_requests_total`` and
    ``lanner_http_request_duration_seconds`` labelled by ``method`` (standard methods, else
    "other"), ``route`` (the route template, or `UNMATCHED_ROUTE`) and ``status`` (the status class:
    "2xx", "4xx"...); ``lanner_http_requests_in_flight``; ``lanner_http_exceptions_total``
    labelled by ``route`` and ``exception`` (the exception's qualified class name).

    In a single process, requests are added to the metric objects in batches, and whenever the
    registry is collected (a scrape, ``registry.get_sample_value``), so what the registry
    exposes is always up to date, while the objects themselves may lag a batch behind.

    Args:
        registry: where the metrics are registered and what `render` exposes; a new
            ``CollectorRegistry`` by default, so several apps in one process do not clash. In
            multiprocess mode a ``MultiProcessCollector`` is added to it and the metric objects
            themselves are not registered (their values are read back from the shared files).
        namespace: the prefix of every metric name.
        buckets: the latency histogram's bucket bounds, in seconds.
        multiprocess: use prometheus-client's multiprocess mode; by default, when the
            ``PROMETHEUS_MULTIPROC_DIR`` environment variable is set.

    Raises:
        ImportError: prometheus-client is not installed.
        ValueError: multiprocess mode without ``PROMETHEUS_MULTIPROC_DIR``.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        namespace: str = "lanner",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        multiprocess: bool | None = None,
    ) -> None:
        try:
            import prometheus_client
            from prometheus_client import multiprocess as multiprocess_module
        except ImportError as exc:
            raise ImportError(
                "PrometheusMetrics needs prometheus-client: pip install 'lanner[metrics]'"
            ) from exc
        if multiprocess is None:
            multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        elif multiprocess and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise ValueError("multiprocess metrics need the PROMETHEUS_MULTIPROC_DIR environment variable")
        self.multiprocess = multiprocess
        self.registry = registry if registry is not None else prometheus_client.CollectorRegistry()
        if multiprocess:
            multiprocess_module.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        # In multiprocess mode the values are read from the files, never from these objects; in a
        # single process `_Collector` registers them, bringing them up to date when collected.
        target = None
        self.requests_total = prometheus_client.Counter(
            "http_requests", "HTTP requests answered.", _LABELS, namespace=namespace, registry=target
        )
        self.request_duration = prometheus_client.Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to its last response byte, in seconds.",
            _LABELS,
            namespace=namespace,
            registry=target,
            buckets=tuple(buckets),
        )
        self.requests_in_flight = prometheus_client.Gauge(
            "http_requests_in_flight",
            "HTTP requests being served.",
            namespace=namespace,
            registry=target,
            multiprocess_mode="livesum",
        )
        if multiprocess:
            self._request_started: Callable[[], None] = self.requests_in_flight.inc
            self._request_finished: Callable[[], object] = self.requests_in_flight.dec
        else:
            # PERF(middleware overhead): a deque's append and pop are atomic and ~10x cheaper than
            # the gauge's locked inc and dec (0.75 us a request); the gauge reads its length.
            in_flight: deque[None] = deque()
            self._request_started = functools.partial(in_flight.append, None)
            self._request_finished = in_flight.pop
            self.requests_in_flight.set_function(in_flight.__len__)
        self.exceptions_total = prometheus_client.Counter(
            "http_exceptions",
            "Unhandled exceptions raised while serving HTTP requests.",
            ("route", "exception"),
            namespace=namespace,
            registry=target,
        )
        self._encoders = prometheus_client.exposition.choose_encoder
        # The histogram's bucket bounds as prometheus-client keeps them, +Inf last.
        self._upper_bounds = [float(bound) for bound in buckets]
        if not self._upper_bounds or self._upper_bounds[-1] != math.inf:
            self._upper_bounds.append(math.inf)
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._exception_children: dict[tuple[str, str], Any] = {}
        # PERF(production, metrics): a request is one append to this deque (atomic, no lock,
        # ~40 ns) and its share of a `_flush` (~60 ns), which adds them up into the metrics by
        # the batch and before every collection, instead of a locked counter increment and
        # histogram observation per request (~1.3 us). In multiprocess mode every request is
        # written at once, since other processes read the files.
        self._pending: deque[tuple[tuple[str, str, int], float]] = deque()
        self._batch = 1 if multiprocess else _BATCH
        if not multiprocess:
            self.registry.register(_Collector(self))

    def record(self, method: str, route: str, status: int, duration: float) -> None:
        """Count one answered request and observe its duration.

        Args:
            method: the request's method, as received (non-standard ones are counted as "other").
            route: the matched route's template, or `UNMATCHED_ROUTE`.
            status: the response's status code (0 when none was sent: counted as a 5xx).
            duration: seconds from the request's arrival to its last response byte.
        """
        self._pending.append(((method, route, status), duration))
        if len(self._pending) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        """Add the requests recorded since the last flush to the metrics."""
        pending = self._pending
        grouped: dict[tuple[str, str, int], list[float]] = {}
        # Another thread may flush at the same time: each takes whichever requests it pops.
        for _ in range(len(pending)):
            try:
                key, duration = pending.popleft()
            except IndexError:
                break
            durations = grouped.get(key)
            if durations is None:
                grouped[key] = [duration]
            else:
                durations.append(duration)
        for (method, route, status), durations in grouped.items():
            counter, histogram = self._children_for(method, route, status)
            counter.inc(len(durations))
            self._observe(histogram, durations)

    def _children_for(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method if method in _METHODS else OTHER_METHOD, route, _status_class(status))
        children = self._children.get(key)
        if children is None:
            children = self.requests_total.labels(*key), self.request_duration.labels(*key)
            self._children[key] = children
        return children

    def _observe(self, histogram: Any, durations: list[float]) -> None:
        """Observe every duration in `durations` (in any order) with `histogram`, a child."""
        buckets = getattr(histogram, "_buckets", None)
        total = getattr(histogram, "_sum", None)
        if buckets is None or total is None or len(buckets) != len(self._upper_bounds):
            for duration in durations:  # a prometheus-client whose histogram we do not know
                histogram.observe(duration)
            return
        # A histogram's buckets each count the observations up to their bound and above the
        # previous one: in sorted durations those are a slice, found by bisection.
        total.inc(sum(durations))
        durations.sort()
        counted = 0
        for bucket, bound in zip(buckets, self._upper_bounds, strict=True):
            upto = bisect_right(durations, bound)
            if upto > counted:
                bucket.inc(upto - counted)
                counted = upto
                if counted == len(durations):
                    break

    def record_exception(self, route: str, exc: BaseException) -> None:
        """Count an exception that escaped the application's handlers on `route`."""
        key = (route, _exception_name(exc))
        child = self._exception_children.get(key)
        if child is None:
            child = self._exception_children[key] = self.exceptions_total.labels(*key)
        child.inc()

    def render(self, scope: Scope | None = None) -> tuple[bytes, str]:
        """The exposition of the registry, and its content type.

        The Prometheus text format, or OpenMetrics when the request's ``Accept`` header asks for
        ``application/openmetrics-text``.

        Args:
            scope: the scrape request's ASGI scope (a ``Request``'s ``.scope``), for its ``Accept``.

        Returns:
            ``(body, content_type)``.
        """
        encoder, content_type = self._encoders(_accept(scope))
        return encoder(self.registry), content_type

    def handler(self) -> Callable[[Request], Awaitable[Response]]:
        """A route handler answering with the exposition: ``app.add_route("/metrics", m.handler())``."""

        async def metrics(request: Request) -> Response:
            body, content_type = self.render(request.scope)
            return Response(body, headers={"cache-control": "no-store"}, media_type=content_type)

        return metrics

    async def endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An ASGI app answering GET and HEAD with the exposition (405 otherwise).

        Mount it (``app.mount("/metrics", metrics.endpoint)``) or serve `render` from a route.
        """
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            headers = [(b"allow", b"GET, HEAD"), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body, content_type = self.render(scope)
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


class _Collector:
    """What a single process's registry collects: the metrics, once the pending requests are in."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics
        self._members = (
            metrics.requests_total,
            metrics.request_duration,
            metrics.requests_in_flight,
            metrics.exceptions_total,
        )

    def describe(self) -> Iterator[Metric]:
        for member in self._members:
            yield from member.describe()

    def collect(self) -> Iterator[Metric]:
        self._metrics._flush()
        for member in self._members:
            yield from member.collect()


class MetricsMiddleware:
    """Pure ASGI middleware recording every HTTP request into a `PrometheusMetrics`.

    The duration runs from the request's arrival until its last body message was sent. The route
    label is read from ``scope["route"]`` (set by the app) once the request is over. Exceptions
    that leave the app, and those the app answered with a 500 itself (recorded in the scope under
    ``SERVER_EXCEPTION_KEY``), are counted; the former are re-raised. Other scope types pass
    through untouched.

    Args:
        app: the ASGI application to wrap.
        metrics: where to record; a new `PrometheusMetrics` by default.
    """

    layer: ClassVar[int] = 50

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics if metrics is not None else PrometheusMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request and record it.

        Raises:
            Exception: whatever the app raises, after counting it.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        earlier = scope.get(SERVER_EXCEPTION_KEY)
        watcher = _Watcher(send)
        metrics._request_started()
        failure: BaseException | None = None
        start = perf_counter()
        try:
            await self.app(scope, receive, watcher.send)
        except Exception as exc:
            failure = exc
            raise
        finally:
            end = watcher.end or perf_counter()
            metrics._request_finished()
            route = getattr(scope.get("route"), "path", UNMATCHED_ROUTE)
            # `metrics.record`, inlined: a call less.
            pending = metrics._pending
            # No status sent: a timeout answered for the app outside this layer (its 408 or 504), or
            # the request failed or its client left (counted as a 5xx).
            status = watcher.status or scope.get(TIMED_OUT_STATUS, 0)
            pending.append(((scope["method"], route, status), end - start))
            if len(pending) >= metrics._batch:
                metrics._flush()
            if failure is None:
                answered = scope.get(SERVER_EXCEPTION_KEY)
                if answered is not None and answered is not earlier:
                    failure = answered
            if failure is not None:
                metrics.record_exception(route, failure)


class _Watcher:
    """The ``send`` of one request: notes the response's status and when its last byte went."""

    __slots__ = ("_send", "end", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.end = 0.0

    # PERF(production, metrics): a plain function handing back the server's awaitable runs one
    # coroutine less per message than an ``async def`` wrapper, ~0.15 us a request; only the
    # final body message, after which the clock is read, takes one (`_send_last`).
    def send(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif not self.end and not message.get("more_body", False):
            return self._send_last(message)
        return self._send(message)

    async def _send_last(self, message: Message) -> None:
        await self._send(message)
        self.end = perf_counter()
