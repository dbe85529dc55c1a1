"""The Cookie request header parser (lanner.datastructures.parse_cookies): browsers' rules, linear time.

End-to-end tests run on the direct path for plain handlers and, with an app-level dependency, on
the full dependency path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest

import lanner.requests
from lanner import Cookie, Depends, HTTPException, Lanner, Request, Response
from lanner.cookies import MAX_COOKIE_HEADER_SIZE, parse_cookies
from lanner.datastructures import Headers
from lanner.testing import TestClient

# --- correctness -------------------------------------------------------------------------------


def test_plain_pairs_and_whitespace() -> None:
    assert parse_cookies("a=1; b=2") == {"a": "1", "b": "2"}
    assert parse_cookies("a=1;b=2") == {"a": "1", "b": "2"}
    assert parse_cookies("  a = 1 ;\tb=2\t; ") == {"a": "1", "b": "2"}
    # Spaces inside a value are kept; only SP and HTAB around it are dropped.
    assert parse_cookies("theme=dark mode ; x= y z") == {"theme": "dark mode", "x": "y z"}


def test_only_sp_and_htab_are_stripped() -> None:
    # A latin-1 decoded NBSP (0xA0) is data, not whitespace (str.strip() would have dropped it).
    assert parse_cookies("a=\xa0v\xa0") == {"a": "\xa0v\xa0"}


def test_quoted_values_lose_one_pair_of_quotes() -> None:
    assert parse_cookies('a="dark mode"') == {"a": "dark mode"}
    assert parse_cookies('a=""') == {"a": ""}
    assert parse_cookies('a=""x""') == {"a": '"x"'}
    assert parse_cookies('a="  spaced  "') == {"a": "  spaced  "}


def test_quotes_that_do_not_wrap_the_value_are_kept() -> None:
    assert parse_cookies('a="open') == {"a": '"open'}
    assert parse_cookies('a=close"') == {"a": 'close"'}
    assert parse_cookies('a="') == {"a": '"'}
    assert parse_cookies('a=x"y"') == {"a": 'x"y"'}


def test_escapes_inside_quotes_are_decoded_like_http_cookies() -> None:
    assert parse_cookies('a="\\"quoted\\""') == {"a": '"quoted"'}
    assert parse_cookies('a="back\\\\slash"') == {"a": "back\\slash"}
    assert parse_cookies('a="x\\054y\\073z"') == {"a": "x,y;z"}
    assert parse_cookies('a="\\351t\\351"') == {"a": "\xe9t\xe9"}
    assert parse_cookies('a="\\012"') == {"a": "\n"}
    # Backslash before anything that is not three octal digits (0-3 first) gives that character.
    assert parse_cookies('a="\\x"') == {"a": "x"}
    assert parse_cookies('a="\\400"') == {"a": "400"}
    assert parse_cookies('a="\\01"') == {"a": "01"}
    # An escaped backslash is consumed first: "\\012" is a backslash then the text 012.
    assert parse_cookies('a="\\\\012"') == {"a": "\\012"}
    # A lone backslash at the end has nothing to escape and stays.
    assert parse_cookies('a="x\\"') == {"a": "x\\"}


def test_unquoted_values_are_kept_exactly_as_sent() -> None:
    assert parse_cookies("a=x\\054y") == {"a": "x\\054y"}
    assert parse_cookies("a=%20%3B") == {"a": "%20%3B"}


def test_empty_values() -> None:
    assert parse_cookies("a=; b=2") == {"a": "", "b": "2"}
    assert parse_cookies("a=") == {"a": ""}
    assert parse_cookies("a=   ") == {"a": ""}


def test_equals_inside_the_value_is_data() -> None:
    assert parse_cookies("k=v=w") == {"k": "v=w"}
    assert parse_cookies("token=abc==; b=1") == {"token": "abc==", "b": "1"}


def test_pairs_without_equals_or_name_are_skipped() -> None:
    assert parse_cookies("") == {}
    assert parse_cookies(";;;") == {}
    assert parse_cookies("   ") == {}
    assert parse_cookies("broken; a=1; =nameless;  = x; b=2") == {"a": "1", "b": "2"}
    assert parse_cookies("=") == {}


def test_first_occurrence_of_a_name_wins() -> None:
    # Browsers put the cookie with the longest (most specific) path first.
    assert parse_cookies("sid=specific; sid=general") == {"sid": "specific"}
    assert parse_cookies("a=1; b=2; a=3") == {"a": "1", "b": "2"}
    assert list(parse_cookies("b=1; a=2; b=3")) == ["b", "a"]


def test_non_ascii_bytes_stay_latin1_characters() -> None:
    raw = "session=caf\u00e9; name=\u20ac".encode()
    header = Headers([(b"cookie", raw)])["cookie"]
    cookies = parse_cookies(header)
    assert cookies == {"session": "caf\xc3\xa9", "name": "\xe2\x82\xac"}
    # Nothing is lost: the application can recover the UTF-8 text the browser sent.
    assert cookies["session"].encode("latin-1").decode() == "caf\u00e9"
    assert cookies["name"].encode("latin-1").decode() == "\u20ac"


@pytest.mark.parametrize("value", ['a b;c,"d"\\\xe9', "plain", "", "tab\there", "\\012", "x=y"])
def test_values_written_by_set_cookie_read_back_unchanged(value: str) -> None:
    response = Response(b"")
    response.set_cookie("v", value)
    (set_cookie,) = response.headers.getlist("set-cookie")
    pair = set_cookie.split("; Path=")[0]
    assert parse_cookies(f"other=1; {pair}; v=shadowed") == {"other": "1", "v": value}


def test_requests_module_re_exports_the_parser() -> None:
    assert lanner.requests.parse_cookies is parse_cookies


# --- size cap and linear time ------------------------------------------------------------------


def test_header_at_the_cap_is_parsed() -> None:
    assert MAX_COOKIE_HEADER_SIZE == 65_536
    header = "a=" + "x" * (MAX_COOKIE_HEADER_SIZE - 2)
    assert parse_cookies(header) == {"a": "x" * (MAX_COOKIE_HEADER_SIZE - 2)}


def test_header_over_the_cap_raises_431() -> None:
    with pytest.raises(HTTPException) as info:
        parse_cookies("a=" + "x" * (MAX_COOKIE_HEADER_SIZE - 1))
    assert info.value.status_code == 431
    assert info.value.detail == "Cookie header too large"


def _min_time(func: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _backslashes(size: int) -> str:
    # A quoted run of backslashes: http.cookies before CPython 3.11.10 rescanned the rest of the
    # value for an octal escape at every backslash pair (CVE-2024-7592).
    return 'a="' + "\\" * (size - 4) + '"'


def _many_pairs(size: int) -> str:
    return ('a="\\012\\\\x"; ' * (size // 14))[:size]


@pytest.mark.parametrize("make", [_backslashes, _many_pairs])
def test_adversarial_60kb_header_is_fast(make: Callable[[int], str]) -> None:
    header = make(60_000)
    assert len(header) <= MAX_COOKIE_HEADER_SIZE
    # Well under 0.1 s in practice (the stdlib path took seconds); the bound leaves room for a
    # busy machine.
    assert _min_time(lambda: parse_cookies(header), repeats=3) < 0.5
    if make is _backslashes:
        assert parse_cookies(header) == {"a": "\\" * ((60_000 - 4) // 2)}


@pytest.mark.parametrize("make", [_backslashes, _many_pairs])
def test_parse_time_grows_linearly(make: Callable[[int], str]) -> None:
    small, large = make(6_000), make(60_000)
    small_time = _min_time(lambda: parse_cookies(small), repeats=7)
    large_time = _min_time(lambda: parse_cookies(large), repeats=7)
    # Linear would be 10x; quadratic would be 100x.
    assert large_time <= 30 * max(small_time, 1e-5), (small_time, large_time)


# --- through an application --------------------------------------------------------------------


def _noop() -> None:
    return None


@pytest.fixture(params=["direct", "full"])
def app(request: pytest.FixtureRequest) -> Lanner:
    return Lanner(dependencies=[Depends(_noop)] if request.param == "full" else None)


@pytest.fixture
def client(app: Lanner) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _routes(app: Lanner) -> None:
    @app.get("/param")
    def h(session: Annotated[str | None, Cookie()] = None) -> dict[str, Any]:
        return {"session": session}

    @app.get("/request")
    def r(request: Request) -> dict[str, Any]:
        return {"cookies": request.cookies}


def test_cookies_reach_handlers(app: Lanner, client: TestClient) -> None:
    _routes(app)
    header = {"cookie": 'session="a\\054b"; session=later; theme=dark'}
    assert client.get("/param", headers=header).json() == {"session": "a,b"}
    assert client.get("/request", headers=header).json() == {"cookies": {"session": "a,b", "theme": "dark"}}
    assert client.get("/param").json() == {"session": None}


@pytest.mark.parametrize("path", ["/param", "/request"])
def test_oversized_cookie_header_is_answered_431(app: Lanner, client: TestClient, path: str) -> None:
    _routes(app)
    too_big = {"cookie": "session=" + "x" * MAX_COOKIE_HEADER_SIZE}
    response = client.get(path, headers=too_big)
    assert response.status_code == 431
    assert "Cookie header too large" in response.text
    at_cap = {"cookie": "session=" + "x" * (MAX_COOKIE_HEADER_SIZE - len("session="))}
    assert client.get(path, headers=at_cap).status_code == 200


@pytest.mark.parametrize("path", ["/param", "/request"])
def test_adversarial_cookie_through_the_app(app: Lanner, client: TestClient, path: str) -> None:
    _routes(app)
    header = {"cookie": "session=" + _backslashes(60_000)[2:]}
    start = time.perf_counter()
    response = client.get(path, headers=header)
    assert time.perf_counter() - start < 2.0
    assert response.status_code == 200
    body = response.json()
    session = body["session"] if path == "/param" else body["cookies"]["session"]
    assert session == "\\" * ((60_000 - 4) // 2)
