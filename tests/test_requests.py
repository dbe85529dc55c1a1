"""The Request object (lanner.requests), alone and inside an application."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from lanner import Body, HTTPException, Lanner, Request
from lanner.datastructures import Address
from lanner.exceptions import MalformedBodyError, MalformedQueryError
from lanner.requests import DEFAULT_MAX_BODY_SIZE, ClientDisconnect, parse_cookies
from lanner.testing import TestClient

from .asgi_driver import send_raw

Message = dict[str, Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_scope(
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "scheme": "http",
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": headers or [(b"host", b"example.org")],
        "server": ("example.org", 80),
    }
    scope.update(extra)
    return scope


class Receiver:
    """An ASGI receive callable delivering `messages` in order, counting the calls."""

    def __init__(self, *messages: Message) -> None:
        self.messages = list(messages)
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        if not self.messages:
            raise AssertionError("receive() called after the last message")
        return self.messages.pop(0)


def chunks(*parts: bytes) -> Receiver:
    return Receiver(
        *(
            {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
            for i, part in enumerate(parts)
        )
    )


def body_request(
    *parts: bytes, limit: int = DEFAULT_MAX_BODY_SIZE, headers: list[tuple[bytes, bytes]] | None = None
) -> Request:
    return Request(make_scope("POST", headers=headers), chunks(*parts), limit)


# -- connection properties -----------------------------------------------------------------------


def test_method_path_and_url() -> None:
    scope = make_scope("PATCH", "/items/5", b"a=1&b=x%20y")
    request = Request(scope)
    assert request.method == "PATCH"
    assert request.path == "/items/5"
    assert str(request.url) == "http://example.org/items/5?a=1&b=x%20y"
    assert request.url.path == "/items/5"
    assert request.url.query == "a=1&b=x%20y"


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/api/items/1", "/api", "/items/1"),
        ("/api", "/api", "/"),
        ("/api/", "/api/", "/"),
        ("/items/1", "/api", "/items/1"),
        ("/apis/items", "/api", "/apis/items"),
        ("/items", "", "/items"),
    ],
)
def test_path_is_relative_to_the_root_path(path: str, root_path: str, expected: str) -> None:
    request = Request(make_scope(path=path, root_path=root_path))
    assert request.path == expected
    assert request.url.path.endswith(expected if expected != "/" else "")


def test_url_includes_root_path_and_port() -> None:
    scope = make_scope(path="/x", root_path="/api", headers=[(b"host", b"h.test:8080")], scheme="https")
    assert str(Request(scope).url) == "https://h.test:8080/api/x"
    full = make_scope(path="/api/x", root_path="/api", headers=[(b"host", b"h.test")])
    assert str(Request(full).url) == "http://h.test/api/x"


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    scope = make_scope(
        headers=[
            (b"accept", b"text/html"),
            (b"x-tag", b"a"),
            (b"x-tag", b"b"),
            (b"content-type", b"application/json"),
        ]
    )
    headers = Request(scope).headers
    assert headers["Accept"] == headers["ACCEPT"] == "text/html"
    assert headers.getlist("X-Tag") == ["a", "b"]
    assert headers.get("x-missing") is None
    assert "Content-Type" in headers
    with pytest.raises(KeyError):
        headers["nope"]


def test_headers_are_parsed_once() -> None:
    request = Request(make_scope())
    assert request.headers is request.headers


def test_query_params_multi_dict() -> None:
    params = Request(make_scope(query=b"tag=a&tag=b&q=hello+world&empty=")).query_params
    assert params["tag"] == "b" or params["tag"] == "a"
    assert params.getlist("tag") == ["a", "b"]
    assert params["q"] == "hello world"
    assert params["empty"] == ""
    assert params.get("missing") is None
    assert Request(make_scope()).query_params.getlist("x") == []


def test_query_params_without_query_string_in_scope() -> None:
    scope = make_scope()
    del scope["query_string"]
    assert len(Request(scope).query_params) == 0


def test_path_params_default_to_empty() -> None:
    assert Request(make_scope()).path_params == {}
    assert Request(make_scope(path_params={"id": 3})).path_params == {"id": 3}


def test_cookies() -> None:
    header = b'session=abc123; theme="dark mode"; broken; =nameless; spaced = v '
    request = Request(make_scope(headers=[(b"cookie", header)]))
    assert request.cookies == {"session": "abc123", "theme": "dark mode", "spaced": "v"}
    assert request.cookies is request.cookies  # parsed once per request
    assert Request(make_scope()).cookies == {}


def test_cookies_over_several_header_lines_are_joined() -> None:
    headers = [(b"cookie", b"a=1; b=2"), (b"host", b"example.org"), (b"cookie", b"c=3; a=later")]
    assert Request(make_scope(headers=headers)).cookies == {"a": "1", "b": "2", "c": "3"}


def test_oversized_cookie_header_is_a_431() -> None:
    request = Request(make_scope(headers=[(b"cookie", b"a=" + b"x" * 65_535)]))
    with pytest.raises(HTTPException) as caught:
        _ = request.cookies
    assert caught.value.status_code == 431
    # The cap applies to all the lines together.
    split = [(b"cookie", b"a=" + b"x" * 40_000), (b"cookie", b"b=" + b"y" * 40_000)]
    with pytest.raises(HTTPException):
        _ = Request(make_scope(headers=split)).cookies


def test_query_params_with_invalid_utf8_are_a_400() -> None:
    assert Request(make_scope(query=b"q=caf\xc3\xa9")).query_params["q"] == "caf\u00e9"
    request = Request(make_scope(query=b"q=\xff"))
    with pytest.raises(MalformedQueryError) as caught:
        request.query_params.get("q")
    assert caught.value.status_code == 400


def test_parse_cookies_never_raises() -> None:
    assert parse_cookies("") == {}
    assert parse_cookies(";;;") == {}
    assert parse_cookies('a="\\"quoted\\""') == {"a": '"quoted"'}
    assert parse_cookies('a="\\x"; b=2') == {"a": "x", "b": "2"}
    assert parse_cookies("a=1; a=2") == {"a": "1"}
    assert parse_cookies("k=v=w") == {"k": "v=w"}


def test_client_address() -> None:
    request = Request(make_scope(client=("10.0.0.7", 5123)))
    assert request.client == Address("10.0.0.7", 5123)
    assert request.client.host == "10.0.0.7" and request.client.port == 5123
    assert Request(make_scope()).client is None
    assert Request(make_scope(client=None)).client is None


def test_state_is_seeded_from_the_scope_and_private_to_the_request() -> None:
    shared: dict[str, Any] = {"db": object()}
    scope = make_scope(state=shared)
    first, second = Request(scope), Request(scope)
    assert first.state.db is shared["db"]
    first.state.user = "ann"
    assert first.state.user == "ann"
    assert "user" not in shared
    with pytest.raises(AttributeError):
        second.state.user  # noqa: B018
    assert first.state is first.state
    assert not hasattr(Request(make_scope()).state, "db")


def test_app_and_url_for() -> None:
    class App:
        debug = False

        def url_path_for(self, name: str, /, **params: Any) -> str:
            return f"/{name}/" + "/".join(f"{k}={v}" for k, v in sorted(params.items()))

    app = App()
    request = Request(make_scope(app=app, root_path="/mount"))
    assert request.app is app
    assert request.url_for("item", id=3) == "/mount/item/id=3"


# -- body ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_body_single_message_and_cached() -> None:
    receive = chunks(b'{"a": 1}')
    request = Request(make_scope("POST"), receive)
    body = await request.body()
    assert body == b'{"a": 1}'
    assert await request.body() is body
    assert receive.calls == 1


@pytest.mark.anyio
async def test_body_joins_several_messages() -> None:
    request = body_request(b"ab", b"", b"cd", b"e")
    assert await request.body() == b"abcde"
    assert await request.body() == b"abcde"


@pytest.mark.anyio
async def test_empty_body() -> None:
    assert await body_request(b"").body() == b""
    receive = Receiver({"type": "http.request"})
    assert await Request(make_scope("POST"), receive).body() == b""


@pytest.mark.anyio
async def test_stream_yields_chunks_as_delivered_skipping_empty_ones() -> None:
    request = body_request(b"one", b"", b"two", b"three")
    assert [chunk async for chunk in request.stream()] == [b"one", b"two", b"three"]


@pytest.mark.anyio
async def test_stream_after_body_replays_the_cached_body() -> None:
    request = body_request(b"ab", b"cd")
    await request.body()
    assert [chunk async for chunk in request.stream()] == [b"abcd"]
    assert [chunk async for chunk in request.stream()] == [b"abcd"]
    empty = body_request(b"")
    await empty.body()
    assert [chunk async for chunk in empty.stream()] == []


@pytest.mark.anyio
async def test_a_consumed_stream_cannot_be_read_again() -> None:
    request = body_request(b"ab", b"cd")
    assert [chunk async for chunk in request.stream()] == [b"ab", b"cd"]
    with pytest.raises(RuntimeError, match="already consumed"):
        [chunk async for chunk in request.stream()]
    with pytest.raises(RuntimeError, match="already consumed"):
        await request.body()


@pytest.mark.anyio
async def test_body_without_receive_channel() -> None:
    request = Request(make_scope("POST"))
    with pytest.raises(RuntimeError, match="no receive channel"):
        await request.body()


@pytest.mark.anyio
async def test_disconnect_while_reading_the_body() -> None:
    receive = Receiver(
        {"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"}
    )
    with pytest.raises(ClientDisconnect):
        await Request(make_scope("POST"), receive).body()
    early = Receiver({"type": "http.disconnect"})
    with pytest.raises(ClientDisconnect):
        await Request(make_scope("POST"), early).body()


@pytest.mark.anyio
async def test_body_at_the_limit_is_accepted() -> None:
    assert await body_request(b"x" * 10, limit=10).body() == b"x" * 10
    assert await body_request(b"x" * 5, b"y" * 5, limit=10).body() == b"x" * 5 + b"y" * 5


@pytest.mark.anyio
async def test_declared_content_length_over_the_limit_is_refused_before_reading() -> None:
    receive = chunks(b"x" * 11)
    request = Request(make_scope("POST", headers=[(b"content-length", b"11")]), receive, 10)
    with pytest.raises(HTTPException) as caught:
        await request.body()
    assert caught.value.status_code == 413
    assert receive.calls == 0


@pytest.mark.anyio
@pytest.mark.parametrize("parts", [(b"x" * 11,), (b"x" * 6, b"x" * 5), (b"x" * 4,) * 3])
async def test_body_over_the_limit_without_content_length(parts: tuple[bytes, ...]) -> None:
    with pytest.raises(HTTPException) as caught:
        await body_request(*parts, limit=10).body()
    assert caught.value.status_code == 413
    assert "10 bytes" in str(caught.value.detail)


@pytest.mark.anyio
async def test_a_lying_content_length_does_not_bypass_the_limit() -> None:
    headers = [(b"content-length", b"3")]
    for parts in [(b"x" * 11,), (b"x" * 6, b"x" * 6)]:
        with pytest.raises(HTTPException) as caught:
            await body_request(*parts, limit=10, headers=headers).body()
        assert caught.value.status_code == 413


@pytest.mark.anyio
async def test_stream_enforces_the_limit_too() -> None:
    request = body_request(b"x" * 6, b"x" * 6, limit=10)
    received = []
    with pytest.raises(HTTPException) as caught:
        async for chunk in request.stream():
            received.append(chunk)
    assert caught.value.status_code == 413
    assert received == [b"x" * 6]
    declared = body_request(b"x", limit=10, headers=[(b"content-length", b"99")])
    with pytest.raises(HTTPException):
        [chunk async for chunk in declared.stream()]


@pytest.mark.anyio
@pytest.mark.parametrize("value", [b"9" * 5000, b"1" + b"0" * 4400, b"11", b"000000000000000000011"])
async def test_a_content_length_over_the_limit_is_a_413_however_many_digits(value: bytes) -> None:
    request = body_request(b"x", limit=10, headers=[(b"content-length", value)])
    with pytest.raises(HTTPException) as caught:
        await request.body()
    assert caught.value.status_code == 413


@pytest.mark.anyio
async def test_a_content_length_with_leading_zeros_is_its_value() -> None:
    headers = [(b"content-length", b"0" * 5000 + b"1")]
    assert await body_request(b"x", limit=10, headers=headers).body() == b"x"


@pytest.mark.anyio
@pytest.mark.parametrize("value", [b"ten", b"-1", b"+1", b"1_0", b"1.0", b"", "\u00b2".encode("latin-1")])
async def test_invalid_content_length_is_a_400(value: bytes) -> None:
    request = body_request(b"x", headers=[(b"content-length", value)])
    with pytest.raises(HTTPException) as caught:
        await request.body()
    assert caught.value.status_code == 400


# -- json ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_json_parses_the_body() -> None:
    request = body_request(b'{"a": [1, 2.5, "x", null, true]}')
    assert await request.json() == {"a": [1, 2.5, "x", None, True]}
    assert await request.body() == b'{"a": [1, 2.5, "x", null, true]}'


@pytest.mark.anyio
@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"{'a': 1}",
        b"[1, 2",
        b"\xff\xfe",
        b"NaN",
        b'{"x": Infinity}',
        b"-Infinity",
        b"[" * 5000 + b"]" * 5000,
        b"9" * 5000,
    ],
)
async def test_malformed_or_hostile_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(MalformedBodyError) as caught:
        await body_request(raw).json()
    assert caught.value.status_code == 400
    assert str(caught.value.detail).startswith("Malformed JSON")


@pytest.mark.anyio
async def test_json_body_over_the_limit_is_a_413_not_a_400() -> None:
    with pytest.raises(HTTPException) as caught:
        await body_request(b'{"a": "' + b"x" * 20 + b'"}', limit=10).json()
    assert caught.value.status_code == 413


# -- inside an application -----------------------------------------------------------------------


@pytest.fixture
def app() -> Lanner:
    app = Lanner(max_body_size=32)

    @app.get("/inspect/{item_id:int}", name="inspect")
    async def inspect_request(item_id: int, request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "method": request.method,
            "url": str(request.url),
            "path": request.path,
            "tags": request.headers.getlist("x-tag"),
            "agent": request.headers["X-AGENT"],
            "q": request.query_params.getlist("q"),
            "path_params": request.path_params,
            "cookies": request.cookies,
            "client": [client.host, client.port] if client else None,
            "same_app": request.app is app,
            "self_url": request.url_for("inspect", item_id=item_id + 1),
        }

    @app.post("/read")
    async def read(request: Request) -> dict[str, Any]:
        first = await request.body()
        second = await request.body()
        parsed = await request.json()
        streamed = [chunk async for chunk in request.stream()]
        return {"same": first is second, "json": parsed, "streamed": len(streamed)}

    @app.post("/json")
    async def parse_json(request: Request) -> Any:
        return {"got": await request.json()}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, Any]:
        return {"chunks": [chunk.decode() async for chunk in request.stream()]}

    return app


def test_request_properties_through_the_app(app: Lanner) -> None:
    client = TestClient(app, client=("203.0.113.9", 4711), cookies={"sid": "s1"})
    response = client.get(
        "/inspect/41?q=a&q=b", headers=[("X-Tag", "one"), ("x-tag", "two"), ("x-agent", "probe")]
    )
    assert response.json() == {
        "method": "GET",
        "url": "http://testserver/inspect/41?q=a&q=b",
        "path": "/inspect/41",
        "tags": ["one", "two"],
        "agent": "probe",
        "q": ["a", "b"],
        "path_params": {"item_id": 41},
        "cookies": {"sid": "s1"},
        "client": ["203.0.113.9", 4711],
        "same_app": True,
        "self_url": "/inspect/42",
    }


def test_url_for_in_a_mounted_app_keeps_the_mount_prefix(app: Lanner) -> None:
    outer = Lanner()
    outer.mount("/api", app)
    response = TestClient(outer).get("/api/inspect/1", headers={"x-agent": "a"})
    body = response.json()
    assert body["self_url"] == "/api/inspect/2"
    assert body["path"] == "/inspect/1"
    assert body["url"] == "http://testserver/api/inspect/1"


def test_body_is_cached_across_body_json_and_stream(app: Lanner) -> None:
    response = TestClient(app).post("/read", json={"k": [1, 2]})
    assert response.json() == {"same": True, "json": {"k": [1, 2]}, "streamed": 1}
    parts = TestClient(app).post("/read", content=iter([b'{"k":', b" 3}"]))
    assert parts.json() == {"same": True, "json": {"k": 3}, "streamed": 1}


def test_stream_in_a_handler_sees_the_chunks(app: Lanner) -> None:
    def body() -> Iterator[bytes]:
        yield b"ab"
        yield b"cd"
        yield b"ef"

    assert TestClient(app).post("/stream", content=body()).json() == {"chunks": ["ab", "cd", "ef"]}


def test_malformed_json_in_a_handler_is_a_400(app: Lanner) -> None:
    response = TestClient(app).post("/json", content=b'{"a": 1,,}')
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("Malformed JSON")


def test_request_behind_a_root_path(app: Lanner) -> None:
    client = TestClient(app, root_path="/proxy")
    body = client.get("/proxy/inspect/1", headers={"x-agent": "a"}).json()
    assert body["path"] == "/inspect/1"
    assert body["url"] == "http://testserver/proxy/inspect/1"
    assert body["self_url"] == "/proxy/inspect/2"


@pytest.mark.parametrize("path", ["/read", "/json", "/stream"])
def test_body_limit_with_content_length(app: Lanner, path: str) -> None:
    response = TestClient(app).post(path, content=b"x" * 33)
    assert response.status_code == 413
    assert response.json()["title"] == "Content Too Large"


@pytest.mark.parametrize("path", ["/read", "/json", "/stream"])
def test_body_limit_without_content_length(app: Lanner, path: str) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 10

    response = TestClient(app).post(path, content=body())
    assert response.request.headers.get("content-length") is None
    assert response.status_code == 413


def test_json_refuses_numbers_too_large_for_a_float() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/any")
    async def untyped(payload: Annotated[Any, Body()]) -> dict[str, Any]:
        return {"payload": payload}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, Any]:
        return {"payload": await request.json()}

    client = TestClient(app)
    for path in ("/any", "/raw"):
        # The last: a two-digit exponent on a 250-digit mantissa overflows too.
        long_mantissa = b"[" + b"1" * 250 + b"e99]"
        for body in (b"1e999", b"[-1e999]", b'{"a": 1E400}', b"1" + b"0" * 400 + b".5", long_mantissa):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 400, (path, body)
            assert "too large for a float" in response.json()["detail"]
        # Large but finite numbers, and the same text inside a string, are fine.
        ok = client.post(path, content=b'[1e300, "1e999", 123]', headers={"content-type": "application/json"})
        assert ok.json() == {"payload": [1e300, "1e999", 123]}


# -- is_disconnected, and a body streamed without buffering ---------------------------------------


class Connection:
    """A receive callable like a server's: the messages it holds come at once, then it waits."""

    def __init__(self, *messages: Message) -> None:
        self.ready = list(messages)
        self.arrived = asyncio.Event()
        self.calls = 0
        self.cancelled = 0

    async def __call__(self) -> Message:
        self.calls += 1
        try:
            while not self.ready:
                self.arrived.clear()
                await self.arrived.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return self.ready.pop(0)

    def deliver(self, message: Message) -> None:
        self.ready.append(message)
        self.arrived.set()


def part(body: bytes, more_body: bool = True) -> Message:
    return {"type": "http.request", "body": body, "more_body": more_body}


GONE: Message = {"type": "http.disconnect"}


@pytest.mark.anyio
async def test_is_disconnected_is_false_while_connected_then_true_after_the_disconnect() -> None:
    connection = Connection(part(b"ab", more_body=False))
    request = Request(make_scope("POST"), connection)
    assert await request.body() == b"ab"
    assert await request.is_disconnected() is False
    assert connection.cancelled == 1  # the check did not wait for the network
    connection.deliver(GONE)
    assert await request.is_disconnected() is True
    calls = connection.calls
    assert await request.is_disconnected() is True
    assert connection.calls == calls  # remembered, not asked again


@pytest.mark.anyio
async def test_is_disconnected_keeps_an_unread_body_for_stream_and_body() -> None:
    connection = Connection(part(b"ab"), part(b""), part(b"cd", more_body=False))
    request = Request(make_scope("POST"), connection)
    assert await request.is_disconnected() is False
    assert await request.is_disconnected() is False
    assert [chunk async for chunk in request.stream()] == [b"ab", b"cd"]

    connection = Connection(part(b"ab"))
    request = Request(make_scope("POST"), connection)
    assert await request.is_disconnected() is False
    connection.deliver(part(b"cd", more_body=False))
    assert await request.body() == b"abcd"


@pytest.mark.anyio
async def test_is_disconnected_sees_a_disconnect_behind_an_unread_body() -> None:
    request = Request(make_scope("POST"), Connection(part(b"ab"), GONE))
    assert await request.is_disconnected() is True
    received = []
    with pytest.raises(ClientDisconnect):
        async for chunk in request.stream():
            received.append(chunk)
    assert received == [b"ab"]


@pytest.mark.anyio
async def test_a_disconnect_met_while_reading_the_body_is_remembered() -> None:
    receive = Receiver(part(b"ab"), GONE)  # a third receive() would fail the test
    request = Request(make_scope("POST"), receive)
    with pytest.raises(ClientDisconnect):
        await request.body()
    assert await request.is_disconnected() is True
    assert receive.calls == 2


@pytest.mark.anyio
async def test_is_disconnected_without_a_receive_channel() -> None:
    assert await Request(make_scope()).is_disconnected() is False


class Flood:
    """A client that always has another message ready."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.calls = 0

    async def __call__(self) -> Message:
        self.calls += 1
        return dict(self.message)


@pytest.mark.anyio
async def test_is_disconnected_holds_no_more_unread_body_than_the_limit() -> None:
    flood = Flood(part(b"x" * 6))
    request = Request(make_scope("POST"), flood, max_body_size=10)
    assert await request.is_disconnected() is False
    assert await request.is_disconnected() is False
    assert flood.calls == 2  # 12 bytes held: over the limit, so it stopped taking more
    with pytest.raises(HTTPException) as caught:
        await request.body()
    assert caught.value.status_code == 413


@pytest.mark.anyio
async def test_is_disconnected_takes_a_bounded_number_of_messages_per_call() -> None:
    for message in (part(b""), {"type": "lanner.unknown"}):
        flood = Flood(message)
        request = Request(make_scope("POST"), flood)
        assert await request.is_disconnected() is False
        assert 0 < flood.calls <= 100
        # Nothing was kept: the body is still there for the taking.
        flood.message = part(b"end", more_body=False)
        assert await request.body() == b"end"


def test_is_disconnected_in_a_handler() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/check")
    async def check(request: Request) -> dict[str, Any]:
        gone = await request.is_disconnected()
        body = b"" if gone else await request.body()
        return {"gone": gone, "body": body.decode()}

    connected = send_raw(app, "POST", "/check", body=[b"ab", b"cd"])
    assert connected.json() == {"gone": False, "body": "abcd"}
    left = send_raw(app, "POST", "/check", body=[b"ab"], disconnect=True)
    assert left.json() == {"gone": True, "body": ""}


def test_stream_hands_over_each_chunk_before_the_next_is_received() -> None:
    app = Lanner(freeze_gc=False, max_body_size=2500)
    seen: list[int] = []

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        async for chunk in request.stream():
            seen.append(len(chunk))
        return {"chunks": len(seen)}

    asked: list[int] = []

    def body(count: int) -> Iterator[bytes]:
        for index in range(count):
            # send_raw takes one chunk ahead: by then the handler has had all but the last one sent.
            asked.append(len(seen))
            assert len(seen) >= index - 1
            yield bytes([65 + index]) * 500

    reply = send_raw(app, "POST", "/upload", body=body(5))
    assert reply.json() == {"chunks": 5}
    assert seen == [500] * 5
    assert asked == [0, 0, 1, 2, 3]

    # Over the limit mid-stream: 413 as soon as the running total passes it, the rest never read.
    seen.clear()
    reply = send_raw(app, "POST", "/upload", body=body(20))
    assert reply.status_code == 413
    assert seen == [500] * 5
    assert reply.chunks_read == 6


def test_url_for_puts_what_the_path_does_not_take_in_the_query_string_as_flask_does() -> None:
    from lanner.routing import NoMatchFound

    app = Lanner()
    app.static("/static", str(Path(__file__).parent))
    app.add_url_alias("home", "/")
    links: dict[str, str] = {}

    @app.get("/", name="index")
    def index(request: Request) -> None:
        links["page"] = request.url_for("index", page=2, q="a b", skip=None)
        links["tags"] = request.url_for("post", id=3, tag=["x", "y"], _anchor="c 1")
        links["external"] = request.url_for("post", id=1, _external=True)
        links["static"] = request.url_for("static", filename="a.css", v=1)
        links["alias"] = request.url_for("home", ref="nav")
        with pytest.raises(NoMatchFound):
            request.url_for("post", page=1)  # the path parameter is still required

    @app.get("/posts/{id:int}", name="post")
    def post(id: int) -> int:
        return id

    assert TestClient(app).get("/").status_code == 200
    assert links == {
        "page": "/?page=2&q=a+b",
        "tags": "/posts/3?tag=x&tag=y#c%201",
        "external": "http://testserver/posts/1",
        "static": "/static/a.css?v=1",
        "alias": "/?ref=nav",
    }
    with pytest.raises(NoMatchFound):
        app.url_path_for("post", id=1, page=2)  # app.url_path_for stays strict, as Starlette's
