"""The app's observability options: Lanner(access_log=, metrics_url=, tracing=, trace_calls=) and
app.metrics(), wired to the middleware of lanner.observability."""

import json
import logging
from collections.abc import Iterator

import pytest

from lanner import Depends, Lanner
from lanner.middleware import RequestIDMiddleware
from lanner.testing import TestClient

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")
pytest.importorskip("prometheus_client")


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access() -> Iterator[ListHandler]:
    logger = logging.getLogger("lanner.access")
    handler = ListHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_access_log_json_logs_one_line_per_request_with_the_template(access: ListHandler) -> None:
    app = Lanner(access_log="json")
    app.add_middleware(RequestIDMiddleware)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    with TestClient(app) as client:
        response = client.get("/items/42", headers={"Authorization": "Bearer secret-token"})
    assert response.status_code == 200
    [record] = access.records
    line = access.format(record)
    assert "secret-token" not in line and "/items/42" not in line
    fields = {key: getattr(record, key, None) for key in ("method", "route", "status", "request_id")}
    assert fields == {
        "method": "GET",
        "route": "/items/{item_id}",
        "status": 200,
        "request_id": response.headers["x-request-id"],
    }


def test_access_log_brings_request_ids_of_its_own(access: ListHandler) -> None:
    app = Lanner(access_log="text")

    @app.get("/")
    async def home() -> str:
        logging.getLogger("myapp").warning("inside")
        return "hi"

    with TestClient(app) as client:
        response = client.get("/", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    [record] = access.records
    assert record.request_id == "abc-123"  # type: ignore[attr-defined]


def test_access_log_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="access_log"):
        Lanner(access_log="xml")  # type: ignore[arg-type]


def test_metrics_url_serves_counts_by_route_template() -> None:
    app = Lanner(metrics_url="/metrics")

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    with TestClient(app) as client:
        for number in range(3):
            assert client.get(f"/items/{number}").status_code == 200
        assert client.get("/nowhere/at/all").status_code == 404
        page = client.get("/metrics")
        documented = client.get("/openapi.json").json()["paths"]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    lines = page.text.splitlines()
    assert 'lanner_http_requests_total{method="GET",route="/items/{item_id}",status="2xx"} 3.0' in lines
    assert not any("/nowhere" in line for line in lines)
    assert "/metrics" not in documented


def test_app_metrics_is_the_same_and_only_once() -> None:
    app = Lanner()
    app.metrics("/internal/metrics")

    @app.get("/")
    async def home() -> str:
        return "hi"

    with TestClient(app) as client:
        client.get("/")
        assert 'route="/",status="2xx"} 1.0' in client.get("/internal/metrics").text
    with pytest.raises(RuntimeError, match="once"):
        app.metrics()


def test_tracing_with_child_spans_for_dependencies_and_the_handler() -> None:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    app = Lanner(tracing=provider, trace_calls=True)

    def get_db() -> Iterator[str]:
        yield "db"

    def current_user(db: str = Depends(get_db)) -> str:
        return "ada"

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, user: str = Depends(current_user)) -> dict[str, object]:
        return {"id": item_id, "user": user}

    with TestClient(app) as client:
        assert client.get("/items/5").json() == {"id": 5, "user": "ada"}
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {
        "GET /items/{item_id}",
        "dependency get_db",
        "dependency get_db cleanup",
        "dependency current_user",
        "handler read_item",
    }
    server = spans["GET /items/{item_id}"]
    for name in ("dependency get_db", "dependency current_user", "handler read_item"):
        parent = spans[name].parent
        assert parent is not None and parent.span_id == server.context.span_id, name
        assert spans[name].context.trace_id == server.context.trace_id


def test_tracing_without_trace_calls_has_one_span_per_request() -> None:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    app = Lanner(tracing=provider)

    @app.get("/")
    async def home() -> str:
        return "hi"

    with TestClient(app) as client:
        client.get("/")
    assert [span.name for span in exporter.get_finished_spans()] == ["GET /"]


def test_trace_calls_needs_tracing() -> None:
    with pytest.raises(ValueError, match="trace_calls"):
        Lanner(trace_calls=True)


def test_the_access_log_json_formatter_writes_parseable_lines(tmp_path: object) -> None:
    from lanner.observability import JSONFormatter

    record = logging.LogRecord("lanner.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.route = "/"
    parsed = json.loads(JSONFormatter().format(record))
    assert parsed["route"] == "/"


def test_trace_calls_keeps_the_documented_security_and_answers() -> None:
    from lanner import Security
    from lanner.ratelimit import RateLimit
    from lanner.security import HTTPBearer

    provider = sdk_trace.TracerProvider()
    bearer = HTTPBearer()

    def documented(app: Lanner) -> dict[str, object]:
        @app.get("/secret", dependencies=[Security(bearer)], rate_limit=RateLimit("5/second"))
        async def secret() -> str:
            return "s"

        return app.openapi()["paths"]["/secret"]["get"]  # type: ignore[no-any-return]

    plain = documented(Lanner())
    traced = documented(Lanner(tracing=provider, trace_calls=True))
    assert traced["security"] == plain["security"] == [{"HTTPBearer": []}]
    assert "429" in traced["responses"] and traced["responses"] == plain["responses"]
