"""lanner on AWS Lambda through Mangum (``pip install 'lanner[aws]'``): the app runs unchanged.

Mangum turns a Lambda event into one ASGI request (and runs the app's lifespan around it), then
turns the response into the dict Lambda returns. Two event shapes reach an HTTP function today:
API Gateway's HTTP API (payload format 2.0) and a Lambda Function URL, which uses the same 2.0
format with its own domain name. The events below follow AWS's documented examples; nothing here
talks to AWS.
"""

import asyncio
import base64
import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from mangum import Mangum
from pydantic import BaseModel

from lanner import Cookie, Header, HTTPException, Lanner, Query, Request
from lanner.responses import JSONResponse, Response

# A 1x1 transparent PNG: a binary body, which Lambda only carries base64-encoded.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)

lifespan_runs: list[str] = []


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


def create_app() -> Lanner:
    @asynccontextmanager
    async def lifespan(app: Lanner) -> AsyncIterator[dict[str, Any]]:
        lifespan_runs.append("startup")
        yield {"greeting": "hello from startup", "prices": {"1": 9.5}}
        lifespan_runs.append("shutdown")

    app = Lanner(lifespan=lifespan)

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, Any]:
        return {"message": request.state.greeting, "path": request.url.path}

    @app.get("/items/{item_id}")
    async def read_item(
        request: Request, item_id: int, q: str | None = None, limit: Annotated[int, Query(le=100)] = 10
    ) -> dict[str, Any]:
        price = request.state.prices.get(str(item_id))
        if price is None:
            raise HTTPException(404, f"no item {item_id}")
        return {"item_id": item_id, "q": q, "limit": limit, "price": price}

    @app.post("/items", status_code=201)
    async def create_item(item: Item) -> dict[str, Any]:
        return {"created": item.model_dump(), "total": round(item.price * 1.2, 2)}

    @app.get("/me")
    async def me(
        session_id: Annotated[str | None, Cookie()] = None,
        theme: Annotated[str, Cookie()] = "light",
        user_agent: Annotated[str | None, Header()] = None,
        x_tenant: Annotated[str | None, Header()] = None,
    ) -> Response:
        response = JSONResponse(
            {"session_id": session_id, "theme": theme, "user_agent": user_agent, "tenant": x_tenant},
            headers={"X-Served-By": "lanner", "Cache-Control": "no-store"},
        )
        response.set_cookie("visited", "yes", httponly=True, secure=True, samesite="lax")
        response.set_cookie("theme", "dark", max_age=3600)
        return response

    @app.get("/pixel.png")
    async def pixel() -> Response:
        return Response(PNG, media_type="image/png")

    return app


# -- events -------------------------------------------------------------------------------------


def http_api_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: bytes | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format version 2.0 (route ``$default``)."""
    params: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        params[key] = f"{params[key]},{value}" if key in params else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "accept-encoding": "gzip, deflate, br",
            "content-length": str(len(body or b"")),
            "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e",
            "x-forwarded-for": "205.255.255.176",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r3pmxmplak",
            "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
            "domainPrefix": "r3pmxmplak",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "205.255.255.176",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "10/Mar/2020:05:16:23 +0000",
            "timeEpoch": 1583817383220,
        },
        "isBase64Encoded": base64_body,
    }
    if params:
        event["queryStringParameters"] = params
    if cookies:
        event["cookies"] = cookies
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    return event


def function_url_event(method: str, path: str, **options: Any) -> dict[str, Any]:
    """A Lambda Function URL event: the 2.0 format, with the URL's own domain and no stage."""
    event = http_api_event(method, path, **options)
    url_id = "a2mxmplzcxwxmbcz4zvh3ovjfq0mmuah"
    domain = f"{url_id}.lambda-url.us-east-2.on.aws"
    event["headers"]["host"] = domain
    context = event["requestContext"]
    context.update(
        {
            "apiId": url_id,
            "domainName": domain,
            "domainPrefix": url_id,
            "requestId": "2bd6c7e8-6c73-4a9b-8d4b-0c1fbd7a3c21",
            "authorizer": {"iam": None},
        }
    )
    return event


class LambdaContext:
    """The attributes of the context object Lambda passes to a Python handler."""

    function_name = "bookshelf"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:bookshelf"
    memory_limit_in_mb = 512
    aws_request_id = "7f6a1f1e-3d4b-4d4e-9b0a-1d2c3b4a5f60"
    log_group_name = "/aws/lambda/bookshelf"
    log_stream_name = "2026/12/04/[$LATEST]abcdef0123456789"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


EVENTS = {"http-api": http_api_event, "function-url": function_url_event}


@pytest.fixture(autouse=True)
def event_loop_for_mangum() -> Any:
    """Mangum runs on the thread's current event loop and never closes it: give it one we close."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(params=sorted(EVENTS))
def make_event(request: pytest.FixtureRequest) -> Any:
    return EVENTS[request.param]


@pytest.fixture
def handler() -> Mangum:
    lifespan_runs.clear()
    return Mangum(create_app(), lifespan="on")


def invoke(handler: Mangum, event: dict[str, Any]) -> dict[str, Any]:
    # Mangum may keep references into the event; a copy keeps each test's event pristine.
    result = handler(copy.deepcopy(event), LambdaContext())
    assert isinstance(result, dict)
    return result


def body_of(result: dict[str, Any]) -> bytes:
    body: str = result.get("body", "")
    return base64.b64decode(body) if result["isBase64Encoded"] else body.encode()


# -- tests --------------------------------------------------------------------------------------


def test_the_events_are_the_two_documented_shapes() -> None:
    api = http_api_event("GET", "/hello")
    url = function_url_event("GET", "/hello")
    for event in (api, url):
        assert event["version"] == "2.0" and event["requestContext"]["http"]["method"] == "GET"
    assert api["requestContext"]["domainName"].endswith(".execute-api.us-east-2.amazonaws.com")
    assert url["requestContext"]["domainName"].endswith(".lambda-url.us-east-2.on.aws")
    assert url["headers"]["host"] == url["requestContext"]["domainName"]


def test_json_route_sees_the_lifespan_state(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("GET", "/hello"))
    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "application/json"
    assert result["isBase64Encoded"] is False
    assert json.loads(body_of(result)) == {"message": "hello from startup", "path": "/hello"}
    # lifespan="on": Mangum runs startup and shutdown around the invocation.
    assert lifespan_runs == ["startup", "shutdown"]
    assert "cookies" not in result


def test_the_same_handler_serves_many_invocations(handler: Mangum, make_event: Any) -> None:
    # A warm Lambda container reuses the handler (and the app) for every later event.
    for item_id in (1, 1, 1):
        result = invoke(handler, make_event("GET", f"/items/{item_id}", query="q=warm"))
        assert result["statusCode"] == 200
        assert json.loads(body_of(result))["q"] == "warm"
    assert lifespan_runs == ["startup", "shutdown"] * 3


def test_path_and_query_parameters_are_typed(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("GET", "/items/1", query="q=red%20shoes&limit=5"))
    assert result["statusCode"] == 200
    assert json.loads(body_of(result)) == {"item_id": 1, "q": "red shoes", "limit": 5, "price": 9.5}


def test_invalid_query_is_a_422_problem(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("GET", "/items/1", query="limit=1000"))
    assert result["statusCode"] == 422
    assert result["headers"]["content-type"].startswith("application/problem+json")
    problem = json.loads(body_of(result))
    assert problem["status"] == 422
    assert "limit" in json.dumps(problem)


def test_post_body_is_validated(handler: Mangum, make_event: Any) -> None:
    item = {"name": "lamp", "price": 10.0, "tags": ["home"]}
    result = invoke(
        handler,
        make_event(
            "POST", "/items", headers={"content-type": "application/json"}, body=json.dumps(item).encode()
        ),
    )
    assert result["statusCode"] == 201
    assert json.loads(body_of(result)) == {"created": item, "total": 12.0}

    bad = invoke(
        handler,
        make_event("POST", "/items", headers={"content-type": "application/json"}, body=b'{"name": "lamp"}'),
    )
    assert bad["statusCode"] == 422
    assert "price" in body_of(bad).decode()


def test_base64_encoded_request_body(handler: Mangum, make_event: Any) -> None:
    # API Gateway and Function URLs base64-encode a body they do not consider text.
    item = {"name": "caf\u00e9", "price": 2.5}
    event = make_event(
        "POST",
        "/items",
        headers={"content-type": "application/json"},
        body=json.dumps(item, ensure_ascii=False).encode(),
        base64_body=True,
    )
    result = invoke(handler, event)
    assert result["statusCode"] == 201
    assert json.loads(body_of(result))["created"]["name"] == "caf\u00e9"


def test_cookies_and_headers_both_ways(handler: Mangum, make_event: Any) -> None:
    event = make_event(
        "GET",
        "/me",
        headers={"x-tenant": "acme"},
        cookies=["session_id=abc123", "theme=blue"],
    )
    result = invoke(handler, event)
    assert result["statusCode"] == 200
    assert json.loads(body_of(result)) == {
        "session_id": "abc123",
        "theme": "blue",
        "user_agent": "curl/8.5.0",
        "tenant": "acme",
    }
    headers = result["headers"]
    assert headers["x-served-by"] == "lanner"
    assert headers["cache-control"] == "no-store"
    # Payload 2.0 returns cookies as a top-level list, never as a set-cookie header.
    assert "set-cookie" not in headers
    cookies = result["cookies"]
    assert len(cookies) == 2
    visited = next(c for c in cookies if c.startswith("visited="))
    theme = next(c for c in cookies if c.startswith("theme="))
    assert visited.startswith("visited=yes;")
    assert {"httponly", "secure", "samesite=lax"} <= {p.strip().lower() for p in visited.split(";")}
    assert theme.startswith("theme=dark;") and "Max-Age=3600" in theme


def test_binary_response_is_base64(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("GET", "/pixel.png", headers={"accept": "image/png"}))
    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "image/png"
    assert result["headers"]["content-length"] == str(len(PNG))
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == PNG


def test_unknown_path_is_a_404_problem(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("GET", "/nowhere"))
    assert result["statusCode"] == 404
    assert result["headers"]["content-type"].startswith("application/problem+json")
    assert json.loads(body_of(result))["status"] == 404

    missing = invoke(handler, make_event("GET", "/items/7"))
    assert missing["statusCode"] == 404
    assert json.loads(body_of(missing))["detail"] == "no item 7"


def test_wrong_method_is_a_405_with_allow(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("DELETE", "/hello"))
    assert result["statusCode"] == 405
    assert "GET" in result["headers"]["allow"]


def test_head_request_has_no_body(handler: Mangum, make_event: Any) -> None:
    result = invoke(handler, make_event("HEAD", "/hello"))
    assert result["statusCode"] == 200
    assert body_of(result) == b""


def test_lifespan_auto_also_works() -> None:
    lifespan_runs.clear()
    handler = Mangum(create_app())  # the default, lifespan="auto"
    result = invoke(handler, http_api_event("GET", "/hello"))
    assert result["statusCode"] == 200
    assert json.loads(body_of(result))["message"] == "hello from startup"
    assert lifespan_runs == ["startup", "shutdown"]


def test_problem_documents_as_text_with_their_mime_type() -> None:
    # Mangum base64-encodes any type outside its text list, problem+json included; Lambda decodes
    # it again, so the client sees the same bytes. Listing the type keeps the body readable in logs.
    plain = invoke(Mangum(create_app(), lifespan="off"), http_api_event("GET", "/nowhere"))
    assert plain["isBase64Encoded"] is True
    handler = Mangum(
        create_app(), lifespan="off", text_mime_types=["application/json", "application/problem+json"]
    )
    result = invoke(handler, http_api_event("GET", "/nowhere"))
    assert result["statusCode"] == 404
    assert result["isBase64Encoded"] is False
    assert json.loads(result["body"]) == json.loads(body_of(plain))
