"""`TestClient.stream`: the response as soon as the headers are sent, the body as the app sends it,
and a disconnect the app sees when the test leaves early. No test depends on timing to pass: where
one part of the app must wait for the test, it waits on an event the test sets."""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from lanner import BackgroundTasks, Lanner, Request, WebSocket
from lanner.responses import EventSourceResponse, RedirectResponse, ServerSentEvent, StreamingResponse
from lanner.testing import TestClient

# A hang is a failure: no test here may come near this.
pytestmark = pytest.mark.timeout(15)

Scope = dict[str, Any]


def data_lines(response: httpx.Response, count: int) -> list[str]:
    """The first `count` ``data:`` lines of an event stream, read one line at a time."""
    found: list[str] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            found.append(line)
            if len(found) == count:
                break
    return found


# --- endless server-sent events ---------------------------------------------------------------


def endless_events_app(seen: dict[str, Any]) -> Lanner:
    app = Lanner()

    @app.get("/ticks")
    async def ticks() -> EventSourceResponse:
        async def events() -> AsyncIterator[ServerSentEvent]:
            n = 0
            try:
                while True:  # never ends by itself, and never waits for anything but `send`
                    yield ServerSentEvent({"n": n}, event="tick", id=n)
                    n += 1
            except BaseException as exc:
                seen["exit"] = type(exc).__name__
                raise
            finally:
                seen["closed"] = True

        return EventSourceResponse(events())

    @app.get("/yielding", response_class=EventSourceResponse)
    async def yielding() -> AsyncIterator[ServerSentEvent]:
        n = 0
        try:
            while True:
                yield ServerSentEvent(n, id=n)
                n += 1
                await asyncio.sleep(0)
        finally:
            seen["closed"] = True

    return app


@pytest.mark.parametrize("path", ["/ticks", "/yielding"])
def test_an_endless_event_stream_is_read_for_three_events_and_the_app_sees_the_disconnect(path: str) -> None:
    seen: dict[str, Any] = {}
    with TestClient(endless_events_app(seen)) as client:
        with client.stream("GET", path) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            lines = data_lines(response, 3)
            assert "closed" not in seen  # still streaming while the test reads
        # Leaving the block disconnected and waited for the generator to be closed.
        assert seen["closed"] is True
        if path == "/ticks":
            assert seen["exit"] in ("GeneratorExit", "CancelledError")
            assert lines == ['data: {"n":0}', 'data: {"n":1}', 'data: {"n":2}']
        else:
            assert lines == ["data: 0", "data: 1", "data: 2"]
        # The client is still usable afterwards.
        assert client.get("/nothing-here").status_code == 404


def test_a_raw_asgi_app_receives_http_disconnect_when_the_test_leaves() -> None:
    received: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        received.append((await receive())["type"])  # waits until the client goes away

    with TestClient(app).stream("GET", "/") as response:
        assert next(response.iter_raw()) == b"hello"
        assert received == []
    assert received == ["http.disconnect"]


def test_request_is_disconnected_turns_true_once_the_test_leaves() -> None:
    polls: list[bool] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
        # A handler with nothing to send polls, as a long job checking on its client would.
        while not polls or not polls[-1]:
            polls.append(await request.is_disconnected())
            await asyncio.sleep(0.001)

    with TestClient(app).stream("GET", "/") as response:
        lines = response.iter_lines()
        assert [next(lines) for _ in range(3)] == ["tick"] * 3
        assert True not in polls
    assert polls[-1] is True


def test_a_send_after_the_disconnect_is_dropped_as_uvicorn_drops_it() -> None:
    sent: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.body", "body": b"two", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        sent.append("all")

    with TestClient(app).stream("GET", "/") as response:
        assert next(response.iter_raw()) == b"one"
    assert sent == ["all"]


def test_a_sync_event_generator_is_closed_after_the_disconnect() -> None:
    closed = threading.Event()

    def numbers() -> Iterator[int]:
        n = 0
        try:
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    app = Lanner()

    @app.get("/numbers")
    def endless() -> EventSourceResponse:
        return EventSourceResponse(numbers())

    with TestClient(app).stream("GET", "/numbers") as response:
        assert data_lines(response, 3) == ["data: 0", "data: 1", "data: 2"]
    assert closed.is_set()


# --- the body arrives as it is sent ----------------------------------------------------------


def slow_app(go: threading.Event, progress: list[str]) -> Lanner:
    app = Lanner()

    def chunks() -> Iterator[bytes]:
        progress.append("first")
        yield b"first\n"
        # Held until the test has read the first chunk: a client that buffered would never get it.
        assert go.wait(5), "the test never read the first chunk"
        progress.append("second")
        yield b"second\n"
        progress.append("done")

    @app.get("/slow")
    def slow() -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/plain")

    return app


def test_the_first_chunk_arrives_before_the_handler_has_finished() -> None:
    go = threading.Event()
    progress: list[str] = []
    with TestClient(slow_app(go, progress)) as client, client.stream("GET", "/slow") as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        assert next(chunks) == b"first\n"
        assert progress == ["first"]
        go.set()
        assert b"".join(chunks) == b"second\n"
        assert progress == ["first", "second", "done"]


def test_get_still_buffers_the_whole_body() -> None:
    go = threading.Event()
    go.set()  # `get` reads nothing before the end: the app must not wait for the test
    progress: list[str] = []
    with TestClient(slow_app(go, progress)) as client:
        response = client.get("/slow")
        assert progress == ["first", "second", "done"]  # the handler finished before get returned
        assert response.is_stream_consumed
        assert response.content == b"first\nsecond\n"


async def three_parts(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]})
    for part in (b"alpha ", b"", b"beta\n", b"gamma"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_each_iterator_sees_the_parts_the_app_sent() -> None:
    client = TestClient(three_parts)
    with client.stream("GET", "/") as response:
        assert response.status_code == 201
        assert list(response.iter_raw()) == [b"alpha ", b"beta\n", b"gamma"]  # empty parts skipped
    with client.stream("GET", "/") as response:
        assert list(response.iter_text()) == ["alpha ", "beta\n", "gamma"]
    with client.stream("GET", "/") as response:
        assert list(response.iter_lines()) == ["alpha beta", "gamma"]
    with client.stream("GET", "/") as response:
        assert response.read() == b"alpha beta\ngamma"
        assert response.text == "alpha beta\ngamma"
    client.close()


def test_an_app_far_ahead_of_the_test_is_held_back() -> None:
    sent_all = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(1000):
            await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
        sent_all.set()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    with TestClient(app).stream("GET", "/") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"x" * 1024
        # 1000 KiB cannot all be queued for a test that read 1 KiB (this wait only ends early
        # when the test is about to fail).
        assert not sent_all.wait(0.3)
        assert sum(map(len, chunks)) == 999 * 1024
    assert sent_all.is_set()


def test_background_tasks_have_run_once_the_body_is_read() -> None:
    done: list[str] = []
    app = Lanner()

    @app.get("/")
    def index(background: BackgroundTasks) -> StreamingResponse:
        background.add_task(done.append, "background")
        return StreamingResponse(iter([b"a", b"b"]))

    with TestClient(app).stream("GET", "/") as response:
        assert response.read() == b"ab"
        assert done == ["background"]


def test_the_request_body_headers_and_redirects() -> None:
    app = Lanner()

    @app.post("/echo")
    async def echo(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                yield chunk.upper()

        return StreamingResponse(parts(), headers={"x-seen": request.headers["x-test"]})

    @app.post("/moved")
    def moved() -> RedirectResponse:
        return RedirectResponse("/echo", status_code=307)

    with TestClient(app) as client:
        with client.stream("POST", "/echo", content=b"hello", headers={"x-test": "1"}) as response:
            assert response.headers["x-seen"] == "1"
            assert response.read() == b"HELLO"
        with client.stream("POST", "/moved", content=b"again", headers={"x-test": "2"}) as response:
            assert [r.status_code for r in response.history] == [307]
            assert response.read() == b"AGAIN"


def test_two_streams_at_once_on_one_client() -> None:
    seen: dict[str, Any] = {}
    with (
        TestClient(endless_events_app(seen)) as client,
        client.stream("GET", "/ticks") as first,
        client.stream("GET", "/yielding") as second,
    ):
        a, b = first.iter_lines(), second.iter_lines()
        assert next(a) == "event: tick"
        assert next(b) == "id: 0"
        assert next(a) == "id: 0"


# --- errors ----------------------------------------------------------------------------------


async def failing_before_headers(scope: Scope, receive: Any, send: Any) -> None:
    raise ValueError("no headers for you")


async def failing_after_headers(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("broke while streaming")


def failing_lanner_app() -> Lanner:
    app = Lanner()

    @app.get("/")
    def index() -> StreamingResponse:
        raise KeyError("handler failed")

    return app


@pytest.mark.parametrize("make_app", [lambda: failing_before_headers, failing_lanner_app])
def test_an_error_before_the_headers_is_raised_as_by_get(make_app: Any) -> None:
    client = TestClient(make_app())
    with pytest.raises((ValueError, KeyError)) as from_get:
        client.get("/")
    with pytest.raises((ValueError, KeyError)) as from_stream, client.stream("GET", "/"):
        raise AssertionError("the block must not run")
    assert type(from_stream.value) is type(from_get.value)
    assert str(from_stream.value) == str(from_get.value)
    client.close()


def test_an_error_before_the_headers_is_a_500_without_raise_server_exceptions() -> None:
    client = TestClient(failing_before_headers, raise_server_exceptions=False)
    with client.stream("GET", "/") as response:
        assert response.status_code == 500
        assert response.read() == b"Internal Server Error"
    lanner_client = TestClient(failing_lanner_app(), raise_server_exceptions=False)
    with lanner_client.stream("GET", "/") as response:
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        response.read()
        assert response.json()["status"] == 500
    client.close()
    lanner_client.close()


def test_an_error_while_streaming_is_raised_where_the_body_ends() -> None:
    client = TestClient(failing_after_headers)
    with client.stream("GET", "/") as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        assert next(chunks) == b"partial"
        with pytest.raises(ValueError, match="broke while streaming"):
            next(chunks)
    quiet = TestClient(failing_after_headers, raise_server_exceptions=False)
    with quiet.stream("GET", "/") as response:
        assert response.read() == b"partial"  # cut short, as a server would
    client.close()
    quiet.close()


def test_an_error_after_the_disconnect_is_raised_when_the_block_exits() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await receive()
        await receive()
        raise RuntimeError("cleanup failed")

    with pytest.raises(RuntimeError, match="cleanup failed"), TestClient(app).stream("GET", "/") as response:
        next(response.iter_raw())


def test_an_app_that_returns_without_a_response() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(RuntimeError, match="without sending a response"), TestClient(app).stream("GET", "/"):
        raise AssertionError("the block must not run")


# --- HEAD, empty bodies, WebSockets ------------------------------------------------------------


def test_head_and_empty_bodies() -> None:
    seen: dict[str, Any] = {}
    app = endless_events_app(seen)

    @app.get("/json")
    def data() -> dict[str, int]:
        return {"n": 1}

    @app.delete("/thing", status_code=204)
    def remove() -> None:
        return None

    with TestClient(app) as client:
        with client.stream("HEAD", "/ticks") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert list(response.iter_bytes()) == []
        assert seen == {}  # the endless generator was never started
        with client.stream("HEAD", "/json") as response:
            assert response.headers["content-length"] == "7"
            assert response.read() == b""
        with client.stream("DELETE", "/thing") as response:
            assert response.status_code == 204
            assert list(response.iter_raw()) == []


def test_a_websocket_route_is_refused_with_a_pointer_to_websocket_connect() -> None:
    app = Lanner()

    @app.websocket("/rooms/{room:int}")
    async def room(ws: WebSocket, room: int) -> None:
        await ws.accept()
        await ws.close()

    client = TestClient(app)
    with (
        pytest.raises(ValueError, match=r"/rooms/7 is a WebSocket route.*websocket_connect\('/rooms/7'\)"),
        client.stream("GET", "/rooms/7"),
    ):
        raise AssertionError("the block must not run")
    with (
        pytest.raises(ValueError, match=r"WebSocket URL.*websocket_connect"),
        client.stream("GET", "ws://testserver/rooms/7"),
    ):
        raise AssertionError("the block must not run")
    # An unknown path is still a plain 404.
    with client.stream("GET", "/nowhere") as response:
        assert response.status_code == 404
    client.close()


# --- nothing hangs ---------------------------------------------------------------------------


def ignoring_app(events: list[str]) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        try:
            await asyncio.sleep(60)  # never looks at receive(): the disconnect goes unnoticed
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    return app


def sending_for_ever(events: list[str]) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:  # never looks at receive(), and never awaits anything but send
                await send({"type": "http.response.body", "body": b"first", "more_body": True})
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    return app


@pytest.mark.parametrize("make_app", [ignoring_app, sending_for_ever])
def test_an_app_that_ignores_the_disconnect_is_given_up_on_with_a_clear_error(make_app: Any) -> None:
    events: list[str] = []
    client = TestClient(make_app(events))
    started = time.monotonic()
    with (
        pytest.raises(
            TimeoutError, match=r"still running 0.2 seconds after the client disconnected"
        ) as caught,
        client.stream("GET", "/", disconnect_timeout=0.2) as response,
    ):
        assert next(response.iter_raw()) == b"first"
    assert time.monotonic() - started < 5
    assert "http.disconnect" in str(caught.value)
    assert "disconnect_timeout" in str(caught.value)
    assert events == ["cancelled"]  # given up on, not left running
    client.close()


def test_the_default_disconnect_timeout_is_the_client_attribute() -> None:
    assert TestClient.disconnect_timeout == 5.0
    events: list[str] = []
    client = TestClient(ignoring_app(events))
    client.disconnect_timeout = 0.1
    with pytest.raises(TimeoutError, match=r"0.1 seconds"), client.stream("GET", "/") as response:
        next(response.iter_raw())
    assert events == ["cancelled"]
    with (
        pytest.raises(ValueError, match="must not be negative"),
        client.stream("GET", "/", disconnect_timeout=-1),
    ):
        raise AssertionError("the block must not run")
    client.close()


def test_an_error_in_the_block_wins_over_the_failed_disconnect() -> None:
    client = TestClient(ignoring_app([]))
    with (
        pytest.raises(LookupError, match="the test's own") as caught,
        client.stream("GET", "/", disconnect_timeout=0.1),
    ):
        raise LookupError("the test's own")
    assert any("TimeoutError" in note for note in caught.value.__notes__)
    client.close()


class QuickClient(TestClient):
    app_timeout = 0.3


def test_an_app_that_never_sends_its_headers_times_out_and_is_cancelled() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    client = QuickClient(app)
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.3 seconds"), client.stream("GET", "/"):
        raise AssertionError("the block must not run")
    client.close()
    assert events == ["cancelled"]


def test_a_stream_that_goes_quiet_times_out_instead_of_hanging() -> None:
    events: list[str] = []
    client = QuickClient(ignoring_app(events))
    with (
        pytest.raises(TimeoutError, match=r"did not finish within 0\.3 seconds"),
        client.stream("GET", "/", disconnect_timeout=0.1) as response,
    ):
        # The first part arrives; waiting for a second one gives up after app_timeout.
        response.read()
    assert events == ["cancelled"]
    client.close()


def test_background_work_past_app_timeout_after_a_complete_body_is_cancelled() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"all of it"})
        try:
            await asyncio.sleep(60)  # background work that never ends
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    client = QuickClient(app)
    with (
        pytest.raises(TimeoutError, match=r"0\.3 seconds after it sent the whole response"),
        client.stream("GET", "/") as response,
    ):
        assert next(response.iter_raw()) == b"all of it"
    assert events == ["cancelled"]
    client.close()


def test_each_event_is_one_text_chunk_as_the_docstring_shows() -> None:
    seen: dict[str, Any] = {}
    with TestClient(endless_events_app(seen)) as client, client.stream("GET", "/ticks") as response:
        chunks = response.iter_text()
        events = [next(chunks) for _ in range(3)]
    assert events == [f'event: tick\nid: {n}\ndata: {{"n":{n}}}\n\n' for n in range(3)]
    assert seen["closed"] is True
