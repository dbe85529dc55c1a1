import asyncio
import gc
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lanner.testing import TestClient

Scope = dict[str, Any]
Message = dict[str, Any]


async def read_body(receive: Any) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, messages


async def send_json(send: Any, status: int, data: Any, headers: list[Any] | None = None) -> None:
    payload = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body, messages = await read_body(receive)
    await send_json(
        send,
        200,
        {
            "asgi": scope["asgi"],
            "http_version": scope["http_version"],
            "method": scope["method"],
            "scheme": scope["scheme"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "root_path": scope["root_path"],
            "query_string": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "client": list(scope["client"]),
            "server": list(scope["server"]),
            "extensions": scope["extensions"],
            "state": scope.get("state"),
            "types": {
                "raw_path": type(scope["raw_path"]).__name__,
                "query_string": type(scope["query_string"]).__name__,
            },
            "body": body.decode("latin-1"),
            "chunks": [m.get("body", b"").decode("latin-1") for m in messages],
            "more_body": [m.get("more_body", False) for m in messages],
        },
    )


def test_get_scope_fields() -> None:
    with TestClient(echo_app) as client:
        response = client.get("/a%20b/c", params={"q": "x y", "n": "1"}, headers={"X-Thing": "1"})
    assert response.status_code == 200
    data = response.json()
    assert data["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert data["http_version"] == "1.1"
    assert data["method"] == "GET"
    assert data["scheme"] == "http"
    assert data["path"] == "/a b/c"
    assert data["raw_path"] == "/a%20b/c"
    assert data["root_path"] == ""
    assert data["query_string"] == "q=x+y&n=1"
    assert data["types"] == {"raw_path": "bytes", "query_string": "bytes"}
    headers = dict(data["headers"])
    assert headers["host"] == "testserver"
    assert headers["x-thing"] == "1"
    assert "user-agent" in headers
    assert "accept" in headers
    assert all(name == name.lower() for name, _ in data["headers"])
    assert data["client"] == ["testclient", 50000]
    assert data["server"] == ["testserver", 80]
    assert data["extensions"] == {}
    assert data["state"] == {}
    assert data["body"] == ""
    assert data["more_body"] == [False]


def test_client_options_reach_scope() -> None:
    client = TestClient(
        echo_app,
        base_url="https://example.org:8443",
        root_path="/api",
        client=("10.0.0.1", 1234),
        headers={"X-Default": "yes"},
    )
    with client:
        data = client.get("/api/items").json()
    assert data["scheme"] == "https"
    assert data["server"] == ["example.org", 8443]
    assert data["root_path"] == "/api"
    assert data["path"] == "/api/items"
    assert data["client"] == ["10.0.0.1", 1234]
    headers = dict(data["headers"])
    assert headers["x-default"] == "yes"
    assert headers["host"] == "example.org:8443"


def test_https_default_port() -> None:
    with TestClient(echo_app, base_url="https://secure") as client:
        assert client.get("/").json()["server"] == ["secure", 443]


def test_post_json_body() -> None:
    with TestClient(echo_app) as client:
        response = client.post("/items?x=1", json={"name": "apple"})
    data = response.json()
    assert data["method"] == "POST"
    assert json.loads(data["body"]) == {"name": "apple"}
    assert data["query_string"] == "x=1"
    assert dict(data["headers"])["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods(method: str) -> None:
    with TestClient(echo_app) as client:
        response = client.request(method, "/thing", content=b"payload")
    assert response.json()["method"] == method
    assert response.json()["body"] == "payload"


def test_head_request() -> None:
    client = TestClient(echo_app)
    response = client.head("/")
    assert response.status_code == 200
    client.close()


def test_form_and_files() -> None:
    with TestClient(echo_app) as client:
        form = client.post("/form", data={"a": "1", "b": "two"}).json()
        upload = client.post("/upload", files={"f": ("hello.txt", b"hello world", "text/plain")})
    assert form["body"] == "a=1&b=two"
    assert "hello world" in upload.json()["body"]
    assert "multipart/form-data" in dict(upload.json()["headers"])["content-type"]


def test_streamed_request_body_keeps_chunks() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"one,"
        yield b"two,"
        yield b"three"

    with TestClient(echo_app) as client:
        data = client.post("/", content=chunks()).json()
    assert data["body"] == "one,two,three"
    assert data["chunks"] == ["one,", "two,", "three"]
    assert data["more_body"] == [True, True, False]


async def cookie_app(scope: Scope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await read_body(receive)
    headers = dict(scope["headers"])
    if scope["path"] == "/login":
        await send_json(send, 200, {}, [(b"set-cookie", b"session=abc123; Path=/")])
    else:
        cookie = headers.get(b"cookie", b"").decode()
        await send_json(send, 200, {"cookie": cookie})


def test_cookie_persistence() -> None:
    with TestClient(cookie_app) as client:
        assert client.get("/whoami").json() == {"cookie": ""}
        client.get("/login")
        assert client.cookies["session"] == "abc123"
        assert client.get("/whoami").json() == {"cookie": "session=abc123"}


def test_initial_cookies() -> None:
    with TestClient(cookie_app, cookies={"theme": "dark"}) as client:
        assert client.get("/whoami").json() == {"cookie": "theme=dark"}


async def redirect_app(scope: Scope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await read_body(receive)
    if scope["path"] == "/old":
        await send({"type": "http.response.start", "status": 307, "headers": [(b"location", b"/new")]})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send_json(send, 200, {"path": scope["path"]})


def test_redirects_followed_by_default() -> None:
    with TestClient(redirect_app) as client:
        response = client.get("/old")
    assert response.json() == {"path": "/new"}
    assert response.history[0].status_code == 307


def test_redirects_not_followed() -> None:
    with TestClient(redirect_app, follow_redirects=False) as client:
        response = client.get("/old")
    assert response.status_code == 307
    assert response.headers["location"] == "/new"


async def streaming_app(scope: Scope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await read_body(receive)
    await send({"type": "http.response.start", "status": 201, "headers": [(b"x-stream", b"yes")]})
    for part in (b"alpha ", b"beta ", b"gamma"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_streamed_response_chunks() -> None:
    with TestClient(streaming_app) as client:
        response = client.get("/")
        assert response.status_code == 201
        assert response.headers["x-stream"] == "yes"
        assert response.text == "alpha beta gamma"
        with client.stream("GET", "/") as streamed:
            assert b"".join(streamed.iter_bytes()) == b"alpha beta gamma"


async def disconnect_watching_app(scope: Scope, receive: Any, send: Any) -> None:
    """Streams a response while a second task listens for the client going away."""
    await read_body(receive)
    events: list[str] = scope["state"]["events"]

    async def watch() -> None:
        message = await receive()
        events.append(message["type"])

    watcher = asyncio.create_task(watch())
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for index in range(3):
        await asyncio.sleep(0)
        events.append(f"chunk{index}")
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
    events.append("last")
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    await watcher


def test_disconnect_only_after_response_complete() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["events"] = events
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await disconnect_watching_app(scope, receive, send)

    with TestClient(app) as client:
        assert client.get("/").text == "xxx"
    assert events == ["chunk0", "chunk1", "chunk2", "last", "http.disconnect"]


async def failing_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["path"] == "/late":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise ValueError("boom")


def test_exception_reraised() -> None:
    with TestClient(failing_app) as client, pytest.raises(ValueError, match="boom"):
        client.get("/")


def test_exception_reraised_without_context_manager() -> None:
    client = TestClient(failing_app)
    with pytest.raises(ValueError, match="boom"):
        client.get("/")
    client.close()


def test_exception_becomes_500() -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        response = client.get("/")
        assert response.status_code == 500
        assert response.text == "Internal Server Error"
        late = client.get("/late")
        assert late.status_code == 200
        assert late.text == "partial"


async def silent_app(scope: Scope, receive: Any, send: Any) -> None:
    await read_body(receive)


@pytest.mark.parametrize("raise_server_exceptions", [True, False])
def test_app_without_response(raise_server_exceptions: bool) -> None:
    with (
        TestClient(silent_app, raise_server_exceptions=raise_server_exceptions) as client,
        pytest.raises(RuntimeError, match="returned without sending a response"),
    ):
        client.get("/")


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "http.response.body", "body": b"x"}], "before the response start"),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.start", "status": 200},
            ],
            "twice",
        ),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b"x"},
                {"type": "http.response.body", "body": b"y"},
            ],
            "after the response ended",
        ),
        ([{"type": "websocket.accept"}], "Unexpected ASGI message"),
    ],
)
def test_protocol_errors(messages: list[Message], error: str) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)

    client = TestClient(app)
    with pytest.raises(RuntimeError, match=error):
        client.get("/")
    client.close()


def test_app_timeout() -> None:
    class QuickClient(TestClient):
        app_timeout = 0.05

    async def hanging_app(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    client = QuickClient(hanging_app)
    with pytest.raises(TimeoutError, match="did not finish"):
        client.get("/")
    client.close()


class LifespanApp:
    """Records lifespan and request events, and keeps a lock made on the startup loop."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.loops: set[int] = set()
        self.lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            self.events.append("startup")
            self.lock = asyncio.Lock()
            self.loops.add(id(asyncio.get_running_loop()))
            scope["state"]["db"] = {"connected": True}
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            self.events.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        await read_body(receive)
        state_on_entry = dict(scope["state"])
        scope["state"]["scratch"] = "per-request"
        assert self.lock is not None
        async with self.lock:
            self.events.append(f"request {scope['path']}")
            self.loops.add(id(asyncio.get_running_loop()))
        await send_json(send, 200, {"state": state_on_entry})


def test_lifespan_order_and_state() -> None:
    app = LifespanApp()
    client = TestClient(app)
    assert app.events == []
    with client:
        assert app.events == ["startup"]
        first = client.get("/one").json()
        second = client.get("/two").json()
        assert app.events == ["startup", "request /one", "request /two"]
    assert app.events == ["startup", "request /one", "request /two", "shutdown"]
    assert first["state"] == {"db": {"connected": True}}
    # Each request wrote "scratch" into its own copy: the next request does not see it.
    assert second["state"] == {"db": {"connected": True}}
    assert len(app.loops) == 1


def test_state_copy_is_shallow() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["items"] = []
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(dict(scope["state"]))
        scope["state"]["items"].append(scope["path"])
        scope["state"]["mine"] = True
        await send_json(send, 200, {})

    with TestClient(app) as client:
        client.get("/a")
        client.get("/b")
    assert "mine" not in seen[1]
    assert seen[1]["items"] == ["/a", "/b"]


def test_no_lifespan_without_context_manager() -> None:
    app = LifespanApp()
    app.lock = asyncio.Lock()
    client = TestClient(app)
    assert client.get("/x").json() == {"state": {}}
    client.close()
    assert app.events == ["request /x"]


def test_loop_is_shared_across_requests() -> None:
    loops: list[asyncio.AbstractEventLoop] = []
    threads: set[int] = set()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            loops.append(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        loops.append(asyncio.get_running_loop())
        threads.add(threading.get_ident())
        await send_json(send, 200, {})

    with TestClient(app) as client:
        for _ in range(3):
            client.get("/")
    assert len(loops) == 4
    assert all(loop is loops[0] for loop in loops)
    assert threads and threading.get_ident() not in threads
    assert loops[0].is_closed()


def test_loop_thread_starts_lazily_and_stops_on_close() -> None:
    threads: list[threading.Thread] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        threads.append(threading.current_thread())
        await send_json(send, 200, {})

    client = TestClient(app)
    assert threads == []
    client.get("/")
    client.get("/")
    assert threads[0] is threads[1]
    assert threads[0].is_alive()
    client.close()
    assert not threads[0].is_alive()


def test_startup_failed_message() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database is down"})

    client = TestClient(app)
    with pytest.raises(RuntimeError, match="database is down"), client:
        pass


def test_startup_failed_then_raises() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "nope"})
        raise KeyError("config")

    with pytest.raises(RuntimeError, match="nope") as info, TestClient(app):
        pass
    assert isinstance(info.value.__cause__, KeyError)


def test_startup_exception_reraised() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        raise LookupError("missing setting")

    with pytest.raises(LookupError, match="missing setting"), TestClient(app):
        pass


def test_client_closed_after_failed_startup() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "nope"})

    client = TestClient(app)
    with pytest.raises(RuntimeError, match="nope"), client:
        pass
    assert client.is_closed


def test_shutdown_failed() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "could not flush"})

    client = TestClient(app)
    with pytest.raises(RuntimeError, match="could not flush"), client:
        pass
    assert client.is_closed


def test_shutdown_exception_reraised() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"), TestClient(app):
        pass


def test_app_without_lifespan_support() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "only http"
        await send_json(send, 200, {"ok": True})

    with TestClient(app) as client:
        assert client.get("/").json() == {"ok": True}


def test_app_ignoring_lifespan() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send_json(send, 200, {"ok": True})

    with TestClient(app) as client:
        assert client.get("/").json() == {"ok": True}


def test_unexpected_lifespan_message() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200})

    with (
        pytest.raises(RuntimeError, match="Unexpected ASGI message during startup"),
        TestClient(app),
    ):
        pass


def test_client_cannot_reopen() -> None:
    client = TestClient(echo_app)
    with client:
        pass
    with pytest.raises(RuntimeError), client:
        pass


def test_is_an_httpx_client() -> None:
    client = TestClient(echo_app)
    assert isinstance(client, httpx.Client)
    assert client.app is echo_app
    assert str(client.base_url) == "http://testserver"
    client.close()


def test_not_collected_by_pytest() -> None:
    assert TestClient.__test__ is False  # type: ignore[attr-defined]


def test_startup_timeout_closes_client() -> None:
    class QuickClient(TestClient):
        app_timeout = 0.05

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await asyncio.Event().wait()

    client = QuickClient(app)
    with pytest.raises(TimeoutError, match="Lifespan startup"), client:
        pass
    assert client.is_closed


def test_unclosed_client_stops_its_thread_when_collected() -> None:
    threads: list[threading.Thread] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        threads.append(threading.current_thread())
        await send_json(send, 200, {})

    client = TestClient(app)
    client.get("/")
    del client
    gc.collect()
    assert not threads[0].is_alive()


def test_a_timeout_error_raised_by_the_app_is_not_taken_for_the_app_timeout() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        raise TimeoutError("the upstream service timed out")

    client = TestClient(app)
    with pytest.raises(TimeoutError, match=r"^the upstream service timed out$"):
        client.get("/")
    client.close()


def test_a_request_without_host_header_gets_the_url_host() -> None:
    client = TestClient(echo_app, base_url="http://example.test:8080")
    request = client.build_request("GET", "/path")
    del request.headers["host"]
    body = client.send(request).json()
    assert ["host", "example.test:8080"] in body["headers"]
    client.close()


def test_unexpected_message_during_shutdown() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.startup.complete"})

    with (
        pytest.raises(RuntimeError, match=r"during shutdown: 'lifespan\.startup\.complete'"),
        TestClient(app),
    ):
        pass


@pytest.mark.parametrize("phase", ["startup", "shutdown"])
def test_an_app_still_waiting_after_reporting_a_failure_does_not_hang_the_client(phase: str) -> None:
    cancelled: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        if phase == "shutdown":
            await send({"type": "lifespan.startup.complete"})
            await receive()
        await send({"type": f"lifespan.{phase}.failed", "message": f"{phase} broke"})
        try:
            await receive()  # nothing more will come
        except asyncio.CancelledError:
            cancelled.append(phase)
            raise

    client = TestClient(app)
    with pytest.raises(RuntimeError, match=f"^{phase} broke$") as raised, client:
        pass
    assert raised.value.__cause__ is None  # cancelled, the app raised nothing of its own
    assert cancelled == [phase]
    assert client.is_closed


def test_a_client_collected_on_its_own_loop_thread_stops_its_loop_without_joining_itself() -> None:
    loop_threads: list[threading.Thread] = []
    collected = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        loop_threads.append(threading.current_thread())
        await send_json(send, 200, {})

        def collect() -> None:
            gc.collect()  # runs the finalizer of the client, now garbage, in this very thread
            collected.set()

        asyncio.get_running_loop().call_later(0.05, collect)

    client = TestClient(app)
    client.get("/")
    client.cycle = client  # type: ignore[attr-defined]  # only the cycle collector can free it
    gc.disable()  # so that the main thread does not collect it first
    try:
        del client
        assert collected.wait(5)
    finally:
        gc.enable()
    [thread] = loop_threads
    thread.join(5)
    assert not thread.is_alive()


# -- exceptions a lanner app answered with a 500 ---------------------------------------------------


def _crashing_lanner_app() -> Any:
    from lanner import HTTPException, Lanner

    app = Lanner(freeze_gc=False)

    @app.get("/crash")
    async def crash() -> None:
        raise KeyError("handler's own")

    @app.get("/sync-crash")
    def sync_crash() -> None:
        raise ZeroDivisionError("sync")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418)

    @app.get("/ok")
    async def ok() -> str:
        return "fine"

    return app


def test_the_handlers_exception_reaches_the_test() -> None:
    client = TestClient(_crashing_lanner_app())
    with pytest.raises(KeyError, match="handler's own"):
        client.get("/crash")
    with pytest.raises(ZeroDivisionError):
        client.get("/sync-crash")
    # Answers the app chose itself are returned, and the client keeps working.
    assert client.get("/teapot").status_code == 418
    assert client.get("/ok").json() == "fine"


def test_the_500_is_returned_without_raise_server_exceptions() -> None:
    client = TestClient(_crashing_lanner_app(), raise_server_exceptions=False)
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "handler's own" not in response.text


def test_an_exception_recorded_by_any_asgi_app_is_raised() -> None:
    """The transport's scope is the app's: what the app records there is seen after the call."""
    recorded = OSError("recorded, not raised")
    scopes: list[Scope] = []

    async def recording_app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        scopes.append(scope)
        scope["lanner.server_exception"] = recorded
        await send_json(send, 500, {"error": True})

    with TestClient(recording_app) as client, pytest.raises(OSError) as caught:
        client.get("/")
    assert caught.value is recorded
    assert scopes[0]["lanner.server_exception"] is recorded
    with TestClient(recording_app, raise_server_exceptions=False) as client:
        assert client.get("/").json() == {"error": True}
    # Something else under the key (not an exception) is ignored.

    async def odd_app(scope: Scope, receive: Any, send: Any) -> None:
        scope["lanner.server_exception"] = "not an exception"
        await send_json(send, 200, {})

    assert TestClient(odd_app).get("/").status_code == 200


def test_the_key_is_lanners() -> None:
    from lanner import errors, testing

    assert testing._SERVER_EXCEPTION_KEY == errors.SERVER_EXCEPTION_KEY


# -- the User-Agent ---------------------------------------------------------------------------------


def test_default_user_agent_is_testclient() -> None:
    with TestClient(echo_app) as client:
        headers = dict(client.get("/").json()["headers"])
    assert headers["user-agent"] == "testclient"


@pytest.mark.parametrize(
    "headers",
    [
        {"User-Agent": "mine/1"},
        {"user-agent": "mine/1"},
        [("USER-AGENT", "mine/1")],
        httpx.Headers({"user-agent": "mine/1"}),
    ],
)
def test_a_user_agent_given_to_the_client_wins(headers: Any) -> None:
    with TestClient(echo_app, headers=headers) as client:
        sent = client.get("/").json()["headers"]
        assert [value for name, value in sent if name == "user-agent"] == ["mine/1"]
        per_request = client.get("/", headers={"User-Agent": "once"}).json()["headers"]
        assert dict(per_request)["user-agent"] == "once"


def test_other_default_headers_keep_the_testclient_user_agent() -> None:
    with TestClient(echo_app, headers={"X-Default": "yes"}) as client:
        headers = dict(client.get("/").json()["headers"])
    assert (headers["x-default"], headers["user-agent"]) == ("yes", "testclient")
