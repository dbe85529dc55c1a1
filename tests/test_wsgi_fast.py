"""lanner.wsgi's fast paths, held to what they must keep doing.

`WSGIMount` hands a response to the loop without waiting for it (one handoff for a response whose
Content-Length is reached, a bounded window for a streamed one). `to_wsgi` on a single-threaded
server starts each request's task eagerly, without polling for I/O: the task is still a real
asyncio task, with timeouts, cancellation, context variables and async generator hooks.
"""

import asyncio
import contextvars
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, MutableMapping
from typing import Any

import anyio
import pytest

from lanner import Lanner, Request
from lanner.middleware import TimeoutMiddleware
from lanner.responses import StreamingResponse
from lanner.wsgi import WSGIAdapter, WSGIMount, to_wsgi
from tests.test_wsgi import http_scope, make_environ, wsgi_call

Message = MutableMapping[str, Any]
Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mounts() -> Iterator[Callable[..., WSGIMount]]:
    """`WSGIMount`, with the pool of every mount made closed at the end of the test."""
    made: list[WSGIMount] = []

    def make(app: Any, **options: Any) -> WSGIMount:
        mount = WSGIMount(app, **options)
        made.append(mount)
        return mount

    yield make
    for mount in made:
        mount.close()


@pytest.fixture
def adapters() -> Iterator[Callable[[Any], WSGIAdapter]]:
    """`to_wsgi`, with every adapter made shut down at the end of the test."""
    made: list[WSGIAdapter] = []

    def make(app: Any) -> WSGIAdapter:
        adapter = to_wsgi(app)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.shutdown()


def get_request() -> Callable[[], Any]:
    """An ASGI ``receive`` for a GET: its body at once, then the disconnect once the test ends."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    return receive


def body_of(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


class Closing:
    """A WSGI response iterable over `chunks` that records its ``close`` (and may fail in it)."""

    def __init__(self, chunks: Iterable[bytes], fail: BaseException | None = None) -> None:
        self.chunks = iter(chunks)
        self.fail = fail
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        self.closed.set()
        if self.fail is not None:
            raise self.fail


# -- WSGIMount: the response goes to the loop without waiting for it ---------------------------------


@pytest.mark.anyio
async def test_a_response_with_its_length_goes_out_whole_with_its_end(
    mounts: Callable[..., WSGIMount],
) -> None:
    def hello(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
        return [b"hello ", b"world"]

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mounts(hello)(http_scope("/"), get_request(), send), 10)
    # The end rides on the chunk that completes the length: no empty message after it.
    assert sent == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"11")],
        },
        {"type": "http.response.body", "body": b"hello ", "more_body": True},
        {"type": "http.response.body", "body": b"world", "more_body": False},
    ]


@pytest.mark.anyio
async def test_the_pool_thread_never_waits_for_the_loop(mounts: Callable[..., WSGIMount]) -> None:
    response = Closing([b"one ", b"two ", b"three"])

    def streamed(environ: Environ, start_response: StartResponse) -> Closing:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return response

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    task = asyncio.ensure_future(mounts(streamed)(http_scope("/"), get_request(), send))
    await asyncio.sleep(0)  # the request is in the pool now
    # The loop is held here, in this wait: a thread that waited for it to take a chunk would hang.
    assert response.closed.wait(5), "the WSGI thread waited for the event loop"
    await asyncio.wait_for(task, 10)
    assert body_of(sent) == b"one two three"
    assert [m.get("more_body") for m in sent[1:]] == [True, True, True, False]


@pytest.mark.anyio
async def test_a_fast_producer_stays_within_the_window(mounts: Callable[..., WSGIMount]) -> None:
    made = 0

    def fast(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        nonlocal made
        start_response("200 OK", [])
        for _ in range(60):
            made += 1
            yield b"x" * 100

    ahead: list[int] = []

    async def slow_send(message: Message) -> None:
        if message.get("body"):
            ahead.append(made - len(ahead) - 1)
            await asyncio.sleep(0.002)

    await asyncio.wait_for(mounts(fast, send_queue_size=3)(http_scope("/"), get_request(), slow_send), 20)
    assert len(ahead) == 60
    # At most `send_queue_size` chunks handed over and not yet sent, and one more being made.
    assert max(ahead) <= 3 + 1, f"the producer ran {max(ahead)} chunks ahead of the client"


@pytest.mark.anyio
async def test_a_cancelled_request_lets_its_thread_go(mounts: Callable[..., WSGIMount]) -> None:
    closed = threading.Event()

    def endless(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            while True:
                yield b"tick"
        finally:
            closed.set()

    stuck = asyncio.Event()

    async def stuck_send(message: Message) -> None:
        await stuck.wait()  # a client that never reads

    mount = mounts(endless, threads=1, send_queue_size=2)
    task = asyncio.ensure_future(mount(http_scope("/"), get_request(), stuck_send))
    await asyncio.sleep(0.2)  # the thread is now waiting for room in the window
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(closed.wait, 5), "the thread still waits for a request that is gone"
    # The pool's one thread is free again.
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    def hello(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"hi"]

    mount.app = hello
    await asyncio.wait_for(mount(http_scope("/"), get_request(), send), 5)
    assert body_of(sent) == b"hi"


@pytest.mark.anyio
async def test_a_cancelled_request_lets_a_thread_reading_its_body_go(
    mounts: Callable[..., WSGIMount],
) -> None:
    read: list[bytes] = []

    def reader(environ: Environ, start_response: StartResponse) -> list[bytes]:
        read.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b""]

    first = True

    async def receive() -> Message:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"part ", "more_body": True}
        await asyncio.sleep(30)  # the rest never comes
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        pass

    task = asyncio.ensure_future(mounts(reader, threads=1)(http_scope("/", "POST"), receive, send))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 5
    while not read and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert read == [b"part "], "the reader got what came, then the end"


@pytest.mark.anyio
async def test_past_its_length_a_response_is_iterated_to_its_end_and_its_bytes_dropped(
    mounts: Callable[..., WSGIMount],
) -> None:
    iterated: list[str] = []

    def too_long(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Length", "3")])
        yield b"abc"
        iterated.append("past the length")
        yield b"def"
        iterated.append("to the end")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mounts(too_long)(http_scope("/"), get_request(), send), 10)
    assert [m.get("body") for m in sent[1:]] == [b"abc"]
    assert sent[-1]["more_body"] is False
    assert iterated == ["past the length", "to the end"], "as a WSGI server iterates it"


@pytest.mark.anyio
async def test_an_error_in_close_comes_after_the_whole_response(mounts: Callable[..., WSGIMount]) -> None:
    response = Closing([b"done"], fail=LookupError("teardown failed"))

    def app(environ: Environ, start_response: StartResponse) -> Closing:
        start_response("200 OK", [("Content-Length", "4")])
        return response

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(LookupError, match="teardown failed"):
        await asyncio.wait_for(mounts(app)(http_scope("/"), get_request(), send), 10)
    assert body_of(sent) == b"done"
    assert sent[-1]["more_body"] is False, "the client has its whole answer; the server logs the error"


@pytest.mark.anyio
async def test_a_body_that_is_not_there_yet_is_waited_for_by_the_app_alone(
    mounts: Callable[..., WSGIMount],
) -> None:
    def echo(environ: Environ, start_response: StartResponse) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    pieces = [b"slow ", b"body"]

    async def receive() -> Message:
        await asyncio.sleep(0.02)  # the server has nothing yet when the app starts
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)}
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mounts(echo)(http_scope("/", "POST"), receive, send), 10)
    assert body_of(sent) == b"slow body"


@pytest.mark.anyio
async def test_the_environ_is_what_a_wsgi_server_builds(mounts: Callable[..., WSGIMount]) -> None:
    seen: list[Environ] = []
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")

    def record(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.append({**environ, "marker": marker.get()})
        start_response("204 No Content", [])
        return []

    scope = http_scope("/a%20b")
    scope["path"] = "/legacy/a b"
    scope["query_string"] = b"q=caf\xc3\xa9&x=1"
    scope["headers"] = [
        (b"host", b"example.org"),
        (b"content-type", b"text/plain"),
        (b"content-length", b"0"),
        (b"x-many", b"1"),
        (b"x-many", b"2"),
    ]
    scope["scheme"] = "https"
    marker.set("from the request's task")
    await asyncio.wait_for(mounts(record)(scope, get_request(), lambda message: asyncio.sleep(0)), 10)
    (environ,) = seen
    assert environ["REQUEST_METHOD"] == "GET"
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/legacy", "/a b")
    assert environ["QUERY_STRING"] == "q=caf\xc3\xa9&x=1"  # the bytes, as latin-1
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("testserver", "80")
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("127.0.0.1", "5000")
    assert environ["HTTP_HOST"] == "example.org"
    assert (environ["CONTENT_TYPE"], environ["CONTENT_LENGTH"]) == ("text/plain", "0")
    assert "HTTP_CONTENT_TYPE" not in environ
    assert environ["HTTP_X_MANY"] == "1,2"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.input_terminated"] is True
    assert environ["wsgi.errors"] is sys.stderr
    assert environ["wsgi.input"].read() == b""
    assert environ["asgi.scope"] is scope  # as a2wsgi gave it
    assert environ["marker"] == "from the request's task", "the app sees the request's context"


# -- to_wsgi on a single-threaded server: an eager start, a real task ---------------------------------


def test_a_request_that_waits_for_nothing_never_polls_for_io(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()

    @app.get("/json")
    async def json_get() -> dict[str, str]:
        return {"message": "hello"}

    application = adapters(app)
    assert wsgi_call(application, "/json")[1] == [b'{"message":"hello"}']
    worker = application._worker
    assert worker is not None
    polls = 0
    select = worker.loop._selector.select  # type: ignore[attr-defined]

    def counting(timeout: float | None = None) -> Any:
        nonlocal polls
        polls += 1
        return select(timeout)

    worker.loop._selector.select = counting  # type: ignore[attr-defined]
    for _ in range(20):
        assert wsgi_call(application, "/json")[1] == [b'{"message":"hello"}']
    assert polls == 0, "the loop polled for I/O for a request that waits for nothing"


def test_the_request_runs_in_a_real_task_on_the_running_loop(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()
    seen: dict[str, Any] = {}

    @app.get("/")
    async def where(request: Request) -> dict[str, bool]:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        seen["task"], seen["loop"] = task, loop
        seen["hooks"] = sys.get_asyncgen_hooks()
        return {"task": isinstance(task, asyncio.Task), "running": loop.is_running()}

    application = adapters(app)
    before = sys.get_asyncgen_hooks()
    _, chunks = wsgi_call(application, "/")
    assert chunks == [b'{"task":true,"running":true}']
    worker = application._worker
    assert worker is not None
    assert seen["loop"] is worker.loop
    assert seen["task"].done()
    assert seen["hooks"].finalizer == worker.loop._asyncgen_finalizer_hook  # type: ignore[attr-defined]
    # Once the request is over, the thread is as it was: no running loop, its own hooks.
    assert sys.get_asyncgen_hooks() == before
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert not worker.loop.is_running()


def test_timeouts_cancel_and_their_timers_do_not_pile_up(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()
    app.add_middleware(TimeoutMiddleware, request_timeout=0.1)

    @app.get("/fast")
    async def fast() -> str:
        return "fast"

    @app.get("/slow")
    async def slow() -> str:
        await asyncio.sleep(5)
        return "never"

    @app.get("/anyio")
    async def with_anyio() -> str:
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(5)
        return "moved on" if scope.cancelled_caught else "slept"

    application = adapters(app)
    started = time.monotonic()
    recorder, _ = wsgi_call(application, "/slow")
    assert recorder.status.startswith("504 ")
    assert time.monotonic() - started < 3
    assert wsgi_call(application, "/anyio")[1] == [b'"moved on"']
    for _ in range(400):  # each request arms a timer and cancels it
        assert wsgi_call(application, "/fast")[1] == [b'"fast"']
    worker = application._worker
    assert worker is not None
    assert len(worker.loop._scheduled) < 150, "cancelled timers piled up"  # type: ignore[attr-defined]


def test_tasks_the_app_makes_in_its_first_step_run_as_usual(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()
    ran: list[str] = []

    @app.get("/")
    async def fan_out() -> list[str]:
        async def child(name: str) -> str:
            await asyncio.sleep(0)
            ran.append(name)
            return name

        # Made while the request's own first step runs: scheduled as any task is.
        tasks = [asyncio.create_task(child(name)) for name in ("a", "b")]
        assert not any(task.done() for task in tasks)
        return list(await asyncio.gather(*tasks))

    application = adapters(app)
    assert wsgi_call(application, "/")[1] == [b'["a","b"]']
    assert ran == ["a", "b"]


def test_context_variables_stay_with_their_request(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()
    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="fresh")

    @app.get("/{name}")
    async def name(name: str) -> str:
        before = seen.get()
        seen.set(name)
        return before

    application = adapters(app)
    assert wsgi_call(application, "/first")[1] == [b'"fresh"']
    assert wsgi_call(application, "/second")[1] == [b'"fresh"']
    assert seen.get() == "fresh", "the serving thread's context is untouched"


def test_an_unfinished_async_generator_is_closed_on_the_loop(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()
    closed: list[str] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            await asyncio.sleep(0)  # only a loop can finish this
            closed.append("closed")

    @app.get("/first")
    async def first() -> int:
        numbers_left = numbers()
        return await numbers_left.__anext__()  # and dropped, unfinished

    @app.get("/later")
    async def later() -> str:
        await asyncio.sleep(0.01)  # the loop runs: the dropped generator is finished
        return "later"

    application = adapters(app)
    assert wsgi_call(application, "/first")[1] == [b"0"]
    assert wsgi_call(application, "/later")[1] == [b'"later"']
    assert closed == ["closed"]


def test_a_streamed_response_and_a_sync_handler_fall_back_to_the_loop(
    adapters: Callable[[Any], WSGIAdapter],
) -> None:
    app = Lanner()

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(3):
                await asyncio.sleep(0.001)
                yield b"part %d " % i

        return StreamingResponse(parts())

    @app.get("/sync")
    def sync() -> str:  # lanner's thread pool: the loop waits for the thread
        return threading.current_thread().name

    application = adapters(app)
    assert wsgi_call(application, "/stream")[1] == [b"part 0 ", b"part 1 ", b"part 2 "]
    _, chunks = wsgi_call(application, "/sync")
    assert chunks and chunks != [f'"{threading.current_thread().name}"'.encode()]


def test_a_loop_without_the_internals_runs_the_ordinary_way(adapters: Callable[[Any], WSGIAdapter]) -> None:
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        await asyncio.sleep(0)
        return "served"

    application = adapters(app)
    application.startup()
    worker = application._worker
    assert worker is not None
    worker.loop._eager = False  # as on a Python whose loop lacks what the eager start uses
    worker.loop._queue = None
    for _ in range(3):
        assert wsgi_call(application, "/")[1] == [b'"served"']


def test_a_forked_child_starts_its_own_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks: list[Callable[[], None]] = []
    monkeypatch.setattr("os.register_at_fork", lambda *, after_in_child: hooks.append(after_in_child))
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "served"

    application = WSGIAdapter(app)
    monkeypatch.undo()
    assert wsgi_call(application, "/")[1] == [b'"served"']
    parents = application._worker
    assert parents is not None
    (hook,) = hooks
    with monkeypatch.context() as patch:
        patch.setattr("os.getpid", lambda: -2)  # as seen from a forked child...
        hook()  # ...which runs the fork hook first
        assert wsgi_call(application, "/")[1] == [b'"served"']
        assert application._worker is not parents, "the child serves with a worker of its own"
        application.shutdown()  # the child's, in the child
    parents.stop()


def test_the_multithreaded_path_is_unchanged_by_the_eager_start(
    adapters: Callable[[Any], WSGIAdapter],
) -> None:
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "threaded" if asyncio.current_task() is not None else "no task"

    application = adapters(app)
    environ = make_environ("/")
    environ["wsgi.multithread"] = True
    assert b"".join(application(environ, lambda *args: None)) == b'"threaded"'
