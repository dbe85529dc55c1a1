import asyncio
import io
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from lanner import BackgroundTasks, HTTPException, Lanner, Request
from lanner.middleware.request_id import RequestIDMiddleware
from lanner.observability import ACCESS_LOGGER, AccessLogMiddleware, JSONFormatter, TextFormatter
from lanner.observability import access_log as access_log_module
from lanner.observability.access_log import UNMATCHED_ROUTE
from lanner.responses import Response, StreamingResponse
from lanner.testing import TestClient
from lanner.types import Message, Receive, Scope, Send

FIELDS = {"method", "route", "status", "duration_ms", "bytes", "client", "request_id"}
SECRETS = ("bearer-secret-1", "cookie-secret-2", "apikey-secret-3", "proxy-secret-4", "setcookie-secret-5")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def loggers() -> Iterator[None]:
    """Restore ``lanner.access`` and ``lanner.error`` as they were (the middleware configures them)."""
    saved = {}
    for name in (ACCESS_LOGGER, "lanner.error"):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture
def access(loggers: None) -> list[logging.LogRecord]:
    handler = ListHandler()
    logging.getLogger(ACCESS_LOGGER).addHandler(handler)
    return handler.records


@pytest.fixture
def errors(loggers: None) -> list[logging.LogRecord]:
    handler = ListHandler()
    logging.getLogger("lanner.error").addHandler(handler)
    return handler.records


def build_app(access_log: Any = "json", *, request_ids: bool = True, **options: Any) -> Lanner:
    app = Lanner(access_log=None if options else access_log)
    if options:
        app.add_middleware(AccessLogMiddleware, format=access_log, **options)
    if request_ids:
        app.add_middleware(RequestIDMiddleware)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    @app.get("/secret")
    async def secret(request: Request) -> Response:
        response = Response(b"ok")
        response.set_cookie("session", "setcookie-secret-5")
        return response

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for size in (10, 200, 3000):
                yield b"x" * size

        return StreamingResponse(chunks())

    @app.get("/slow")
    def slow() -> str:
        time.sleep(0.05)
        return "done"

    @app.get("/own-id")
    async def own_id() -> Response:
        return Response(b"", headers={"X-Request-ID": "from-the-app"})

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> str:
        tasks.add_task(logging.getLogger(ACCESS_LOGGER).warning, "background ran")
        return "ok"

    return app


def json_line(record: logging.LogRecord) -> dict[str, Any]:
    line = JSONFormatter().format(record)
    assert "\n" not in line
    data: dict[str, Any] = json.loads(line)
    return data


# -- JSON lines ------------------------------------------------------------------------------------


def test_a_matched_route_logs_its_template_and_every_field(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("json")) as client:
        response = client.get("/items/42", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    [record] = access
    line = json_line(record)
    assert line.keys() >= FIELDS
    assert line["method"] == "GET"
    assert line["route"] == "/items/{item_id}"
    assert line["status"] == 200
    assert line["bytes"] == len(response.content) > 0
    assert line["client"] == "testclient"
    assert line["request_id"] == "req-42" == response.headers["x-request-id"]
    assert isinstance(line["duration_ms"], float) and 0 <= line["duration_ms"] < 5000
    assert line["logger"] == "lanner.access"
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert line["message"] == "GET /items/{item_id} 200"
    assert "path" not in line
    assert "/items/42" not in JSONFormatter().format(record)


def test_a_404_logs_the_placeholder_not_the_path(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("json")) as client:
        response = client.get("/no/such/token-abc123?key=value")
    assert response.status_code == 404
    [record] = access
    line = json_line(record)
    assert line["route"] == UNMATCHED_ROUTE == "<unmatched>"
    assert line["status"] == 404
    assert line["bytes"] == len(response.content)
    text = JSONFormatter().format(record) + TextFormatter().format(record)
    assert "token-abc123" not in text
    assert "key=value" not in text


def test_a_405_is_unmatched_too(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("json")) as client:
        assert client.post("/items/1").status_code == 405
    assert json_line(access[0])["route"] == "<unmatched>"
    assert json_line(access[0])["status"] == 405


def test_a_500_logs_the_traceback_once_with_the_id_and_a_plain_access_line(
    access: list[logging.LogRecord], errors: list[logging.LogRecord]
) -> None:
    with TestClient(build_app("json"), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    [record] = access
    line = json_line(record)
    assert line["status"] == 500
    assert line["route"] == "/boom"
    assert line["request_id"] == request_id
    assert record.exc_info is None
    assert "exception" not in line
    assert "Traceback" not in JSONFormatter().format(record)
    with_traceback = [r for r in [*access, *errors] if r.exc_info]
    assert len(with_traceback) == 1
    [error] = with_traceback
    assert error.name == "lanner.error"
    assert error.request_id == request_id  # type: ignore[attr-defined]
    rendered = json_line(error)
    assert rendered["request_id"] == request_id
    assert "Traceback" in rendered["exception"]
    assert "RuntimeError: kaboom" in rendered["exception"]


def test_sensitive_headers_and_query_strings_never_appear(
    access: list[logging.LogRecord], errors: list[logging.LogRecord]
) -> None:
    headers = {
        "Authorization": "Bearer bearer-secret-1",
        "Cookie": "session=cookie-secret-2",
        "X-API-Key": "apikey-secret-3",
        "Proxy-Authorization": "Basic proxy-secret-4",
    }
    with TestClient(build_app("json", log_path=True), raise_server_exceptions=False) as client:
        assert client.get("/secret?token=query-secret-6", headers=headers).status_code == 200
        assert "setcookie-secret-5" in client.cookies.get("session", "")
        assert client.get("/boom?token=query-secret-6", headers=headers).status_code == 500
    assert len(access) == 2
    text = "\n".join(
        formatter.format(record)
        for record in [*access, *errors]
        for formatter in (JSONFormatter(), TextFormatter(), logging.Formatter("%(message)s"))
    )
    for secret in (*SECRETS, "query-secret-6", "token="):
        assert secret not in text
    assert json_line(access[0])["path"] == "/secret"


def test_log_path_adds_the_path_as_sent_without_the_query(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("json", log_path=True)) as client:
        client.get("/items/7?q=1")
        client.get("/a%0d%0ab%20c")
    first, second = (json_line(r) for r in access)
    assert first["path"] == "/items/7"
    assert first["route"] == "/items/{item_id}"
    assert second["path"] == "/a%0d%0ab%20c"  # as sent: no CR, LF or space
    assert "\r" not in TextFormatter().format(access[1])


def test_a_streamed_response_counts_every_body_byte(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("json")) as client:
        response = client.get("/stream")
        head = client.head("/items/1")
    assert len(response.content) == 3210
    assert head.status_code == 200
    streamed, headed = (json_line(r) for r in access)
    assert streamed["bytes"] == 3210
    assert streamed["route"] == "/stream"
    assert headed["bytes"] == 0
    assert headed["method"] == "HEAD"


def test_the_duration_covers_the_handler(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("json")) as client:
        client.get("/slow")
    assert json_line(access[0])["duration_ms"] >= 50


def test_the_line_is_logged_when_the_response_ends_before_background_tasks(
    access: list[logging.LogRecord],
) -> None:
    with TestClient(build_app("json")) as client:
        client.get("/background")
    assert [r.getMessage() for r in access] == ["GET /background 200", "background ran"]


def test_without_request_id_middleware_the_response_header_is_used(access: list[logging.LogRecord]) -> None:
    # Added by hand: Lanner(access_log=...) would bring a RequestIDMiddleware of its own.
    with TestClient(build_app("json", request_ids=False, log_path=False)) as client:
        client.get("/own-id")
        client.get("/items/1", headers={"X-Request-ID": "not-echoed"})
    own, plain = (json_line(r) for r in access)
    assert own["request_id"] == "from-the-app"
    assert plain["request_id"] is None


def test_a_logger_above_info_builds_nothing(access: list[logging.LogRecord]) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    with TestClient(build_app("json")) as client:
        assert client.get("/items/1").status_code == 200
    assert access == []


# -- text and None ---------------------------------------------------------------------------------


def test_text_mode_writes_one_compact_line(access: list[logging.LogRecord]) -> None:
    with TestClient(build_app("text")) as client:
        response = client.get("/items/5", headers={"X-Request-ID": "txt-1"})
    [record] = access
    size = len(response.content)
    assert re.fullmatch(
        rf"GET /items/\{{item_id\}} 200 \d+\.\d\dms {size}B client=testclient id=txt-1", record.getMessage()
    )
    assert record.status == 200  # type: ignore[attr-defined]
    line = TextFormatter().format(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z GET /items/\{item_id\} 200 .*", line)


def test_none_adds_no_middleware_and_logs_nothing(access: list[logging.LogRecord]) -> None:
    app = build_app(None, request_ids=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/items/1").status_code == 200
        assert client.get("/boom").status_code == 500
    assert access == []
    assert not any(cls is AccessLogMiddleware for cls, _ in app._middleware_stack())
    assert len(logging.getLogger(ACCESS_LOGGER).handlers) == 1  # the test's own: none added


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        AccessLogMiddleware(_never, format="xml")  # type: ignore[arg-type]


# -- the default handlers --------------------------------------------------------------------------


@pytest.mark.parametrize("access_log", ["json", "text"])
def test_without_a_handler_lines_go_to_stderr(
    loggers: None, capsys: pytest.CaptureFixture[str], access_log: str
) -> None:
    access_logger = logging.getLogger(ACCESS_LOGGER)
    access_logger.handlers.clear()
    access_logger.setLevel(logging.NOTSET)
    # Nothing up lanner.error's hierarchy handles its records (pytest's root handlers aside).
    error_logger = logging.getLogger("lanner.error")
    error_logger.handlers.clear()
    error_logger.propagate = False
    with TestClient(build_app(access_log), raise_server_exceptions=False) as client:
        ok = client.get("/items/3")
        failed = client.get("/boom")
    assert access_logger.propagate is False
    assert access_logger.level == logging.INFO
    [handler] = access_logger.handlers
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    lines = capsys.readouterr().err.splitlines()
    error_lines = [line for line in lines if "kaboom" in line or "Traceback" in line]
    access_lines = [line for line in lines if "/items/" in line or "/boom 500" in line]
    if access_log == "json":
        ok_line, failed_line = (json.loads(line) for line in access_lines)
        assert ok_line["route"] == "/items/{item_id}"
        assert ok_line["request_id"] == ok.headers["x-request-id"]
        assert failed_line["status"] == 500
        [error_line] = [json.loads(line) for line in lines if '"lanner.error"' in line]
        assert error_line["request_id"] == failed.headers["x-request-id"]
        assert "RuntimeError: kaboom" in error_line["exception"]
        assert all(line.startswith("{") for line in lines)
    else:
        assert access_lines[0].endswith(f"client=testclient id={ok.headers['x-request-id']}")
        assert " GET /items/{item_id} 200 " in access_lines[0]
        assert f"lanner.error request_id={failed.headers['x-request-id']} Exception" in "\n".join(lines)
        assert any("RuntimeError: kaboom" in line for line in error_lines)


class CountingStream(io.TextIOWrapper):
    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


@pytest.mark.parametrize("line_buffering", [True, False])
def test_the_default_handler_sends_each_line_at_once(loggers: None, line_buffering: bool) -> None:
    access_logger = logging.getLogger(ACCESS_LOGGER)
    access_logger.handlers.clear()
    logging.getLogger("lanner.error").handlers.clear()
    AccessLogMiddleware(_never)
    [handler] = access_logger.handlers
    raw = io.BytesIO()
    stream = CountingStream(raw, encoding="utf-8", line_buffering=line_buffering)
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    access_logger.info("first")
    access_logger.info("second")
    lines = raw.getvalue().decode().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["first", "second"]
    # A line-buffered stream (sys.stderr) sends each line as it is written: no flush call.
    assert stream.flushes == (0 if line_buffering else 2)


def test_a_configured_logger_is_left_alone(access: list[logging.LogRecord]) -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.propagate = True
    before = list(logger.handlers)
    with TestClient(build_app("json")) as client:
        client.get("/items/1")
    assert logger.handlers == before
    assert logger.propagate is True
    assert len(access) == 1


# -- disconnects and failures (raw ASGI) -----------------------------------------------------------


class Client:
    """Raw ASGI: a GET whose client may leave before the response ends."""

    def __init__(self, *, leaves: bool = False, send_fails_after: int | None = None) -> None:
        self.leaves = leaves
        self.send_fails_after = send_fails_after
        self.messages: list[Message] = []

    async def receive(self) -> Message:
        if self.leaves:
            return {"type": "http.disconnect"}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        if self.send_fails_after is not None and len(self.messages) >= self.send_fails_after:
            raise OSError("connection reset")
        self.messages.append(message)


def raw_scope(**changes: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "raw_path": b"/x",
        "headers": [],
        "client": ("10.0.0.1", 5000),
    }
    scope.update(changes)
    return scope


@pytest.mark.anyio
async def test_a_client_leaving_mid_stream_is_logged_with_the_bytes_sent(
    access: list[logging.LogRecord],
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"12345", "more_body": True})
        assert (await receive())["type"] == "http.disconnect"

    await AccessLogMiddleware(app)(raw_scope(), Client(leaves=True).receive, Client().send)
    [record] = access
    line = json_line(record)
    assert line["status"] == 200
    assert line["bytes"] == 5
    assert line["disconnected"] is True
    assert line["route"] == "<unmatched>"


@pytest.mark.anyio
async def test_a_client_leaving_before_any_response_is_a_499(access: list[logging.LogRecord]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    await AccessLogMiddleware(app, format="text")(raw_scope(), Client(leaves=True).receive, Client().send)
    [record] = access
    assert record.status == 499  # type: ignore[attr-defined]
    assert record.disconnected is True  # type: ignore[attr-defined]
    assert record.getMessage().endswith(" disconnected")


@pytest.mark.anyio
async def test_a_failing_send_marks_the_client_gone(access: list[logging.LogRecord]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"never"})

    client = Client(send_fails_after=2)
    with pytest.raises(OSError):
        await AccessLogMiddleware(app)(raw_scope(), client.receive, client.send)
    line = json_line(access[0])
    assert (line["status"], line["bytes"], line["disconnected"]) == (201, 3, True)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exc", "status"),
    [(RuntimeError("x"), 500), (HTTPException(403), 403), (asyncio.CancelledError(), 499)],
)
async def test_an_app_raising_before_responding(
    access: list[logging.LogRecord], exc: BaseException, status: int
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    client = Client()
    with pytest.raises(type(exc)):
        await AccessLogMiddleware(app)(raw_scope(), client.receive, client.send)
    [record] = access
    assert record.status == status  # type: ignore[attr-defined]
    assert record.exc_info is None
    assert "disconnected" not in record.__dict__


@pytest.mark.anyio
async def test_an_app_returning_without_a_response_is_a_500(access: list[logging.LogRecord]) -> None:
    client = Client()
    await AccessLogMiddleware(_never)(raw_scope(), client.receive, client.send)
    assert access[0].status == 500  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_control_characters_from_the_client_are_escaped(access: list[logging.LogRecord]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-request-id", b"id\x1b[31m\r\nforged")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    scope = raw_scope(method="GET\n", client=("1.2.3.4\r\nFAKE 200", 1), raw_path=b"/p\x1b\x85q")
    await AccessLogMiddleware(app, format="text", log_path=True)(scope, Client().receive, Client().send)
    [record] = access
    for text in (TextFormatter().format(record), record.getMessage()):
        assert "\n" not in text and "\r" not in text and "\x1b" not in text and "\x85" not in text
        assert "\\r\\nFAKE" in text
        assert "id=id\\x1b[31m\\r\\nforged" in text
        assert "path=/p\\x1b\\x85q" in text
    assert record.client == "1.2.3.4\\r\\nFAKE 200"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_other_scopes_pass_through(access: list[logging.LogRecord]) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    for kind in ("websocket", "lifespan"):
        await AccessLogMiddleware(app)({"type": kind}, Client().receive, Client().send)
    assert [s["type"] for s in seen] == ["websocket", "lifespan"]
    assert access == []


# -- the formatter ---------------------------------------------------------------------------------


def test_json_formatter_renders_extras_exceptions_and_odd_values() -> None:
    logger = logging.getLogger("formatter-test")
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logger.makeRecord(
            "formatter-test",
            logging.ERROR,
            "f.py",
            3,
            "hello %s",
            ("wörld\x00",),
            sys.exc_info(),
            extra={
                "user": {"id": 1},
                "odd": object(),
                "time": "not mine",
                "level": 5,
                "seps": "a\u2028b\x85c",
            },
        )
    line = JSONFormatter().format(record)
    assert line.isascii() and "\n" not in line
    data = json.loads(line)
    assert data["message"] == "hello wörld\x00"
    assert data["user"] == {"id": 1}
    assert data["odd"].startswith("<object object at")
    assert data["time"] != "not mine" and data["level"] == "ERROR"
    assert "ValueError: bad" in data["exception"]
    assert data["seps"] == "a\u2028b\x85c"
    assert "msg" not in data and "args" not in data and "exc_info" not in data
    # Extras in the order they were set, after the four base keys.
    assert list(data)[:4] == ["time", "level", "logger", "message"]
    # (request_id too, once a RequestIDMiddleware has installed the record factory.)
    assert [key for key in list(data)[4:] if key != "request_id"] == ["user", "odd", "seps", "exception"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("plain", "plain"), ("caf\u00e9", "caf\u00e9"), (b"\xff\x00", "b'\\xff\\x00'"), ({1, 2}, [1, 2])],
)
def test_json_formatter_lines_are_ascii_whatever_the_value(value: Any, expected: Any) -> None:
    record = logging.makeLogRecord({"msg": "m", "value": value})
    line = JSONFormatter().format(record)
    assert line.isascii()
    assert json.loads(line)["value"] == expected


@pytest.mark.parametrize(
    ("msecs", "end"), [(0.0, ".000Z"), (7.0, ".007Z"), (999.0, ".999Z"), (1500.0, ".1500Z")]
)
def test_times_end_with_their_milliseconds(msecs: float, end: str) -> None:
    record = logging.makeLogRecord({"msg": "m", "created": 1738324800.5, "msecs": msecs})
    assert json.loads(JSONFormatter().format(record))["time"] == "2025-01-31T12:00:00" + end
    assert TextFormatter().format(record) == "2025-01-31T12:00:00" + end + " m"


def test_json_formatter_gives_each_record_its_own_extras() -> None:
    formatter = JSONFormatter()
    base = {"time", "level", "logger", "message", "request_id"}
    # More sets of names than it remembers, each seen twice, and the same names in two orders.
    for index in [*range(400), *range(400)]:
        name = f"key{index}"
        record = logging.makeLogRecord({"msg": "m", name: index, "common": "c"})
        data = json.loads(formatter.format(record))
        assert [key for key in data if key not in base] == [name, "common"]
        assert (data[name], data["common"]) == (index, "c")
    for extra in ({"a": 1, "b": 2}, {"b": 3, "a": 4}, {"a": 5}):
        data = json.loads(formatter.format(logging.makeLogRecord({"msg": "m", **extra})))
        assert {key: data[key] for key in data if key not in base} == extra
        assert [key for key in data if key not in base] == list(extra)


@pytest.fixture(params=["plain factory", "request id factory"])
def record_factory(request: pytest.FixtureRequest) -> Iterator[str]:
    """The plain record factory, or `RequestIDMiddleware`'s over it (both take the fast path)."""
    saved = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    if request.param == "request id factory":
        RequestIDMiddleware(_never)
        assert logging.getLogRecordFactory() is not logging.LogRecord
    yield str(request.param)
    logging.setLogRecordFactory(saved)


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"hdr-1")]})
    await send({"type": "http.response.body", "body": b"hello"})


_STANDARD_FORMAT = " ".join(
    f"%({name})s"
    for name in (
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
        "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated",
        "thread", "threadName", "processName", "process", "message", "asctime",
    )
)  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("flags", [True, False])
async def test_an_access_record_is_what_make_record_makes(
    access: list[logging.LogRecord], record_factory: str, monkeypatch: pytest.MonkeyPatch, flags: bool
) -> None:
    for flag in ("logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, flag, flags)
    before = time.time()
    await AccessLogMiddleware(_answer)(raw_scope(), Client().receive, Client().send)
    after = time.time()
    [record] = access
    logger = logging.getLogger(ACCESS_LOGGER)
    expected = logger.makeRecord(
        ACCESS_LOGGER, logging.INFO, access_log_module.__file__, 0, record.msg, (), None
    )
    fields = {"path", "disconnected", *FIELDS}
    expected.__dict__.update({key: value for key, value in record.__dict__.items() if key in fields})
    assert type(record) is logging.LogRecord
    # The same attributes in the same order (``request_id`` first with the factory, last without;
    # pytest's own handler formatted the record, adding ``message`` and ``asctime``).
    names = [name for name in record.__dict__ if name not in ("message", "asctime")]
    assert names == list(expected.__dict__)
    assert (names.index("request_id") < names.index("method")) == (record_factory == "request id factory")
    skipped = ("created", "msecs", "relativeCreated", "message", "asctime")
    assert {k: v for k, v in record.__dict__.items() if k not in skipped} == {
        k: v for k, v in expected.__dict__.items() if k not in skipped
    }
    assert (record.filename, record.module, record.levelname) == ("access_log.py", "access_log", "INFO")
    assert record.request_id == "hdr-1"  # type: ignore[attr-defined]
    if flags:
        assert record.process == os.getpid()
        assert record.thread is not None and record.threadName is not None
        assert record.processName == "MainProcess"
    else:
        assert (record.thread, record.threadName, record.process, record.processName) == (None,) * 4
    assert before <= record.created <= after
    assert record.msecs == int((record.created - int(record.created)) * 1000)
    shift = (expected.created - record.created) * 1000
    assert abs(expected.relativeCreated - record.relativeCreated - shift) < 0.01
    # Every standard attribute is there for a formatter, and the JSON line is the reference's.
    standard = logging.Formatter(_STANDARD_FORMAT).format(record)
    assert standard.startswith("lanner.access GET <unmatched> 200 () INFO 20 ")
    expected.created, expected.msecs = record.created, record.msecs
    assert JSONFormatter().format(record) == JSONFormatter().format(expected)


def test_a_record_factory_of_its_own_is_called(access: list[logging.LogRecord], record_factory: str) -> None:
    previous = logging.getLogRecordFactory()

    def tagging(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.tag = "mine"
        return record

    logging.setLogRecordFactory(tagging)
    with TestClient(build_app("json")) as client:
        client.get("/items/1", headers={"X-Request-ID": "own-factory"})
    logging.setLogRecordFactory(previous)
    with TestClient(build_app("json")) as client:
        client.get("/items/2", headers={"X-Request-ID": "standard"})
    tagged, plain = access
    assert tagged.tag == "mine"  # type: ignore[attr-defined]
    assert json_line(tagged)["tag"] == "mine"
    assert json_line(tagged)["request_id"] == "own-factory"
    assert "tag" not in plain.__dict__
    assert json_line(plain)["request_id"] == "standard"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_worker_logs_its_own_pid(access: list[logging.LogRecord], record_factory: str) -> None:
    middleware = AccessLogMiddleware(_answer)  # built before the fork, as in a pre-forking server
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python 3.12+)
        pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        try:
            asyncio.run(middleware(raw_scope(), Client().receive, Client().send))
            os.write(write_end, f"{access[-1].process} {os.getpid()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        logged, child = pipe.read().decode().split()
    os.waitpid(pid, 0)
    assert logged == child != str(os.getpid())


def test_the_layer_is_fixed() -> None:
    assert AccessLogMiddleware.layer == 60


async def _never(scope: Scope, receive: Receive, send: Send) -> None:
    return None
