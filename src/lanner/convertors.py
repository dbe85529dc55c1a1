"""Path parameter convertors: ``{name}``, ``{name:int}``, ``{name:float}``, ``{name:uuid}``, ``{name:path}``.

A convertor decides whether one path segment can be its parameter (so ``/items/{id:int}`` does not
match ``/items/abc``) and turns it into a value; the handler's annotation then validates it.
"""

from __future__ import annotations

import math
import re
import uuid
from typing import Any


class Convertor:
    """Match one path segment and convert it; `priority` orders siblings (lower tries first)."""

    name = "str"
    type: Any = str
    priority = 40

    def convert(self, segment: str) -> Any:
        """Return the value for `segment`, or None when the segment does not fit."""
        return segment or None

    def to_string(self, value: Any) -> str:
        """Render `value` back into a path segment (for `url_path_for`).

        Raises:
            ValueError: the value cannot be written as this kind of segment.
        """
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"{value!r} is not a valid path segment")
        return text


class IntConvertor(Convertor):
    """Digits only; the value is an `int`."""

    name = "int"
    type = int
    priority = 10

    def convert(self, segment: str) -> Any:
        """Return the integer, or None for anything but ASCII digits."""
        if segment.isascii() and segment.isdigit() and len(segment) <= 64:
            return int(segment)
        return None

    def to_string(self, value: Any) -> str:
        """Render a non-negative integer."""
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{value!r} is not a non-negative integer")
        return str(value)


_FLOAT = re.compile(r"[0-9]+(\.[0-9]+)?")


class FloatConvertor(Convertor):
    """Decimal numbers such as ``3`` or ``2.5``; the value is a `float`."""

    name = "float"
    type = float
    priority = 20

    def convert(self, segment: str) -> Any:
        """Return the float, or None when the segment is not a plain decimal number."""
        if len(segment) <= 64 and _FLOAT.fullmatch(segment):
            return float(segment)
        return None

    def to_string(self, value: Any) -> str:
        """Render a finite, non-negative number."""
        number = float(value)
        if number < 0 or not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite non-negative number")
        return repr(number).removesuffix(".0") if number.is_integer() else repr(number)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class UUIDConvertor(Convertor):
    """A hyphenated UUID; the value is a `uuid.UUID`."""

    name = "uuid"
    type = uuid.UUID
    priority = 15

    def convert(self, segment: str) -> Any:
        """Return the UUID, or None."""
        return uuid.UUID(segment) if _UUID.fullmatch(segment) else None

    def to_string(self, value: Any) -> str:
        """Render the UUID."""
        return str(uuid.UUID(str(value)))


class PathConvertor(Convertor):
    """The rest of the path, slashes included; only allowed as the last segment."""

    name = "path"
    type = str
    priority = 90

    def to_string(self, value: Any) -> str:
        """Render the value as it is (slashes allowed)."""
        return str(value)


CONVERTORS: dict[str, Convertor] = {
    c.name: c for c in (Convertor(), IntConvertor(), FloatConvertor(), UUIDConvertor(),
                        PathConvertor())
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
