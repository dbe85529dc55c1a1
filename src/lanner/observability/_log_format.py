"""Log output: `JSONFormatter`, `TextFormatter`, and lanner's stderr handler.

`JSONFormatter` writes one JSON object per line, `TextFormatter` a compact UTC text format, and
the stderr handler is what lanner gives its loggers when they have none.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, TextIO

import pydantic_core

__all__ = ["JSONFormatter", "TextFormatter"]

# Every attribute a plain record has (``taskName`` only from Python 3.12 on), plus the two
# formatters add: the rest of a record's attributes came from ``extra=`` (or a record factory).
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# What `JSONFormatter` writes of its own: never taken from a record's extras.
_NOT_EXTRA = _RESERVED | {"time", "level", "logger"}
_MAX_SHAPES = 256


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


# ``.000Z`` to ``.999Z``: the end of a time, by its milliseconds.
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


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
        millis = int(record.msecs)
        if 0 <= millis < 1000:
            # PERF(production): the milliseconds' text looked up, not formatted: ~0.2 us.
            return last[1] + _MILLIS[millis]
        return f"{last[1]}.{millis:03d}Z"


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
        self._extras: dict[tuple[str, ...], tuple[str, ...]] = {}

    def format(self, record: logging.LogRecord) -> str:
        """Return `record` as a JSON object on one line."""
        attributes = record.__dict__
        # PERF(production): which attributes are extras is decided once per set of attribute
        # names (records of one logger call site share it), not by testing each name per line.
        names = tuple(attributes)
        extras = self._extras.get(names)
        if extras is None:
            extras = self._learn(names)
        data: dict[str, Any] = {
            "time": self._clock.format(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in extras:
            data[key] = attributes[key]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return _encode(data)

    def _learn(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The extras among a record's attribute `names`, remembered (a few hundred sets at most)."""
        extras = tuple(name for name in names if name not in _NOT_EXTRA)
        if len(self._extras) >= _MAX_SHAPES:
            self._extras.clear()
        self._extras[names] = extras
        return extras


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


class _StderrHandler(logging.StreamHandler[TextIO]):
    """A `logging.StreamHandler` on ``sys.stderr`` that skips flushing a line-buffered stream.

    ``sys.stderr`` is line-buffered (Python 3.9+): writing the line already sends it, so the
    handler's flush, with a second lock round, is left out for it.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write the formatted record and a newline; flush unless the stream is line-buffered."""
        try:
            stream = self.stream
            # PERF(production): no flush (and its lock) after each line on a line-buffered
            # stream: ~0.4 us a line.
            stream.write(self.format(record) + self.terminator)
            if not getattr(stream, "line_buffering", False):
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
