import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest

from lanner import Depends, Lanner
from lanner.observability.tracing import TracingMiddleware, get_tracer, traced_call
from lanner.responses import Response
from lanner.testing import TestClient

trace = pytest.importorskip("opentelemetry.trace")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")

SpanKind = trace.SpanKind
StatusCode = trace.StatusCode
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def exporter() -> object:
    return in_memory.InMemorySpanExporter()


@pytest.fixture
def provider(exporter: object) -> object:
    # Passed explicitly to what it traces: the global provider is never set in these tests.
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return provider


def build_app(provider: object | None) -> Lanner:
    app = Lanner()
    app.add_middleware(TracingMiddleware, tracer_provider=provider)

    @app.get("/items/{id}")
    async def read_item(id: int) -> dict[str, object]:
        context = trace.get_current_span().get_span_context()
        return {"id": id, "trace": f"{context.trace_id:032x}", "span": f"{context.span_id:016x}"}

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("kaboom")

    @app.get("/unavailable")
    async def unavailable() -> Response:
        return Response("later", status_code=503)

    return app


def only_span(exporter: object) -> object:
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def test_server_span_name_kind_and_attributes(provider: object, exporter: object) -> None:
    with TestClient(build_app(provider)) as client:
        answer = client.get("/items/42", params={"q": "1"})
    assert answer.status_code == 200
    span = only_span(exporter)
    assert span.name == "GET /items/{id}"
    assert span.kind == SpanKind.SERVER
    assert span.parent is None
    assert dict(span.attributes) == {
        "http.request.method": "GET",
        "url.path": "/items/42",
        "url.scheme": "http",
        "url.query": "q=1",
        "http.route": "/items/{id}",
        "http.response.status_code": 200,
        "server.address": "testserver",
        "server.port": 80,
        "client.address": "testclient",
        "network.protocol.version": "1.1",
        "user_agent.original": "testclient",
    }
    assert span.status.status_code == StatusCode.UNSET
    assert span.instrumentation_scope.name == "lanner"
    # The handler ran with the server span current.
    context = span.get_span_context()
    assert answer.json()["span"] == f"{context.span_id:016x}"
    assert answer.json()["trace"] == f"{context.trace_id:032x}"


def test_unmatched_requests_are_named_by_method_only(provider: object, exporter: object) -> None:
    with TestClient(build_app(provider), base_url="https://api.example.com:8443") as client:
        assert client.get("/nowhere").status_code == 404
        assert client.request("BREW", "/items/1", headers={"user-agent": "pot/1"}).status_code == 405
    missing, brew = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert missing.name == "GET"
    assert "http.route" not in missing.attributes
    assert "url.query" not in missing.attributes
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.attributes["url.scheme"] == "https"
    assert missing.attributes["server.address"] == "api.example.com"
    assert missing.attributes["server.port"] == 8443
    # A client error is not the server's: no error status on a server span.
    assert missing.status.status_code == StatusCode.UNSET
    assert "error.type" not in missing.attributes
    assert brew.name == "HTTP"
    assert brew.attributes["http.request.method"] == "_OTHER"
    assert brew.attributes["http.request.method_original"] == "BREW"
    assert brew.attributes["user_agent.original"] == "pot/1"


def test_signed_url_credentials_are_redacted_and_ipv6_hosts_parsed(
    provider: object, exporter: object
) -> None:
    query = "a=1&Signature=secret&X-Goog-Signature=s2&sig=s3&AWSAccessKeyId=key&b=Signature"
    with TestClient(build_app(provider)) as client:
        client.get(f"/items/1?{query}", headers={"host": "[::1]:8080"})
        client.get("/items/2", headers={"host": "[::1]"})
    signed, bare = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert signed.attributes["url.query"] == (
        "a=1&Signature=REDACTED&X-Goog-Signature=REDACTED&sig=REDACTED&AWSAccessKeyId=REDACTED&b=Signature"
    )
    assert "secret" not in str(dict(signed.attributes))
    assert (signed.attributes["server.address"], signed.attributes["server.port"]) == ("::1", 8080)
    assert (bare.attributes["server.address"], bare.attributes["server.port"]) == ("::1", 80)


def test_incoming_traceparent_is_the_parent(provider: object, exporter: object) -> None:
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "vendor=opaque"}
    with TestClient(build_app(provider)) as client:
        answer = client.get("/items/7", headers=headers)
    span = only_span(exporter)
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert answer.json()["trace"] == TRACE_ID
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.parent.span_id:016x}" == PARENT_ID
    assert span.context.span_id != int(PARENT_ID, 16)
    assert span.context.trace_state.get("vendor") == "opaque"


def test_a_malformed_traceparent_starts_a_new_trace(provider: object, exporter: object) -> None:
    with TestClient(build_app(provider)) as client:
        client.get("/items/7", headers={"traceparent": "00-nonsense-01"})
    span = only_span(exporter)
    assert span.parent is None
    assert f"{span.context.trace_id:032x}" != TRACE_ID


def test_server_errors_set_the_error_status(provider: object, exporter: object) -> None:
    with TestClient(build_app(provider), raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
        assert client.get("/unavailable").status_code == 503
    boom, unavailable = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert boom.name == "GET /boom"
    assert boom.status.status_code == StatusCode.ERROR
    assert boom.status.description == "ValueError: kaboom"
    assert boom.attributes["error.type"] == "ValueError"
    assert boom.attributes["http.response.status_code"] == 500
    [event] = boom.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert unavailable.status.status_code == StatusCode.ERROR
    assert unavailable.attributes["error.type"] == "503"
    assert unavailable.events == ()


def test_an_exception_leaving_the_app_is_recorded_and_reraised(provider: object, exporter: object) -> None:
    app = build_app(provider)

    class Exploding:
        def __init__(self, app: object) -> None:
            self.app = app

        async def __call__(self, scope: dict, receive: object, send: object) -> None:
            if scope["type"] == "http":
                raise LookupError("deep")
            await self.app(scope, receive, send)  # type: ignore[operator]

    app.add_middleware(Exploding)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/items/1").status_code == 500
    span = only_span(exporter)
    assert span.name == "GET /items/{id}"
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "LookupError"
    assert "http.response.status_code" not in span.attributes
    assert [event.name for event in span.events] == ["exception"]


@pytest.mark.anyio
async def test_the_span_ends_with_the_final_body_message(provider: object, exporter: object) -> None:
    async def streaming(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"a", "more_body": True})  # type: ignore[operator]
        scope["route"] = SimpleNamespace(path="/stream/{name}")  # known only once the app ran
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"b"})  # type: ignore[operator]
        await asyncio.sleep(0.3)  # after the response

    transport = httpx.ASGITransport(app=TracingMiddleware(streaming, tracer_provider=provider))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/stream")).text == "ab"
    span = only_span(exporter)
    seconds = (span.end_time - span.start_time) / 1e9
    assert 0.05 <= seconds < 0.3
    assert span.name == "GET /stream/{name}"
    assert span.attributes["http.route"] == "/stream/{name}"
    assert span.status.status_code == StatusCode.UNSET


@pytest.mark.anyio
async def test_raw_asgi_edges(provider: object, exporter: object) -> None:
    async def silent(scope: dict, receive: object, send: object) -> None:
        return None  # no response at all: the server answers 500

    async def late_failure(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]
        raise RuntimeError("after the response")

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/raw",
        "query_string": b"",
        "headers": [],
        "server": ("10.1.2.3", 9000),
    }
    await TracingMiddleware(silent, tracer_provider=provider)(dict(scope), receive, send)
    with pytest.raises(RuntimeError):
        await TracingMiddleware(late_failure, tracer_provider=provider)(dict(scope), receive, send)
    nothing, late = exporter.get_finished_spans()  # type: ignore[attr-defined]
    # Without a Host header the server's own address; no client, no user agent.
    assert dict(nothing.attributes) == {
        "http.request.method": "GET",
        "url.path": "/raw",
        "url.scheme": "http",
        "server.address": "10.1.2.3",
        "server.port": 9000,
        "network.protocol.version": "1.1",
        "error.type": "_OTHER",
    }
    assert nothing.status.status_code == StatusCode.ERROR
    # The response was complete when the exception came: the span had ended, successfully.
    assert late.attributes["http.response.status_code"] == 204
    assert late.status.status_code == StatusCode.UNSET
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


@pytest.mark.anyio
async def test_other_scopes_pass_through(provider: object, exporter: object) -> None:
    seen: list[str] = []

    async def inner(scope: dict, receive: object, send: object) -> None:
        seen.append(scope["type"])

    await TracingMiddleware(inner, tracer_provider=provider)({"type": "websocket"}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket"]
    assert exporter.get_finished_spans() == ()  # type: ignore[attr-defined]
    assert TracingMiddleware.layer == 40


def test_without_an_sdk_nothing_is_recorded_but_the_context_propagates() -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), (
        "a test set the global provider"
    )
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    with TestClient(build_app(None), raise_server_exceptions=False) as client:
        answer = client.get("/items/3", headers=headers)
        assert client.get("/boom").status_code == 500
        plain = client.get("/items/4")
    assert answer.status_code == 200
    # The no-op tracer keeps the caller's trace current, so outgoing calls can carry it on.
    assert answer.json()["trace"] == TRACE_ID
    assert answer.json()["span"] == PARENT_ID
    assert plain.json()["trace"] == "0" * 32


# -- traced_call ------------------------------------------------------------------------------


def names_and_parents(exporter: object) -> list[tuple[str, str | None]]:
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    by_id = {span.context.span_id: span.name for span in spans}
    return [(span.name, by_id.get(span.parent.span_id) if span.parent else None) for span in spans]


def test_traced_sync_and_async_calls_are_child_spans(provider: object, exporter: object) -> None:
    tracer = get_tracer(provider)

    def add(a: int, b: int = 1) -> int:
        """Add."""
        return a + b

    async def fetch(key: str) -> str:
        return key.upper()

    traced_add = traced_call(tracer, "dependency add", add)
    traced_fetch = traced_call(tracer, "handler fetch", fetch)
    assert traced_add.__name__ == "add" and traced_add.__doc__ == "Add."
    assert asyncio.iscoroutinefunction(traced_fetch)
    with tracer.start_as_current_span("request"):
        assert traced_add(2, b=3) == 5
        assert asyncio.run(traced_fetch("k")) == "K"
    assert names_and_parents(exporter) == [
        ("dependency add", "request"),
        ("handler fetch", "request"),
        ("request", None),
    ]


def test_a_failing_traced_call_records_the_error(provider: object, exporter: object) -> None:
    tracer = get_tracer(provider)

    def broken() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError):
        traced_call(tracer, "dependency broken", broken)()
    span = only_span(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_traced_generators_get_a_setup_and_a_cleanup_span(provider: object, exporter: object) -> None:
    tracer = get_tracer(provider)
    log: list[str] = []

    def get_db() -> Iterator[str]:
        log.append("open")
        try:
            yield "db"
        except RuntimeError:
            log.append("rollback")
            raise
        finally:
            log.append("close")

    async def get_cache() -> AsyncIterator[str]:
        log.append("connect")
        yield "cache"
        log.append("disconnect")

    traced_db = traced_call(tracer, "dependency get_db", get_db)
    traced_cache = traced_call(tracer, "dependency get_cache", get_cache)

    async def use() -> None:
        async with contextlib.asynccontextmanager(traced_cache)() as cache:
            assert cache == "cache"

    with tracer.start_as_current_span("request"):
        with contextlib.contextmanager(traced_db)() as db:
            assert db == "db"
        with pytest.raises(RuntimeError), contextlib.contextmanager(traced_db)():
            raise RuntimeError("handler failed")
        asyncio.run(use())
    assert log == ["open", "close", "open", "rollback", "close", "connect", "disconnect"]
    assert names_and_parents(exporter) == [
        ("dependency get_db", "request"),
        ("dependency get_db cleanup", "request"),
        ("dependency get_db", "request"),
        ("dependency get_db cleanup", "request"),
        ("dependency get_cache", "request"),
        ("dependency get_cache cleanup", "request"),
        ("request", None),
    ]
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    # The re-raised error shows on the cleanup it went through.
    assert spans[3].status.status_code == StatusCode.ERROR
    assert spans[1].status.status_code == StatusCode.UNSET


def test_traced_async_generators_pass_exceptions_and_closing_on(provider: object, exporter: object) -> None:
    tracer = get_tracer(provider)
    log: list[str] = []

    async def session() -> AsyncIterator[str]:
        try:
            yield "s"
            yield "t"
        except KeyError:
            log.append("rolled back")
            raise
        finally:
            log.append("closed")

    traced = traced_call(tracer, "dependency session", session)

    async def use() -> None:
        with pytest.raises(KeyError):
            async with contextlib.asynccontextmanager(traced)():
                raise KeyError("x")
        generator = traced()
        assert await generator.__anext__() == "s"
        await generator.aclose()

    asyncio.run(use())
    assert log == ["rolled back", "closed", "closed"]
    spans = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert [span.name for span in spans] == [
        "dependency session",
        "dependency session cleanup",
        "dependency session",
    ]
    assert spans[1].status.status_code == StatusCode.ERROR


def test_the_propagation_getter_lists_its_fields() -> None:
    from lanner.observability.tracing import _header_getter

    getter = _header_getter()
    carrier = {"traceparent": ["a"], "baggage": ["b"]}
    assert getter.keys(carrier) == ["traceparent", "baggage"]
    assert getter.get(carrier, "Traceparent") == ["a"]
    assert getter.get(carrier, "tracestate") is None


def test_closing_a_traced_generator_closes_the_original(provider: object) -> None:
    tracer = get_tracer(provider)
    closed: list[bool] = []

    def numbers() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    generator = traced_call(tracer, "numbers", numbers)()
    assert next(generator) == 1
    generator.close()
    assert closed == [True]
    assert list(traced_call(tracer, "numbers", numbers)()) == [1, 2]


def test_lanner_runs_traced_dependencies_and_handlers(provider: object, exporter: object) -> None:
    tracer = get_tracer(provider)
    app = Lanner()
    app.add_middleware(TracingMiddleware, tracer_provider=provider)

    def get_db() -> Iterator[str]:
        yield "db"

    async def get_user(db: str = Depends(traced_call(tracer, "dependency get_db", get_db))) -> str:
        return f"ada from {db}"

    async def read_me(user: str = Depends(traced_call(tracer, "dependency get_user", get_user))) -> str:
        return user

    app.get("/me")(traced_call(tracer, "handler read_me", read_me))
    with TestClient(app) as client:
        assert client.get("/me").json() == "ada from db"
    pairs = names_and_parents(exporter)
    assert sorted(pairs) == sorted(
        [
            ("dependency get_db", "GET /me"),
            ("dependency get_user", "GET /me"),
            ("handler read_me", "GET /me"),
            ("dependency get_db cleanup", "GET /me"),
            ("GET /me", None),
        ]
    )


def test_missing_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.propagate", "opentelemetry.context"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'lanner\[tracing\]'"):
        TracingMiddleware(build_app(None))


def test_a_timed_out_request_records_the_status_the_client_got(provider: object, exporter: object) -> None:
    from lanner.middleware import TimeoutMiddleware

    app = Lanner()
    app.add_middleware(TracingMiddleware, tracer_provider=provider)
    app.add_middleware(TimeoutMiddleware, request_timeout=0.1)

    @app.get("/slow")
    async def slow() -> None:
        await asyncio.sleep(5)

    with TestClient(app) as client:
        assert client.get("/slow").status_code == 504
    [span] = exporter.get_finished_spans()  # type: ignore[attr-defined]
    assert span.attributes["http.response.status_code"] == 504
    assert span.status.status_code == StatusCode.ERROR
