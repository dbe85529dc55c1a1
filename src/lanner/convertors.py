"""Path parameter convertors: ``{name}``, ``{name:int}``, ``{name:float}``, ``{name:uuid}``, ``{name:path}``.

A convertor decides whether one path segment can be its parameter (so ``/items/{id:int}`` does not
match ``/items/abc``) and turns it into a value; the handler's annotation then validates it.
`split_mixed` cuts a segment mixing text and parameters (``{name}.{ext}``) into its values.
"""

from __future__ import annotations

import bisect
import decimal
import math
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

_MAX_DIGITS = 64
_FLOAT = re.compile(r"[0-9]+(\.[0-9]+)?")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _digits_end(text: str, start: int) -> int:
    """Return the end of the ASCII digits starting at `start`, looking at most 64 characters."""
    end, limit = start, min(len(text), start + _MAX_DIGITS)
    while end < limit and "0" <= text[end] <= "9":
        end += 1
    return end


class Convertor:
    """Match one path segment and convert it; `priority` orders siblings (lower tries first)."""

    name = "str"
    type: Any = str
    priority = 40

    def convert(self, segment: str) -> Any:
        """Return the value for `segment`, or None when the segment does not fit."""
        return segment or None

    def ends(self, text: str, start: int) -> tuple[range, ...]:
        """Return where a value starting at `text[start]` may end, shortest first.

        Used for segments mixing text and parameters (``{name}.{ext}``): every offset in the
        returned ranges must be one where `convert` accepts ``text[start:end]``.
        """
        return (range(start + 1, len(text) + 1),)

    def to_string(self, value: Any) -> str:
        """Render `value` back into a path segment (for `url_path_for`).

        Raises:
            ValueError: the value cannot be written as this kind of segment.
        """
        text = str(value)
        # "." and ".." would be removed by any client normalising the URL.
        if text in ("", ".", "..") or "/" in text:
            raise ValueError(f"{value!r} is not a valid path segment")
        return text


class IntConvertor(Convertor):
    """Digits only; the value is an `int`."""

    name = "int"
    type = int
    priority = 10

    def convert(self, segment: str) -> Any:
        """Return the integer, or None for anything but ASCII digits."""
        if segment.isascii() and segment.isdigit() and len(segment) <= _MAX_DIGITS:
            return int(segment)
        return None

    def ends(self, text: str, start: int) -> tuple[range, ...]:
        """Return the ends of the run of ASCII digits at `start` (at most 64 of them)."""
        return (range(start + 1, _digits_end(text, start) + 1),)

    def to_string(self, value: Any) -> str:
        """Render a non-negative integer.

        Raises:
            ValueError: the value is not an `int` (booleans included) or is negative.
        """
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{value!r} is not a non-negative integer")
        return str(value)


class FloatConvertor(Convertor):
    """Decimal numbers such as ``3`` or ``2.5``; the value is a `float`."""

    name = "float"
    type = float
    priority = 20

    def convert(self, segment: str) -> Any:
        """Return the float, or None when the segment is not a plain decimal number."""
        if len(segment) <= _MAX_DIGITS and _FLOAT.fullmatch(segment):
            return float(segment)
        return None

    def ends(self, text: str, start: int) -> tuple[range, ...]:
        """Return the ends of ``digits`` and of ``digits.digits`` at `start` (64 characters at most)."""
        limit = start + _MAX_DIGITS
        whole = _digits_end(text, start)
        if text[whole : whole + 1] == "." and whole + 1 < limit:
            fraction = min(_digits_end(text, whole + 1), limit)
            return range(start + 1, whole + 1), range(whole + 2, fraction + 1)
        return (range(start + 1, whole + 1),)

    def to_string(self, value: Any) -> str:
        """Render a finite, non-negative number in plain decimal notation (never ``1e+20``).

        Raises:
            ValueError: the value is not a number, is negative or infinite, or needs more than 64
                characters.
        """
        number = float(value) + 0.0  # adding 0.0 turns -0.0 into 0.0
        if number < 0 or not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite non-negative number")
        # repr() gives the shortest digits that round-trip; Decimal lays them out without exponent.
        text = format(decimal.Decimal(repr(number)), "f").removesuffix(".0")
        if len(text) > _MAX_DIGITS:
            raise ValueError(f"{value!r} needs more than {_MAX_DIGITS} characters")
        return text


class UUIDConvertor(Convertor):
    """A hyphenated UUID; the value is a `uuid.UUID`."""

    name = "uuid"
    type = uuid.UUID
    priority = 15

    def convert(self, segment: str) -> Any:
        """Return the UUID, or None."""
        return uuid.UUID(segment) if _UUID.fullmatch(segment) else None

    def ends(self, text: str, start: int) -> tuple[range, ...]:
        """Return the end of the 36-character UUID at `start`, if there is one."""
        if _UUID.fullmatch(text, start, start + 36):
            return (range(start + 36, start + 37),)
        return ()

    def to_string(self, value: Any) -> str:
        """Render the UUID in its canonical hyphenated form.

        Raises:
            ValueError: the value is not a UUID.
        """
        return str(uuid.UUID(str(value)))


class PathConvertor(Convertor):
    """The rest of the path, slashes included; only allowed as the last segment."""

    name = "path"
    type = str
    priority = 90

    def to_string(self, value: Any) -> str:
        """Render the value as it is (slashes allowed).

        Raises:
            ValueError: a part between slashes is "." or "..", which URL normalisation would drop.
        """
        text = str(value)
        if any(part in (".", "..") for part in text.split("/")):
            raise ValueError(f"{value!r} has a '.' or '..' segment")
        return text


CONVERTORS: dict[str, Convertor] = {
    c.name: c for c in (Convertor(), IntConvertor(), FloatConvertor(), UUIDConvertor(), PathConvertor())
}


def get_convertor(name: str) -> Convertor:
    """Return the convertor registered as `name`.

    Raises:
        ValueError: no convertor has that name.
    """
    try:
        return CONVERTORS[name]
    except KeyError:
        known = ", ".join(sorted(CONVERTORS))
        raise ValueError(f"unknown path convertor {name!r} (known: {known})") from None


def split_mixed(parts: tuple[str | Convertor, ...], text: str) -> list[Any] | None:
    """Split a path segment mixing text and parameters (``{name}.{ext}``) into converted values.

    Args:
        parts: the segment's template in order: literal strings and convertors.
        text: the request's path segment.

    Returns:
        One value per convertor, or None when `text` does not fit `parts`.

    Each parameter takes the shortest value that lets the rest match. A regex of lazy groups would
    give the same answer but backtracks in O(n**k) for k parameters on a hostile segment (a few
    hundred dashes against ``{a}-{b}-{c}-{d}.txt`` held the loop for seconds); this table is
    built in about O(k * n * log n).
    """
    # starts[i]: ascending offsets from which parts[i:] can match the rest of `text`.
    starts: list[Sequence[int]] = [(len(text),)]
    for part in reversed(parts):
        after = starts[-1]
        here: Sequence[int]
        if isinstance(part, str):
            size = len(part)
            here = [q for q in _occurrences(text, part) if _first_in(after, q + size) == q + size]
        elif type(part) is Convertor:  # any non-empty text: every offset before the last start
            here = range(after[-1])
        else:
            here = [p for p in range(after[-1]) if _first_end(part, text, p, after) is not None]
        if not here:
            return None
        starts.append(here)
    starts.reverse()
    if starts[0][0] != 0:
        return None
    values: list[Any] = []
    position = 0
    for index, part in enumerate(parts):
        if isinstance(part, str):
            position += len(part)
            continue
        end = _first_end(part, text, position, starts[index + 1])
        assert end is not None  # the table says the rest matches from `position`
        value = part.convert(text[position:end])
        if value is None:
            return None
        values.append(value)
        position = end
    return values


def _occurrences(text: str, literal: str) -> Iterator[int]:
    position = text.find(literal)
    while position != -1:
        yield position
        position = text.find(literal, position + 1)


def _first_in(allowed: Sequence[int], low: int) -> int | None:
    """The smallest item of the ascending `allowed` that is at least `low`."""
    index = bisect.bisect_left(allowed, low)
    return allowed[index] if index < len(allowed) else None


def _first_end(convertor: Convertor, text: str, start: int, allowed: Sequence[int]) -> int | None:
    """The smallest end of a `convertor` value at `start` that is in the ascending `allowed`."""
    for ends in convertor.ends(text, start):
        end = _first_in(allowed, ends.start)
        if end is not None and end < ends.stop:
            return end
    return None
