"""ProxyHeadersMiddleware: the client's address and scheme from trusted proxies only.

Hostile cases first: a client that spoofs ``X-Forwarded-For`` (directly, or through a chain of
proxies), breaks ``Forwarded`` quoting to swallow the proxy's element, pads a header to make it
unreadable, or sends ``X-Forwarded-Host`` to choose the host absolute URLs are built from.
"""

import asyncio
from typing import Any

import pytest

from lanner import Lanner, Request, WebSocket
from lanner.middleware._addresses import MAX_FORWARDED_SIZE, TrustedProxies, parse_address
from lanner.middleware.proxy_headers import ProxyHeadersMiddleware
from lanner.testing import TestClient
from lanner.types import Message, Scope

PROXY = ("127.0.0.1", 40000)


def make_app(**options: Any) -> Lanner:
    app = Lanner()

    @app.get("/who")
    def who(request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "client": [client.host, client.port] if client else None,
            "scheme": request.scope["scheme"],
            "url": str(request.url),
        }

    @app.websocket("/ws")
    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        client = ws.scope["client"]
        await ws.send_json({"client": list(client), "scheme": ws.scope["scheme"], "url": str(ws.url)})
        await ws.close()

    app.add_middleware(ProxyHeadersMiddleware, **options)
    return app


def who(peer: tuple[str, int] = PROXY, headers: Any = None, **options: Any) -> dict[str, Any]:
    with TestClient(make_app(**options), client=peer) as client:
        response = client.get("/who", headers=headers)
        assert response.status_code == 200
        return dict(response.json())


class Recorder:
    """An inner app that records the scope it was called with."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))


def drive(
    scope_headers: list[tuple[bytes, bytes]], client: Any = PROXY, kind: str = "http", **options: Any
) -> Scope:
    """Run the middleware on a hand-made scope; return the scope the inner app saw."""
    inner = Recorder()
    middleware = ProxyHeadersMiddleware(inner, **options)
    scope: Scope = {
        "type": kind,
        "scheme": "http" if kind == "http" else "ws",
        "path": "/",
        "headers": scope_headers,
    }
    if client is not None:
        scope["client"] = client

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError("the middleware must not answer")

    asyncio.run(middleware(scope, receive, send))
    assert len(inner.scopes) == 1
    return inner.scopes[0]


# -- untrusted peers ----------------------------------------------------------------------------


def test_spoofed_headers_from_an_untrusted_peer_change_nothing() -> None:
    seen = who(
        peer=("203.0.113.9", 5555),
        headers={
            "x-forwarded-for": "1.2.3.4",
            "x-forwarded-proto": "https",
            "x-forwarded-host": "evil.com",
            "forwarded": "for=5.6.7.8;proto=https;host=evil.com",
        },
        trust_host=True,
    )
    assert seen == {"client": ["203.0.113.9", 5555], "scheme": "http", "url": "http://testserver/who"}


def test_default_trusts_localhost_only() -> None:
    assert who(headers={"x-forwarded-for": "1.2.3.4"})["client"] == ["1.2.3.4", 0]
    assert who(peer=("10.0.0.1", 1), headers={"x-forwarded-for": "1.2.3.4"})["client"] == ["10.0.0.1", 1]


def test_peer_without_address_is_trusted_only_by_star() -> None:
    headers = [(b"x-forwarded-for", b"1.2.3.4")]
    assert "client" not in drive(headers, client=None)
    assert drive(headers, client=None, trusted_proxies="*")["client"] == ("1.2.3.4", 0)


# -- X-Forwarded-For ----------------------------------------------------------------------------


def test_single_trusted_hop_sets_client_and_scheme() -> None:
    seen = who(headers={"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"})
    assert seen == {"client": ["198.51.100.7", 0], "scheme": "https", "url": "https://testserver/who"}


def test_client_spoofed_leftmost_value_is_not_used_in_a_chain() -> None:
    # The client sent "X-Forwarded-For: 6.6.6.6"; the edge proxy appended the real address, the
    # inner proxy appended the edge's.
    chain = "6.6.6.6, 198.51.100.7, 10.0.0.2"
    seen = who(headers={"x-forwarded-for": chain}, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    assert seen["client"] == ["198.51.100.7", 0]
    # Only the direct peer trusted: the inner proxy's own peer (the edge) is the client.
    assert who(headers={"x-forwarded-for": chain})["client"] == ["10.0.0.2", 0]


def test_every_hop_trusted_gives_the_leftmost_address() -> None:
    seen = who(headers={"x-forwarded-for": "10.0.0.9, 10.0.0.2"}, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    assert seen["client"] == ["10.0.0.9", 0]
    assert who(headers={"x-forwarded-for": "6.6.6.6, 10.0.0.2"}, trusted_proxies="*")["client"] == [
        "6.6.6.6",
        0,
    ]


def test_several_header_lines_form_one_list() -> None:
    headers = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.7, 10.0.0.2")]
    scope = drive(headers, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    assert scope["client"] == ("198.51.100.7", 0)


@pytest.mark.parametrize(
    ("chain", "client"),
    [
        ("198.51.100.7:5678", ("198.51.100.7", 5678)),
        ("[2001:db8::1]:4711", ("2001:db8::1", 4711)),
        ("2001:DB8:0::1", ("2001:db8::1", 0)),
        ("[2001:db8::1]", ("2001:db8::1", 0)),
        (" 198.51.100.7 ", ("198.51.100.7", 0)),
    ],
)
def test_address_forms(chain: str, client: tuple[str, int]) -> None:
    assert drive([(b"x-forwarded-for", chain.encode())])["client"] == client


@pytest.mark.parametrize(
    "chain",
    [
        "garbage",
        "unknown",
        "",
        "1.2.3.4.5",
        "example.com",
        "1.2.3.4:99999",
        "1.2.3.4:abc",
        "[1.2.3.4]",
        "[2001:db8::1",
        "fe80::1%eth0",
        "01.2.3.4",
        "198.51.100.7, garbage",
    ],
)
def test_invalid_rightmost_entry_leaves_the_client_alone(chain: str) -> None:
    scope = drive([(b"x-forwarded-for", chain.encode()), (b"x-forwarded-proto", b"https")])
    assert scope["client"] == PROXY
    assert scope["scheme"] == "https"  # the trusted peer's word on the scheme still counts


def test_invalid_entry_stops_the_walk_at_the_last_address() -> None:
    scope = drive(
        [(b"x-forwarded-for", b"6.6.6.6, unknown, 10.0.0.2")], trusted_proxies="127.0.0.1, 10.0.0.0/8"
    )
    assert scope["client"] == ("10.0.0.2", 0)


def test_oversized_header_is_read_from_the_right() -> None:
    padding = ", ".join(["6.6.6.6"] * 2000)
    assert len(padding) > MAX_FORWARDED_SIZE
    scope = drive([(b"x-forwarded-for", f"{padding}, 198.51.100.7".encode())])
    assert scope["client"] == ("198.51.100.7", 0)
    # A single huge junk entry cannot make the client look like the proxy either.
    scope = drive([(b"x-forwarded-for", b"x" * 100_000 + b", 198.51.100.7")])
    assert scope["client"] == ("198.51.100.7", 0)


def test_oversized_chain_of_trusted_hops_stops_at_the_cut() -> None:
    # Arrange for the cut to fall inside an entry: "11.22.33.44" cut to "1.22.33.44", a valid
    # address nobody sent, must not become the client.
    chain = ", ".join(["11.22.33.44"] * 400)
    texts = (chain + "," + " " * pad + "10.0.0.1" for pad in range(20))
    text = next(text for text in texts if text[-MAX_FORWARDED_SIZE:].startswith("1.22"))
    scope = drive([(b"x-forwarded-for", text.encode())], trusted_proxies="*")
    assert scope["client"] == ("11.22.33.44", 0)


# -- X-Forwarded-Proto --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proto", "scheme"),
    [("https", "https"), ("HTTPS", "https"), ("http", "http"), (" https ", "https"), ("wss", "https")],
)
def test_proto_values(proto: str, scheme: str) -> None:
    assert drive([(b"x-forwarded-proto", proto.encode())])["scheme"] == scheme


@pytest.mark.parametrize("proto", ["javascript", "ftp", "", "https://evil", "h" * 10_000])
def test_unknown_or_oversized_proto_is_ignored(proto: str) -> None:
    assert drive([(b"x-forwarded-proto", proto.encode())])["scheme"] == "http"


def test_proto_is_the_one_of_the_chosen_hop() -> None:
    headers = [(b"x-forwarded-for", b"198.51.100.7, 10.0.0.2"), (b"x-forwarded-proto", b"https, http")]
    scope = drive(headers, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    assert (scope["client"], scope["scheme"]) == (("198.51.100.7", 0), "https")
    scope = drive(headers)
    assert (scope["client"], scope["scheme"]) == (("10.0.0.2", 0), "http")


def test_proto_list_of_another_length_uses_the_rightmost() -> None:
    headers = [(b"x-forwarded-for", b"198.51.100.7"), (b"x-forwarded-proto", b"http, https")]
    assert drive(headers)["scheme"] == "https"


# -- Forwarded (RFC 7239) -----------------------------------------------------------------------


def test_forwarded_for_and_proto() -> None:
    seen = who(headers={"forwarded": "for=192.0.2.60;proto=https;by=203.0.113.43"})
    assert seen == {"client": ["192.0.2.60", 0], "scheme": "https", "url": "https://testserver/who"}


@pytest.mark.parametrize(
    ("value", "client"),
    [
        ('for="[2001:db8::1]:4711"', ("2001:db8::1", 4711)),
        ('For="[2001:db8:cafe::17]"', ("2001:db8:cafe::17", 0)),
        ('for="192.0.2.43:47011"', ("192.0.2.43", 47011)),
        ('for="192.0.2.43:_port"', ("192.0.2.43", 0)),
        ('for="\\1\\9\\2.0.2.43"', ("192.0.2.43", 0)),
        ("for=192.0.2.43 ; proto=http", ("192.0.2.43", 0)),
    ],
)
def test_forwarded_node_forms(value: str, client: tuple[str, int]) -> None:
    assert drive([(b"forwarded", value.encode())])["client"] == client


def test_forwarded_chain_walks_from_the_right() -> None:
    value = b"for=6.6.6.6;proto=https, for=198.51.100.7;proto=https, for=10.0.0.2;proto=http"
    scope = drive([(b"forwarded", value)], trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    assert (scope["client"], scope["scheme"]) == (("198.51.100.7", 0), "https")
    scope = drive([(b"forwarded", value)])
    assert (scope["client"], scope["scheme"]) == (("10.0.0.2", 0), "http")


def test_forwarded_lines_are_joined() -> None:
    headers = [(b"forwarded", b"for=6.6.6.6"), (b"forwarded", b"for=198.51.100.7")]
    assert drive(headers)["client"] == ("198.51.100.7", 0)


def test_client_quote_cannot_swallow_the_element_the_proxy_appended() -> None:
    # The client's own Forwarded opens a quote; the proxy appends its element after a comma.
    value = b'for="6.6.6.6, for=198.51.100.7'
    assert drive([(b"forwarded", value)])["client"] == ("198.51.100.7", 0)


@pytest.mark.parametrize(
    "value",
    [
        "for=unknown",
        "for=_hidden",
        'for="_gazonk"',
        "for=198.51.100.7;for=6.6.6.6",  # a parameter twice in one element
        "for",
        "for=",
        'for="198.51.100.7',
        "proto=https",
        "for=198.51.100.7 6.6.6.6",
        "for=example.com",
    ],
)
def test_forwarded_without_a_usable_address_leaves_the_client(value: str) -> None:
    assert drive([(b"forwarded", value.encode())])["client"] == PROXY


def test_forwarded_proto_alone_sets_the_scheme() -> None:
    scope = drive([(b"forwarded", b"proto=https")])
    assert (scope["client"], scope["scheme"]) == (PROXY, "https")


def test_forwarded_oversized_is_read_from_the_right() -> None:
    value = b"for=6.6.6.6, " * 1000 + b"for=198.51.100.7;proto=https"
    scope = drive([(b"forwarded", value)])
    assert (scope["client"], scope["scheme"]) == (("198.51.100.7", 0), "https")


# -- which headers ------------------------------------------------------------------------------

BOTH = [(b"x-forwarded-for", b"198.51.100.1"), (b"forwarded", b"for=198.51.100.2;proto=https")]


def test_auto_prefers_x_forwarded_when_present() -> None:
    scope = drive(BOTH)
    assert (scope["client"], scope["scheme"]) == (("198.51.100.1", 0), "http")


def test_proxy_header_choice() -> None:
    assert drive(BOTH, proxy_header="forwarded")["client"] == ("198.51.100.2", 0)
    assert drive(BOTH, proxy_header="x-forwarded")["client"] == ("198.51.100.1", 0)
    assert drive([BOTH[1]], proxy_header="x-forwarded")["client"] == PROXY
    assert drive([BOTH[0]], proxy_header="forwarded")["client"] == PROXY


# -- host ---------------------------------------------------------------------------------------


def test_forwarded_host_is_ignored_by_default() -> None:
    seen = who(headers={"x-forwarded-host": "evil.com", "x-forwarded-proto": "https"})
    assert seen["url"] == "https://testserver/who"


def test_forwarded_host_with_trust_host() -> None:
    seen = who(headers={"x-forwarded-host": "Shop.Example.com:8443"}, trust_host=True)
    assert seen["url"] == "http://shop.example.com:8443/who"
    seen = who(headers={"forwarded": 'host="api.example.com";proto=https'}, trust_host=True)
    assert seen["url"] == "https://api.example.com/who"


@pytest.mark.parametrize(
    "host",
    [
        "evil.com/path",
        "user@evil.com",
        "evil.com:99999",
        "evil com",
        "evil.com\\@good.com",
        "[::zz]",
        "a" * 300,
    ],
)
def test_malformed_forwarded_host_is_ignored(host: str) -> None:
    scope = drive([(b"host", b"testserver"), (b"x-forwarded-host", host.encode())], trust_host=True)
    assert scope["headers"] == [(b"host", b"testserver"), (b"x-forwarded-host", host.encode())]


def test_forwarded_host_replaces_every_host_header() -> None:
    headers = [(b"host", b"a"), (b"host", b"b"), (b"x-forwarded-host", b"c.example")]
    scope = drive(headers, trust_host=True)
    assert [value for name, value in scope["headers"] if name == b"host"] == [b"c.example"]


def test_forwarded_host_follows_the_chosen_hop() -> None:
    headers = [
        (b"x-forwarded-for", b"198.51.100.7, 10.0.0.2"),
        (b"x-forwarded-host", b"public.example, internal.example"),
    ]
    scope = drive(headers, trusted_proxies="127.0.0.1, 10.0.0.0/8", trust_host=True)
    assert (b"host", b"public.example") in scope["headers"]


# -- websockets and other scopes ----------------------------------------------------------------


def test_websocket_handshake_gets_client_and_scheme() -> None:
    headers = {"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"}
    with (
        TestClient(make_app(), client=PROXY) as client,
        client.websocket_connect("/ws", headers=headers) as ws,
    ):
        seen = ws.receive_json()
    assert seen == {"client": ["198.51.100.7", 0], "scheme": "wss", "url": "wss://testserver/ws"}


def test_websocket_from_untrusted_peer_unchanged() -> None:
    headers = {"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"}
    peer = ("203.0.113.9", 9)
    with (
        TestClient(make_app(), client=peer) as client,
        client.websocket_connect("/ws", headers=headers) as ws,
    ):
        seen = ws.receive_json()
    assert seen["client"] == list(peer)
    assert seen["scheme"] == "ws"


def test_websocket_scheme_from_http_proto() -> None:
    assert drive([(b"x-forwarded-proto", b"http")], kind="websocket")["scheme"] == "ws"


def test_other_scopes_pass_untouched() -> None:
    scope = drive([(b"x-forwarded-for", b"198.51.100.7")], kind="lifespan")
    assert scope["client"] == PROXY


# -- trusted proxy sets -------------------------------------------------------------------------


def test_ipv4_mapped_peer_matches_ipv4_entries() -> None:
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    assert "::ffff:127.0.0.1" in proxies
    assert "::ffff:10.9.9.9" in proxies
    assert "::ffff:11.0.0.1" not in proxies
    scope = drive([(b"x-forwarded-for", b"198.51.100.7")], client=("::ffff:127.0.0.1", 1))
    assert scope["client"] == ("198.51.100.7", 0)


def test_trusted_proxy_entries() -> None:
    proxies = TrustedProxies("10.0.0.0/8, 2001:db8::/32, 192.168.1.5, testclient")
    assert "10.255.0.1" in proxies
    assert "2001:db8:1::5" in proxies
    assert "192.168.1.5" in proxies
    assert "testclient" in proxies
    assert "192.168.1.6" not in proxies
    assert "11.0.0.1" not in proxies
    assert None not in proxies
    assert "garbage" not in proxies
    assert not proxies.trusts_all
    assert None in TrustedProxies("*")


def test_trust_answers_stay_right_when_many_peers_are_seen() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "192.0.2.1"])
    for n in range(3000):
        assert f"198.51.{n // 256}.{n % 256}" not in proxies
        assert f"10.0.{n // 256}.{n % 256}" in proxies
    assert "192.0.2.1" in proxies
    assert "192.0.2.2" not in proxies


@pytest.mark.parametrize(
    "entry", ["10.0.0.300", "10.0.0.0/33", "1.2.3.4\r\n", "", " ", "a b", "::zz", "1.2.3.4/x"]
)
def test_invalid_trusted_proxy_is_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        ProxyHeadersMiddleware(Recorder(), trusted_proxies=[entry])


def test_unknown_proxy_header_is_refused() -> None:
    with pytest.raises(ValueError, match="proxy_header"):
        ProxyHeadersMiddleware(Recorder(), proxy_header="x-real-ip")  # type: ignore[arg-type]


def test_parse_address_rejects_names() -> None:
    assert parse_address("localhost") is None
    assert parse_address("[::1]:80") == ("::1", 80)


def test_layer() -> None:
    assert ProxyHeadersMiddleware.layer == 10
