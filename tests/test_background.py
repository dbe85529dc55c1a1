"""BackgroundTasks (lanner.background): alone and after a response is sent."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from lanner import BackgroundTasks, Depends, HTTPException, Lanner
from lanner.responses import PlainTextResponse, StreamingResponse
from lanner.testing import TestClient

Message = dict[str, Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def response_finished(sent: list[Message]) -> bool:
    return bool(sent) and sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body", False)


# -- unit ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tasks_run_in_order_with_their_arguments() -> None:
    log: list[Any] = []
    tasks = BackgroundTasks()

    async def first(value: int, *, label: str) -> None:
        log.append(("first", value, label))

    def second(*values: int) -> None:
        log.append(("second", values))

    tasks.add_task(first, 1, label="a")
    tasks.add_task(second, 2, 3)
    tasks.add_task(log.append, "builtin")
    assert len(tasks) == 3
    assert log == []
    await tasks()
    assert log == [("first", 1, "a"), ("second", (2, 3)), "builtin"]


@pytest.mark.anyio
async def test_an_empty_list_does_nothing() -> None:
    tasks = BackgroundTasks()
    assert len(tasks) == 0
    await tasks()


@pytest.mark.anyio
async def test_sync_tasks_run_in_the_thread_pool_async_ones_on_the_loop() -> None:
    threads: dict[str, str] = {}
    tasks = BackgroundTasks()

    def blocking() -> None:
        threads["sync"] = threading.current_thread().name

    async def non_blocking() -> None:
        threads["async"] = threading.current_thread().name

    tasks.add_task(blocking)
    tasks.add_task(non_blocking)
    await tasks()
    assert threads["sync"].startswith("lanner_")
    assert threads["async"] == threading.current_thread().name


@pytest.mark.anyio
async def test_async_callables_of_every_shape_are_awaited() -> None:
    log: list[str] = []

    async def coroutine_function(tag: str) -> None:
        log.append(tag)

    class AsyncCallable:
        async def __call__(self, tag: str) -> None:
            log.append(tag)

    class Owner:
        async def method(self, tag: str) -> None:
            log.append(tag)

    tasks = BackgroundTasks()
    tasks.add_task(AsyncCallable(), "callable object")
    tasks.add_task(functools.partial(coroutine_function, "partial"))
    tasks.add_task(Owner().method, "bound method")
    tasks.add_task(lambda: coroutine_function("lambda returning a coroutine"))
    await tasks()
    assert log == ["callable object", "partial", "bound method", "lambda returning a coroutine"]


@pytest.mark.anyio
async def test_sync_callable_objects_run_in_the_thread_pool() -> None:
    seen: list[str] = []

    class SyncCallable:
        def __call__(self) -> None:
            seen.append(threading.current_thread().name)

    tasks = BackgroundTasks()
    tasks.add_task(SyncCallable())
    await tasks()
    assert seen[0].startswith("lanner_")


@pytest.mark.anyio
async def test_a_failing_task_stops_the_rest_and_propagates() -> None:
    log: list[str] = []
    tasks = BackgroundTasks()

    def boom() -> None:
        raise LookupError("task failed")

    tasks.add_task(log.append, "before")
    tasks.add_task(boom)
    tasks.add_task(log.append, "after")
    with pytest.raises(LookupError, match="task failed"):
        await tasks()
    assert log == ["before"]


# -- inside an application -----------------------------------------------------------------------


def make_app(log: list[Any], sent: list[Message] | None = None) -> Lanner:
    """An app whose tasks record, when they run, whether the response was already sent."""
    app = Lanner()

    def record(tag: str) -> Callable[[], None]:
        def task() -> None:
            log.append((tag, response_finished(sent) if sent is not None else None))

        return task

    async def async_task(tag: str) -> None:
        log.append((tag, response_finished(sent) if sent is not None else None))

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> dict[str, int]:
        tasks.add_task(record("sync"))
        tasks.add_task(async_task, "async")
        tasks.add_task(record("sync again"))
        return {"queued": len(tasks)}

    @app.get("/sync-handler")
    def sync_handler(tasks: BackgroundTasks) -> str:
        tasks.add_task(async_task, "from sync handler")
        return "ok"

    def dependency(tasks: BackgroundTasks) -> None:
        tasks.add_task(async_task, "from dependency")

    @app.get("/shared", dependencies=[Depends(dependency)])
    async def shared(tasks: BackgroundTasks) -> str:
        tasks.add_task(async_task, "from handler")
        return "ok"

    @app.get("/response-background")
    async def response_background() -> PlainTextResponse:
        tasks = BackgroundTasks()
        tasks.add_task(async_task, "attached to response")
        return PlainTextResponse("done", background=tasks)

    @app.get("/streaming")
    async def streaming(tasks: BackgroundTasks) -> StreamingResponse:
        tasks.add_task(async_task, "after stream")

        async def body() -> Any:
            yield b"a"
            yield b"b"

        return StreamingResponse(body())

    @app.get("/failing-task")
    async def failing_task(tasks: BackgroundTasks) -> str:
        def boom() -> None:
            raise RuntimeError("background failure")

        tasks.add_task(boom)
        return "sent anyway"

    @app.get("/handler-fails")
    async def handler_fails(tasks: BackgroundTasks) -> None:
        tasks.add_task(async_task, "should not run")
        raise HTTPException(409, "conflict")

    return app


def test_tasks_run_in_order_after_the_handler() -> None:
    log: list[Any] = []
    response = TestClient(make_app(log)).get("/")
    assert response.json() == {"queued": 3}
    assert [tag for tag, _ in log] == ["sync", "async", "sync again"]


async def run_live(app: Any, path: str, sent: list[Message]) -> None:
    """Run one GET through the app with raw ASGI, appending what it sends to `sent` as it goes."""
    pending = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if pending:
            return pending.pop()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("test", 80),
        "client": ("c", 1),
    }
    await app(scope, receive, send)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/", "/sync-handler", "/response-background", "/streaming"])
async def test_tasks_run_after_the_response_body_is_sent(path: str) -> None:
    log: list[Any] = []
    sent: list[Message] = []
    await run_live(make_app(log, sent), path, sent)
    assert log
    assert all(finished for _, finished in log), log


def test_one_instance_is_shared_by_dependencies_and_the_handler() -> None:
    log: list[Any] = []
    TestClient(make_app(log)).get("/shared")
    assert [tag for tag, _ in log] == ["from dependency", "from handler"]


def test_a_sync_handler_gets_background_tasks() -> None:
    log: list[Any] = []
    assert TestClient(make_app(log)).get("/sync-handler").json() == "ok"
    assert [tag for tag, _ in log] == ["from sync handler"]


def test_a_response_background_runs_after_the_body() -> None:
    log: list[Any] = []
    response = TestClient(make_app(log)).get("/response-background")
    assert response.text == "done"
    assert [tag for tag, _ in log] == ["attached to response"]


def test_a_streaming_response_then_its_tasks() -> None:
    log: list[Any] = []
    response = TestClient(make_app(log)).get("/streaming")
    assert response.content == b"ab"
    assert [tag for tag, _ in log] == ["after stream"]


@pytest.mark.anyio
async def test_a_failing_task_cannot_change_a_response_already_sent(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[Message] = []
    await run_live(make_app([]), "/failing-task", sent)  # logged, never raised to the server
    assert sent[0]["status"] == 200
    assert response_finished(sent)
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b'"sent anyway"'
    assert any(r.exc_info and "background failure" in str(r.exc_info[1]) for r in caplog.records)


def test_a_failing_task_is_logged_with_its_route(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app([]))
    response = client.get("/failing-task")
    assert (response.status_code, response.json()) == (200, "sent anyway")
    failures = [r for r in caplog.records if r.exc_info and "background failure" in str(r.exc_info[1])]
    assert len(failures) == 1
    assert failures[0].name == "lanner.error"
    assert "GET /failing-task" in failures[0].getMessage()
    assert client.get("/failing-task").status_code == 200


def test_tasks_do_not_run_when_the_handler_fails() -> None:
    log: list[Any] = []
    response = TestClient(make_app(log)).get("/handler-fails")
    assert response.status_code == 409
    assert log == []
