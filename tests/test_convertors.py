"""Path parameter convertors (lanner.convertors): matching, conversion, rendering, mixed segments."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from lanner.convertors import (
    CONVERTORS,
    Convertor,
    FloatConvertor,
    IntConvertor,
    PathConvertor,
    UUIDConvertor,
    get_convertor,
    split_mixed,
)

STR = CONVERTORS["str"]
INT = CONVERTORS["int"]
FLOAT = CONVERTORS["float"]
UUID = CONVERTORS["uuid"]
PATH = CONVERTORS["path"]
SAMPLE_UUID = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")


# -- the registry ---------------------------------------------------------------------------------


def test_registry_holds_the_five_documented_convertors() -> None:
    assert set(CONVERTORS) == {"str", "int", "float", "uuid", "path"}
    assert type(STR) is Convertor
    assert isinstance(INT, IntConvertor)
    assert isinstance(FLOAT, FloatConvertor)
    assert isinstance(UUID, UUIDConvertor)
    assert isinstance(PATH, PathConvertor)


@pytest.mark.parametrize("name", ["str", "int", "float", "uuid", "path"])
def test_get_convertor_returns_the_registered_instance(name: str) -> None:
    assert get_convertor(name) is CONVERTORS[name]
    assert get_convertor(name).name == name


def test_get_convertor_rejects_an_unknown_name_and_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown path convertor 'slug'.*float, int, path, str, uuid"):
        get_convertor("slug")


def test_value_types() -> None:
    assert (STR.type, INT.type, FLOAT.type, UUID.type, PATH.type) == (str, int, float, uuid.UUID, str)


def test_typed_convertors_are_tried_before_plain_text_and_path_last() -> None:
    order = sorted(CONVERTORS.values(), key=lambda c: c.priority)
    assert [c.name for c in order] == ["int", "uuid", "float", "str", "path"]


# -- str ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", ["a", "hello world", "café", "12", "a.b", "%41", "😀"])
def test_str_accepts_any_non_empty_segment_as_is(segment: str) -> None:
    assert STR.convert(segment) == segment


def test_str_refuses_an_empty_segment() -> None:
    assert STR.convert("") is None


@pytest.mark.parametrize(("value", "text"), [("abc", "abc"), (5, "5"), ("a b", "a b"), ("ü", "ü")])
def test_str_to_string(value: Any, text: str) -> None:
    assert STR.to_string(value) == text


@pytest.mark.parametrize("value", ["", "a/b", "/", ".", ".."])
def test_str_to_string_refuses_what_cannot_round_trip(value: str) -> None:
    with pytest.raises(ValueError, match="not a valid path segment"):
        STR.to_string(value)


# -- int ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("segment", "value"), [("0", 0), ("7", 7), ("007", 7), ("1234567890", 1234567890)])
def test_int_converts_ascii_digits(segment: str, value: int) -> None:
    result = INT.convert(segment)
    assert result == value
    assert type(result) is int


@pytest.mark.parametrize(
    "segment",
    [
        "",
        "-1",
        "+1",
        "1.5",
        "1e3",
        " 1",
        "1 ",
        "abc",
        "12a",
        "0x10",
        "1_000",
        "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() is true, int() would accept them
        "\uff11\uff12",  # fullwidth digits
        "\u00b2",  # superscript two: isdigit() is true but int() fails
        "\u07c1",  # NKo digit one
    ],
)
def test_int_refuses_anything_but_ascii_digits(segment: str) -> None:
    assert INT.convert(segment) is None


def test_int_refuses_more_than_64_digits() -> None:
    assert INT.convert("9" * 64) == int("9" * 64)
    assert INT.convert("9" * 65) is None


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (42, "42"), (10**30, "1" + "0" * 30)])
def test_int_to_string(value: int, text: str) -> None:
    assert INT.to_string(value) == text
    assert INT.convert(INT.to_string(value)) == value


@pytest.mark.parametrize("value", [-1, True, False, 1.0, "5", None, uuid.uuid4()])
def test_int_to_string_refuses_negative_or_non_int_values(value: Any) -> None:
    with pytest.raises(ValueError, match="not a non-negative integer"):
        INT.to_string(value)


# -- float ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("segment", "value"), [("3", 3.0), ("2.5", 2.5), ("0.0", 0.0), ("007.50", 7.5)])
def test_float_converts_plain_decimals(segment: str, value: float) -> None:
    result = FLOAT.convert(segment)
    assert result == value
    assert type(result) is float


@pytest.mark.parametrize(
    "segment",
    [
        "",
        "1.",
        ".5",
        "1e5",
        "1E5",
        "nan",
        "NaN",
        "inf",
        "Infinity",
        "-1",
        "+1",
        "1,5",
        "1.2.3",
        "\u0661.\u0665",
        " 1",
    ],
)
def test_float_refuses_anything_but_plain_decimals(segment: str) -> None:
    assert FLOAT.convert(segment) is None


def test_float_refuses_more_than_64_characters() -> None:
    assert FLOAT.convert("1." + "0" * 62) == 1.0
    assert FLOAT.convert("1." + "0" * 63) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.5, "2.5"),
        (3.0, "3"),
        (3, "3"),
        (0.1, "0.1"),
        (-0.0, "0"),
        (1e20, "100000000000000000000"),
        (1e-7, "0.0000001"),
        (123456.789, "123456.789"),
        ("2.5", "2.5"),
    ],
)
def test_float_to_string_writes_plain_decimal_notation(value: Any, text: str) -> None:
    assert FLOAT.to_string(value) == text


@pytest.mark.parametrize("value", [0.0, 2.5, 0.1, 1 / 3, 1e20, 1e-7, 2.0**52 + 0.5, 123456.789])
def test_float_to_string_round_trips_through_convert(value: float) -> None:
    assert FLOAT.convert(FLOAT.to_string(value)) == value


@pytest.mark.parametrize("value", [-1.0, -0.5, float("inf"), float("nan"), 1e100, "abc"])
def test_float_to_string_refuses_what_the_convertor_cannot_read_back(value: Any) -> None:
    with pytest.raises(ValueError):
        FLOAT.to_string(value)


def test_float_to_string_refuses_a_non_number() -> None:
    with pytest.raises(TypeError):
        FLOAT.to_string(None)


# -- uuid -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", [str(SAMPLE_UUID), str(SAMPLE_UUID).upper()])
def test_uuid_converts_hyphenated_uuids_in_either_case(segment: str) -> None:
    assert UUID.convert(segment) == SAMPLE_UUID


@pytest.mark.parametrize(
    "segment",
    [
        "",
        SAMPLE_UUID.hex,
        "{" + str(SAMPLE_UUID) + "}",
        "urn:uuid:" + str(SAMPLE_UUID),
        str(SAMPLE_UUID)[:-1],
        str(SAMPLE_UUID) + "0",
        str(SAMPLE_UUID).replace("a", "g"),
        "not-a-uuid",
    ],
)
def test_uuid_refuses_other_spellings(segment: str) -> None:
    assert UUID.convert(segment) is None


@pytest.mark.parametrize("value", [SAMPLE_UUID, str(SAMPLE_UUID).upper(), SAMPLE_UUID.hex])
def test_uuid_to_string_is_canonical(value: Any) -> None:
    assert UUID.to_string(value) == "12345678-9abc-4def-8123-456789abcdef"


def test_uuid_to_string_refuses_a_non_uuid() -> None:
    with pytest.raises(ValueError):
        UUID.to_string("nope")


# -- path -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "a/b/c", "dir/file.txt", "a//b", "", "with space/ü"])
def test_path_to_string_keeps_slashes(value: str) -> None:
    assert PATH.to_string(value) == value


@pytest.mark.parametrize("value", [".", "..", "a/../b", "./a", "a/.", "a/.."])
def test_path_to_string_refuses_dot_segments(value: str) -> None:
    with pytest.raises(ValueError, match=r"'\.' or '\.\.'"):
        PATH.to_string(value)


# -- ends (where a value may stop inside a mixed segment) -----------------------------------------


def test_str_ends_anywhere_after_one_character() -> None:
    assert STR.ends("abcd", 1) == (range(2, 5),)


def test_int_ends_within_the_digit_run() -> None:
    assert INT.ends("v123x", 1) == (range(2, 5),)
    assert list(INT.ends("abc", 0)[0]) == []
    assert list(INT.ends("\u0661\u0662", 0)[0]) == []


def test_int_ends_stop_after_64_digits() -> None:
    (ends,) = INT.ends("1" * 100, 0)
    assert ends == range(1, 65)


def test_float_ends_cover_the_integer_part_and_the_fraction() -> None:
    whole, fraction = FLOAT.ends("12.34x", 0)
    assert list(whole) == [1, 2]
    assert list(fraction) == [4, 5]
    for end in (*whole, *fraction):
        assert FLOAT.convert("12.34x"[:end]) is not None


def test_float_ends_without_a_fraction() -> None:
    assert [list(r) for r in FLOAT.ends("12.x", 0)] == [[1, 2], []]
    assert [list(r) for r in FLOAT.ends("12-", 0)] == [[1, 2]]
    assert all(not list(r) for r in FLOAT.ends("x", 0))


def test_float_ends_stay_within_64_characters() -> None:
    text = "1." + "5" * 100
    ends = [end for r in FLOAT.ends(text, 0) for end in r]
    assert max(ends) == 64
    assert FLOAT.convert(text[:64]) is not None


def test_uuid_ends_after_36_characters_or_not_at_all() -> None:
    text = f"id-{SAMPLE_UUID}.json"
    assert UUID.ends(text, 3) == (range(39, 40),)
    assert UUID.ends(text, 0) == ()
    assert UUID.ends(text, 4) == ()


# -- split_mixed ----------------------------------------------------------------------------------


def test_split_name_and_extension() -> None:
    parts = (STR, ".", STR)
    assert split_mixed(parts, "report.pdf") == ["report", "pdf"]
    assert split_mixed(parts, "report") is None
    assert split_mixed(parts, ".pdf") is None
    assert split_mixed(parts, "report.") is None


def test_each_parameter_takes_the_shortest_value_the_rest_allows() -> None:
    assert split_mixed((STR, ".", STR), "archive.tar.gz") == ["archive", "tar.gz"]
    assert split_mixed((STR, ".tar.gz"), "a.b.tar.gz") == ["a.b"]
    assert split_mixed((INT, STR), "12ab") == [1, "2ab"]
    assert split_mixed((STR, INT), "ab12") == ["ab", 12]


def test_a_typed_parameter_makes_the_split_backtrack() -> None:
    assert split_mixed((STR, "-", INT), "x-y-5") == ["x-y", 5]
    assert split_mixed((STR, "-", INT), "x-y") is None


def test_leading_and_trailing_literals() -> None:
    parts = ("v", INT, ".json")
    assert split_mixed(parts, "v12.json") == [12]
    assert split_mixed(parts, "x12.json") is None
    assert split_mixed(parts, "v12.jsonx") is None
    assert split_mixed(parts, "v.json") is None
    assert split_mixed(parts, "v\u0661\u0662.json") is None


def test_a_segment_must_match_from_its_first_character() -> None:
    # The rest would match from a later offset, never from the start.
    assert split_mixed(("v", INT), "xv1") is None
    assert split_mixed(("v", INT), "vv1") is None
    assert split_mixed((INT, ".txt"), "a1.txt") is None
    assert split_mixed((INT, ".txt"), "1.txt") == [1]


def test_typed_values_are_converted() -> None:
    values = split_mixed(("v", FLOAT, "-", UUID, ".", STR), f"v1.5-{SAMPLE_UUID}.tar.gz")
    assert values == [1.5, SAMPLE_UUID, "tar.gz"]
    assert type(values[0]) is float
    assert split_mixed(("v", FLOAT, "-", UUID), f"v1.-{SAMPLE_UUID}") is None


def test_overlapping_literal_occurrences() -> None:
    assert split_mixed((STR, "aa", STR), "xaaay") == ["x", "ay"]
    assert split_mixed((STR, "aa"), "aaaa") == ["aa"]


def test_hostile_segments_are_answered() -> None:
    # A regex of lazy groups needs O(n**5) steps here; no timing assertion, pytest-timeout is the net.
    parts = (STR, "-", STR, "-", STR, "-", STR, "-", STR, ".txt")
    dashes = "-" * 5000
    assert split_mixed(parts, dashes + "x") is None
    assert split_mixed(parts, dashes + "x.tx") is None
    assert split_mixed(parts, dashes + "x.txt") == ["-", "-", "-", "-", "-" * 4992 + "x"]
    assert split_mixed((STR, "-", INT), dashes + "x") is None


class _EvenConvertor(Convertor):
    """Digits whose value is even: `ends` promises more than `convert` accepts."""

    name = "even"

    def convert(self, segment: str) -> Any:
        return int(segment) if segment.isdigit() and int(segment) % 2 == 0 else None

    def ends(self, text: str, start: int) -> tuple[range, ...]:
        return INT.ends(text, start)


def test_a_custom_convertor_refusing_the_chosen_value_means_no_match() -> None:
    even = _EvenConvertor()
    assert split_mixed(("n", even), "n42") == [42]
    assert split_mixed(("n", even), "n43") is None
