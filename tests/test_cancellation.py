"""Cancellation and fault tests: a request cancelled at any await point of its path (body read,
each dependency, the handler, the send) runs every cleanup exactly once, promptly, and gives every
thread back; disconnects are quiet; failing background tasks are logged, never raised."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel

from lanner import BackgroundTasks, Depends, Lanner, Request, Response
from lanner.concurrency import ThreadPool, cleanup_pool, default_pool, dependency_pool
from lanner.responses import FileResponse, PlainTextResponse
from lanner.testing import TestClient
from lanner.types import Message


class Item(BaseModel):
    name: str


class Probe:
    """Records where a request got to and what its dependencies saw on the way out."""

    def __init__(self) -> None:
        self.reached: dict[str, asyncio.Event] = {}
        self.exits: list[tuple[str, str]] = []
        self.release = threading.Event()

    def event(self, name: str) -> asyncio.Event:
        return self.reached.setdefault(name, asyncio.Event())


def build_app(probe: Probe, loop: asyncio.AbstractEventLoop) -> Lanner:
    app = Lanner(freeze_gc=False)

    def reached(name: str) -> None:
        loop.call_soon_threadsafe(probe.event(name).set)

    async def first() -> AsyncIterator[str]:
        reached("first")
        try:
            yield "first"
        except BaseException as exc:
            probe.exits.append(("first", type(exc).__name__))
            raise
        else:
            probe.exits.append(("first", "ok"))

    def second(a: Annotated[str, Depends(first)]) -> Iterator[str]:
        reached("second")
        try:
            yield a + "+second"
        except BaseException as exc:
            probe.exits.append(("second", type(exc).__name__))
            raise
        else:
            probe.exits.append(("second", "ok"))

    async def slow_async(b: Annotated[str, Depends(second)], request: Request) -> AsyncIterator[str]:
        reached("slow_async")
        if request.query_params.get("block") == "slow_async":
            await asyncio.sleep(3600)
        try:
            yield b
        finally:
            probe.exits.append(("slow_async", "finally"))

    def blocking_sync(c: Annotated[str, Depends(slow_async)], request: Request) -> Iterator[str]:
        reached("blocking_sync")
        if request.query_params.get("block") == "blocking_sync":
            probe.release.wait(10)
        try:
            yield c
        finally:
            probe.exits.append(("blocking_sync", "finally"))

    @app.post("/items")
    async def create(
        item: Item, request: Request, d: Annotated[str, Depends(blocking_sync)]
    ) -> dict[str, str]:
        reached("handler")
        if request.query_params.get("block") == "handler":
            await asyncio.sleep(3600)
        return {"name": item.name, "chain": d}

    return app


async def drive(
    app: Lanner,
    query: bytes,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/items",
        "raw_path": b"/items",
        "root_path": "",
        "query_string": query,
        "headers": [(b"content-type", b"application/json")],
    }
    await app(scope, receive, send)


def body_receiver(gate: asyncio.Event | None = None) -> Callable[[], Awaitable[Message]]:
    async def receive() -> Message:
        if gate is not None:
            await gate.wait()
        return {"type": "http.request", "body": b'{"name": "x"}', "more_body": False}

    return receive


async def get(app: Lanner, path: str) -> list[Message]:
    """Send one bodiless GET straight to the app; return the messages it sent."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b""}
    await app({**scope, "headers": []}, receive, send)
    return sent


async def assert_threads_back() -> None:
    """Every thread of every pool can run at the same time: none is stuck in an old request."""
    for pool in (default_pool(), dependency_pool(), cleanup_pool()):
        barrier = threading.Barrier(pool.max_workers)
        await asyncio.wait_for(
            asyncio.gather(*(pool.run(barrier.wait, 5) for _ in range(pool.max_workers))), 10
        )


EXPECTED_EXITS = {
    # where the request was cancelled -> the cleanups that must have run, in order
    "slow_async": [("second", "CancelledError"), ("first", "CancelledError")],
    # Its setup thread cannot be stopped: the others are cleaned up at once, and it is undone as
    # soon as its setup finishes.
    "blocking_sync": [
        ("slow_async", "finally"),
        ("second", "CancelledError"),
        ("first", "CancelledError"),
        ("blocking_sync", "finally"),
    ],
    "handler": [
        ("blocking_sync", "finally"),
        ("slow_async", "finally"),
        ("second", "CancelledError"),
        ("first", "CancelledError"),
    ],
}


@pytest.mark.parametrize("point", ["slow_async", "blocking_sync", "handler"])
def test_cancelling_at_each_dependency_and_the_handler_runs_each_cleanup_once(point: str) -> None:
    async def scenario() -> None:
        probe = Probe()
        app = build_app(probe, asyncio.get_running_loop())
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        task = asyncio.ensure_future(drive(app, b"block=" + point.encode(), body_receiver(), send))
        await asyncio.wait_for(probe.event(point).wait(), 10)
        if point == "blocking_sync":
            # The setup thread is inside the generator, before its yield: cancel, then let it go.
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            probe.release.set()
            deadline = time.monotonic() + 10
            while len(probe.exits) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        else:
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        # Promptly: the cleanups ran before the cancellation came out (or, for a setup still
        # running in its thread, right after it finished), not later from the garbage collector.
        assert probe.exits == EXPECTED_EXITS[point]
        assert sent == []
        await asyncio.sleep(0.05)
        assert probe.exits == EXPECTED_EXITS[point]  # exactly once
        await assert_threads_back()

    asyncio.run(scenario())


def test_cancelling_during_the_body_read_runs_nothing_and_sends_nothing() -> None:
    async def scenario() -> None:
        probe = Probe()
        app = build_app(probe, asyncio.get_running_loop())
        sent: list[Message] = []
        gate = asyncio.Event()

        async def send(message: Message) -> None:
            sent.append(message)

        task = asyncio.ensure_future(drive(app, b"", body_receiver(gate), send))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert probe.reached == {}  # the body is read before any dependency runs
        assert probe.exits == []
        assert sent == []

    asyncio.run(scenario())


def test_cancelling_during_the_send_runs_each_cleanup_once() -> None:
    async def scenario() -> None:
        probe = Probe()
        app = build_app(probe, asyncio.get_running_loop())
        in_send = asyncio.Event()

        async def send(message: Message) -> None:
            in_send.set()
            await asyncio.sleep(3600)

        task = asyncio.ensure_future(drive(app, b"", body_receiver(), send))
        await asyncio.wait_for(in_send.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert probe.exits == [
            ("blocking_sync", "finally"),
            ("slow_async", "finally"),
            ("second", "CancelledError"),
            ("first", "CancelledError"),
        ]
        await assert_threads_back()

    asyncio.run(scenario())


def test_a_completed_request_still_cleans_up_normally() -> None:
    async def scenario() -> None:
        probe = Probe()
        app = build_app(probe, asyncio.get_running_loop())
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        await drive(app, b"", body_receiver(), send)
        assert sent[0]["status"] == 200
        assert sent[1]["body"] == b'{"name":"x","chain":"first+second"}'
        assert probe.exits == [
            ("blocking_sync", "finally"),
            ("slow_async", "finally"),
            ("second", "ok"),
            ("first", "ok"),
        ]

    asyncio.run(scenario())


def test_a_sync_cleanup_does_not_block_the_event_loop_on_cancellation() -> None:
    async def scenario() -> None:
        app = Lanner(freeze_gc=False)
        entered = asyncio.Event()
        loop = asyncio.get_running_loop()

        def slow_close() -> Iterator[None]:
            loop.call_soon_threadsafe(entered.set)
            try:
                yield
            finally:
                time.sleep(0.3)

        @app.get("/")
        async def index(_: Annotated[None, Depends(slow_close)]) -> str:
            await asyncio.sleep(3600)
            return "never"

        async def receive() -> Message:
            await asyncio.sleep(3600)
            return {}

        async def send(message: Message) -> None:
            raise AssertionError("nothing is sent for a cancelled request")

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "root_path": "",
            "query_string": b"",
            "headers": [],
        }
        task = asyncio.ensure_future(app(scope, receive, send))
        await entered.wait()
        await asyncio.sleep(0.01)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        counting = asyncio.ensure_future(ticker())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        counting.cancel()
        # 0.3 s of cleanup in a thread: the loop kept ticking meanwhile (it would not if the
        # cleanup ran on the loop).
        assert ticks >= 5

    asyncio.run(scenario())


def test_a_small_resource_pool_held_by_sync_yield_dependencies_never_deadlocks() -> None:
    """100 concurrent requests, a resource pool of 5 taken in a sync `yield` dependency: every
    handler thread may be blocked waiting for a connection, and the requests holding one must
    still be able to finish and give it back."""
    app = Lanner(freeze_gc=False)
    connections = threading.BoundedSemaphore(5)

    def connection() -> Iterator[str]:
        connections.acquire()
        try:
            yield "conn"
        finally:
            connections.release()

    @app.get("/sync")
    def sync_handler(conn: Annotated[str, Depends(connection)]) -> str:
        time.sleep(0.002)
        return conn

    @app.get("/async")
    async def async_handler(conn: Annotated[str, Depends(connection)]) -> str:
        await asyncio.sleep(0.002)
        return conn

    async def scenario(path: str) -> list[int]:
        async def one() -> int:
            return int((await get(app, path))[0]["status"])

        return await asyncio.wait_for(asyncio.gather(*(one() for _ in range(100))), 30)

    assert asyncio.run(scenario("/async")) == [200] * 100
    assert asyncio.run(scenario("/sync")) == [200] * 100


def test_files_are_served_while_every_handler_thread_is_busy(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("file body")
    app = Lanner(freeze_gc=False)
    release = threading.Event()

    @app.get("/busy")
    def busy() -> str:
        release.wait(10)
        return "done"

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(tmp_path / "f.txt")

    async def scenario() -> tuple[bytes, float]:
        busy_calls = [asyncio.ensure_future(get(app, "/busy")) for _ in range(default_pool().max_workers + 5)]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        sent = await asyncio.wait_for(get(app, "/file"), 5)
        elapsed = time.monotonic() - started
        release.set()
        await asyncio.gather(*busy_calls)
        return b"".join(m.get("body", b"") for m in sent[1:]), elapsed

    body, elapsed = asyncio.run(scenario())
    assert body == b"file body"
    assert elapsed < 2.0  # it did not wait for the busy handlers (they hold for up to 10 s)


def test_a_client_disconnect_mid_body_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    cleanups: list[str] = []
    app = Lanner(freeze_gc=False)

    async def tracked() -> AsyncIterator[None]:
        try:
            yield
        finally:
            cleanups.append("done")

    @app.post("/items", dependencies=[Depends(tracked)])
    async def create(item: Item) -> Item:
        return item  # the body is read before the dependencies run: nothing to clean up

    @app.post("/direct")
    async def direct(item: Item) -> Item:
        return item

    @app.post("/stream", dependencies=[Depends(tracked)])
    async def stream(request: Request) -> int:
        return len([chunk async for chunk in request.stream()])

    async def scenario(path: str) -> list[Message]:
        messages = [
            {"type": "http.request", "body": b'{"name": ', "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[Message] = []

        async def receive() -> Message:
            return messages.pop(0)

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
        }
        await app(scope, receive, send)
        return sent

    with caplog.at_level(logging.DEBUG, logger="lanner"):
        for path in ("/items", "/direct", "/stream"):
            assert asyncio.run(scenario(path)) == []
    assert cleanups == ["done"]  # /stream's dependency, entered before its handler read the body
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("disconnected" in r.getMessage() for r in caplog.records)


def test_a_failing_background_task_is_logged_and_the_app_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Lanner(freeze_gc=False)
    ran: list[str] = []

    def explode() -> None:
        raise RuntimeError("background boom")

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> str:
        tasks.add_task(explode)
        tasks.add_task(ran.append, "never")  # tasks after a failing one do not run
        return "ok"

    with TestClient(app) as client:
        first = client.get("/")
        second = client.get("/")
    assert (first.status_code, first.text, second.status_code) == (200, '"ok"', 200)
    assert ran == []
    failures = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert len(failures) == 2
    assert "background task" in failures[0].getMessage()


def test_a_file_response_that_fails_before_sending_goes_to_the_handlers(tmp_path: Path) -> None:
    app = Lanner(freeze_gc=False)
    seen: list[type[BaseException]] = []

    @app.get("/missing")
    async def missing() -> FileResponse:
        return FileResponse(tmp_path / "nope.txt")

    @app.get("/nul")
    async def nul(request: Request) -> FileResponse:
        return FileResponse(str(tmp_path) + "/a\x00b")

    @app.get("/handled")
    async def handled(response: Response) -> FileResponse:
        return FileResponse(tmp_path / "nope.txt")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/missing", "/nul", "/handled"):
            reply = client.get(path)
            assert reply.status_code == 500, path
            assert reply.headers["content-type"] == "application/problem+json"
            assert str(tmp_path) not in reply.text

    @app.exception_handler(FileNotFoundError)
    def not_there(request: Request, exc: FileNotFoundError) -> Response:
        seen.append(type(exc))
        return PlainTextResponse("no such file", status_code=404)

    with TestClient(app) as client:
        assert (client.get("/missing").status_code, client.get("/handled").text) == (404, "no such file")
    assert seen == [FileNotFoundError, FileNotFoundError]


def test_threadpool_submit_keeps_context_variables() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    pool = ThreadPool(1)
    var.set("caller")
    assert pool.submit(var.get).result(5) == "caller"
    pool.shutdown()
