"""HTTPSRedirectMiddleware: 308 to https, never an open redirect, proxies trusted by address only."""

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest

from lanner import Lanner, Request, WebSocket
from lanner.middleware.https_redirect import HTTPSRedirectMiddleware
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware
from lanner.testing import TestClient, WebSocketDenialResponse
from lanner.types import Message, Scope
from tests.asgi_driver import send_raw

PROXY = ("127.0.0.1", 40000)
OUTSIDER = ("203.0.113.9", 5555)


class Counted:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []


def make_app(counter: Counted, **options: Any) -> Lanner:
    app = Lanner()

    @app.route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def anything(request: Request, path: str) -> dict[str, Any]:
        body = (await request.body()).decode()
        counter.calls.append({"method": request.method, "scheme": request.url.scheme, "body": body})
        return {"method": request.method, "path": path, "body": body, "url": str(request.url)}

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(str(ws.url))
        await ws.close()

    app.add_middleware(HTTPSRedirectMiddleware, **options)
    return app


def client_for(
    counter: Counted, peer: tuple[str, int] = OUTSIDER, base_url: str = "http://testserver", **options: Any
) -> TestClient:
    return TestClient(make_app(counter, **options), base_url=base_url, client=peer, follow_redirects=False)


def test_plain_http_gets_308_to_https_without_reaching_the_route() -> None:
    counter = Counted()
    with client_for(counter) as client:
        response = client.get("/items/7?sort=asc&x=%20y")
    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/items/7?sort=asc&x=%20y"
    assert response.content == b""
    assert counter.calls == []


def test_https_request_reaches_the_route() -> None:
    counter = Counted()
    with client_for(counter, base_url="https://testserver") as client:
        response = client.get("/a")
    assert response.status_code == 200
    assert response.json()["url"] == "https://testserver/a"
    assert len(counter.calls) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_redirect_keeps_method_and_body(method: str) -> None:
    counter = Counted()
    app = make_app(counter)
    with TestClient(app, client=OUTSIDER, follow_redirects=False) as client:
        first = client.request(method, "/submit", content=b"payload")
        assert first.status_code == 308
        assert first.headers["location"] == "https://testserver/submit"
        assert counter.calls == []
    with TestClient(app, client=OUTSIDER, follow_redirects=True) as client:
        followed = client.request(method, "/submit", content=b"payload")
    assert followed.status_code == 200
    assert followed.json()["method"] == method
    assert followed.json()["body"] == "payload"
    assert counter.calls == [{"method": method, "scheme": "https", "body": "payload"}]
    assert [r.status_code for r in followed.history] == [308]


def test_head_redirect_has_no_body() -> None:
    counter = Counted()
    with client_for(counter) as client:
        response = client.head("/a")
    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/a"
    assert response.content == b""


@pytest.mark.parametrize(
    ("host", "location"),
    [
        ("testserver:80", "https://testserver/p"),
        ("testserver:443", "https://testserver/p"),
        ("example.com:8080", "https://example.com:8080/p"),
        ("Example.COM", "https://example.com/p"),
        ("example.com.", "https://example.com/p"),
        ("[::1]:80", "https://[::1]/p"),
        ("[0:0::1]", "https://[::1]/p"),
        ("127.0.0.1:8000", "https://127.0.0.1:8000/p"),
    ],
)
def test_location_host_and_port(host: str, location: str) -> None:
    reply = send_raw(make_app(Counted()), "GET", "/p", host=host.encode())
    assert reply.status_code == 308
    assert reply.headers["location"] == location


# -- never an open redirect -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        b"evil.com/path",
        b"user:pass@evil.com",
        b"good.com@evil.com",
        b"evil.com\\@good.com",
        b"evil.com:99999",
        b"evil.com:",
        b"evil.com:8o",
        b"",
        b"evil .com",
        b"evil.com\x00",
        b"evil.com?x",
        b"evil.com#x",
        b"[::zz]",
        b"[evil.com]",
        b"%65vil.com",
        b"a" * 300,
        b"\xc3\xa9vil.com",
    ],
)
def test_malformed_host_gets_400_not_a_redirect(host: bytes) -> None:
    counter = Counted()
    reply = send_raw(make_app(counter), "GET", "/p", host=host)
    assert reply.status_code == 400
    assert "location" not in reply.headers
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == "Invalid Host header"
    assert counter.calls == []


def test_missing_or_duplicate_host_gets_400() -> None:
    app = make_app(Counted())
    assert send_raw(app, "GET", "/p", host=None).status_code == 400
    duplicate = send_raw(app, "GET", "/p", host=b"good.com", headers=[(b"host", b"evil.com")])
    assert duplicate.status_code == 400
    assert "location" not in duplicate.headers


def test_browser_gets_an_html_400() -> None:
    reply = send_raw(
        make_app(Counted()), "GET", "/p", host=b"a@b", headers=[(b"accept", b"text/html,*/*;q=0.8")]
    )
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/html")
    assert b"400 Bad Request" in reply.content


@pytest.mark.parametrize(
    ("raw_path", "query", "location"),
    [
        (b"//evil.com", b"", "https://testserver//evil.com"),
        (b"//evil.com/%2F..", b"", "https://testserver//evil.com/%2F.."),
        (b"/\\evil.com", b"", "https://testserver/%5Cevil.com"),
        (b"/a%2Fb", b"", "https://testserver/a%2Fb"),
        (b"/caf\xc3\xa9", b"q=\xc3\xa9", "https://testserver/caf%C3%A9?q=%C3%A9"),
        (b"/a b", b"x=1 2#frag", "https://testserver/a%20b?x=1%202%23frag"),
        (b"/p", b"next=//evil.com", "https://testserver/p?next=//evil.com"),
        (b"/\r\nSet-Cookie: x=1", b"", "https://testserver/%0D%0ASet-Cookie:%20x=1"),
        (b"*", b"", "https://testserver/*"),
    ],
)
def test_path_stays_a_path_on_the_same_host(raw_path: bytes, query: bytes, location: str) -> None:
    reply = send_raw(make_app(Counted()), "GET", raw_path.decode("latin-1"), raw_path=raw_path, query=query)
    assert reply.status_code == 308
    assert reply.headers["location"] == location
    assert urlsplit(reply.headers["location"]).netloc == "testserver"


def test_path_without_raw_path_is_quoted() -> None:
    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "//evil.com/é",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": OUTSIDER,
    }
    asyncio.run(HTTPSRedirectMiddleware(inner)(scope, _never, send))
    assert sent[0]["status"] == 308
    assert dict(sent[0]["headers"])[b"location"] == b"https://testserver//evil.com/%C3%A9"


async def _never() -> Message:
    raise AssertionError("receive() not expected")


# -- proxies --------------------------------------------------------------------------------------


def test_forwarded_proto_from_a_trusted_peer_is_honoured() -> None:
    counter = Counted()
    with client_for(counter, peer=PROXY) as client:
        assert client.get("/a", headers={"x-forwarded-proto": "https"}).status_code == 200
        assert client.get("/a", headers={"forwarded": "for=198.51.100.7;proto=https"}).status_code == 200
        assert client.get("/a", headers={"x-forwarded-proto": "http"}).status_code == 308
        assert client.get("/a").status_code == 308
    assert len(counter.calls) == 2


def test_forwarded_proto_from_an_untrusted_peer_is_ignored() -> None:
    counter = Counted()
    with client_for(counter, peer=OUTSIDER) as client:
        response = client.get("/a", headers={"x-forwarded-proto": "https", "forwarded": "proto=https"})
    assert response.status_code == 308
    assert counter.calls == []


@pytest.mark.parametrize(
    ("proxies", "peer", "secure"),
    [
        (("10.0.0.0/8",), ("10.2.3.4", 1), True),
        (("10.0.0.0/8",), ("11.2.3.4", 1), False),
        ("*", OUTSIDER, True),
        ((), PROXY, False),
        (("2001:db8::/32",), ("2001:db8::5", 1), True),
    ],
)
def test_trusted_proxy_matching(proxies: Any, peer: tuple[str, int], secure: bool) -> None:
    with client_for(Counted(), peer=peer, trusted_proxies=proxies) as client:
        response = client.get("/a", headers={"x-forwarded-proto": "https"})
    assert response.status_code == (200 if secure else 308)


def test_forwarded_proto_of_the_client_hop_in_a_chain() -> None:
    # The edge proxy saw https, the inner one http; both trusted: the client used https.
    headers = {"x-forwarded-for": "198.51.100.7, 10.0.0.2", "x-forwarded-proto": "https, http"}
    with client_for(Counted(), peer=PROXY, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]) as client:
        assert client.get("/a", headers=headers).status_code == 200
    # Only the inner proxy trusted: its own hop was http.
    with client_for(Counted(), peer=PROXY) as client:
        assert client.get("/a", headers=headers).status_code == 308


def test_with_proxy_headers_middleware_in_front() -> None:
    counter = Counted()
    app = make_app(counter)
    app.add_middleware(ProxyHeadersMiddleware, trusted_proxies=["127.0.0.1"])
    with TestClient(app, client=PROXY, follow_redirects=False) as client:
        response = client.get("/a", headers={"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"})
        assert response.status_code == 200
        assert response.json()["url"] == "https://testserver/a"
        assert client.get("/a", headers={"x-forwarded-for": "198.51.100.7"}).status_code == 308


# -- websockets -----------------------------------------------------------------------------------


def test_ws_handshake_is_refused_with_a_redirect_to_wss() -> None:
    with (
        client_for(Counted()) as client,
        pytest.raises(WebSocketDenialResponse) as caught,
        client.websocket_connect("/ws?room=1"),
    ):
        pass
    assert caught.value.status_code == 308
    assert caught.value.headers["location"] == "wss://testserver/ws?room=1"


def test_wss_handshake_goes_through() -> None:
    with (
        client_for(Counted(), base_url="https://testserver") as client,
        client.websocket_connect("/ws") as ws,
    ):
        assert ws.receive_text() == "wss://testserver/ws"


def test_ws_forwarded_https_from_trusted_peer_goes_through() -> None:
    with (
        client_for(Counted(), peer=PROXY) as client,
        client.websocket_connect("/ws", headers={"x-forwarded-proto": "https"}) as ws,
    ):
        assert ws.receive_text() == "ws://testserver/ws"


def drive_websocket(host: bytes, extensions: dict[str, Any]) -> list[Message]:
    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(b"host", host)],
        "client": OUTSIDER,
        "extensions": extensions,
    }
    asyncio.run(HTTPSRedirectMiddleware(inner)(scope, _never, send))
    return sent


def test_ws_without_http_response_extension_is_closed() -> None:
    sent = drive_websocket(b"testserver", {})
    assert [m["type"] for m in sent] == ["websocket.close"]
    assert sent[0]["code"] == 1008


def test_ws_with_malformed_host_is_refused_with_400() -> None:
    sent = drive_websocket(b"a@evil.com", {"websocket.http.response": {}})
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 400
    assert b"location" not in dict(sent[0]["headers"])
    assert drive_websocket(b"a@evil.com", {})[0] == {
        "type": "websocket.close",
        "code": 1008,
        "reason": "invalid Host header",
    }


# -- construction ---------------------------------------------------------------------------------


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError):
        HTTPSRedirectMiddleware(_never, trusted_proxies=["10.0.0.0/40"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HTTPSRedirectMiddleware(_never, trusted_proxies=["10.0.0.1\r\nx"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HTTPSRedirectMiddleware(_never, proxy_header="via")  # type: ignore[arg-type]


def test_lifespan_passes_through() -> None:
    events: list[str] = []
    app = Lanner(on_startup=[lambda: events.append("startup")])

    @app.get("/a")
    def page() -> str:
        return "ok"

    app.add_middleware(HTTPSRedirectMiddleware)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/a").status_code == 200
    assert events == ["startup"]


def test_layer() -> None:
    assert HTTPSRedirectMiddleware.layer == 80
