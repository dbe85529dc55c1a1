import asyncio
import random
import string
import sys
from types import SimpleNamespace

import httpx
import pytest

from lanner import HTTPException, Lanner, Request
from lanner.observability.metrics import (
    OTHER_METHOD,
    UNMATCHED_ROUTE,
    MetricsMiddleware,
    PrometheusMetrics,
)
from lanner.responses import RedirectResponse, Response
from lanner.testing import TestClient

pytest.importorskip("prometheus_client")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def build_app(metrics: PrometheusMetrics) -> Lanner:
    app = Lanner()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_route("/metrics", metrics.handler(), ("GET",))

    @app.get("/items/{id}")
    async def read_item(id: int) -> dict[str, int]:
        return {"id": id}

    @app.post("/items", status_code=201)
    async def create_item() -> dict[str, bool]:
        return {"created": True}

    @app.get("/old")
    async def old() -> Response:
        return RedirectResponse("/items/1")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, "short and stout")

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("kaboom")

    return app


def value(metrics: PrometheusMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def requests_count(metrics: PrometheusMetrics, method: str, route: str, status: str) -> float | None:
    return value(metrics, "lanner_http_requests_total", method=method, route=route, status=status)


def series(metrics: PrometheusMetrics) -> list[str]:
    body, _ = metrics.render()
    return [line for line in body.decode().splitlines() if not line.startswith("#")]


def test_requests_are_labelled_by_route_template_not_path() -> None:
    metrics = PrometheusMetrics()
    with TestClient(build_app(metrics)) as client:
        for item in (42, 43, 44):
            assert client.get(f"/items/{item}").status_code == 200
        exposition = client.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = exposition.text
    assert 'lanner_http_requests_total{method="GET",route="/items/{id}",status="2xx"} 3.0' in text
    assert "/items/42" not in text
    assert requests_count(metrics, "GET", "/items/{id}", "2xx") == 3
    duration = "lanner_http_request_duration_seconds_count"
    assert value(metrics, duration, method="GET", route="/items/{id}", status="2xx") == 3
    total = value(
        metrics, "lanner_http_request_duration_seconds_sum", method="GET", route="/items/{id}", status="2xx"
    )
    assert total is not None and 0 < total < 3
    assert 'le="+Inf"' in text
    # The scrape itself is counted once it is over.
    assert requests_count(metrics, "GET", "/metrics", "2xx") == 1


def test_status_classes() -> None:
    metrics = PrometheusMetrics()
    with TestClient(build_app(metrics), raise_server_exceptions=False, follow_redirects=False) as client:
        assert client.get("/items/1").status_code == 200
        assert client.post("/items").status_code == 201
        assert client.get("/old").status_code in (302, 307)
        assert client.get("/teapot").status_code == 418
        assert client.get("/items/not-a-number").status_code == 422
        assert client.get("/boom").status_code == 500
        assert client.delete("/items/1").status_code == 405
    assert requests_count(metrics, "GET", "/items/{id}", "2xx") == 1
    assert requests_count(metrics, "POST", "/items", "2xx") == 1
    assert requests_count(metrics, "GET", "/old", "3xx") == 1
    assert requests_count(metrics, "GET", "/teapot", "4xx") == 1
    assert requests_count(metrics, "GET", "/items/{id}", "4xx") == 1
    assert requests_count(metrics, "GET", "/boom", "5xx") == 1
    assert requests_count(metrics, "DELETE", UNMATCHED_ROUTE, "4xx") == 1
    assert requests_count(metrics, "GET", "/old", "2xx") is None


def test_unhandled_exceptions_are_counted_by_type_and_route() -> None:
    metrics = PrometheusMetrics()
    app = build_app(metrics)

    class Exploding:
        def __init__(self, app: object) -> None:
            self.app = app

        async def __call__(self, scope: dict, receive: object, send: object) -> None:
            if scope["type"] == "http" and scope["path"] == "/items/13":
                raise LookupError("unlucky")
            await self.app(scope, receive, send)  # type: ignore[operator]

    app.add_middleware(Exploding)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/boom").status_code == 500
        # Raised inside MetricsMiddleware (a user middleware is further in): counted, re-raised,
        # and answered by the app's error boundary.
        assert client.get("/items/13").status_code == 500
        # Handled errors are not exceptions to count.
        assert client.get("/teapot").status_code == 418
        assert client.get("/items/1").status_code == 200
    name = "lanner_http_exceptions_total"
    assert value(metrics, name, route="/boom", exception="ValueError") == 2
    assert value(metrics, name, route="/items/{id}", exception="LookupError") == 1
    assert requests_count(metrics, "GET", "/items/{id}", "5xx") == 1
    assert value(metrics, name, route="/teapot", exception="lanner.exceptions.HTTPException") is None
    exceptions = [line for line in series(metrics) if line.startswith(name)]
    assert len(exceptions) == 2, exceptions


def test_the_exception_type_is_qualified_outside_builtins() -> None:
    metrics = PrometheusMetrics()
    app = Lanner()
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/fail")
    async def fail() -> None:
        raise asyncio.InvalidStateError("no")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/fail").status_code == 500
    exception = "asyncio.exceptions.InvalidStateError"
    assert value(metrics, "lanner_http_exceptions_total", route="/fail", exception=exception) == 1


@pytest.mark.anyio
async def test_a_scan_of_random_paths_adds_no_series() -> None:
    metrics = PrometheusMetrics()
    app = build_app(metrics)
    rng = random.Random(12)
    statuses: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def request(method: str, path: str) -> int:
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        return statuses[-1]

    # One miss per method label first: those series exist once anything was missed.
    for method in ("GET", "POST", "PROPFIND"):
        assert await request(method, "/no/such/page") == 404
    before = series(metrics)
    for _ in range(10_000):
        path = "/" + "/".join(
            "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(1, 12)))
            for _ in range(rng.randint(1, 4))
        )
        method = rng.choice(["GET", "GET", "POST", "PROPFIND", "BREW", "X-" + path[1:6].upper()])
        assert await request(method, path) == 404
    after = series(metrics)
    assert len(after) == len(before)
    assert [line.split(" ")[0] for line in after] == [line.split(" ")[0] for line in before]
    assert {m.name for m in metrics.registry.collect()} == {
        "lanner_http_requests",
        "lanner_http_request_duration_seconds",
        "lanner_http_requests_in_flight",
        "lanner_http_exceptions",
    }
    counted = sum(
        requests_count(metrics, method, UNMATCHED_ROUTE, "4xx") or 0
        for method in ("GET", "POST", OTHER_METHOD)
    )
    assert counted == 10_003


@pytest.mark.anyio
async def test_requests_in_flight_rise_during_a_slow_request_and_fall_after() -> None:
    metrics = PrometheusMetrics()
    app = Lanner()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    arrived = asyncio.Event()
    release = asyncio.Event()

    @app.get("/slow")
    async def slow() -> str:
        arrived.set()
        await release.wait()
        return "done"

    def in_flight() -> float | None:
        return value(metrics, "lanner_http_requests_in_flight")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert in_flight() == 0
        first = asyncio.ensure_future(client.get("/slow"))
        second = asyncio.ensure_future(client.get("/slow"))
        await asyncio.wait_for(arrived.wait(), 5)
        await asyncio.sleep(0.01)
        assert in_flight() == 2
        release.set()
        responses = await asyncio.gather(first, second)
    assert [r.json() for r in responses] == ["done", "done"]
    assert in_flight() == 0
    durations = value(
        metrics, "lanner_http_request_duration_seconds_sum", method="GET", route="/slow", status="2xx"
    )
    assert durations is not None and durations >= 0.01


@pytest.mark.anyio
async def test_duration_lasts_until_the_final_body_message() -> None:
    metrics = PrometheusMetrics()

    async def streaming(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"a", "more_body": True})  # type: ignore[operator]
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"b"})  # type: ignore[operator]
        await asyncio.sleep(0.3)  # after the response: not part of the request's duration
        # The route is read once the request is over, whenever the app set it.
        scope["route"] = SimpleNamespace(path="/stream/{name}")

    middleware = MetricsMiddleware(streaming, metrics=metrics)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/stream")).text == "ab"
    labels = {"method": "GET", "route": "/stream/{name}", "status": "2xx"}
    total = value(metrics, "lanner_http_request_duration_seconds_sum", **labels)
    assert total is not None and 0.05 <= total < 0.3
    assert value(metrics, "lanner_http_request_duration_seconds_bucket", le="0.1", **labels) == 1


def test_openmetrics_is_negotiated_and_the_endpoint_app_answers_get_and_head_only() -> None:
    metrics = PrometheusMetrics()
    app = Lanner()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.mount("/internal/metrics", metrics.endpoint)

    @app.get("/")
    async def index() -> str:
        return "hi"

    with TestClient(app) as client:
        client.get("/")
        text = client.get("/internal/metrics")
        assert text.status_code == 200
        assert text.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert text.headers["cache-control"] == "no-store"
        assert 'lanner_http_requests_total{method="GET",route="/",status="2xx"} 1.0' in text.text
        open_metrics = client.get(
            "/internal/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
        assert open_metrics.text.endswith("# EOF\n")
        assert 'lanner_http_requests_total{method="GET",route="/",status="2xx"} 1.0' in open_metrics.text
        head = client.head("/internal/metrics")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) > 0
        post = client.post("/internal/metrics")
        assert post.status_code == 405
        assert post.headers["allow"] == "GET, HEAD"
    # A mounted app has no route template: it counts under the placeholder.
    assert requests_count(metrics, "GET", UNMATCHED_ROUTE, "2xx") == 2


def test_apps_in_one_process_keep_separate_registries() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    with TestClient(build_app(first)) as client:
        client.get("/items/1")
        client.get("/items/2")
    with TestClient(build_app(second)) as client:
        client.get("/items/3")
    assert requests_count(first, "GET", "/items/{id}", "2xx") == 2
    assert requests_count(second, "GET", "/items/{id}", "2xx") == 1


def test_the_middleware_makes_its_own_metrics_and_options_apply() -> None:
    app = Lanner()
    app.add_middleware(MetricsMiddleware)

    @app.get("/")
    async def index() -> str:
        return "hi"

    with TestClient(app) as client:
        client.get("/")
    middleware = MetricsMiddleware(app)
    assert isinstance(middleware.metrics, PrometheusMetrics)
    assert MetricsMiddleware.layer == 50

    custom = PrometheusMetrics(namespace="shop", buckets=(0.5, 1.0))
    custom.record("GET", "/x", 204, 0.7)
    custom.record("get", "/x", 204, 0.2)
    assert value(custom, "shop_http_requests_total", method="GET", route="/x", status="2xx") == 1
    assert value(custom, "shop_http_requests_total", method="other", route="/x", status="2xx") == 1
    le = {"method": "GET", "route": "/x", "status": "2xx"}
    assert value(custom, "shop_http_request_duration_seconds_bucket", le="0.5", **le) == 0
    assert value(custom, "shop_http_request_duration_seconds_bucket", le="1.0", **le) == 1
    # No response at all is answered with a 500 further out.
    custom.record("GET", "/x", 0, 0.1)
    assert value(custom, "shop_http_requests_total", method="GET", route="/x", status="5xx") == 1


def test_requests_recorded_in_batches_add_up_exactly() -> None:
    metrics = PrometheusMetrics(buckets=(0.01, 0.1, 1.0))
    rng = random.Random(7)
    recorded: list[tuple[int, float]] = []
    for _ in range(2_500):  # more than one batch, and a partial one left for the collection
        status = rng.choice([200, 201, 404, 500])
        duration = rng.choice([0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 3.0])
        metrics.record("GET", "/x", status, duration)
        recorded.append((status, duration))
    for status_class, statuses in (("2xx", {200, 201}), ("4xx", {404}), ("5xx", {500})):
        labels = {"method": "GET", "route": "/x", "status": status_class}
        durations = [duration for status, duration in recorded if status in statuses]
        assert requests_count(metrics, "GET", "/x", status_class) == len(durations)
        assert value(metrics, "lanner_http_request_duration_seconds_count", **labels) == len(durations)
        total = value(metrics, "lanner_http_request_duration_seconds_sum", **labels)
        assert total == pytest.approx(sum(durations))
        for bound in ("0.01", "0.1", "1.0", "+Inf"):
            expected = sum(1 for duration in durations if duration <= float(bound))
            bucket = value(metrics, "lanner_http_request_duration_seconds_bucket", le=bound, **labels)
            assert bucket == expected, (status_class, bound)


def test_requests_recorded_from_several_threads_are_all_counted() -> None:
    import threading

    metrics = PrometheusMetrics()
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        for n in range(3_000):
            metrics.record("POST", "/t", 200, n / 1_000_000)
            if n % 500 == 0:
                metrics.render()  # collections flush while the others record

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert requests_count(metrics, "POST", "/t", "2xx") == 12_000
    labels = {"method": "POST", "route": "/t", "status": "2xx", "le": "+Inf"}
    assert value(metrics, "lanner_http_request_duration_seconds_bucket", **labels) == 12_000


def test_an_unknown_histogram_is_observed_one_value_at_a_time() -> None:
    class Observed:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def observe(self, amount: float) -> None:
            self.seen.append(amount)

    histogram = Observed()
    PrometheusMetrics()._observe(histogram, [0.3, 0.1, 0.2])
    assert sorted(histogram.seen) == [0.1, 0.2, 0.3]


@pytest.mark.anyio
async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: dict, receive: object, send: object) -> None:
        seen.append(scope["type"])

    metrics = PrometheusMetrics()
    await MetricsMiddleware(inner, metrics=metrics)({"type": "websocket"}, None, None)  # type: ignore[arg-type]
    await metrics.endpoint({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket"]
    assert [line for line in series(metrics) if line.startswith("lanner_http_requests_total")] == []


def test_multiprocess_mode_needs_the_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ValueError, match="PROMETHEUS_MULTIPROC_DIR"):
        PrometheusMetrics(multiprocess=True)
    assert PrometheusMetrics().multiprocess is False


def test_multiprocess_mode_exposes_the_directory_not_the_objects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from prometheus_client import CollectorRegistry

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = CollectorRegistry()
    first = PrometheusMetrics(registry=registry)
    # Metric objects are not registered in multiprocess mode, so a second app's do not clash.
    second = PrometheusMetrics(multiprocess=True)
    assert first.registry is registry and first.multiprocess and second.multiprocess
    # This process was not started in multiprocess mode: its values never reach the directory,
    # and the exposition reads only the directory (empty here).
    first.record("GET", "/x", 200, 0.1)
    assert first.render() == (b"", "text/plain; version=0.0.4; charset=utf-8")


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[metrics\]'"):
        PrometheusMetrics()


@pytest.mark.anyio
async def test_a_timed_out_body_is_counted_as_the_408_the_client_got() -> None:
    from lanner.middleware import TimeoutMiddleware

    metrics = PrometheusMetrics()
    app = Lanner()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(TimeoutMiddleware, body_timeout=0.1)

    @app.post("/upload")
    async def upload(request: Request) -> int:
        return len(await request.body())

    chunks = [{"type": "http.request", "body": b"x" * 10, "more_body": True}]

    async def receive() -> dict[str, object]:
        if chunks:
            return chunks.pop()
        await asyncio.sleep(5)  # the rest of the body never comes
        raise AssertionError("not cancelled")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "POST", "path": "/upload", "raw_path": b"/upload", "query_string": b"",
        "headers": [(b"content-length", b"100"), (b"content-type", b"application/octet-stream")],
        "scheme": "http", "server": ("t", 80), "client": ("c", 1), "root_path": "", "state": {},
        "http_version": "1.1", "asgi": {"version": "3.0"},
    }  # fmt: skip
    await app(scope, receive, send)
    assert sent[0]["status"] == 408
    labels = {"method": "POST", "route": "/upload", "status": "4xx"}
    assert metrics.registry.get_sample_value("lanner_http_requests_total", labels) == 1.0
