"""Query-string decoding (lanner.datastructures.parse_query_string): one strict UTF-8 decoder."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest

from lanner import HTTPException, Lanner, Request
from lanner.datastructures import QueryParams, parse_query_string
from lanner.exceptions import MalformedBodyError, MalformedQueryError
from lanner.testing import TestClient


def both(query: str) -> list[list[tuple[str, str]]]:
    """Parse `query` given as text and as its UTF-8 bytes."""
    return [parse_query_string(query), parse_query_string(query.encode())]


def test_percent_encoded_and_raw_utf8_decode_alike() -> None:
    assert parse_query_string(b"q=caf%C3%A9") == [("q", "caf\u00e9")]
    assert parse_query_string(b"q=caf\xc3\xa9") == [("q", "caf\u00e9")]
    assert parse_query_string("q=caf\u00e9") == [("q", "caf\u00e9")]
    assert parse_query_string(b"caf\xc3\xa9=%E2%82%AC") == [("caf\u00e9", "\u20ac")]
    # Raw bytes and escapes may share one character.
    assert parse_query_string(b"q=%C3\xa9") == [("q", "\u00e9")]


def test_query_params_decode_raw_and_escaped_utf8_alike() -> None:
    assert QueryParams(b"q=caf%C3%A9")["q"] == "caf\u00e9"
    assert QueryParams(b"q=caf\xc3\xa9")["q"] == "caf\u00e9"
    assert QueryParams(b"q=caf%C3%A9") == QueryParams(b"q=caf\xc3\xa9")


@pytest.mark.parametrize(
    "raw",
    [
        b"q=%ff",
        b"q=\xff",
        b"q=%c3",
        b"q=\xc3",
        b"q=%c3%28",
        b"%ff=1",
        b"\xff",
        b"a=1&b=%ed%a0%80",
        b"q=%C0%AF",
    ],
)
def test_invalid_utf8_raises_malformed_query_error(raw: bytes) -> None:
    with pytest.raises(MalformedQueryError) as info:
        parse_query_string(raw)
    assert isinstance(info.value, HTTPException)
    assert info.value.status_code == 400
    assert "not valid UTF-8" in info.value.detail
    with pytest.raises(MalformedQueryError):
        QueryParams(raw)["q"]


def test_error_detail_names_the_parameter_and_the_byte() -> None:
    with pytest.raises(MalformedQueryError) as info:
        parse_query_string(b"ok=1&name=%ff")
    assert info.value.detail == (
        "Malformed query string: the value of parameter 'name' is not valid UTF-8 "
        "(byte 0xff: invalid start byte)"
    )
    with pytest.raises(MalformedQueryError) as info:
        parse_query_string(b"%c3=1")
    assert info.value.detail == (
        "Malformed query string: a parameter name is not valid UTF-8 (byte 0xc3: unexpected end of data)"
    )
    with pytest.raises(MalformedQueryError) as info:
        parse_query_string(b"n" * 1000 + b"=%ff")
    assert len(info.value.detail) < 200


def test_text_with_a_lone_surrogate_raises() -> None:
    with pytest.raises(MalformedQueryError):
        parse_query_string("q=\ud800")


def test_malformed_query_error_mirrors_malformed_body_error() -> None:
    error = MalformedQueryError("bad")
    assert (error.status_code, error.detail) == (400, "bad")
    assert MalformedQueryError.__mro__[1] is HTTPException
    assert MalformedBodyError.__mro__[1] is HTTPException


def test_semicolon_is_not_a_separator() -> None:
    assert both("a=1;b=2") == [[("a", "1;b=2")]] * 2
    assert both("a=1%3Bb;c") == [[("a", "1;b;c")]] * 2


def test_plus_is_a_space_and_escaped_plus_is_a_plus() -> None:
    assert both("q=a+b&r=a%2Bb&s=%2B+%20") == [[("q", "a b"), ("r", "a+b"), ("s", "+  ")]] * 2
    assert both("a+b=1") == [[("a b", "1")]] * 2


def test_blank_values_are_kept_and_empty_pairs_skipped() -> None:
    assert both("a=&b&c=1&&=&=x") == [[("a", ""), ("b", ""), ("c", "1"), ("", ""), ("", "x")]] * 2
    assert parse_query_string(b"") == []
    assert parse_query_string(b"&&&") == []


@pytest.mark.parametrize("query", ["z=%zz", "z=%", "z=%2", "z=100%", "%=%%", "z=%g1%41", "z=%%41"])
def test_malformed_escapes_are_kept_literally(query: str) -> None:
    expected = parse_qsl(query, keep_blank_values=True)
    assert both(query) == [expected] * 2
    assert both("z=%zz") == [[("z", "%zz")]] * 2


def test_escapes_are_case_insensitive() -> None:
    assert both("q=%c3%a9%C3%A9%c3%A9") == [[("q", "\u00e9\u00e9\u00e9")]] * 2


@pytest.mark.parametrize(
    "query",
    [
        "a=1&b=2",
        "a",
        "a=",
        "=",
        "=x",
        "&&",
        "a&&b=",
        "a=b=c",
        "&a=1&",
        "k==v",
        "x=\u00e9",
        "a=%20+b",
        "q=hello+world&path=%2Fa%2Fb&euro=%E2%82%AC",
        "%E2%82%AC=%F0%9F%98%80",
        "a=%3D%26&b=%25",
        "x=\u20ac%E2%82%AC+",
    ],
)
def test_same_output_as_parse_qsl_for_valid_input(query: str) -> None:
    expected = parse_qsl(query, keep_blank_values=True)
    assert both(query) == [expected] * 2


def test_same_output_as_parse_qsl_for_random_valid_queries() -> None:
    rng = random.Random(7592)
    alphabet = ["a", "b", "=", "&", "+", ";", "%", "%2", "%41", "%2B", "%26", "%3D", " ", "~", "\u00e9"]
    alphabet += [quote("\u20ac"), quote("\U0001f600"), "%zz", "%%"]
    for _ in range(2000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            expected = parse_qsl(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            # Pieces such as "%" + "a" + "b" can spell an escape that is not UTF-8.
            with pytest.raises(MalformedQueryError):
                parse_query_string(query.encode())
            continue
        assert both(query) == [expected] * 2, query


def test_fast_path_gives_plain_strings() -> None:
    pairs = parse_query_string(b"a=1&b=2&a=3&flag")
    assert pairs == [("a", "1"), ("b", "2"), ("a", "3"), ("flag", "")]
    assert all(type(k) is str and type(v) is str for k, v in pairs)


def _min_time(func: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "make",
    [
        lambda n: b"a=" + b"%41" * (n // 3),
        lambda n: b"a=" + b"%" * n,
        lambda n: b"a=" + b"+" * n,
        lambda n: b"a=%C3%A9&" * (n // 9),
        lambda n: b"\xc3\xa9=" * (n // 3),
    ],
)
def test_parse_time_grows_linearly(make: Callable[[int], bytes]) -> None:
    small, large = make(20_000), make(200_000)
    small_time = _min_time(lambda: parse_query_string(small))
    large_time = _min_time(lambda: parse_query_string(large))
    assert large_time < 0.5
    assert large_time <= 30 * max(small_time, 1e-5), (small_time, large_time)


# --- QueryParams ---------------------------------------------------------------------------------


def test_query_params_raise_on_first_read_and_repr_does_not() -> None:
    params = QueryParams(b"ok=1&bad=%ff")
    assert repr(params) == "QueryParams(b'ok=1&bad=%ff')"
    with pytest.raises(MalformedQueryError):
        params.get("ok")
    with pytest.raises(MalformedQueryError):
        len(params)
    with pytest.raises(MalformedQueryError):
        params.multi_items()


def test_query_params_from_text_use_the_same_decoder() -> None:
    assert QueryParams("q=caf\u00e9&r=caf%C3%A9").multi_items() == [("q", "caf\u00e9"), ("r", "caf\u00e9")]
    with pytest.raises(MalformedQueryError):
        QueryParams("q=%ff")["q"]


# --- through an application ----------------------------------------------------------------------


def test_request_query_params_in_an_app() -> None:
    app = Lanner()

    @app.get("/")
    def show(request: Request) -> dict[str, Any]:
        return {"q": request.query_params.getlist("q")}

    with TestClient(app) as client:
        assert client.get("/?q=caf%C3%A9&q=a+b&q=%2B").json() == {"q": ["caf\u00e9", "a b", "+"]}
        response = client.get("/?q=%ff")
        assert response.status_code == 400
        assert "not valid UTF-8" in response.text
