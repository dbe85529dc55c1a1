"""Problem documents, the default exception handlers and custom ones (lanner.errors)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from pydantic import BaseModel

from lanner import HTTPException, Lanner, Request, RequestValidationError
from lanner.errors import PROBLEM_JSON, ExceptionHandlers, ProblemResponse
from lanner.exceptions import MalformedBodyError
from lanner.responses import JSONResponse, PlainTextResponse, Response
from lanner.testing import TestClient


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_request(app: Any = None, method: str = "GET", path: str = "/x") -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [],
        "query_string": b"",
    }
    if app is not None:
        scope["app"] = app
    return Request(scope)


def document(response: Response) -> dict[str, Any]:
    assert response.media_type == PROBLEM_JSON
    return json.loads(response.body)  # type: ignore[no-any-return]


def assert_problem(response: Any, status: int, title: str) -> dict[str, Any]:
    """Check an httpx response is an RFC 9457 document of `status` and return it."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["title"] == title
    assert body["status"] == status
    assert "detail" in body
    return body  # type: ignore[no-any-return]


class Item(BaseModel):
    name: str
    price: float


# -- ProblemResponse -----------------------------------------------------------------------------


def test_problem_response_has_the_rfc_9457_members() -> None:
    response = ProblemResponse(404, "no such item")
    assert response.status_code == 404
    assert (b"content-type", b"application/problem+json") in response.raw_headers
    assert document(response) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no such item",
    }


def test_problem_response_options_and_extra_members() -> None:
    response = ProblemResponse(
        409,
        {"id": 3},
        title="Conflict!",
        type_uri="https://e.x/conflict",
        headers={"Retry-After": "5"},
        instance="/items/3",
    )
    assert response.headers["retry-after"] == "5"
    assert document(response) == {
        "type": "https://e.x/conflict",
        "title": "Conflict!",
        "status": 409,
        "detail": {"id": 3},
        "instance": "/items/3",
    }


def test_problem_response_omits_missing_detail_and_names_unknown_statuses() -> None:
    body = document(ProblemResponse(599))
    assert body == {"type": "about:blank", "title": "Error", "status": 599}


def test_problem_response_stringifies_values_json_cannot_hold() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd value"

    assert document(ProblemResponse(400, Odd()))["detail"] == "odd value"


# -- ExceptionHandlers (unit) --------------------------------------------------------------------


class ParentError(Exception):
    pass


class ChildError(ParentError):
    pass


def test_lookup_resolves_by_mro_and_add_invalidates_the_cache() -> None:
    handlers = ExceptionHandlers()
    default = handlers.lookup(ChildError())

    def parent(request: Request, exc: Exception) -> Response:
        return Response("parent")

    def child(request: Request, exc: Exception) -> Response:
        return Response("child")

    handlers.add(ParentError, parent)
    assert handlers.lookup(ChildError()) is parent
    assert handlers.lookup(ParentError()) is parent
    handlers.add(ChildError, child)
    assert handlers.lookup(ChildError()) is child
    assert handlers.lookup(ValueError()) is default


def test_status_handler_wins_for_http_exceptions_of_that_status() -> None:
    handlers = ExceptionHandlers()

    def by_type(request: Request, exc: Exception) -> Response:
        return Response("type")

    def by_status(request: Request, exc: Exception) -> Response:
        return Response("status")

    handlers.add(HTTPException, by_type)
    handlers.add(404, by_status)
    assert handlers.lookup(HTTPException(404)) is by_status
    assert handlers.lookup(HTTPException(400)) is by_type
    assert handlers.lookup(MalformedBodyError("x")) is by_type


def test_status_handlers_for_422_and_500_cover_the_default_answers() -> None:
    handlers = ExceptionHandlers()

    def on_422(request: Request, exc: Exception) -> Response:
        return Response("422")

    def on_500(request: Request, exc: Exception) -> Response:
        return Response("500")

    def on_value(request: Request, exc: Exception) -> Response:
        return Response("value")

    handlers.add(422, on_422)
    handlers.add(500, on_500)
    handlers.add(ValueError, on_value)
    assert handlers.lookup(RequestValidationError([])) is on_422
    assert handlers.lookup(RuntimeError()) is on_500
    assert handlers.lookup(HTTPException(500)) is on_500
    # A class handler claims its exceptions before the 500 fallback does.
    assert handlers.lookup(ValueError()) is on_value


@pytest.mark.anyio
async def test_respond_accepts_sync_async_and_awaitable_returning_handlers() -> None:
    handlers = ExceptionHandlers()

    async def async_handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("async", 418)

    async def later() -> Response:
        return PlainTextResponse("awaitable", 419)

    class Callable:
        def __call__(self, request: Request, exc: Exception) -> Any:
            return later()

    handlers.add(KeyError, async_handler)
    handlers.add(IndexError, Callable())
    handlers.add(ValueError, lambda request, exc: PlainTextResponse(str(exc), 400))
    request = make_request()
    assert (await handlers.respond(request, KeyError())).body == b"async"
    assert (await handlers.respond(request, IndexError())).status_code == 419
    response = await handlers.respond(request, ValueError("bad"))
    assert (response.status_code, response.body) == (400, b"bad")


@pytest.mark.anyio
async def test_respond_falls_back_to_500_when_a_handler_fails(caplog: pytest.LogCaptureFixture) -> None:
    handlers = ExceptionHandlers()

    def broken(request: Request, exc: Exception) -> Response:
        raise KeyError("handler internals")

    def not_a_response(request: Request, exc: Exception) -> Any:
        return {"not": "a response"}

    handlers.add(ValueError, broken)
    handlers.add(TypeError, not_a_response)
    request = make_request()
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        first = await handlers.respond(request, ValueError())
        second = await handlers.respond(request, TypeError())
    for response in (first, second):
        body = document(response)
        assert body["status"] == 500
        assert "internals" not in response.body.decode()
    assert "failed" in caplog.text and "not a Response" in caplog.text


@pytest.mark.anyio
async def test_respond_logs_unhandled_exceptions_only(caplog: pytest.LogCaptureFixture) -> None:
    handlers = ExceptionHandlers()
    request = make_request(method="PUT", path="/things")
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        await handlers.respond(request, HTTPException(404))
        await handlers.respond(request, RequestValidationError([]))
        assert caplog.records == []
        response = await handlers.respond(request, RuntimeError("kaput"))
    assert response.status_code == 500
    [record] = caplog.records
    assert "PUT /things" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


@pytest.mark.anyio
async def test_default_handlers_answer_with_problem_documents() -> None:
    handlers = ExceptionHandlers()
    request = make_request()
    response = await handlers.respond(request, HTTPException(401, headers={"WWW-Authenticate": "x"}))
    assert document(response) == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert response.headers["www-authenticate"] == "x"
    errors = [
        {"loc": ["query", "a"], "msg": "m", "type": "t"},
        {"loc": ["body", "b"], "msg": "n", "type": "u"},
    ]
    body = document(await handlers.respond(request, RequestValidationError(errors)))
    assert body["status"] == 422 and body["title"] == "Unprocessable Content"
    assert body["detail"] == "2 fields failed validation"
    assert body["errors"] == errors
    single = document(await handlers.respond(request, RequestValidationError(errors[:1])))
    assert single["detail"] == "1 field failed validation"


@pytest.mark.anyio
@pytest.mark.parametrize("code", [204, 304])
async def test_http_exception_with_a_bodiless_status_has_no_body(code: int) -> None:
    response = await ExceptionHandlers().respond(
        make_request(), HTTPException(code, headers={"ETag": '"v1"'})
    )
    assert response.status_code == code
    assert response.body == b""
    assert response.headers["etag"] == '"v1"'


@pytest.mark.anyio
async def test_server_error_shows_a_traceback_only_for_a_debug_app() -> None:
    class App:
        debug = True

    handlers = ExceptionHandlers()
    quiet = document(await handlers.respond(make_request(), RuntimeError("secret")))
    assert quiet == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server could not complete the request.",
    }
    try:
        raise RuntimeError("secret")
    except RuntimeError as exc:
        raised = exc
    loud = document(await handlers.respond(make_request(App()), raised))
    assert loud["detail"] == "RuntimeError: secret"
    assert loud["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise RuntimeError("secret")' in loud["traceback"]


# -- through an application ----------------------------------------------------------------------


def build_app(**options: Any) -> Lanner:
    app = Lanner(max_body_size=64, **options)

    @app.get("/items/{item_id:int}")
    async def read_item(item_id: int, limit: int = 10) -> dict[str, int]:
        return {"item_id": item_id, "limit": limit}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.post("/echo")
    async def echo(request: Request) -> Any:
        return await request.json()

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(
            418,
            {"reason": "short and stout", "codes": [1, 2]},
            headers={"X-Kettle": "on", "Retry-After": "60"},
        )

    @app.get("/plain")
    async def plain() -> None:
        raise HTTPException(403)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("password=hunter2 at /srv/secret.py")

    @app.get("/value")
    async def value() -> None:
        raise ValueError("bad value")

    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(build_app(debug=False), raise_server_exceptions=False)


def test_problem_400_for_malformed_json(client: TestClient) -> None:
    response = client.post("/items", content=b'{"name": "x",', headers={"content-type": "application/json"})
    body = assert_problem(response, 400, "Bad Request")
    assert body["detail"].startswith("Malformed JSON")
    body = assert_problem(client.post("/echo", content=b"{oops"), 400, "Bad Request")
    assert body["detail"].startswith("Malformed JSON")


def test_problem_404_for_an_unknown_path(client: TestClient) -> None:
    body = assert_problem(client.get("/nowhere"), 404, "Not Found")
    assert body["detail"] == "Not Found"


def test_problem_405_with_allow_header(client: TestClient) -> None:
    response = client.delete("/items")
    assert_problem(response, 405, "Method Not Allowed")
    assert response.headers["allow"] == "POST"


def test_problem_413_for_a_body_over_the_limit(client: TestClient) -> None:
    response = client.post("/items", json={"name": "x" * 100, "price": 1})
    body = assert_problem(response, 413, "Content Too Large")
    assert "64" in body["detail"]


def test_problem_415_for_a_form_post_to_a_json_endpoint(client: TestClient) -> None:
    response = client.post("/items", data={"name": "x", "price": "1"})
    body = assert_problem(response, 415, "Unsupported Media Type")
    assert "application/x-www-form-urlencoded" in body["detail"]


def test_problem_422_lists_every_failing_field(client: TestClient) -> None:
    body = assert_problem(client.get("/items/3?limit=many"), 422, "Unprocessable Content")
    assert [e["loc"] for e in body["errors"]] == [["query", "limit"]]
    body = assert_problem(client.post("/items", json={"price": "free"}), 422, "Unprocessable Content")
    assert sorted(tuple(e["loc"]) for e in body["errors"]) == [("body", "name"), ("body", "price")]
    assert all({"loc", "msg", "type"} <= set(e) for e in body["errors"])


def test_problem_500_hides_internals(client: TestClient) -> None:
    response = client.get("/crash")
    body = assert_problem(response, 500, "Internal Server Error")
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The server could not complete the request.",
    }
    text = response.text
    for leak in ("hunter2", "Traceback", "RuntimeError", "secret.py", ".py"):
        assert leak not in text


def test_debug_app_shows_the_traceback() -> None:
    client = TestClient(build_app(debug=True), raise_server_exceptions=False)
    body = assert_problem(client.get("/crash"), 500, "Internal Server Error")
    assert body["detail"] == "RuntimeError: password=hunter2 at /srv/secret.py"
    assert body["traceback"].startswith("Traceback (most recent call last)")
    assert "in crash" in body["traceback"]


def test_http_exception_with_custom_detail_and_headers(client: TestClient) -> None:
    response = client.get("/teapot")
    body = assert_problem(response, 418, "I'm a Teapot")
    assert body["detail"] == {"reason": "short and stout", "codes": [1, 2]}
    assert response.headers["x-kettle"] == "on"
    assert response.headers["retry-after"] == "60"


def test_http_exception_detail_defaults_to_the_status_phrase(client: TestClient) -> None:
    assert assert_problem(client.get("/plain"), 403, "Forbidden")["detail"] == "Forbidden"


def test_exception_handler_by_class_overrides_the_default() -> None:
    app = build_app()

    @app.exception_handler(ValueError)
    async def on_value(request: Request, exc: ValueError) -> Response:
        return JSONResponse({"error": str(exc), "path": request.path}, status_code=409)

    client = TestClient(app)
    response = client.get("/value")
    assert response.status_code == 409
    assert response.json() == {"error": "bad value", "path": "/value"}


def test_exception_handler_for_validation_errors() -> None:
    app = build_app()

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        return JSONResponse({"bad": [e["loc"] for e in exc.errors()]}, status_code=400)

    response = TestClient(app).get("/items/1?limit=x")
    assert response.status_code == 400
    assert response.json() == {"bad": [["query", "limit"]]}


def test_exception_handler_by_status_also_covers_unknown_paths() -> None:
    app = build_app()

    @app.exception_handler(404)
    def not_found(request: Request, exc: HTTPException) -> Response:
        return PlainTextResponse(f"nothing at {request.path}", status_code=404)

    client = TestClient(app)
    response = client.get("/missing/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "nothing at /missing/page"
    # Other statuses keep their default handler.
    assert_problem(client.get("/plain"), 403, "Forbidden")


def test_exception_handler_by_status_for_405_and_500() -> None:
    app = build_app()

    @app.exception_handler(405)
    def not_allowed(request: Request, exc: HTTPException) -> Response:
        assert exc.headers is not None
        return PlainTextResponse("allowed: " + exc.headers["Allow"], status_code=405)

    @app.exception_handler(500)
    def crashed(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"oops ({type(exc).__name__})", status_code=500)

    client = TestClient(app, raise_server_exceptions=False)
    assert client.put("/items").text == "allowed: POST"
    response = client.get("/crash")
    assert (response.status_code, response.text) == (500, "oops (RuntimeError)")


def test_exception_handlers_given_to_the_constructor() -> None:
    def on_key(request: Request, exc: KeyError) -> Response:
        return PlainTextResponse("missing key", status_code=400)

    app = Lanner(exception_handlers={KeyError: on_key})

    @app.get("/")
    async def index() -> None:
        raise KeyError("k")

    assert TestClient(app).get("/").text == "missing key"


def test_a_custom_handler_that_raises_becomes_a_plain_500() -> None:
    app = build_app(debug=False)

    @app.exception_handler(ValueError)
    def broken(request: Request, exc: ValueError) -> Response:
        raise RuntimeError("handler secret")

    response = TestClient(app, raise_server_exceptions=False).get("/value")
    body = assert_problem(response, 500, "Internal Server Error")
    assert body["detail"] == "The server could not complete the request."
    assert "handler secret" not in response.text


def test_a_custom_handler_returning_no_response_becomes_a_500() -> None:
    app = build_app(debug=False)
    app.add_exception_handler(ValueError, lambda request, exc: "not a response")
    client = TestClient(app, raise_server_exceptions=False)
    assert_problem(client.get("/value"), 500, "Internal Server Error")
    # The test client raises what made the 500: here, the handler returning no Response.
    with pytest.raises(TypeError, match="not a Response"):
        TestClient(app).get("/value")


def test_registering_a_handler_after_the_first_request_takes_effect() -> None:
    app = build_app()
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/value").status_code == 500
    app.add_exception_handler(ValueError, lambda request, exc: PlainTextResponse("late", 400))
    assert client.get("/value").text == "late"


# -- HTML error pages for browsers -----------------------------------------------------------------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def _page_app(debug: bool = False) -> Lanner:
    app = Lanner(freeze_gc=False, debug=debug)

    @app.get("/items/{item_id:int}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(409, "<b>item zero</b> is reserved")
        return {"item_id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.post("/only-post")
    async def only_post() -> str:
        return "ok"

    return app


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER, True),
        ("text/html", True),
        ("*/*", False),
        (None, False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/problem+json;q=1", False),
        ("text/html;q=bogus", False),
        ("text/html, " + "x" * 5000, False),
    ],
)
def test_the_accept_header_decides_between_a_page_and_a_problem(accept: str | None, html: bool) -> None:
    client = TestClient(_page_app())
    headers = {"accept": accept} if accept is not None else {}
    for path, status in (("/missing", 404), ("/items/0", 409), ("/items/abc", 404), ("/only-post", 405)):
        response = client.get(path, headers=headers)
        assert response.status_code == status
        expected = "text/html; charset=utf-8" if html else PROBLEM_JSON
        assert response.headers["content-type"] == expected, (path, accept)


def test_an_html_error_page_shows_status_and_escaped_detail_but_no_internals() -> None:
    client = TestClient(_page_app(), raise_server_exceptions=False)
    page = client.get("/items/0", headers={"accept": BROWSER})
    assert "<h1>409 Conflict</h1>" in page.text
    assert "&lt;b&gt;item zero&lt;/b&gt; is reserved" in page.text
    assert "<b>" not in page.text
    assert client.get("/only-post", headers={"accept": BROWSER}).headers["allow"] == "POST"
    crash = client.get("/boom", headers={"accept": BROWSER})
    assert crash.status_code == 500
    assert "secret internals" not in crash.text and "Traceback" not in crash.text
    head = client.head("/missing", headers={"accept": BROWSER})
    assert (head.status_code, head.content) == (404, b"")


def test_the_debug_500_page_shows_the_traceback_only_with_debug_on() -> None:
    page = TestClient(_page_app(debug=True), raise_server_exceptions=False).get(
        "/boom", headers={"accept": BROWSER}
    )
    assert page.status_code == 500
    assert "RuntimeError: secret internals" in page.text
    assert "Traceback (most recent call last)" in page.text
    quiet = TestClient(_page_app(debug=False), raise_server_exceptions=False).get(
        "/boom", headers={"accept": BROWSER, "x-debug": "1"}
    )
    assert "Traceback" not in quiet.text


def test_a_validation_error_page_lists_the_fields() -> None:
    app = Lanner(freeze_gc=False)

    @app.get("/search")
    async def search(limit: int) -> int:
        return limit

    page = TestClient(app).get("/search?limit=x", headers={"accept": BROWSER})
    assert page.status_code == 422
    assert "<code>query.limit</code>" in page.text


def test_a_status_handler_can_render_its_own_page_for_browsers() -> None:
    app = _page_app()

    @app.exception_handler(404)
    def not_found(request: Request, exc: HTTPException) -> Response:
        return Response("<p>Lost? Try the <a href='/'>home page</a>.</p>", 404, media_type="text/html")

    response = TestClient(app).get("/missing", headers={"accept": BROWSER})
    assert (response.status_code, response.text) == (404, "<p>Lost? Try the <a href='/'>home page</a>.</p>")


# -- the public default handlers -------------------------------------------------------------------


def _same(a: Response, b: Response) -> None:
    assert (a.status_code, a.raw_headers, a.body) == (b.status_code, b.raw_headers, b.body)


@pytest.mark.parametrize("accept", [None, BROWSER])
@pytest.mark.anyio
async def test_public_handlers_answer_like_the_defaults(accept: str | None) -> None:
    from lanner.errors import (
        _http_exception,
        _validation_error,
        http_exception_handler,
        request_validation_exception_handler,
    )

    request = make_request()
    if accept is not None:
        request.scope["headers"] = [(b"accept", accept.encode())]
    for exc in (HTTPException(418, {"why": "tea"}, headers={"X-Kettle": "on"}), HTTPException(204)):
        _same(await http_exception_handler(request, exc), _http_exception(request, exc))
    invalid = RequestValidationError([{"loc": ["query", "q"], "msg": "Field required", "type": "missing"}])
    _same(await request_validation_exception_handler(request, invalid), _validation_error(request, invalid))


def test_a_custom_handler_can_fall_back_to_the_default_ones() -> None:
    """FastAPI's docs_src/handling_errors/tutorial006 pattern: log, then answer as usual."""
    from lanner.errors import http_exception_handler, request_validation_exception_handler

    seen: list[str] = []
    app = build_app()

    @app.exception_handler(HTTPException)
    async def custom_http_exception_handler(request: Request, exc: HTTPException) -> Response:
        seen.append(f"HTTP error: {exc.status_code}")
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_exception_handler(request: Request, exc: RequestValidationError) -> Response:
        seen.append(f"invalid: {len(exc.errors())}")
        return await request_validation_exception_handler(request, exc)

    client = TestClient(app)
    body = assert_problem(client.get("/teapot"), 418, "I'm a Teapot")
    assert body["detail"] == {"reason": "short and stout", "codes": [1, 2]}
    assert_problem(client.get("/missing"), 404, "Not Found")
    assert client.get("/items/1?limit=x").json()["errors"][0]["loc"] == ["query", "limit"]
    assert seen == ["HTTP error: 418", "HTTP error: 404", "invalid: 1"]


def test_registering_the_public_http_handler_keeps_the_prebuilt_404() -> None:
    from lanner.errors import http_exception_handler, request_validation_exception_handler

    handlers = ExceptionHandlers()
    handlers.add(HTTPException, http_exception_handler)
    handlers.add(RequestValidationError, request_validation_exception_handler)
    assert handlers.answers_by_default(HTTPException(404))
    # A 422 status handler still claims validation errors answered by the public default.
    handlers.add(422, lambda request, exc: PlainTextResponse("nope", 422))
    assert handlers.lookup(RequestValidationError([])) is not request_validation_exception_handler


# -- recording the exception behind a 500 ---------------------------------------------------------


def _recorded(app: Lanner, path: str, **options: Any) -> tuple[int, Any]:
    """Send GET `path` to `app` in-process; return the status and what the scope recorded."""
    import anyio

    from lanner.errors import SERVER_EXCEPTION_KEY

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("testclient", 1),
        "server": ("testserver", 80),
        **options,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return sent[0]["status"], scope.get(SERVER_EXCEPTION_KEY)


def test_an_unhandled_exception_is_recorded_in_the_scope() -> None:
    app = build_app()
    status, recorded = _recorded(app, "/crash")
    assert status == 500
    assert isinstance(recorded, RuntimeError) and "hunter2" in str(recorded)


@pytest.mark.parametrize("path", ["/items/1", "/teapot", "/items/x", "/missing", "/items/1?limit=x"])
def test_nothing_is_recorded_for_answers_that_are_not_server_errors(path: str) -> None:
    path, _, query = path.partition("?")
    status, recorded = _recorded(build_app(), path, query_string=query.encode())
    assert status < 500
    assert recorded is None


def test_an_exception_a_class_handler_claims_is_not_recorded() -> None:
    app = build_app()
    app.add_exception_handler(ValueError, lambda request, exc: PlainTextResponse("handled", 400))
    assert _recorded(app, "/value") == (400, None)


def test_a_catch_all_handler_still_records_like_starlettes_server_error_middleware() -> None:
    for key in (Exception, 500):
        app = build_app()
        app.add_exception_handler(key, lambda request, exc: PlainTextResponse("custom 500", 500))
        status, recorded = _recorded(app, "/crash")
        assert status == 500 and isinstance(recorded, RuntimeError), key


def test_a_failing_handler_records_its_own_exception() -> None:
    app = build_app()

    def broken(request: Request, exc: ValueError) -> Response:
        raise KeyError("handler bug")

    app.add_exception_handler(ValueError, broken)
    status, recorded = _recorded(app, "/value")
    assert status == 500 and isinstance(recorded, KeyError)


def test_middleware_failures_are_recorded_by_the_error_boundary() -> None:
    app = build_app()

    def failing_middleware(inner: Any) -> Any:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            raise LookupError("middleware bug")

        return middleware

    app.add_middleware(failing_middleware)
    status, recorded = _recorded(app, "/items/1")
    assert status == 500 and isinstance(recorded, LookupError)


@pytest.mark.anyio
async def test_an_exception_coming_back_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A middleware re-raising the exception behind a 500 makes `respond` see it twice."""
    from lanner.errors import SERVER_EXCEPTION_KEY

    handlers = ExceptionHandlers()
    request = make_request()
    error = RuntimeError("once")
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        first = await handlers.respond(request, error)
        del request.scope[SERVER_EXCEPTION_KEY]  # what a middleware's call_next does
        second = await handlers.respond(request, error)
    assert first.status_code == second.status_code == 500
    assert request.scope[SERVER_EXCEPTION_KEY] is error
    assert len([r for r in caplog.records if r.exc_info and r.exc_info[1] is error]) == 1
    with caplog.at_level(logging.ERROR, logger="lanner.error"):
        await handlers.respond(request, RuntimeError("another"))
    assert len(caplog.records) == 2
