"""The Lanner application (lanner.app): responses, response models, hooks, middleware, threads."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import threading
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from lanner import HTTPException, Lanner, Request, Response, Router
from lanner.concurrency import configure_default_pool, default_pool
from lanner.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    StreamingResponse,
)
from lanner.routing import NoMatchFound
from lanner.testing import TestClient
from lanner.types import Receive, Scope, Send

Message = dict[str, Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def restore_thread_pool() -> Iterator[None]:
    # The pool is process-wide and every Lanner(...) resizes it: leave it as other tests expect.
    yield
    configure_default_pool(40)


async def call_app(
    app: Any,
    method: str = "GET",
    path: str = "/",
    query: bytes = b"",
) -> tuple[int, bytes]:
    """Run one request with raw ASGI; return the status and the body."""
    sent: list[Message] = []
    pending = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if pending:
            return pending.pop()
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [],
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "state": {},
    }
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


class User(BaseModel):
    id: int
    name: str
    email: str | None = None


class UserWithSecret(User):
    password: str = "hunter2"


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class PublicPoint:
    x: int


class PointDict(TypedDict):
    x: int


class Row:
    """An ORM-like object: attributes only."""

    def __init__(self) -> None:
        self.id = 7
        self.name = "row"
        self.email = None
        self.password = "hunter2"


# -- handler return values -----------------------------------------------------------------------


@pytest.fixture
def returns_app(tmp_path: Path) -> Lanner:
    app = Lanner()
    file = tmp_path / "hello.txt"
    file.write_text("hello file")

    @app.get("/dict")
    async def as_dict() -> dict[str, Any]:
        return {"a": 1, "nested": {"b": [1, 2]}}

    @app.get("/list")
    def as_list() -> list[Any]:
        return [1, "two", None]

    @app.get("/model")
    async def as_model():  # type: ignore[no-untyped-def]
        return User(id=1, name="ann")

    @app.get("/dataclass")
    async def as_dataclass():  # type: ignore[no-untyped-def]
        return Point(1, 2)

    @app.get("/int")
    async def as_int():  # type: ignore[no-untyped-def]
        return 42

    @app.get("/float")
    async def as_float():  # type: ignore[no-untyped-def]
        return 2.5

    @app.get("/str")
    async def as_str():  # type: ignore[no-untyped-def]
        return "hello"

    @app.get("/bool")
    async def as_bool():  # type: ignore[no-untyped-def]
        return True

    @app.get("/none")
    async def as_none() -> None:
        return None

    @app.get("/special")
    async def special():  # type: ignore[no-untyped-def]
        return {"when": datetime.date(2024, 5, 1), "id": uuid.UUID("12345678-1234-5678-1234-567812345678")}

    @app.get("/response")
    async def response() -> Response:
        return Response(
            b"\x00raw", status_code=202, headers={"x-kind": "raw"}, media_type="application/octet-stream"
        )

    @app.get("/json")
    async def json_response() -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=203, headers={"x-kind": "json"})

    @app.get("/html")
    async def html() -> HTMLResponse:
        return HTMLResponse("<h1>hi</h1>")

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("plain", status_code=418)

    @app.get("/redirect")
    async def redirect() -> RedirectResponse:
        return RedirectResponse("/dict")

    @app.get("/stream-async")
    async def stream_async() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"a", b"b", b"c"):
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/stream-sync")
    def stream_sync() -> StreamingResponse:
        return StreamingResponse(iter(["x", "y"]), media_type="text/csv")

    @app.get("/file")
    async def a_file() -> FileResponse:
        return FileResponse(file)

    @app.post("/created-response", status_code=201)
    async def created_response() -> PlainTextResponse:
        return PlainTextResponse("kept", status_code=200)

    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dict", {"a": 1, "nested": {"b": [1, 2]}}),
        ("/list", [1, "two", None]),
        ("/model", {"id": 1, "name": "ann", "email": None}),
        ("/dataclass", {"x": 1, "y": 2}),
        ("/int", 42),
        ("/float", 2.5),
        ("/str", "hello"),
        ("/bool", True),
        ("/none", None),
        ("/special", {"when": "2024-05-01", "id": "12345678-1234-5678-1234-567812345678"}),
    ],
)
def test_plain_return_values_become_json(returns_app: Lanner, path: str, expected: Any) -> None:
    response = TestClient(returns_app).get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.json() == expected


def test_returned_response_instances_are_sent_as_they_are(returns_app: Lanner) -> None:
    client = TestClient(returns_app, follow_redirects=False)
    raw = client.get("/response")
    assert (raw.status_code, raw.content, raw.headers["x-kind"]) == (202, b"\x00raw", "raw")
    assert raw.headers["content-type"] == "application/octet-stream"
    json = client.get("/json")
    assert (json.status_code, json.json(), json.headers["x-kind"]) == (203, {"ok": True}, "json")
    html = client.get("/html")
    assert (html.text, html.headers["content-type"]) == ("<h1>hi</h1>", "text/html; charset=utf-8")
    text = client.get("/text")
    assert (text.status_code, text.text) == (418, "plain")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    redirect = client.get("/redirect")
    assert (redirect.status_code, redirect.headers["location"]) == (307, "/dict")


def test_streaming_and_file_responses(returns_app: Lanner) -> None:
    client = TestClient(returns_app)
    stream = client.get("/stream-async")
    assert (stream.text, stream.headers["content-type"]) == ("abc", "text/plain; charset=utf-8")
    assert "content-length" not in stream.headers
    assert client.get("/stream-sync").text == "xy"
    file = client.get("/file")
    assert file.text == "hello file"
    assert file.headers["content-type"].startswith("text/plain")
    assert "etag" in file.headers


def test_a_returned_response_keeps_its_own_status(returns_app: Lanner) -> None:
    response = TestClient(returns_app).post("/created-response")
    assert (response.status_code, response.text) == (200, "kept")


def test_head_is_served_for_every_get(returns_app: Lanner) -> None:
    client = TestClient(returns_app)
    response = client.head("/dict")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(client.get("/dict").content))
    assert client.head("/stream-async").content == b""


def test_wrong_method_is_405_with_allow(returns_app: Lanner) -> None:
    response = TestClient(returns_app).post("/dict")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


# -- response models -----------------------------------------------------------------------------


@pytest.fixture
def model_app() -> Lanner:
    app = Lanner(debug=False)

    @app.get("/dict", response_model=User)
    async def from_dict() -> dict[str, Any]:
        return {"id": 1, "name": "ann", "password": "hunter2", "is_admin": True}

    @app.get("/subclass", response_model=User)
    async def from_subclass() -> UserWithSecret:
        return UserWithSecret(id=2, name="bob")

    @app.get("/object", response_model=User)
    async def from_object() -> Row:
        return Row()

    @app.get("/annotation")
    async def annotation() -> User:
        return UserWithSecret(id=3, name="cy")

    @app.get("/annotation-dict")
    async def annotation_dict() -> User:
        return {"id": 4, "name": "di", "password": "x"}  # type: ignore[return-value]

    @app.get("/annotation-list")
    def annotation_list() -> list[User]:
        return [UserWithSecret(id=5, name="ed"), {"id": 6, "name": "fi", "token": "t"}]  # type: ignore[list-item]

    @app.get("/nested", response_model=dict[str, list[User]])
    async def nested() -> dict[str, Any]:
        return {"team": [{"id": 7, "name": "gu", "password": "p"}]}

    @app.get("/dataclass-model", response_model=PublicPoint)
    async def dataclass_model() -> dict[str, int]:
        return {"x": 1, "y": 2}

    @app.get("/dataclass-instance", response_model=PublicPoint)
    async def dataclass_instance() -> Point:
        return Point(1, 2)

    @app.get("/model-from-dataclass", response_model=User)
    async def model_from_dataclass() -> Any:
        @dataclasses.dataclass
        class Record:
            id: int
            name: str
            password: str

        return Record(11, "ka", "hunter2")

    @app.get("/typeddict-model", response_model=PointDict)
    async def typeddict_model() -> dict[str, int]:
        return {"x": 1, "y": 2}

    @app.get("/coerce")
    async def coerce() -> list[int]:
        return ["1", 2]  # type: ignore[list-item]

    @app.get("/override", response_model=User)
    async def override() -> UserWithSecret:
        return UserWithSecret(id=8, name="ha")

    @app.get("/disabled", response_model=None)
    async def disabled() -> User:
        return UserWithSecret(id=9, name="io")

    @app.get("/exclude-none", response_model=User, response_model_exclude_none=True)
    async def exclude_none() -> dict[str, Any]:
        return {"id": 10, "name": "jo", "email": None, "password": "p"}

    @app.get("/optional", response_model=User | None)
    async def optional() -> None:
        return None

    @app.get("/wrong", response_model=User)
    async def wrong() -> dict[str, Any]:
        return {"id": "not a number", "password": "hunter2"}

    @app.get("/wrong-annotation")
    async def wrong_annotation() -> User:
        return None  # type: ignore[return-value]

    @app.get("/wrong-scalar")
    async def wrong_scalar() -> int:
        return "many"  # type: ignore[return-value]

    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dict", {"id": 1, "name": "ann", "email": None}),
        ("/subclass", {"id": 2, "name": "bob", "email": None}),
        ("/object", {"id": 7, "name": "row", "email": None}),
        ("/annotation", {"id": 3, "name": "cy", "email": None}),
        ("/annotation-dict", {"id": 4, "name": "di", "email": None}),
        (
            "/annotation-list",
            [{"id": 5, "name": "ed", "email": None}, {"id": 6, "name": "fi", "email": None}],
        ),
        ("/nested", {"team": [{"id": 7, "name": "gu", "email": None}]}),
        ("/dataclass-model", {"x": 1}),
        ("/typeddict-model", {"x": 1}),
        ("/coerce", [1, 2]),
        ("/override", {"id": 8, "name": "ha", "email": None}),
        ("/model-from-dataclass", {"id": 11, "name": "ka", "email": None}),
    ],
)
def test_response_model_validates_and_filters(model_app: Lanner, path: str, expected: Any) -> None:
    response = TestClient(model_app).get(path)
    assert response.status_code == 200
    assert response.json() == expected
    for leak in (b"hunter2", b"password", b"is_admin", b"token", b'"y"'):
        assert leak not in response.content


def test_a_dataclass_response_model_filters_another_dataclass(model_app: Lanner) -> None:
    response = TestClient(model_app, raise_server_exceptions=False).get("/dataclass-instance")
    assert (response.status_code, response.json()) == (200, {"x": 1})


def test_response_model_none_disables_the_annotation(model_app: Lanner) -> None:
    body = TestClient(model_app).get("/disabled").json()
    assert body == {"id": 9, "name": "io", "email": None, "password": "hunter2"}


def test_response_model_exclude_none(model_app: Lanner) -> None:
    assert TestClient(model_app).get("/exclude-none").json() == {"id": 10, "name": "jo"}


def test_optional_response_model_allows_none(model_app: Lanner) -> None:
    response = TestClient(model_app).get("/optional")
    assert (response.status_code, response.content) == (200, b"null")


@pytest.mark.parametrize("path", ["/wrong", "/wrong-annotation", "/wrong-scalar"])
def test_a_value_that_does_not_fit_the_model_is_a_500(
    model_app: Lanner, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = TestClient(model_app, raise_server_exceptions=False).get(path)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The server could not complete the request."
    assert b"hunter2" not in response.content
    assert "ResponseValidationError" in caplog.text


def test_a_union_of_response_classes_is_not_a_response_model() -> None:
    app = Lanner()

    @app.get("/page")
    async def page(as_text: bool = False) -> HTMLResponse | PlainTextResponse:
        return PlainTextResponse("t") if as_text else HTMLResponse("<p>h</p>")

    client = TestClient(app)
    assert client.get("/page").text == "<p>h</p>"
    assert client.get("/page?as_text=true").text == "t"


# -- status codes and response classes -----------------------------------------------------------


def test_status_code_option() -> None:
    app = Lanner()

    @app.post("/items", status_code=201)
    async def create() -> dict[str, int]:
        return {"id": 1}

    @app.delete("/items/{item_id:int}", status_code=204)
    async def delete(item_id: int) -> None:
        return None

    @app.put("/items/{item_id:int}", status_code=204)
    async def replace(item_id: int) -> dict[str, int]:
        return {"ignored": item_id}

    @app.post("/accepted", status_code=202, response_class=PlainTextResponse)
    async def accepted() -> str:
        return "queued"

    client = TestClient(app)
    created = client.post("/items")
    assert (created.status_code, created.json()) == (201, {"id": 1})
    for response in (client.delete("/items/1"), client.put("/items/1")):
        assert response.status_code == 204
        assert response.content == b""
        assert "content-length" not in response.headers
    queued = client.post("/accepted")
    assert (queued.status_code, queued.text) == (202, "queued")


def test_response_class_option() -> None:
    app = Lanner()

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hello</p>"

    @app.get("/text", response_class=PlainTextResponse)
    def text() -> str:
        return "just text"

    @app.get("/json", response_class=JSONResponse, response_model=User)
    async def json() -> dict[str, Any]:
        return {"id": 1, "name": "a", "password": "p"}

    @app.get("/wrong", response_class=HTMLResponse)
    async def wrong() -> dict[str, int]:
        return {"not": 1}

    client = TestClient(app, raise_server_exceptions=False)
    page_response = client.get("/page")
    assert page_response.text == "<p>hello</p>"
    assert page_response.headers["content-type"] == "text/html; charset=utf-8"
    text_response = client.get("/text")
    assert text_response.text == "just text"
    assert text_response.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get("/json").json() == {"id": 1, "name": "a", "email": None}
    assert client.get("/wrong").status_code == 500


# -- hooks ---------------------------------------------------------------------------------------


@pytest.fixture
def hooked() -> tuple[Lanner, list[str]]:
    log: list[str] = []
    app = Lanner(debug=False)

    @app.before_request
    def first_before(request: Request) -> None:
        log.append("before sync")
        request.state.user = request.headers.get("x-user", "anonymous")

    @app.before_request
    async def second_before(request: Request) -> Response | None:
        log.append("before async")
        if request.headers.get("x-block"):
            return PlainTextResponse("blocked", status_code=403)
        if request.headers.get("x-raise"):
            raise HTTPException(401, "who are you", headers={"WWW-Authenticate": "Bearer"})
        return None

    @app.after_request
    def first_after(request: Request, response: Response) -> Response:
        log.append("after sync")
        response.headers["x-user"] = request.state.user
        return response

    @app.after_request
    async def second_after(request: Request, response: Response) -> Response:
        log.append("after async")
        response.headers.append("x-trail", "2")
        return response

    @app.get("/")
    async def index(request: Request) -> dict[str, str]:
        log.append("handler")
        return {"user": request.state.user}

    @app.get("/no-request")
    def no_request() -> str:
        log.append("handler")
        return "plain"

    @app.get("/crash")
    async def crash() -> None:
        log.append("handler")
        raise RuntimeError("boom")

    return app, log


def test_hooks_run_in_registration_order_around_the_handler(
    hooked: tuple[Lanner, list[str]],
) -> None:
    app, log = hooked
    response = TestClient(app).get("/", headers={"x-user": "ann"})
    assert response.json() == {"user": "ann"}
    assert response.headers["x-user"] == "ann"
    assert response.headers["x-trail"] == "2"
    assert log == ["before sync", "before async", "handler", "after sync", "after async"]


def test_hooks_run_for_handlers_without_a_request_parameter(hooked: tuple[Lanner, list[str]]) -> None:
    app, log = hooked
    response = TestClient(app).get("/no-request")
    assert (response.json(), response.headers["x-user"]) == ("plain", "anonymous")
    assert log == ["before sync", "before async", "handler", "after sync", "after async"]


def test_a_before_hook_can_answer_early(hooked: tuple[Lanner, list[str]]) -> None:
    app, log = hooked
    response = TestClient(app).get("/", headers={"x-block": "1"})
    assert (response.status_code, response.text) == (403, "blocked")
    assert response.headers["x-user"] == "anonymous"
    assert log == ["before sync", "before async", "after sync", "after async"]


def test_a_before_hook_can_raise_an_http_exception(hooked: tuple[Lanner, list[str]]) -> None:
    app, log = hooked
    response = TestClient(app).get("/", headers={"x-raise": "1"})
    assert response.status_code == 401
    assert response.json()["detail"] == "who are you"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-trail"] == "2"
    assert "handler" not in log


@pytest.mark.parametrize(("path", "status"), [("/crash", 500), ("/missing", 404)])
def test_after_hooks_see_error_responses(hooked: tuple[Lanner, list[str]], path: str, status: int) -> None:
    app, log = hooked
    response = TestClient(app, raise_server_exceptions=False).get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-trail"] == "2"
    assert log[-2:] == ["after sync", "after async"]


def test_an_after_hook_may_replace_the_response() -> None:
    app = Lanner()

    @app.after_request
    async def wrap(request: Request, response: Response) -> Response:
        return JSONResponse({"wrapped": response.status_code}, status_code=299)

    @app.get("/")
    async def index() -> str:
        return "inner"

    response = TestClient(app).get("/")
    assert (response.status_code, response.json()) == (299, {"wrapped": 200})


def test_hooks_returning_the_wrong_type_are_500s() -> None:
    app = Lanner(debug=True)

    @app.before_request
    def bad_before(request: Request) -> Any:
        return "not a response" if request.path == "/before" else None

    @app.after_request
    def bad_after(request: Request, response: Response) -> Any:
        return None if request.path == "/after" else response

    @app.get("/before")
    async def before() -> str:
        return "unreachable"

    @app.get("/after")
    async def after() -> str:
        return "replaced"

    client = TestClient(app, raise_server_exceptions=False)
    before_response = client.get("/before")
    assert before_response.status_code == 500
    assert "before_request hook" in before_response.json()["detail"]
    after_response = client.get("/after")
    assert after_response.status_code == 500
    assert "after_request hook" in after_response.json()["detail"]


def test_a_failing_after_hook_becomes_an_error_response() -> None:
    app = Lanner(debug=False)

    @app.after_request
    def forbid(request: Request, response: Response) -> Response:
        raise HTTPException(403, "after says no")

    @app.get("/")
    async def index() -> str:
        return "ok"

    response = TestClient(app).get("/")
    assert (response.status_code, response.json()["detail"]) == (403, "after says no")


def test_hooks_added_after_the_first_request_apply() -> None:
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "ok"

    client = TestClient(app)
    assert "x-late" not in client.get("/").headers

    @app.after_request
    def late(request: Request, response: Response) -> Response:
        response.headers["x-late"] = "yes"
        return response

    assert client.get("/").headers["x-late"] == "yes"


# -- middleware ----------------------------------------------------------------------------------


class TagMiddleware:
    """Pure ASGI middleware: logs entry and appends an ``x-chain`` header on the way out."""

    def __init__(self, app: Any, tag: str, log: list[str]) -> None:
        self.app = app
        self.tag = tag
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.log.append(f"enter {self.tag}")

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-chain", self.tag.encode())]
            await send(message)

        await self.app(scope, receive, tagged)
        self.log.append(f"leave {self.tag}")


class GateMiddleware:
    def __init__(self, app: Any, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        if scope["type"] == "http" and headers.get(b"x-token") != self.token.encode():
            await PlainTextResponse("gate closed", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ExplodingMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/explode":
            raise ConnectionAbortedError("middleware failure")
        await self.app(scope, receive, send)


def test_middleware_with_options_last_added_is_outermost() -> None:
    log: list[str] = []
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        log.append("handler")
        return "ok"

    app.add_middleware(TagMiddleware, tag="inner", log=log)
    app.add_middleware(TagMiddleware, tag="outer", log=log)
    response = TestClient(app).get("/")
    assert response.json() == "ok"
    assert log == ["enter outer", "enter inner", "handler", "leave inner", "leave outer"]
    # The inner one adds its header first, so it comes first in the list.
    assert response.headers.get_list("x-chain") == ["inner", "outer"]


def test_middleware_can_answer_without_calling_the_app() -> None:
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "secret"

    app.add_middleware(GateMiddleware, token="t0k")
    client = TestClient(app)
    closed = client.get("/")
    assert (closed.status_code, closed.text) == (401, "gate closed")
    assert client.get("/", headers={"x-token": "t0k"}).json() == "secret"


def test_middleware_wraps_404s_and_passes_the_lifespan_through() -> None:
    log: list[str] = []
    started: list[bool] = []
    app = Lanner(on_startup=[lambda: started.append(True)])
    app.add_middleware(TagMiddleware, tag="only", log=log)
    with TestClient(app) as client:
        response = client.get("/missing")
    assert response.status_code == 404
    assert response.headers["x-chain"] == "only"
    assert started == [True]


def test_middleware_exceptions_get_a_problem_document(caplog: pytest.LogCaptureFixture) -> None:
    app = Lanner()

    @app.get("/explode")
    async def explode() -> str:
        return "never"

    @app.get("/fine")
    async def fine() -> str:
        return "fine"

    app.add_middleware(ExplodingMiddleware)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/explode")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "The server could not complete the request."
    assert "middleware failure" not in response.text
    assert any(record.exc_info and record.exc_info[0] is ConnectionAbortedError for record in caplog.records)
    assert client.get("/fine").json() == "fine"


def test_middleware_exceptions_reach_the_apps_handlers() -> None:
    app = Lanner()
    app.add_middleware(ExplodingMiddleware)

    @app.exception_handler(ConnectionAbortedError)
    def aborted(request: Request, exc: ConnectionAbortedError) -> Response:
        return PlainTextResponse(f"handled: {exc}", status_code=503)

    response = TestClient(app).get("/explode")
    assert (response.status_code, response.text) == (503, "handled: middleware failure")


def test_middleware_exception_after_the_response_started_reaches_the_server() -> None:
    class LateFailure:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)
            if scope["type"] == "http":
                raise ConnectionAbortedError("after the response")

    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "ok"

    app.add_middleware(LateFailure)
    with pytest.raises(ConnectionAbortedError, match="after the response"):
        TestClient(app).get("/")


def test_middleware_added_after_the_first_request_applies() -> None:
    log: list[str] = []
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "ok"

    client = TestClient(app)
    client.get("/")
    app.add_middleware(TagMiddleware, tag="late", log=log)
    assert client.get("/").headers["x-chain"] == "late"


# -- threads, concurrency, re-entrancy -----------------------------------------------------------


def test_sync_handlers_run_in_the_pool_async_ones_on_the_loop() -> None:
    app = Lanner()

    @app.get("/sync")
    def sync_handler() -> str:
        return threading.current_thread().name

    @app.get("/async")
    async def async_handler() -> str:
        return threading.current_thread().name

    client = TestClient(app)
    sync_thread = client.get("/sync").json()
    async_thread = client.get("/async").json()
    assert sync_thread.startswith("lanner_")
    assert not async_thread.startswith("lanner_")
    assert async_thread != threading.current_thread().name


def test_thread_pool_size_sets_the_pool() -> None:
    Lanner(thread_pool_size=3)
    assert default_pool().max_workers == 3
    with pytest.raises(ValueError):
        Lanner(thread_pool_size=0)


@pytest.mark.anyio
@pytest.mark.parametrize("size", [2, 4])
async def test_thread_pool_size_bounds_concurrent_sync_handlers(size: int) -> None:
    lock = threading.Lock()
    gate = threading.Semaphore(0)
    counts = {"active": 0, "peak": 0, "done": 0}
    app = Lanner(thread_pool_size=size)

    @app.get("/work")
    def work() -> str:
        with lock:
            counts["active"] += 1
            counts["peak"] = max(counts["peak"], counts["active"])
        acquired = gate.acquire(timeout=30)
        with lock:
            counts["active"] -= 1
            counts["done"] += 1
        return "ok" if acquired else "timed out"

    async def wait_for(key: str, value: int) -> None:
        while counts[key] < value:
            await anyio.sleep(0.005)

    requests = 4
    results: list[tuple[int, bytes]] = []

    async def one() -> None:
        results.append(await call_app(app, path="/work"))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(requests):
                group.start_soon(one)
            await wait_for("active", size)
            for released in range(1, requests + 1):
                gate.release()
                await wait_for("done", released)
    assert results == [(200, b'"ok"')] * requests
    assert counts["peak"] == size


def test_the_app_serves_many_requests_in_a_row() -> None:
    app = Lanner()

    @app.get("/add/{a:int}")
    async def add(a: int, b: int = 0) -> dict[str, int]:
        return {"sum": a + b}

    @app.get("/sync/{a:int}")
    def add_sync(a: int, b: int = 0) -> dict[str, int]:
        return {"sum": a + b}

    client = TestClient(app)
    for i in range(150):
        path = "/add" if i % 2 else "/sync"
        assert client.get(f"{path}/{i}?b={i * 2}").json() == {"sum": i * 3}


@pytest.mark.anyio
async def test_concurrent_requests_do_not_share_request_state() -> None:
    app = Lanner()

    @app.before_request
    async def remember(request: Request) -> None:
        request.state.token = request.query_params["n"]

    @app.get("/echo/{n:int}")
    async def echo(n: int, request: Request) -> dict[str, Any]:
        await anyio.sleep(0)
        return {"n": n, "token": request.state.token, "query": request.query_params["n"]}

    results: dict[int, bytes] = {}

    async def one(n: int) -> None:
        status, body = await call_app(app, path=f"/echo/{n}", query=f"n={n}".encode())
        assert status == 200
        results[n] = body

    async with anyio.create_task_group() as group:
        for n in range(60):
            group.start_soon(one, n)
    assert results == {n: f'{{"n":{n},"token":"{n}","query":"{n}"}}'.encode() for n in range(60)}


# -- app state, names, debug ---------------------------------------------------------------------


def test_app_state_is_reachable_from_requests() -> None:
    app = Lanner()
    app.state.counter = 0

    @app.post("/hit")
    async def hit(request: Request) -> int:
        request.app.state.counter += 1  # type: ignore[attr-defined]
        return app.state.counter  # type: ignore[no-any-return]

    client = TestClient(app)
    assert [client.post("/hit").json() for _ in range(3)] == [1, 2, 3]
    assert app.state.counter == 3


def test_url_path_for_and_request_url_for() -> None:
    app = Lanner()

    @app.get("/users/{user_id:int}/files/{name:path}", name="user-file")
    async def user_file(user_id: int, name: str, request: Request) -> dict[str, str]:
        return {
            "self": request.url_for("user-file", user_id=user_id, name=name),
            "home": request.url_for("home"),
        }

    @app.get("/")
    async def home() -> str:
        return "home"

    assert app.url_path_for("home") == "/"
    assert app.url_path_for("user-file", user_id=3, name="a/b.txt") == "/users/3/files/a/b.txt"
    body = TestClient(app).get("/users/5/files/docs/x.md").json()
    assert body == {"self": "/users/5/files/docs/x.md", "home": "/"}
    with pytest.raises(NoMatchFound):
        app.url_path_for("nobody")
    with pytest.raises(NoMatchFound):
        app.url_path_for("user-file", user_id=3)


def test_debug_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_DEBUG", raising=False)
    assert Lanner().debug is False
    monkeypatch.setenv("LANNER_DEBUG", "1")
    assert Lanner().debug is True
    assert Lanner(debug=False).debug is False


def test_endpoints_are_compiled_per_route() -> None:
    app = Lanner()

    @app.get("/a")
    async def a() -> str:
        return "a"

    @app.post("/b")
    async def b() -> str:
        return "b"

    routes = [route.path for route, _ in app.iter_routes() if route.path in ("/a", "/b")]
    assert routes == ["/a", "/b"]
    assert set(app.endpoints) == {route for route, _ in app.iter_routes()}
    assert all(callable(endpoint) for endpoint in app.endpoints.values())


def test_routes_match_behind_a_root_path() -> None:
    app = Lanner()

    @app.get("/items", name="items")
    async def items(request: Request) -> str:
        return request.url_for("items")

    response = TestClient(app, root_path="/api").get("/api/items")
    assert (response.status_code, response.json()) == (200, "/api/items")


def test_root_path_is_stripped_only_at_a_segment_boundary() -> None:
    app = Lanner()

    @app.get("/{p:path}")
    async def catch(p: str) -> dict[str, str]:
        return {"p": p}

    client = TestClient(app, root_path="/api")
    assert client.get("/api/items").json() == {"p": "items"}
    assert client.get("/apiitems").json() == {"p": "apiitems"}


def test_the_longest_mount_prefix_wins() -> None:
    def answer(text: bytes):
        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": text})

        return app

    app = Lanner()
    app.mount("/a", answer(b"A"))
    app.mount("/a/b", answer(b"B"))
    client = TestClient(app)
    assert client.get("/a/b/c").content == b"B"
    assert client.get("/a/c").content == b"A"


def test_startup_freezes_the_heap_until_shutdown() -> None:
    app = Lanner()

    @app.get("/")
    async def index() -> str:
        return "ok"

    other = Lanner()
    before = gc.get_freeze_count()
    with TestClient(app) as client:
        # the app, its routes and validators, and everything imported
        assert gc.get_freeze_count() > before + 1000
        with TestClient(other):
            pass
        assert gc.get_freeze_count() > before + 1000  # still running: the heap stays frozen
        assert client.get("/").json() == "ok"
    assert gc.get_freeze_count() == before


def test_freeze_gc_can_be_turned_off() -> None:
    app = Lanner(freeze_gc=False)
    before = gc.get_freeze_count()
    with TestClient(app) as client:
        assert gc.get_freeze_count() == before
        assert client.get("/openapi.json").status_code == 200
    assert gc.get_freeze_count() == before


def _grown_bytes(app: Lanner, method: str, path: str, count: int) -> tuple[int, int]:
    """Serve `count` requests and return (last status, bytes still allocated afterwards)."""

    async def one() -> int:
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "root_path": "",
            "query_string": b"",
            "headers": [],
        }
        await app(scope, receive, send)
        return int(sent[0]["status"])

    async def many(n: int) -> int:
        status = 0
        for _ in range(n):
            status = await one()
        return status

    anyio.run(many, 200)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    status = anyio.run(many, count)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return status, sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def _error_app(variant: str) -> Lanner:
    app = Lanner(freeze_gc=False)

    @app.post("/only-post")
    async def only_post() -> str:
        return "posted"

    if variant == "handler":

        @app.exception_handler(404)
        def not_found(request: Request, exc: HTTPException) -> Response:
            return PlainTextResponse("custom 404", status_code=404)

    if variant == "hook":

        @app.before_request
        def nothing(request: Request) -> None:
            return None

    return app


@pytest.mark.parametrize("variant", ["default", "handler", "hook"])
@pytest.mark.parametrize(
    ("method", "path", "expected"), [("GET", "/unknown", 404), ("GET", "/only-post", 405)]
)
def test_error_answers_do_not_keep_memory(variant: str, method: str, path: str, expected: int) -> None:
    # A shared exception object re-raised for every 404 kept each request's frames alive in its
    # growing traceback: about 2.3 KB per request, 7 MB for these 3,000.
    status, grown = _grown_bytes(_error_app(variant), method, path, 3000)
    assert status == expected
    assert grown < 300_000


def test_a_405_is_compiled_once_per_allow_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import lanner.endpoint

    app = _error_app("default")
    client = TestClient(app)
    assert client.get("/only-post").status_code == 405
    calls: list[object] = []
    original = lanner.endpoint.build_dependency_plan

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(lanner.endpoint, "build_dependency_plan", counting)
    for _ in range(20):
        response = client.get("/only-post")
        assert (response.status_code, response.headers["allow"]) == (405, "POST")
        assert response.headers["content-type"] == "application/problem+json"
    assert calls == []


def test_the_prebuilt_404_keeps_its_headers_when_middleware_edits_them() -> None:
    class AddHeader:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def edit(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"].append((b"x-added", b"1"))
                await send(message)

            await self.app(scope, receive, edit)

    app = Lanner(freeze_gc=False)
    app.add_middleware(AddHeader)
    client = TestClient(app)
    for _ in range(3):
        response = client.get("/missing")
        assert response.headers.get_list("x-added") == ["1"]
    head = client.head("/missing")
    assert (head.status_code, head.content) == (404, b"")


def test_app_static_serves_a_folder_with_names_and_hashed_urls(tmp_path: Path) -> None:
    from lanner import Router

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "app.css").write_text("body { color: red }")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "cart.js").write_text("cart()")
    app = Lanner(freeze_gc=False)
    app.static("/static", tmp_path / "site")
    shop = Router(prefix="/shop", name="shop", static=tmp_path / "shop")
    app.include_router(shop)
    client = TestClient(app)
    assert client.get("/static/app.css").text == "body { color: red }"
    assert client.get("/shop/static/cart.js").text == "cart()"
    assert client.get("/static/../app.py").status_code == 404
    assert app.url_path_for("static", path="app.css") == "/static/app.css"
    assert app.url_path_for("static", filename="a b.css") == "/static/a%20b.css"
    assert app.url_path_for("shop.static", filename="cart.js") == "/shop/static/cart.js"
    first = app.static_url("app.css")
    assert first.startswith("/static/app.css?v=") and len(first.split("=")[1]) == 12
    assert client.get(first).status_code == 200
    (tmp_path / "site" / "app.css").write_text("body { color: blue; }")
    assert app.static_url("app.css") != first
    with pytest.raises(NoMatchFound):
        app.static_url("x.css", name="nope")
    with pytest.raises(NoMatchFound):
        app.url_path_for("static", path="a", extra="b")
    with pytest.raises(ValueError, match="static prefix"):
        app.static("static", tmp_path)


def test_a_user_mounted_static_files_app_survives_a_recompile(tmp_path: Path) -> None:
    from lanner.staticfiles import StaticFiles

    (tmp_path / "a.txt").write_text("a")
    app = Lanner(freeze_gc=False)
    app.mount("/files", StaticFiles(directory=tmp_path), name="files")
    client = TestClient(app)
    assert client.get("/files/a.txt").text == "a"

    @app.get("/later")
    async def later() -> str:
        return "later"

    assert client.get("/files/a.txt").text == "a"
    assert app.url_path_for("files", path="a.txt") == "/files/a.txt"


# -- FastAPI's app conveniences -----------------------------------------------------------------


def test_on_event_registers_startup_and_shutdown_with_a_deprecation_warning() -> None:
    app = Lanner(freeze_gc=False)
    events: list[str] = []
    with pytest.warns(DeprecationWarning, match="on_event"):

        @app.on_event("startup")
        async def started() -> None:
            events.append("startup")

    with pytest.warns(DeprecationWarning):

        @app.on_event("shutdown")
        def stopped() -> None:
            events.append("shutdown")

    with pytest.raises(ValueError, match="startup"):
        app.on_event("reload")
    with TestClient(app):
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_function_middleware_wraps_every_request() -> None:
    app = Lanner(freeze_gc=False)

    @app.middleware("http")
    async def add_timing(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-process-time"] = "1"
        return response

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"ok": "yes"}

    response = TestClient(app).get("/")
    assert (response.json(), response.headers["x-process-time"]) == ({"ok": "yes"}, "1")
    with pytest.raises(ValueError, match="http"):
        app.middleware("websocket")


def test_router_defaults_reach_their_routes() -> None:
    router = Router(prefix="/r", responses={404: {"description": "Not found"}}, deprecated=True)

    @router.get("/a")
    async def a() -> int:
        return 1

    app = Lanner(freeze_gc=False, root_path="/api")
    app.include_router(router, responses={418: {"description": "Teapot"}})
    options = app.routes[-1].options
    assert options.responses == {418: {"description": "Teapot"}, 404: {"description": "Not found"}}
    assert options.deprecated is True
    client = TestClient(app)
    assert client.get("/r/a").json() == 1
    assert app.router is app
    assert app.openapi_schema is not None or app.openapi()
    app.openapi_schema = {"openapi": "3.1.0", "custom": True}
    assert app.openapi()["custom"] is True
