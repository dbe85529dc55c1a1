import asyncio
import logging
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lanner import BackgroundTasks, Depends, Header, Lanner, Request
from lanner.middleware import request_id as request_id_module
from lanner.middleware.request_id import (
    RequestIDFilter,
    RequestIDMiddleware,
    current_request_id,
    generate_request_id,
)
from lanner.responses import Response
from lanner.testing import TestClient
from lanner.types import Message, Receive, Scope, Send

UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


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
def myapp_records() -> Iterator[list[logging.LogRecord]]:
    logger = logging.getLogger("myapp")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def build_app() -> Lanner:
    app = Lanner()
    app.add_middleware(RequestIDMiddleware)
    log = logging.getLogger("myapp")

    @app.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        return {"id": request.state.request_id, "current": current_request_id()}

    @app.get("/async-log")
    async def async_log() -> dict[str, str]:
        log.info("inside async")
        return {}

    @app.get("/sync-log")
    def sync_log() -> dict[str, Any]:
        log.info("inside sync")
        return {"current": current_request_id()}

    @app.get("/slow-log")
    def slow_log(x_request_id: str = Header()) -> None:
        log.info("%s before", x_request_id)
        time.sleep(0.05)
        log.info("%s after", x_request_id)

    def dependency(request: Request) -> str:
        return str(request.state.request_id)

    @app.get("/dependency")
    def with_dependency(value: str = Depends(dependency)) -> dict[str, str]:
        return {"id": value}

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(log.info, "in the background")
        return {}

    own = Response(b"own", headers={"X-Request-ID": "set-by-the-app"})

    @app.get("/own-header")
    async def own_header() -> Response:
        return own  # the same object every time: the middleware must not change it

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(build_app()) as test_client:
        yield test_client


# -- ids from the client, and generated ones -------------------------------------------------------


@pytest.mark.parametrize(
    "sane",
    ["abc-123", str(uuid.uuid4()), "a" * 128, "x.y_z~:+/=-", "01HZX3Q5V4K8M2N7P9R1S6T0WB", "dGVzdA=="],
)
def test_a_sane_client_id_is_echoed_and_used(client: TestClient, sane: str) -> None:
    response = client.get("/state", headers={"X-Request-ID": sane})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == sane
    assert response.json() == {"id": sane, "current": sane}


@pytest.mark.parametrize(
    "insane",
    [
        b"a" * 129,
        b"has space",
        b"",
        b"tab\there",
        b"new\nline",
        b"nul\x00",
        b"esc\x1b[31m",
        b"caf\xc3\xa9",
        b"semi;colon",
        b'quote"d',
        b"comma,list",
    ],
)
@pytest.mark.anyio
async def test_an_insane_client_id_is_replaced(insane: bytes) -> None:
    seen: list[Any] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["state"]["request_id"], current_request_id()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = await call(RequestIDMiddleware(inner), http_scope([(b"x-request-id", insane)]))
    [(state_id, current)] = seen
    assert state_id == current
    assert UUID7.fullmatch(state_id)
    assert messages[0]["headers"] == [(b"x-request-id", state_id.encode())]


def test_generated_ids_are_unique_uuid7s() -> None:
    before = time.time_ns() // 1_000_000
    ids = [generate_request_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert UUID7.fullmatch(value), value
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after
    # The random part really varies in every position (not a counter).
    assert len({value[15:18] for value in ids}) > 1000
    assert len({value[-12:] for value in ids}) == len(ids)


def test_ids_from_many_threads_are_unique() -> None:
    # The random tails come in batches: threads drawing from one batch never share a tail.
    barrier = threading.Barrier(8)

    def draw(_: int) -> list[str]:
        barrier.wait()
        return [generate_request_id() for _ in range(2000)]

    with ThreadPoolExecutor(8) as pool:
        ids = [value for batch in pool.map(draw, range(8)) for value in batch]
    assert len(ids) == 16000
    assert len(set(ids)) == len(ids)
    assert len({value[-12:] for value in ids}) == len(ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_parents_ids() -> None:
    generate_request_id()  # the parent holds a batch of tails it has not handed out yet
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python 3.12+)
        pid = os.fork()
    if pid == 0:  # the child: report its ids, then leave without running pytest's teardown
        try:
            os.write(write_end, " ".join(generate_request_id() for _ in range(20)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode().split()
    os.waitpid(pid, 0)
    parent = [generate_request_id() for _ in range(20)]
    assert len(child) == 20
    assert all(UUID7.fullmatch(value) for value in child)
    assert not {value[-23:] for value in child} & {value[-23:] for value in parent}


def test_a_request_without_id_gets_a_new_one(client: TestClient) -> None:
    first = client.get("/state")
    second = client.get("/state")
    assert UUID7.fullmatch(first.headers["x-request-id"])
    assert first.json()["id"] == first.headers["x-request-id"]
    assert first.json()["current"] == first.headers["x-request-id"]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]


def test_the_state_id_reaches_dependencies_and_sync_handlers(client: TestClient) -> None:
    response = client.get("/dependency")
    assert response.json() == {"id": response.headers["x-request-id"]}
    response = client.get("/sync-log")
    assert response.json() == {"current": response.headers["x-request-id"]}


def test_the_response_header_replaces_the_apps_and_the_response_is_left_alone(client: TestClient) -> None:
    ids = []
    for _ in range(2):
        response = client.get("/own-header")
        assert response.content == b"own"
        values = response.headers.get_list("x-request-id")
        assert len(values) == 1
        assert UUID7.fullmatch(values[0])
        ids.append(values[0])
    assert ids[0] != ids[1]


@pytest.mark.anyio
async def test_a_start_message_the_app_reuses_is_not_changed() -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"app")]}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    middleware = RequestIDMiddleware(inner)
    first = await call(middleware, http_scope([(b"x-request-id", b"one")]))
    second = await call(middleware, http_scope([]))
    assert start == {"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"app")]}
    assert first[0]["headers"] == [(b"x-request-id", b"one")]
    assert second[0]["headers"][0][1] != b"one"


@pytest.mark.anyio
async def test_the_apps_header_is_replaced_whatever_its_case_and_others_keep_their_order() -> None:
    headers = [
        (b"content-type", b"text/plain"),
        (b"X-Request-ID", b"upper"),
        (b"x-request-ix", b"same length, other name"),
        (b"x-request-id", b"lower"),
        (b"content-length", b"0"),
    ]

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    messages = await call(RequestIDMiddleware(inner), http_scope([(b"x-request-id", b"mine")]))
    assert messages[0]["headers"] == [
        (b"content-type", b"text/plain"),
        (b"x-request-ix", b"same length, other name"),
        (b"content-length", b"0"),
        (b"x-request-id", b"mine"),
    ]
    assert len(headers) == 5  # the app's list is left alone
    assert messages[1] == {"type": "http.response.body", "body": b""}
    del headers[2:]  # only the upper-case one left
    messages = await call(RequestIDMiddleware(inner), http_scope([(b"x-request-id", b"again")]))
    assert messages[0]["headers"] == [(b"content-type", b"text/plain"), (b"x-request-id", b"again")]


@pytest.mark.anyio
async def test_a_start_without_headers_gets_the_id() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    messages = await call(RequestIDMiddleware(inner), http_scope([(b"x-request-id", b"bare")]))
    assert messages[0] == {
        "type": "http.response.start",
        "status": 204,
        "headers": [(b"x-request-id", b"bare")],
    }


def test_untrusted_incoming_ids_are_always_replaced() -> None:
    app = Lanner()
    app.add_middleware(RequestIDMiddleware, trust_incoming=False)

    @app.get("/")
    async def index(request: Request) -> str:
        return str(request.state.request_id)

    with TestClient(app) as client:
        response = client.get("/", headers={"X-Request-ID": "chosen-by-client"})
    assert response.headers["x-request-id"] != "chosen-by-client"
    assert response.json() == response.headers["x-request-id"]


def test_a_custom_header_name_and_generator() -> None:
    counter = iter(range(100))
    app = Lanner()
    app.add_middleware(
        RequestIDMiddleware, header_name="X-Correlation-ID", generator=lambda: f"c{next(counter)}"
    )

    @app.get("/")
    async def index(request: Request) -> str:
        return str(request.state.request_id)

    with TestClient(app) as client:
        first = client.get("/")
        echoed = client.get("/", headers={"X-Correlation-ID": "from-client", "X-Request-ID": "ignored"})
    assert first.headers["x-correlation-id"] == "c0"
    assert "x-request-id" not in first.headers
    assert first.json() == "c0"
    assert echoed.headers["x-correlation-id"] == "from-client"
    assert echoed.json() == "from-client"


def test_a_bad_header_name_is_refused() -> None:
    with pytest.raises(ValueError, match="header name"):
        RequestIDMiddleware(lambda scope, receive, send: None, header_name="X Request")  # type: ignore[arg-type,return-value]


def test_user_middleware_sees_the_id_in_request_state() -> None:
    app = Lanner()
    app.add_middleware(RequestIDMiddleware)
    seen: list[str] = []

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        seen.append(request.state.request_id)
        response: Response = await call_next(request)
        return response

    @app.get("/")
    async def index() -> str:
        return "ok"

    with TestClient(app) as client:
        response = client.get("/")
    assert seen == [response.headers["x-request-id"]]


# -- log records -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/async-log", "/sync-log"])
def test_records_logged_in_a_handler_carry_the_id(
    client: TestClient, myapp_records: list[logging.LogRecord], path: str
) -> None:
    response = client.get(path, headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 200
    [record] = myapp_records
    assert record.getMessage().startswith("inside")
    assert record.request_id == "trace-me-1"  # type: ignore[attr-defined]
    # Any formatter can use it.
    assert (
        logging.Formatter("%(request_id)s %(message)s").format(record) == f"trace-me-1 {record.getMessage()}"
    )


def test_concurrent_requests_each_log_their_own_id(
    client: TestClient, myapp_records: list[logging.LogRecord]
) -> None:
    ids = [f"req-{i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda value: client.get("/slow-log", headers={"X-Request-ID": value}), ids))
    assert [r.status_code for r in statuses] == [200] * 8
    assert len(myapp_records) == 16
    for record in myapp_records:
        # Each handler logs the header it received, before and after the others ran.
        assert record.request_id == record.args[0]  # type: ignore[attr-defined,index]
    assert {r.request_id for r in myapp_records} == set(ids)  # type: ignore[attr-defined]


def test_background_task_records_carry_the_id(
    client: TestClient, myapp_records: list[logging.LogRecord]
) -> None:
    response = client.get("/background")
    [record] = myapp_records
    assert record.getMessage() == "in the background"
    assert record.request_id == response.headers["x-request-id"]  # type: ignore[attr-defined]


def test_records_outside_a_request_have_none(
    client: TestClient, myapp_records: list[logging.LogRecord]
) -> None:
    client.get("/async-log")
    logging.getLogger("myapp").info("outside")
    assert current_request_id() is None
    assert myapp_records[-1].request_id is None  # type: ignore[attr-defined]
    assert logging.Formatter("[%(request_id)s] %(message)s").format(myapp_records[-1]) == "[None] outside"


@pytest.mark.anyio
async def test_the_context_variable_is_reset_after_the_request() -> None:
    during: list[str | None] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        during.append(current_request_id())
        raise RuntimeError("boom")

    middleware = RequestIDMiddleware(inner)
    with pytest.raises(RuntimeError):
        await call(middleware, http_scope([(b"x-request-id", b"abc")]))
    assert during == ["abc"]
    assert current_request_id() is None
    await call(middleware, http_scope([(b"x-request-id", b"def")]), expect_error=True)
    assert during == ["abc", "def"]
    assert current_request_id() is None


def test_the_record_factory_is_installed_once_and_chains_the_previous_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved = logging.getLogRecordFactory()

    def previous(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = logging.LogRecord(*args, **kwargs)
        record.custom = "kept"  # type: ignore[attr-defined]
        return record

    monkeypatch.setattr(request_id_module, "_installed", False)
    logging.setLogRecordFactory(previous)
    try:
        RequestIDMiddleware(_noop)
        installed = logging.getLogRecordFactory()
        assert installed is not previous
        RequestIDMiddleware(_noop)
        RequestIDMiddleware(_noop)
        assert logging.getLogRecordFactory() is installed
        record = logging.getLogger("myapp").makeRecord("myapp", logging.INFO, "f", 1, "m", (), None)
        assert record.custom == "kept"  # type: ignore[attr-defined]
        assert record.request_id is None  # type: ignore[attr-defined]
        # Reset to the plain factory (as some test helpers do): the next middleware installs again.
        logging.setLogRecordFactory(logging.LogRecord)
        RequestIDMiddleware(_noop)
        assert logging.getLogRecordFactory() is not logging.LogRecord
        assert logging.makeLogRecord({}).__dict__.get("request_id", "missing") is None
    finally:
        logging.setLogRecordFactory(saved)


def test_the_factory_hands_every_argument_to_the_previous_one(
    myapp_records: list[logging.LogRecord],
) -> None:
    RequestIDMiddleware(_noop)
    factory = logging.getLogRecordFactory()
    assert getattr(factory, "lanner_request_id", False)
    record = logging.getLogger("myapp").makeRecord(
        "myapp", logging.WARNING, "/src/mod.py", 12, "n=%d", (3,), None, func="handler", sinfo="stack here"
    )
    assert (record.name, record.levelno, record.pathname, record.lineno) == ("myapp", 30, "/src/mod.py", 12)
    assert (record.getMessage(), record.funcName, record.stack_info) == ("n=3", "handler", "stack here")
    assert record.request_id is None  # type: ignore[attr-defined]
    made = logging.makeLogRecord({"msg": "made"})
    assert made.request_id is None  # type: ignore[attr-defined]
    assert made.getMessage() == "made"


@pytest.mark.anyio
async def test_the_filter_adds_the_id_to_records_made_without_the_factory() -> None:
    filtered: list[logging.LogRecord] = []
    log_filter = RequestIDFilter()

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        record = logging.LogRecord("x", logging.INFO, "f", 1, "inside", None, None)
        assert "request_id" not in record.__dict__
        assert log_filter.filter(record) is True
        filtered.append(record)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    await call(RequestIDMiddleware(inner), http_scope([(b"x-request-id", b"filtered-1")]))
    assert filtered[0].request_id == "filtered-1"  # type: ignore[attr-defined]
    outside = logging.LogRecord("x", logging.INFO, "f", 1, "outside", None, None)
    assert log_filter.filter(outside) is True
    assert outside.request_id is None  # type: ignore[attr-defined]
    # A record that has one keeps it (a queue listener's thread has no request context).
    filtered[0].request_id = "kept"  # type: ignore[attr-defined]
    log_filter.filter(filtered[0])
    assert filtered[0].request_id == "kept"  # type: ignore[attr-defined]


# -- other scopes ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_websockets_get_an_id_in_state_and_logs_but_no_header() -> None:
    seen: list[Any] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["state"]["request_id"], current_request_id()))
        await send({"type": "websocket.accept"})

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"x-request-id", b"ws-1")], "state": {"db": 1}}
    messages = await call(RequestIDMiddleware(inner), scope)
    assert seen == [("ws-1", "ws-1")]
    assert messages == [{"type": "websocket.accept"}]
    assert scope["state"] == {"db": 1, "request_id": "ws-1"}


@pytest.mark.anyio
async def test_lifespan_passes_through_untouched() -> None:
    seen: list[Any] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((dict(scope), current_request_id()))

    await call(RequestIDMiddleware(inner), {"type": "lifespan", "state": {}})
    assert seen == [({"type": "lifespan", "state": {}}, None)]


def test_the_layer_is_fixed() -> None:
    assert RequestIDMiddleware.layer == 30


# -- helpers ---------------------------------------------------------------------------------------


async def _noop(scope: Scope, receive: Receive, send: Send) -> None:
    return None


def http_scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": "GET", "path": "/", "headers": headers}


async def call(app: Any, scope: Scope, *, expect_error: bool = False) -> list[Message]:
    messages: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)

    if expect_error:
        with pytest.raises(RuntimeError):
            await app(scope, receive, send)
    else:
        await app(scope, receive, send)
    return messages


def test_a_callers_extra_request_id_is_kept_inside_and_outside_requests() -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("some.library")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app = Lanner()
    app.add_middleware(RequestIDMiddleware)

    @app.get("/")
    async def index() -> str:
        logger.info("inside", extra={"request_id": "theirs"})
        logger.info("plain")
        return "ok"

    try:
        with TestClient(app) as client:
            ours = client.get("/").headers["x-request-id"]
        logger.info("outside", extra={"request_id": "outside-id"})
    finally:
        logger.removeHandler(handler)
    assert [(r.getMessage(), r.request_id) for r in records] == [  # type: ignore[attr-defined]
        ("inside", "theirs"),
        ("plain", ours),
        ("outside", "outside-id"),
    ]
    assert logging.Formatter("%(request_id)s %(message)s").format(records[1]) == f"{ours} plain"
