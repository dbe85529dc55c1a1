"""WebSocket routes: parameters, dependencies and their cleanup, refused handshakes, close codes."""


import logging
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from lanner import (
    APIKeyHeader,
    Cookie,
    Depends,
    Header,
    HTTPException,
    Lanner,
    Query,
    Request,
    Router,
    Session,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
)
from lanner.exceptions import RouteConflictError
from lanner.testing import TestClient, WebSocketDenialResponse


def test_path_query_header_and_cookie_parameters_are_typed() -> None:
    app = Lanner()

    @app.websocket("/rooms/{room:int}")
    async def room(
        ws: WebSocket,
        room: int,
        limit: Annotated[int, Query(ge=1)] = 10,
        x_token: Annotated[str | None, Header()] = None,
        sid: Annotated[str | None, Cookie()] = None,
    ) -> None:
        await ws.accept()
        await ws.send_json({"room": room, "limit": limit, "token": x_token, "sid": sid})

    client = TestClient(app, cookies={"sid": "abc"})
    with client.websocket_connect("/rooms/7?limit=3", headers={"X-Token": "t"}) as ws:
        assert ws.receive_json() == {"room": 7, "limit": 3, "token": "t", "sid": "abc"}


def test_invalid_parameters_refuse_the_handshake_with_a_422_problem() -> None:
    app = Lanner()

    @app.websocket("/items")
    async def items(ws: WebSocket, limit: Annotated[int, Query(ge=1)]) -> None:
        await ws.accept()

    client = TestClient(app)
    with pytest.raises(WebSocketDenialResponse) as caught, client.websocket_connect("/items?limit=0"):
        pass
    response = caught.value
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]
    # A test written for a close sees one: the refusal is a WebSocketDisconnect with 1008.
    assert isinstance(response, WebSocketDisconnect)
    assert response.code == 1008


def test_unknown_paths_refuse_the_handshake_with_404() -> None:
    app = Lanner()
    with pytest.raises(WebSocketDenialResponse) as caught, TestClient(app).websocket_connect("/nowhere"):
        pass
    assert caught.value.status_code == 404
    assert caught.value.json()["title"] == "Not Found"


def test_without_the_http_response_extension_a_refusal_is_a_1008_close() -> None:
    app = Lanner()

    @app.websocket("/items")
    async def items(ws: WebSocket, limit: int) -> None:
        await ws.accept()

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    import asyncio

    scope = {"type": "websocket", "path": "/items", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "websocket.close"
    assert sent[0]["code"] == 1008
    assert "limit" in sent[0]["reason"]


def test_yield_dependencies_are_cleaned_up_when_the_socket_closes() -> None:
    app = Lanner()
    events: list[str] = []

    async def database() -> AsyncIterator[str]:
        events.append("open")
        try:
            yield "db"
        finally:
            events.append("close")

    def user(token: Annotated[str, Query()]) -> Iterator[str]:
        events.append(f"user {token}")
        yield token.upper()
        events.append("user done")

    @app.websocket("/ws")
    async def ws_route(
        ws: WebSocket,
        db: Annotated[str, Depends(database)],
        name: Annotated[str, Depends(user)],
    ) -> None:
        await ws.accept()
        await ws.send_text(f"{db} {name}")
        await ws.receive_text()  # until the client leaves
        events.append("never")

    with TestClient(app).websocket_connect("/ws?token=ada") as ws:
        assert ws.receive_text() == "db ADA"
        assert events == ["open", "user ada"]
    assert events == ["open", "user ada", "user done", "close"]


def test_a_handler_exception_closes_with_1011_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = Lanner()
    cleaned: list[bool] = []

    async def resource() -> AsyncIterator[None]:
        try:
            yield
        finally:
            cleaned.append(True)

    @app.websocket("/boom")
    async def boom(ws: WebSocket, _: Annotated[None, Depends(resource)]) -> None:
        await ws.accept()
        await ws.receive_text()
        raise ValueError("bad state")

    client = TestClient(app)
    with caplog.at_level(logging.ERROR, logger="lanner.error"), client.websocket_connect("/boom") as ws:
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_text()
    assert caught.value.code == 1011
    assert cleaned == [True]
    assert "Exception in WebSocket handler for /boom" in caplog.text
    assert "ValueError: bad state" in caplog.text


def test_an_exception_before_accept_refuses_with_500() -> None:
    app = Lanner()

    @app.websocket("/early")
    async def early(ws: WebSocket) -> None:
        raise RuntimeError("oops")

    with pytest.raises(WebSocketDenialResponse) as caught, TestClient(app).websocket_connect("/early"):
        pass
    assert caught.value.status_code == 500
    assert "oops" not in caught.value.text


def test_http_exceptions_refuse_before_accept_and_close_with_1008_after() -> None:
    app = Lanner()

    async def auth(token: Annotated[str | None, Query()] = None) -> str:
        if token != "secret":
            raise HTTPException(403, "bad token")
        return token

    @app.websocket("/private")
    async def private(ws: WebSocket, token: Annotated[str, Depends(auth)]) -> None:
        await ws.accept()
        await ws.receive_text()
        raise HTTPException(409, "conflict")

    client = TestClient(app)
    with pytest.raises(WebSocketDenialResponse) as caught, client.websocket_connect("/private"):
        pass
    assert caught.value.status_code == 403
    assert caught.value.json()["detail"] == "bad token"
    with client.websocket_connect("/private?token=secret") as ws:
        ws.send_text("x")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1008, "conflict")


def test_websocket_exception_closes_with_its_code() -> None:
    app = Lanner()

    @app.websocket("/policy")
    async def policy(ws: WebSocket) -> None:
        await ws.accept()
        raise WebSocketException(4003, "forbidden room")

    with TestClient(app).websocket_connect("/policy") as ws, pytest.raises(WebSocketDisconnect) as caught:
        ws.receive_text()
    assert (caught.value.code, caught.value.reason) == (4003, "forbidden room")


def test_http_security_dependencies_read_the_handshake() -> None:
    app = Lanner()
    api_key = APIKeyHeader(name="X-API-Key")

    def who(request: Request) -> str:
        return request.headers["x-api-key"]

    @app.websocket("/secure")
    async def secure(
        ws: WebSocket, key: Annotated[str, Depends(api_key)], seen: Annotated[str, Depends(who)]
    ) -> None:
        await ws.accept()
        await ws.send_text(f"{key}/{seen}")

    client = TestClient(app)
    with client.websocket_connect("/secure", headers={"X-API-Key": "k1"}) as ws:
        assert ws.receive_text() == "k1/k1"
    with pytest.raises(WebSocketDenialResponse) as caught, client.websocket_connect("/secure"):
        pass
    assert caught.value.status_code == 401


def test_app_scoped_dependencies_start_with_the_app() -> None:
    events: list[str] = []

    async def pool() -> AsyncIterator[str]:
        events.append("pool up")
        yield "pool"
        events.append("pool down")

    app = Lanner()

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket, p: Annotated[str, Depends(pool, scope="app")]) -> None:
        await ws.accept()
        await ws.send_text(p)

    with TestClient(app) as client:
        assert events == ["pool up"]
        for _ in range(2):
            with client.websocket_connect("/ws") as ws:
                assert ws.receive_text() == "pool"
    assert events == ["pool up", "pool down"]


def test_the_session_can_be_read_from_the_handshake_cookie() -> None:
    app = Lanner(secret_key="s" * 32)

    @app.post("/login")
    async def login(session: Session) -> dict[str, str]:
        session["user"] = "ada"
        return {}

    @app.websocket("/me")
    async def me(ws: WebSocket, session: Session) -> None:
        await ws.accept()
        await ws.send_text(session.get("user", "nobody"))

    client = TestClient(app)
    with client.websocket_connect("/me") as ws:
        assert ws.receive_text() == "nobody"
    client.post("/login")
    with client.websocket_connect("/me") as ws:
        assert ws.receive_text() == "ada"


def test_a_session_needs_a_secret_key() -> None:
    app = Lanner()

    @app.websocket("/me")
    async def me(ws: WebSocket, session: Session) -> None:
        await ws.accept()

    with pytest.raises(WebSocketDenialResponse) as caught, TestClient(app).websocket_connect("/me"):
        pass
    assert caught.value.status_code == 500


def test_router_websocket_routes_are_included_with_the_prefix_and_dependencies() -> None:
    calls: list[str] = []

    def audit() -> None:
        calls.append("audit")

    router = Router(prefix="/chat", name="chat", dependencies=[Depends(audit)])

    @router.websocket("/{room}")
    async def room(ws: WebSocket, room: str) -> None:
        await ws.accept()
        await ws.send_text(ws.url_for("chat.room", room="x"))

    app = Lanner()
    app.include_router(router, prefix="/v1")
    assert app.url_path_for("chat.room", room="a") == "/v1/chat/a"
    with TestClient(app).websocket_connect("/v1/chat/lobby") as ws:
        assert ws.receive_text() == "/v1/chat/x"
    assert calls == ["audit"]


def test_an_http_route_and_a_websocket_route_may_share_a_path() -> None:
    app = Lanner()

    @app.get("/live")
    async def page() -> dict[str, str]:
        return {"kind": "http"}

    @app.websocket("/live")
    async def live(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("ws")

    client = TestClient(app)
    assert client.get("/live").json() == {"kind": "http"}
    with client.websocket_connect("/live") as ws:
        assert ws.receive_text() == "ws"


def test_registration_mistakes_are_refused() -> None:
    app = Lanner()

    async def handler(ws: WebSocket) -> None: ...

    app.websocket("/a")(handler)
    with pytest.raises(RouteConflictError):
        app.websocket("/a")(handler)
    with pytest.raises(TypeError, match="unknown option"):
        app.websocket("/b", status_code=200)(handler)
    with pytest.raises(ValueError, match="on_invalid"):
        app.websocket("/c", on_invalid="ignore")(handler)
    with pytest.raises(ValueError, match="must start with '/'"):
        app.websocket("d")(handler)


def test_a_websocket_parameter_on_an_http_route_fails_at_compile_time() -> None:
    app = Lanner()

    with pytest.raises(TypeError, match="needs a WebSocket route"):

        @app.get("/http")
        async def http(ws: WebSocket) -> None: ...


def test_a_body_parameter_on_a_websocket_route_fails_at_compile_time() -> None:
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str

    app = Lanner()

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket, item: Item) -> None: ...

    with pytest.raises(TypeError, match="no request body"):
        TestClient(app).get("/")


def test_a_websocket_through_middleware_and_mounts() -> None:
    inner = Lanner()

    @inner.websocket("/echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())

    seen: list[str] = []

    def middleware(app: Any) -> Any:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["type"])
            await app(scope, receive, send)

        return wrapped

    outer = Lanner()
    outer.mount("/inner", inner)
    outer.add_middleware(middleware)
    with TestClient(outer).websocket_connect("/inner/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
    assert seen == ["websocket"]


def test_dependency_overrides_apply_to_websocket_routes() -> None:
    app = Lanner()

    def real() -> str:
        return "real"

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket, value: Annotated[str, Depends(real)]) -> None:
        await ws.accept()
        await ws.send_text(value)

    app.dependency_overrides[real] = lambda: "fake"
    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "fake"


def test_a_response_parameter_on_a_websocket_route_fails_at_compile_time() -> None:
    from lanner import Response

    app = Lanner()

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket, response: Response) -> None: ...

    with pytest.raises(TypeError, match="no Response; send messages"):
        TestClient(app).get("/")


def test_a_dependency_setting_response_headers_serves_websocket_routes_too() -> None:
    from lanner import Depends, HTTPException, Response

    calls: list[int] = []

    def limited(response: Response) -> None:  # what an app-wide rate limit looks like
        calls.append(1)
        response.headers["RateLimit"] = f"r={3 - len(calls)}"
        if len(calls) > 2:
            raise HTTPException(429, "Too Many Requests")

    app = Lanner(dependencies=[Depends(limited)])

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hi")

    client = TestClient(app)
    for _ in range(2):
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "hi"
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.status_code == 429


def test_app_scoped_dependencies_start_on_first_use_without_a_lifespan() -> None:
    started: list[str] = []

    def pool() -> str:
        started.append("pool")
        return "pool"

    app = Lanner()

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket, p: Annotated[str, Depends(pool, scope="app")]) -> None:
        await ws.accept()
        await ws.send_text(p)

    client = TestClient(app)  # no `with`: no lifespan
    for _ in range(2):
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "pool"
    assert started == ["pool"]


def test_security_scopes_reach_a_websocket_dependency() -> None:
    from lanner import Security, SecurityScopes

    app = Lanner()

    def scoped(scopes: SecurityScopes) -> str:
        return scopes.scope_str

    @app.websocket("/ws")
    async def ws_route(
        ws: WebSocket, granted: Annotated[str, Security(scoped, scopes=["chat:read"])]
    ) -> None:
        await ws.accept()
        await ws.send_text(granted)

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "chat:read"


def test_an_http_connection_dependency_serves_both_kinds_of_route() -> None:
    from lanner.requests import HTTPConnection

    def who(conn: HTTPConnection) -> str:
        return f"{type(conn).__name__}:{conn.headers.get('x-user', '?')}:{conn.url.path}"

    app = Lanner()

    @app.get("/http")
    async def http(user: Annotated[str, Depends(who)]) -> str:
        return user

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket, user: Annotated[str, Depends(who)]) -> None:
        await ws.accept()
        await ws.send_text(user)

    client = TestClient(app, headers={"X-User": "ada"})
    assert client.get("/http").json() == "Request:ada:/http"
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "WebSocket:ada:/ws"
