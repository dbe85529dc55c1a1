"""Log formatters: `JSONFormatter` (one JSON object per line) and a compact UTC text format."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pydantic_core

__all__ = ["JSONFormatter", "TextFormatter"]

# Every attribute a plain record has (``taskName`` only from Python 3.12 on), plus the two
# formatters add: the rest of a record's attributes came from ``extra=`` (or a record factory).
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _fallback(value: Any) -> str:
    return str(value)


# The slow path, for the rare line with non-ASCII text: every such character escaped.
_encode_ascii = json.JSONEncoder(separators=(",", ":"), default=_fallback).encode


def _encode(data: dict[str, Any]) -> str:
    # PERF(access log to a file): pydantic-core's encoder takes 1.4 us for an access line,
    # ``json``'s C encoder 3.8 us. It writes non-ASCII text as is, and a U+0085 or U+2028 in it
    # would split the line for readers that honour them: such lines go through ``json``.
    try:
        line = pydantic_core.to_json(data, fallback=_fallback).decode()
    except ValueError:  # bytes that are not UTF-8: ``json`` writes their repr
        return _encode_ascii(data)
    return line if line.isascii() else _encode_ascii(data)


class _UTCClock:
    """``2025-01-31T12:00:00.123Z`` from a record's time, the seconds part cached."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        last = self._last
        if last[0] != seconds:
            # PERF(access log to a file): strftime once a second, not once a line (~1 us).
            last = self._last = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        return f"{last[1]}.{int(record.msecs):03d}Z"


class JSONFormatter(logging.Formatter):
    """Render each record as one line of JSON; works with any handler.

    The object has ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and
    ``message``, then every attribute given with ``extra=`` (or added by a record factory, such as
    ``request_id``) as a top-level key, in the order they were set, then ``exception`` (the
    formatted traceback) and ``stack`` when the record has them. Values JSON cannot encode are
    written as ``str(value)``. Control characters are escaped, and so is all non-ASCII text of a
    line that has any, so a value never breaks the line. Extra keys named like the four base ones
    are left out.
    """

    def __init__(self) -> None:
        super().__init__()
        self._clock = _UTCClock()

    def format(self, record: logging.LogRecord) -> str:
        """Return `record` as a JSON object on one line."""
        data: dict[str, Any] = {
            "time": self._clock.format(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in data:
                data[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return _encode(data)


class TextFormatter(logging.Formatter):
    """A `logging.Formatter` whose ``%(asctime)s`` is UTC ISO 8601 with milliseconds.

    Args:
        fmt: the format string (``%``-style); defaults to ``"%(asctime)s %(message)s"``.
    """

    def __init__(self, fmt: str = "%(asctime)s %(message)s") -> None:
        super().__init__(fmt)
        self._clock = _UTCClock()

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as ``2025-01-31T12:00:00.123Z``; `datefmt` is ignored."""
        return self._clock.format(record)
