import http
import re

import pytest

from lanner import status

_CONSTANT = re.compile(r"HTTP_(\d{3})_[A-Z0-9_]+")


def _constants() -> dict[str, int]:
    return {name: getattr(status, name) for name in dir(status) if _CONSTANT.fullmatch(name)}


def test_every_constant_value_matches_the_number_in_its_name() -> None:
    constants = _constants()
    assert len(constants) > 60
    for name, value in constants.items():
        match = _CONSTANT.fullmatch(name)
        assert match is not None
        assert type(value) is int, name
        assert value == int(match.group(1)), name


def test_every_python_311_status_has_a_constant_and_a_phrase() -> None:
    values = set(_constants().values())
    for code in http.HTTPStatus:
        assert code.value in values, code
        assert status.phrase(code.value) != "", code


def test_every_constant_has_a_phrase() -> None:
    for name, value in _constants().items():
        assert status.phrase(value), name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (status.HTTP_100_CONTINUE, 100),
        (status.HTTP_200_OK, 200),
        (status.HTTP_201_CREATED, 201),
        (status.HTTP_204_NO_CONTENT, 204),
        (status.HTTP_206_PARTIAL_CONTENT, 206),
        (status.HTTP_304_NOT_MODIFIED, 304),
        (status.HTTP_307_TEMPORARY_REDIRECT, 307),
        (status.HTTP_308_PERMANENT_REDIRECT, 308),
        (status.HTTP_400_BAD_REQUEST, 400),
        (status.HTTP_404_NOT_FOUND, 404),
        (status.HTTP_405_METHOD_NOT_ALLOWED, 405),
        (status.HTTP_413_CONTENT_TOO_LARGE, 413),
        (status.HTTP_414_URI_TOO_LONG, 414),
        (status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, 415),
        (status.HTTP_416_RANGE_NOT_SATISFIABLE, 416),
        (status.HTTP_418_IM_A_TEAPOT, 418),
        (status.HTTP_422_UNPROCESSABLE_CONTENT, 422),
        (status.HTTP_429_TOO_MANY_REQUESTS, 429),
        (status.HTTP_500_INTERNAL_SERVER_ERROR, 500),
        (status.HTTP_503_SERVICE_UNAVAILABLE, 503),
        (status.HTTP_511_NETWORK_AUTHENTICATION_REQUIRED, 511),
    ],
)
def test_sample_constants(value: int, expected: int) -> None:
    assert value == expected


def test_pre_rfc_9110_aliases_are_kept() -> None:
    assert status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == status.HTTP_413_CONTENT_TOO_LARGE
    assert status.HTTP_414_REQUEST_URI_TOO_LONG == status.HTTP_414_URI_TOO_LONG
    assert status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE == status.HTTP_416_RANGE_NOT_SATISFIABLE
    assert status.HTTP_422_UNPROCESSABLE_ENTITY == status.HTTP_422_UNPROCESSABLE_CONTENT


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (200, "OK"),
        (203, "Non-Authoritative Information"),
        (404, "Not Found"),
        (413, "Content Too Large"),
        (414, "URI Too Long"),
        (416, "Range Not Satisfiable"),
        (422, "Unprocessable Content"),
        (500, "Internal Server Error"),
        (505, "HTTP Version Not Supported"),
    ],
)
def test_phrase_uses_rfc_9110_wording(code: int, expected: str) -> None:
    assert status.phrase(code) == expected


def test_phrase_agrees_with_stdlib_except_for_rfc_9110_renames() -> None:
    renamed = {413, 414, 416, 422}
    for code in http.HTTPStatus:
        if code.value not in renamed:
            assert status.phrase(code.value) == code.phrase, code


def test_phrase_accepts_an_http_status_member() -> None:
    assert status.phrase(http.HTTPStatus.NOT_FOUND) == "Not Found"


@pytest.mark.parametrize("code", [0, 99, 199, 299, 420, 600, 999, -1])
def test_phrase_of_unknown_code_is_empty(code: int) -> None:
    assert status.phrase(code) == ""
