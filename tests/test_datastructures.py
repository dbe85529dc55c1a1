import copy
import pickle
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import pytest

from lanner.datastructures import URL, Address, Headers, MutableHeaders, QueryParams, State
from lanner.exceptions import MalformedQueryError


def _raw() -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"example.com"),
        (b"set-cookie", b"a=1"),
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"b=2"),
    ]


def _scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "root_path": "",
        "path": "/items",
        "query_string": b"",
        "headers": [],
    }
    scope.update(overrides)
    return scope


# Headers


def test_headers_lookup_is_case_insensitive_and_returns_the_first_value() -> None:
    headers = Headers(_raw())
    assert headers["Content-Type"] == "text/plain"
    assert headers["CONTENT-TYPE"] == "text/plain"
    assert headers["set-cookie"] == "a=1"
    assert headers.get("Set-Cookie") == "a=1"


def test_headers_missing_key() -> None:
    headers = Headers(_raw())
    with pytest.raises(KeyError):
        headers["x-missing"]
    assert headers.get("x-missing") is None
    assert headers.get("x-missing", "fallback") == "fallback"
    assert headers.getlist("x-missing") == []


def test_headers_non_latin1_key_is_simply_absent() -> None:
    headers = Headers(_raw())
    with pytest.raises(KeyError):
        headers["x-\u20ac"]
    assert headers.get("x-\u20ac") is None
    assert headers.getlist("x-\u20ac") == []
    assert "x-\u20ac" not in headers


def test_headers_getlist_keeps_every_value_in_order() -> None:
    assert Headers(_raw()).getlist("SET-COOKIE") == ["a=1", "b=2"]


def test_headers_views_keep_duplicates_and_lower_case_names() -> None:
    headers = Headers(_raw())
    assert headers.keys() == ["host", "set-cookie", "content-type", "set-cookie"]
    assert headers.values() == ["example.com", "a=1", "text/plain", "b=2"]
    assert headers.items() == [
        ("host", "example.com"),
        ("set-cookie", "a=1"),
        ("content-type", "text/plain"),
        ("set-cookie", "b=2"),
    ]
    assert list(headers) == headers.keys()
    assert len(headers) == 4


def test_headers_values_are_decoded_as_latin1() -> None:
    headers = Headers([(b"x-name", b"caf\xe9")])
    assert headers["x-name"] == "caf\xe9"


def test_headers_contains() -> None:
    headers = Headers(_raw())
    assert "Host" in headers
    assert "host" in headers
    assert "x-missing" not in headers
    others: list[object] = [b"host", 1]
    for not_a_str in others:
        assert not_a_str not in headers


def test_headers_raw_is_the_wrapped_list() -> None:
    raw = _raw()
    headers = Headers(raw)
    assert headers.raw is raw


def test_headers_default_is_empty() -> None:
    headers = Headers()
    assert len(headers) == 0
    assert headers.raw == []
    assert headers.items() == []


def test_headers_from_scope_wraps_scope_headers() -> None:
    raw = _raw()
    headers = Headers.from_scope({"headers": raw})
    assert headers.raw is raw
    assert headers["host"] == "example.com"
    with pytest.raises(KeyError):
        Headers.from_scope({})


def test_headers_is_a_mapping_but_not_hashable() -> None:
    headers = Headers(_raw())
    assert isinstance(headers, Mapping)
    with pytest.raises(TypeError):
        hash(headers)


def test_headers_equality() -> None:
    shuffled = [
        (b"set-cookie", b"a=1"),
        (b"content-type", b"text/plain"),
        (b"host", b"example.com"),
        (b"set-cookie", b"b=2"),
    ]
    assert Headers(_raw()) == Headers(shuffled)
    assert Headers(_raw()) == MutableHeaders(_raw())
    swapped_cookies = [(b"set-cookie", b"b=2"), (b"set-cookie", b"a=1")]
    assert Headers([(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]) != Headers(swapped_cookies)
    assert Headers([(b"a", b"1")]) != Headers([(b"a", b"1"), (b"a", b"1")])
    assert Headers([(b"a", b"1")]) != {"a": "1"}


def test_headers_repr() -> None:
    assert repr(Headers([(b"host", b"x")])) == "Headers(raw=[(b'host', b'x')])"
    assert repr(MutableHeaders()) == "MutableHeaders(raw=[])"


# MutableHeaders


def test_mutable_headers_edit_the_shared_list_in_place() -> None:
    raw = _raw()
    headers = MutableHeaders(raw)
    headers["X-Request-Id"] = "42"
    headers.append("Set-Cookie", "c=3")
    del headers["host"]
    assert headers.raw is raw
    assert raw == [
        (b"set-cookie", b"a=1"),
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"b=2"),
        (b"x-request-id", b"42"),
        (b"set-cookie", b"c=3"),
    ]


def test_mutable_headers_default_list() -> None:
    headers = MutableHeaders()
    headers["Content-Length"] = "0"
    assert headers.raw == [(b"content-length", b"0")]


def test_setitem_replaces_every_value_at_the_first_position() -> None:
    headers = MutableHeaders(_raw())
    headers["SET-COOKIE"] = "z=9"
    assert headers.raw == [
        (b"host", b"example.com"),
        (b"set-cookie", b"z=9"),
        (b"content-type", b"text/plain"),
    ]
    assert headers.getlist("set-cookie") == ["z=9"]


def test_setitem_stores_latin1_values() -> None:
    headers = MutableHeaders()
    headers["x-name"] = "caf\xe9"
    assert headers.raw == [(b"x-name", b"caf\xe9")]
    assert headers["X-Name"] == "caf\xe9"


def test_delitem_removes_every_value() -> None:
    headers = MutableHeaders(_raw())
    del headers["Set-Cookie"]
    assert "set-cookie" not in headers
    assert headers.keys() == ["host", "content-type"]
    with pytest.raises(KeyError):
        del headers["set-cookie"]


def test_append_adds_another_value() -> None:
    headers = MutableHeaders()
    headers.append("Set-Cookie", "a=1")
    headers.append("Set-Cookie", "b=2")
    assert headers.getlist("set-cookie") == ["a=1", "b=2"]


def test_setdefault() -> None:
    headers = MutableHeaders(_raw())
    assert headers.setdefault("Content-Type", "application/json") == "text/plain"
    assert headers.getlist("content-type") == ["text/plain"]
    assert headers.setdefault("Vary", "Accept") == "Accept"
    assert headers.raw[-1] == (b"vary", b"Accept")


def test_update_from_a_mapping() -> None:
    headers = MutableHeaders(_raw())
    headers.update({"Set-Cookie": "only=1", "Cache-Control": "no-store"})
    assert headers.getlist("set-cookie") == ["only=1"]
    assert headers["cache-control"] == "no-store"
    assert headers["host"] == "example.com"


def test_update_from_pairs_and_headers_keeps_repeated_names() -> None:
    headers = MutableHeaders([(b"set-cookie", b"old=0"), (b"host", b"x")])
    headers.update([("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert headers.getlist("set-cookie") == ["a=1", "b=2"]
    other = Headers([(b"vary", b"Accept"), (b"vary", b"Cookie"), (b"host", b"y")])
    headers.update(other)
    assert headers.getlist("vary") == ["Accept", "Cookie"]
    assert headers.getlist("host") == ["y"]


def test_pop() -> None:
    headers = MutableHeaders(_raw())
    assert headers.pop("Set-Cookie") == "a=1"
    assert "set-cookie" not in headers
    assert headers.pop("set-cookie", None) is None
    assert headers.pop("set-cookie", "gone") == "gone"
    with pytest.raises(KeyError):
        headers.pop("set-cookie")
    assert headers.keys() == ["host", "content-type"]


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nSet-Cookie: admin=1",
        "a\nb",
        "a\rb",
        "a\x00b",
        "\u20ac",
        "a\x01b",
        "\x08",
        "a\x0bb",
        "a\x1f",
        "\x7f",
    ],
)
def test_invalid_values_are_rejected(value: str) -> None:
    raw = _raw()
    headers = MutableHeaders(raw)
    with pytest.raises(ValueError, match="x-test"):
        headers["x-test"] = value
    with pytest.raises(ValueError):
        headers.append("x-test", value)
    with pytest.raises(ValueError):
        headers.setdefault("x-test", value)
    with pytest.raises(ValueError):
        headers.update({"x-test": value})
    assert raw == _raw()


@pytest.mark.parametrize(
    "name",
    ["", "x test", "x-test:", "x-test\r\nset-cookie", "x-test\n", "caf\xe9", "x(y)"],
)
def test_invalid_names_are_rejected(name: str) -> None:
    headers = MutableHeaders()
    with pytest.raises(ValueError, match="Invalid header name"):
        headers[name] = "value"
    with pytest.raises(ValueError, match="Invalid header name"):
        headers.append(name, "value")
    assert headers.raw == []


@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F]])
def test_every_control_character_but_htab_is_rejected(char: str) -> None:
    headers = MutableHeaders()
    with pytest.raises(ValueError, match=r"Invalid value for header 'x-test': control character") as info:
        headers.append("x-test", f"a{char}b")
    assert repr(char) in str(info.value)
    assert headers.raw == []


def test_htab_space_and_obs_text_are_allowed_in_values() -> None:
    headers = MutableHeaders()
    value = "a\tb c ~\x80\x9f\xa0\xff"
    headers["x-test"] = value
    assert headers.raw == [(b"x-test", value.encode("latin-1"))]
    assert headers["x-test"] == value


def test_replacing_with_an_invalid_value_keeps_the_old_ones() -> None:
    headers = MutableHeaders(_raw())
    with pytest.raises(ValueError):
        headers["set-cookie"] = "x\r\n"
    assert headers.getlist("set-cookie") == ["a=1", "b=2"]


# QueryParams


def test_query_params_last_value_wins_and_getlist_keeps_all() -> None:
    params = QueryParams(b"a=1&b=2&a=3")
    assert params["a"] == "3"
    assert params.get("a") == "3"
    assert params.getlist("a") == ["1", "3"]
    assert params.getlist("missing") == []
    assert params.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]


def test_query_params_missing_key() -> None:
    params = QueryParams(b"a=1")
    with pytest.raises(KeyError):
        params["b"]
    assert params.get("b") is None
    assert params.get("b", "x") == "x"


def test_query_params_mapping_views_hold_one_entry_per_key() -> None:
    params = QueryParams(b"a=1&b=2&a=3")
    assert list(params.keys()) == ["a", "b"]
    assert list(params.values()) == ["3", "2"]
    assert list(params.items()) == [("a", "3"), ("b", "2")]
    assert list(params) == ["a", "b"]
    assert len(params) == 2
    assert "a" in params
    assert "c" not in params
    not_a_str: object = 1
    assert not_a_str not in params
    assert dict(params) == {"a": "3", "b": "2"}


def test_query_params_percent_and_plus_decoding() -> None:
    params = QueryParams(b"q=hello+world&path=%2Fa%2Fb&euro=%E2%82%AC&plus=%2B&sp=a%20b")
    assert params["q"] == "hello world"
    assert params["path"] == "/a/b"
    assert params["euro"] == "\u20ac"
    assert params["plus"] == "+"
    assert params["sp"] == "a b"


def test_query_params_keep_blank_values() -> None:
    params = QueryParams(b"a=&b&c=1&&")
    assert params.multi_items() == [("a", ""), ("b", ""), ("c", "1")]


@pytest.mark.parametrize("query", [b"bad=%ff%fe", b"raw=\xff", b"%c3=1", b"ok=%C3%A9&cut=%C3"])
def test_query_params_invalid_utf8_raises_400(query: bytes) -> None:
    params = QueryParams(query)
    with pytest.raises(MalformedQueryError, match="not valid UTF-8") as info:
        params.get("ok")
    assert info.value.status_code == 400


def test_query_params_raw_utf8_bytes_are_decoded() -> None:
    assert QueryParams("é=ü".encode())["é"] == "ü"


@pytest.mark.parametrize(
    "query",
    ["a=1&b=2", "a", "a=", "=", "=x", "&&", "a&&b=", "a=b=c", "&a=1&", "k==v", "x=\xe9", "a=%20+b"],
)
def test_query_params_parse_like_parse_qsl(query: str) -> None:
    expected = parse_qsl(query, keep_blank_values=True)
    assert QueryParams(query).multi_items() == expected
    assert QueryParams(query.encode()).multi_items() == expected


def test_query_params_semicolon_is_not_a_separator() -> None:
    assert QueryParams(b"a=1;b=2").multi_items() == [("a", "1;b=2")]


def test_query_params_other_sources() -> None:
    assert QueryParams("a=1&a=2").getlist("a") == ["1", "2"]
    assert QueryParams([("a", "1"), ("a", "2")]).getlist("a") == ["1", "2"]
    assert QueryParams({"a": "1", "b": "2"}).multi_items() == [("a", "1"), ("b", "2")]
    original = QueryParams(b"a=1&a=2")
    assert QueryParams(original).getlist("a") == ["1", "2"]
    assert QueryParams().multi_items() == []
    assert len(QueryParams(b"")) == 0


def test_query_params_list_source_is_copied() -> None:
    pairs = [("a", "1")]
    params = QueryParams(pairs)
    pairs.append(("a", "2"))
    assert params.getlist("a") == ["1"]
    assert params.multi_items() is not params.multi_items()


def test_query_params_equality() -> None:
    assert QueryParams(b"a=1&b=2") == QueryParams([("b", "2"), ("a", "1")])
    assert QueryParams(b"a=1&a=2") != QueryParams(b"a=2&a=1")
    assert QueryParams(b"a=1&a=1") != QueryParams(b"a=1")
    assert QueryParams(b"q=a+b") == QueryParams("q=a%20b")
    assert QueryParams(b"a=1") != {"a": "1"}
    with pytest.raises(TypeError):
        hash(QueryParams(b"a=1"))


def test_query_params_str_is_url_encoded_and_round_trips() -> None:
    params = QueryParams([("q", "a b"), ("x", "1&2=3"), ("e", "\u20ac"), ("q", "")])
    text = str(params)
    assert text == "q=a+b&x=1%262%3D3&e=%E2%82%AC&q="
    assert QueryParams(text) == params
    assert repr(params) == f"QueryParams({text!r})"


# URL


def test_url_components() -> None:
    url = URL("https://user:pw@Example.COM:8443/a/b?x=1&y=2#frag")
    assert url.scheme == "https"
    assert url.netloc == "user:pw@Example.COM:8443"
    assert url.hostname == "example.com"
    assert url.port == 8443
    assert url.path == "/a/b"
    assert url.query == "x=1&y=2"
    assert url.fragment == "frag"
    assert url.is_secure


def test_url_without_port_or_with_invalid_port() -> None:
    assert URL("http://example.com/").port is None
    assert URL("http://example.com:abc/").port is None
    assert URL("http://example.com:99999/").port is None


def test_url_relative_and_empty() -> None:
    url = URL("/a?b=1")
    assert url.scheme == ""
    assert url.hostname is None
    assert url.path == "/a"
    assert url.query == "b=1"
    assert str(URL()) == ""


@pytest.mark.parametrize(
    ("text", "secure"),
    [("https://a/", True), ("wss://a/", True), ("http://a/", False), ("ws://a/", False)],
)
def test_url_is_secure(text: str, secure: bool) -> None:
    assert URL(text).is_secure is secure


def test_url_ipv6() -> None:
    url = URL("http://[::1]:8000/x")
    assert url.hostname == "::1"
    assert url.port == 8000


def test_url_replace_components() -> None:
    url = URL("http://example.com/a?x=1#f")
    assert str(url.replace(scheme="https")) == "https://example.com/a?x=1#f"
    assert str(url.replace(netloc="other.org:81")) == "http://other.org:81/a?x=1#f"
    assert str(url.replace(path="/b")) == "http://example.com/b?x=1#f"
    assert str(url.replace(query="y=2")) == "http://example.com/a?y=2#f"
    assert str(url.replace(query="", fragment="")) == "http://example.com/a"
    assert str(url) == "http://example.com/a?x=1#f"


def test_url_replace_hostname_and_port() -> None:
    url = URL("http://user:pw@example.com:8000/a")
    assert str(url.replace(hostname="other.org")) == "http://user:pw@other.org:8000/a"
    assert str(url.replace(port=9000)) == "http://user:pw@example.com:9000/a"
    assert str(url.replace(port=None)) == "http://user:pw@example.com/a"
    assert str(url.replace(hostname="::1", port=1)) == "http://user:pw@[::1]:1/a"
    assert str(URL("http://[::1]:80/").replace(port=81)) == "http://[::1]:81/"
    assert str(URL("http://[::1]:80/").replace(hostname="a.b")) == "http://a.b:80/"
    with pytest.raises(ValueError, match="65535"):
        url.replace(port=70000)


def test_include_query_params() -> None:
    url = URL("http://example.com/s?page=1&q=a%20b&page=2&tag")
    new = url.include_query_params(page=3, size="big one")
    assert str(new) == "http://example.com/s?page=3&q=a%20b&tag&size=big+one"
    assert str(URL("/s").include_query_params(q="\u20ac")) == "/s?q=%E2%82%AC"
    assert str(url) == "http://example.com/s?page=1&q=a%20b&page=2&tag"


def test_url_equality_hash_and_repr() -> None:
    url = URL("http://example.com/a")
    assert url == URL("http://example.com/a")
    assert url == "http://example.com/a"
    assert url != "http://example.com/b"
    assert url != 1
    assert {url: 1}[URL("http://example.com/a")] == 1
    assert repr(url) == "URL('http://example.com/a')"


def test_url_repr_masks_the_password() -> None:
    url = URL("https://user:secret@example.com:8443/a")
    assert "secret" not in repr(url)
    assert repr(url) == "URL('https://user:********@example.com:8443/a')"
    assert str(url) == "https://user:secret@example.com:8443/a"


# URL.from_scope


def test_from_scope_uses_the_host_header() -> None:
    scope = _scope(headers=[(b"host", b"api.example.com:8080")], query_string=b"a=1&b=2")
    url = URL.from_scope(scope)
    assert str(url) == "http://api.example.com:8080/items?a=1&b=2"
    assert url.hostname == "api.example.com"
    assert url.port == 8080


def test_from_scope_without_host_header_uses_the_server() -> None:
    assert str(URL.from_scope(_scope())) == "http://127.0.0.1:8000/items"


@pytest.mark.parametrize(
    ("scheme", "port", "expected"),
    [
        ("http", 80, "http://10.0.0.1/items"),
        ("https", 443, "https://10.0.0.1/items"),
        ("ws", 80, "ws://10.0.0.1/items"),
        ("wss", 443, "wss://10.0.0.1/items"),
        ("http", 443, "http://10.0.0.1:443/items"),
        ("https", 80, "https://10.0.0.1:80/items"),
    ],
)
def test_from_scope_elides_the_default_port(scheme: str, port: int, expected: str) -> None:
    url = URL.from_scope(_scope(scheme=scheme, server=("10.0.0.1", port)))
    assert str(url) == expected


def test_from_scope_brackets_an_ipv6_server() -> None:
    url = URL.from_scope(_scope(server=("::1", 8000)))
    assert str(url) == "http://[::1]:8000/items"
    assert url.hostname == "::1"


def test_from_scope_prefixes_root_path() -> None:
    url = URL.from_scope(_scope(root_path="/api", path="/items"))
    assert url.path == "/api/items"


def test_from_scope_does_not_double_a_root_path_already_in_path() -> None:
    assert URL.from_scope(_scope(root_path="/api", path="/api/items")).path == "/api/items"
    assert URL.from_scope(_scope(root_path="/api", path="/api")).path == "/api"
    assert URL.from_scope(_scope(root_path="/api", path="/apiary")).path == "/api/apiary"
    assert URL.from_scope(_scope(root_path="/api/", path="/items")).path == "/api/items"


def test_from_scope_quotes_the_decoded_path_and_query() -> None:
    scope = _scope(path="/caf\xe9 menu?#", query_string=b"q=%20x&r=\xc3\xa9 #")
    url = URL.from_scope(scope)
    assert url.path == "/caf%C3%A9%20menu%3F%23"
    assert url.query == "q=%20x&r=%C3%A9%20%23"
    assert url.fragment == ""


@pytest.mark.parametrize(
    "host",
    [b"evil.com/phish", b"a@evil.com", b"evil.com?x", b"evil.com#x", b"a b", b"", b"[::1"],
)
def test_from_scope_ignores_a_malformed_host_header(host: bytes) -> None:
    url = URL.from_scope(_scope(headers=[(b"host", host)]))
    assert str(url) == "http://127.0.0.1:8000/items"


def test_from_scope_without_host_or_server_is_relative() -> None:
    url = URL.from_scope(_scope(server=None, query_string=b"a=1"))
    assert str(url) == "/items?a=1"
    unix = URL.from_scope(_scope(server=("/tmp/app.sock", None)))
    assert str(unix) == "/items"


def test_from_scope_with_minimal_scope_defaults_to_http() -> None:
    url = URL.from_scope({"path": "/", "headers": [(b"host", b"example.com")]})
    assert str(url) == "http://example.com/"
    assert not url.is_secure


def test_from_scope_https_is_secure() -> None:
    scope = _scope(scheme="https", headers=[(b"host", b"example.com")])
    url = URL.from_scope(scope)
    assert url.is_secure
    assert str(url) == "https://example.com/items"


# Address and State


def test_address() -> None:
    address = Address("127.0.0.1", 5000)
    host, port = address
    assert (host, port) == ("127.0.0.1", 5000)
    assert address.host == "127.0.0.1"
    assert address.port == 5000
    assert address == ("127.0.0.1", 5000)


def test_state_attributes() -> None:
    state = State()
    state.db = "pool"
    assert state.db == "pool"
    del state.db
    with pytest.raises(AttributeError, match="'db'"):
        state.db  # noqa: B018
    with pytest.raises(AttributeError, match="'db'"):
        del state.db


def test_state_missing_attribute_message_names_it() -> None:
    with pytest.raises(AttributeError, match=r"State has no attribute 'missing'"):
        State().missing  # noqa: B018
    assert getattr(State(), "missing", None) is None
    assert not hasattr(State(), "missing")


def test_state_shares_the_given_dict() -> None:
    values: dict[str, Any] = {"counter": 1}
    state = State(values)
    assert state.counter == 1
    state.name = "lanner"
    assert values == {"counter": 1, "name": "lanner"}
    assert repr(state) == "State({'counter': 1, 'name': 'lanner'})"


def test_state_copy_and_pickle() -> None:
    state = State({"a": [1]})
    assert copy.copy(state).a == [1]
    deep = copy.deepcopy(state)
    deep.a.append(2)
    assert state.a == [1]
    assert pickle.loads(pickle.dumps(state)).a == [1]


def test_state_has_flask_g_s_helpers() -> None:
    from lanner.datastructures import State

    state = State()
    state.user = "ann"
    assert state.get("user") == "ann" and state.get("missing", 1) == 1
    assert "user" in state and "missing" not in state
    assert list(state) == ["user"]
    assert state.setdefault("db", "pool") == "pool" and state.db == "pool"
    assert state.setdefault("db", "other") == "pool"
    assert state.pop("db") == "pool" and state.pop("db", None) is None
    with pytest.raises(KeyError):
        state.pop("db")


def test_merge_vary_adds_a_token_once() -> None:
    from lanner.datastructures import merge_vary

    headers: list[tuple[bytes, bytes]] = []
    merge_vary(headers, b"Cookie")
    merge_vary(headers, b"cookie")
    merge_vary(headers, b"Accept-Encoding")
    assert headers == [(b"vary", b"Cookie, Accept-Encoding")]
    star = [(b"vary", b"*")]
    merge_vary(star, b"Origin")
    assert star == [(b"vary", b"*")]


def test_query_params_to_dict_keeps_the_first_value_as_werkzeug_does() -> None:
    from lanner.datastructures import QueryParams

    params = QueryParams(b"a=1&b=2&a=3&c=")
    assert params.to_dict() == {"a": "1", "b": "2", "c": ""}
    assert params.to_dict(flat=False) == {"a": ["1", "3"], "b": ["2"], "c": [""]}
    assert params["a"] == "3"  # item access keeps the last, as Starlette's does
