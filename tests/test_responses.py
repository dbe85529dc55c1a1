from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import formatdate, parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core
import pytest

from lanner import _files
from lanner.datastructures import Headers
from lanner.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    text_content_type,
)
from lanner.types import ASGIApp, Message, Receive

WAIT = 10


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def never_receive() -> Message:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def call(
    app: ASGIApp,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    receive: Receive = never_receive,
) -> list[Message]:
    scope = {
        "type": "http",
        "method": method,
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def start_of(messages: list[Message]) -> tuple[int, list[tuple[bytes, bytes]]]:
    assert messages[0]["type"] == "http.response.start"
    return messages[0]["status"], messages[0]["headers"]


def header(messages: list[Message], name: str) -> str | None:
    return Headers(start_of(messages)[1]).get(name)


def body_of(messages: list[Message]) -> bytes:
    chunks = messages[1:]
    assert all(m["type"] == "http.response.body" for m in chunks)
    assert all(m.get("more_body", False) for m in chunks[:-1])
    assert not chunks[-1].get("more_body", False)
    return b"".join(m.get("body", b"") for m in chunks)


# --- Response ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_response_sends_exact_messages() -> None:
    messages = await call(Response(b"hello", media_type="application/octet-stream"))
    assert messages == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", b"5"),
                (b"content-type", b"application/octet-stream"),
            ],
        },
        {"type": "http.response.body", "body": b"hello"},
    ]


def test_response_renders_str_none_and_bytes_like() -> None:
    assert Response("héllo").body == "héllo".encode()
    assert Response().body == b""
    assert Response().raw_headers == [(b"content-length", b"0")]
    assert Response(bytearray(b"ab")).body == b"ab"  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes or str"):
        Response({"a": 1})  # type: ignore[arg-type]


def test_text_media_types_get_a_charset_others_do_not() -> None:
    assert PlainTextResponse("x").headers["content-type"] == "text/plain; charset=utf-8"
    assert HTMLResponse("x").headers["content-type"] == "text/html; charset=utf-8"
    assert JSONResponse(1).headers["content-type"] == "application/json"
    explicit = Response("x", media_type="text/csv; charset=latin-1")
    assert explicit.headers["content-type"] == "text/csv; charset=latin-1"
    assert Response("x").raw_headers == [(b"content-length", b"1")]


def test_given_headers_are_lowercased_and_win() -> None:
    response = PlainTextResponse(
        "abc", headers={"X-Trace": "1", "Content-Type": "text/x-custom", "Content-Length": "3"}
    )
    assert response.raw_headers == [
        (b"x-trace", b"1"),
        (b"content-type", b"text/x-custom"),
        (b"content-length", b"3"),
    ]


def test_multi_valued_headers_are_kept() -> None:
    source = Headers([(b"vary", b"accept"), (b"vary", b"cookie")])
    response = Response(b"", headers=source)
    assert response.headers.getlist("vary") == ["accept", "cookie"]


@pytest.mark.parametrize("status", [101, 204, 304])
def test_statuses_without_body_get_no_content_length(status: int) -> None:
    response = JSONResponse({"ignored": True}, status_code=status)
    assert response.body == b""
    assert "content-length" not in response.headers
    assert response.headers["content-type"] == "application/json"


@pytest.mark.anyio
async def test_head_keeps_content_length_but_sends_no_body() -> None:
    messages = await call(PlainTextResponse("hello"), method="HEAD")
    assert header(messages, "content-length") == "5"
    assert messages[1] == {"type": "http.response.body", "body": b""}


@pytest.mark.anyio
async def test_background_runs_after_the_body() -> None:
    events: list[str] = []

    async def background() -> None:
        events.append("background")

    async def send(message: Message) -> None:
        events.append(message["type"])

    scope = {"type": "http", "method": "GET", "headers": []}
    await Response(b"x", background=background)(scope, never_receive, send)
    assert events == ["http.response.start", "http.response.body", "background"]


def test_headers_property_edits_raw_headers_in_place() -> None:
    response = Response(b"x")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.append("vary", "a")
    assert (b"x-frame-options", b"DENY") in response.raw_headers
    del response.headers["content-length"]
    assert response.raw_headers == [(b"x-frame-options", b"DENY"), (b"vary", b"a")]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-evil": "a\r\nset-cookie: pwned=1"},
        {"x-evil": "a\nb"},
        {"x-evil": "a\x00"},
        {"bad name": "v"},
        {"bad:name": "v"},
        {"x-\r\nname": "v"},
    ],
)
def test_header_injection_is_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Response(b"", headers=headers)
    with pytest.raises(ValueError):
        StreamingResponse([], headers=headers)
    with pytest.raises(ValueError):
        FileResponse("x.txt", headers=headers)


@pytest.mark.parametrize("char", ["\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f"])
def test_control_characters_in_header_values_are_rejected(char: str) -> None:
    headers = {"x-Trace": f"a{char}b"}
    for build in (
        lambda: Response(b"", headers=headers),
        lambda: StreamingResponse([], headers=headers),
        lambda: FileResponse("x.txt", headers=headers),
        lambda: RedirectResponse("/", headers=headers),
    ):
        with pytest.raises(ValueError, match=r"'x-Trace'.*control characters"):
            build()


def test_tab_in_a_header_value_is_allowed() -> None:
    response = Response(b"", headers={"x-a": "a\tb"})
    assert (b"x-a", b"a\tb") in response.raw_headers


@pytest.mark.parametrize("media_type", ["text/plain\r\nx-evil: 1", "text/plain\x01", "image/png\x7f"])
def test_control_characters_in_media_type_are_rejected(media_type: str) -> None:
    with pytest.raises(ValueError, match="'content-type'"):
        Response(b"", media_type=media_type)
    with pytest.raises(ValueError, match="'content-type'"):
        StreamingResponse([], media_type=media_type)
    with pytest.raises(ValueError, match="'content-type'"):
        FileResponse("x.txt", media_type=media_type)


def test_control_characters_from_user_input_are_encoded_not_sent() -> None:
    assert RedirectResponse("/a\x01b\x7f\tc").headers["location"] == "/a%01b%7F%09c"
    disposition = FileResponse("x.txt", filename="a\x01\x7f.txt").headers["content-disposition"]
    assert disposition == "attachment; filename*=utf-8''a%01%7F.txt"
    response = Response(b"")
    response.set_cookie("k", "a\x01b\x7f")
    (set_cookie,) = cookies_of(response)
    assert set_cookie == 'k="a\\001b\\177"; Path=/; SameSite=Lax'
    with pytest.raises(ValueError, match="domain"):
        response.set_cookie("k", domain="a\x7fb")


def test_header_injection_through_the_headers_view_is_rejected() -> None:
    response = Response(b"")
    with pytest.raises(ValueError):
        response.headers["x-evil"] = "a\r\nb: c"


# --- JSON ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: int


class User(pydantic.BaseModel):
    name: str
    joined: datetime


def test_json_renders_rich_values_compactly() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    joined = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    response = JSONResponse(
        {"point": Point(1, 2), "user": User(name="ada", joined=joined), "id": ident, "n": None}
    )
    assert response.body == (
        b'{"point":{"x":1,"y":2},"user":{"name":"ada","joined":"2024-01-02T03:04:05Z"},'
        b'"id":"12345678-1234-5678-1234-567812345678","n":null}'
    )
    assert response.headers["content-length"] == str(len(response.body))
    assert JSONResponse(None).body == b"null"
    assert JSONResponse("é").body == '"é"'.encode()


def test_json_unserialisable_content_raises() -> None:
    with pytest.raises(pydantic_core.PydanticSerializationError):
        JSONResponse(object())


# --- cookies ------------------------------------------------------------------------------------


def cookies_of(response: Response) -> list[str]:
    return response.headers.getlist("set-cookie")


def test_set_cookie_defaults_and_multiple_headers() -> None:
    response = Response(b"")
    response.set_cookie("a", "1")
    response.set_cookie("b", "2", httponly=True, secure=True, samesite="Strict")
    assert cookies_of(response) == [
        "a=1; Path=/; SameSite=Lax",
        "b=2; Path=/; Secure; HttpOnly; SameSite=Strict",
    ]


def test_set_cookie_all_attributes() -> None:
    response = Response(b"")
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    response.set_cookie(
        "sid",
        "abc",
        max_age=60,
        expires=when,
        path="/app",
        domain="example.com",
        samesite="none",
        secure=True,
        partitioned=True,
    )
    assert cookies_of(response) == [
        "sid=abc; Max-Age=60; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/app; "
        "Domain=example.com; Secure; SameSite=None; Partitioned"
    ]


def test_set_cookie_expiry_forms() -> None:
    response = Response(b"")
    response.set_cookie("naive", expires=datetime(2030, 1, 2, 3, 4, 5), samesite=None, path=None)
    offset = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    response.set_cookie("aware", expires=offset, samesite=None, path=None)
    response.set_cookie("text", expires="Wed, 02 Jan 2030 03:04:05 GMT", samesite=None, path=None)
    response.set_cookie("seconds", expires=3600, samesite=None, path=None)
    naive, aware, text, seconds = cookies_of(response)
    assert naive == 'naive=""; Expires=Wed, 02 Jan 2030 03:04:05 GMT'
    assert aware == 'aware=""; Expires=Wed, 02 Jan 2030 04:04:05 GMT'
    assert text == 'text=""; Expires=Wed, 02 Jan 2030 03:04:05 GMT'
    expiry = parsedate_to_datetime(seconds.split("Expires=")[1])
    delta = expiry - datetime.now(UTC)
    assert timedelta(minutes=50) < delta <= timedelta(hours=1)


def test_cookie_values_needing_quotes_round_trip() -> None:
    response = Response(b"")
    value = 'a b;c,"d"\\é'
    response.set_cookie("v", value)
    (set_cookie,) = cookies_of(response)
    assert "\r" not in set_cookie and ";c" not in set_cookie
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(set_cookie)
    assert parsed["v"].value == value


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key": "bad key"}, "cookie name"),
        ({"key": "a;b"}, "cookie name"),
        ({"key": "k", "samesite": "sometimes"}, "samesite"),
        ({"key": "k", "domain": "x.com; HttpOnly"}, "domain"),
        ({"key": "k", "path": "/\r\nX: y"}, "path"),
        ({"key": "k", "expires": "never; x"}, "expires"),
        ({"key": "k", "value": "snowman ☃"}, "latin-1"),
    ],
)
def test_invalid_cookies_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    response = Response(b"")
    with pytest.raises(ValueError, match=match):
        response.set_cookie(**kwargs)
    assert "set-cookie" not in response.headers


def test_delete_cookie_expires_it_in_the_past() -> None:
    response = Response(b"")
    response.delete_cookie("sid", path="/app", domain="example.com", secure=True, httponly=True)
    assert cookies_of(response) == [
        'sid=""; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; '
        "Domain=example.com; Secure; HttpOnly; SameSite=Lax"
    ]


# --- redirect -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_redirect_defaults() -> None:
    messages = await call(RedirectResponse("/next?a=1&b=%20#top"))
    assert start_of(messages) == (
        307,
        [(b"content-length", b"0"), (b"location", b"/next?a=1&b=%20#top")],
    )
    assert body_of(messages) == b""


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("/café", "/caf%C3%A9"),
        ("/x\r\nSet-Cookie: a=b", "/x%0D%0ASet-Cookie:%20a=b"),
        ("/keep/:@!$&'()*+,;=[]~", "/keep/:@!$&'()*+,;=[]~"),
        ('/"quoted"<tag>', "/%22quoted%22%3Ctag%3E"),
    ],
)
def test_redirect_location_is_quoted(url: str, location: str) -> None:
    response = RedirectResponse(url, status_code=303, headers={"x-a": "1"})
    assert response.status_code == 303
    assert response.headers["location"] == location
    assert response.headers["x-a"] == "1"


# --- streaming ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_streaming_async_iterator_exact_messages() -> None:
    async def chunks() -> AsyncIterator[str | bytes]:
        yield "hé"
        yield b""
        yield b"llo"

    messages = await call(StreamingResponse(chunks(), media_type="text/plain"))
    assert messages == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        },
        {"type": "http.response.body", "body": "hé".encode(), "more_body": True},
        {"type": "http.response.body", "body": b"llo", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


@pytest.mark.anyio
async def test_streaming_an_async_iterable_without_aclose() -> None:
    class Countdown:
        """An async iterator that is not a generator: it has no aclose()."""

        def __init__(self) -> None:
            self.left = 2

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> bytes:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return str(self.left).encode()

    messages = await call(StreamingResponse(Countdown()))
    assert body_of(messages) == b"10"


@pytest.mark.anyio
async def test_streaming_sync_iterator_is_pulled_in_the_thread_pool() -> None:
    threads: list[str] = []

    def chunks() -> Iterator[bytes]:
        for part in (b"a", b"b"):
            threads.append(threading.current_thread().name)
            yield part

    response = StreamingResponse(chunks(), status_code=201, headers={"x-kind": "sync"})
    messages = await call(response)
    assert start_of(messages) == (201, [(b"x-kind", b"sync")])
    assert body_of(messages) == b"ab"
    assert len(messages) == 4
    assert threads and all(name != threading.current_thread().name for name in threads)


@pytest.mark.anyio
async def test_streaming_head_does_not_iterate() -> None:
    pulled = False

    def chunks() -> Iterator[bytes]:
        nonlocal pulled
        pulled = True
        yield b"x"

    events: list[str] = []

    async def background() -> None:
        events.append("done")

    messages = await call(StreamingResponse(chunks(), background=background), method="HEAD")
    assert messages[1:] == [{"type": "http.response.body", "body": b""}]
    assert not pulled
    assert events == ["done"]


@pytest.mark.anyio
async def test_streaming_errors_propagate_and_leak_no_task() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"
        raise RuntimeError("generator failed")

    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="generator failed"):
        await call(StreamingResponse(chunks()))
    assert asyncio.all_tasks() == before


@pytest.mark.anyio
async def test_disconnect_stops_an_endless_stream() -> None:
    closed = asyncio.Event()
    sent: list[Message] = []
    three_sent = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                await asyncio.sleep(0)
        finally:
            closed.set()

    async def receive() -> Message:
        await three_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if len(sent) == 4:
            three_sent.set()

    ran_background = asyncio.Event()

    async def background() -> None:
        ran_background.set()

    before = asyncio.all_tasks()
    scope = {"type": "http", "method": "GET", "headers": []}
    response = StreamingResponse(endless(), background=background)
    await asyncio.wait_for(response(scope, receive, send), WAIT)
    assert closed.is_set()
    assert ran_background.is_set()
    assert asyncio.all_tasks() == before
    assert all(m.get("more_body") for m in sent[1:])
    assert len(sent) >= 4


@pytest.mark.anyio
async def test_disconnect_after_request_body_messages_closes_a_sync_generator() -> None:
    finished = threading.Event()
    first_chunk = asyncio.Event()
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x"
        finally:
            finished.set()

    async def receive() -> Message:
        if incoming:
            return incoming.pop()
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message.get("body"):
            first_chunk.set()

    scope = {"type": "http", "method": "GET", "headers": []}
    await asyncio.wait_for(StreamingResponse(endless())(scope, receive, send), WAIT)
    assert await asyncio.to_thread(finished.wait, WAIT)


@pytest.mark.anyio
async def test_cancelling_the_response_cancels_its_tasks() -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        started.set()
        await asyncio.Event().wait()
        yield b"never"

    before = asyncio.all_tasks()
    task = asyncio.ensure_future(call(StreamingResponse(slow())))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == before


# --- files --------------------------------------------------------------------------------------


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"0123456789")
    mtime = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    return path


LAST_MODIFIED = "Mon, 06 May 2024 07:08:09 GMT"


def etag_of(path: Path) -> str:
    st = path.stat()
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


@pytest.mark.anyio
async def test_file_200_headers_and_body(text_file: Path) -> None:
    messages = await call(FileResponse(text_file))
    status, headers = start_of(messages)
    assert status == 200
    assert headers == [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"etag", etag_of(text_file).encode()),
        (b"last-modified", LAST_MODIFIED.encode()),
        (b"accept-ranges", b"bytes"),
        (b"content-length", b"10"),
    ]
    assert messages[1:] == [
        {"type": "http.response.body", "body": b"0123456789", "more_body": False}
    ]


@pytest.mark.anyio
async def test_file_is_sent_in_64k_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(150_000)
    path.write_bytes(data)
    messages = await call(FileResponse(path))
    assert header(messages, "content-type") == "application/octet-stream"
    assert [len(m["body"]) for m in messages[1:]] == [65536, 65536, 150_000 - 131072]
    assert body_of(messages) == data


@pytest.mark.anyio
async def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    messages = await call(FileResponse(path))
    assert header(messages, "content-type") == "application/json"
    assert header(messages, "content-length") == "0"
    assert messages[1:] == [{"type": "http.response.body", "body": b""}]
    assert start_of(await call(FileResponse(path), headers={"range": "bytes=0-"}))[0] == 416
    assert start_of(await call(FileResponse(path), headers={"range": "bytes=-5"}))[0] == 200


def test_file_media_type_guessing(text_file: Path) -> None:
    assert FileResponse(text_file, filename="report.csv").media_type == "text/csv"
    assert FileResponse("x.unknownext").media_type == "application/octet-stream"
    assert FileResponse(text_file, media_type="image/png").headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"filename": "report.txt"}, 'attachment; filename="report.txt"'),
        ({"filename": 'a "b"\\c.txt'}, 'attachment; filename="a \\"b\\"\\\\c.txt"'),
        (
            {"filename": "résumé €.txt", "content_disposition_type": "inline"},
            "inline; filename*=utf-8''r%C3%A9sum%C3%A9%20%E2%82%AC.txt",
        ),
        ({"filename": "evil\r\nx: y.txt"}, "attachment; filename*=utf-8''evil%0D%0Ax%3A%20y.txt"),
    ],
)
def test_content_disposition(text_file: Path, kwargs: dict[str, str], expected: str) -> None:
    response = FileResponse(text_file, **kwargs)  # type: ignore[arg-type]
    assert response.headers["content-disposition"] == expected


def test_content_disposition_type_must_be_a_token(text_file: Path) -> None:
    with pytest.raises(ValueError, match="disposition"):
        FileResponse(text_file, filename="a.txt", content_disposition_type="inline; x=1")


@pytest.mark.anyio
async def test_missing_file_raises_os_error_and_directory_runtime_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await call(FileResponse(tmp_path / "missing.txt"))
    with pytest.raises(FileNotFoundError):
        await call(FileResponse(tmp_path / "missing" / "deeper.txt"))
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        await call(FileResponse(tmp_path / "file" / "deeper.txt"))
    with pytest.raises(RuntimeError, match="not a regular file"):
        await call(FileResponse(tmp_path))


@pytest.mark.anyio
async def test_head_sends_all_headers_and_no_body(text_file: Path) -> None:
    messages = await call(FileResponse(text_file), method="HEAD")
    assert header(messages, "content-length") == "10"
    assert header(messages, "etag") == etag_of(text_file)
    assert messages[1:] == [{"type": "http.response.body", "body": b""}]


@pytest.mark.anyio
async def test_given_stat_result_is_used_for_the_headers(text_file: Path) -> None:
    stat_result = text_file.stat()
    os.utime(text_file, (0, 0))
    messages = await call(FileResponse(text_file, stat_result=stat_result), method="HEAD")
    assert start_of(messages)[0] == 200
    assert header(messages, "content-length") == "10"
    assert header(messages, "last-modified") == LAST_MODIFIED


@pytest.mark.anyio
async def test_given_stat_result_still_opens_the_file_before_sending(text_file: Path) -> None:
    stat_result = text_file.stat()
    text_file.unlink()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "HEAD", "headers": []}
    with pytest.raises(FileNotFoundError):
        await FileResponse(text_file, stat_result=stat_result)(scope, never_receive, send)
    assert sent == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "if_none_match",
    [
        "{etag}",
        "W/{etag}",
        '"other", {etag}',
        '"other,with,commas", W/{etag}',
        "*",
    ],
)
async def test_if_none_match_gives_304(text_file: Path, if_none_match: str) -> None:
    etag = etag_of(text_file)
    response = FileResponse(text_file, headers={"cache-control": "max-age=60"})
    messages = await call(response, headers={"if-none-match": if_none_match.format(etag=etag)})
    assert start_of(messages) == (
        304,
        [
            (b"cache-control", b"max-age=60"),
            (b"etag", etag.encode()),
            (b"last-modified", LAST_MODIFIED.encode()),
            (b"accept-ranges", b"bytes"),
        ],
    )
    assert messages[1:] == [{"type": "http.response.body", "body": b""}]


@pytest.mark.anyio
async def test_non_matching_if_none_match_wins_over_if_modified_since(text_file: Path) -> None:
    headers = {"if-none-match": '"nope"', "if-modified-since": "Tue, 01 Jan 2030 00:00:00 GMT"}
    messages = await call(FileResponse(text_file), headers=headers)
    assert start_of(messages)[0] == 200
    assert body_of(messages) == b"0123456789"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("since", "status"),
    [
        (LAST_MODIFIED, 304),
        ("Tue, 01 Jan 2030 00:00:00 GMT", 304),
        ("Mon, 06 May 2024 07:08:08 GMT", 200),
        # RFC 5322's "-0000" (no zone given) is read as UTC, like GMT.
        ("Mon, 06 May 2024 07:08:09 -0000", 304),
        ("Mon, 06 May 2024 07:08:08 -0000", 200),
        ("not a date", 200),
    ],
)
async def test_if_modified_since(text_file: Path, since: str, status: int) -> None:
    messages = await call(FileResponse(text_file), headers={"if-modified-since": since})
    assert start_of(messages)[0] == status


@pytest.mark.anyio
async def test_conditionals_and_ranges_only_apply_to_get_and_head_with_200(
    text_file: Path,
) -> None:
    headers = {"if-none-match": "*", "range": "bytes=0-1"}
    post = await call(FileResponse(text_file), method="POST", headers=headers)
    assert start_of(post)[0] == 200
    assert body_of(post) == b"0123456789"
    not_found = await call(FileResponse(text_file, status_code=404), headers=headers)
    assert start_of(not_found)[0] == 404
    assert body_of(not_found) == b"0123456789"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("range_header", "content_range", "body"),
    [
        ("bytes=0-4", "bytes 0-4/10", b"01234"),
        ("bytes=5-", "bytes 5-9/10", b"56789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=-30", "bytes 0-9/10", b"0123456789"),
        ("bytes=8-100", "bytes 8-9/10", b"89"),
        ("BYTES=3-3", "bytes 3-3/10", b"3"),
        ("bytes=2-4,", "bytes 2-4/10", b"234"),
    ],
)
async def test_single_range_gives_206(
    text_file: Path, range_header: str, content_range: str, body: bytes
) -> None:
    messages = await call(FileResponse(text_file), headers={"range": range_header})
    assert start_of(messages)[0] == 206
    assert header(messages, "content-range") == content_range
    assert header(messages, "content-length") == str(len(body))
    assert body_of(messages) == body


@pytest.mark.anyio
async def test_range_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(200_000)
    path.write_bytes(data)
    messages = await call(FileResponse(path), headers={"range": "bytes=60000-140000"})
    assert start_of(messages)[0] == 206
    assert [len(m["body"]) for m in messages[1:]] == [65536, 80001 - 65536]
    assert body_of(messages) == data[60000:140001]


@pytest.mark.anyio
async def test_head_with_range_sends_206_headers_only(text_file: Path) -> None:
    messages = await call(FileResponse(text_file), method="HEAD", headers={"range": "bytes=1-2"})
    assert start_of(messages)[0] == 206
    assert header(messages, "content-range") == "bytes 1-2/10"
    assert header(messages, "content-length") == "2"
    assert messages[1:] == [{"type": "http.response.body", "body": b""}]


@pytest.mark.anyio
@pytest.mark.parametrize("range_header", ["bytes=10-", "bytes=10-20", "bytes=-0"])
async def test_unsatisfiable_range_gives_416(text_file: Path, range_header: str) -> None:
    response = FileResponse(text_file, filename="a.txt", headers={"x-keep": "1"})
    messages = await call(response, headers={"range": range_header})
    status, headers = start_of(messages)
    assert status == 416
    assert Headers(headers).get("content-range") == "bytes */10"
    assert Headers(headers).get("content-length") == "0"
    assert Headers(headers).get("x-keep") == "1"
    assert "content-type" not in Headers(headers)
    assert body_of(messages) == b""


@pytest.mark.anyio
@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=abc",
        "bytes=5",
        "bytes=4-2",
        "bytes=-",
        "bytes= 1 - 2",
        "bytes=",
        "items=0-1",
        "0-1",
        "bytes=0-1,3-4",
        "bytes=\u0661-\u0662",  # non-ASCII digits
    ],
)
async def test_malformed_or_multiple_ranges_serve_the_whole_file(
    text_file: Path, range_header: str
) -> None:
    messages = await call(FileResponse(text_file), headers={"range": range_header})
    assert start_of(messages)[0] == 200
    assert header(messages, "content-range") is None
    assert body_of(messages) == b"0123456789"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("range_header", "status", "content_range", "body"),
    [
        # More than 18 digits is larger than any file: never handed to int().
        ("bytes=" + "9" * 19 + "-", 416, "bytes */10", b""),
        ("bytes=" + "9" * 1000 + "-", 416, "bytes */10", b""),
        ("bytes=" + "9" * 500 + "-" + "9" * 500, 416, "bytes */10", b""),
        ("bytes=999999999999999999-", 416, "bytes */10", b""),  # 18 digits: an ordinary number
        ("bytes=2-" + "9" * 1000, 206, "bytes 2-9/10", b"23456789"),
        ("bytes=-" + "9" * 1000, 206, "bytes 0-9/10", b"0123456789"),
        ("bytes=" + "0" * 900 + "3-" + "0" * 30 + "4", 206, "bytes 3-4/10", b"34"),  # leading zeros
        ("bytes=" + "9" * 1000 + "-5", 200, None, b"0123456789"),  # last < first: invalid
    ],
)
async def test_huge_range_positions(
    text_file: Path, range_header: str, status: int, content_range: str | None, body: bytes
) -> None:
    messages = await call(FileResponse(text_file), headers={"range": range_header})
    assert start_of(messages)[0] == status
    assert header(messages, "content-range") == content_range
    assert body_of(messages) == body


@pytest.mark.anyio
async def test_range_positions_over_18_digits_never_reach_int(
    text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[str] = []

    def spy(text: str) -> int:
        converted.append(text)
        return int(text)

    monkeypatch.setattr(_files, "int", spy, raising=False)
    for value in ("bytes=" + "7" * 900 + "-", "bytes=1-" + "7" * 900, "bytes=-" + "7" * 900):
        await call(FileResponse(text_file), headers={"range": value})
    assert converted == ["1"]


@pytest.mark.anyio
async def test_range_number_beyond_int_limit_is_not_a_500(text_file: Path) -> None:
    # int() refuses more than 4,300 digits with ValueError; the header is ignored instead.
    for value in ("bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000):
        messages = await call(FileResponse(text_file), headers={"range": value})
        assert start_of(messages)[0] == 200
        assert body_of(messages) == b"0123456789"


@pytest.mark.anyio
async def test_range_header_over_1024_characters_is_ignored(text_file: Path) -> None:
    padded = "bytes=1-2" + "," * 1015
    assert len(padded) == 1024
    messages = await call(FileResponse(text_file), headers={"range": padded})
    assert start_of(messages)[0] == 206
    messages = await call(FileResponse(text_file), headers={"range": padded + ","})
    assert start_of(messages)[0] == 200
    assert header(messages, "content-range") is None
    assert body_of(messages) == b"0123456789"


@pytest.mark.anyio
async def test_thousands_of_ranges_get_the_whole_file(text_file: Path) -> None:
    # CVE-2025-62727: many small ranges must not cost quadratic time; lanner sends the whole file.
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 20_000, 2))
    messages = await call(FileResponse(text_file), headers={"range": many})
    assert start_of(messages)[0] == 200
    assert body_of(messages) == b"0123456789"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "date",
    [
        "Mon, 06 May " + "9" * 5000 + " 07:08:09 GMT",
        "Mon, 06 May 2024 07:08:09 " + "9" * 5000,
        LAST_MODIFIED + " " + "x" * 64,
    ],
)
async def test_oversized_dates_in_preconditions_are_not_dates(text_file: Path, date: str) -> None:
    messages = await call(FileResponse(text_file), headers={"range": "bytes=0-1", "if-range": date})
    assert start_of(messages)[0] == 200
    assert body_of(messages) == b"0123456789"
    messages = await call(FileResponse(text_file), headers={"if-modified-since": date})
    assert start_of(messages)[0] == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        ("{etag}", 206),
        ('"other"', 200),
        ("W/{etag}", 200),
        (LAST_MODIFIED, 206),
        ("Mon, 06 May 2024 07:08:08 GMT", 200),
        ("garbage", 200),
    ],
)
async def test_if_range(text_file: Path, if_range: str, status: int) -> None:
    headers = {"range": "bytes=0-1", "if-range": if_range.format(etag=etag_of(text_file))}
    messages = await call(FileResponse(text_file), headers=headers)
    assert start_of(messages)[0] == status
    assert body_of(messages) == (b"01" if status == 206 else b"0123456789")


@pytest.mark.anyio
async def test_user_validators_are_kept_and_used(text_file: Path) -> None:
    response = FileResponse(
        text_file,
        headers={"etag": '"v1"', "content-length": "999", "accept-ranges": "none"},
    )
    messages = await call(response, headers={"if-none-match": '"v1"'})
    assert start_of(messages)[0] == 304
    messages = await call(response)
    headers = Headers(start_of(messages)[1])
    assert headers.getlist("etag") == ['"v1"']
    assert headers.getlist("content-length") == ["10"]
    assert headers.getlist("accept-ranges") == ["none"]
    assert headers["last-modified"] == LAST_MODIFIED


@pytest.mark.anyio
async def test_a_user_last_modified_is_kept_and_used(text_file: Path) -> None:
    given = "Wed, 01 Jan 2020 00:00:00 GMT"
    response = FileResponse(text_file, headers={"last-modified": given})
    messages = await call(response)
    headers = Headers(start_of(messages)[1])
    assert headers.getlist("last-modified") == [given]
    assert headers["etag"] == etag_of(text_file)
    # Compared with the given date, not the file's (2024).
    messages = await call(response, headers={"if-modified-since": "Thu, 02 Jan 2020 00:00:00 GMT"})
    assert start_of(messages)[0] == 304
    messages = await call(response, headers={"if-modified-since": LAST_MODIFIED.replace("2024", "2019")})
    assert start_of(messages)[0] == 200


def test_user_content_disposition_and_content_type_win(text_file: Path) -> None:
    response = FileResponse(
        text_file,
        filename="report.txt",
        headers={"content-disposition": "inline", "content-type": "text/csv; charset=latin-1"},
    )
    assert response.headers.getlist("content-disposition") == ["inline"]
    assert response.headers.getlist("content-type") == ["text/csv; charset=latin-1"]


@pytest.mark.anyio
async def test_file_background_runs_after_body(text_file: Path) -> None:
    done: list[int] = []

    async def background() -> None:
        done.append(1)

    await call(FileResponse(text_file, background=background))
    await call(FileResponse(text_file, background=background), headers={"if-none-match": "*"})
    assert done == [1, 1]


def test_last_modified_format_matches_formatdate(text_file: Path) -> None:
    assert formatdate(text_file.stat().st_mtime, usegmt=True) == LAST_MODIFIED


def test_text_content_type_is_known_only_for_plain_text_classes() -> None:
    class Latin(HTMLResponse):
        charset = "latin-1"

    class Custom(PlainTextResponse):
        def render(self, content: Any) -> bytes:
            return b"custom"

    assert text_content_type(PlainTextResponse) == (b"text/plain; charset=utf-8", "utf-8")
    assert text_content_type(Latin) == (b"text/html; charset=latin-1", "latin-1")
    assert text_content_type(JSONResponse) is None  # its own render()
    assert text_content_type(Custom) is None
    assert text_content_type(StreamingResponse) is None
    assert text_content_type(Response) is None  # no media type
