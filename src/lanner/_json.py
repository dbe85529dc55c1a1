"""Strict JSON for client bodies: no NaN or Infinity, not even one that a huge number overflows to.

pydantic-core refuses the ``NaN`` and ``Infinity`` literals when asked, but it reads ``1e999`` as
``inf`` all the same; echoed back, that becomes the bare ``Infinity`` no JSON parser accepts.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pydantic_core

# What could overflow a float: an exponent of three significant digits or more, or 300 digits in
# a row (the lookbehind starts a match only at the start of a run, which keeps the scan linear).
_HUGE_NUMBER = re.compile(rb"[eE]\+?0*[1-9][0-9]{2}|(?<![0-9])[0-9]{300}")


def may_overflow(raw: bytes) -> bool:
    """Whether `raw` has a number that could be too large for a float (a cheap, linear scan)."""
    return _HUGE_NUMBER.search(raw) is not None


def holds_infinity(document: Any) -> bool:
    """Whether a parsed JSON document holds an infinite float anywhere."""
    pending = [document]
    while pending:
        value = pending.pop()
        if type(value) is float and math.isinf(value):
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def loads_strict(raw: bytes) -> Any:
    """Parse `raw` as JSON, refusing NaN, Infinity and numbers too large for a float.

    Raises:
        ValueError: the document is malformed or holds one of those.
    """
    document = pydantic_core.from_json(raw, allow_inf_nan=False)
    if may_overflow(raw) and holds_infinity(document):
        raise ValueError("a number is too large for a float")
    return document
