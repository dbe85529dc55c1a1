"""Error paths across the request pipeline (endpoint, app, errors, routing, datastructures,
_validation), driven through the public API, with hand-written ASGI calls where a server or a client
misbehaves: failing dependency cleanups, a request cancelled while a sync dependency sets up, a send
that fails after an error or in the middle of a file, a client gone before a middleware read its
body, an optional embedded body left empty, websocket and unknown connections, a session too large
to save, error pages, and unusual header names and schemas."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel
from pydantic_core import core_schema

from lanner import Body, Depends, File, HTTPException, Lanner, Request, Session
from lanner.errors import HTMLErrorResponse
from lanner.responses import FileResponse, PlainTextResponse, Response
from lanner.sessions import SessionTooLarge
from lanner.testing import TestClient
from lanner.types import ASGIApp, Message, Receive, Scope, Send

WAIT = 10


def http_scope(
    method: str = "GET", path: str = "/", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def body_receiver(*messages: Message) -> Callable[[], Awaitable[Message]]:
    """A receive that hands out `messages`, then waits for ever (the client stays connected)."""
    pending = list(messages) or [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


def failing_send(fail_on: str, sent: list[Message]) -> Callable[[Message], Awaitable[None]]:
    """A send that records messages and raises OSError (the connection broke) on `fail_on`."""

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == fail_on:
            raise OSError("connection reset by peer")

    return send


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lanner.error" and r.levelno >= logging.ERROR]


# -- dependency cleanups that fail -------------------------------------------------------------


def test_a_cleanup_that_raises_after_a_successful_response_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def connection() -> Iterator[str]:
        yield "conn"
        raise RuntimeError("could not return the connection")

    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def read(conn: Annotated[str, Depends(connection)]) -> str:
        return conn

    assert TestClient(app).get("/").json() == "conn"
    [record] = error_records(caplog)
    assert record.getMessage() == "Exception in dependency cleanup"
    assert isinstance(record.exc_info[1], RuntimeError)  # type: ignore[index]


def test_a_cleanup_that_re_raises_the_handlers_error_is_not_logged_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except HTTPException as exc:
            seen.append(f"rolled back after {exc.status_code}")
            raise

    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def read(tx: Annotated[None, Depends(transaction)]) -> None:
        raise HTTPException(409, "conflict")

    assert TestClient(app).get("/").status_code == 409
    assert seen == ["rolled back after 409"]
    assert error_records(caplog) == []


def test_when_sending_the_error_response_fails_dependencies_see_the_handlers_error() -> None:
    seen: list[str] = []

    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except BaseException as exc:
            seen.append(type(exc).__name__)
            raise

    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def read(tx: Annotated[None, Depends(transaction)]) -> None:
        raise HTTPException(404, "no such thing")

    sent: list[Message] = []
    with pytest.raises(OSError, match="connection reset"):
        asyncio.run(app(http_scope(), body_receiver(), failing_send("http.response.start", sent)))
    # The send failed on the 404; the cleanup was given the handler's error, not the send's.
    assert [m.get("status") for m in sent] == [404]
    assert seen == ["HTTPException"]


# -- a request cancelled while a sync generator dependency is still setting up ------------------


def blocking_setup_app(outcome: str, loop: asyncio.AbstractEventLoop) -> tuple[Lanner, Any]:
    """An app whose sync dependency blocks in its setup until released, then `outcome`s."""
    state = type("State", (), {})()
    state.entered = asyncio.Event()
    state.release = threading.Event()
    state.set_up = threading.Event()
    state.log = []

    def resource() -> Iterator[str]:
        loop.call_soon_threadsafe(state.entered.set)
        try:
            state.release.wait(WAIT)
            if outcome == "setup fails":
                raise ConnectionError("database unreachable")
        finally:
            state.set_up.set()
        try:
            yield "resource"
        finally:
            state.log.append("cleanup ran")
            if outcome == "cleanup fails":
                raise OSError("could not close the resource")

    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def read(r: Annotated[str, Depends(resource)]) -> str:
        return r

    return app, state


async def cancel_during_setup(app: ASGIApp, state: Any) -> None:
    task = asyncio.ensure_future(app(http_scope(), body_receiver(), failing_send("never", [])))
    await asyncio.wait_for(state.entered.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state.release.set()  # the setup thread carries on after the request is gone


def test_a_setup_that_fails_after_the_request_was_cancelled_leaves_nothing_to_undo(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> list[str]:
        app, state = blocking_setup_app("setup fails", asyncio.get_running_loop())
        await cancel_during_setup(app, state)
        assert await asyncio.to_thread(state.set_up.wait, WAIT)
        await asyncio.sleep(0.05)  # an undo would be submitted from the setup thread by now
        return state.log

    assert asyncio.run(scenario()) == []  # nothing was set up, so nothing is cleaned up
    assert error_records(caplog) == []


def test_a_setup_finished_after_the_cancellation_is_undone_and_its_cleanup_failure_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> list[str]:
        app, state = blocking_setup_app("cleanup fails", asyncio.get_running_loop())
        await cancel_during_setup(app, state)
        deadline = time.monotonic() + WAIT
        while not error_records(caplog) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return state.log

    assert asyncio.run(scenario()) == ["cleanup ran"]
    [record] = error_records(caplog)
    assert record.getMessage() == "Exception in dependency cleanup"
    assert isinstance(record.exc_info[1], OSError)  # type: ignore[index]


# -- a file response whose send fails once it started -------------------------------------------


def test_a_file_send_that_fails_after_the_headers_propagates_without_a_second_response(
    tmp_path: Path,
) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"x" * 1000)
    app = Lanner(freeze_gc=False)

    @app.get("/report")
    async def report() -> FileResponse:
        return FileResponse(path)

    sent: list[Message] = []
    with pytest.raises(OSError, match="connection reset"):
        asyncio.run(
            app(http_scope(path="/report"), body_receiver(), failing_send("http.response.body", sent))
        )
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200


# -- a client gone before a middleware read the body --------------------------------------------


def test_a_client_gone_while_a_middleware_reads_the_body_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    class BodyLogger:
        """Pure ASGI middleware that reads the whole body before passing the request on."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await Request(scope, receive).body()
            await self.app(scope, receive, send)

    app = Lanner(freeze_gc=False)
    app.add_middleware(BodyLogger)

    @app.post("/upload")
    async def upload() -> str:
        raise AssertionError("never reached")

    receive = body_receiver(
        {"type": "http.request", "body": b"part", "more_body": True}, {"type": "http.disconnect"}
    )
    sent: list[Message] = []
    caplog.set_level(logging.DEBUG, logger="lanner.error")
    asyncio.run(app(http_scope("POST", "/upload"), receive, failing_send("never", sent)))
    assert sent == []  # nobody to answer
    assert "Client disconnected during POST /upload" in caplog.text
    assert error_records(caplog) == []


# -- bodies -----------------------------------------------------------------------------------


class Item(BaseModel):
    name: str


def test_an_optional_embedded_body_may_be_left_out() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/pair")
    async def pair(first: Item | None = None, second: Item | None = None) -> dict[str, Any]:
        return {"first": first, "second": second}

    client = TestClient(app)
    assert client.post("/pair").json() == {"first": None, "second": None}
    assert client.post("/pair", json={"second": {"name": "b"}}).json() == {
        "first": None,
        "second": {"name": "b"},
    }


class Span:
    """A (start, end) pair whose core schema uses one bound schema for both positions."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        bound = core_schema.int_schema(ge=0)
        return core_schema.tuple_schema([bound, bound])


def test_a_body_type_whose_schema_shares_a_part_validates() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/span")
    async def span(value: Annotated[Span, Body()]) -> list[int]:
        return list(value)  # type: ignore[call-overload]

    client = TestClient(app)
    assert client.post("/span", json=[1, 5]).json() == [1, 5]
    refused = client.post("/span", json=[1, -5])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", 1]


# -- websockets -----------------------------------------------------------------------------------


async def open_websocket(app: ASGIApp, path: str) -> list[Message]:
    scope = {**http_scope(path=path), "type": "websocket", "scheme": "ws", "subprotocols": []}
    del scope["method"]
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, body_receiver({"type": "websocket.connect"}), send)
    return sent


def test_a_websocket_is_refused_unless_a_mounted_app_takes_it() -> None:
    async def chat(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": f"{scope['root_path']} {scope['path']}"})
        await send({"type": "websocket.close", "code": 1000})

    refused = {"type": "websocket.close", "code": 1008, "reason": "Not Found"}  # no HTTP-response extension
    bare = Lanner(freeze_gc=False)
    assert asyncio.run(open_websocket(bare, "/chat")) == [refused]
    app = Lanner(freeze_gc=False)
    app.mount("/chat", chat)
    sent = asyncio.run(open_websocket(app, "/chat/room"))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "/chat /chat/room"
    assert asyncio.run(open_websocket(app, "/elsewhere")) == [refused]


def test_a_connection_of_an_unknown_type_is_ignored() -> None:
    async def chat(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a mounted app is not given connections of unknown types")

    app = Lanner(freeze_gc=False)
    app.mount("/chat", chat)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "webtransport", "asgi": {"version": "3.0"}, "path": "/chat/room"}
    asyncio.run(app(scope, body_receiver({"type": "webtransport.connect"}), send))
    assert sent == []


# -- routing ----------------------------------------------------------------------------------------


def test_routes_sharing_a_mixed_segment_share_its_node() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/files/{name}.{ext}/raw")
    async def raw(name: str, ext: str) -> str:
        return f"raw {name} {ext}"

    @app.get("/files/{stem}.{suffix}/meta")
    async def meta(stem: str, suffix: str) -> str:
        return f"meta {stem} {suffix}"

    client = TestClient(app)
    assert client.get("/files/report.pdf/raw").json() == "raw report pdf"
    assert client.get("/files/report.pdf/meta").json() == "meta report pdf"
    assert client.get("/files/report.pdf/other").status_code == 404


# -- sessions: saving fails, Vary is merged ------------------------------------------------------

SECRET = "a-secret-key-for-the-error-path-tests"


def test_a_session_too_large_for_its_cookie_is_answered_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    app = Lanner(secret_key=SECRET, freeze_gc=False)

    @app.post("/notes")
    async def remember(session: Session) -> str:
        session["notes"] = "x" * 5000
        return "saved"

    response = TestClient(app, raise_server_exceptions=False).post("/notes")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in response.headers  # browsers would drop it: nothing half-saved
    [record] = error_records(caplog)
    assert isinstance(record.exc_info[1], SessionTooLarge)  # type: ignore[index]


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("accept-encoding, cookie", "accept-encoding, cookie"),
        ("*", "*"),
    ],
)
def test_a_session_response_adds_cookie_to_the_vary_it_already_has(given: str, sent: str) -> None:
    app = Lanner(secret_key=SECRET, freeze_gc=False)

    @app.get("/page")
    async def page(session: Session) -> PlainTextResponse:
        session["seen"] = True
        return PlainTextResponse("hello", headers={"vary": given})

    response = TestClient(app).get("/page")
    assert response.headers.get_list("vary") == [sent]
    assert "set-cookie" in response.headers


# -- forms and error pages ----------------------------------------------------------------------


def test_a_text_part_where_a_bytes_file_is_expected_is_taken_as_its_text() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/upload")
    async def upload(document: Annotated[bytes, File()]) -> int:
        return len(document)

    client = TestClient(app)
    assert client.post("/upload", files={"document": ("a.txt", b"file bytes")}).json() == 10
    assert client.post("/upload", files={"document": (None, "typed text")}).json() == 10


def test_an_html_error_page_without_detail_shows_only_its_title() -> None:
    app = Lanner(
        freeze_gc=False, exception_handlers={LookupError: lambda request, exc: HTMLErrorResponse(404)}
    )

    @app.get("/missing")
    async def missing() -> None:
        raise KeyError("gone")

    page = TestClient(app).get("/missing")
    assert page.status_code == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>404 Not Found</h1>" in page.text
    assert "<p>" not in page.text


# -- headers and exceptions ---------------------------------------------------------------------


def test_a_header_name_outside_latin_1_is_simply_absent() -> None:
    response = Response(b"", headers={"x-kind": "plain"})
    assert response.headers.pop("x-\u20ac", "default") == "default"
    with pytest.raises(KeyError):
        del response.headers["x-\u20ac"]
    with pytest.raises(ValueError):
        response.headers["x-\u20ac"] = "v"
    assert response.headers["x-kind"] == "plain"


def test_http_exception_repr_names_status_and_detail() -> None:
    assert repr(HTTPException(404, "no such item")) == "HTTPException(status_code=404, detail='no such item')"

    class Gone(HTTPException):
        pass

    assert repr(Gone(410)) == "Gone(status_code=410, detail=None)"
