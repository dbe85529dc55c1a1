"""SecurityHeadersMiddleware: safe defaults, HSTS over TLS only, the app's own headers win."""

import asyncio
from typing import Any

import httpx
import pytest

from lanner import Lanner, Response, WebSocket
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware
from lanner.middleware.security_headers import SecurityHeadersMiddleware
from lanner.responses import StreamingResponse
from lanner.testing import TestClient, WebSocketDenialResponse
from lanner.types import Message, Scope

DEFAULTS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "max-age=31536000"
MANAGED = {
    *DEFAULTS,
    "strict-transport-security",
    "content-security-policy",
    "content-security-policy-report-only",
    "cross-origin-resource-policy",
    "permissions-policy",
}


def make_app(**options: Any) -> Lanner:
    app = Lanner()

    @app.get("/")
    def home() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/framed")
    def framed() -> Response:
        return Response(
            "x", headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "default-src *"}
        )

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]))

    @app.get("/missing")
    def missing() -> None:
        from lanner import HTTPException

        raise HTTPException(404, "nope")

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hi")
        await ws.close()

    app.add_middleware(SecurityHeadersMiddleware, **options)
    return app


def managed(response: httpx.Response | WebSocketDenialResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name in MANAGED}


def get(path: str = "/", base_url: str = "http://testserver", **options: Any) -> httpx.Response:
    with TestClient(make_app(**options), base_url=base_url) as client:
        return client.get(path)


def test_defaults_over_http_have_no_hsts() -> None:
    response = get()
    assert response.status_code == 200
    assert managed(response) == DEFAULTS


def test_defaults_over_https_add_hsts() -> None:
    response = get(base_url="https://testserver")
    assert managed(response) == {**DEFAULTS, "strict-transport-security": HSTS}


def test_hsts_behind_a_trusted_proxy() -> None:
    app = make_app()
    app.add_middleware(ProxyHeadersMiddleware, trusted_proxies=["127.0.0.1"])
    with TestClient(app, client=("127.0.0.1", 1)) as client:
        assert (
            client.get("/", headers={"x-forwarded-proto": "https"}).headers["strict-transport-security"]
            == HSTS
        )
        assert "strict-transport-security" not in client.get("/").headers
    with TestClient(app, client=("203.0.113.9", 1)) as client:
        assert (
            "strict-transport-security" not in client.get("/", headers={"x-forwarded-proto": "https"}).headers
        )


def test_every_response_gets_them() -> None:
    with TestClient(make_app()) as client:
        for path in ("/stream", "/missing", "/no-such-route"):
            response = client.get(path)
            assert managed(response) == DEFAULTS, path
        assert client.get("/stream").content == b"ab"
        assert managed(client.post("/")) == DEFAULTS  # a 405


def test_headers_the_app_set_are_not_overwritten() -> None:
    response = get("/framed", content_security_policy="default-src 'self'")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("content-security-policy") == ["default-src *"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_app_header_names_compared_case_insensitively() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"X-Frame-Options", b"SAMEORIGIN")]}
        )
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    asyncio.run(SecurityHeadersMiddleware(app)({"type": "http", "scheme": "http"}, receive, send))
    names = [name.lower() for name, _ in sent[0]["headers"]]
    assert names.count(b"x-frame-options") == 1


@pytest.mark.parametrize("frame", [None, (b"x-frame-options", b"SAMEORIGIN")])
def test_response_headers_may_be_any_iterable(frame: tuple[bytes, bytes] | None) -> None:
    pairs = [(b"content-type", b"text/plain"), *([frame] if frame else [])]

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        headers = ((name, value) for name, value in pairs)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(SecurityHeadersMiddleware(app)({"type": "http", "scheme": "http"}, None, send))  # type: ignore[arg-type]
    headers = [(name.decode(), value.decode()) for name, value in sent[0]["headers"]]
    assert headers[: len(pairs)] == [(name.decode(), value.decode()) for name, value in pairs]
    assert dict(headers) == {
        "content-type": "text/plain",
        **DEFAULTS,
        **({"x-frame-options": "SAMEORIGIN"} if frame else {}),
    }
    assert len(headers) == 1 + len(DEFAULTS)


def test_options_turned_off() -> None:
    response = get(
        base_url="https://testserver",
        hsts=False,
        frame_options=None,
        referrer_policy=None,
        content_type_options=None,
        cross_origin_opener_policy=None,
    )
    assert managed(response) == {}
    assert managed(get(base_url="https://testserver", hsts=None)) == DEFAULTS


def test_configured_values() -> None:
    response = get(
        base_url="https://testserver",
        content_security_policy="default-src 'self'; frame-ancestors 'none'",
        content_security_policy_report_only="script-src 'self'",
        hsts_max_age=63072000,
        hsts_include_subdomains=True,
        hsts_preload=True,
        frame_options="sameorigin",
        referrer_policy="no-referrer, strict-origin-when-cross-origin",
        cross_origin_opener_policy="same-origin-allow-popups",
        cross_origin_resource_policy="same-site",
        permissions_policy="camera=(), geolocation=()",
        extra_headers={"X-Permitted-Cross-Domain-Policies": "none"},
    )
    assert managed(response) == {
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer, strict-origin-when-cross-origin",
        "x-frame-options": "SAMEORIGIN",
        "cross-origin-opener-policy": "same-origin-allow-popups",
        "cross-origin-resource-policy": "same-site",
        "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
        "content-security-policy-report-only": "script-src 'self'",
        "permissions-policy": "camera=(), geolocation=()",
        "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
    }
    assert response.headers["x-permitted-cross-domain-policies"] == "none"


def test_no_csp_by_default() -> None:
    assert "content-security-policy" not in get(base_url="https://testserver").headers


def test_reused_response_does_not_keep_hsts_for_plain_requests() -> None:
    shared = Response("x")
    app = Lanner()

    @app.get("/")
    def reused() -> Response:
        return shared

    app.add_middleware(SecurityHeadersMiddleware)
    with TestClient(app, base_url="https://testserver") as secure:
        assert secure.get("/").headers["strict-transport-security"] == HSTS
    with TestClient(app) as plain:
        assert "strict-transport-security" not in plain.get("/").headers
    assert not any(name == b"strict-transport-security" for name, _ in shared.raw_headers)


# -- websockets -----------------------------------------------------------------------------------


def test_websocket_accept_gets_headers_and_hsts_over_wss() -> None:
    with (
        TestClient(make_app(), base_url="https://testserver") as client,
        client.websocket_connect("/ws") as ws,
    ):
        headers = dict(ws.extra_headers)
        assert ws.receive_text() == "hi"
    assert headers[b"strict-transport-security"] == HSTS.encode()
    assert headers[b"x-content-type-options"] == b"nosniff"
    with TestClient(make_app()) as client, client.websocket_connect("/ws") as ws:
        assert b"strict-transport-security" not in dict(ws.extra_headers)


def test_websocket_denial_response_gets_headers() -> None:
    with (
        TestClient(make_app(), base_url="https://testserver") as client,
        pytest.raises(WebSocketDenialResponse) as caught,
        client.websocket_connect("/nowhere"),
    ):
        pass
    assert managed(caught.value) == {**DEFAULTS, "strict-transport-security": HSTS}


def test_lifespan_passes_through() -> None:
    events: list[str] = []
    app = Lanner(on_startup=[lambda: events.append("startup")])
    app.add_middleware(SecurityHeadersMiddleware)
    with TestClient(app):
        pass
    assert events == ["startup"]


# -- construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"content_security_policy": "default-src 'self'\r\nSet-Cookie: a=b"}, "control characters"),
        ({"content_security_policy": "default-src\n'self'"}, "control characters"),
        ({"content_security_policy": "  "}, "must not be empty"),
        ({"content_security_policy": "img-src https://bücher.example"}, "ASCII"),
        ({"permissions_policy": "camera=()\r\n"}, "control characters"),
        ({"referrer_policy": "strict-origin\r\nX: y"}, "referrer_policy"),
        ({"referrer_policy": "sometimes"}, "referrer_policy"),
        ({"frame_options": "ALLOW-FROM https://a"}, "frame_options"),
        ({"content_type_options": "sniff"}, "content_type_options"),
        ({"cross_origin_opener_policy": "same"}, "cross_origin_opener_policy"),
        ({"cross_origin_resource_policy": "anyone"}, "cross_origin_resource_policy"),
        ({"hsts_max_age": -1}, "hsts_max_age"),
        ({"hsts_max_age": "1"}, "hsts_max_age"),
        ({"hsts_preload": True}, "hsts_preload"),
        ({"hsts_preload": True, "hsts_include_subdomains": True, "hsts_max_age": 3600}, "hsts_preload"),
        ({"extra_headers": {"X-A": "b\r\nc"}}, "control characters"),
        ({"extra_headers": {"X A": "b"}}, "invalid header name"),
        ({"extra_headers": {"X-Frame-Options": "SAMEORIGIN"}}, "repeats"),
        ({"extra_headers": {"Strict-Transport-Security": "max-age=1"}}, "repeats"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SecurityHeadersMiddleware(make_app(), **options)


def test_layer() -> None:
    assert SecurityHeadersMiddleware.layer == 90
