"""FunctionMiddleware (lanner.middleware.functions): ``dispatch(request, call_next)`` middleware.

Besides the programming model FastAPI's ``@app.middleware("http")`` has, these tests pin the two
things Starlette's BaseHTTPMiddleware gets wrong: a streamed body must reach the client chunk by
chunk, and context variables must flow from the middleware to the handler and back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
from pydantic import BaseModel

from lanner import BackgroundTasks, Depends, Form, HTTPException, Lanner, Request
from lanner.middleware import FunctionMiddleware
from lanner.middleware.functions import CallNext
from lanner.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from lanner.testing import TestClient
from lanner.types import Message, Receive, Scope, Send

Dispatch = Callable[[Request, CallNext], Awaitable[Response]]

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")
user: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="anonymous")


def with_middleware(app: Lanner, *dispatches: Dispatch) -> Lanner:
    """Add each dispatch as `Lanner.middleware("http")` will: the last one is the outermost."""
    for dispatch in dispatches:
        app.add_middleware(FunctionMiddleware, dispatch=dispatch)
    return app


async def passthrough(request: Request, call_next: CallNext) -> Response:
    return await call_next(request)


class Exchange:
    """One raw ASGI request: what the app sent, and when."""

    def __init__(self, body: list[bytes] | None = None) -> None:
        self.chunks = list(body or [b""])
        self.sent: list[Message] = []
        self.complete = asyncio.Event()
        self.first_body = asyncio.Event()

    async def receive(self) -> Message:
        if self.chunks:
            chunk = self.chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        await self.complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body":
            if message.get("body"):
                self.first_body.set()
            if not message.get("more_body", False):
                self.complete.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def http_scope(
    path: str = "/", method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


# -- the programming model -------------------------------------------------------------------------


def test_the_dispatch_may_change_the_response() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"hello": "world"}

    async def add_headers(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        assert isinstance(response, StreamingResponse)
        response.headers["X-Process-Time"] = "0.1"
        response.set_cookie("seen", "yes")
        response.status_code = 202
        return response

    response = TestClient(with_middleware(app, add_headers)).get("/")
    assert response.status_code == 202
    assert response.json() == {"hello": "world"}
    assert response.headers["x-process-time"] == "0.1"
    assert response.headers["content-type"] == "application/json"
    assert response.cookies["seen"] == "yes"


def test_a_response_without_call_next_means_the_app_never_runs() -> None:
    app = Lanner(freeze_gc=False)
    ran: list[str] = []

    @app.get("/")
    async def home() -> str:
        ran.append("handler")
        return "home"

    async def gate(request: Request, call_next: CallNext) -> Response:
        if request.headers.get("x-token") != "secret":
            return JSONResponse({"detail": "no token"}, status_code=401)
        return await call_next(request)

    client = TestClient(with_middleware(app, gate))
    response = client.get("/")
    assert (response.status_code, response.json(), ran) == (401, {"detail": "no token"}, [])
    assert client.get("/", headers={"X-Token": "secret"}).json() == "home"
    assert ran == ["handler"]


def test_middleware_order_and_errors_answered_by_the_app() -> None:
    app = Lanner(freeze_gc=False)
    order: list[str] = []

    @app.get("/missing-item")
    async def missing() -> None:
        order.append("handler")
        raise HTTPException(404, "no such item")

    def named(name: str) -> Dispatch:
        async def dispatch(request: Request, call_next: CallNext) -> Response:
            order.append(f"{name} before")
            response = await call_next(request)
            order.append(f"{name} after {response.status_code}")
            return response

        return dispatch

    client = TestClient(with_middleware(app, named("inner"), named("outer")))
    assert client.get("/missing-item").json()["detail"] == "no such item"
    assert order == ["outer before", "inner before", "handler", "inner after 404", "outer after 404"]
    order.clear()
    assert client.get("/nowhere").status_code == 404  # unrouted: still through the middleware
    assert order == ["outer before", "inner before", "inner after 404", "outer after 404"]


def test_head_requests() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def home() -> str:
        return "body"

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]))

    client = TestClient(with_middleware(app, passthrough))
    head = client.head("/")
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "6")
    assert client.head("/stream").content == b""
    assert client.get("/stream").content == b"ab"


def test_other_scopes_pass_through() -> None:
    app = Lanner(freeze_gc=False)
    started: list[str] = []
    app.on_startup.append(lambda: started.append("up"))

    async def dispatch(request: Request, call_next: CallNext) -> Response:
        raise AssertionError("only for HTTP")

    with TestClient(with_middleware(app, dispatch)):
        assert started == ["up"]


def test_request_state_set_in_the_dispatch_reaches_the_handler() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def home(request: Request) -> str:
        return str(request.state.user)

    async def authenticate(request: Request, call_next: CallNext) -> Response:
        request.state.user = "ann"
        assert request.state.user == "ann"
        return await call_next(request)

    assert TestClient(with_middleware(app, authenticate)).get("/").json() == "ann"


def test_the_dispatch_must_return_a_response() -> None:
    app = Lanner(freeze_gc=False)

    async def forgetful(request: Request, call_next: CallNext) -> Any:
        await call_next(request)

    client = TestClient(with_middleware(app, forgetful))
    with pytest.raises(TypeError, match="not a Response"):
        client.get("/")


def test_call_next_only_once() -> None:
    app = Lanner(freeze_gc=False)

    async def twice(request: Request, call_next: CallNext) -> Response:
        await call_next(request)
        return await call_next(request)

    with pytest.raises(RuntimeError, match="only once"):
        TestClient(with_middleware(app, twice)).get("/")


def test_an_app_that_sends_no_response() -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return

    middleware = FunctionMiddleware(silent, passthrough)
    exchange = Exchange()
    with pytest.raises(RuntimeError, match="without starting a response"):
        asyncio.run(middleware(http_scope(), exchange.receive, exchange.send))


# -- streaming -----------------------------------------------------------------------------------


def test_a_streamed_body_is_not_buffered() -> None:
    """The first chunk reaches the client while the generator waits for the client to get it."""
    app = Lanner(freeze_gc=False)
    exchange = Exchange()
    steps: list[str] = []

    @app.get("/events")
    async def events() -> StreamingResponse:
        async def generate() -> AsyncIterator[str]:
            steps.append("first")
            yield "first chunk\n"
            # Only the client receiving the first chunk lets the stream go on.
            await exchange.first_body.wait()
            steps.append("second")
            yield "second chunk\n"

        return StreamingResponse(generate(), media_type="text/event-stream")

    async def touch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers["X-Streamed"] = "yes"
        return response

    with_middleware(app, touch, passthrough)

    async def run() -> None:
        await asyncio.wait_for(app(http_scope("/events"), exchange.receive, exchange.send), timeout=5)

    asyncio.run(run())
    assert exchange.status == 200
    assert (b"x-streamed", b"yes") in exchange.sent[0]["headers"]
    bodies = [m for m in exchange.sent if m["type"] == "http.response.body"]
    assert bodies[0]["body"] == b"first chunk\n" and bodies[0]["more_body"] is True
    assert exchange.body == b"first chunk\nsecond chunk\n"
    assert steps == ["first", "second"]


def test_the_app_goes_at_the_clients_pace() -> None:
    """No read-ahead: the app's next send waits until the previous message went out."""
    produced: list[int] = []
    forwarded: list[int] = []

    async def producer(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for n in range(3):
            produced.append(n)
            await send({"type": "http.response.body", "body": str(n).encode(), "more_body": n < 2})

    async def slow_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await asyncio.sleep(0.01)
            # While this message was going out the app did not go on: it produced this one only.
            assert len(produced) == len(forwarded) + 1
            forwarded.append(int(message["body"]))

    async def receive() -> Message:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    asyncio.run(FunctionMiddleware(producer, passthrough)(http_scope(), receive, slow_send))
    assert forwarded == [0, 1, 2]


def test_the_body_iterator_can_be_read_or_replaced() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(iter(["a", "b", "c"]))

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("plain")

    async def shout(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        if request.path == "/text":
            # Starlette's logging recipe: read the whole body, answer with a new response.
            assert isinstance(response, StreamingResponse)
            chunks = cast(AsyncIterator[bytes], response.body_iterator)
            body = b"".join([chunk async for chunk in chunks])
            return Response(body.upper(), response.status_code, media_type="text/plain")

        async def upper(chunks: Any) -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield chunk.upper()

        assert isinstance(response, StreamingResponse)
        response.body_iterator = upper(response.body_iterator)
        return response

    client = TestClient(with_middleware(app, shout))
    assert client.get("/stream").text == "ABC"
    assert client.get("/text").text == "PLAIN"


def test_background_tasks_run_after_the_client_has_the_whole_response() -> None:
    app = Lanner(freeze_gc=False)
    exchange = Exchange()
    log: list[str] = []

    @app.get("/")
    async def home(tasks: BackgroundTasks) -> str:
        async def later() -> None:
            await exchange.complete.wait()  # the client has the whole body before this runs
            log.append("background")

        tasks.add_task(later)
        return "done"

    with_middleware(app, passthrough)

    async def run() -> None:
        await asyncio.wait_for(app(http_scope(), exchange.receive, exchange.send), timeout=5)

    asyncio.run(run())
    assert (exchange.body, log) == (b'"done"', ["background"])


def test_an_answer_of_the_dispatch_own_stops_the_apps_stream() -> None:
    """The app's messages are dropped, it sees the client leave and its generator is closed."""
    app = Lanner(freeze_gc=False)
    closed = asyncio.Event()

    @app.get("/forever")
    async def forever() -> StreamingResponse:
        async def generate() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick"
                    await asyncio.sleep(0)
            finally:
                closed.set()

        return StreamingResponse(generate())

    async def replace(request: Request, call_next: CallNext) -> Response:
        await call_next(request)
        return PlainTextResponse("replaced")

    with_middleware(app, replace)
    exchange = Exchange()

    async def run() -> None:
        await asyncio.wait_for(app(http_scope("/forever"), exchange.receive, exchange.send), timeout=5)

    asyncio.run(run())
    assert (exchange.status, exchange.body) == (200, b"replaced")
    assert closed.is_set()


def test_an_error_mid_stream_propagates() -> None:
    async def breaking(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise OSError("disk gone")

    exchange = Exchange()
    with pytest.raises(OSError, match="disk gone"):
        asyncio.run(FunctionMiddleware(breaking, passthrough)(http_scope(), exchange.receive, exchange.send))
    assert exchange.body == b"part"


def test_an_error_after_the_response_is_raised_once_it_is_sent() -> None:
    async def late_failure(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"whole"})
        raise LookupError("cleanup failed")

    exchange = Exchange()
    with pytest.raises(LookupError, match="cleanup failed"):
        asyncio.run(
            FunctionMiddleware(late_failure, passthrough)(http_scope(), exchange.receive, exchange.send)
        )
    assert exchange.body == b"whole" and exchange.complete.is_set()


def test_messages_before_the_start_go_straight_out() -> None:
    async def hinting(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": ["</a.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"x"})
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})

    exchange = Exchange()
    asyncio.run(FunctionMiddleware(hinting, passthrough)(http_scope(), exchange.receive, exchange.send))
    assert [m["type"] for m in exchange.sent] == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
    ]
    assert exchange.sent[1]["trailers"] is True


# -- context variables ---------------------------------------------------------------------------


def test_context_variables_reach_the_handler_its_dependencies_and_background_tasks() -> None:
    app = Lanner(freeze_gc=False)
    seen: dict[str, str] = {}

    def current_user() -> str:
        seen["sync dependency"] = user.get()
        return user.get()

    async def remember_async() -> None:
        seen["async background"] = request_id.get()

    def remember_sync() -> None:
        seen["sync background"] = request_id.get()

    @app.get("/async")
    async def async_handler(tasks: BackgroundTasks, who: str = Depends(current_user)) -> str:
        seen["async handler"] = request_id.get()
        tasks.add_task(remember_async)
        tasks.add_task(remember_sync)
        return who

    @app.get("/sync")
    def sync_handler() -> str:
        seen["sync handler"] = request_id.get()
        return request_id.get()

    async def tag(request: Request, call_next: CallNext) -> Response:
        request_id.set(request.headers.get("x-request-id", "?"))
        user.set("ann")
        return await call_next(request)

    client = TestClient(with_middleware(app, tag))
    assert client.get("/async", headers={"X-Request-ID": "r1"}).json() == "ann"
    assert client.get("/sync", headers={"X-Request-ID": "r2"}).json() == "r2"
    assert seen == {
        "sync dependency": "ann",
        "async handler": "r1",
        "async background": "r1",
        "sync background": "r1",
        "sync handler": "r2",
    }
    # Nothing leaks into the next request's context.
    assert request_id.get() == "none"


def test_context_variables_set_by_the_handler_reach_the_dispatch() -> None:
    """Starlette's BaseHTTPMiddleware loses these: its app runs in a task whose context is dropped."""
    app = Lanner(freeze_gc=False)
    seen: list[str] = []

    async def load_user() -> str:
        user.set("set by a dependency")
        return "x"

    @app.get("/")
    async def home(_: str = Depends(load_user)) -> str:
        request_id.set("set by the handler")
        return "ok"

    async def observe(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        seen.extend([request_id.get(), user.get()])
        return response

    assert TestClient(with_middleware(app, observe, passthrough)).get("/").json() == "ok"
    assert seen == ["set by the handler", "set by a dependency"]


def test_context_variables_reach_pure_asgi_middleware_outside() -> None:
    """Starlette documents that BaseHTTPMiddleware breaks this for the middleware around it."""
    app = Lanner(freeze_gc=False)
    seen: list[str] = []

    @app.get("/")
    async def home() -> str:
        request_id.set("from the handler")
        return "ok"

    def outer_asgi(inner: Any) -> Any:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            await inner(scope, receive, send)
            if scope["type"] == "http":
                seen.append(request_id.get())

        return middleware

    with_middleware(app, passthrough)
    app.add_middleware(outer_asgi)
    assert TestClient(app).get("/").json() == "ok"
    assert seen == ["from the handler"]


def test_values_set_by_the_dispatch_after_call_next_win() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def home() -> str:
        request_id.set("handler")
        return "ok"

    async def overwrite(request: Request, call_next: CallNext) -> Response:
        token = request_id.set("dispatch before")
        response = await call_next(request)
        assert request_id.get() == "handler"
        request_id.set("dispatch after")
        response.headers["X-Id"] = request_id.get()
        request_id.reset(token)  # tokens made in the dispatch still work there
        assert request_id.get() == "none"
        return response

    assert TestClient(with_middleware(app, overwrite)).get("/").headers["x-id"] == "dispatch after"


# -- the request body ----------------------------------------------------------------------------


class Note(BaseModel):
    text: str


def test_the_handler_reads_a_body_the_dispatch_read() -> None:
    app = Lanner(freeze_gc=False)
    seen: list[bytes] = []

    @app.post("/raw")
    async def raw(request: Request) -> str:
        return (await request.body()).decode()

    @app.post("/model")
    async def model(note: Note) -> str:
        return note.text

    @app.post("/form")
    async def form(name: str = Form()) -> str:
        return name

    async def read_first(request: Request, call_next: CallNext) -> Response:
        seen.append(await request.body())
        return await call_next(request)

    client = TestClient(with_middleware(app, read_first))
    assert client.post("/raw", content=b"hello").json() == "hello"
    assert client.post("/raw", content=iter([b"chunked ", b"body"])).json() == "chunked body"
    assert client.post("/model", json={"text": "note"}).json() == "note"
    assert client.post("/form", data={"name": "ann"}).json() == "ann"
    assert seen == [b"hello", b"chunked body", b'{"text":"note"}', b"name=ann"]


def test_a_body_the_dispatch_did_not_read_streams_to_the_handler() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/")
    async def count(request: Request) -> list[int]:
        return [len(chunk) async for chunk in request.stream()]

    client = TestClient(with_middleware(app, passthrough))
    assert client.post("/", content=iter([b"ab", b"cde"])).json() == [2, 3]


def test_the_dispatch_may_read_json_and_form() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/json")
    async def echo_json(request: Request) -> Any:
        return await request.json()

    @app.post("/form")
    async def echo_form(request: Request) -> Any:
        return dict(await request.form())

    async def peek(request: Request, call_next: CallNext) -> Response:
        if request.path == "/json":
            assert (await request.json()) == {"a": 1}
        else:
            assert (await request.form())["a"] == "1"
        return await call_next(request)

    client = TestClient(with_middleware(app, peek))
    assert client.post("/json", json={"a": 1}).json() == {"a": 1}
    assert client.post("/form", data={"a": "1"}).json() == {"a": "1"}


# -- exceptions ----------------------------------------------------------------------------------


def crashing_app() -> Lanner:
    app = Lanner(freeze_gc=False)

    @app.get("/crash")
    async def crash() -> None:
        raise ZeroDivisionError("handler bug")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418)

    return app


def test_a_handler_exception_reaches_the_dispatch() -> None:
    caught: list[BaseException] = []

    async def guard(request: Request, call_next: CallNext) -> Response:
        try:
            return await call_next(request)
        except ZeroDivisionError as exc:
            caught.append(exc)
            return JSONResponse({"error": str(exc)}, status_code=503)

    client = TestClient(with_middleware(crashing_app(), guard))
    response = client.get("/crash")  # answered by the middleware: the client has nothing to raise
    assert (response.status_code, response.json()) == (503, {"error": "handler bug"})
    assert [type(exc) for exc in caught] == [ZeroDivisionError]
    assert client.get("/teapot").status_code == 418  # answered by the app, not raised


def test_an_uncaught_handler_exception_is_a_500_and_reaches_the_test(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = with_middleware(crashing_app(), passthrough, passthrough)
    with pytest.raises(ZeroDivisionError, match="handler bug"):
        TestClient(app).get("/crash")
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        response = TestClient(app, raise_server_exceptions=False).get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "handler bug" not in response.text
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], ZeroDivisionError)]
    assert len(logged) == 1  # once, though it went through two middleware


def test_an_exception_in_the_dispatch_is_a_500() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def home() -> str:
        return "home"

    async def broken(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        raise KeyError("middleware bug")
        return response

    with pytest.raises(KeyError, match="middleware bug"):
        TestClient(with_middleware(app, broken)).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500


def test_an_exception_from_a_plain_asgi_app_reaches_the_dispatch() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        raise ConnectionError("upstream down")

    async def fallback(request: Request, call_next: CallNext) -> Response:
        try:
            return await call_next(request)
        except ConnectionError:
            return PlainTextResponse("fallback", status_code=502)

    exchange = Exchange()
    asyncio.run(FunctionMiddleware(failing, fallback)(http_scope(), exchange.receive, exchange.send))
    assert (exchange.status, exchange.body) == (502, b"fallback")
    # Not caught: raised once.
    exchange = Exchange()
    with pytest.raises(ConnectionError):
        asyncio.run(FunctionMiddleware(failing, passthrough)(http_scope(), exchange.receive, exchange.send))


def test_cancelling_the_request_cancels_the_app() -> None:
    cleaned: list[str] = []
    entered = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            entered.set()
            await asyncio.sleep(30)
        finally:
            cleaned.append("app cleaned up")

    async def run() -> None:
        exchange = Exchange()
        call = asyncio.create_task(
            FunctionMiddleware(slow, passthrough)(http_scope(), exchange.receive, exchange.send)
        )
        await entered.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(run())
    assert cleaned == ["app cleaned up"]
