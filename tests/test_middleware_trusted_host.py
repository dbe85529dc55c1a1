"""TrustedHostMiddleware: only well-formed Host headers naming an allowed host reach the app."""

import asyncio
from typing import Any

import pytest

from lanner import Lanner, Request, WebSocket
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware
from lanner.middleware.trusted_host import TrustedHostMiddleware
from lanner.testing import TestClient, WebSocketDenialResponse
from lanner.types import Message, Scope
from tests.asgi_driver import send_raw


class Counted:
    def __init__(self) -> None:
        self.calls = 0


def make_app(counter: Counted | None = None, **options: Any) -> Lanner:
    app = Lanner()

    @app.route("/{path:path}", methods=["GET", "POST"])
    def anything(request: Request, path: str) -> dict[str, str]:
        if counter is not None:
            counter.calls += 1
        return {"url": str(request.url)}

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hello")
        await ws.close()

    if options:  # make_app() alone is a plain inner app
        app.add_middleware(TrustedHostMiddleware, **options)
    return app


EXAMPLE: dict[str, Any] = {"allowed_hosts": ["example.com", "*.example.com", "testserver"]}


def status_for(host: bytes, **options: Any) -> int | None:
    return send_raw(make_app(**(options or EXAMPLE)), "GET", "/p", host=host).status_code


@pytest.mark.parametrize(
    "host",
    [
        b"example.com",
        b"EXAMPLE.COM",
        b"Example.Com:8443",
        b"example.com:80",
        b"example.com.",
        b"a.example.com",
        b"a.b.example.com",
        b"A.B.Example.com:1",
        b"testserver",
    ],
)
def test_allowed_hosts_pass(host: bytes) -> None:
    counter = Counted()
    reply = send_raw(make_app(counter, **EXAMPLE), "GET", "/p", host=host)
    assert reply.status_code == 200
    assert counter.calls == 1


@pytest.mark.parametrize(
    "host",
    [
        b"evil.com",
        b"evilexample.com",
        b"example.com.evil.net",
        b"example.co",
        b"xexample.com",
        b".example.com",
        b"example.com..",
        b"www.example.org",
        b"example.com\\.evil.net",
    ],
)
def test_unknown_hosts_get_400(host: bytes) -> None:
    counter = Counted()
    reply = send_raw(make_app(counter, **EXAMPLE), "GET", "/p", host=host)
    assert reply.status_code == 400
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["detail"] == "Invalid host header"
    assert counter.calls == 0


@pytest.mark.parametrize(
    "host",
    [
        b"user:pass@example.com",
        b"evil.com@example.com",
        b"example.com/evil",
        b"example.com:99999",
        b"example.com:",
        b"example.com:-1",
        b"example.com:80:80",
        b"exam ple.com",
        b"example.com\x00",
        b"example.com\r\nx: y",
        b"example.com?",
        b"example.com#",
        b"%65xample.com",
        b"\xc3\xa9xample.com",
        b"",
        b" ",
        b"[::1",
        b"[example.com]",
        b"a" * 64 + b".example.com",
        (b"a." * 130) + b"example.com",
    ],
)
def test_malformed_hosts_get_400_even_with_star(host: bytes) -> None:
    counter = Counted()
    reply = send_raw(make_app(counter, allowed_hosts=["*"]), "GET", "/p", host=host)
    assert reply.status_code == 400
    assert counter.calls == 0


def test_star_allows_any_well_formed_host() -> None:
    assert status_for(b"anything.invalid:1234", allowed_hosts=["*"]) == 200
    assert status_for(b"[2001:db8::1]", allowed_hosts="*") == 200


def test_verdicts_stay_right_when_many_hosts_are_seen() -> None:
    # Verdicts are remembered per Host value; a flood of junk hosts must not change any answer.
    counter = Counted()
    app = make_app(counter, **EXAMPLE)
    for n in range(1500):
        assert send_raw(app, "GET", "/", host=f"junk{n}.invalid".encode()).status_code == 400
        if n % 500 == 0:
            assert send_raw(app, "GET", "/", host=b"a.example.com").status_code == 200
    assert send_raw(app, "GET", "/", host=b"junk1.invalid").status_code == 400
    assert send_raw(app, "GET", "/", host=b"example.com").status_code == 200
    assert counter.calls == 4


def test_missing_and_duplicate_host_get_400() -> None:
    app = make_app(**EXAMPLE)
    assert send_raw(app, "GET", "/p", host=None).status_code == 400
    assert (
        send_raw(app, "GET", "/p", host=b"example.com", headers=[(b"host", b"example.com")]).status_code
        == 400
    )
    assert (
        send_raw(app, "GET", "/p", host=b"example.com", headers=[(b"host", b"evil.com")]).status_code == 400
    )


def test_browser_gets_an_html_page() -> None:
    reply = send_raw(make_app(**EXAMPLE), "GET", "/p", host=b"evil.com", headers=[(b"accept", b"text/html")])
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/html")
    assert b"Invalid host header" in reply.content


def test_ipv6_patterns() -> None:
    for pattern in ("::1", "[::1]", "[0:0::1]"):
        assert status_for(b"[::1]:8000", allowed_hosts=[pattern]) == 200
        assert status_for(b"[0::1]", allowed_hosts=[pattern]) == 200
        assert status_for(b"[::2]", allowed_hosts=[pattern]) == 400


def test_unicode_pattern_matches_its_idna_form() -> None:
    assert status_for(b"xn--bcher-kva.example", allowed_hosts=["bücher.example"]) == 200
    assert status_for(b"shop.xn--bcher-kva.example", allowed_hosts=["*.BÜCHER.example"]) == 200


def test_allowed_hosts_as_one_string() -> None:
    assert status_for(b"example.com", allowed_hosts="example.com") == 200
    assert status_for(b"e", allowed_hosts="example.com") == 400


# -- www redirect ---------------------------------------------------------------------------------


def test_www_redirect() -> None:
    counter = Counted()
    app = make_app(counter, allowed_hosts=["www.example.com"])
    reply = send_raw(app, "POST", "/a/b", host=b"Example.com:8080", query=b"q=1")
    assert reply.status_code == 308
    assert reply.headers["location"] == "http://www.example.com:8080/a/b?q=1"
    reply = send_raw(app, "GET", "//evil.com", host=b"example.com")
    assert reply.headers["location"] == "http://www.example.com//evil.com"
    assert counter.calls == 0
    assert send_raw(app, "GET", "/", host=b"www.example.com").status_code == 200
    assert counter.calls == 1


def test_www_redirect_keeps_https() -> None:
    app = make_app(allowed_hosts=["www.example.com"])
    with TestClient(app, base_url="https://example.com", follow_redirects=False) as client:
        response = client.get("/x")
    assert response.status_code == 308
    assert response.headers["location"] == "https://www.example.com/x"


def test_www_redirect_off_or_not_applicable() -> None:
    assert status_for(b"example.com", allowed_hosts=["www.example.com"], www_redirect=False) == 400
    # A wildcard says nothing about the bare domain.
    assert status_for(b"example.com", allowed_hosts=["*.example.com"]) == 400
    # Never to a www. host that is not allowed, nor from a malformed one.
    assert status_for(b"evil.com", allowed_hosts=["www.example.com"]) == 400
    assert status_for(b"a@example.com", allowed_hosts=["www.example.com"]) == 400


# -- websockets -----------------------------------------------------------------------------------


def test_websocket_to_an_allowed_host() -> None:
    with (
        TestClient(make_app(**EXAMPLE), base_url="http://a.example.com") as client,
        client.websocket_connect("/ws") as ws,
    ):
        assert ws.receive_text() == "hello"


def test_websocket_to_an_unknown_host_is_refused() -> None:
    with (
        TestClient(make_app(**EXAMPLE), base_url="http://evil.com") as client,
        pytest.raises(WebSocketDenialResponse) as caught,
        client.websocket_connect("/ws"),
    ):
        pass
    assert caught.value.status_code == 400
    assert caught.value.json()["detail"] == "Invalid host header"


def test_websocket_without_response_extension_is_closed() -> None:
    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"evil.com")], "extensions": {}}
    asyncio.run(TrustedHostMiddleware(inner, allowed_hosts=["example.com"])(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "invalid Host header"}]


def test_lifespan_passes_through() -> None:
    events: list[str] = []
    app = Lanner(on_startup=[lambda: events.append("startup")])
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])
    with TestClient(app):
        pass
    assert events == ["startup"]


def test_forwarded_host_is_checked_too() -> None:
    app = make_app(allowed_hosts=["public.example"])
    app.add_middleware(ProxyHeadersMiddleware, trusted_proxies=["127.0.0.1"], trust_host=True)
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        assert client.get("/p", headers={"x-forwarded-host": "public.example"}).status_code == 200
        assert client.get("/p", headers={"x-forwarded-host": "evil.example"}).status_code == 400
        assert client.get("/p").status_code == 400  # Host: testserver


# -- construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "example.com:80",
        "*example.com",
        "a.*.com",
        "*.*.com",
        "",
        "exa mple.com",
        "example.com\r\n",
        "a/b",
        "[::1]:80",
        "user@host",
    ],
)
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        TrustedHostMiddleware(make_app(), allowed_hosts=[pattern])


def test_layer() -> None:
    assert TrustedHostMiddleware.layer == 70


def test_over_long_hosts_are_refused_and_never_cached() -> None:
    middleware = TrustedHostMiddleware(make_app(), allowed_hosts=["*.example.com"])
    assert send_raw(middleware, "GET", "/p", host=b"a" * 5000 + b".example.com").status_code == 400
    assert middleware._verdicts == {}
    assert send_raw(middleware, "GET", "/p", host=b"a.example.com").status_code == 200
    assert middleware._verdicts == {b"a.example.com": True}
