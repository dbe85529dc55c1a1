"""CORSMiddleware: who may read responses cross-origin, and never with credentials for just anyone."""

import re
from typing import Any

import httpx
import pytest

from lanner import Lanner, Response, WebSocket
from lanner.middleware.cors import MAX_REQUEST_HEADERS_SIZE, CORSMiddleware
from lanner.testing import TestClient
from tests.asgi_driver import send_raw

GOOD = "https://good.com"
CORS_PREFIX = "access-control-"


class Counted:
    def __init__(self) -> None:
        self.calls = 0


def make_app(counter: Counted | None = None, **options: Any) -> Lanner:
    app = Lanner()
    counter = counter or Counted()

    @app.route("/items", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
    def items() -> dict[str, int]:
        counter.calls += 1
        return {"calls": counter.calls}

    @app.get("/vary")
    def varied() -> Response:
        counter.calls += 1
        return Response(
            "x", headers={"Vary": "Accept-Encoding", "Access-Control-Allow-Origin": "https://app.set"}
        )

    @app.get("/vary-star")
    def vary_star() -> Response:
        return Response("x", headers={"Vary": "*"})

    @app.get("/vary-origin")
    def vary_origin() -> Response:
        return Response("x", headers={"vary": "accept, ORIGIN"})

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hi")
        await ws.close()

    app.add_middleware(CORSMiddleware, **options)
    return app


def client_for(counter: Counted | None = None, **options: Any) -> TestClient:
    return TestClient(make_app(counter, **options))


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith(CORS_PREFIX)}


def vary(response: httpx.Response) -> list[str]:
    return [token.strip().lower() for line in response.headers.get_list("vary") for token in line.split(",")]


def preflight(
    client: TestClient,
    origin: str = GOOD,
    method: str = "PUT",
    headers: str | None = None,
    path: str = "/items",
) -> httpx.Response:
    sent = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        sent["access-control-request-headers"] = headers
    return client.options(path, headers=sent)


LISTED: dict[str, Any] = {
    "allow_origins": [GOOD, "http://localhost:3000"],
    "allow_methods": ["GET", "PUT", "patch"],
    "allow_headers": ["X-Token", "authorization"],
    "allow_credentials": True,
    "expose_headers": ["X-Total"],
}


# -- credentials are never offered to just anyone -------------------------------------------------


def test_star_with_credentials_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="allow_credentials"):
        CORSMiddleware(make_app(), allow_origins=["*"], allow_credentials=True)
    with pytest.raises(ValueError, match="allow_credentials"):
        CORSMiddleware(make_app(), allow_origins=[GOOD, "*"], allow_credentials=True)


@pytest.mark.parametrize(
    "pattern", [".*", ".+", "https?://.*", "https://.*", r"https://[\w.-]+", "(null|https://good.com)"]
)
def test_regex_matching_anybody_with_credentials_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="allow_credentials"):
        CORSMiddleware(make_app(), allow_origin_regex=pattern, allow_credentials=True)
    CORSMiddleware(make_app(), allow_origin_regex=pattern)  # fine without credentials


def test_unlisted_origin_gets_no_cors_headers_and_never_credentials() -> None:
    counter = Counted()
    with client_for(counter, **LISTED) as client:
        for origin in (
            "https://evil.com",
            "https://good.com.evil.net",
            "http://good.com",
            "https://good.com:8443",
            "null",
        ):
            response = client.get("/items", headers={"origin": origin})
            assert response.status_code == 200
            assert cors_headers(response) == {}
            assert "origin" in vary(response)
    assert counter.calls == 5


def test_listed_origin_is_reflected_with_credentials() -> None:
    with client_for(**LISTED) as client:
        response = client.get("/items", headers={"origin": GOOD, "cookie": "session=1"})
    assert response.status_code == 200
    assert cors_headers(response) == {
        "access-control-allow-origin": GOOD,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Total",
    }
    assert vary(response) == ["origin"]


def test_star_without_credentials_answers_star() -> None:
    with client_for(allow_origins=["*"]) as client:
        response = client.get("/items", headers={"origin": "https://anyone.example"})
    assert cors_headers(response) == {"access-control-allow-origin": "*"}
    assert "origin" in vary(response)


def test_two_origin_headers_are_allowed_for_none() -> None:
    reply = send_raw(make_app(**LISTED), "GET", "/items", headers=[(b"origin", GOOD.encode())] * 2)
    assert reply.status_code == 200
    assert not any(name.startswith(CORS_PREFIX) for name in reply.headers)


# -- regex ----------------------------------------------------------------------------------------

REGEX: dict[str, Any] = {"allow_origin_regex": r"https://([a-z0-9-]+\.)*good\.com", "allow_credentials": True}


@pytest.mark.parametrize(
    "origin",
    [
        "https://good.com.evil.net",
        "https://evilgood.com",
        "https://good.com/",
        "https://good.com:443",
        "http://a.good.com",
        "https://a.good.com\r",
        "https://a.good.com.",
        "https://good.comx",
        "xhttps://good.com",
    ],
)
def test_regex_is_a_full_match(origin: str) -> None:
    reply = send_raw(make_app(**REGEX), "GET", "/items", headers=[(b"origin", origin.encode())])
    assert reply.status_code == 200
    assert not any(name.startswith(CORS_PREFIX) for name in reply.headers)


@pytest.mark.parametrize("origin", ["https://good.com", "https://a.good.com", "https://a.b.good.com"])
def test_regex_allows_matching_origins(origin: str) -> None:
    with client_for(**REGEX) as client:
        response = client.get("/items", headers={"origin": origin})
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"


def test_each_origin_gets_its_own_answer_request_after_request() -> None:
    with client_for(**REGEX) as client:
        for _ in range(3):
            for origin in ("https://a.good.com", "https://evil.com", "https://good.com"):
                response = client.get("/items", headers={"origin": origin})
                allowed = response.headers.get("access-control-allow-origin")
                assert allowed == (None if origin == "https://evil.com" else origin)
                assert ("access-control-allow-credentials" in response.headers) is (allowed is not None)
                assert vary(response) == ["origin"]


def test_origins_remembered_are_bounded() -> None:
    middleware = CORSMiddleware(make_app(), **REGEX)
    for n in range(1000):
        origin = f"https://host{n}.good.com" if n % 2 else f"https://host{n}.evil.com"
        reply = send_raw(middleware, "GET", "/items", headers=[(b"origin", origin.encode())])
        assert reply.headers.get("access-control-allow-origin") == (origin if n % 2 else None)
    assert 0 < len(middleware._decisions) <= 256


def test_two_origin_headers_still_vary_by_origin() -> None:
    origins = [(b"origin", GOOD.encode()), (b"origin", GOOD.encode())]
    reply = send_raw(make_app(**LISTED), "GET", "/items", headers=origins)
    assert reply.status_code == 200
    assert "access-control-allow-origin" not in reply.headers
    assert reply.headers.get_list("vary") == ["Origin"]


@pytest.mark.parametrize("extra", [[], [(b"vary", b"Accept")]])
def test_response_headers_may_be_any_iterable(extra: list[tuple[bytes, bytes]]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pairs = [(b"content-type", b"text/plain"), *extra]
        headers = ((name, value) for name, value in pairs)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    reply = send_raw(
        CORSMiddleware(app, allow_origins=[GOOD]), "GET", "/", headers=[(b"origin", GOOD.encode())]
    )
    assert reply.headers["content-type"] == "text/plain"
    assert reply.headers["access-control-allow-origin"] == GOOD
    assert reply.headers.get_list("vary") == (["Accept, Origin"] if extra else ["Origin"])
    assert reply.content == b"x"


def test_regex_cannot_reflect_control_characters() -> None:
    # A loose pattern (`.` matches "\r") still never reflects a value that is not an origin.
    app = make_app(allow_origin_regex=r"https://.*\.good\.com")
    reply = send_raw(app, "GET", "/items", headers=[(b"origin", b"https://x\r\nset-cookie: a=b.good.com")])
    assert "access-control-allow-origin" not in reply.headers


# -- preflight ------------------------------------------------------------------------------------


def test_allowed_preflight_is_answered_without_reaching_the_route() -> None:
    counter = Counted()
    with client_for(counter, **LISTED, max_age=1234) as client:
        response = preflight(client, headers="X-Token, Content-Type")
    assert response.status_code == 200
    assert response.text == "OK"
    assert cors_headers(response) == {
        "access-control-allow-origin": GOOD,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "PUT",
        "access-control-allow-headers": "x-token, content-type",
        "access-control-max-age": "1234",
    }
    assert vary(response) == ["origin"]
    assert counter.calls == 0


def test_default_max_age_is_600() -> None:
    with client_for(allow_origins=[GOOD]) as client:
        response = preflight(client, method="GET")
    assert response.headers["access-control-max-age"] == "600"
    with client_for(allow_origins=[GOOD], max_age=None) as client:
        assert "access-control-max-age" not in preflight(client, method="GET").headers


@pytest.mark.parametrize(
    ("origin", "method", "headers", "problem"),
    [
        ("https://evil.com", "PUT", None, "origin not allowed"),
        ("https://good.com.evil.net", "PUT", None, "origin not allowed"),
        ("null", "PUT", None, "origin not allowed"),
        (GOOD, "DELETE", None, "method not allowed"),
        (GOOD, "put", None, "method not allowed"),
        (GOOD, "PATCH", None, "method not allowed"),
        (GOOD, "PU T", None, "method not allowed"),
        (GOOD, "PUT", "x-token, x-admin", "header not allowed"),
        (GOOD, "PUT", "cookie", "header not allowed"),
        (GOOD, "PUT", "x-token;", "malformed Access-Control-Request-Headers"),
        (GOOD, "PUT", "x-" + "a" * MAX_REQUEST_HEADERS_SIZE, "Access-Control-Request-Headers too long"),
    ],
)
def test_disallowed_preflight_gets_400_without_cors_headers(
    origin: str, method: str, headers: str | None, problem: str
) -> None:
    counter = Counted()
    with client_for(counter, **LISTED) as client:
        response = preflight(client, origin=origin, method=method, headers=headers)
    assert response.status_code == 400
    assert cors_headers(response) == {}
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"CORS preflight refused: {problem}"
    assert vary(response) == ["origin"]
    assert counter.calls == 0


def test_long_request_headers_of_allowed_names_are_still_refused() -> None:
    names = ", ".join(["x-token"] * (MAX_REQUEST_HEADERS_SIZE // 9 + 1))
    with client_for(**LISTED) as client:
        response = preflight(client, headers=names)
    assert response.status_code == 400
    names = ", ".join(["x-token"] * 50)
    with client_for(**LISTED) as client:
        assert preflight(client, headers=names).status_code == 200


def test_requested_headers_are_case_insensitive_and_tolerant() -> None:
    with client_for(**LISTED) as client:
        response = preflight(client, headers=" X-TOKEN ,,Authorization,  accept ")
    assert response.status_code == 200
    assert response.headers["access-control-allow-headers"] == "x-token, authorization, accept"
    with client_for(**LISTED) as client:
        assert "access-control-allow-headers" not in preflight(client, headers="").headers


def test_method_case_is_kept() -> None:
    with client_for(**LISTED) as client:
        response = preflight(client, method="patch")
    assert response.status_code == 200
    assert response.headers["access-control-allow-methods"] == "patch"


def test_wildcards_reflect_what_was_asked() -> None:
    options: dict[str, Any] = {
        "allow_origins": [GOOD],
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        "allow_credentials": True,
    }
    with client_for(**options) as client:
        response = preflight(client, method="PROPFIND", headers="X-Anything, Authorization")
    assert response.status_code == 200
    assert response.headers["access-control-allow-methods"] == "PROPFIND"
    assert response.headers["access-control-allow-headers"] == "x-anything, authorization"


def test_safelisted_headers_are_always_allowed() -> None:
    with client_for(allow_origins=[GOOD], allow_methods=["POST"]) as client:
        response = preflight(
            client, method="POST", headers="content-type, accept, accept-language, content-language"
        )
    assert response.status_code == 200


def test_preflight_for_star_origin() -> None:
    with client_for(allow_origins=["*"], allow_methods=["PUT"]) as client:
        response = preflight(client, origin="https://anyone.example")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_options_without_request_method_reaches_the_app() -> None:
    counter = Counted()
    with client_for(counter, **LISTED) as client:
        response = client.options("/items", headers={"origin": GOOD})
    assert response.status_code == 200
    assert counter.calls == 1
    assert response.headers["access-control-allow-origin"] == GOOD


def test_preflight_to_a_missing_route_is_still_answered() -> None:
    with client_for(**LISTED) as client:
        assert preflight(client, path="/nowhere").status_code == 200
        assert preflight(client, path="/nowhere", origin="https://evil.com").status_code == 400


def test_private_network_is_never_allowed_by_default() -> None:
    with client_for(**LISTED) as client:
        response = client.options(
            "/items",
            headers={
                "origin": GOOD,
                "access-control-request-method": "PUT",
                "access-control-request-private-network": "true",
            },
        )
    assert response.status_code == 200
    assert "access-control-allow-private-network" not in response.headers
    with client_for(**LISTED, allow_private_network=True) as client:
        asked = client.options(
            "/items",
            headers={
                "origin": GOOD,
                "access-control-request-method": "PUT",
                "access-control-request-private-network": "true",
            },
        )
        not_asked = preflight(client)
    assert asked.headers["access-control-allow-private-network"] == "true"
    assert "access-control-allow-private-network" not in not_asked.headers


def test_browser_gets_html_for_a_refused_preflight() -> None:
    with client_for(**LISTED) as client:
        response = client.options(
            "/items",
            headers={
                "origin": "https://evil.com",
                "access-control-request-method": "PUT",
                "accept": "text/html",
            },
        )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert cors_headers(response) == {}


# -- Vary -----------------------------------------------------------------------------------------


def test_vary_on_every_response() -> None:
    with client_for(**LISTED) as client:
        assert vary(client.get("/items")) == ["origin"]  # no Origin: could differ by Origin
        assert vary(client.get("/items", headers={"origin": GOOD})) == ["origin"]
        assert vary(client.get("/items", headers={"origin": "https://evil.com"})) == ["origin"]
        assert vary(client.get("/nowhere", headers={"origin": GOOD})) == ["origin"]  # a 404 too


def test_vary_is_merged_with_the_apps() -> None:
    with client_for(**LISTED) as client:
        response = client.get("/vary", headers={"origin": GOOD})
        assert response.headers.get_list("vary") == ["Accept-Encoding, Origin"]
        # The app's own CORS header is replaced for an allowed origin...
        assert response.headers.get_list("access-control-allow-origin") == [GOOD]
        # ...and left alone otherwise.
        response = client.get("/vary")
        assert response.headers["access-control-allow-origin"] == "https://app.set"
        assert response.headers.get_list("vary") == ["Accept-Encoding, Origin"]
        assert client.get("/vary-star").headers.get_list("vary") == ["*"]
        assert client.get("/vary-origin", headers={"origin": GOOD}).headers.get_list("vary") == [
            "accept, ORIGIN"
        ]


def test_reused_response_headers_do_not_accumulate() -> None:
    shared = Response("x", headers={"Vary": "Accept"})
    app = Lanner()

    @app.get("/shared")
    def reused() -> Response:
        return shared

    app.add_middleware(CORSMiddleware, allow_origins=[GOOD])
    with TestClient(app) as client:
        for _ in range(3):
            response = client.get("/shared", headers={"origin": GOOD})
            assert response.headers.get_list("vary") == ["Accept, Origin"]
    assert shared.raw_headers.count((b"vary", b"Accept")) == 1
    assert not any(name.startswith(b"access-control") for name, _ in shared.raw_headers)


# -- other scopes and construction ----------------------------------------------------------------


def test_websocket_passes_through() -> None:
    with (
        client_for(**LISTED) as client,
        client.websocket_connect("/ws", headers={"origin": "https://evil.com"}) as ws,
    ):
        assert ws.receive_text() == "hi"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"allow_origins": ["https://good.com/"]}, "without a path"),
        ({"allow_origins": ["https://good.com/app"]}, "without a path"),
        ({"allow_origins": ["good.com"]}, "scheme://host"),
        ({"allow_origins": ["https://*.good.com"]}, "allow_origin_regex"),
        ({"allow_origins": ["https://good.com\r\nX-Evil: 1"]}, "control characters"),
        ({"allow_origins": ["https://user@good.com"]}, "scheme://host"),
        ({"allow_methods": ["GET\r\n"]}, "control characters"),
        ({"allow_methods": ["GE T"]}, "token"),
        ({"allow_headers": ["x-a:b"]}, "token"),
        ({"expose_headers": ["x-a\n"]}, "control characters"),
        ({"max_age": -1}, "max_age"),
        ({"max_age": 1.5}, "max_age"),
        ({"allow_origin_regex": "(unclosed"}, "allow_origin_regex"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CORSMiddleware(make_app(), **options)


def test_origins_are_compared_in_browser_form() -> None:
    # Configured in capitals: browsers send lower case, which matches.
    with client_for(allow_origins=["HTTPS://Good.COM"]) as client:
        assert client.get("/items", headers={"origin": GOOD}).headers["access-control-allow-origin"] == GOOD


def test_explicit_null_origin() -> None:
    with client_for(allow_origins=["null"]) as client:
        assert (
            client.get("/items", headers={"origin": "null"}).headers["access-control-allow-origin"] == "null"
        )


def test_layer() -> None:
    assert CORSMiddleware.layer == 100
