"""lanner.wsgi.to_wsgi at its edges: what a WSGI server may hand over, and ASGI apps that misbehave.

Like tests/test_wsgi.py, most tests run twice: as a single-threaded server calls the app (the
serving thread runs the event loop) and as a multi-threaded one does (through a2wsgi's loop thread).
"""

import asyncio
import gc
import io
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from typing import Any

import pytest

from lanner import BackgroundTasks, Lanner, Request
from lanner.responses import StreamingResponse
from lanner.wsgi import WSGIAdapter, WSGIStartupError, to_wsgi
from lanner.wsgi._fork import _ForkSafeSelector
from tests.test_wsgi import Recorder, make_environ, wsgi_call

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
Adapters = Callable[[Any], WSGIAdapter]


@pytest.fixture
def adapters() -> Iterator[Adapters]:
    """`to_wsgi`, with every adapter made shut down at the end of the test."""
    made: list[WSGIAdapter] = []

    def make(app: Any) -> WSGIAdapter:
        adapter = to_wsgi(app)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.shutdown()


@pytest.fixture(params=["single-threaded", "multi-threaded"])
def threaded(request: pytest.FixtureRequest) -> bool:
    """Whether the server calling the app is multi-threaded (``wsgi.multithread``)."""
    return bool(request.param == "multi-threaded")


def within(seconds: float, work: Callable[[], Any]) -> Any:
    """Run `work` in a thread and return what it returns; fail (rather than hang) past `seconds`."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s: the request hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def make_app(events: list[str] | None = None, **options: Any) -> Lanner:
    app = Lanner(**options)

    @app.get("/items/{name}")
    async def item(name: str, q: str = "") -> dict[str, str]:
        return {"name": name, "q": q}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"size": len(body)}

    @app.get("/later")
    async def later(tasks: BackgroundTasks) -> str:
        async def note() -> None:
            await asyncio.sleep(0.05)
            (events if events is not None else []).append("background")

        tasks.add_task(note)
        return "soon"

    return app


def raw_app(handler: Callable[[Scope, Receive, Send], Any]) -> Callable[..., Any]:
    """A bare ASGI app without a lifespan, answering HTTP with `handler`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await handler(scope, receive, send)

    return app


# -- what the server hands over -----------------------------------------------------------------


def test_a_non_utf8_path_is_decoded_as_asgi_servers_do(adapters: Adapters, threaded: bool) -> None:
    application = adapters(make_app())
    # WSGI strings carry the request's bytes: %C3%A9 is "é"; a lone %E9 is no UTF-8 at all.
    recorder, chunks = wsgi_call(application, "/items/caf\xc3\xa9", multithread=threaded)
    assert recorder.status == "200 OK"
    assert b"".join(chunks) == '{"name":"café","q":""}'.encode()
    recorder, chunks = wsgi_call(application, "/items/caf\xe9", multithread=threaded)
    assert recorder.status == "200 OK", "an undecodable byte is the app's business, not a crash"
    assert b"".join(chunks) == '{"name":"caf\ufffd","q":""}'.encode()


def test_a_raw_non_ascii_query_string_is_read_as_utf8(adapters: Adapters, threaded: bool) -> None:
    application = adapters(make_app())
    # A client that did not percent-encode: the server passes the bytes on as they came.
    recorder, chunks = wsgi_call(application, "/items/x?q=caf\xc3\xa9&r=1", multithread=threaded)
    assert recorder.status == "200 OK"
    assert b"".join(chunks) == '{"name":"x","q":"café"}'.encode()


def test_a_script_name_that_is_not_utf8_does_not_crash(adapters: Adapters, threaded: bool) -> None:
    application = adapters(make_app())
    environ = make_environ("/items/x")
    environ["SCRIPT_NAME"] = "/\xe9"
    environ["wsgi.multithread"] = threaded
    recorder = Recorder()
    body = b"".join(application(environ, recorder))
    assert recorder.status == "200 OK"  # the app is served under that prefix, undecodable or not
    assert body == b'{"name":"x","q":""}'


def test_head_answers_the_get_headers_without_a_body(adapters: Adapters, threaded: bool) -> None:
    application = adapters(make_app())
    get, get_chunks = wsgi_call(application, "/items/x", multithread=threaded)
    head, head_chunks = wsgi_call(application, "/items/x", method="HEAD", multithread=threaded)
    assert head.status == get.status == "200 OK"
    assert head_chunks == []
    assert head.header("content-length") == get.header("content-length") == str(len(b"".join(get_chunks)))


def test_an_empty_body_with_or_without_a_length(adapters: Adapters, threaded: bool) -> None:
    application = adapters(make_app())
    environ = make_environ("/echo", method="POST", headers={"Content-Length": "0"})
    environ["wsgi.multithread"] = threaded
    assert b"".join(application(environ, Recorder())) == b'{"size":0}'
    # A server that does not mark where its input ends: no length means no body, and reading the
    # input to find out would wait for the client for ever.
    environ = make_environ("/echo", method="POST")
    environ["wsgi.input"] = io.BytesIO(b"not announced")
    del environ["wsgi.input_terminated"]
    environ["wsgi.multithread"] = threaded
    recorder = Recorder()
    assert b"".join(application(environ, recorder)) == b'{"size":0}'
    assert recorder.status == "200 OK"


def test_an_oversized_body_gets_413(adapters: Adapters, threaded: bool) -> None:
    application = adapters(make_app(max_body_size=1000))
    recorder, chunks = wsgi_call(application, "/echo", method="POST", body=b"x" * 5000, multithread=threaded)
    assert recorder.status.startswith("413 ")
    assert b"exceeds 1000 bytes" in b"".join(chunks)
    # Just under the limit still passes.
    _, chunks = wsgi_call(application, "/echo", method="POST", body=b"x" * 1000, multithread=threaded)
    assert chunks == [b'{"size":1000}']


def test_an_oversized_chunked_body_gets_413_single_threaded(adapters: Adapters) -> None:
    application = adapters(make_app(max_body_size=1000))
    environ = make_environ("/echo", method="POST", headers={"Transfer-Encoding": "chunked"})
    environ["wsgi.input"] = io.BytesIO(b"x" * 300_000)  # decoded by the server; no length
    environ["wsgi.multithread"] = False
    recorder = Recorder()
    assert b"exceeds 1000 bytes" in b"".join(application(environ, recorder))
    assert recorder.status == "413 Content Too Large"
    assert environ["wsgi.input"].tell() < 300_000, "the app stopped reading at its limit"


def test_a_body_shorter_than_its_length_gets_400_not_a_hang(adapters: Adapters, threaded: bool) -> None:
    # The client announced 100 bytes, sent 10 and went away: the input ends early.
    application = adapters(make_app())
    environ = make_environ("/echo", method="POST", body=b"x" * 10)
    environ["CONTENT_LENGTH"] = "100"
    environ["wsgi.multithread"] = threaded
    recorder = Recorder()
    body = within(10, lambda: b"".join(application(environ, recorder)))
    assert recorder.status == "400 Bad Request"
    assert b"Content-Length" in body
    # The process goes on serving.
    _, chunks = wsgi_call(application, "/echo", method="POST", body=b"abc", multithread=threaded)
    assert chunks == [b'{"size":3}']


def test_a_websocket_upgrade_in_any_case_is_refused(adapters: Adapters, threaded: bool) -> None:
    recorder, _ = wsgi_call(
        adapters(make_app()), "/items/x", headers={"Upgrade": "WebSocket"}, multithread=threaded
    )
    assert recorder.status == "501 Not Implemented"
    recorder, _ = wsgi_call(
        adapters(make_app()), "/items/x", headers={"Upgrade": "h2c"}, multithread=threaded
    )
    assert recorder.status == "200 OK", "only WebSocket upgrades are refused"


# -- ASGI apps that misbehave ----------------------------------------------------------------------


def test_an_app_that_returns_without_answering_is_an_error_not_a_hang(
    adapters: Adapters, threaded: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    application = adapters(raw_app(silent))
    if threaded:
        recorder, _ = within(10, lambda: wsgi_call(application, "/", multithread=True))
        assert recorder.status == "500 Internal Server Error"
        assert "returned without answering GET /" in caplog.text
    else:
        with pytest.raises(RuntimeError, match="without sending a response"):
            wsgi_call(application, "/")


def test_a_response_left_open_is_ended(adapters: Adapters, threaded: bool) -> None:
    async def start_only(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-kind", b"bare")]})

    recorder, chunks = within(10, lambda: wsgi_call(adapters(raw_app(start_only)), "/", multithread=threaded))
    assert recorder.status == "204 No Content"
    assert recorder.header("x-kind") == "bare"
    assert chunks == []


def test_a_body_before_the_start_is_an_error(
    adapters: Adapters, threaded: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def headless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"who am I"})

    application = adapters(raw_app(headless))
    if threaded:
        recorder, chunks = within(10, lambda: wsgi_call(application, "/", multithread=True))
        assert recorder.status == "500 Internal Server Error"
        assert b"who am I" not in b"".join(chunks)
        assert "before 'http.response.start'" in caplog.text
    else:
        with pytest.raises(RuntimeError, match=r"before 'http\.response\.start'"):
            wsgi_call(application, "/")


def test_messages_wsgi_cannot_carry_are_dropped(adapters: Adapters, threaded: bool) -> None:
    async def with_trailers(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"one ", "more_body": True})
        await send({"type": "http.response.body", "body": b"two", "more_body": True})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")], "more_trailers": False})
        await send({"type": "http.response.body", "body": b""})

    recorder, chunks = within(
        10, lambda: wsgi_call(adapters(raw_app(with_trailers)), "/", multithread=threaded)
    )
    assert recorder.status == "200 OK"
    assert chunks == [b"one ", b"two"]


def test_the_app_may_listen_for_the_disconnect_after_its_response(adapters: Adapters, threaded: bool) -> None:
    heard: list[str] = []

    async def listener(scope: Scope, receive: Receive, send: Send) -> None:
        request = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": request["body"], "more_body": True})
        waiting = [asyncio.ensure_future(receive()) for _ in range(2)]  # two listeners at once
        await send({"type": "http.response.body", "body": b"!"})
        heard.extend(message["type"] for message in await asyncio.gather(*waiting))
        heard.append((await receive())["type"])  # and after the end, at once

    _, chunks = within(
        10,
        lambda: wsgi_call(adapters(raw_app(listener)), "/", method="POST", body=b"hi", multithread=threaded),
    )
    assert b"".join(chunks) == b"hi!"
    assert heard == ["http.disconnect"] * 3


def test_an_app_that_raises_after_its_start_is_raised_to_the_server(
    adapters: Adapters, threaded: bool
) -> None:
    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise LookupError("the rest is missing")

    application = adapters(raw_app(half))
    environ = make_environ("/")
    environ["wsgi.multithread"] = threaded
    result = within(10, lambda: iter(application(environ, Recorder())))
    chunks: list[bytes] = []
    with pytest.raises(LookupError, match="the rest is missing"):  # the server drops the connection
        within(10, lambda: chunks.extend(result))
    assert b"half" in chunks


def test_an_app_that_raises_after_its_whole_response_still_delivers_it(
    adapters: Adapters, threaded: bool
) -> None:
    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"complete"})
        raise LookupError("after the end")

    environ = make_environ("/")
    environ["wsgi.multithread"] = threaded
    recorder = Recorder()
    chunks: list[bytes] = []
    with pytest.raises(LookupError, match="after the end"):  # for the server to log
        within(10, lambda: chunks.extend(adapters(raw_app(after))(environ, recorder)))
    assert recorder.status == "200 OK"
    assert b"".join(chunks) == b"complete", "the client has its answer all the same"


# -- closing early -------------------------------------------------------------------------------


def test_a_finished_response_closed_early_still_runs_its_background_tasks(adapters: Adapters) -> None:
    events: list[str] = []
    environ = make_environ("/later")
    environ["wsgi.multithread"] = False
    result = adapters(make_app(events))(environ, Recorder())
    getattr(result, "close", lambda: None)()  # the client went away before the server wrote a byte
    assert events == ["background"]


def test_closing_before_iterating_runs_nothing_multi_threaded(adapters: Adapters) -> None:
    ran: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ran.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    application = adapters(raw_app(app))
    environ = make_environ("/never")
    environ["wsgi.multithread"] = True
    result = application(environ, Recorder())
    getattr(result, "close", lambda: None)()
    # a2wsgi starts the app as the server iterates: nothing ran, and the process still serves.
    _, chunks = wsgi_call(application, "/then", multithread=True)
    assert chunks == [b"late"]
    assert ran == ["/then"]


def test_shutdown_cancels_a_request_still_streaming(adapters: Adapters, threaded: bool) -> None:
    closed = threading.Event()
    app = Lanner()

    @app.get("/endless")
    async def endless() -> StreamingResponse:
        async def ticks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick\n"
                    await asyncio.sleep(0.01)
            finally:
                closed.set()

        return StreamingResponse(ticks())

    application = adapters(app)
    environ = make_environ("/endless")
    environ["wsgi.multithread"] = threaded
    result = application(environ, Recorder())
    assert next(iter(result)) == b"tick\n"
    started = time.monotonic()
    application.shutdown()  # the worker exits with the response unfinished
    assert closed.is_set(), "the app's stream was cancelled by the shutdown"
    assert time.monotonic() - started < 5
    getattr(result, "close", lambda: None)()  # as the server then does: nothing left to cancel


# -- the lifespan ----------------------------------------------------------------------------------


class Interrupted(BaseException):
    """Not an Exception: what a KeyboardInterrupt or a cancellation looks like to the lifespan."""


def lifespan_app(*, startup: BaseException | None = None, shutdown: BaseException | None = None) -> Any:
    """A bare ASGI app whose lifespan raises `startup` or `shutdown` rather than reporting it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            if startup is not None:
                raise startup
            await send({"type": "lifespan.startup.complete"})
            await receive()
            if shutdown is not None:
                raise shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"up"})

    return app


def test_a_lifespan_that_raises_at_startup(adapters: Adapters) -> None:
    application = adapters(lifespan_app(startup=ConnectionError("no database")))
    with pytest.raises(WSGIStartupError, match="no database") as caught:
        application.startup()
    assert isinstance(caught.value.__cause__, ConnectionError)
    with pytest.raises(WSGIStartupError):
        wsgi_call(application, "/")


def test_a_lifespan_interrupted_at_startup_is_still_an_ordinary_error(adapters: Adapters) -> None:
    application = adapters(lifespan_app(startup=Interrupted("stop")))
    with pytest.raises(WSGIStartupError, match="the lifespan was interrupted") as caught:
        application.startup()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert isinstance(caught.value.__cause__.__cause__, Interrupted)


@pytest.mark.parametrize("error", [ValueError("cleanup failed"), Interrupted("cleanup failed")])
def test_a_lifespan_that_raises_at_shutdown_is_logged(
    error: BaseException, threaded: bool, caplog: pytest.LogCaptureFixture
) -> None:
    application = WSGIAdapter(lifespan_app(shutdown=error))
    _, chunks = wsgi_call(application, "/", multithread=threaded)
    assert chunks == [b"up"]
    with caplog.at_level(logging.ERROR, logger="lanner.wsgi"):
        application.shutdown()  # never raises: the process is on its way out
    assert f"the app's shutdown failed in process {os.getpid()}" in caplog.text
    assert "cleanup failed" in caplog.text


def test_a_lanner_shutdown_failure_is_logged_once(
    adapters: Adapters, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise OSError("disk full")

    application = adapters(Lanner(on_shutdown=[broken]))
    application.startup()
    with caplog.at_level(logging.ERROR):
        application.shutdown()
        application.shutdown()
    failures = [r for r in caplog.records if r.name == "lanner.wsgi" and "shutdown failed" in r.getMessage()]
    assert len(failures) == 1
    assert "disk full" in failures[0].getMessage()


def test_an_app_without_a_lifespan_serves(adapters: Adapters, threaded: bool) -> None:
    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # the lifespan is not this app's business: it says nothing
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    application = adapters(plain)
    application.startup()  # nothing to start, and no error
    assert wsgi_call(application, "/", multithread=threaded)[1] == [b"plain"]


# -- one adapter, one loop per process -------------------------------------------------------------


class Unreferenceable:
    """An ASGI app that cannot be weakly referenced (``__slots__`` without ``__weakref__``)."""

    __slots__ = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"served"})


def test_an_app_that_cannot_be_weakly_referenced_gets_an_adapter_each_time() -> None:
    app = Unreferenceable()
    first, second = to_wsgi(app), to_wsgi(app)
    try:
        assert first is not second
        assert wsgi_call(first, "/")[1] == wsgi_call(second, "/")[1] == [b"served"]
    finally:
        first.shutdown()
        second.shutdown()


def test_concurrent_first_requests_start_one_loop_thread(adapters: Adapters) -> None:
    application = adapters(make_app())
    application.startup()
    worker = application._worker
    assert worker is not None
    before = threading.enumerate()
    answers: list[bytes] = []
    with worker.turn:  # hold the loop while both requests arrive, so both find it undecided
        threads = [
            threading.Thread(
                target=lambda: answers.append(
                    b"".join(wsgi_call(application, "/items/x", multithread=True)[1])
                )
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(10)
    assert answers == [b'{"name":"x","q":""}'] * 2
    loops = [
        thread for thread in threading.enumerate() if thread.name == "lanner-wsgi" and thread not in before
    ]
    assert len(loops) == 1


def test_the_fork_hook_frees_a_lock_held_at_the_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks: list[Callable[[], None]] = []
    monkeypatch.setattr(os, "register_at_fork", lambda *, after_in_child: hooks.append(after_in_child))
    adapter = WSGIAdapter(make_app())
    monkeypatch.undo()
    (hook,) = hooks
    adapter._lock.acquire()  # another thread is starting the app as the process forks
    hook()  # what the forked child runs: it has no such thread, and must not wait for it
    assert adapter._lock.acquire(timeout=1)
    adapter._lock.release()
    # The hook does not keep the adapter alive, and does nothing once it is gone.
    del adapter
    gc.collect()
    hook()


def test_the_selector_leaves_the_parents_registrations_alone_in_a_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    selector = _ForkSafeSelector()
    left, right = socket.socketpair()
    try:
        selector.register(left, selectors.EVENT_READ, "parent's")
        with monkeypatch.context() as patch:
            patch.setattr(os, "getpid", lambda: -1)  # as seen from a forked child
            assert selector.modify(left, selectors.EVENT_WRITE) is None
            assert selector.unregister(left) is None
            with pytest.raises(RuntimeError, match="forked"):
                selector.register(right, selectors.EVENT_READ)
        key = selector.get_key(left)
        assert (key.events, key.data) == (selectors.EVENT_READ, "parent's"), "the parent's stays"
        right.send(b"x")
        assert [key.data for key, _ in selector.select(1)] == ["parent's"]
        selector.modify(left, selectors.EVENT_READ, "still")
        selector.unregister(left)
    finally:
        selector.close()
        left.close()
        right.close()


def test_request_bodies_from_many_threads_do_not_mix(adapters: Adapters) -> None:
    application = adapters(make_app())

    def post(i: int) -> tuple[str, bytes]:
        body = bytes([i]) * (70_000 + i)  # more than one read
        recorder, chunks = wsgi_call(application, "/echo", method="POST", body=body, multithread=True)
        return recorder.status, b"".join(chunks)

    results: list[tuple[str, bytes]] = []
    threads = [threading.Thread(target=lambda i=i: results.append(post(i))) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(results) == sorted(("200 OK", b'{"size":%d}' % (70_000 + i)) for i in range(6))
