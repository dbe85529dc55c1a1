"""lanner.wsgi.WSGIMount at its edges: WSGI apps that misuse start_response or fail, clients that
go away or send too much, paths that are not UTF-8, HEAD, and what is not HTTP."""

import asyncio
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import pytest

from lanner import Lanner
from lanner.testing import TestClient
from lanner.wsgi import WSGIMount
from tests.apps import flask_legacy, wsgi_lanner
from tests.test_wsgi import http_scope

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


async def exchange(
    mount: WSGIMount, path: str = "/", *, method: str = "GET", body: list[bytes] | None = None
) -> list[Message]:
    """Serve one request through `mount` as an ASGI server would; return the messages it sent."""
    pieces = list(body or [b""])
    sent: list[Message] = []
    done = asyncio.Event()

    async def receive() -> Message:
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": bool(pieces)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await asyncio.wait_for(mount(http_scope(path, method), receive, send), 10)
    return sent


def body_of(messages: list[Message]) -> bytes:
    return b"".join(
        message.get("body", b"") for message in messages if message["type"] == "http.response.body"
    )


def lanner_with(**mounts: Any) -> Lanner:
    """A lanner app with one route of its own and the WSGI apps mounted at ``/<name>``."""
    app = Lanner()

    @app.get("/own")
    async def own() -> str:
        return "lanner"

    for name, wsgi_app in mounts.items():
        app.mount_wsgi(f"/{name}", wsgi_app, threads=2)
    return app


# -- start_response, as WSGI servers hold a WSGI app to it (PEP 3333) -------------------------------


def test_calling_start_response_twice_is_the_apps_error() -> None:
    raised: list[BaseException] = []

    def twice(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("x-first", "1")])
        try:
            start_response("201 Created", [("x-second", "1")])
        except AssertionError as exc:
            raised.append(exc)
            raise
        return [b"never"]

    with TestClient(lanner_with(twice=twice), raise_server_exceptions=False) as client:
        response = client.get("/twice/")
        assert response.status_code == 500, "the first start must not have gone out"
        assert "x-first" not in response.headers
        assert client.get("/own").json() == "lanner"
    assert len(raised) == 1
    assert "already called" in str(raised[0])


def test_exc_info_before_the_first_chunk_replaces_the_start() -> None:
    def error_page(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain"), ("x-doomed", "1")])
        try:
            raise KeyError("missing row")
        except KeyError:
            start_response("503 Service Unavailable", [("content-type", "text/plain")], sys.exc_info())
        return [b"try again later"]

    with TestClient(lanner_with(broken=error_page)) as client:
        response = client.get("/broken/")
    assert response.status_code == 503
    assert response.text == "try again later"
    assert "x-doomed" not in response.headers


@pytest.mark.anyio
async def test_exc_info_after_the_first_chunk_is_raised_in_the_app_at_once(
    mounts: Callable[..., WSGIMount],
) -> None:
    reraised: list[BaseException] = []
    original = ValueError("half-way failure")

    def late_error(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("content-type", "text/plain")])
        write(b"partial ")
        try:
            raise original
        except ValueError:
            try:
                start_response("500 Internal Server Error", [], sys.exc_info())
            except ValueError as exc:
                reraised.append(exc)
                raise
        return [b"never"]

    with pytest.raises(ValueError, match="half-way failure"):
        await exchange(mounts(late_error))
    assert reraised == [original], "the headers had gone: the app's own error comes back to it"


@pytest.mark.anyio
async def test_a_body_without_start_response_is_an_error(mounts: Callable[..., WSGIMount]) -> None:
    def headless(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return [b"who am I"]

    def silent(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return []

    for app in (headless, silent):
        with pytest.raises(RuntimeError, match="without calling start_response"):
            await exchange(mounts(app))


@pytest.mark.anyio
async def test_the_start_goes_out_with_the_first_bytes(mounts: Callable[..., WSGIMount]) -> None:
    def imperative(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("content-type", "text/plain")])
        yield b""  # nothing yet: no message for it, and the start may still change
        yield b""
        write(b"")
        write(b"written ")
        yield b""
        yield b"yielded"

    sent = await exchange(mounts(imperative))
    assert sent[0]["type"] == "http.response.start"
    assert [message.get("body") for message in sent[1:]] == [b"written ", b"", b"yielded", b""]
    assert body_of(sent) == b"written yielded"


@pytest.mark.anyio
async def test_an_empty_body_sends_the_start_at_the_end(mounts: Callable[..., WSGIMount]) -> None:
    def no_content(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("204 No Content", [("x-kind", "empty")])
        return []

    sent = await exchange(mounts(no_content))
    assert sent[0] == {"type": "http.response.start", "status": 204, "headers": [(b"x-kind", b"empty")]}
    assert body_of(sent) == b""
    assert sent[-1].get("more_body", False) is False


# -- errors, HEAD, paths ----------------------------------------------------------------------------


def test_an_error_raised_by_the_wsgi_app_is_a_500_and_the_pool_survives() -> None:
    calls: list[str] = []

    def raising(environ: Environ, start_response: StartResponse) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        raise LookupError("the old app broke")

    with TestClient(lanner_with(raising=raising), raise_server_exceptions=False) as client:
        for _ in range(3):  # more than the pool's 2 threads: none was lost to the error
            response = client.get("/raising/x")
            assert response.status_code == 500
            assert "the old app broke" not in response.text
        assert client.get("/own").json() == "lanner"
    assert calls == ["/x"] * 3
    with (
        TestClient(lanner_with(raising=raising)) as client,
        pytest.raises(LookupError, match="old app broke"),
    ):
        client.get("/raising/x")


def test_head_through_the_mount_has_the_get_headers_and_no_body() -> None:
    with TestClient(wsgi_lanner.host) as client:
        get = client.get("/legacy/items/3")
        head = client.head("/legacy/items/3")
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == get.headers["content-type"]


def test_paths_reach_the_flask_app_as_a_wsgi_server_passes_them() -> None:
    with TestClient(wsgi_lanner.host) as client:
        utf8 = client.get("/legacy/caf%C3%A9")
        not_utf8 = client.get("/legacy/caf%E9")  # no UTF-8: decoded with U+FFFD, as uvicorn does
        spaced = client.get("/legacy/a%20b")
    assert (utf8.status_code, utf8.text) == (404, "<h1>legacy 404</h1><p>/café is not here</p>")
    assert (not_utf8.status_code, not_utf8.text) == (404, "<h1>legacy 404</h1><p>/caf\ufffd is not here</p>")
    assert spaced.text == "<h1>legacy 404</h1><p>/a b is not here</p>"


@pytest.mark.anyio
async def test_path_info_holds_the_bytes_as_latin1(mounts: Callable[..., WSGIMount]) -> None:
    seen: list[tuple[str, str]] = []

    def record(environ: Environ, start_response: StartResponse) -> list[bytes]:
        seen.append((environ["SCRIPT_NAME"], environ["PATH_INFO"]))
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode("latin-1")]

    sent = await exchange(mounts(record), "/caf\u00e9")
    assert seen == [("/legacy", "/caf\xc3\xa9")]
    assert body_of(sent).decode() == "/café"


# -- clients that go away, or send too much ------------------------------------------------------


@pytest.mark.anyio
async def test_a_large_body_the_app_refuses_unread_is_not_read_through(
    mounts: Callable[..., WSGIMount],
) -> None:
    def too_large(environ: Environ, start_response: StartResponse) -> list[bytes]:
        # As Flask does past MAX_CONTENT_LENGTH: answered from the headers, the body left unread.
        start_response("413 Content Too Large", [("content-type", "text/plain")])
        return [b"too large"]

    received = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        received += 1
        if received <= 10_000:  # 640 MB, if anyone read it all
            return {"type": "http.request", "body": b"x" * 65536, "more_body": True}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mounts(too_large)(http_scope("/upload", "POST"), receive, send), 10)
    assert sent[0]["status"] == 413
    assert body_of(sent) == b"too large"
    assert received <= 4, f"{received} body messages were read for an app that read none"


@pytest.mark.anyio
async def test_the_app_reads_an_ended_body_once_the_client_has_gone(mounts: Callable[..., WSGIMount]) -> None:
    reads: list[bytes] = []
    gone = threading.Event()

    def reader(environ: Environ, start_response: StartResponse) -> list[bytes]:
        gone.wait(5)
        reads.extend(environ["wsgi.input"].read(10) for _ in range(3))
        start_response("200 OK", [])
        return [b"nobody hears this"]

    async def receive() -> Message:
        gone.set()
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mounts(reader)(http_scope("/", "POST"), receive, send), 10)
    assert reads == [b"", b"", b""]
    assert sent == [], "nothing is sent to a client that has gone"


@pytest.mark.anyio
async def test_a_client_that_leaves_mid_body_leaves_the_app_what_came(
    mounts: Callable[..., WSGIMount],
) -> None:
    gone = threading.Event()
    bodies: list[bytes] = []

    def reader(environ: Environ, start_response: StartResponse) -> list[bytes]:
        gone.wait(5)  # the client has left by now, its first two pieces read ahead
        bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"nobody hears this"]

    pieces = [b"first ", b"second "]

    async def receive() -> Message:
        if pieces:
            return {"type": "http.request", "body": pieces.pop(0), "more_body": True}
        gone.set()
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mounts(reader)(http_scope("/", "POST"), receive, send), 10)
    assert bodies == [b"first second "], "what came, then the end: no wait for the rest"
    assert sent == []


@pytest.mark.anyio
async def test_a_failing_receive_is_raised_once_the_app_is_done(mounts: Callable[..., WSGIMount]) -> None:
    finished = threading.Event()

    def reader(environ: Environ, start_response: StartResponse) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        finished.set()
        return [b"read %d" % len(body)]

    async def receive() -> Message:
        raise RuntimeError("the server's receive broke")

    async def send(message: Message) -> None:
        pass

    with pytest.raises(RuntimeError, match="receive broke"):
        await asyncio.wait_for(mounts(reader)(http_scope("/", "POST"), receive, send), 10)
    assert finished.is_set(), "the WSGI app ran to its end first (it read an ended body)"


# -- what is not HTTP ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_lifespan_is_acknowledged_and_a_websocket_refused(mounts: Callable[..., WSGIMount]) -> None:
    mount = mounts(flask_legacy.app)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(mount({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send), 5)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    sent.clear()
    incoming.append({"type": "websocket.connect"})
    scope = {**http_scope("/ws"), "type": "websocket"}
    await asyncio.wait_for(mount(scope, receive, send), 5)
    assert sent == [{"type": "websocket.close", "code": 1000}]
