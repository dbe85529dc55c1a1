"""A route's compiled endpoint (lanner.endpoint): arguments, bodies, rendering, cleanup.

Plain handlers take a direct path and handlers with hooks, dependencies or lanner objects take the
general one; the `mode` fixture runs the request-level tests in both.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

import pytest
from pydantic import BaseModel

from lanner import BackgroundTasks, Body, Cookie, Depends, HTTPException, Lanner, Request, Response
from lanner.di import build_dependency_plan
from lanner.endpoint import Endpoint, ErrorEndpoint, RedirectEndpoint, Runtime
from lanner.errors import ExceptionHandlers
from lanner.responses import HTMLResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from lanner.testing import TestClient

Message = dict[str, Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Exchange:
    """Raw ASGI plumbing: feeds body chunks, records what the endpoint sends."""

    def __init__(self, *chunks: bytes) -> None:
        parts = list(chunks) or [b""]
        self.incoming = [
            {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
            for i, part in enumerate(parts)
        ]
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.incoming:
            return self.incoming.pop(0)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


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
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": headers or [],
        "scheme": "http",
        "server": ("test", 80),
        "client": ("c", 1),
    }
    scope.update(extra)
    return scope


class Item(BaseModel):
    name: str
    price: float


# -- Endpoint used on its own --------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_endpoint_built_by_hand_serves_requests() -> None:
    async def handler(item_id: int, q: str = "none") -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    endpoint = Endpoint(
        build_dependency_plan(handler, {"item_id"}), Runtime(ExceptionHandlers()), status_code=201
    )
    assert endpoint.status_code == 201
    exchange = Exchange()
    await endpoint(make_scope(query=b"q=hi"), exchange.receive, exchange.send, {"item_id": "5"})
    assert exchange.status == 201
    assert exchange.body == b'{"item_id":5,"q":"hi"}'
    invalid = Exchange()
    await endpoint(make_scope(), invalid.receive, invalid.send, {"item_id": "five"})
    assert invalid.status == 422
    assert invalid.headers[b"content-type"] == b"application/problem+json"


@pytest.mark.anyio
async def test_an_endpoint_with_a_response_class() -> None:
    def page() -> str:
        return "<b>hi</b>"

    endpoint = Endpoint(
        build_dependency_plan(page), Runtime(ExceptionHandlers()), response_class=HTMLResponse
    )
    exchange = Exchange()
    await endpoint(make_scope(), exchange.receive, exchange.send, {})
    assert exchange.body == b"<b>hi</b>"
    assert exchange.headers[b"content-type"] == b"text/html; charset=utf-8"


class LatinText(PlainTextResponse):
    charset = "latin-1"


class ShoutingText(PlainTextResponse):
    def render(self, content: Any) -> bytes:
        return super().render(content.upper() if isinstance(content, str) else content)


class CSVResponse(Response):
    media_type = "text/csv; charset=ascii"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response_class", "result", "status_code"),
    [
        (PlainTextResponse, "plain ✓", 200),
        (HTMLResponse, "<p>é</p>", 201),
        (LatinText, "café", 200),
        (ShoutingText, "quiet", 200),  # its own render() must still run
        (CSVResponse, "a,b", 200),
        (PlainTextResponse, b"bytes", 200),
        (PlainTextResponse, "gone", 204),
        (Response, "no media type", 200),
    ],
)
async def test_text_results_are_sent_as_their_response_class_builds_them(
    response_class: type[Response], result: Any, status_code: int
) -> None:
    def page() -> Any:
        return result

    endpoint = Endpoint(
        build_dependency_plan(page),
        Runtime(ExceptionHandlers()),
        status_code=status_code,
        response_class=response_class,
    )
    exchange = Exchange()
    await endpoint(make_scope(), exchange.receive, exchange.send, {})
    expected = response_class(result, status_code=status_code)
    assert exchange.status == expected.status_code
    assert exchange.sent[0]["headers"] == expected.raw_headers
    assert exchange.body == expected.body


@pytest.mark.anyio
async def test_error_endpoint_answers_with_its_status_and_headers() -> None:
    endpoint = ErrorEndpoint(Runtime(ExceptionHandlers()), 405, {"Allow": "GET"})
    exchange = Exchange()
    await endpoint(make_scope("POST"), exchange.receive, exchange.send, {})
    assert exchange.status == 405
    assert exchange.headers[b"allow"] == b"GET"
    assert b'"title":"Method Not Allowed"' in exchange.body


@pytest.mark.anyio
async def test_redirect_endpoint_keeps_the_query_and_root_path() -> None:
    exchange = Exchange()
    await RedirectEndpoint("/items")(
        make_scope(path="/items/", query=b"a=1&b=%20", root_path="/api"), exchange.receive, exchange.send, {}
    )
    assert exchange.status == 308
    assert exchange.headers[b"location"] == b"/api/items?a=1&b=%20"


# -- request-level behaviour in both modes -------------------------------------------------------


@pytest.fixture(params=["direct", "general"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build_app(mode: str, **options: Any) -> Lanner:
    """An app whose plain routes take the direct path, unless `mode` adds a hook."""
    app = Lanner(max_body_size=100, **options)
    if mode == "general":

        @app.before_request
        def noop(request: Request) -> None:
            return None

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.post("/optional")
    async def optional(item: Item | None = None) -> dict[str, Any]:
        return {"item": item}

    @app.post("/embedded")
    def embedded(item: Item, count: int = Body(1, ge=1)) -> dict[str, Any]:
        return {"name": item.name, "count": count}

    @app.post("/large", max_body_size=100_000)
    async def large(item: Item) -> Item:
        return item

    @app.post("/small", max_body_size=10)
    async def small(item: Item) -> Item:
        return item

    @app.get("/params/{item_id:int}")
    def params(item_id: int, q: list[int] | None = None, x_tag: str | None = None) -> Any:
        return {"item_id": item_id, "q": q}

    @app.get("/nothing", status_code=204)
    async def nothing() -> None:
        return None

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("hidden")

    @app.get("/refuse")
    def refuse() -> None:
        raise HTTPException(409, "taken", headers={"X-Reason": "dup"})

    return app


def test_json_body_is_validated(mode: str) -> None:
    client = TestClient(build_app(mode))
    response = client.post("/items", json={"name": "pen", "price": "2.5", "extra": 1})
    assert response.json() == {"name": "pen", "price": 2.5}
    invalid = client.post("/items", json={"name": "pen", "price": "cheap"})
    assert invalid.status_code == 422
    assert [e["loc"] for e in invalid.json()["errors"]] == [["body", "price"]]


def test_body_with_a_json_suffix_type_is_accepted(mode: str) -> None:
    client = TestClient(build_app(mode))
    body = b'{"name": "a", "price": 1}'
    for headers in (
        {"content-type": "application/vnd.api+json"},
        {"content-type": "application/json; charset=utf-8"},
    ):
        assert client.post("/items", content=body, headers=headers).status_code == 200


def test_a_json_body_without_a_content_type_is_a_415_unless_strictness_is_off(mode: str) -> None:
    body = b'{"name": "a", "price": 1}'
    refused = TestClient(build_app(mode)).post("/items", content=body)
    assert refused.status_code == 415
    assert refused.json()["detail"] == "Expected a JSON body (application/json), got no Content-Type"

    lenient = Lanner(strict_content_type=False, freeze_gc=False)

    @lenient.post("/items")
    async def create(item: dict[str, Any]) -> dict[str, Any]:
        return item

    @lenient.post("/strict", strict_content_type=True)
    async def strict(item: dict[str, Any]) -> dict[str, Any]:
        return item

    client = TestClient(lenient)
    assert client.post("/items", content=body).json() == {"name": "a", "price": 1}
    assert client.post("/strict", content=body).status_code == 415

    per_route = Lanner(freeze_gc=False)

    @per_route.post("/webhook", strict_content_type=False)
    async def webhook(item: dict[str, Any]) -> dict[str, Any]:
        return item

    assert TestClient(per_route).post("/webhook", content=body).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]
)
def test_a_non_json_body_is_a_415(mode: str, content_type: str) -> None:
    response = TestClient(build_app(mode)).post(
        "/items", content=b'{"name": "a", "price": 1}', headers={"content-type": content_type}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"


def test_a_missing_body(mode: str) -> None:
    client = TestClient(build_app(mode))
    missing = client.post("/items")
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {"loc": ["body"], "msg": "Field required", "type": "missing", "input": None}
    ]
    assert client.post("/optional").json() == {"item": None}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"name": "a",', 400),
        (b"NaN", 400),
        (b'{"name": "a", "price": Infinity}', 400),
        (b'{"name": "a", "price": "NaN"}', 422),
        (b'{"name": "a", "price": 1e999}', 422),
        (b'{"name": "a", "price": 1, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
        (b'{"name": "a", "price": ' + b"9" * 5000 + b"}", 400),
    ],
)
def test_malformed_or_hostile_bodies_never_500(mode: str, raw: bytes, status: int) -> None:
    response = TestClient(build_app(mode, debug=False)).post(
        "/large", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_several_body_parameters_are_embedded(mode: str) -> None:
    client = TestClient(build_app(mode))
    response = client.post("/embedded", json={"item": {"name": "a", "price": 1}, "count": 3})
    assert response.json() == {"name": "a", "count": 3}
    invalid = client.post("/embedded", json={"item": {"name": "a", "price": 1}, "count": 0})
    assert [e["loc"] for e in invalid.json()["errors"]] == [["body", "count"]]


def test_body_limits_per_app_and_per_route(mode: str) -> None:
    client = TestClient(build_app(mode))
    item = {"name": "x" * 20, "price": 1}
    assert client.post("/items", json=item).status_code == 200
    assert client.post("/small", json=item).status_code == 413
    assert client.post("/items", json={"name": "x" * 200, "price": 1}).status_code == 413

    def chunked() -> Iterator[bytes]:
        yield b'{"name": "'
        yield b"x" * 200
        yield b'", "price": 1}'

    assert client.post("/items", content=chunked()).status_code == 413


@pytest.mark.anyio
async def test_a_lying_content_length_is_still_a_413(mode: str) -> None:
    app = build_app(mode)
    exchange = Exchange(b'{"name": "' + b"x" * 200 + b'", "price": 1}')
    await app(
        make_scope(
            "POST", "/items", headers=[(b"content-length", b"5"), (b"content-type", b"application/json")]
        ),
        exchange.receive,
        exchange.send,
    )
    assert exchange.status == 413


@pytest.mark.anyio
@pytest.mark.parametrize("value", [b"-1", b"abc", b"+2"])
async def test_an_invalid_content_length_is_a_400(mode: str, value: bytes) -> None:
    app = build_app(mode)
    exchange = Exchange(b"{}")
    await app(
        make_scope("POST", "/items", headers=[(b"content-length", value)]), exchange.receive, exchange.send
    )
    assert exchange.status == 400


def test_path_query_and_repeated_keys(mode: str) -> None:
    client = TestClient(build_app(mode))
    assert client.get("/params/3?q=1&q=2").json() == {"item_id": 3, "q": [1, 2]}
    assert client.get("/params/3").json() == {"item_id": 3, "q": None}
    invalid = client.get("/params/3?q=one")
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"][:2] == ["query", "q"]


def test_a_204_route_sends_no_body(mode: str) -> None:
    response = TestClient(build_app(mode)).get("/nothing")
    assert (response.status_code, response.content) == (204, b"")


def test_errors_in_either_mode(mode: str) -> None:
    client = TestClient(build_app(mode, debug=False), raise_server_exceptions=False)
    crash = client.get("/crash")
    assert crash.status_code == 500
    assert "hidden" not in crash.text
    refuse = client.get("/refuse")
    assert (refuse.status_code, refuse.headers["x-reason"]) == (409, "dup")


# -- the Response parameter ----------------------------------------------------------------------


def test_the_response_parameter_sets_headers_cookies_and_status() -> None:
    app = Lanner()

    @app.get("/default", status_code=201)
    async def default(response: Response) -> dict[str, str]:
        response.headers["x-trace"] = "t1"
        response.set_cookie("session", "abc", httponly=True)
        response.set_cookie("theme", "dark")
        return {"ok": "yes"}

    @app.get("/status")
    def status(response: Response) -> str:
        response.status_code = 202
        return "accepted"

    @app.get("/into-returned")
    async def into_returned(response: Response) -> Response:
        response.headers["x-extra"] = "1"
        response.delete_cookie("old")
        return PlainTextResponse("text", status_code=200, headers={"x-own": "2"})

    client = TestClient(app)
    first = client.get("/default")
    assert first.status_code == 201
    assert first.json() == {"ok": "yes"}
    assert first.headers["x-trace"] == "t1"
    cookies = first.headers.get_list("set-cookie")
    assert len(cookies) == 2
    assert any(c.startswith("session=abc") and "HttpOnly" in c for c in cookies)
    assert client.get("/status").status_code == 202
    merged = client.get("/into-returned")
    assert (merged.text, merged.headers["x-own"], merged.headers["x-extra"]) == ("text", "2", "1")
    assert merged.headers["set-cookie"].startswith("old=")


def test_the_response_parameter_is_shared_with_dependencies() -> None:
    app = Lanner()

    def stamp(response: Response) -> None:
        response.headers["x-from-dependency"] = "yes"

    @app.get("/", dependencies=[Depends(stamp)])
    async def index(response: Response) -> str:
        response.headers["x-from-handler"] = "yes"
        return "ok"

    headers = TestClient(app).get("/").headers
    assert headers["x-from-dependency"] == headers["x-from-handler"] == "yes"


# -- generator dependencies, cleanup and background work -----------------------------------------


def test_cleanup_runs_after_the_response_then_background_tasks() -> None:
    log: list[str] = []
    app = Lanner()

    async def resource() -> AsyncIterator[str]:
        log.append("open")
        yield "res"
        log.append("close")

    def sync_resource() -> Iterator[str]:
        log.append("open sync")
        yield "sync"
        log.append("close sync")

    @app.get("/")
    async def index(
        tasks: BackgroundTasks, a: str = Depends(resource), b: str = Depends(sync_resource)
    ) -> list[str]:
        tasks.add_task(log.append, "task")
        log.append("handler")
        return [a, b]

    assert TestClient(app).get("/").json() == ["res", "sync"]
    assert log == ["open", "open sync", "handler", "close sync", "close", "task"]


def test_a_generator_dependency_sees_the_handler_exception() -> None:
    seen: list[str] = []
    app = Lanner()

    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except HTTPException as exc:
            seen.append(f"rollback {exc.status_code}")
            raise
        else:
            seen.append("commit")

    @app.post("/fail")
    async def fail(tx: None = Depends(transaction)) -> None:
        raise HTTPException(400, "bad")

    @app.post("/ok")
    async def ok(tx: None = Depends(transaction)) -> str:
        return "done"

    client = TestClient(app)
    assert client.post("/fail").status_code == 400
    assert client.post("/ok").json() == "done"
    assert seen == ["rollback 400", "commit"]


def test_background_tasks_do_not_run_when_the_handler_fails() -> None:
    log: list[str] = []
    app = Lanner()

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> None:
        tasks.add_task(log.append, "task")
        raise HTTPException(409)

    assert TestClient(app).get("/").status_code == 409
    assert log == []


# -- slashes -------------------------------------------------------------------------------------


def test_redirect_slashes_both_ways_and_off() -> None:
    app = Lanner()

    @app.get("/items")
    async def items() -> str:
        return "items"

    @app.get("/dir/")
    async def directory() -> str:
        return "dir"

    client = TestClient(app, follow_redirects=False)
    to_plain = client.get("/items/?page=2")
    assert (to_plain.status_code, to_plain.headers["location"]) == (308, "/items?page=2")
    to_slash = client.get("/dir")
    assert (to_slash.status_code, to_slash.headers["location"]) == (308, "/dir/")
    assert client.get("/nothing/").status_code == 404

    strict = Lanner(redirect_slashes=False)
    strict.add_route("/items", items)
    assert TestClient(strict, follow_redirects=False).get("/items/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        b"",
        b"a",
        b"a=",
        b"=b",
        b"=",
        b"a=1&&b=2",
        b"a=1&a=2",
        b"a=b=c",
        b"&&",
        b"a=1&",
        b"a;b=1",
        b"x=%20y",
        b"x=a+b",
        b"%zz=1",
        b"caf%C3%A9=1",
        b"limit=5&q=abc",
    ],
)
def test_query_parameters_split_like_parse_qsl(query: bytes) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def echo(request: Request) -> list[list[str]]:
        return [list(pair) for pair in request.query_params.multi_items()]

    @app.get("/typed")
    async def typed(q: str | None = None, limit: int | None = None) -> dict[str, Any]:
        return {"q": q, "limit": limit}

    expected = parse_qsl(query.decode("utf-8"), keep_blank_values=True)
    client = TestClient(app)
    assert client.get("/?" + query.decode("latin-1")).json() == [list(pair) for pair in expected]


def test_query_parameters_and_query_params_decode_raw_bytes_alike() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/typed")
    async def typed(q: str, request: Request) -> list[str]:
        return [q, request.query_params["q"]]

    async def call(query: bytes) -> tuple[int, bytes]:
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/typed", "root_path": "", "headers": []}
        await app({**scope, "query_string": query}, receive, send)
        return sent[0]["status"], sent[1]["body"]

    import anyio

    assert anyio.run(call, b"q=caf\xc3\xa9") == (200, '["café","café"]'.encode())
    assert anyio.run(call, b"q=caf%C3%A9") == (200, '["café","café"]'.encode())
    for bad in (b"q=%ff", b"q=\xff", b"q=%c3"):
        status, body = anyio.run(call, bad)
        assert status == 400, bad
        assert b"not valid UTF-8" in body


def test_a_content_length_with_leading_zeros_is_read_as_its_value() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/direct")
    async def direct(payload: dict[str, int]) -> dict[str, int]:
        return payload

    response = TestClient(app).post(
        "/direct",
        content=b"{}",
        headers={"content-length": "0" * 40 + "2", "content-type": "application/json"},
    )
    assert (response.status_code, response.json()) == (200, {})


def test_a_content_length_of_thousands_of_digits_is_a_413_not_a_500() -> None:
    app = Lanner(freeze_gc=False)

    @app.post("/direct")
    async def direct(payload: dict[str, int]) -> dict[str, int]:
        return payload

    @app.post("/general")
    async def general(payload: dict[str, int], request: Request) -> dict[str, int]:
        return payload

    client = TestClient(app)
    for path in ("/direct", "/general"):
        response = client.post(path, content=b"{}", headers={"content-length": "9" * 5000})
        assert response.status_code == 413, path
        assert response.headers["content-type"] == "application/problem+json"


def test_cookies_split_over_several_header_lines_are_all_read() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/")
    async def read(
        a: Annotated[str, Cookie()], b: Annotated[str, Cookie()], c: Annotated[str | None, Cookie()] = None
    ) -> list[str | None]:
        return [a, b, c]

    client = TestClient(app)
    response = client.get("/", headers=[("cookie", "a=1"), ("cookie", "b=2; c=3")])
    assert response.json() == ["1", "2", "3"]
    assert client.get("/", headers={"cookie": "a=x; b=y"}).json() == ["x", "y", None]


@pytest.mark.parametrize(
    ("raw", "query", "location"),
    [
        ("/users/a?b/", b"", "/users/a%3Fb"),
        ("/users/a#b/", b"", "/users/a%23b"),
        ("/users/%41/", b"", "/users/%2541"),
        ("/users/x/", b"q=\xc3\xa9&r=%20", "/users/x?q=%C3%A9&r=%20"),
    ],
)
def test_a_slash_redirect_encodes_the_decoded_path_again(raw: str, query: bytes, location: str) -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/users/{name}")
    async def user(name: str) -> str:
        return name

    async def call() -> list[Any]:
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": raw, "root_path": "", "headers": []}
        await app({**scope, "query_string": query}, receive, send)
        return sent

    import anyio

    start = anyio.run(call)[0]
    assert start["status"] == 308
    assert dict(start["headers"])[b"location"].decode() == location


def test_a_failed_request_leaves_no_cycles_for_the_garbage_collector() -> None:
    import gc

    import anyio

    app = Lanner(freeze_gc=False)

    def resource() -> Iterator[int]:
        yield 1

    @app.get("/raise")
    async def fail(request: Request, value: int = Depends(resource)) -> None:
        raise HTTPException(404)

    @app.post("/too-big")
    async def upload(request: Request) -> int:
        return len(await request.body())

    async def one(method: str, path: str, body: bytes) -> int:
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b""}
        await app({**scope, "headers": []}, receive, send)
        return int(sent[0]["status"])

    async def many(method: str, path: str, body: bytes) -> int:
        return [await one(method, path, body) for _ in range(50)][-1]

    cases = (("GET", "/raise", b"", 404), ("POST", "/too-big", b"x" * (2 << 20), 413))
    for method, path, body, status in cases:
        anyio.run(many, method, path, body)
        gc.collect()
        gc.disable()
        try:
            assert anyio.run(many, method, path, body) == status
            assert gc.collect() == 0, path
        finally:
            gc.enable()


# -- handlers that yield stream their items ------------------------------------------------------


class _Streamed(BaseModel):
    name: str
    description: str | None = None


def test_a_handler_that_yields_streams_json_lines_through_its_item_model() -> None:
    closed: list[str] = []
    app = Lanner(freeze_gc=False)

    @app.get("/async")
    async def async_items() -> AsyncIterable[_Streamed]:
        try:
            yield _Streamed(name="Plumbus")
            yield {"name": "Portal Gun", "description": "A portal opening device.", "secret": 1}
        finally:
            closed.append("async")

    @app.get("/sync")
    def sync_items() -> Iterable[_Streamed]:
        yield _Streamed(name="Meeseeks Box")

    @app.get("/plain")
    async def plain() -> AsyncIterator[Any]:
        yield 1
        yield [2]

    client = TestClient(app)
    response = client.get("/async")
    assert response.headers["content-type"] == "application/jsonl"
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"name": "Plumbus", "description": None},
        {"name": "Portal Gun", "description": "A portal opening device."},
    ]
    assert closed == ["async"]
    assert client.get("/sync").text == '{"name":"Meeseeks Box","description":null}\n'
    assert client.get("/plain").text == "1\n[2]\n"


def test_a_yielding_handler_with_a_streaming_class_streams_raw_chunks() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/story", response_class=StreamingResponse)
    async def story() -> AsyncIterable[str]:
        for line in ("Rick: Morty!", "Morty: What?"):
            yield line

    @app.get("/image", response_class=StreamingResponse)
    def image() -> Iterable[bytes]:
        yield b"\x89PNG"

    client = TestClient(app)
    assert client.get("/story").text == "Rick: Morty!Morty: What?"
    assert client.get("/image").content == b"\x89PNG"


def test_a_redirect_class_redirects_to_the_returned_url() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/typer", response_class=RedirectResponse)
    async def typer() -> str:
        return "https://typer.tiangolo.com"

    @app.get("/pydantic", response_class=RedirectResponse, status_code=302)
    async def pydantic_docs() -> str:
        return "https://docs.pydantic.dev/"

    client = TestClient(app, follow_redirects=False)
    first = client.get("/typer")
    assert (first.status_code, first.headers["location"]) == (307, "https://typer.tiangolo.com")
    second = client.get("/pydantic")
    assert (second.status_code, second.headers["location"]) == (302, "https://docs.pydantic.dev/")


def test_a_response_returned_on_every_request_keeps_no_header_a_request_set() -> None:
    from lanner import Depends, Lanner
    from lanner.responses import PlainTextResponse
    from lanner.testing import TestClient

    shared = PlainTextResponse("OK")
    count = iter(range(100))

    def quota(response: Response) -> None:
        response.headers["X-Quota"] = str(next(count))

    app = Lanner()

    @app.get("/limited", dependencies=[Depends(quota)])
    async def limited() -> Response:
        return shared

    @app.get("/plain")
    async def plain() -> Response:
        return shared

    with TestClient(app) as client:
        assert client.get("/limited").headers["x-quota"] == "0"
        assert client.get("/limited").headers["x-quota"] == "1"
        assert "x-quota" not in client.get("/plain").headers
    assert all(name != b"x-quota" for name, _ in shared.raw_headers)
