"""GZipMiddleware: gzip, Brotli and zstd negotiated from Accept-Encoding, whole bodies and streams."""

import asyncio
import os
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import brotli
import httpx
import pytest
import zstandard

from lanner import Lanner, Request
from lanner.middleware.compression import GZipMiddleware
from lanner.responses import EventSourceResponse, FileResponse, Response, ServerSentEvent, StreamingResponse
from lanner.testing import TestClient
from lanner.types import Message, Receive, Scope, Send
from tests.conftest import Server, free_port

TEXT = ("lanner compresses text that repeats itself. " * 60).encode()  # 2700 bytes
SMALL = b"a small body, under the minimum size; " * 10  # 370 bytes


def decompress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return zlib.decompress(data, 31)
    if coding == "br":
        return bytes(brotli.decompress(data))
    assert coding == "zstd"
    return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))


class Incremental:
    """Decode a compressed stream piece by piece, as a browser does."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "gzip":
            self._zlib = zlib.decompressobj(31)
        elif coding == "br":
            self._brotli = brotli.Decompressor()
        else:
            self._zstd = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.coding == "gzip":
            return self._zlib.decompress(data)
        if self.coding == "br":
            return bytes(self._brotli.process(data))
        return bytes(self._zstd.decompress(data))


def build_app(**options: Any) -> Lanner:
    app = Lanner()

    @app.get("/text")
    async def text() -> Response:
        return Response(TEXT, media_type="text/plain")

    @app.get("/small")
    async def small() -> Response:
        return Response(SMALL, media_type="text/plain")

    @app.get("/typed")
    async def typed(media: str) -> Response:
        return Response(TEXT, media_type=media)

    @app.get("/headers")
    async def with_headers(request: Request) -> Response:
        # Each query parameter becomes a response header (repeated ones give several lines).
        headers = list(request.query_params.multi_items())
        response = Response(TEXT, media_type="text/plain")
        for name, value in headers:
            response.raw_headers.append((name.lower().encode(), value.encode()))
        return response

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for n in range(5):
                yield TEXT[n * 100 : (n + 1) * 100]

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/not-modified")
    async def not_modified() -> Response:
        return Response(status_code=304, headers={"ETag": '"v1"'})

    app.add_middleware(GZipMiddleware, **options)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(build_app()) as test_client:
        yield test_client


def get_raw(
    client: TestClient, path: str, accept: str | None, method: str = "GET"
) -> tuple[httpx.Response, bytes]:
    headers = {"Accept-Encoding": accept} if accept is not None else {}
    request = client.build_request(method, path, headers=headers)
    if accept is None:
        del request.headers["Accept-Encoding"]  # httpx adds its own by default
    response = client.send(request, stream=True)
    raw = b"".join(response.iter_raw())
    response.close()
    return response, raw


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_each_coding_round_trips_with_a_new_content_length(client: TestClient, coding: str) -> None:
    response, raw = get_raw(client, "/text", coding)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == coding
    assert response.headers["content-length"] == str(len(raw))
    assert len(raw) < len(TEXT) // 5
    assert decompress(coding, raw) == TEXT
    assert response.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip;q=1, br;q=0", "gzip"),
        ("gzip, br;q=0, zstd;q=0", "gzip"),
        ("br;q=0.5, gzip;q=0.8", "gzip"),
        ("zstd;q=1, br;q=0.9", "zstd"),
        ("gzip, deflate, br, zstd", "br"),  # a tie: br is preferred
        ("gzip, zstd", "zstd"),
        ("*", "br"),
        ("*;q=0.5, br;q=0", "zstd"),
        ("*;q=0.5, gzip", "gzip"),
        ("X-GZIP", "gzip"),
        ("GZip ; Q=0.7", "gzip"),
        ("identity;q=1, gzip;q=0.5", None),
        ("identity;q=0.5, gzip;q=0.5", "gzip"),
        ("identity", None),
        ("gzip;q=0", None),
        ("*;q=0", None),
        ("deflate, compress", None),
        ("gzip;q=abc", None),  # a malformed q-value: the item is ignored
        ("gzip;q=1.5", None),
        ("gzip;q=0.0001", None),
        ("", None),
        (",,;;,=", None),
        ("gzip, " + "x" * 2000, None),  # longer than 1 KiB: not read
    ],
)
def test_the_coding_is_negotiated_by_quality(client: TestClient, accept: str, chosen: str | None) -> None:
    response, raw = get_raw(client, "/text", accept)
    assert response.headers.get("content-encoding") == chosen
    assert response.headers["vary"] == "Accept-Encoding"  # the answer varies, compressed or not
    assert decompress(chosen, raw) == TEXT if chosen else raw == TEXT


def test_the_negotiation_cache_is_bounded() -> None:
    middleware = GZipMiddleware(chunked_app([]))
    for n in range(1000):
        assert middleware._choose(f"gzip;q=0.{n % 999 + 1:03d}, x-{n}".encode()) is not None
    assert 0 < len(middleware._choices) <= 256
    long = b"gzip, " + b"x" * 2000
    assert middleware._choose(long) is None
    assert long not in middleware._choices


def test_several_accept_encoding_lines_are_read_together() -> None:
    middleware = GZipMiddleware(Response(TEXT))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "headers": [(b"accept-encoding", b"br;q=0"), (b"accept-encoding", b"gzip")],
    }
    asyncio.run(middleware(scope, receive, send))
    assert (b"content-encoding", b"gzip") in sent[0]["headers"]
    assert zlib.decompress(sent[1]["body"], 31) == TEXT


def test_without_accept_encoding_nothing_is_touched(client: TestClient) -> None:
    response, raw = get_raw(client, "/text", None)
    assert raw == TEXT
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.headers["content-length"] == str(len(TEXT))


def test_small_bodies_are_sent_as_they_are_with_vary(client: TestClient) -> None:
    response, raw = get_raw(client, "/small", "gzip")
    assert raw == SMALL
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(SMALL))


def test_minimum_size_is_the_first_size_compressed() -> None:
    with TestClient(build_app(minimum_size=len(SMALL))) as exact:
        response, raw = get_raw(exact, "/small", "gzip")
        assert response.headers["content-encoding"] == "gzip"
        assert zlib.decompress(raw, 31) == SMALL
    with TestClient(build_app(minimum_size=len(SMALL) + 1)) as above:
        response, raw = get_raw(above, "/small", "gzip")
        assert "content-encoding" not in response.headers
        assert raw == SMALL


def test_a_body_that_would_grow_is_sent_as_it_is() -> None:
    noise = os.urandom(2000)
    client = TestClient(GZipMiddleware(Response(noise, media_type="text/plain")))  # no lifespan: no `with`
    try:
        response, raw = get_raw(client, "/", "gzip")
    finally:
        client.close()
    assert raw == noise
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    "media",
    [
        "image/png",
        "image/jpeg",
        "video/mp4",
        "audio/ogg",
        "font/woff2",
        "application/zip",
        "application/gzip",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/zstd",
        "application/octet-stream",
        "Image/WebP; charset=whatever",
    ],
)
def test_compressed_formats_are_left_alone_without_vary(client: TestClient, media: str) -> None:
    response, raw = get_raw(client, f"/typed?media={media}", "gzip, br")
    assert raw == TEXT
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    "media", ["image/svg+xml", "application/json", "text/html; charset=utf-8", "application/ld+json"]
)
def test_text_formats_are_compressed(client: TestClient, media: str) -> None:
    response, raw = get_raw(client, f"/typed?media={quote(media)}", "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert zlib.decompress(raw, 31) == TEXT


def test_excluded_content_types_can_be_replaced() -> None:
    with TestClient(build_app(excluded_content_types=["text/*", "application/json"])) as client:
        response, raw = get_raw(client, "/typed?media=image/png", "gzip")
        assert response.headers["content-encoding"] == "gzip"
        for media in ("text/csv", "application/json", "text/html"):
            response, raw = get_raw(client, f"/typed?media={media}", "gzip")
            assert raw == TEXT, media
            assert "content-encoding" not in response.headers


def test_a_response_with_content_encoding_is_passed_through(client: TestClient) -> None:
    for coding in ("identity", "gzip"):
        response, raw = get_raw(client, f"/headers?Content-Encoding={coding}", "gzip, br")
        assert raw == TEXT
        assert response.headers["content-encoding"] == coding
        assert "vary" not in response.headers


def test_no_transform_is_respected(client: TestClient) -> None:
    response, raw = get_raw(client, "/headers?Cache-Control=public, No-Transform", "gzip")
    assert raw == TEXT
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


def test_head_is_not_compressed_but_varies(client: TestClient) -> None:
    response, raw = get_raw(client, "/text", "gzip", method="HEAD")
    assert raw == b""
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(TEXT))


def test_not_modified_keeps_its_etag_and_varies(client: TestClient) -> None:
    response, raw = get_raw(client, "/not-modified", "gzip")
    assert response.status_code == 304
    assert raw == b""
    assert response.headers["etag"] == '"v1"'
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers


def test_strong_etags_are_weakened_when_compressed(client: TestClient) -> None:
    response, _ = get_raw(client, '/headers?ETag="abc"', "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["etag"] == 'W/"abc"'
    response, _ = get_raw(client, '/headers?ETag=W/"abc"', "gzip")
    assert response.headers["etag"] == 'W/"abc"'
    response, _ = get_raw(client, '/headers?ETag="abc"', "identity")
    assert response.headers["etag"] == '"abc"'


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        (["Cookie"], ["Cookie, Accept-Encoding"]),
        (["Cookie", "Origin"], ["Cookie, Accept-Encoding", "Origin"]),
        (["Origin, accept-encoding"], ["Origin, accept-encoding"]),
        (["Origin", "Accept-Encoding"], ["Origin", "Accept-Encoding"]),
        (["*"], ["*"]),
    ],
)
def test_vary_is_merged(client: TestClient, vary: list[str], expected: list[str]) -> None:
    query = "&".join(f"Vary={value}" for value in vary)
    response, raw = get_raw(client, f"/headers?{query}", "gzip")
    assert response.headers.get_list("vary") == expected
    assert zlib.decompress(raw, 31) == TEXT


def test_a_streamed_body_is_compressed_without_content_length(client: TestClient) -> None:
    response, raw = get_raw(client, "/stream", "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert "content-length" not in response.headers
    assert zlib.decompress(raw, 31) == TEXT[:500]


def test_files_are_compressed_and_ranges_are_not(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    content = TEXT * 100  # 270 kB: several 64 KiB messages
    path.write_bytes(content)
    # A bare response as the app: no lifespan, so no `with`.
    client = TestClient(GZipMiddleware(FileResponse(path, headers={"ETag": '"file"'})))
    try:
        response, raw = get_raw(client, "/", "br")
        assert response.headers["content-encoding"] == "br"
        assert "content-length" not in response.headers
        assert "accept-ranges" not in response.headers  # ranges would be of the other body
        assert response.headers["etag"] == 'W/"file"'
        assert brotli.decompress(raw) == content
        ranged = client.get("/", headers={"Accept-Encoding": "br", "Range": "bytes=0-999"})
        assert ranged.status_code == 206
        assert "content-encoding" not in ranged.headers
        assert ranged.content == content[:1000]
        assert ranged.headers["vary"] == "Accept-Encoding"
    finally:
        client.close()


def run_asgi(app: Any, accept: bytes, method: str = "GET") -> list[Message]:
    """Call `app` once and return every message it sent, as it sent them."""
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.sleep(0.5)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/", "headers": [(b"accept-encoding", accept)]}
    asyncio.run(app(scope, receive, send))
    return sent


def chunked_app(chunks: list[bytes], media: bytes = b"text/plain") -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", media)]})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_every_streamed_message_is_flushed_and_decodable_on_arrival(coding: str) -> None:
    chunks = [b"data: first event\n\n", b"", b"data: second event\n\n", TEXT]
    sent = run_asgi(GZipMiddleware(chunked_app(chunks)), coding.encode())
    start, *bodies = sent
    headers = dict(start["headers"])
    assert headers[b"content-encoding"] == coding.encode()
    assert b"content-length" not in headers
    decoder = Incremental(coding)
    # The empty chunk sends nothing; each other one is decodable as soon as it is sent.
    assert [decoder.feed(body["body"]) for body in bodies[:-1]] == [chunks[0], chunks[2], TEXT]
    assert all(body["more_body"] for body in bodies[:-1])
    assert bodies[-1].get("more_body", False) is False
    assert decoder.feed(bodies[-1]["body"]) == b""
    assert decompress(coding, b"".join(body["body"] for body in bodies)) == b"".join(chunks)


def test_an_event_stream_starts_before_its_first_event() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        events = EventSourceResponse(slow_events(seen), ping=None)
        await events(scope, receive, send)

    async def slow_events(log: list[str]) -> AsyncIterator[ServerSentEvent]:
        log.append("generator started")
        yield ServerSentEvent("one")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        seen.append(message["type"])
        sent.append(message)

    async def receive() -> Message:
        await asyncio.sleep(1)
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", b"gzip")]}
    asyncio.run(GZipMiddleware(app)(scope, receive, send))
    assert seen[:2] == ["http.response.start", "generator started"]
    assert dict(sent[0]["headers"])[b"content-encoding"] == b"gzip"
    assert zlib.decompressobj(31).decompress(sent[1]["body"]) == b"data: one\n\n"


def test_a_known_small_length_is_sent_at_once_even_when_streamed() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"01234", "more_body": True})
        await send({"type": "http.response.body", "body": b"56789"})

    sent = run_asgi(GZipMiddleware(app), b"gzip")
    assert [m.get("body") for m in sent] == [None, b"01234", b"56789"]
    assert dict(sent[0]["headers"]) == {b"content-length": b"10", b"vary": b"Accept-Encoding"}


def test_a_known_small_length_goes_out_before_the_body_is_produced() -> None:
    started_before_body: list[int] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"19"), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        started_before_body.append(len(sent))
        await send({"type": "http.response.body", "body": b'{"message":"hello"}'})

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "headers": [(b"accept-encoding", b"gzip, deflate, br, zstd")]}
    asyncio.run(GZipMiddleware(app)(scope, receive, send))
    assert started_before_body == [1]
    assert sent[0]["headers"] == [
        (b"content-length", b"19"),
        (b"content-type", b"application/json"),
        (b"vary", b"Accept-Encoding"),
    ]
    assert sent[1] == {"type": "http.response.body", "body": b'{"message":"hello"}'}


@pytest.mark.parametrize(
    ("minimum_size", "length", "compressed"),
    [
        (500, b"499", False),
        (500, b"500", True),
        (500, b"0499", False),  # a leading zero is still a number
        (10_000, b"9999", False),  # past the sizes kept in a set
        (10_000, b"10000", True),
        (0, b"0", True),
    ],
)
def test_content_length_against_the_minimum_size(minimum_size: int, length: bytes, compressed: bool) -> None:
    size = int(length)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", length), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Streamed: only the Content-Length tells the middleware the body is small.
        await send({"type": "http.response.body", "body": b"a" * (size // 2), "more_body": True})
        await send({"type": "http.response.body", "body": b"a" * (size - size // 2)})

    sent = run_asgi(GZipMiddleware(app, minimum_size=minimum_size), b"gzip")
    headers = dict(sent[0]["headers"])
    assert (b"content-encoding" in headers) is compressed
    body = b"".join(message["body"] for message in sent[1:])
    assert (zlib.decompress(body, 31) if compressed else body) == b"a" * size


def test_headers_may_be_any_iterable() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = ((name, value) for name, value in [(b"content-type", b"text/plain"), (b"etag", b'"x"')])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": TEXT})

    sent = run_asgi(GZipMiddleware(app), b"gzip")
    assert sent[0]["headers"] == [
        (b"content-type", b"text/plain"),
        (b"etag", b'W/"x"'),
        (b"vary", b"Accept-Encoding"),
        (b"content-encoding", b"gzip"),
        (b"content-length", str(len(sent[1]["body"])).encode()),
    ]
    assert zlib.decompress(sent[1]["body"], 31) == TEXT


def test_other_messages_release_a_held_start() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": "/tmp/x"})

    sent = run_asgi(GZipMiddleware(app), b"gzip")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[0]["headers"] == [(b"vary", b"Accept-Encoding")]


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    asyncio.run(GZipMiddleware(app)({"type": "websocket"}, None, None))  # type: ignore[arg-type]
    assert seen == ["websocket"]


def test_optional_codings_are_offered_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert GZipMiddleware(chunked_app([])).encodings == ("br", "zstd", "gzip")
    assert GZipMiddleware(chunked_app([]), brotli_quality=None).encodings == ("zstd", "gzip")
    assert GZipMiddleware(chunked_app([]), zstd_level=None, brotli_quality=None).encodings == ("gzip",)
    monkeypatch.setitem(sys.modules, "brotli", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "zstandard", None)
    middleware = GZipMiddleware(chunked_app([TEXT]))
    assert middleware.encodings == ("gzip",)
    sent = run_asgi(middleware, b"br, zstd, gzip;q=0.1")
    assert dict(sent[0]["headers"])[b"content-encoding"] == b"gzip"


@pytest.mark.parametrize(
    "options",
    [
        {"minimum_size": -1},
        {"minimum_size": True},
        {"compresslevel": 0},
        {"compresslevel": 10},
        {"brotli_quality": 12},
        {"zstd_level": 0},
        {"zstd_level": 23},
        {"zstd_level": 2.5},
    ],
)
def test_invalid_settings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        GZipMiddleware(chunked_app([]), **options)


def test_it_runs_late_in_the_stack() -> None:
    assert GZipMiddleware.layer == 900


# -- a real server: a stream reaches the client event by event ------------------------------------

FLAGS = os.environ.get("LANNER_TEST_GZIP_FLAGS", "")
server_app = Lanner()


@server_app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@server_app.get("/events")
async def events(flag: str) -> EventSourceResponse:
    async def generate() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent("first", event="tick", id=1)
        # The second event waits until the client, having decoded the first, creates the flag.
        deadline = time.monotonic() + 10
        while not Path(FLAGS, flag).exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        yield ServerSentEvent("second", event="tick", id=2)

    return EventSourceResponse(generate(), ping=None)


server_app.add_middleware(GZipMiddleware)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    flags = tmp_path_factory.mktemp("flags")
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "tests.test_middleware_compression:server_app"]
    env = {**os.environ, "LANNER_TEST_GZIP_FLAGS": str(flags)}
    running = Server([*args, "--host", "127.0.0.1", "--port", str(port)], port, env)
    try:
        running.wait_ready("/health")
        yield running, flags
    finally:
        running.stop()


@pytest.mark.slow
@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_server_sent_events_arrive_compressed_one_by_one(server: tuple[Server, Path], coding: str) -> None:
    running, flags = server
    flag = flags / f"go-{coding}"
    decoder = Incremental(coding)
    with (
        httpx.Client(timeout=httpx.Timeout(5.0, read=3.0)) as client,
        client.stream(
            "GET", f"{running.url}/events?flag={flag.name}", headers={"Accept-Encoding": coding}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-encoding"] == coding
        assert response.headers["vary"] == "Accept-Encoding"
        started = time.monotonic()
        text = b""
        raw = response.iter_raw()
        while b"\n\n" not in text:  # a read timeout (3 s) fails the test if the event is held back
            text += decoder.feed(next(raw))
        first_after = time.monotonic() - started
        assert not flag.exists()  # the generator cannot have yielded its second event yet
        assert text == b"event: tick\nid: 1\ndata: first\n\n"
        flag.touch()
        for chunk in raw:
            text += decoder.feed(chunk)
    assert text.endswith(b"event: tick\nid: 2\ndata: second\n\n")
    assert first_after < 2.0
