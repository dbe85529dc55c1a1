"""TimeoutMiddleware: a budget for reading the body (408) and one for the whole request (504/503)."""

import asyncio
import contextlib
import math
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Annotated, Any

import httpx
import pytest

from lanner import BackgroundTasks, Depends, Lanner, Request
from lanner.middleware.timeout import Timeout, TimeoutMiddleware
from lanner.responses import StreamingResponse
from lanner.testing import TestClient
from lanner.types import Message, Receive, Scope, Send
from tests.conftest import Server, free_port


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Record:
    """What the app did, for the tests to check."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.finished = threading.Event()

    def wait_for(self, event: str, timeout: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        while event not in self.events and time.monotonic() < deadline:
            time.sleep(0.01)
        return event in self.events


def build_app(record: Record, **options: Any) -> Lanner:
    app = Lanner()

    async def resource() -> AsyncIterator[str]:
        record.events.append("setup")
        try:
            yield "resource"
        finally:
            record.events.append("cleanup")

    @app.get("/fast")
    async def fast() -> dict[str, str]:
        return {"answer": "fast"}

    @app.get("/slow")
    async def slow(held: Annotated[str, Depends(resource)], seconds: float = 0.6) -> dict[str, str]:
        record.events.append("handler started")
        await asyncio.sleep(seconds)
        record.events.append("handler finished")
        return {"answer": held}

    @app.get("/sync")
    def sync(seconds: float = 0.6) -> dict[str, str]:
        time.sleep(seconds)
        record.finished.set()
        return {"answer": "sync"}

    @app.get("/short", timeout=0.2)
    async def short(seconds: float = 0.6) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"answer": "short"}

    @app.get("/long", timeout=Timeout(request=2))
    async def long(seconds: float = 0.6) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"answer": "long"}

    @app.get("/endless", timeout=Timeout(request=math.inf))
    async def endless(seconds: float = 0.6) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"answer": "endless"}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        body = await request.body()
        record.events.append("upload handled")
        return {"size": len(body)}

    @app.post("/upload-patient", timeout=Timeout(body=2))
    async def upload_patient(request: Request) -> dict[str, int]:
        body = await request.body()
        return {"size": len(body)}

    @app.post("/upload-then-work")
    async def upload_then_work(request: Request, seconds: float = 0.0) -> dict[str, int]:
        body = await request.body()
        await asyncio.sleep(seconds)
        return {"size": len(body)}

    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, str]:
        async def work() -> None:
            await asyncio.sleep(0.5)
            record.events.append("background done")

        tasks.add_task(work)
        return {"answer": "later"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                yield b"first chunk"
                await asyncio.sleep(5)
                yield b"never sent"
            finally:
                record.events.append("stream closed")

        return StreamingResponse(chunks(), media_type="text/plain")

    app.add_middleware(TimeoutMiddleware, **options)
    return app


@pytest.fixture
def record() -> Record:
    return Record()


@pytest.fixture
def client(record: Record) -> Iterator[TestClient]:
    with TestClient(build_app(record, request_timeout=0.3, body_timeout=0.3)) as test_client:
        yield test_client


def timed_get(client: TestClient, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path, **kwargs)
    return response, time.monotonic() - started


def test_a_fast_request_is_unaffected(client: TestClient, record: Record) -> None:
    response = client.get("/fast")
    assert response.status_code == 200
    assert response.json() == {"answer": "fast"}
    response = client.get("/slow?seconds=0.05")
    assert response.status_code == 200
    assert record.events == ["setup", "handler started", "handler finished", "cleanup"]


def test_a_slow_handler_gets_504_is_cancelled_and_cleaned_up(client: TestClient, record: Record) -> None:
    response, elapsed = timed_get(client, "/slow?seconds=1")
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 504
    assert response.json()["detail"] == "The server did not answer in time."
    assert 0.25 < elapsed < 0.9  # before the handler's sleep would have ended
    assert record.wait_for("cleanup")
    time.sleep(1.1 - elapsed)  # past the end of the handler's sleep, had it not been cancelled
    assert record.events == ["setup", "handler started", "cleanup"]
    # The client's loop goes on serving: the task was uncancelled.
    assert client.get("/fast").status_code == 200


def test_browsers_get_an_html_page(client: TestClient) -> None:
    response = client.get("/slow?seconds=0.6", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("text/html")
    assert "504" in response.text


def test_the_status_can_be_503(record: Record) -> None:
    with TestClient(build_app(record, request_timeout=0.2, status_code=503)) as client:
        response = client.get("/slow?seconds=0.6")
    assert response.status_code == 503
    assert response.json()["status"] == 503


def test_a_sync_handler_is_answered_and_its_thread_finishes_later(client: TestClient, record: Record) -> None:
    response, elapsed = timed_get(client, "/sync?seconds=1")
    assert response.status_code == 504
    assert elapsed < 0.9
    assert not record.finished.is_set()
    assert record.finished.wait(2)  # the thread could not be stopped: it ran to its end


def test_a_route_can_have_a_shorter_budget(record: Record) -> None:
    with TestClient(build_app(record, request_timeout=5)) as client:
        response, elapsed = timed_get(client, "/short?seconds=1")
        assert response.status_code == 504
        assert elapsed < 0.9
        assert client.get("/short?seconds=0.05").json() == {"answer": "short"}


def test_a_route_can_have_a_longer_budget_or_none(client: TestClient) -> None:
    # The app's budget (0.3 s) would cut these short.
    response = client.get("/long?seconds=0.6")
    assert response.status_code == 200
    assert response.json() == {"answer": "long"}
    assert client.get("/endless?seconds=0.6").json() == {"answer": "endless"}
    assert client.get("/slow?seconds=0.6").status_code == 504


def test_no_budget_at_all_passes_requests_straight_through(record: Record) -> None:
    with TestClient(build_app(record, request_timeout=None, body_timeout=math.inf)) as client:
        assert client.get("/slow?seconds=0.4").status_code == 200


def test_background_tasks_after_the_response_are_not_limited(client: TestClient, record: Record) -> None:
    response, elapsed = timed_get(client, "/background")
    assert response.json() == {"answer": "later"}
    assert elapsed >= 0.5  # the test client waits for the app, background tasks included
    assert record.events == ["background done"]


def test_handlers_behind_function_middleware_are_cancelled_too(record: Record) -> None:
    app = build_app(record, request_timeout=0.3)

    @app.middleware("http")
    async def around(request: Request, call_next: Any) -> Any:
        record.events.append("middleware")
        return await call_next(request)

    with TestClient(app) as client:
        response, elapsed = timed_get(client, "/slow?seconds=1")
        assert response.status_code == 504
        assert record.wait_for("cleanup")
        time.sleep(1.1 - elapsed)
    assert record.events == ["middleware", "setup", "handler started", "cleanup"]


def test_a_budget_running_out_after_the_response_started_ends_it_unfinished(record: Record) -> None:
    app = build_app(record, request_timeout=0.3)
    sent, elapsed = asyncio.run(call(app, "GET", "/stream", []))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    assert sent[1] == {"type": "http.response.body", "body": b"first chunk", "more_body": True}
    assert 0.25 < elapsed < 1
    assert record.events == ["stream closed"]


# -- the body budget, in process ------------------------------------------------------------------


async def call(
    app: Any, method: str, path: str, chunks: Sequence[tuple[float, bytes]], *, length: int | None = None
) -> tuple[list[Message], float]:
    """Send a request whose body arrives as `chunks` of (delay before it, bytes); return the reply.

    When the chunks run out before `length` bytes, the client stalls (until the app gives up).
    """
    total = sum(len(chunk) for _, chunk in chunks) if length is None else length
    pending = list(chunks)
    received = 0
    done = asyncio.Event()
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        if received >= total and not pending:
            await done.wait()
            return {"type": "http.disconnect"}
        if not pending:
            await asyncio.sleep(3600)  # a client that stopped sending
        delay, chunk = pending.pop(0)
        await asyncio.sleep(delay)
        received += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": received < total}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    headers = [(b"host", b"testserver"), (b"content-length", str(total).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path.partition("?")[0],
        "raw_path": path.partition("?")[0].encode(),
        "root_path": "",
        "query_string": path.partition("?")[2].encode(),
        "headers": headers,
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    started = time.monotonic()
    await app(scope, receive, send)
    return sent, time.monotonic() - started


def reply(sent: list[Message]) -> httpx.Response:
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return httpx.Response(start["status"], headers=start["headers"], content=body)


TRICKLE = [(0.0, b"a" * 10), *[(0.1, b"b" * 10)] * 20]  # 210 bytes over 2 s


@pytest.mark.anyio
async def test_a_slow_body_gets_408_and_the_handler_never_runs(record: Record) -> None:
    app = build_app(record, request_timeout=5, body_timeout=0.3)
    sent, elapsed = await call(app, "POST", "/upload", TRICKLE)
    response = reply(sent)
    assert response.status_code == 408
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["connection"] == "close"
    assert response.json()["detail"] == "The request body did not arrive in time."
    assert 0.25 < elapsed < 1.5  # the body would have taken 2 s
    assert record.events == []


@pytest.mark.anyio
async def test_a_stalled_body_gets_408(record: Record) -> None:
    app = build_app(record, request_timeout=5, body_timeout=0.3)
    sent, elapsed = await call(app, "POST", "/upload", [(0.0, b"x" * 10)], length=100)
    assert reply(sent).status_code == 408
    assert elapsed < 1.5


@pytest.mark.anyio
async def test_a_route_can_wait_longer_for_its_body(record: Record) -> None:
    app = build_app(record, request_timeout=5, body_timeout=0.3)
    sent, _ = await call(app, "POST", "/upload-patient", TRICKLE[:8])  # 0.7 s
    assert reply(sent).status_code == 200
    assert reply(sent).json() == {"size": 80}


@pytest.mark.anyio
async def test_a_body_in_time_leaves_the_request_budget_in_force(record: Record) -> None:
    app = build_app(record, request_timeout=1, body_timeout=0.5)
    # The body takes 0.2 s, then the handler works past the body budget: still within the request's.
    sent, _ = await call(app, "POST", "/upload-then-work?seconds=0.4", TRICKLE[:3])
    assert reply(sent).json() == {"size": 30}
    # Past the request budget, once the body was in: 504, and the connection is kept.
    sent, elapsed = await call(app, "POST", "/upload-then-work?seconds=2", TRICKLE[:3])
    response = reply(sent)
    assert response.status_code == 504
    assert "connection" not in response.headers
    assert 0.9 < elapsed < 1.8


@pytest.mark.anyio
async def test_a_request_budget_running_out_during_the_body_closes_the_connection(record: Record) -> None:
    app = build_app(record, request_timeout=0.3, body_timeout=5)
    sent, elapsed = await call(app, "POST", "/upload", TRICKLE)
    response = reply(sent)
    assert response.status_code == 504
    assert response.headers["connection"] == "close"
    assert elapsed < 1.5
    assert record.events == []


# -- cancellation that is not ours -----------------------------------------------------------------


@pytest.mark.anyio
async def test_a_cancellation_from_outside_is_passed_on() -> None:
    sent: list[Message] = []
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        await asyncio.sleep(5)

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = TimeoutMiddleware(app, request_timeout=0.3)
    task = asyncio.create_task(
        middleware({"type": "http", "method": "GET", "path": "/"}, receive_nothing, send)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == []
    await asyncio.sleep(0.4)  # the timer was disarmed: nothing fires on a finished task
    assert sent == []


@pytest.mark.anyio
async def test_a_timeout_racing_a_shutdown_is_passed_on() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Cancelled by the timeout; the server cancels it too while it cleans up.
        try:
            await asyncio.sleep(5)
        finally:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = TimeoutMiddleware(app, request_timeout=0.1)
    with pytest.raises(asyncio.CancelledError):
        await middleware({"type": "http", "method": "GET", "path": "/"}, receive_nothing, send)
    assert sent == []


@pytest.mark.anyio
async def test_an_app_that_swallows_the_cancellation_is_still_answered() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # wrong, but it happens
            await asyncio.sleep(5)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = TimeoutMiddleware(app, request_timeout=0.1)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await middleware(scope, receive_nothing, send)
    assert sent[0]["status"] == 504
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0.01)  # and the task is not cancelled later


async def receive_nothing() -> Message:
    await asyncio.sleep(3600)
    return {"type": "http.disconnect"}


@pytest.mark.anyio
async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        await asyncio.sleep(0.2)

    await TimeoutMiddleware(app, request_timeout=0.05)(
        {"type": "websocket"}, receive_nothing, receive_nothing
    )  # type: ignore[arg-type]
    assert seen == ["websocket"]


# -- settings ---------------------------------------------------------------------------------------


def test_timeout_settings_are_checked() -> None:
    assert Timeout.coerce(5) == Timeout(request=5)
    assert Timeout.coerce(None) is None
    budget = Timeout(body=1)
    assert Timeout.coerce(budget) is budget
    assert Timeout(request=math.inf).request == math.inf
    for bad in (0, -1, math.nan):
        with pytest.raises(ValueError, match="positive"):
            Timeout(request=bad)
        with pytest.raises(ValueError, match="body_timeout"):
            TimeoutMiddleware(receive_nothing, body_timeout=bad)  # type: ignore[arg-type]
    for wrong in ("5", True):
        with pytest.raises(TypeError):
            Timeout(body=wrong)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Timeout.coerce(wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="503 or 504"):
        TimeoutMiddleware(receive_nothing, status_code=500)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        budget.body = 2  # type: ignore[misc]


def test_it_runs_near_the_outside_of_the_stack() -> None:
    assert TimeoutMiddleware.layer == 20


# -- a real server: a client that stalls mid-body ----------------------------------------------------

server_app = Lanner()
uploads: list[int] = []


@server_app.post("/upload")
async def server_upload(request: Request) -> dict[str, int]:
    body = await request.body()
    uploads.append(len(body))
    return {"size": len(body)}


@server_app.get("/uploads")
async def server_uploads() -> list[int]:
    return uploads


server_app.add_middleware(TimeoutMiddleware, body_timeout=0.5, request_timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.test_middleware_timeout:server_app",
        "--host",
        "127.0.0.1",
    ]
    running = Server([*args, "--port", str(port)], port, dict(os.environ))
    try:
        running.wait_ready("/uploads")
        yield running
    finally:
        running.stop()


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.slow
def test_a_stalled_upload_gets_408_and_the_connection_is_closed(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        head = (
            b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
        )
        sock.sendall(head + b"x" * 10)
        started = time.monotonic()
        answer = read_until_closed(sock, timeout=5)  # the server closes the connection after the 408
        elapsed = time.monotonic() - started
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert b"\r\nconnection: close\r\n" in rest.lower()
    assert b"application/problem+json" in rest
    assert 0.4 < elapsed < 2.0
    assert httpx.get(f"{server.url}/uploads").json() == []  # the handler never ran
    response = httpx.post(f"{server.url}/upload", content=b"y" * 100)
    assert response.json() == {"size": 100}
